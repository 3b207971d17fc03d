"""``pp.media.upload``: streamed multipart uploads, the checks made before sending, and the
never-resend rule, through the public API (the fake in memory and over a socket, a
MockTransport, a tiny aiohttp.web server where the fake cannot express the case).

The streaming contract of the transports themselves (Content-Length or chunked, the
multipart body as a server parses it) is in test_transport_contract.py.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from powerpost_async import (
    APIConnectionError,
    APIResponse,
    FileTooLargeError,
    InternalServerError,
    Media,
    MockTransport,
    PowerPost,
    RateLimitError,
    Request,
    Response,
    StorageQuotaExceededError,
)
from powerpost_async._limits import MAX_IMAGE_BYTES, MAX_VIDEO_BYTES, sniff_format
from powerpost_async._media import CHUNK_SIZE
from powerpost_async._transport import StreamBody
from powerpost_async.testing import FakePowerPost, Fault

from .conftest import API_KEY, WORKSPACE, RecordingSleep
from .test_transport_contract import free_port

MiB = 1024 * 1024
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x01" * 500
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x02" * 500
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00" + b"\x03" * 500
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00" + b"\x04" * 500
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\x05" * 500

MEDIA_ANSWER = {
    "media_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
    "type": "image",
    "file_name": "cat.jpg",
    "file_size": 245000,
    "mime_type": "image/jpeg",
    "created_at": "2026-03-01T12:00:00Z",
}


def media_ok(request: Request) -> Response:
    return Response.from_json(200, MEDIA_ANSWER)


def client_on(transport: MockTransport, sleep: RecordingSleep, **kwargs: Any) -> PowerPost:
    return PowerPost(
        API_KEY, WORKSPACE, transport=transport, sleep=sleep, clock=sleep.clock, **kwargs
    )


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def sparse_video(tmp_path: Path, size: int, name: str = "big.mp4") -> Path:
    """An MP4 header then zeros to ``size`` bytes, taking no disk space."""
    path = tmp_path / name
    with path.open("wb") as file:
        file.write(MP4[:16])
        file.truncate(size)
    return path


def parse_multipart(request: Request) -> dict[str, tuple[dict[str, str], bytes]]:
    """The parts of a recorded multipart body: name -> (part headers, content)."""
    assert isinstance(request.content, bytes)
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = request.content
    assert body.startswith(b"--" + boundary + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary + b"--\r\n")
    parts: dict[str, tuple[dict[str, str], bytes]] = {}
    inner = body[len(boundary) + 4 : -(len(boundary) + 8)]
    for raw in inner.split(b"\r\n--" + boundary + b"\r\n"):
        head, _, content = raw.partition(b"\r\n\r\n")
        headers = dict(line.decode().split(": ", 1) for line in head.split(b"\r\n"))
        disposition = headers["Content-Disposition"]
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        parts[name] = (headers, content)
    return parts


@pytest.fixture
def mock(make_client: Callable[..., PowerPost]) -> tuple[PowerPost, list[Request]]:
    """A client on a MockTransport answering every upload with the documented example."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return media_ok(request)

    return make_client(handler), seen


# -- the formats, as sniffed -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (WEBP, "image/webp"),
        (MP4, "video/mp4"),
        (MOV, "video/quicktime"),
        (WEBM, "video/webm"),
        (b"GIF89a" + b"\x00" * 10, None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
        (b"", None),
    ],
)
def test_formats_are_sniffed_from_the_first_bytes(head: bytes, mime: str | None) -> None:
    assert sniff_format(head[:12]) == mime


# -- through the fake, in memory and over a socket --------------------------------------------


