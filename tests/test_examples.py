"""The framework recipes in examples/, run for real.

The FastAPI app is driven over ASGI (httpx's ASGITransport, with the lifespan run as a
server would) against an in-memory FakePowerPost on a VirtualClock, and once served by
uvicorn on a real socket. The aiohttp.web app is served by aiohttp's TestServer against
the FakePowerPost socket server, through the app's own ClientSession.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest
import uvicorn
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from fastapi import FastAPI

from examples import aiohttp_app, fastapi_app
from powerpost_async import PowerPost, PowerPostError, to_dict
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

CAPTION = {"prompt": "We just shipped dark mode", "post_types": ["x-post", "linkedin-post"]}
# A key that must never show up in an answer, even when PowerPost rejects it.
SECRET_KEY = "pp_live_sk_SECRET_never_in_a_response"


def completed_event(server: FakePowerPost, generation_id: str) -> dict[str, Any]:
    """A ``generation.completed`` webhook body as PowerPost documents it."""
    return {
        "event": "generation.completed",
        "timestamp": "2026-01-10T18:31:00Z",
        "workspace_id": server.workspace_id,
        "data": {
            "generation_id": generation_id,
            "status": "completed",
            "outputs": {"x": "Dark mode is here.", "linkedin": "We shipped dark mode."},
        },
    }


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Let the loop run (in real time) until ``predicate`` holds; fail after 5 s."""
    for _ in range(5000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"timed out waiting until {what}")


# -- FastAPI over ASGI, in virtual time ----------------------------------------------------


