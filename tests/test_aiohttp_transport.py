"""The default aiohttp transport: against aioresponses and against real local sockets."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from powerpost_async import (
    AiohttpTransport,
    APIConnectionError,
    APITimeoutError,
    GenerationStatus,
    InternalServerError,
    PowerPost,
    PowerPostError,
    Request,
    ResponseValidationError,
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


async def test_connection_refused_is_marked_not_sent_and_create_is_retried(
    sleep: RecordingSleep,
) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    async with PowerPost(API_KEY, WORKSPACE, base_url=base, sleep=sleep, max_retries=2) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.generations.create(prompt="hello", post_types=["x-post"])
    assert info.value.request_sent is False
    assert "could not connect to http://127.0.0.1" in str(info.value)
    assert len(sleep.calls) == 2  # refused before sending: safe to retry even a create


async def test_dropped_connection_after_a_create_is_not_retried(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    posts = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal posts
        posts += 1
        await request.read()
        assert request.transport is not None
        request.transport.close()  # received, maybe acted upon, never answered
        return web.Response()

    base = await serve(handler)
    async with PowerPost(API_KEY, WORKSPACE, base_url=base, max_retries=5) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.generations.create(prompt="hello", post_types=["x-post"])
    assert info.value.request_sent is True
    assert posts == 1


async def test_timeout_is_an_api_timeout_error_and_a_timeout_error(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response(load_sample("generation_processing"))

    base = await serve(handler)
    try:
        async with PowerPost(API_KEY, WORKSPACE, base_url=base, timeout=0.05) as pp:
            with pytest.raises(APITimeoutError) as info:
                await pp.generations.get("abc", max_retries=0)
    finally:
        release.set()
    assert isinstance(info.value, TimeoutError)
    assert "timed out after 0.05 s" in str(info.value)


async def test_redirects_are_not_followed(serve: Callable[[Handler], Awaitable[str]]) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path.startswith("/elsewhere"):
            return web.json_response({"leaked": request.headers.get("x-api-key")})
        raise web.HTTPFound("/elsewhere")

    base = await serve(handler)
    async with PowerPost(API_KEY, WORKSPACE, base_url=base) as pp:
        with pytest.raises(PowerPostError, match="302"):
            await pp.generations.get("abc")
    assert seen == ["/api/v1/content/generations/abc"]


async def test_oversized_bodies_are_refused(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("chunked"):
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(64):
                await response.write(b"x" * 1024)
            await response.write_eof()
            return response
        return web.Response(body=b"x" * 65536, content_type="application/json")

    base = await serve(handler)
    transport = AiohttpTransport(max_response_bytes=4096)
    async with PowerPost(API_KEY, WORKSPACE, base_url=base, transport=transport) as pp:
        with pytest.raises(ResponseValidationError, match="65536 bytes is larger than"):
            await pp.generations.get("sized")
        with pytest.raises(ResponseValidationError, match="reading stopped"):
            await pp.generations.get("chunked")


async def test_borrowed_session_is_not_closed(serve: Callable[[Handler], Awaitable[str]]) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(load_sample("credits"))

    base = await serve(handler)
    async with aiohttp.ClientSession() as session:
        transport = AiohttpTransport(session)
        async with PowerPost(API_KEY, base_url=base, transport=transport) as pp:
            assert (await pp.account.credits()).balance == 47
        assert not session.closed
        async with session.get(f"{base}/still-usable") as response:
            assert response.status == 200


async def test_transport_used_after_close_says_so() -> None:
    transport = AiohttpTransport()
    await transport.aclose()
    with pytest.raises(PowerPostError, match="closed"):
        await transport.send(Request("GET", "https://powerpost.ai/x", {}))


def test_transport_can_be_built_outside_a_loop_without_warnings() -> None:
    transport = AiohttpTransport(connection_limit=7)
    assert transport.connection_limit == 7
    with pytest.raises(ValueError, match="connection_limit"):
        AiohttpTransport(connection_limit=0)


async def test_client_used_from_another_event_loop_gives_a_clear_error(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(load_sample("credits"))

    base = await serve(handler)
    async with PowerPost(API_KEY, base_url=base) as pp:
        await pp.account.credits()
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                asyncio.run(pp.account.credits())
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        await asyncio.to_thread(thread.join, 10)
        assert len(errors) == 1
        assert isinstance(errors[0], PowerPostError)
        assert "another event loop" in str(errors[0])
        assert "one client per event loop" in str(errors[0])
        assert (await pp.account.credits()).balance == 47  # still fine in its own loop


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
