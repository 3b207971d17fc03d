"""FakePowerPost beyond captions: media, images, videos, posts, analytics, calendar, scopes.

Raw HTTP throughout (the SDK's calls for these endpoints are tested elsewhere): in
memory through ``server.transport()``, and over the socket with aiohttp's client.
Time is a `VirtualClock`, moved by hand with ``server.advance``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from powerpost_async import Request, Response
from powerpost_async._converter import dumps
from powerpost_async._limits import (
    CALENDAR_ENTRIES_PATH,
    IMAGE_GENERATIONS_PATH,
    IMAGES_GENERATE_PATH,
    MAX_IMAGE_BYTES,
    MAX_SCHEDULED_POSTS,
    MEDIA_UPLOAD_PATH,
    POST_ITEMS_PATH,
    POSTS_PATH,
    SCOPES,
    VIDEO_GENERATIONS_PATH,
    VIDEOS_GENERATE_PATH,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock
from powerpost_async.testing._multipart import MultipartParser, PartData, PartStart, boundary_of
from powerpost_async.webhooks import (
    GenerationCompletedEvent,
    WebhookEvent,
    parse_webhook,
)

KEY = "pp_live_sk_test"
WS = "ws_test"
HEADERS = {"x-api-key": KEY, "X-Workspace-Id": WS}
BASE = "https://powerpost.test"
EPOCH = datetime(2026, 1, 10, 18, 30, tzinfo=timezone.utc)
BOUNDARY = "----fake-boundary-7MA4YWxkTrZu0gW"

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 48
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 52
MOV = b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 52
WEBM = b"\x1a\x45\xdf\xa3" + b"\x00" * 60


class Api:
    """Raw requests to a fake through its in-memory transport."""

    def __init__(self, server: FakePowerPost) -> None:
        self.server = server
        self.transport = server.transport()

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        key: str = KEY,
        workspace: str = WS,
    ) -> Response:
        sent = {"x-api-key": key, "X-Workspace-Id": workspace} if headers is None else headers
        if json is not None:
            body = dumps(json)
            sent = {**sent, "Content-Type": "application/json"}
        return await self.transport.send(Request(method, BASE + path, sent, body))

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self(method, path, **kwargs)
        assert response.status_code == status, response.content
        return response.json()

    async def error(self, method: str, path: str, status: int, **kwargs: Any) -> dict[str, Any]:
        response = await self(method, path, **kwargs)
        assert response.status_code == status, response.content
        body = response.json()
        assert set(body) == {"error"}
        error: dict[str, Any] = body["error"]
        assert error["message"]
        return error

    async def upload(
        self,
        content: bytes,
        media_type: str | None = "image",
        *,
        file_name: str | None = "cat.jpg",
        content_type: str | None = "application/octet-stream",
        **kwargs: Any,
    ) -> Response:
        body = form(content, media_type, file_name=file_name, content_type=content_type)
        headers = {**HEADERS, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        return await self("POST", MEDIA_UPLOAD_PATH, body=body, headers=kwargs.pop("h", headers))


def form_head(media_type: str | None, file_name: str | None, content_type: str | None) -> bytes:
    parts = b""
    if media_type is not None:
        parts += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="type"\r\n\r\n{media_type}\r\n'
        ).encode()
    disposition = 'form-data; name="file"'
    if file_name is not None:
        disposition += f'; filename="{file_name}"'
    parts += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
    if content_type is not None:
        parts += f"Content-Type: {content_type}\r\n".encode()
    return parts + b"\r\n"


def form(
    content: bytes,
    media_type: str | None = "image",
    *,
    file_name: str | None = "cat.jpg",
    content_type: str | None = "application/octet-stream",
) -> bytes:
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return form_head(media_type, file_name, content_type) + content + tail


async def streamed_form(
    head: bytes, size: int, media_type: str, *, chunk: int = 256 * 1024
) -> AsyncIterator[bytes]:
    """A multipart body whose file (``head`` then zeros) is made on the fly, never whole."""
    file_name = "clip.mp4" if media_type == "video" else "big.png"
    yield form_head(media_type, file_name, "application/octet-stream") + head
    zeros = bytes(chunk)  # one buffer, yielded again and again
    left = size - len(head)
    for _ in range(size // chunk + 2):
        if left <= 0:
            break
        piece = zeros if left >= chunk else zeros[:left]
        left -= len(piece)
        yield piece
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(auto_advance=False)


@pytest.fixture
def server(clock: VirtualClock) -> FakePowerPost:
    return FakePowerPost(clock=clock)


@pytest.fixture
async def api(server: FakePowerPost) -> AsyncIterator[Api]:
    client = Api(server)
    yield client
    await client.transport.aclose()


async def uploaded(api: Api, content: bytes = JPEG, media_type: str = "image") -> str:
    response = await api.upload(content, media_type)
    assert response.status_code == 200, response.content
    media_id: str = response.json()["media_id"]
    return media_id


async def completed_generation(api: Api, post_types: Iterable[str]) -> str:
    body = {"prompt": "Dark mode is here", "post_types": list(post_types)}
    created = await api.ok(
        "POST", "/api/v1/content/generate", json=body | {"research_mode": "regular"}
    )
    api.server.complete(created["generation_id"])
    generation_id: str = created["generation_id"]
    return generation_id


# -- scopes ---------------------------------------------------------------------------------

# (method, path, scope) of one request to every endpoint.
ENDPOINTS = [
    ("GET", "/api/v1/account/credits", "account:read"),
    ("GET", "/api/v1/content/generations", "content:read"),
    ("GET", "/api/v1/content/generations/g1", "content:read"),
    ("POST", "/api/v1/content/generate", "content:generate"),
    ("POST", MEDIA_UPLOAD_PATH, "media:write"),
    ("POST", IMAGES_GENERATE_PATH, "images:generate"),
    ("GET", f"{IMAGE_GENERATIONS_PATH}/i1", "images:read"),
    ("POST", VIDEOS_GENERATE_PATH, "videos:generate"),
    ("GET", f"{VIDEO_GENERATIONS_PATH}/v1", "videos:read"),
    ("POST", POSTS_PATH, "posts:write"),
    ("GET", f"{POSTS_PATH}/p1", "posts:read"),
    ("POST", f"{POSTS_PATH}/p1/publish", "posts:publish"),
    ("POST", f"{POSTS_PATH}/p1/schedule", "posts:publish"),
    ("POST", f"{POSTS_PATH}/p1/cancel-publish", "posts:publish"),
    ("GET", f"{POST_ITEMS_PATH}/it1/analytics", "analytics:read"),
    ("GET", f"{CALENDAR_ENTRIES_PATH}?start_date=2026-01-01&end_date=2026-01-31", "calendar:read"),
    ("POST", CALENDAR_ENTRIES_PATH, "calendar:write"),
    ("GET", f"{CALENDAR_ENTRIES_PATH}/e1", "calendar:read"),
    ("PATCH", f"{CALENDAR_ENTRIES_PATH}/e1", "calendar:write"),
    ("DELETE", f"{CALENDAR_ENTRIES_PATH}/e1", "calendar:write"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_every_endpoint_needs_its_scope(method: str, path: str, scope: str) -> None:
    others = [s for s in SCOPES if s != scope]
    server = FakePowerPost(
        keys={KEY: [WS], "pp_live_sk_all": [WS]},
        scopes={KEY: others},
        clock=VirtualClock(auto_advance=False),
    )
    api = Api(server)
    error = await api.error(method, path, 403, json={})
    assert error == {
        "code": "INSUFFICIENT_SCOPE",
        "message": f"This API key is missing the required scope: {scope}",
        "required_scope": scope,
    }
    # A key holding it (left out of scopes: all 14) gets past the check.
    response = await api(method, path, json={}, key="pp_live_sk_all")
    assert response.status_code != 403
    assert server.requests[0].endpoint is not None


def test_scopes_are_checked_when_configured() -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        FakePowerPost(scopes={KEY: ["posts:delete"]})
    with pytest.raises(ValueError, match="not configured"):
        FakePowerPost(scopes={"pp_live_sk_other": []})
    with pytest.raises(TypeError, match="not a string"):
        FakePowerPost(scopes={KEY: "posts:read"})


async def test_a_read_only_key_reads_but_cannot_publish(api: Api) -> None:
    server = FakePowerPost(
        clock=VirtualClock(auto_advance=False),
        scopes={KEY: [s for s in SCOPES if s.endswith(":read")]},
    )
    reader = Api(server)
    assert (await reader.ok("GET", "/api/v1/account/credits")) == {"balance": 1000}
    error = await reader.error("POST", f"{POSTS_PATH}/p1/publish", 403)
    assert error["required_scope"] == "posts:publish"


async def test_unknown_methods_and_paths() -> None:
    api = Api(FakePowerPost(clock=VirtualClock(auto_advance=False)))
    assert (await api.error("GET", POSTS_PATH, 405))["code"] == "METHOD_NOT_ALLOWED"
    assert (await api.error("PUT", f"{CALENDAR_ENTRIES_PATH}/e1", 405))["code"] == (
        "METHOD_NOT_ALLOWED"
    )
    assert (await api.error("POST", f"{POSTS_PATH}/p1/unpublish", 404))["code"] == "NOT_FOUND"
    assert (await api.error("GET", f"{IMAGE_GENERATIONS_PATH}/", 404))["code"] == "NOT_FOUND"
    assert (await api.error("GET", f"{POST_ITEMS_PATH}/a/b/analytics", 404))["code"] == (
        "NOT_FOUND"
    )


async def test_the_new_endpoints_need_a_key_and_a_workspace(api: Api) -> None:
    assert (await api.error("GET", f"{POSTS_PATH}/p1", 401, key="nope"))["code"] == (
        "INVALID_API_KEY"
    )
    assert (await api.error("GET", f"{POSTS_PATH}/p1", 403, workspace="ws_other"))[
        "code"
    ] == "FORBIDDEN"
    error = await api.error("GET", f"{POSTS_PATH}/p1", 400, headers={"x-api-key": KEY})
    assert "X-Workspace-Id" in error["message"]


# -- the multipart parser -------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1000])
def test_the_parser_gives_the_same_parts_whatever_the_chunks(size: int) -> None:
    body = b"preamble\r\n" + form(b"\r\n--not-it\r\n" + JPEG * 5, "image")
    parser = MultipartParser(BOUNDARY)
    names: list[str] = []
    data: dict[int, bytes] = {}
    for start in range(0, len(body), size):
        for event in parser.feed(body[start : start + size]):
            if isinstance(event, PartStart):
                names.append(event.headers["Content-Disposition"])
            elif isinstance(event, PartData):
                data[len(names)] = data.get(len(names), b"") + event.data
    parser.close()
    assert names == [
        'form-data; name="type"',
        'form-data; name="file"; filename="cat.jpg"',
    ]
    assert data == {1: b"image", 2: b"\r\n--not-it\r\n" + JPEG * 5}


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "multipart/form-data", "multipart/mixed; boundary=x"],
)
def test_the_boundary_comes_from_a_form_content_type(content_type: str | None) -> None:
    with pytest.raises(ValueError, match="multipart/form-data"):
        boundary_of(content_type)
    assert boundary_of('multipart/form-data; boundary="a b"') == "a b"


# -- media upload ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "media_type", "mime"),
    [
        (JPEG, "image", "image/jpeg"),
        (PNG, "image", "image/png"),
        (WEBP, "image", "image/webp"),
        (MP4, "video", "video/mp4"),
        (MOV, "video", "video/quicktime"),
        (WEBM, "video", "video/webm"),
    ],
)
async def test_upload_decides_the_format_by_magic_bytes(
    api: Api, content: bytes, media_type: str, mime: str
) -> None:
    response = await api.upload(content * 10, media_type, content_type="text/plain")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"media_id", "type", "file_name", "file_size", "mime_type", "created_at"}
    assert body["type"] == media_type
    assert body["mime_type"] == mime
    assert body["file_size"] == len(content) * 10
    assert body["file_name"] == "cat.jpg"
    assert body["created_at"] == "2026-01-10T18:30:00.000Z"
    media = api.server.media(body["media_id"])
    assert media["source"] == "upload"
    assert media["workspace_id"] == WS
    assert api.server.requests[-1].endpoint == "upload"
    assert api.server.requests[-1].object_id == body["media_id"]


async def test_upload_falls_back_to_the_content_type_then_the_extension(api: Api) -> None:
    unknown = b"no magic here" * 4
    by_type = await api.upload(unknown, "image", file_name=None, content_type="image/png")
    assert by_type.json()["mime_type"] == "image/png"
    assert by_type.json()["file_name"] == "upload.png"
    by_name = await api.upload(unknown, "video", file_name="clip.MOV", content_type=None)
    assert by_name.json()["mime_type"] == "video/quicktime"
    neither = await api.upload(unknown, "image", file_name="notes.txt", content_type="text/plain")
    assert neither.status_code == 400
    assert "JPEG, PNG, WebP" in neither.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "media_type", "message"),
    [
        (MP4, "image", "Unsupported image format"),
        (PNG, "video", "Unsupported video format"),
        (JPEG, None, "type is required"),
        (JPEG, "gif", "type must be one of image, video"),
        (b"", "image", "file is empty"),
    ],
)
async def test_upload_validation(
    api: Api, content: bytes, media_type: str | None, message: str
) -> None:
    response = await api.upload(content, media_type)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{}", "application/json", "multipart/form-data"),
        (b"garbage", f"multipart/form-data; boundary={BOUNDARY}", "closing delimiter"),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="type"\r\n\r\nimage\r\n'
            f"--{BOUNDARY}--\r\n".encode(),
            f"multipart/form-data; boundary={BOUNDARY}",
            "file is required",
        ),
        (
            f"--{BOUNDARY}\r\nX-Nothing: 1\r\n\r\nimage\r\n--{BOUNDARY}--\r\n".encode(),
            f"multipart/form-data; boundary={BOUNDARY}",
            "Content-Disposition",
        ),
    ],
)
async def test_upload_refuses_what_is_not_a_form(
    api: Api, body: bytes, content_type: str, message: str
) -> None:
    headers = {**HEADERS, "Content-Type": content_type}
    error = await api.error("POST", MEDIA_UPLOAD_PATH, 400, body=body, headers=headers)
    assert error["code"] == "VALIDATION_ERROR"
    assert message in error["message"]


async def test_upload_of_two_files_is_refused(api: Api) -> None:
    one = form_head(None, "a.jpg", None) + JPEG + b"\r\n"
    body = form_head("image", "b.jpg", None) + JPEG + b"\r\n" + one + f"--{BOUNDARY}--".encode()
    headers = {**HEADERS, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    error = await api.error("POST", MEDIA_UPLOAD_PATH, 400, body=body, headers=headers)
    assert "only one file" in error["message"]


async def test_upload_size_limit_per_type_in_mib(api: Api) -> None:
    at_limit = PNG + bytes(MAX_IMAGE_BYTES - len(PNG))
    assert (await api.upload(at_limit, "image")).status_code == 200
    over = await api.upload(at_limit + b"\x00", "image")
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "FILE_TOO_LARGE"
    # The same bytes are a fine video size (but not a video format).
    assert (await api.upload(MP4 + bytes(MAX_IMAGE_BYTES), "video")).status_code == 200


async def test_upload_storage_quota_per_workspace(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, storage_quota=1000, keys={KEY: [WS, "ws_2"]})
    api = Api(server)
    assert (await api.upload(JPEG * 10, "image")).status_code == 200  # 640 bytes
    full = await api.upload(JPEG * 10, "image")
    assert full.status_code == 413
    assert full.json()["error"]["code"] == "STORAGE_QUOTA_EXCEEDED"
    assert (await api.upload(JPEG * 5, "image")).status_code == 200  # 960 in all
    other = {**HEADERS, "X-Workspace-Id": "ws_2"}
    other["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
    assert (await api.upload(JPEG * 10, "image", h=other)).status_code == 200
    assert server.stats()["media"] == {
        "total": 3,
        "uploaded": 3,
        "generated": 0,
        "uploaded_bytes": 1600,
    }
    with pytest.raises(ValueError, match="storage_quota"):
        FakePowerPost(storage_quota=-1)


async def test_upload_streamed_in_memory_stops_reading_past_the_limit(api: Api) -> None:
    pulled = 0
    size = 40 * 1024 * 1024

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        async for chunk in streamed_form(PNG, size, "image"):
            pulled += len(chunk)
            yield chunk

    headers = {**HEADERS, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    error = await api.error("POST", MEDIA_UPLOAD_PATH, 413, body=body(), headers=headers)
    assert error["code"] == "FILE_TOO_LARGE"
    assert pulled < MAX_IMAGE_BYTES + 1024 * 1024  # stopped soon after 10 MiB

    ok = await api(
        "POST", MEDIA_UPLOAD_PATH, body=streamed_form(MP4, size, "video"), headers=headers
    )
    assert ok.status_code == 200
    assert ok.json()["file_size"] == size
    assert ok.json()["mime_type"] == "video/mp4"


async def test_upload_streamed_over_the_socket_keeps_memory_flat() -> None:
    size = 30 * 1024 * 1024
    headers = {**HEADERS, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with FakePowerPost() as server, aiohttp.ClientSession() as session:
        url = server.base_url + MEDIA_UPLOAD_PATH
        tracemalloc.start()
        try:
            async with session.post(
                url, data=streamed_form(MP4, size, "video"), headers=headers
            ) as response:
                body = await response.json()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status == 200, body
        assert body["file_size"] == size
        assert body["mime_type"] == "video/mp4"
        assert peak < size // 4, f"peak {peak} bytes for a {size}-byte upload"

        # Too large for an image: answered 413 after ~10 MiB, nothing kept.
        tracemalloc.start()
        try:
            async with session.post(
                url, data=streamed_form(PNG, size, "image"), headers=headers
            ) as response:
                error = await response.json()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status == 413
        assert error["error"]["code"] == "FILE_TOO_LARGE"
        assert peak < size // 4

        # A plain (not streamed) body too, and a refused key reads nothing.
        async with session.post(
            url, data=form(WEBP, "image", file_name="x.webp"), headers=headers
        ) as response:
            assert response.status == 200
            assert (await response.json())["mime_type"] == "image/webp"
        async with session.post(
            url, data=form(WEBP, "image"), headers={**headers, "x-api-key": "nope"}
        ) as response:
            assert response.status == 401
        assert server.requests.count(endpoint="upload") == 4


# -- images ---------------------------------------------------------------------------------


async def test_image_generation_lifecycle(api: Api, server: FakePowerPost) -> None:
    created = await api.ok(
        "POST", IMAGES_GENERATE_PATH, json={"prompt": "A cat", "quantity": 2, "size": "feed"}
    )
    image_id = created["image_generation_id"]
    assert created == {
        "image_generation_id": image_id,
        "status": "processing",
        "credits_used": 10,
        "remaining_credits": 990,
        "status_url": f"{IMAGE_GENERATIONS_PATH}/{image_id}",
    }
    running = await api.ok("GET", f"{IMAGE_GENERATIONS_PATH}/{image_id}")
    assert running["status"] == "processing"
    assert running["images"] == []
    assert running["error"] is None
    server.advance(5)
    done = await api.ok("GET", f"{IMAGE_GENERATIONS_PATH}/{image_id}")
    assert done["status"] == "completed"
    assert done["model"] == "flux2-flex"
    assert done["generation_id"] is None
    assert done["credits_used"] == 10
    assert len(done["images"]) == 2
    image = done["images"][0]
    assert set(image) == {"media_id", "url", "thumbnail_url", "width", "height"}
    assert (image["width"], image["height"]) == (1080, 1350)
    # The images are media of the workspace now.
    assert server.media(image["media_id"])["source"] == "image_generation"
    assert server.image_generation(image_id) == done
    assert server.balance() == 990
    # ... usable as style images and as a video's source image.
    styled = {"prompt": "Same style", "style_images": [image["media_id"]]}
    assert (await api("POST", IMAGES_GENERATE_PATH, json=styled)).status_code == 200
    event = parse_webhook(server.webhook_event(image_id), verify=None)
    assert isinstance(event, WebhookEvent)  # (a subclass once the SDK types it)
    assert event.event == "image_generation.completed"
    assert event.workspace_id == WS
    assert event.data == {
        "image_generation_id": image_id,
        "status": "completed",
        "images": done["images"],
    }
    assert event.timestamp == EPOCH + timedelta(seconds=5)
    with pytest.raises(KeyError):
        server.image_generation("nope")
    assert (await api.error("GET", f"{IMAGE_GENERATIONS_PATH}/nope", 404))["code"] == "NOT_FOUND"


async def test_image_media_do_not_exist_before_the_generation_ends(api: Api) -> None:
    created = await api.ok("POST", IMAGES_GENERATE_PATH, json={"prompt": "A cat"})
    media_id = api.server.image_generation(created["image_generation_id"])
    assert media_id["images"] == []
    job = api.server._core.more.image_jobs[created["image_generation_id"]]
    with pytest.raises(KeyError):
        api.server.media(job.media_ids[0])
    error = await api.error(
        "POST", IMAGES_GENERATE_PATH, 400, json={"prompt": "x", "style_images": [job.media_ids[0]]}
    )
    assert "style_images" in error["message"]


@pytest.mark.parametrize(
    ("model", "cost"),
    [
        ("flux2-flex", 5),
        ("ideogram-3", 6),
        ("nano-banana-2", 6),
        ("gpt-image-2", 14),
        ("gpt-image-1.5", 14),
    ],
)
async def test_image_cost_per_model_times_quantity(api: Api, model: str, cost: int) -> None:
    body = {"prompt": "A cat", "model": model, "quantity": 3}
    created = await api.ok("POST", IMAGES_GENERATE_PATH, json=body)
    assert created["credits_used"] == cost * 3
    assert api.server.balance() == 1000 - cost * 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "prompt is required"),
        ({"prompt": ""}, "prompt must be a non-empty string"),
        ({"prompt": "x" * 2001}, "at most 2000"),
        ({"prompt": "x", "size": "huge"}, "size must be one of"),
        ({"prompt": "x", "model": "dall-e"}, "model must be one of"),
        ({"prompt": "x", "model": "gpt-image-2", "size": "feed"}, "not available"),
        ({"prompt": "x", "quantity": 0}, "between 1 and 4"),
        ({"prompt": "x", "quantity": 5}, "between 1 and 4"),
        ({"prompt": "x", "quantity": True}, "between 1 and 4"),
        ({"prompt": "x", "enhance_prompt": "yes"}, "true or false"),
        ({"prompt": "x", "style_images": ["a"] * 5}, "at most 4"),
        ({"prompt": "x", "style_images": ["nope"]}, "not an image in this workspace"),
        ({"prompt": "x", "generation_id": "nope"}, "no generation nope"),
        ({"prompt": "x", "source_post_type": "x-post"}, "needs generation_id"),
    ],
)
async def test_image_validation(api: Api, body: dict[str, Any], message: str) -> None:
    error = await api.error("POST", IMAGES_GENERATE_PATH, 400, json=body)
    assert error["code"] == "VALIDATION_ERROR"
    assert message in error["message"]
    assert api.server.balance() == 1000


async def test_image_from_a_caption_generation(api: Api) -> None:
    created = await api.ok(
        "POST",
        "/api/v1/content/generate",
        json={
            "prompt": "Dark mode",
            "post_types": ["x-post", "linkedin-post"],
            "research_mode": "regular",
        },
    )
    generation_id = created["generation_id"]
    early = await api.error(
        "POST", IMAGES_GENERATE_PATH, 400, json={"generation_id": generation_id}
    )
    assert "not completed" in early["message"]
    api.server.complete(generation_id)
    body = {"generation_id": generation_id, "source_post_type": "linkedin-post"}
    image = await api.ok("POST", IMAGES_GENERATE_PATH, json=body)
    detail = api.server.image_generation(image["image_generation_id"])
    assert detail["generation_id"] == generation_id
    assert detail["prompt"].startswith("Dark mode.")  # the LinkedIn caption
    missing = {"generation_id": generation_id, "source_post_type": "tiktok-video"}
    error = await api.error("POST", IMAGES_GENERATE_PATH, 400, json=missing)
    assert "no caption for tiktok" in error["message"]


async def test_image_insufficient_credits(clock: VirtualClock) -> None:
    api = Api(FakePowerPost(clock=clock, credits=13))
    error = await api.error(
        "POST", IMAGES_GENERATE_PATH, 402, json={"prompt": "x", "model": "gpt-image-2"}
    )
    assert error["code"] == "INSUFFICIENT_CREDITS"
    assert api.server.balance() == 13


async def test_partial_image_failure_refunds_the_failed_images(api: Api) -> None:
    body = {"prompt": "A cat [partial]", "quantity": 4}
    created = await api.ok("POST", IMAGES_GENERATE_PATH, json=body)
    image_id = created["image_generation_id"]
    assert api.server.balance() == 980
    api.server.complete(image_id)
    detail = await api.ok("GET", f"{IMAGE_GENERATIONS_PATH}/{image_id}")
    assert detail["status"] == "failed"
    assert len(detail["images"]) == 2
    assert detail["credits_used"] == 10
    assert detail["error"]["code"] == "IMAGE_GENERATION_FAILED"
    assert "2 of 4" in detail["error"]["message"]
    assert api.server.balance() == 990
    event = parse_webhook(api.server.webhook_event(image_id), verify=None)
    assert event.event == "image_generation.failed"
    assert event.data["error_code"] == "IMAGE_GENERATION_FAILED"
    assert len(event.data["images"]) == 2
    assert api.server.stats()["credits"] == {"used": 10, "balance": 990}


async def test_fail_word_and_failure_rates(clock: VirtualClock) -> None:
    api = Api(FakePowerPost(clock=clock))
    failed = await api.ok(
        "POST", IMAGES_GENERATE_PATH, json={"prompt": "[FAIL] cat", "quantity": 2}
    )
    api.server.complete_all()
    detail = api.server.image_generation(failed["image_generation_id"])
    assert (detail["status"], detail["images"], detail["credits_used"]) == ("failed", [], 0)
    assert api.server.balance() == 1000

    each = Api(FakePowerPost(clock=clock, image_failure_rate=1.0))
    created = await each.ok("POST", IMAGES_GENERATE_PATH, json={"prompt": "cat", "quantity": 3})
    clock.advance(5)
    assert each.server.image_generation(created["image_generation_id"])["images"] == []
    assert each.server.balance() == 1000

    whole = Api(FakePowerPost(clock=clock, failure_rate=1.0))
    created = await whole.ok("POST", IMAGES_GENERATE_PATH, json={"prompt": "cat"})
    whole.server.complete(created["image_generation_id"])
    assert whole.server.image_generation(created["image_generation_id"])["status"] == "failed"
    with pytest.raises(ValueError, match="image_failure_rate"):
        FakePowerPost(image_failure_rate=2.0)


async def test_new_objects_do_not_shift_caption_generation_ids(clock: VirtualClock) -> None:
    body = {"prompt": "Dark mode", "post_types": ["x-post"], "research_mode": "regular"}

    async def ids(with_images: bool) -> list[str]:
        api = Api(FakePowerPost(clock=clock, seed=7))
        made = []
        for _ in range(3):
            if with_images:
                await api.ok("POST", IMAGES_GENERATE_PATH, json={"prompt": "cat"})
                await api.ok(
                    "POST",
                    POSTS_PATH,
                    201,
                    json={"items": [{"post_type": "x-post", "content": "hi"}]},
                )
            made.append(
                (await api.ok("POST", "/api/v1/content/generate", json=body))["generation_id"]
            )
        return made

    assert await ids(True) == await ids(False)


# -- videos ---------------------------------------------------------------------------------


async def test_video_generation_lifecycle(api: Api, server: FakePowerPost) -> None:
    source = await uploaded(api, PNG)
    body = {"prompt": "A cat surfing", "duration": 10, "has_audio": True, "source_image": source}
    created = await api.ok("POST", VIDEOS_GENERATE_PATH, json=body)
    video_id = created["video_generation_id"]
    assert created == {
        "video_generation_id": video_id,
        "status": "processing",
        "credits_used": 50,  # kling 4/s * 10 s = 40, +25% for audio
        "remaining_credits": 950,
        "status_url": f"{VIDEO_GENERATIONS_PATH}/{video_id}",
    }
    running = await api.ok("GET", f"{VIDEO_GENERATIONS_PATH}/{video_id}")
    assert (running["status"], running["video"], running["error"]) == ("processing", None, None)
    server.advance(5)
    done = await api.ok("GET", f"{VIDEO_GENERATIONS_PATH}/{video_id}")
    assert done["status"] == "completed"
    assert done["model"] == "kling-3.0-pro"
    assert (done["size"], done["duration"], done["has_audio"]) == ("landscape", 10, True)
    assert done["video"]["duration"] == 10
    assert (done["video"]["width"], done["video"]["height"]) == (1920, 1080)
    media = server.media(done["video"]["media_id"])
    assert (media["type"], media["source"]) == ("video", "video_generation")
    assert server.video_generation(video_id) == done
    with pytest.raises(KeyError):
        server.webhook_event(video_id)  # no video events are documented


@pytest.mark.parametrize(
    ("body", "cost"),
    [
        ({"duration": 5}, 20),
        ({"duration": 5, "has_audio": True}, 25),
        ({"duration": 8, "model": "veo-3.1"}, 64),
        ({"duration": 4, "model": "veo-3.1", "has_audio": True}, 40),
        ({"duration": 5, "model": "runway-gen-4.5"}, 15),
    ],
)
async def test_video_costs(api: Api, body: dict[str, Any], cost: int) -> None:
    created = await api.ok("POST", VIDEOS_GENERATE_PATH, json={"prompt": "Waves"} | body)
    assert created["credits_used"] == cost


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"duration": 5}, "prompt is required"),
        ({"prompt": "x"}, "duration is required"),
        ({"prompt": "x", "duration": "5"}, "integer"),
        ({"prompt": "x", "duration": 8}, "one of 5, 10"),
        ({"prompt": "x", "duration": 5, "model": "sora"}, "model must be one of"),
        ({"prompt": "x", "duration": 5, "size": "square"}, "size must be one of"),
        ({"prompt": "x" * 2501, "duration": 5}, "at most 2500"),
        ({"prompt": "x" * 1001, "duration": 5, "model": "runway-gen-4.5"}, "at most 1000"),
        ({"prompt": "x", "duration": 5, "model": "runway-gen-4.5", "has_audio": True}, "audio"),
        ({"prompt": "x", "duration": 5, "source_image": "nope"}, "not an image"),
    ],
)
async def test_video_validation(api: Api, body: dict[str, Any], message: str) -> None:
    error = await api.error("POST", VIDEOS_GENERATE_PATH, 400, json=body)
    assert message in error["message"]


async def test_a_video_cannot_start_from_a_video(api: Api) -> None:
    video = await uploaded(api, MP4, "video")
    body = {"prompt": "x", "duration": 5, "source_image": video}
    assert (
        "not an image" in (await api.error("POST", VIDEOS_GENERATE_PATH, 400, json=body))["message"]
    )


async def test_failed_video_is_refunded(clock: VirtualClock) -> None:
    api = Api(FakePowerPost(clock=clock, credits=100))
    created = await api.ok("POST", VIDEOS_GENERATE_PATH, json={"prompt": "[fail]", "duration": 5})
    assert api.server.balance() == 80
    api.server.complete_all()
    detail = api.server.video_generation(created["video_generation_id"])
    assert detail["status"] == "failed"
    assert detail["credits_used"] == 0
    assert detail["video"] is None
    assert detail["error"]["code"] == "VIDEO_GENERATION_FAILED"
    assert api.server.balance() == 100
    poor = Api(FakePowerPost(clock=clock, credits=19))
    error = await poor.error("POST", VIDEOS_GENERATE_PATH, 402, json={"prompt": "x", "duration": 5})
    assert error["code"] == "INSUFFICIENT_CREDITS"


# -- posts ----------------------------------------------------------------------------------


async def create_post(api: Api, *items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = await api.ok(
        "POST", POSTS_PATH, 201, json={"items": list(items), **fields}
    )
    return result


async def test_post_create_and_get(api: Api) -> None:
    media = await uploaded(api)
    post = await create_post(
        api,
        {"post_type": "x-post", "content": "Dark mode!", "media_ids": [media]},
        {"post_type": "youtube-short", "content": "Watch", "title": "Dark mode"},
    )
    assert post["post_id"].startswith("post-")
    assert post["status"] == "draft"
    assert post["generation_id"] is None
    assert post["scheduled_at"] is None
    assert post["created_at"] == "2026-01-10T18:30:00.000Z"
    x, youtube = post["items"]
    assert x == {
        "item_id": x["item_id"],
        "post_type": "x-post",
        "platform": "x",
        "content": "Dark mode!",
        "title": None,
        "media_ids": [media],
        "status": "draft",
        "platform_post_id": None,
        "error": None,
    }
    assert (youtube["platform"], youtube["title"]) == ("youtube", "Dark mode")
    assert await api.ok("GET", f"{POSTS_PATH}/{post['post_id']}") == post
    assert api.server.post(post["post_id"]) == post
    assert (await api.error("GET", f"{POSTS_PATH}/post-nope", 404))["code"] == "NOT_FOUND"


async def test_post_from_a_generation(api: Api) -> None:
    generation_id = await completed_generation(api, ["x-post", "youtube-video"])
    post = await create_post(
        api,
        {"post_type": "x-post"},
        {"post_type": "youtube-video"},
        generation_id=generation_id,
    )
    generation = api.server.generation(generation_id)
    assert generation.outputs is not None
    x, youtube = post["items"]
    assert x["content"] == generation.outputs["x"]
    assert youtube["title"] == "Dark mode is here"
    assert youtube["content"].startswith("Dark mode is here")
    assert post["generation_id"] == generation_id
    overridden = await create_post(
        api, {"post_type": "x-post", "content": "Mine"}, generation_id=generation_id
    )
    assert overridden["items"][0]["content"] == "Mine"
    error = await api.error(
        "POST",
        POSTS_PATH,
        400,
        json={"generation_id": generation_id, "items": [{"post_type": "linkedin-post"}]},
    )
    assert "no caption for linkedin" in error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "items must be a non-empty array"),
        ({"items": []}, "items must be a non-empty array"),
        ({"items": [{"post_type": "x-post", "content": "x"}] * 13}, "at most 12"),
        ({"items": ["x-post"]}, "items[0] must be an object"),
        ({"items": [{"content": "x"}]}, "post_type is required"),
        ({"items": [{"post_type": "myspace-post", "content": "x"}]}, "unknown post type"),
        (
            {
                "items": [
                    {"post_type": "x-post", "content": "a"},
                    {"post_type": "x-post", "content": "b"},
                ]
            },
            "appears twice",
        ),
        ({"items": [{"post_type": "x-post"}]}, "content is required unless generation_id"),
        ({"items": [{"post_type": "x-post", "content": ""}]}, "content must be a non-empty"),
        ({"items": [{"post_type": "youtube-video", "content": "x"}]}, "title is required"),
        ({"items": [{"post_type": "x-post", "content": "x", "media_ids": ["nope"]}]}, "no media"),
        ({"items": [{"post_type": "x-post", "content": "x", "media_ids": "m"}]}, "media ids"),
        ({"generation_id": "nope", "items": [{"post_type": "x-post"}]}, "no generation"),
    ],
)
async def test_post_validation(api: Api, body: dict[str, Any], message: str) -> None:
    error = await api.error("POST", POSTS_PATH, 400, json=body)
    assert error["code"] == "VALIDATION_ERROR"
    assert message in error["message"]


async def test_publish_posts_items_one_after_another_and_charges_them(
    api: Api, server: FakePowerPost
) -> None:
    post = await create_post(
        api,
        {"post_type": "x-post", "content": "Dark mode!"},
        {"post_type": "linkedin-post", "content": "Dark mode [fail]"},
        {"post_type": "instagram-feed", "content": "Dark mode"},
    )
    post_id = post["post_id"]
    published = await api.ok("POST", f"{POSTS_PATH}/{post_id}/publish")
    assert published == {
        "post_id": post_id,
        "status": "publishing",
        "status_url": f"{POSTS_PATH}/{post_id}",
    }
    statuses = [i["status"] for i in server.post(post_id)["items"]]
    assert statuses == ["posting", "draft", "draft"]
    assert server.balance() == 1000  # nothing charged before an item posted
    server.advance(3)
    now = await api.ok("GET", f"{POSTS_PATH}/{post_id}")
    assert [i["status"] for i in now["items"]] == ["posted", "posting", "draft"]
    x = now["items"][0]
    assert x["platform_post_id"].startswith("x_")
    assert x["posted_at"] == "2026-01-10T18:30:03.000Z"
    assert server.balance() == 996  # 1 for publishing + 3 for X
    server.advance(3)
    linkedin = server.post(post_id)["items"][1]
    assert linkedin["status"] == "failed"
    assert linkedin["error"]["code"] == "PUBLISH_FAILED"
    assert linkedin["platform_post_id"] is None
    server.advance(3)
    done = server.post(post_id)
    assert done["status"] == "published"  # at least one item posted
    assert [i["status"] for i in done["items"]] == ["posted", "failed", "posted"]
    assert server.balance() == 996  # one publish action, whatever the items
    assert server.stats()["credits"] == {"used": 4, "balance": 996}
    assert server.stats()["posts"]["published"] == 1

    event = parse_webhook(server.webhook_event(post_id), verify=None)
    assert event.event == "post.published"
    assert event.data["status"] == "published"
    assert event.data["items"] == done["items"]
    assert event.timestamp == EPOCH + timedelta(seconds=9)

    again = await api.error("POST", f"{POSTS_PATH}/{post_id}/publish", 409)
    assert again["code"] == "ALREADY_PUBLISHED"
    assert (
        await api.error(
            "POST",
            f"{POSTS_PATH}/{post_id}/schedule",
            409,
            json={"scheduled_at": "2026-01-11T10:00:00Z"},
        )
    )["code"] == "ALREADY_PUBLISHED"
    assert (await api.error("POST", f"{POSTS_PATH}/{post_id}/cancel-publish", 409))[
        "code"
    ] == "CANNOT_CANCEL"


async def test_a_post_whose_items_all_fail_fails_and_costs_nothing(api: Api) -> None:
    post = await create_post(api, {"post_type": "x-post", "content": "[fail]"})
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/publish")
    with pytest.raises(ValueError, match="publishing"):
        api.server.webhook_event(post["post_id"])
    api.server.advance(60)
    assert api.server.post(post["post_id"])["status"] == "failed"
    assert api.server.balance() == 1000
    event = parse_webhook(api.server.webhook_event(post["post_id"]), verify=None)
    assert event.event == "post.failed"


async def test_publish_needs_connected_platforms(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, connected_platforms={WS: ["linkedin"]})
    api = Api(server)
    post = await create_post(
        api,
        {"post_type": "x-post", "content": "a"},
        {"post_type": "linkedin-post", "content": "b"},
        {"post_type": "tiktok-video", "content": "c"},
    )
    error = await api.error("POST", f"{POSTS_PATH}/{post['post_id']}/publish", 422)
    assert error["code"] == "PLATFORM_NOT_CONNECTED"
    assert error["platforms"] == ["x", "tiktok"]
    assert "x, tiktok" in error["message"]
    assert server.connected_platforms() == {"linkedin"}
    server.connect_platforms("x", "tiktok")
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/publish")
    server.disconnect_platforms("linkedin")
    assert server.connected_platforms() == {"x", "tiktok"}
    with pytest.raises(ValueError, match="unknown platform"):
        server.connect_platforms("myspace")
    with pytest.raises(ValueError, match="workspace"):
        server.connect_platforms("x", workspace_id="ws_nobody")


async def test_publish_needs_credits_for_the_action_and_x(clock: VirtualClock) -> None:
    api = Api(FakePowerPost(clock=clock, credits=3))
    x = await create_post(api, {"post_type": "x-post", "content": "a"})
    error = await api.error("POST", f"{POSTS_PATH}/{x['post_id']}/publish", 402)
    assert error["code"] == "INSUFFICIENT_CREDITS"
    other = await create_post(api, {"post_type": "facebook-post", "content": "a"})
    await api.ok("POST", f"{POSTS_PATH}/{other['post_id']}/publish")
    api.server.advance(3)
    assert api.server.balance() == 2


async def test_schedule_then_it_publishes_on_the_clock(api: Api, server: FakePowerPost) -> None:
    post = await create_post(api, {"post_type": "linkedin-post", "content": "Hello"})
    post_id = post["post_id"]
    at = "2026-01-10T20:30:00+01:00"  # 19:30 UTC: one hour from the start
    scheduled = await api.ok("POST", f"{POSTS_PATH}/{post_id}/schedule", json={"scheduled_at": at})
    assert scheduled == {
        "post_id": post_id,
        "status": "scheduled",
        "scheduled_at": "2026-01-10T19:30:00.000Z",
    }
    assert server.post(post_id)["status"] == "scheduled"
    assert server.stats()["posts"]["scheduled"] == 1
    # Rescheduling is allowed (our choice): half an hour later.
    later = {"scheduled_at": "2026-01-10T20:00:00Z"}
    await api.ok("POST", f"{POSTS_PATH}/{post_id}/schedule", json=later)
    server.advance(3599)
    assert server.post(post_id)["status"] == "scheduled"
    server.advance(1800)
    assert server.post(post_id)["status"] == "scheduled"
    server.advance(1)
    publishing = server.post(post_id)
    assert publishing["status"] == "publishing"
    assert publishing["items"][0]["status"] == "posting"
    server.advance(3)
    done = await api.ok("GET", f"{POSTS_PATH}/{post_id}")
    assert done["status"] == "published"
    assert done["items"][0]["posted_at"] == "2026-01-10T20:00:03.000Z"
    assert server.balance() == 999


async def test_a_scheduled_post_fails_if_it_cannot_publish_when_due(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, credits=10)
    api = Api(server)
    post = await create_post(
        api,
        {"post_type": "linkedin-post", "content": "a"},
        {"post_type": "x-post", "content": "b"},
    )
    when = {"scheduled_at": "2026-01-11T00:00:00Z"}
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", json=when)
    server.disconnect_platforms("x")
    server.advance(6 * 3600)
    server.advance(10)
    items = server.post(post["post_id"])["items"]
    assert [i["status"] for i in items] == ["posted", "failed"]
    assert items[1]["error"]["code"] == "PLATFORM_NOT_CONNECTED"
    assert server.balance() == 9

    broke = FakePowerPost(clock=clock, credits=0)
    api = Api(broke)
    post = await create_post(api, {"post_type": "linkedin-post", "content": "a"})
    when = {"scheduled_at": "2026-01-11T01:00:00Z"}
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", json=when)
    broke.advance(24 * 3600)
    detail = broke.post(post["post_id"])
    assert detail["status"] == "failed"
    assert detail["items"][0]["error"]["code"] == "INSUFFICIENT_CREDITS"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "scheduled_at is required"),
        ({"scheduled_at": "tomorrow"}, "ISO 8601"),
        ({"scheduled_at": "2026-01-11T10:00:00"}, "UTC offset"),
        ({"scheduled_at": "2026-01-11"}, "ISO 8601"),
        ({"scheduled_at": 1768125600}, "ISO 8601"),
        ({"scheduled_at": "2026-01-10T18:29:59Z"}, "in the future"),
        ({"scheduled_at": "2026-03-11T18:30:01Z"}, "at most 60 days"),
    ],
)
async def test_schedule_validation(api: Api, body: dict[str, Any], message: str) -> None:
    post = await create_post(api, {"post_type": "x-post", "content": "a"})
    error = await api.error("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", 400, json=body)
    assert error["code"] == "VALIDATION_ERROR"
    assert message in error["message"]


async def test_schedule_at_sixty_days_is_allowed(api: Api) -> None:
    post = await create_post(api, {"post_type": "x-post", "content": "a"})
    body = {"scheduled_at": "2026-03-11T18:30:00Z"}
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", json=body)


async def test_schedule_limit_per_workspace(api: Api) -> None:
    body = {"scheduled_at": "2026-01-20T12:00:00Z"}
    for _ in range(MAX_SCHEDULED_POSTS):
        post = await create_post(api, {"post_type": "x-post", "content": "a"})
        await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", json=body)
    # Rescheduling one of them is still fine.
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", json=body)
    extra = await create_post(api, {"post_type": "x-post", "content": "a"})
    error = await api.error("POST", f"{POSTS_PATH}/{extra['post_id']}/schedule", 422, json=body)
    assert error["code"] == "SCHEDULE_LIMIT_REACHED"


async def test_schedule_needs_connected_platforms(clock: VirtualClock) -> None:
    api = Api(FakePowerPost(clock=clock, connected_platforms={WS: []}))
    post = await create_post(api, {"post_type": "x-post", "content": "a"})
    body = {"scheduled_at": "2026-01-20T12:00:00Z"}
    error = await api.error("POST", f"{POSTS_PATH}/{post['post_id']}/schedule", 422, json=body)
    assert (error["code"], error["platforms"]) == ("PLATFORM_NOT_CONNECTED", ["x"])


async def test_cancel_publish(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, pending=2.0)
    api = Api(server)
    post = await create_post(api, {"post_type": "x-post", "content": "a"})
    post_id = post["post_id"]
    draft = await api.error("POST", f"{POSTS_PATH}/{post_id}/cancel-publish", 409)
    assert draft["code"] == "CANNOT_CANCEL"
    # A scheduled post goes back to a draft, and never publishes.
    await api.ok(
        "POST", f"{POSTS_PATH}/{post_id}/schedule", json={"scheduled_at": "2026-01-10T19:00:00Z"}
    )
    cancelled = await api.ok("POST", f"{POSTS_PATH}/{post_id}/cancel-publish")
    assert cancelled == {"post_id": post_id, "status": "draft"}
    server.advance(3600)
    assert server.post(post_id)["status"] == "draft"
    assert server.post(post_id)["scheduled_at"] is None
    # Publishing, before any item started posting (the queue: ``pending`` seconds).
    await api.ok("POST", f"{POSTS_PATH}/{post_id}/publish")
    assert server.post(post_id)["items"][0]["status"] == "draft"
    server.advance(1)
    await api.ok("POST", f"{POSTS_PATH}/{post_id}/cancel-publish")
    server.advance(60)
    assert server.post(post_id)["status"] == "draft"
    assert server.balance() == 1000
    # Too late once an item has started.
    await api.ok("POST", f"{POSTS_PATH}/{post_id}/publish")
    server.advance(2)
    late = await api.error("POST", f"{POSTS_PATH}/{post_id}/cancel-publish", 409)
    assert late["code"] == "CANNOT_CANCEL"
    server.advance(3)
    assert server.post(post_id)["status"] == "published"
    assert server.balance() == 996


async def test_post_duration_is_configurable(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, post_duration=0.5)
    api = Api(server)
    post = await create_post(
        api, {"post_type": "x-post", "content": "a"}, {"post_type": "tiktok-video", "content": "b"}
    )
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/publish")
    server.advance(1)
    assert server.post(post["post_id"])["status"] == "published"
    with pytest.raises(ValueError, match="post_duration"):
        FakePowerPost(post_duration=-1)


# -- analytics ------------------------------------------------------------------------------


async def test_analytics_per_item(api: Api, server: FakePowerPost) -> None:
    post = await create_post(
        api, {"post_type": "x-post", "content": "a"}, {"post_type": "tiktok-video", "content": "b"}
    )
    item_id = post["items"][0]["item_id"]
    path = f"{POST_ITEMS_PATH}/{item_id}/analytics"
    before = await api.ok("GET", path)
    assert before == {
        "post_item_id": item_id,
        "post_type": "x-post",
        "platform": "x",
        "status": "draft",
        "metrics": None,
    }
    await api.ok("POST", f"{POSTS_PATH}/{post['post_id']}/publish")
    assert (await api.ok("GET", path))["metrics"] is None  # posting
    server.advance(3)
    posted = await api.ok("GET", path)
    assert posted["status"] == "posted"
    metrics = posted["metrics"]
    assert set(metrics) == {"views", "likes", "comments", "fetched_at"}
    assert metrics["fetched_at"] == "2026-01-10T18:30:03.000Z"
    assert all(isinstance(metrics[k], int) and metrics[k] >= 0 for k in ("views", "likes"))
    # Deterministic from the seed; refreshed once a day, then frozen after 90 days.
    again = Api(FakePowerPost(clock=VirtualClock(auto_advance=False)))
    twin = await create_post(
        again,
        {"post_type": "x-post", "content": "a"},
        {"post_type": "tiktok-video", "content": "b"},
    )
    await again.ok("POST", f"{POSTS_PATH}/{twin['post_id']}/publish")
    again.server.advance(3)
    assert (await again.ok("GET", path))["metrics"] == metrics
    server.advance(86400)
    next_day = (await api.ok("GET", path))["metrics"]
    assert next_day["fetched_at"] == "2026-01-11T18:30:03.000Z"
    assert next_day["views"] >= metrics["views"]
    server.advance(200 * 86400)
    frozen = (await api.ok("GET", path))["metrics"]
    assert frozen["fetched_at"] == "2026-04-10T18:30:03.000Z"
    error = await api.error("GET", f"{POST_ITEMS_PATH}/nope/analytics", 404)
    assert error["code"] == "NOT_FOUND"
    other = await api.error("GET", path, 403, workspace="ws_other")
    assert other["code"] == "FORBIDDEN"


# -- calendar -------------------------------------------------------------------------------

ENTRY = {
    "title": "Launch",
    "description": "Dark mode launch",
    "scheduled_date": "2026-02-01",
    "scheduled_time": "09:30",
    "platforms": ["x", "linkedin"],
}


async def test_calendar_crud(api: Api, server: FakePowerPost) -> None:
    entry = await api.ok("POST", CALENDAR_ENTRIES_PATH, 201, json=ENTRY)
    entry_id = entry["entry_id"]
    assert entry == ENTRY | {
        "entry_id": entry_id,
        "created_at": "2026-01-10T18:30:00.000Z",
        "updated_at": "2026-01-10T18:30:00.000Z",
    }
    bare = await api.ok(
        "POST", CALENDAR_ENTRIES_PATH, 201, json={"title": "Idea", "scheduled_date": "2026-02-01"}
    )
    assert (bare["description"], bare["scheduled_time"], bare["platforms"]) == (None, None, [])
    early = await api.ok(
        "POST", CALENDAR_ENTRIES_PATH, 201, json={**ENTRY, "scheduled_date": "2026-01-15"}
    )
    path = f"{CALENDAR_ENTRIES_PATH}/{entry_id}"
    assert await api.ok("GET", path) == entry
    listed = await api.ok(
        "GET", f"{CALENDAR_ENTRIES_PATH}?start_date=2026-01-01&end_date=2026-02-28"
    )
    assert [e["entry_id"] for e in listed["entries"]] == [
        early["entry_id"],
        bare["entry_id"],  # no time: first of its day
        entry_id,
    ]
    narrow = await api.ok(
        "GET", f"{CALENDAR_ENTRIES_PATH}?start_date=2026-02-01&end_date=2026-02-01"
    )
    assert len(narrow["entries"]) == 2

    server.advance(60)
    updated = await api.ok(
        "PATCH", path, json={"description": None, "scheduled_time": None, "platforms": ["tiktok"]}
    )
    assert updated["description"] is None
    assert updated["scheduled_time"] is None
    assert updated["platforms"] == ["tiktok"]
    assert updated["title"] == "Launch"
    assert updated["updated_at"] == "2026-01-10T18:31:00.000Z"
    assert server.calendar_entry(entry_id) == updated
    assert await api.ok("DELETE", path) == {"success": True}
    assert (await api.error("GET", path, 404))["code"] == "NOT_FOUND"
    assert (await api.error("PATCH", path, 404, json={"title": "x"}))["code"] == "NOT_FOUND"
    assert (await api.error("DELETE", path, 404))["code"] == "NOT_FOUND"
    assert server.stats()["calendar_entries"] == 2
    # Workspaces are separate.
    assert (
        await api.error("GET", f"{CALENDAR_ENTRIES_PATH}/{bare['entry_id']}", 403, workspace="ws_x")
    )["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"scheduled_date": "2026-02-01"}, "title is required"),
        ({"title": "x"}, "scheduled_date is required"),
        ({**ENTRY, "title": ""}, "title must be a non-empty string"),
        ({**ENTRY, "title": "x" * 501}, "at most 500"),
        ({**ENTRY, "description": "x" * 5001}, "at most 5000"),
        ({**ENTRY, "description": 5}, "description must be a string"),
        ({**ENTRY, "scheduled_date": "01/02/2026"}, "YYYY-MM-DD"),
        ({**ENTRY, "scheduled_date": "2026-02-30"}, "YYYY-MM-DD"),
        ({**ENTRY, "scheduled_time": "9:30"}, "HH:MM"),
        ({**ENTRY, "scheduled_time": "24:00"}, "HH:MM"),
        ({**ENTRY, "scheduled_time": "12:60"}, "HH:MM"),
        ({**ENTRY, "platforms": ["myspace"]}, "Unknown platform"),
        ({**ENTRY, "platforms": ["x", "x"]}, "repeat"),
        ({**ENTRY, "platforms": "x"}, "array"),
    ],
)
async def test_calendar_create_validation(api: Api, body: dict[str, Any], message: str) -> None:
    error = await api.error("POST", CALENDAR_ENTRIES_PATH, 400, json=body)
    assert error["code"] == "VALIDATION_ERROR"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "at least one field"),
        ({"status": "planned"}, "at least one field"),
        ({"title": None}, "title must be a non-empty string"),
        ({"scheduled_date": None}, "YYYY-MM-DD"),
        ({"platforms": None}, "array"),
    ],
)
async def test_calendar_update_validation(api: Api, body: dict[str, Any], message: str) -> None:
    entry = await api.ok("POST", CALENDAR_ENTRIES_PATH, 201, json=ENTRY)
    path = f"{CALENDAR_ENTRIES_PATH}/{entry['entry_id']}"
    error = await api.error("PATCH", path, 400, json=body)
    assert message in error["message"]
    assert await api.ok("GET", path) == entry


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "start_date is required"),
        ("start_date=2026-01-01", "end_date is required"),
        ("start_date=2026-1-1&end_date=2026-02-01", "YYYY-MM-DD"),
        ("start_date=2026-02-01&end_date=2026-01-01", "not be after"),
        ("start_date=2026-01-01&end_date=2027-01-03", "at most 366 days"),
    ],
)
async def test_calendar_list_validation(api: Api, query: str, message: str) -> None:
    error = await api.error("GET", f"{CALENDAR_ENTRIES_PATH}?{query}", 400)
    assert message in error["message"]
    ok = "start_date=2026-01-01&end_date=2027-01-02"  # 366 days apart
    assert await api.ok("GET", f"{CALENDAR_ENTRIES_PATH}?{ok}") == {"entries": []}


# -- faults, log, stats, webhooks -----------------------------------------------------------


async def test_faults_and_the_log_know_the_new_endpoints(api: Api, server: FakePowerPost) -> None:
    post = await create_post(api, {"post_type": "x-post", "content": "a"})
    server.faults.script(Fault.server_error(503), on="publish")
    failed = await api.error("POST", f"{POSTS_PATH}/{post['post_id']}/publish", 503)
    assert failed["code"] == "INTERNAL_ERROR"
    assert server.post(post["post_id"])["status"] == "draft"  # not executed
    server.faults.script(Fault.server_error(502, executed=True), on=("publish", "schedule"))
    await api.error("POST", f"{POSTS_PATH}/{post['post_id']}/publish", 502)
    assert server.post(post["post_id"])["status"] == "publishing"  # executed
    record = server.requests[-1]
    assert (record.endpoint, record.object_id, record.generation_id) == (
        "publish",
        post["post_id"],
        None,
    )
    assert server.requests.count(endpoint="post_create", status=201) == 1
    with pytest.raises(ValueError, match="endpoints"):
        server.faults.script(Fault.drop(), on="unpublish")  # type: ignore[arg-type]


async def test_stats_count_the_new_objects(api: Api, server: FakePowerPost) -> None:
    await uploaded(api)
    await api.ok("POST", IMAGES_GENERATE_PATH, json={"prompt": "cat", "quantity": 2})
    await api.ok("POST", VIDEOS_GENERATE_PATH, json={"prompt": "cat", "duration": 5})
    await create_post(api, {"post_type": "x-post", "content": "a"})
    server.complete_all()
    stats = server.stats()
    assert stats["media"] == {"total": 4, "uploaded": 1, "generated": 3, "uploaded_bytes": 64}
    assert stats["image_generations"] == {
        "total": 1,
        "pending": 0,
        "processing": 0,
        "completed": 1,
        "failed": 0,
    }
    assert stats["video_generations"]["completed"] == 1
    assert stats["posts"] == {
        "total": 1,
        "draft": 1,
        "scheduled": 0,
        "publishing": 0,
        "published": 0,
        "failed": 0,
    }
    assert stats["credits"] == {"used": 30, "balance": 970}
    assert stats["requests"]["by_endpoint"]["upload"] == {"200": 1}


async def test_webhook_event_for_caption_generations(api: Api, server: FakePowerPost) -> None:
    created = await api.ok(
        "POST",
        "/api/v1/content/generate",
        json={"prompt": "Dark mode", "post_types": ["x-post"], "research_mode": "regular"},
    )
    generation_id = created["generation_id"]
    with pytest.raises(ValueError, match="processing"):
        server.webhook_event(generation_id)
    server.complete(generation_id)
    event = parse_webhook(server.webhook_event(generation_id), verify=None)
    assert isinstance(event, GenerationCompletedEvent)
    assert event.generation_id == generation_id
    assert event.outputs == server.generation(generation_id).outputs
    with pytest.raises(KeyError):
        server.webhook_event("nope")


async def test_an_sdk_client_still_works_alongside(server: FakePowerPost) -> None:
    async with server.client() as pp:
        created = await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
    assert server.generation(created.generation_id).prompt == "Dark mode"


async def test_the_socket_serves_the_new_endpoints_too() -> None:
    form_type = f"multipart/form-data; boundary={BOUNDARY}"
    async with FakePowerPost() as server, aiohttp.ClientSession(server.base_url) as session:
        # Not a form: refused without reading the body; the connection is then closed.
        async with session.post(
            MEDIA_UPLOAD_PATH, data=b"x" * 100_000, headers={**HEADERS, "Content-Type": "image/png"}
        ) as response:
            assert response.status == 400
            assert "multipart/form-data" in (await response.json())["error"]["message"]
        # The type after the file: the file is read against the larger limit, then judged.
        file_first = form_head(None, "a.png", "image/png") + PNG + b"\r\n"
        type_after = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="type"\r\n\r\nimage'
        body = file_first + f"{type_after}\r\n--{BOUNDARY}--\r\n".encode()
        async with session.post(
            MEDIA_UPLOAD_PATH, data=body, headers={**HEADERS, "Content-Type": form_type}
        ) as response:
            uploaded = await response.json()
            assert response.status == 200, uploaded
            assert (uploaded["type"], uploaded["mime_type"]) == ("image", "image/png")
        async with session.post(
            POSTS_PATH,
            json={
                "items": [
                    {"post_type": "x-post", "content": "hi", "media_ids": [uploaded["media_id"]]}
                ]
            },
            headers=HEADERS,
        ) as response:
            assert response.status == 201
            post = await response.json()
        async with session.post(
            f"{POSTS_PATH}/{post['post_id']}/publish", headers=HEADERS
        ) as response:
            assert response.status == 200
            assert (await response.json())["status"] == "publishing"
        async with session.post(CALENDAR_ENTRIES_PATH, json=ENTRY, headers=HEADERS) as response:
            assert response.status == 201
            entry_id = (await response.json())["entry_id"]
        async with session.delete(
            f"{CALENDAR_ENTRIES_PATH}/{entry_id}", headers=HEADERS
        ) as response:
            assert await response.json() == {"success": True}
        assert [r.endpoint for r in server.requests] == [
            "upload",
            "upload",
            "post_create",
            "publish",
            "calendar_create",
            "calendar_delete",
        ]