def in_memory(server: FakePowerPost, **kwargs: Any) -> dict[str, Any]:
    """PowerPost arguments for an in-memory client of ``server``, on its VirtualClock."""
    clock = server.clock
    assert isinstance(clock, VirtualClock)
    return {
        "transport": server.transport(),
        "api_key": server.api_key,
        "workspace_id": server.workspace_id,
        "clock": clock,
        "sleep": clock.sleep,
        **kwargs,
    }


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to ``app``, its lifespan running: what a server does around it."""
    # ASGITransport does not send lifespan events; run the lifespan as uvicorn would.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


@pytest.fixture
def fake() -> FakePowerPost:
    return FakePowerPost(clock=VirtualClock())


@pytest.fixture
async def api(fake: FakePowerPost) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(fastapi_app.create_app(**in_memory(fake))) as client:
        yield client


async def test_fastapi_client_is_made_in_the_lifespan_not_by_create_app() -> None:
    app = fastapi_app.create_app()  # no key anywhere: nothing is made yet, so no error
    with pytest.raises(PowerPostError, match="POWERPOST_API_KEY"):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover


async def test_fastapi_one_client_for_the_whole_app_closed_at_shutdown(
    fake: FakePowerPost,
) -> None:
    transport = fake.transport()
    app = fastapi_app.create_app(**in_memory(fake, transport=transport))
    async with asgi_client(app) as client:
        pp = app.state.powerpost
        assert isinstance(pp, PowerPost)
        for _ in range(3):
            assert (await client.post("/captions", json=CAPTION)).status_code == 202
        assert app.state.powerpost is pp
        open_while_serving = not pp.is_closed and not transport.closed
    assert open_while_serving
    assert pp.is_closed
    assert transport.closed


async def test_fastapi_without_the_lifespan_says_so(fake: FakePowerPost) -> None:
    app = fastapi_app.create_app(**in_memory(fake))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with pytest.raises(RuntimeError, match="lifespan has not run"):
            await client.get("/captions")


async def test_fastapi_create_get_and_list(api: httpx.AsyncClient, fake: FakePowerPost) -> None:
    created = await api.post("/captions", json=CAPTION)
    assert created.status_code == 202
    generation_id = created.json()["generation_id"]
    assert created.json()["status"] in ("pending", "processing")
    assert created.headers["Location"] == f"http://testserver/captions/{generation_id}"
    assert fake.generation(generation_id).prompt == CAPTION["prompt"]

    got = await api.get(f"/captions/{generation_id}")
    assert got.status_code == 200
    assert got.json()["generation_id"] == generation_id
    assert got.json()["outputs"] is None

    fake.seed_generations(3, status="completed")
    page = await api.get("/captions", params={"status": "completed", "limit": 2})
    assert page.status_code == 200
    first = page.json()
    assert len(first["data"]) == 2
    assert first["has_more"] is True
    assert {item["status"] for item in first["data"]} == {"completed"}
    rest = await api.get(
        "/captions", params={"status": "completed", "limit": 2, "cursor": first["next_cursor"]}
    )
    assert rest.status_code == 200
    assert len(rest.json()["data"]) == 1
    assert rest.json()["next_cursor"] is None
    assert rest.json()["has_more"] is False


async def test_fastapi_sync_answers_with_the_captions(api: httpx.AsyncClient) -> None:
    response = await api.post("/captions/sync", json=CAPTION)  # minutes, in virtual time
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert set(body["outputs"]) == {"x", "linkedin"}
    assert body["error"] is None


async def test_fastapi_sync_times_out_with_504_naming_the_generation(
    api: httpx.AsyncClient, fake: FakePowerPost
) -> None:
    response = await api.post("/captions/sync", params={"timeout": 1}, json=CAPTION)
    assert response.status_code == 504
    (generation,) = fake.generations()
    assert response.json() == {
        "detail": "the captions are not ready yet",
        "generation_id": generation.generation_id,
    }


async def test_fastapi_sync_failed_generation_is_502_with_its_code() -> None:
    fake = FakePowerPost(clock=VirtualClock(), failure_rate=1.0)
    async with asgi_client(fastapi_app.create_app(**in_memory(fake))) as api:
        response = await api.post("/captions/sync", json=CAPTION)
    assert response.status_code == 502
    body = response.json()
    assert body["detail"] == "the generation failed"
    assert body["code"] == fake.generation(body["generation_id"]).error.code  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "detail"),
    [
        ("GET", "/captions/no-such-id", None, 404, "no such caption generation"),
        ("GET", "/captions/a..b", None, 422, "is not a valid id"),
        ("POST", "/captions", {"prompt": "  ", "post_types": ["x-post"]}, 422, "prompt"),
        ("POST", "/captions", {"prompt": "Hi", "post_types": []}, 422, "post_types"),
        ("GET", "/captions?cursor=", None, 422, "cursor"),
    ],
)
async def test_fastapi_maps_sdk_errors(
    api: httpx.AsyncClient, method: str, url: str, payload: Any, status: int, detail: str
) -> None:
    response = await api.request(method, url, json=payload)
    assert response.status_code == status
    assert detail in response.json()["detail"]


async def test_fastapi_checks_query_params_itself(api: httpx.AsyncClient) -> None:
    for params in ({"status": "bogus"}, {"limit": 0}, {"limit": 101}):
        assert (await api.get("/captions", params=params)).status_code == 422
    bad_timeout = await api.post("/captions/sync", params={"timeout": 0}, json=CAPTION)
    assert bad_timeout.status_code == 422


async def test_fastapi_rate_limit_is_503_with_retry_after(
    api: httpx.AsyncClient, fake: FakePowerPost
) -> None:
    # Longer than the client's max_retry_after (60 s): raised at once, not slept through.
    fake.faults.script(Fault.rate_limit(retry_after=120), on="create")
    response = await api.post("/captions", json=CAPTION)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "120"


async def test_fastapi_api_errors_are_502_without_the_key() -> None:
    fake = FakePowerPost(clock=VirtualClock())
    # The retries a GET gets (max_retries=2) all fail too: 500 is what PowerPost keeps saying.
    fake.faults.script(*[Fault.server_error(500)] * 3, on="get")
    async with asgi_client(fastapi_app.create_app(**in_memory(fake))) as api:
        created = await api.post("/captions", json=CAPTION)
        response = await api.get(f"/captions/{created.json()['generation_id']}")
    assert response.status_code == 502
    body = response.json()
    assert body["detail"] == "PowerPost API error"
    assert body["request_id"] == fake.requests[-1].request_id
    assert fake.api_key not in response.text

    # A wrong key is our fault, not the caller's: 502 (not 401), and the key stays here.
    wrong = fastapi_app.create_app(**in_memory(fake, api_key=SECRET_KEY))
    async with asgi_client(wrong) as api:
        rejected = await api.post("/captions", json=CAPTION)
    assert rejected.status_code == 502
    assert rejected.json()["code"] == "INVALID_API_KEY"
    assert SECRET_KEY not in rejected.text
    assert SECRET_KEY not in str(rejected.headers)


async def test_fastapi_webhook_ends_a_pending_sync_request_at_once() -> None:
    # Time stands still: only the webhook can end the wait.
    clock = VirtualClock(auto_advance=False)
    fake = FakePowerPost(clock=clock)
    async with asgi_client(fastapi_app.create_app(**in_memory(fake))) as api:
        sync = asyncio.create_task(api.post("/captions/sync", json=CAPTION))
        await until(lambda: clock.waiting > 0, "the wait sleeps between polls")
        (generation,) = fake.generations()
        assert not generation.is_terminal
        fake.complete_all()

        hook = await api.post(
            "/webhooks/powerpost", json=completed_event(fake, generation.generation_id)
        )
        assert hook.status_code == 204
        response = await asyncio.wait_for(sync, timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert clock.now == 0.0  # no poll came due: the webhook did it
    # create, the first poll, and the one GET the webhook cost
    assert [r.endpoint for r in fake.requests] == ["create", "get", "get"]


async def test_fastapi_webhook_checks(fake: FakePowerPost) -> None:
    def verify(body: bytes, headers: Mapping[str, str]) -> bool:
        return headers.get("x-example-token") == "let-me-in"

    app = fastapi_app.create_app(webhook_verify=verify, **in_memory(fake))
    event = completed_event(fake, "gen_nobody_waits_for")
    async with asgi_client(app) as api:
        refused = await api.post("/webhooks/powerpost", json=event)
        accepted = await api.post(
            "/webhooks/powerpost", json=event, headers={"X-Example-Token": "let-me-in"}
        )
        garbage = await api.post(
            "/webhooks/powerpost", content=b"not json", headers={"X-Example-Token": "let-me-in"}
        )
        other = await api.post(
            "/webhooks/powerpost",
            json={"event": "post.published", "data": {"post_id": "p1"}},
            headers={"X-Example-Token": "let-me-in"},
        )
    assert refused.status_code == 401
    assert accepted.status_code == 204
    assert garbage.status_code == 400
    assert other.status_code == 204
    assert len(fake.requests) == 0  # nobody waited: the events cost no request


# -- FastAPI served by uvicorn, over real sockets ------------------------------------------


async def test_fastapi_served_by_uvicorn() -> None:
    async with FakePowerPost(pending=0, processing=0) as fake_server:
        app = fastapi_app.create_app(
            base_url=fake_server.base_url,
            api_key=fake_server.api_key,
            workspace_id=fake_server.workspace_id,
        )
        config = uvicorn.Config(
            app, lifespan="on", log_config=None, access_log=False, ws="none", http="h11"
        )
        server = uvicorn.Server(config)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            try:
                await until(lambda: server.started or serving.done(), "uvicorn serves")
                assert server.started
                pp = app.state.powerpost
                async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
                    async with session.post("/captions/sync", json=CAPTION) as response:
                        assert response.status == 200
                        generation = await response.json()
                    assert generation["status"] == "completed"
                    async with session.get("/captions") as response:
                        assert response.status == 200
                        listed = await response.json()
                    assert [g["generation_id"] for g in listed["data"]] == [
                        generation["generation_id"]
                    ]
            finally:
                server.should_exit = True
                await asyncio.wait_for(serving, timeout=5)
        assert pp.is_closed  # uvicorn ran the lifespan's exit


# -- aiohttp.web over a real socket --------------------------------------------------------


async def test_aiohttp_app_every_route() -> None:
    async with FakePowerPost(pending=0, processing=60) as fake_server:
        app = aiohttp_app.create_app(
            base_url=fake_server.base_url,
            api_key=fake_server.api_key,
            workspace_id=fake_server.workspace_id,
        )
        async with TestClient(TestServer(app)) as client:
            created = await client.post("/captions", json=CAPTION)
            assert created.status == 202
            generation_id = (await created.json())["generation_id"]
            assert created.headers["Location"] == f"/captions/{generation_id}"

            got = await client.get(f"/captions/{generation_id}")
            assert got.status == 200
            assert (await got.json())["status"] == "processing"

            fake_server.seed_generations(2, status="completed")
            page = await client.get("/captions", params={"limit": "2"})
            first = await page.json()
            assert len(first["data"]) == 2
            assert first["has_more"] is True
            rest = await client.get(
                "/captions", params={"limit": "2", "cursor": first["next_cursor"]}
            )
            assert [g["generation_id"] for g in (await rest.json())["data"]] == [generation_id]
            completed = await client.get("/captions", params={"status": "completed"})
            assert len((await completed.json())["data"]) == 2

            late = await client.post("/captions/sync", params={"timeout": "0.05"}, json=CAPTION)
            assert late.status == 504
            assert (await late.json())["generation_id"]


async def test_aiohttp_webhook_ends_a_pending_sync_request_at_once() -> None:
    # The client's time stands still (its polls never come due): only the webhook can
    # end the wait. The fake serves on the real clock, 60 s of processing per generation.
    clock = VirtualClock(auto_advance=False)
    async with FakePowerPost(pending=0, processing=60) as fake_server:
        app = aiohttp_app.create_app(
            base_url=fake_server.base_url,
            api_key=fake_server.api_key,
            workspace_id=fake_server.workspace_id,
            clock=clock,
            sleep=clock.sleep,
        )
        async with TestClient(TestServer(app)) as client:
            sync = asyncio.create_task(client.post("/captions/sync", json=CAPTION))
            # The wait sleeps until its deadline, and the id's poller between polls.
            await until(lambda: clock.waiting >= 2, "the wait sleeps between polls")
            (generation,) = fake_server.generations()
            fake_server.complete_all()
            hook = await client.post(
                "/webhooks/powerpost", json=completed_event(fake_server, generation.generation_id)
            )
            assert hook.status == 204
            response = await asyncio.wait_for(sync, timeout=5)
            assert response.status == 200
            body = await response.json()
        assert body["generation_id"] == generation.generation_id
        assert body["status"] == "completed"
        assert set(body["outputs"]) == {"x", "linkedin"}
        assert clock.now == 0.0
        assert [r.endpoint for r in fake_server.requests] == ["create", "get", "get"]


async def test_aiohttp_app_maps_errors() -> None:
    async with FakePowerPost() as fake_server:
        app = aiohttp_app.create_app(
            base_url=fake_server.base_url,
            api_key=fake_server.api_key,
            workspace_id=fake_server.workspace_id,
        )
        async with TestClient(TestServer(app)) as client:
            for method, url, payload, status in [
                ("GET", "/captions/no-such-id", None, 404),
                ("GET", "/captions/a..b", None, 422),
                ("GET", "/captions?limit=0", None, 422),
                ("GET", "/captions?limit=many", None, 422),
                ("GET", "/captions?status=bogus", None, 422),
                ("POST", "/captions", {"prompt": "  ", "post_types": ["x-post"]}, 422),
                ("POST", "/captions", {"prompt": "Hi", "post_types": "x-post"}, 422),
                ("POST", "/captions", ["not", "an", "object"], 422),
                ("POST", "/captions/sync?timeout=nan", CAPTION, 422),
                ("POST", "/webhooks/powerpost", {"no": "event"}, 400),
            ]:
                response = await client.request(method, url, json=payload)
                assert response.status == status, (method, url, await response.text())
                assert (await response.json())["detail"]

            fake_server.faults.script(Fault.rate_limit(retry_after=120), on="create")
            limited = await client.post("/captions", json=CAPTION)
            assert limited.status == 503
            assert limited.headers["Retry-After"] == "120"

        wrong = aiohttp_app.create_app(
            base_url=fake_server.base_url, api_key=SECRET_KEY, workspace_id="ws_test"
        )
        async with TestClient(TestServer(wrong)) as client:
            rejected = await client.post("/captions", json=CAPTION)
            assert rejected.status == 502
            text = await rejected.text()
            assert "INVALID_API_KEY" in text
            assert SECRET_KEY not in text


async def test_aiohttp_app_client_borrows_the_app_session() -> None:
    seen: dict[str, bool] = {}

    async def probe(app: web.Application) -> AsyncIterator[None]:
        # Placed between the session and the client: it starts after the session, and
        # its cleanup runs after the client's and before the session's.
        yield
        seen["client closed"] = app[aiohttp_app.POWERPOST].is_closed
        seen["session open"] = not app[aiohttp_app.HTTP_SESSION].closed

    async with FakePowerPost() as fake_server:
        app = aiohttp_app.create_app(
            base_url=fake_server.base_url,
            api_key=fake_server.api_key,
            workspace_id=fake_server.workspace_id,
        )
        app.cleanup_ctx.insert(app.cleanup_ctx.index(aiohttp_app.powerpost_client), probe)
        async with TestClient(TestServer(app)) as client:
            assert (await client.post("/captions", json=CAPTION)).status == 202
            session = app[aiohttp_app.HTTP_SESSION]
            assert len(fake_server.requests) == 1
        assert seen == {"client closed": True, "session open": True}
        assert session.closed  # and the app closed it, last


def test_aiohttp_app_refuses_a_transport() -> None:
    with pytest.raises(TypeError, match="ClientSession"):
        aiohttp_app.create_app(transport=FakePowerPost().transport())


# -- the anti-pattern: one client, two event loops -----------------------------------------


async def test_a_client_shared_across_event_loops_fails_clearly() -> None:
    async with FakePowerPost() as fake_server:
        # What a client made at import time amounts to: whichever loop comes first owns
        # its pool (here the test's loop, as a server's would), and any other loop, a
        # second test's, a worker thread's asyncio.run, then uses the same object.
        async with PowerPost(
            fake_server.api_key, fake_server.workspace_id, base_url=fake_server.base_url
        ) as pp:
            assert (await pp.account.credits()).balance > 0

            def another_loop() -> None:
                asyncio.run(pp.generations.get("gen_1"))

            with pytest.raises(PowerPostError, match="one client per event loop") as caught:
                await asyncio.wait_for(asyncio.to_thread(another_loop), timeout=5)
            assert "lifespan" in str(caught.value)
            # The first loop's client is unharmed.
            assert (await pp.account.credits()).balance > 0
        assert [r.endpoint for r in fake_server.requests] == ["credits", "credits"]


# -- both examples answer the same JSON ---------------------------------------------------------


async def test_the_two_examples_answer_the_same_json() -> None:
    async with FakePowerPost(pending=0, processing=0) as fake_server:
        (generation_id,) = fake_server.seed_generations(
            1, status="completed", post_types=("x-post", "youtube-video")
        )
        settings = {
            "base_url": fake_server.base_url,
            "api_key": fake_server.api_key,
            "workspace_id": fake_server.workspace_id,
        }
        answers: dict[str, list[Any]] = {}
        async with TestClient(TestServer(aiohttp_app.create_app(**settings))) as client:
            answers["aiohttp"] = [
                await (await client.get(path)).json()
                for path in (f"/captions/{generation_id}", "/captions")
            ]
        async with asgi_client(fastapi_app.create_app(**settings)) as api:
            answers["fastapi"] = [
                (await api.get(path)).json() for path in (f"/captions/{generation_id}", "/captions")
            ]
        sdk = fake_server.generation(generation_id)
    assert answers["aiohttp"] == answers["fastapi"]
    one, page = answers["fastapi"]
    assert one == to_dict(sdk)  # the API's own shape, from the SDK's model
    assert one["created_at"].endswith("Z")
    assert set(one["outputs"]) == {"x", "youtube"}
    assert page["data"][0]["generation_id"] == generation_id