@pytest.mark.parametrize("use_socket", [False, True], ids=["memory", "socket"])
async def test_every_kind_of_source_uploads_to_the_fake(tmp_path: Path, use_socket: bool) -> None:
    jpeg = write(tmp_path, "cat.jpg", JPEG)
    mov = write(tmp_path, "clip.bin", MOV)

    class Pipe(io.RawIOBase):
        """A binary file that cannot seek (like a pipe)."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(min(len(buffer), 7))  # short reads, as pipes do
            buffer[: len(chunk)] = chunk
            return len(chunk)

    async with FakePowerPost() as server, server.client(use_socket=use_socket) as pp:
        from_path = await pp.media.upload(jpeg)
        from_str = await pp.media.upload(str(mov), type="video", file_name="clip.mov")
        from_bytes = await pp.media.upload(PNG)
        from_view = await pp.media.upload(memoryview(bytearray(WEBP)), file_name="w.webp")
        with jpeg.open("rb") as file:
            from_file = await pp.media.upload(file)
        from_pipe = await pp.media.upload(Pipe(MP4))
        from_iterator = await pp.media.upload(chunks_of(WEBM[:2], WEBM[2:5], WEBM[5:]))
    expected = [
        (from_path, "image", "cat.jpg", len(JPEG), "image/jpeg"),
        (from_str, "video", "clip.mov", len(MOV), "video/quicktime"),
        (from_bytes, "image", "upload.png", len(PNG), "image/png"),
        (from_view, "image", "w.webp", len(WEBP), "image/webp"),
        (from_file, "image", "cat.jpg", len(JPEG), "image/jpeg"),
        (from_pipe, "video", "upload.mp4", len(MP4), "video/mp4"),
        (from_iterator, "video", "upload.webm", len(WEBM), "video/webm"),
    ]
    for media, kind, name, size, mime in expected:
        assert isinstance(media, Media)
        assert (media.type, media.file_name, media.file_size, media.mime_type) == (
            kind,
            name,
            size,
            mime,
        )
        stored = server.media(media.media_id)
        assert (stored["type"], stored["file_size"], stored["source"]) == (kind, size, "upload")
    assert server.requests.counts() == {("upload", 200): len(expected)}


async def test_a_full_workspace_is_a_storage_quota_error(tmp_path: Path) -> None:
    async with FakePowerPost(storage_quota=len(JPEG) + 10) as server, server.client() as pp:
        await pp.media.upload(write(tmp_path, "a.jpg", JPEG))
        with pytest.raises(StorageQuotaExceededError) as info:
            await pp.media.upload(write(tmp_path, "b.jpg", JPEG))
    assert info.value.status_code == 413
    assert info.value.code == "STORAGE_QUOTA_EXCEEDED"


async def test_with_response_answers_the_http_response() -> None:
    async with FakePowerPost() as server, server.client() as pp:
        answer = await pp.media.with_response.upload(PNG)
    assert isinstance(answer, APIResponse)
    assert isinstance(answer.parsed, Media)
    assert (answer.status_code, answer.attempts) == (200, 1)
    assert answer.request_id


async def test_a_copy_uploads_with_its_own_settings() -> None:
    async with FakePowerPost() as server, server.client() as pp:
        copy = pp.with_options(default_headers={"X-Trace": "copy"})
        await copy.media.upload(PNG)
    assert copy.media is not pp.media


# -- what goes on the wire ---------------------------------------------------------------------


async def test_the_body_is_multipart_with_type_then_file(
    mock: tuple[PowerPost, list[Request]], tmp_path: Path
) -> None:
    pp, seen = mock
    path = write(tmp_path, "cat.jpg", JPEG)
    async with pp:
        media = await pp.media.upload(path, file_name='my "best" cat.jpg')
    assert media.media_id == MEDIA_ANSWER["media_id"]
    (request,) = seen
    assert request.method == "POST"
    assert request.url.endswith("/api/v1/media/upload")
    assert request.headers["X-Workspace-Id"] == WORKSPACE
    parts = parse_multipart(request)
    assert list(parts) == ["type", "file"]
    assert parts["type"] == ({"Content-Disposition": 'form-data; name="type"'}, b"image")
    headers, content = parts["file"]
    assert headers == {
        "Content-Disposition": 'form-data; name="file"; filename="my %22best%22 cat.jpg"',
        "Content-Type": "image/jpeg",
    }
    assert content == JPEG


async def test_each_upload_has_its_own_random_boundary(
    mock: tuple[PowerPost, list[Request]],
) -> None:
    pp, seen = mock
    async with pp:
        await pp.media.upload(PNG)
        await pp.media.upload(PNG)
    first, second = (r.headers["Content-Type"] for r in seen)
    assert first != second


async def test_the_extension_decides_when_the_bytes_do_not(
    mock: tuple[PowerPost, list[Request]], tmp_path: Path
) -> None:
    pp, seen = mock
    odd = b"\x00\x01\x02 an unusual video header" * 4
    async with pp:
        await pp.media.upload(write(tmp_path, "clip.MOV", odd))
        await pp.media.upload(odd, file_name="photo.jpeg")
    assert [parse_multipart(r)["file"][0]["Content-Type"] for r in seen] == [
        "video/quicktime",
        "image/jpeg",
    ]
    assert [parse_multipart(r)["type"][1] for r in seen] == [b"video", b"image"]


async def test_the_file_is_handed_over_in_bounded_chunks(
    sleep: RecordingSleep, tmp_path: Path
) -> None:
    path = sparse_video(tmp_path, 3 * CHUNK_SIZE + 5)
    sizes: list[int] = []
    lengths: list[int | None] = []

    async def handler(request: Request) -> Response:
        assert isinstance(request.content, StreamBody)
        lengths.append(request.content.length)
        async for chunk in request.content:
            sizes.append(len(chunk))
        return media_ok(request)

    async with client_on(MockTransport(handler, read_body=False), sleep) as pp:
        await pp.media.upload(path)
    assert max(sizes) == CHUNK_SIZE
    assert sum(sizes) == lengths[0]
    assert sizes[1:-1] == [CHUNK_SIZE] * 3 + [5]  # the framing before and after aside


async def test_a_user_async_generator_is_closed_after_the_upload(
    mock: tuple[PowerPost, list[Request]],
) -> None:
    pp, _ = mock
    closed: list[bool] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield PNG
            yield b"trailing bytes"
        finally:
            closed.append(True)

    async with pp:
        await pp.media.upload(source())
    assert closed == [True]


# -- on_progress -------------------------------------------------------------------------------


async def test_progress_is_reported_per_chunk_up_to_the_total(
    mock: tuple[PowerPost, list[Request]], tmp_path: Path
) -> None:
    pp, _ = mock
    size = 2 * CHUNK_SIZE + 100
    path = sparse_video(tmp_path, size)
    calls: list[tuple[int, int | None]] = []
    async with pp:
        await pp.media.upload(path, on_progress=lambda sent, total: calls.append((sent, total)))
    assert calls == [(CHUNK_SIZE, size), (2 * CHUNK_SIZE, size), (size, size)]


async def test_progress_of_a_stream_of_unknown_size_has_no_total(
    mock: tuple[PowerPost, list[Request]],
) -> None:
    pp, _ = mock
    small = [WEBM] + [b"\x00" * 1000] * 600  # many small chunks: reports stay bounded
    calls: list[tuple[int, int | None]] = []
    async with pp:
        await pp.media.upload(
            chunks_of(*small), on_progress=lambda sent, total: calls.append((sent, total))
        )
    total = sum(map(len, small))
    assert calls[-1] == (total, None)
    assert len(calls) == 3  # 256 KiB twice, then the end
    assert all(b[0] - a[0] >= CHUNK_SIZE for a, b in itertools.pairwise(calls[:-1]))


async def test_a_failing_progress_callback_stops_the_upload_with_its_error(
    tmp_path: Path,
) -> None:
    def boom(sent: int, total: int | None) -> None:
        raise KeyError("from the callback")

    path = sparse_video(tmp_path, 3 * CHUNK_SIZE)
    async with FakePowerPost() as server, server.client(use_socket=True) as pp:
        with pytest.raises(KeyError, match="from the callback"):
            await pp.media.upload(path, on_progress=boom)
    assert server.requests.count(endpoint="upload", status=200) == 0


# -- checks made before sending ---------------------------------------------------------------


async def refused(
    pp: PowerPost, exc: type[Exception], match: str, source: Any, **kwargs: Any
) -> None:
    with pytest.raises(exc, match=match):
        await pp.media.upload(source, **kwargs)


async def test_local_checks_name_the_problem_and_send_nothing(
    mock: tuple[PowerPost, list[Request]], tmp_path: Path
) -> None:
    pp, seen = mock
    gif = write(tmp_path, "anim.gif", b"GIF89a" + b"\x00" * 100)
    empty = write(tmp_path, "empty.jpg", b"")
    png = write(tmp_path, "logo.png", PNG)
    text = write(tmp_path, "notes.txt", b"hello")
    async with pp:
        await refused(pp, TypeError, "source must be a path .* got int", 42)
        await refused(pp, TypeError, "got list", [PNG])
        with text.open("r") as handle:
            await refused(pp, TypeError, "binary mode", handle)
        await refused(
            pp, ValueError, "cannot read .*missing.jpg: No such file", tmp_path / "missing.jpg"
        )
        await refused(pp, ValueError, f"cannot read {tmp_path}", tmp_path)
        await refused(pp, ValueError, "empty.jpg is empty", empty)
        await refused(pp, ValueError, "the bytes is empty", b"")
        await refused(pp, ValueError, "the async iterator is empty", chunks_of(b"", b""))
        await refused(pp, ValueError, "anim.gif is not an accepted format .*JPEG, PNG, WebP", gif)
        await refused(pp, ValueError, "not an accepted format", text)
        await refused(
            pp,
            ValueError,
            r"logo.png is a PNG image: it cannot be uploaded as type='video'",
            png,
            type="video",
        )
        await refused(
            pp,
            ValueError,
            "is a WebM video: it cannot be uploaded as type='image'",
            WEBM,
            type="image",
        )
        await refused(
            pp, ValueError, "type must be one of 'image', 'video', got 'gif'", PNG, type="gif"
        )
        await refused(pp, ValueError, "file_name must not be empty", PNG, file_name=" ")
        await refused(pp, ValueError, "control characters", PNG, file_name="a\x00.png")
        await refused(pp, TypeError, "file_name must be a string", PNG, file_name=b"a.png")
        await refused(pp, ValueError, "size=3 was given but the source holds", PNG, size=3)
        await refused(pp, ValueError, "size must be >= 0", chunks_of(PNG), size=-1)
        await refused(pp, TypeError, "size must be an integer", chunks_of(PNG), size="1")
        await refused(pp, TypeError, "on_progress must be callable", PNG, on_progress=3)
        await refused(pp, TypeError, "yielded str, not bytes", chunks_of("text"))  # type: ignore[arg-type]
    assert seen == []


async def test_sizes_over_the_limits_are_refused_before_sending(
    mock: tuple[PowerPost, list[Request]], tmp_path: Path
) -> None:
    pp, seen = mock
    at_limit = PNG + b"\x00" * (MAX_IMAGE_BYTES - len(PNG))
    over = sparse_video(tmp_path, MAX_VIDEO_BYTES + 1, "over.mp4")
    big_image = PNG + b"\x00" * (MAX_IMAGE_BYTES + 1 - len(PNG))
    async with pp:
        await refused(
            pp,
            ValueError,
            r"over.mp4 is 500\.0 MiB \(524288001 bytes\): videos may be at most 500 MiB",
            over,
        )
        await refused(pp, ValueError, r"images may be at most 10 MiB \(10485760 bytes\)", big_image)
        await refused(pp, ValueError, "images may be at most 10 MiB", io.BytesIO(big_image))
        await refused(
            pp,
            ValueError,
            "videos may be at most 500 MiB",
            chunks_of(WEBM),
            size=MAX_VIDEO_BYTES + 1,
        )
        assert seen == []
        # The limits are MiB, inclusive: at the limit exactly is sent.
        await pp.media.upload(at_limit)
    (request,) = seen
    assert len(parse_multipart(request)["file"][1]) == MAX_IMAGE_BYTES


async def test_a_stream_passing_the_limit_is_cut_off(tmp_path: Path) -> None:
    # Over a socket: the server receives at most the limit (plus the framing), then the
    # upload fails with the reason, not with the connection error it caused.
    megabyte = b"\x00" * MiB
    received: list[int] = []

    async def drain(request: web.Request) -> web.StreamResponse:
        total = 0
        try:
            async for chunk in request.content.iter_any():
                total += len(chunk)
        finally:
            received.append(total)
        return web.json_response(MEDIA_ANSWER)

    app = web.Application()
    app.router.add_post("/api/v1/media/upload", drain)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with PowerPost(API_KEY, WORKSPACE, base_url=base, max_retries=3) as pp:
            with pytest.raises(ValueError, match=r"passed 10 MiB .* the limit for images"):
                await pp.media.upload(chunks_of(PNG, *[megabyte] * 12))
            with pytest.raises(ValueError, match="yielded more than the 1000 bytes given as size"):
                await pp.media.upload(chunks_of(PNG, megabyte), size=1000)
            with pytest.raises(ValueError, match=r"ended after \d+ bytes, not the 5000 given"):
                await pp.media.upload(chunks_of(PNG), size=5000)
        for _ in range(100):  # the server's handlers see the connection go
            if len(received) == 3:
                break
            await asyncio.sleep(0.01)
    finally:
        await runner.cleanup()
    assert received
    assert max(received) <= MAX_IMAGE_BYTES + 1024


async def test_a_file_that_shrinks_while_uploading_fails(
    mock: tuple[PowerPost, list[Request]], tmp_path: Path
) -> None:
    pp, seen = mock
    path = sparse_video(tmp_path, 3 * CHUNK_SIZE)

    def shrink(sent: int, total: int | None) -> None:
        os.truncate(path, CHUNK_SIZE + 10)

    async with pp:
        with pytest.raises(ValueError, match="shrank while it was being uploaded"):
            await pp.media.upload(path, on_progress=shrink)
    assert seen == []


# -- server refusals -----------------------------------------------------------------------------


async def test_server_refusals_are_the_api_errors(
    make_client: Callable[..., PowerPost], sleep: RecordingSleep
) -> None:
    answers = iter(
        [
            Response.from_json(413, {"error": {"code": "FILE_TOO_LARGE", "message": "too big"}}),
            Response.from_json(500, {"error": {"code": "INTERNAL_ERROR", "message": "oops"}}),
        ]
    )
    async with make_client(lambda request: next(answers)) as pp:
        with pytest.raises(FileTooLargeError):
            await pp.media.upload(PNG)
        with pytest.raises(InternalServerError):
            await pp.media.upload(PNG)  # it may have been stored: never sent twice
    assert sleep.calls == []


# -- never sent twice -------------------------------------------------------------------------


def refusing_first(times: int) -> Callable[[Request], Response]:
    """A handler that reads the body, then fails as if nothing had been sent, ``times``
    times, and answers after that."""
    calls = [0]

    def handler(request: Request) -> Response:
        calls[0] += 1
        if calls[0] <= times:
            raise APIConnectionError("could not connect", request_sent=False)
        return media_ok(request)

    return handler


async def test_refused_before_sending_a_replayable_body_goes_again(
    sleep: RecordingSleep, tmp_path: Path
) -> None:
    path = write(tmp_path, "cat.jpg", JPEG)
    transport = MockTransport(refusing_first(2))
    calls: list[tuple[int, int | None]] = []
    async with client_on(transport, sleep) as pp:
        await pp.media.upload(path, on_progress=lambda *args: calls.append(args))
        await pp.media.upload(io.BytesIO(PNG))
    assert len(sleep.calls) == 2
    assert len(transport.requests) == 4
    bodies = [parse_multipart(r)["file"][1] for r in transport.requests]
    assert bodies == [JPEG, JPEG, JPEG, PNG]  # each attempt sends the whole file
    assert calls == [(len(JPEG), len(JPEG))] * 3  # counting starts again at each attempt


async def test_a_one_shot_stream_once_read_is_never_sent_again(sleep: RecordingSleep) -> None:
    transport = MockTransport(refusing_first(1))
    async with client_on(transport, sleep, max_retries=5) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.media.upload(chunks_of(WEBM, b"rest"))
    assert info.value.request_sent is False
    assert len(transport.requests) == 1
    assert sleep.calls == []


async def test_a_one_shot_stream_not_read_yet_may_go_again(sleep: RecordingSleep) -> None:
    # The handler fails before reading the body (as a refused connection does).
    calls = [0]

    async def handler(request: Request) -> Response:
        calls[0] += 1
        if calls[0] == 1:
            raise APIConnectionError("could not connect", request_sent=False)
        assert isinstance(request.content, StreamBody)
        parts = parse_multipart(
            Request("POST", request.url, request.headers, await request.content.read())
        )
        assert parts["file"][1] == WEBM + b"rest"
        return media_ok(request)

    transport = MockTransport(handler, read_body=False)
    async with client_on(transport, sleep) as pp:
        await pp.media.upload(chunks_of(WEBM, b"rest"))
    assert calls[0] == 2
    assert len(sleep.calls) == 1


async def test_a_429_is_retried_only_for_a_replayable_body(
    make_client: Callable[..., PowerPost], sleep: RecordingSleep
) -> None:
    limited = Response.from_json(
        429,
        {"error": {"code": "RATE_LIMITED", "message": "slow down"}},
        headers={"Retry-After": "0"},
    )
    answers = iter([limited, None, limited])

    sent: list[bytes] = []

    def handler(request: Request) -> Response:
        assert isinstance(request.content, bytes)
        sent.append(parse_multipart(request)["file"][1])
        answer = next(answers)
        return answer if answer is not None else media_ok(request)

    async with make_client(handler) as pp:
        await pp.media.upload(PNG)  # 429, then 200
        with pytest.raises(RateLimitError):
            await pp.media.upload(chunks_of(PNG))  # read once: not again
    assert sent == [PNG, PNG, PNG]


async def test_a_connection_dropped_mid_upload_is_not_retried(
    sleep: RecordingSleep, tmp_path: Path
) -> None:
    path = sparse_video(tmp_path, 8 * MiB)
    hits: list[int] = []

    async def drop_midway(request: web.Request) -> web.StreamResponse:
        hits.append(len(await request.content.read(MiB)))
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    app = web.Application()
    app.router.add_post("/api/v1/media/upload", drop_midway)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with PowerPost(API_KEY, WORKSPACE, base_url=base, sleep=sleep, max_retries=5) as pp:
            with pytest.raises(APIConnectionError) as info:
                await pp.media.upload(path)
    finally:
        await runner.cleanup()
    assert info.value.request_sent is True
    assert len(hits) == 1
    assert sleep.calls == []


@pytest.mark.parametrize("use_socket", [False, True], ids=["memory", "socket"])
async def test_a_drop_by_the_fake_is_not_retried(
    sleep: RecordingSleep, tmp_path: Path, use_socket: bool
) -> None:
    async with FakePowerPost() as server:
        server.faults.script(Fault.drop(executed=True), on="upload")
        async with server.client(use_socket=use_socket, sleep=sleep, max_retries=5) as pp:
            with pytest.raises(APIConnectionError):
                await pp.media.upload(write(tmp_path, "cat.jpg", JPEG))
    assert server.requests.count(endpoint="upload") == 1
    assert sleep.calls == []


@pytest.mark.parametrize("kind", ["path", "stream"])
async def test_connection_refused_goes_again_while_nothing_was_read(
    sleep: RecordingSleep, tmp_path: Path, kind: str
) -> None:
    # Refused before connecting: the transport read nothing of the body, not even of a
    # one-shot stream, so every source may go again.
    source: Any = write(tmp_path, "cat.jpg", JPEG) if kind == "path" else chunks_of(JPEG)
    base = f"http://127.0.0.1:{free_port()}"
    async with PowerPost(API_KEY, WORKSPACE, base_url=base, sleep=sleep, max_retries=2) as pp:
        with pytest.raises(APIConnectionError) as info:
            await pp.media.upload(source)
    assert info.value.request_sent is False
    assert len(sleep.calls) == 2


# -- the streamed body type ---------------------------------------------------------------------


async def test_a_stream_body_replays_or_refuses_to() -> None:
    replayable = StreamBody(lambda: chunks_of(b"ab", b"c"), length=3)
    assert await replayable.read() == await replayable.read() == b"abc"
    assert replayable.can_resend

    source = chunks_of(b"x", b"y")
    one_shot = StreamBody(lambda: source, replayable=False)
    iterator = one_shot.__aiter__()  # asking for an iterator reads nothing
    assert (one_shot.started, one_shot.can_resend) == (False, True)
    assert await iterator.__anext__() == b"x"
    assert (one_shot.started, one_shot.can_resend) == (True, False)
    with pytest.raises(RuntimeError, match="cannot be sent again"):
        one_shot.__aiter__()
    assert [c async for c in iterator] == [b"y"]
    assert repr(one_shot) == "<StreamBody one-shot length=None>"
    with pytest.raises(ValueError, match="length"):
        StreamBody(lambda: source, length=-1)


async def test_a_request_with_a_stream_body_keeps_its_key_out_of_its_repr() -> None:
    body = StreamBody(lambda: chunks_of(b"a"), length=1)
    request = Request("POST", "https://x/api", {"x-api-key": API_KEY}, body)
    assert API_KEY not in repr(request)
    assert "<redacted>" in repr(request)
