"""An upload streamed from the caller's async generator that stalls, then ends early
(timed out, or the client closed): the caller gets the SDK's error, and the generator is
closed only once the transport's body writer has left it.

Over a socket to the embedded fake, on each transport; and on a MockTransport that
leaves a body reader running, as a third-party transport might.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from powerpost_async import (
    AiohttpTransport,
    APIConnectionError,
    APITimeoutError,
    MockTransport,
    PowerPost,
    Request,
    Response,
    StreamBody,
    Transport,
)
from powerpost_async.testing import FakePowerPost

from .conftest import API_KEY, WORKSPACE

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x01" * 500
#: Real seconds a test may take before it counts as hung (the bug made httpx hang).
GUARD = 3.0


class StalledSource:
    """An async generator that yields one chunk, then waits for ever, and records that
    its ``finally`` ran (it was closed)."""

    def __init__(self) -> None:
        self.stalled = asyncio.Event()  # set once a reader waits inside it
        self.closed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            yield PNG
            self.stalled.set()
            await asyncio.Event().wait()  # never set
            yield b"never sent"
        finally:
            self.closed = True


@pytest.fixture(params=["aiohttp", "httpx"])
def make_transport(request: pytest.FixtureRequest) -> Callable[[], Transport]:
    """Builds transports of each kind in turn."""
    if request.param == "httpx":
        pytest.importorskip("httpx", reason="httpx is not installed")
        from powerpost_async import HttpxTransport

        return HttpxTransport
    return AiohttpTransport


@pytest.fixture
async def fake() -> AsyncIterator[FakePowerPost]:
    async with FakePowerPost() as server:
        yield server


async def test_a_stalled_stream_times_out_with_the_timeout_error(
    fake: FakePowerPost, make_transport: Callable[[], Transport]
) -> None:
    """Catches: a streamed upload timing out while the transport waits inside the
    caller's async generator raised ``RuntimeError: aclose(): asynchronous generator is
    already running`` (aiohttp: the SDK closed the generator under aiohttp's body
    writer) or never timed out at all (httpx), instead of APITimeoutError."""
    source = StalledSource()
    async with fake.client(use_socket=True, transport=make_transport()) as pp:
        with pytest.raises(APITimeoutError) as info:
            await asyncio.wait_for(pp.media.upload(source.chunks(), timeout=0.5), GUARD)
    assert source.stalled.is_set()  # the timeout came while the writer was inside it
    assert info.value.request_sent is True
    assert source.closed
    assert fake.requests.count(endpoint="upload", status=200) == 0


async def test_closing_the_client_during_a_stalled_stream_is_a_connection_error(
    fake: FakePowerPost, make_transport: Callable[[], Transport]
) -> None:
    """Catches: closing the client while the transport waits inside the caller's async
    generator made the upload raise ``RuntimeError: aclose(): asynchronous generator
    is already running`` (aiohttp) or hang (httpx), instead of the APIConnectionError a
    request in flight gets when its client closes."""
    source = StalledSource()
    pp = fake.client(use_socket=True, transport=make_transport())
    upload = asyncio.create_task(pp.media.upload(source.chunks()))
    try:
        await asyncio.wait_for(source.stalled.wait(), GUARD)
        await pp.aclose()
        with pytest.raises(APIConnectionError) as info:
            await asyncio.wait_for(upload, GUARD)
    finally:
        upload.cancel()
        await pp.aclose()
    assert not isinstance(info.value, APITimeoutError)
    assert info.value.request_sent is True
    assert source.closed


async def test_a_body_reader_left_running_by_a_transport_does_not_hide_its_error() -> None:
    """Catches: when a transport raised while a task of its own was still inside the
    caller's async generator, the upload closed the running generator and raised
    ``RuntimeError`` in place of the transport's error. The generator is closed once
    that task leaves it."""
    source = StalledSource()
    readers: list[asyncio.Task[bytes]] = []

    async def handler(request: Request) -> Response:
        body = request.content
        assert isinstance(body, StreamBody)
        readers.append(asyncio.create_task(body.read()))
        await source.stalled.wait()
        raise APIConnectionError("connection reset while the body was sent")

    transport = MockTransport(handler, read_body=False)
    async with PowerPost(API_KEY, WORKSPACE, transport=transport, max_retries=0) as pp:
        with pytest.raises(APIConnectionError, match="connection reset"):
            await asyncio.wait_for(pp.media.upload(source.chunks()), GUARD)
    (reader,) = readers
    assert not source.closed  # its reader is still inside it: closing it must wait
    reader.cancel()
    await asyncio.wait({reader})
    assert reader.cancelled()
    assert source.closed
