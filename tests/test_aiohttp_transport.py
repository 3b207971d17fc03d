"""The default aiohttp transport through aioresponses, and what only aiohttp has.

Behaviour every transport shares (connection errors, timeouts, redirects, size caps,
borrowing, closing, event loops) is tested over real sockets, for aiohttp and httpx
alike, in test_transport_contract.py.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from powerpost_async import (
    AiohttpTransport,
    GenerationStatus,
    InternalServerError,
    PowerPost,
    PowerPostError,
)

from ._aioresponses_compat import aioresponses
from .conftest import API_KEY, WORKSPACE, RecordingSleep, load_sample

BASE = "https://powerpost.ai/api/v1"


async def test_get_through_aioresponses() -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{BASE}/content/generations/abc",
            payload=load_sample("generation_completed"),
            headers={"X-Request-Id": "r1"},
        )
        async with PowerPost(API_KEY, WORKSPACE) as pp:
            generation = await pp.generations.get("abc")
        ((method, url), calls), *_ = mocked.requests.items()
    assert generation.status is GenerationStatus.COMPLETED
    assert (method, str(url)) == ("GET", f"{BASE}/content/generations/abc")
    headers = calls[0].kwargs["headers"]
    assert headers["x-api-key"] == API_KEY
    assert headers["X-Workspace-Id"] == WORKSPACE
    assert calls[0].kwargs["allow_redirects"] is False


async def test_list_and_credits_through_aioresponses() -> None:
    with aioresponses() as mocked:
        mocked.get(
            f"{BASE}/content/generations?limit=2&status=completed",
            payload=load_sample("list_generations"),
        )
        mocked.get(f"{BASE}/account/credits", payload=load_sample("credits"))
        async with PowerPost(API_KEY, WORKSPACE) as pp:
            page = await pp.generations.list(status="completed", limit=2)
            credits = await pp.account.credits()
    assert [s.generation_id[:8] for s in page] == ["550e8400", "661f9511"]
    assert credits.balance == 47


async def test_create_posts_json_once_on_500_through_aioresponses() -> None:
    with aioresponses() as mocked:
        mocked.post(
            f"{BASE}/content/generate",
            status=500,
            payload={"error": {"code": "INTERNAL_ERROR", "message": "boom"}},
            repeat=True,
        )
        async with PowerPost(API_KEY, WORKSPACE, max_retries=5) as pp:
            with pytest.raises(InternalServerError, match="500 INTERNAL_ERROR: boom"):
                await pp.generations.create(prompt="hello", post_types=["x-post"])
        calls = [c for key, cs in mocked.requests.items() if key[0] == "POST" for c in cs]
    assert len(calls) == 1
    assert calls[0].kwargs["data"] == (
        b'{"prompt":"hello","post_types":["x-post"],"research_mode":"regular"}'
    )
    assert calls[0].kwargs["headers"]["Content-Type"] == "application/json"


async def test_get_retries_through_aioresponses(sleep: RecordingSleep) -> None:
    with aioresponses() as mocked:
        url = f"{BASE}/content/generations/abc"
        mocked.get(url, status=503, body="unavailable")
        mocked.get(url, exception=aiohttp.ServerDisconnectedError())
        mocked.get(url, payload=load_sample("generation_processing"))
        async with PowerPost(API_KEY, WORKSPACE, sleep=sleep) as pp:
            generation = await pp.generations.get("abc")
    assert generation.status is GenerationStatus.PROCESSING
    assert len(sleep.calls) == 2


# -- real sockets ----------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Serve a handler for every path on 127.0.0.1; yields a function returning base_url."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_borrowed_session_closed_under_the_client_says_so(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(load_sample("credits"))

    base = await serve(handler)
    session = aiohttp.ClientSession()
    async with PowerPost(API_KEY, base_url=base, transport=AiohttpTransport(session)) as pp:
        await pp.account.credits()
        await session.close()
        with pytest.raises(PowerPostError, match="close the client first, then the session"):
            await pp.account.credits()
