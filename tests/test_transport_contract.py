"""The transport contract: what every transport must do, over real sockets.

Each test runs once per transport (``aiohttp``, ``httpx``) against the embedded
FakePowerPost on 127.0.0.1, or against a tiny aiohttp.web app where the fake cannot
express the case (redirects, oversized bodies, raw header spelling).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import web

from powerpost_async import (
    AiohttpTransport,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    GenerationStatus,
    NotFoundError,
    PowerPost,
    PowerPostError,
    Request,
    ResponseValidationError,
    Transport,
)
from powerpost_async._transport import StreamBody
from powerpost_async.testing import FakePowerPost, Fault

from ._tls import self_signed
from .conftest import API_KEY, WORKSPACE, RecordingSleep, load_sample

# -- the transports under test ---------------------------------------------------------------


@dataclass
class Lent:
    """A transport built on a session/client the test owns (and so must stay open)."""

    transport: Transport
    is_closed: Callable[[], bool]
    get_status: Callable[[str], Awaitable[int]]


class TransportFactory(Protocol):
    """Builds transports of one kind: ``factory(**options)``, or one on a lent client."""

    name: str

    def __call__(
        self, *, connection_limit: int = 100, max_response_bytes: int = 10 * 1024 * 1024
    ) -> Transport: ...

    def lend(self) -> contextlib.AbstractAsyncContextManager[Lent]: ...


class AiohttpFactory:
    name = "aiohttp"

    def __call__(
        self, *, connection_limit: int = 100, max_response_bytes: int = 10 * 1024 * 1024
    ) -> Transport:
        return AiohttpTransport(
            connection_limit=connection_limit, max_response_bytes=max_response_bytes
        )

    @contextlib.asynccontextmanager
    async def lend(self) -> AsyncIterator[Lent]:
        async with aiohttp.ClientSession() as session:

            async def get_status(url: str) -> int:
                async with session.get(url) as response:
                    await response.read()
                    return response.status

            yield Lent(AiohttpTransport(session), lambda: session.closed, get_status)


class HttpxFactory:
    name = "httpx"

    def __call__(
        self, *, connection_limit: int = 100, max_response_bytes: int = 10 * 1024 * 1024
    ) -> Transport:
        from powerpost_async._httpx import HttpxTransport

        return HttpxTransport(
            connection_limit=connection_limit, max_response_bytes=max_response_bytes
        )

    @contextlib.asynccontextmanager
    async def lend(self) -> AsyncIterator[Lent]:
        import httpx

        from powerpost_async._httpx import HttpxTransport

        async with httpx.AsyncClient() as client:

            async def get_status(url: str) -> int:
                return (await client.get(url)).status_code

            yield Lent(HttpxTransport(client), lambda: client.is_closed, get_status)


@pytest.fixture(params=["aiohttp", "httpx"])
def transport_factory(request: pytest.FixtureRequest) -> TransportFactory:
    """Each transport in turn; httpx is skipped when the extra is not installed."""
    if request.param == "httpx":
        pytest.importorskip(
            "httpx", reason="httpx is not installed (pip install 'powerpost-async[httpx]')"
        )
        return HttpxFactory()
    return AiohttpFactory()


# -- servers ---------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakePowerPost]:
    """The embedded fake API, serving on 127.0.0.1."""
    async with FakePowerPost() as server:
        yield server


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Serve(Protocol):
    """``await serve(handler)``: the base URL of a server for every path (TLS if given)."""

    def __call__(
        self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None
    ) -> Awaitable[str]: ...


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serve a handler for every path on 127.0.0.1; yields a function returning base_url."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        scheme = "http" if ssl_context is None else "https"
        return f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client_for(base_url: str, transport: Transport, **kwargs: Any) -> PowerPost:
    return PowerPost(API_KEY, WORKSPACE, base_url=base_url, transport=transport, **kwargs)


# -- round trips -----------------------------------------------------------------------------


async def test_get_and_post_round_trip(
    fake: FakePowerPost, transport_factory: TransportFactory
) -> None:
    async with fake.client(use_socket=True, transport=transport_factory()) as pp:
        created = await pp.generations.create(prompt="We shipped dark mode", post_types=["x-post"])
        generation = await pp.generations.get(created.generation_id)
        page = await pp.generations.list(limit=10)
        credits = await pp.account.credits()
    assert generation.generation_id == created.generation_id
    assert generation.status in {GenerationStatus.PENDING, GenerationStatus.PROCESSING}
    assert [summary.generation_id for summary in page] == [created.generation_id]
    assert credits.balance == fake.balance() == 1000 - created.credits_used
    assert fake.requests.counts() == {
        ("create", 200): 1,
        ("get", 200): 1,
        ("list", 200): 1,
        ("credits", 200): 1,
    }


async def test_error_statuses_and_garbled_bodies_come_through_and_gets_retry(
    fake: FakePowerPost, transport_factory: TransportFactory, sleep: RecordingSleep
) -> None:
    (generation_id,) = fake.seed_generations(1, status="completed")
    fake.faults.script(Fault.server_error(503), Fault.malformed(), on="get")
    transport = transport_factory()
    async with fake.client(use_socket=True, transport=transport, sleep=sleep) as pp:
        generation = await pp.generations.get(generation_id)
    assert generation.status is GenerationStatus.COMPLETED
    assert len(sleep.calls) == 2
    assert fake.requests.counts() == {("get", 503): 1, ("get", 200): 2}


async def test_headers_are_sent(serve: Serve, transport_factory: TransportFactory) -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {name.lower(): value for name, value in request.headers.items()}
        seen.append((request.method, headers, await request.read()))
        sample = "create_generation" if request.method == "POST" else "generation_processing"
        return web.json_response(load_sample(sample))

    base = await serve(handler)
    async with client_for(base, transport_factory()) as pp:
        await pp.generations.get("abc")
        await pp.generations.create(prompt="hello", post_types=["x-post"])
    (get_method, get_headers, get_body), (post_method, post_headers, post_body) = seen
    for headers in (get_headers, post_headers):
        assert headers["x-api-key"] == API_KEY
        assert headers["x-workspace-id"] == WORKSPACE
        assert headers["accept"] == "application/json"
        assert headers["user-agent"].startswith("powerpost-async/")
    assert (get_method, get_body) == ("GET", b"")
    assert "content-type" not in get_headers
    assert post_method == "POST"
    assert post_headers["content-type"] == "application/json"
    assert json.loads(post_body) == {
        "prompt": "hello",
        "post_types": ["x-post"],
        "research_mode": "regular",
    }


async def test_response_headers_are_case_insensitive(
    fake: FakePowerPost, serve: Serve, transport_factory: TransportFactory
) -> None:
    # The fake spells it X-Request-ID; the client looks up X-Request-Id.
    async with fake.client(use_socket=True, transport=transport_factory()) as pp:
        with pytest.raises(NotFoundError) as from_fake:
            await pp.generations.get("no-such-generation")
    assert from_fake.value.request_id == fake.requests[-1].request_id
    assert from_fake.value.request_id

    async def handler(request: web.Request) -> web.StreamResponse:
        error = {"error": {"code": "NOT_FOUND", "message": "Generation not found"}}
        return web.json_response(error, status=404, headers={"x-request-id": "req_lowercase"})

    base = await serve(handler)
    async with client_for(base, transport_factory()) as pp:
        with pytest.raises(NotFoundError) as from_raw:
            await pp.generations.get("abc")
    assert from_raw.value.request_id == "req_lowercase"


# -- no answer -------------------------------------------------------------------------------


async def test_connection_refused_is_not_sent_and_a_create_is_retried(
    transport_factory: TransportFactory, sleep: RecordingSleep
) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    async with client_for(base, transport_factory(), sleep=sleep, max_retries=2) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.generations.create(prompt="hello", post_types=["x-post"])
    assert info.value.request_sent is False
    assert not isinstance(info.value, APITimeoutError)
    assert "could not connect to http://127.0.0.1" in str(info.value)
    assert len(sleep.calls) == 2  # refused before sending: safe to retry even a create


async def test_an_untrusted_certificate_is_refused_before_sending(
    serve: Serve, transport_factory: TransportFactory, tmp_path: Path
) -> None:
    # A real TLS handshake against a self-signed certificate: verified by default, it fails
    # as a connection error (older aiohttp raised AttributeError here), and nothing is sent.
    server_context, _ = self_signed(tmp_path)
    received: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        received.append(request.path)
        return web.json_response(load_sample("credits"))

    base = await serve(handler, ssl_context=server_context)
    async with client_for(base, transport_factory(), max_retries=0) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.account.credits()
    assert info.value.request_sent is False
    assert not isinstance(info.value, APITimeoutError)
    assert str(info.value).startswith(f"could not connect to {base}: ")
    assert "certificate" in str(info.value).lower()
    assert received == []


async def test_dropped_connection_after_a_create_sends_one_post(
    fake: FakePowerPost, transport_factory: TransportFactory, sleep: RecordingSleep
) -> None:
    fake.faults.script(Fault.drop(executed=True), on="create")
    transport = transport_factory()
    async with fake.client(use_socket=True, transport=transport, sleep=sleep, max_retries=5) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.generations.create(prompt="hello", post_types=["x-post"])
    assert info.value.request_sent is True
    assert fake.requests.count(endpoint="create") == 1
    assert len(fake.generations()) == 1  # it was made: a second POST would make another
    assert sleep.calls == []


async def test_dropped_connection_on_a_get_is_retried(
    fake: FakePowerPost, transport_factory: TransportFactory, sleep: RecordingSleep
) -> None:
    (generation_id,) = fake.seed_generations(1, status="completed")
    fake.faults.script(Fault.drop(), on="get")
    async with fake.client(use_socket=True, transport=transport_factory(), sleep=sleep) as pp:
        generation = await pp.generations.get(generation_id)
    assert generation.status is GenerationStatus.COMPLETED
    assert fake.requests.count(endpoint="get", fault="drop") == 1
    assert fake.requests.count(endpoint="get", status=200) == 1


async def test_timeout_is_an_api_timeout_error_and_a_timeout_error(
    transport_factory: TransportFactory, sleep: RecordingSleep
) -> None:
    release = asyncio.Event()

    async def held(seconds: float) -> None:
        # Slow answers wait for the test, so none is left running when the server stops.
        await release.wait()

    async with FakePowerPost(sleep=held) as server:
        server.faults.script(Fault.slow(5), on="get")
        server.faults.script(Fault.slow(5), on="create")
        transport = transport_factory()
        try:
            async with server.client(
                use_socket=True, transport=transport, timeout=0.1, sleep=sleep, max_retries=3
            ) as pp:
                with pytest.raises(APITimeoutError) as on_get:
                    await pp.generations.get("abc", max_retries=0)
                with pytest.raises(APITimeoutError) as on_create:
                    await pp.generations.create(prompt="hello", post_types=["x-post"])
        finally:
            release.set()
    for info in (on_get, on_create):
        assert isinstance(info.value, TimeoutError)
        assert info.value.request_sent is True
        assert "timed out after 0.1 s" in str(info.value)
    assert server.requests.count(endpoint="create") == 1  # it may have worked: not resent
    assert sleep.calls == []


async def test_a_body_trickled_past_the_timeout_times_out(
    serve: Serve, transport_factory: TransportFactory
) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"balance": 47')
        for _ in range(20):  # each piece well within any per-read timeout
            await asyncio.sleep(0.02)
            await response.write(b" ")
        await response.write(b"}")
        await response.write_eof()
        return response

    base = await serve(trickle)
    async with client_for(base, transport_factory(), timeout=0.1, max_retries=0) as pp:
        with pytest.raises(APITimeoutError, match=r"timed out after 0\.1 s"):
            await pp.account.credits()


# -- what a transport must refuse ------------------------------------------------------------


async def test_redirects_are_not_followed_and_the_key_stays_home(
    serve: Serve, transport_factory: TransportFactory
) -> None:
    elsewhere_saw: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.StreamResponse:
        elsewhere_saw.append(request.headers.get("x-api-key"))
        return web.json_response(load_sample("credits"))

    other = await serve(elsewhere)
    api_saw: list[str] = []

    async def api(request: web.Request) -> web.StreamResponse:
        api_saw.append(request.path)
        raise web.HTTPFound(f"{other}/steal")

    base = await serve(api)
    async with client_for(base, transport_factory()) as pp:
        with pytest.raises(APIStatusError) as info:
            await pp.account.credits()
    assert info.value.status_code == 302
    assert api_saw == ["/api/v1/account/credits"]
    assert elsewhere_saw == []


async def oversized(request: web.Request) -> web.StreamResponse:
    """``/sized/N``: N bytes with a Content-Length; ``/chunked/N``: N bytes, chunked.

    The body is a valid credits answer padded with spaces (valid JSON) to N bytes.
    """
    _, kind, size, *_ = request.path.split("/")
    answer = b'{"balance": 47}'
    body = answer + b" " * (int(size) - len(answer))
    if kind.startswith("chunked"):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), 1024):
            await response.write(body[start : start + 1024])
        await response.write_eof()
        return response
    return web.Response(body=body, content_type="application/json")


@pytest.mark.parametrize("kind", ["sized", "chunked"])
async def test_oversized_bodies_are_refused(
    serve: Serve, transport_factory: TransportFactory, kind: str
) -> None:
    base = await serve(oversized)
    limit = 4096
    # The API path is fixed; the tiny app reads the kind and size off the base URL.
    async with client_for(
        f"{base}/{kind}/{limit}", transport_factory(max_response_bytes=limit)
    ) as pp:
        assert (await pp.account.credits()).balance == 47  # exactly at the limit: fine
    too_big = f"{base}/{kind}/{16 * limit}"
    transport = transport_factory(max_response_bytes=limit)
    async with client_for(too_big, transport, max_retries=0) as pp:
        with pytest.raises(ResponseValidationError, match=f"larger than the {limit}-byte limit"):
            await pp.account.credits()


async def test_a_compressed_body_is_capped_once_inflated(
    serve: Serve, transport_factory: TransportFactory
) -> None:
    inflated = b'{"balance": 47}' + b" " * 200_000

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(inflated),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    base = await serve(handler)
    async with client_for(base, transport_factory(max_response_bytes=4096)) as pp:
        with pytest.raises(ResponseValidationError, match="larger than the 4096-byte limit"):
            await pp.account.credits()


# -- lifecycle -------------------------------------------------------------------------------


async def test_a_borrowed_client_is_not_closed(
    fake: FakePowerPost, transport_factory: TransportFactory
) -> None:
    async with transport_factory.lend() as lent:
        async with fake.client(use_socket=True, transport=lent.transport) as pp:
            assert (await pp.account.credits()).balance == 1000
        assert not lent.is_closed()
        assert await lent.get_status(f"{fake.base_url}/api/v1/account/credits") == 401
        with pytest.raises(PowerPostError, match="closed"):  # ours is, though
            await lent.transport.send(Request("GET", f"{fake.base_url}/x", {}))


async def test_a_transport_used_after_close_says_so(
    fake: FakePowerPost, transport_factory: TransportFactory
) -> None:
    never_used = transport_factory()
    await never_used.aclose()
    used = transport_factory()
    async with fake.client(use_socket=True, transport=used) as pp:
        await pp.account.credits()
    await used.aclose()  # twice is fine
    for transport in (never_used, used):
        with pytest.raises(PowerPostError, match="transport\\) is closed"):
            await transport.send(Request("GET", f"{fake.base_url}/api/v1/account/credits", {}))


async def test_a_transport_used_from_another_event_loop_says_so(
    fake: FakePowerPost, transport_factory: TransportFactory
) -> None:
    async with fake.client(use_socket=True, transport=transport_factory()) as pp:
        await pp.account.credits()
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                asyncio.run(pp.account.credits())
            except BaseException as exc:  # collected for the assertions below
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        await asyncio.to_thread(thread.join, 10)
        assert len(errors) == 1
        assert isinstance(errors[0], PowerPostError)
        assert "another event loop" in str(errors[0])
        assert "one client per event loop" in str(errors[0])
        assert (await pp.account.credits()).balance == 1000  # still fine in its own loop
    assert fake.requests.count(endpoint="credits") == 2


def test_a_transport_built_outside_a_loop_warns_nothing_and_works_in_one(
    transport_factory: TransportFactory,
) -> None:
    # Warnings are errors here: building must not touch (or create) an event loop.
    transport = transport_factory(connection_limit=7)
    assert transport.connection_limit == 7  # type: ignore[attr-defined]
    idle = PowerPost(API_KEY, WORKSPACE, transport=transport_factory())
    with pytest.raises(ValueError, match="connection_limit"):
        transport_factory(connection_limit=0)
    with pytest.raises(ValueError, match="max_response_bytes"):
        transport_factory(max_response_bytes=0)

    async def use() -> int:
        await idle.aclose()
        async with (
            FakePowerPost() as server,
            server.client(use_socket=True, transport=transport) as pp,
        ):
            return (await pp.account.credits()).balance

    assert asyncio.run(use()) == 1000


# -- streamed request bodies (uploads) -------------------------------------------------------


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def test_a_stream_body_is_sent_with_its_length_or_chunked(
    serve: Serve, transport_factory: TransportFactory
) -> None:
    seen: list[tuple[str | None, str | None, bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = request.headers
        seen.append((headers.get("Content-Length"), headers.get("Transfer-Encoding"), body))
        return web.json_response({})

    base = await serve(handler)
    transport = transport_factory()
    try:
        for length in (9, None):
            body = StreamBody(lambda: _chunks(b"abc", b"", b"defghi"), length=length)
            request = Request("POST", f"{base}/upload", {"X-Test": "1"}, body, 5.0)
            assert (await transport.send(request)).status_code == 200
    finally:
        await transport.aclose()
    assert seen == [("9", None, b"abcdefghi"), (None, "chunked", b"abcdefghi")]


async def test_uploads_reach_a_server_as_multipart_form_data(
    serve: Serve, transport_factory: TransportFactory, tmp_path: Path
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        upload = form["file"]
        assert isinstance(upload, web.FileField)
        with upload.file:  # aiohttp spools it to a temporary file: ours to close
            content = upload.file.read()
        received.append(
            (
                request.headers.get("Content-Length"),
                {
                    "type": form["type"],
                    "file_name": upload.filename,
                    "content_type": upload.content_type,
                    "bytes": content,
                },
            )
        )
        return web.json_response(
            {"media_id": "m-1", "type": form["type"], "file_name": upload.filename}
        )

    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 1000
    webm = b"\x1a\x45\xdf\xa3" + b"\x07" * 300_000
    path = tmp_path / "cat.jpg"
    path.write_bytes(jpeg)
    base = await serve(handler)
    async with client_for(base, transport_factory()) as pp:
        from_path = await pp.media.upload(path)
        from_stream = await pp.media.upload(_chunks(webm[:5], webm[5:]), file_name="v.webm")
    assert (from_path.media_id, from_path.type, from_path.file_name) == ("m-1", "image", "cat.jpg")
    assert (from_stream.type, from_stream.file_name) == ("video", "v.webm")
    (path_length, path_form), (stream_length, stream_form) = received
    assert path_length is not None  # known: Content-Length
    assert int(path_length) > len(jpeg)
    assert stream_length is None  # not known: chunked
    assert path_form == {
        "type": "image",
        "file_name": "cat.jpg",
        "content_type": "image/jpeg",
        "bytes": jpeg,
    }
    assert stream_form == {
        "type": "video",
        "file_name": "v.webm",
        "content_type": "video/webm",
        "bytes": webm,
    }


async def test_an_upload_dropped_midway_is_sent_once(
    serve: Serve, transport_factory: TransportFactory, tmp_path: Path, sleep: RecordingSleep
) -> None:
    hits: list[int] = []

    async def drop_midway(request: web.Request) -> web.StreamResponse:
        hits.append(len(await request.content.read(65536)))
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    path = tmp_path / "big.mp4"
    with path.open("wb") as file:
        file.write(b"\x00\x00\x00\x18ftypisom")
        file.truncate(8 * 1024 * 1024)
    base = await serve(drop_midway)
    async with client_for(base, transport_factory(), sleep=sleep, max_retries=5) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.media.upload(path)
    assert info.value.request_sent is True
    assert len(hits) == 1
    assert sleep.calls == []


async def test_an_upload_refused_before_sending_goes_again(
    transport_factory: TransportFactory, tmp_path: Path, sleep: RecordingSleep
) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    base = f"http://127.0.0.1:{free_port()}"
    async with client_for(base, transport_factory(), sleep=sleep, max_retries=2) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.media.upload(path)
    assert info.value.request_sent is False
    assert len(sleep.calls) == 2


async def test_a_failing_upload_source_fails_the_upload_with_its_error(
    serve: Serve, transport_factory: TransportFactory
) -> None:
    async def drain(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.json_response({"media_id": "m-1", "type": "image"})

    async def broken() -> AsyncIterator[bytes]:
        yield b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
        await asyncio.sleep(0)
        raise OSError(5, "Input/output error")

    base = await serve(drain)
    async with client_for(base, transport_factory(), max_retries=3) as pp:
        with pytest.raises(OSError, match="Input/output error") as info:
            await pp.media.upload(broken())
    assert not isinstance(info.value, APIConnectionError)
