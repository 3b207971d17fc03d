"""Issue 21, items 7, 8 and 12: what an integrator met, through the public API only.

7. A 422 ``PLATFORM_NOT_CONNECTED`` naming ``x`` lost it from ``.platforms``.
8. A success whose body is not JSON (``MalformedResponseError``) lost the response's
   status, request id and headers, and on a create did not say it may have worked.
12. ``Authorization: Bearer <key>`` (which the API reads as the key) went through
   ``extra_headers``, ``default_headers``, ``with_options`` and ``pp.request`` while
   ``x-api-key`` was refused.
"""

from __future__ import annotations

import pickle
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from powerpost_async import (
    MalformedResponseError,
    MockTransport,
    PlatformNotConnectedError,
    PowerPost,
    Request,
    Response,
    ResponseValidationError,
)

KEY = "pp_live_sk_fixes"
WS = "ws_fixes"
TRUNCATED = b'{"generation_id": "550e8400-e29b-41d4-a716-4466554400'
ANSWER_HEADERS = {"X-Request-Id": "req_garbled_1", "X-Trace": "t-1", "Content-Type": "text/plain"}


class Recorder:
    """A transport handler that gives the same answer to every request and keeps them."""

    def __init__(self, answer: Response) -> None:
        self.answer = answer
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        return self.answer


def client(handler: Recorder, **kwargs: Any) -> PowerPost:
    return PowerPost(KEY, WS, transport=MockTransport(handler), **kwargs)


# -- 7: every platform the 422 named --------------------------------------------------------


def not_connected(**error: object) -> Response:
    body = {"error": {"code": "PLATFORM_NOT_CONNECTED", **error}}
    return Response.from_json(422, body, headers={"X-Request-Id": "req_422"})


@pytest.mark.parametrize(
    ("answer", "platforms"),
    [
        # A field of the error (as the fake API sends it) or of its details.
        (not_connected(message="Not connected", platforms=["x"]), ("x",)),
        (not_connected(message="Not connected", platforms=["x", "linkedin"]), ("x", "linkedin")),
        (not_connected(message="Not connected", details={"platforms": ["x"]}), ("x",)),
        (not_connected(message="Not connected", platform="x"), ("x",)),
        # Only the message: before, "x" was dropped as noise ([x] -> ()).
        (not_connected(message="Not connected in this workspace: x"), ("x",)),
        (not_connected(message="Not connected in this workspace: x, linkedin"), ("x", "linkedin")),
        (not_connected(message="Connect your X and LinkedIn accounts first"), ("x", "linkedin")),
        # A platform the SDK does not know yet, listed next to a known one, is kept.
        (not_connected(message="Not connected in this workspace: x, threads"), ("x", "threads")),
    ],
)
async def test_a_platform_named_x_is_kept_in_platforms(
    answer: Response, platforms: tuple[str, ...]
) -> None:
    """Catches `.platforms` losing ``x`` (a one-letter name filtered out as noise) or a
    platform the message lists that the SDK does not know, from the field or the message."""
    handler = Recorder(answer)
    async with client(handler) as pp:
        with pytest.raises(PlatformNotConnectedError) as info:
            await pp.posts.publish("post_1")
    assert info.value.platforms == platforms
    assert info.value.request_id == "req_422"
    assert pickle.loads(pickle.dumps(info.value)).platforms == platforms
    assert len(handler.requests) == 1  # a 422 is not retried


async def test_a_message_naming_no_platform_gives_none() -> None:
    """Catches the message fallback inventing platforms from words that are not ones
    (a colon followed by a word that names no platform)."""
    async with client(Recorder(not_connected(message="Platform not connected: reconnect"))) as pp:
        with pytest.raises(PlatformNotConnectedError) as info:
            await pp.posts.publish("post_1")
    assert info.value.platforms == ()


# -- 8: a success that cannot be read ---------------------------------------------------------


def garbled() -> Recorder:
    return Recorder(Response(200, ANSWER_HEADERS, TRUNCATED))


def check_carried(error: MalformedResponseError) -> None:
    assert error.status_code == 200
    assert error.request_id == "req_garbled_1"
    assert error.headers["x-trace"] == "t-1"  # case-insensitive, as on a Response
    assert error.body == TRUNCATED
    assert "req_garbled_1" in str(error)


async def test_a_garbled_read_carries_status_request_id_and_headers() -> None:
    """Catches a MalformedResponseError with ``status_code``/``request_id`` None (and no
    headers) although the response had them; a read still says only "not JSON" and is
    retried as before."""
    handler = garbled()
    async with client(handler, max_retries=1) as pp:
        with pytest.raises(MalformedResponseError) as info:
            await pp.account.credits()
    check_carried(info.value)
    assert "not JSON" in str(info.value)
    assert "charged" not in str(info.value)  # a read changes nothing
    assert len(handler.requests) == 2  # retried once, like a dropped connection


Create = Callable[[PowerPost], Awaitable[object]]

CREATES: list[tuple[str, Create, str]] = [
    (
        "generations.create",
        lambda pp: pp.generations.create(prompt="hi", post_types=["x-post"]),
        "the generation may exist and may have been charged",
    ),
    (
        "images.generate",
        lambda pp: pp.images.generate("a red fox"),
        "the image generation may exist",
    ),
    (
        "videos.generate",
        lambda pp: pp.videos.generate("foxes running", duration=5),
        "the video generation may exist",
    ),
    (
        "posts.create",
        lambda pp: pp.posts.create([{"post_type": "x-post", "content": "hi"}]),
        "the post may exist",
    ),
    (
        "media.upload",
        lambda pp: pp.media.upload(b"\x89PNG\r\n\x1a\n" + b"\x01" * 64, file_name="a.png"),
        "the uploaded media may exist",
    ),
    (
        "request POST",
        lambda pp: pp.request("POST", "/api/v1/content/generate", json={"prompt": "hi"}),
        "the generation may exist",
    ),
]


@pytest.mark.parametrize(("call", "says"), [c[1:] for c in CREATES], ids=[c[0] for c in CREATES])
async def test_a_garbled_create_says_it_may_exist_and_be_charged(call: Create, says: str) -> None:
    """Catches a create (not idempotent) whose 200 body could not be read raising a bare
    "not JSON" error (the user would retry and pay twice), or losing the status, request
    id and headers; and catches it being sent again."""
    handler = garbled()
    async with client(handler, max_retries=2) as pp:
        with pytest.raises(MalformedResponseError) as info:
            await call(pp)
    error = info.value
    check_carried(error)
    text = str(error)
    assert "carried out (200)" in text
    assert says in text
    assert "check before creating it again" in text
    assert isinstance(error, ResponseValidationError)
    assert isinstance(error.__cause__, ValueError)  # the JSON error, as before
    assert len(handler.requests) == 1  # never sent twice


async def test_a_garbled_answer_to_another_write_says_it_may_have_been_done() -> None:
    """Catches a write that creates nothing (publish) being told as a read: its error must
    say the action may have been done and charged, not just "not JSON"."""
    handler = garbled()
    async with client(handler, max_retries=2) as pp:
        with pytest.raises(MalformedResponseError) as info:
            await pp.posts.publish("post_1")
    check_carried(info.value)
    assert "may have been done (and charged); check before sending it again" in str(info.value)
    assert "POST /api/v1/posts/post_1/publish" in str(info.value)
    assert len(handler.requests) == 1


async def test_a_garbled_create_after_a_429_still_says_it_may_exist() -> None:
    """Catches the create message being given only on the first attempt: a create resent
    after a 429 (surely not received) whose second answer is garbled must say so too."""
    answers = [
        Response.from_json(
            429, {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow", "retryAfter": 0}}
        ),
        Response(200, ANSWER_HEADERS, TRUNCATED),
    ]
    sent: list[Request] = []

    def handler(request: Request) -> Response:
        sent.append(request)
        return answers[len(sent) - 1]

    async with PowerPost(KEY, WS, transport=MockTransport(handler), max_retries=2) as pp:
        with pytest.raises(MalformedResponseError) as info:
            await pp.generations.create(prompt="hi", post_types=["x-post"])
    check_carried(info.value)
    assert "the generation may exist and may have been charged" in str(info.value)
    assert len(sent) == 2


async def test_a_garbled_error_pickles_with_what_it_carries() -> None:
    """Catches the new attributes (status, request id, headers) being lost, or the pickle
    failing on the transport's read-only headers, when the error crosses a process."""
    async with client(garbled()) as pp:
        with pytest.raises(MalformedResponseError) as info:
            await pp.generations.create(prompt="hi", post_types=["x-post"])
    restored = pickle.loads(pickle.dumps(info.value))
    assert str(restored) == str(info.value)
    check_carried(restored)


# -- 12: the key only as api_key ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
async def test_an_authorization_header_is_refused_everywhere(name: str) -> None:
    """Catches ``Authorization: Bearer <key>`` (another key the API would act with)
    slipping through any of the four ways to add headers, in any case, while
    ``x-api-key`` is refused; nothing may be sent."""
    handler = Recorder(Response.from_json(200, {"balance": 1}))
    value = "Bearer pp_live_sk_other"
    says = rf"must not set {name}: .*pass the key as api_key="
    with pytest.raises(ValueError, match=says):
        client(handler, default_headers={name: value})
    async with client(handler) as pp:
        with pytest.raises(ValueError, match=says):
            pp.with_options(default_headers={name: value})
        with pytest.raises(ValueError, match=says):
            await pp.account.credits(extra_headers={name: value})
        with pytest.raises(ValueError, match=says):
            await pp.generations.create(
                prompt="hi", post_types=["x-post"], extra_headers={name: value}
            )
        with pytest.raises(ValueError, match=says):
            await pp.request("GET", "/api/v1/account/credits", headers={name: value})
    assert handler.requests == []


async def test_the_refusal_does_not_show_the_key() -> None:
    """Catches the refusal echoing the header's value (a key) in its message."""
    handler = Recorder(Response.from_json(200, {"balance": 1}))
    async with client(handler) as pp:
        with pytest.raises(ValueError, match="must not set Authorization") as info:
            await pp.account.credits(extra_headers={"Authorization": "Bearer pp_live_sk_secret"})
    assert "pp_live_sk_secret" not in str(info.value)


async def test_other_headers_still_pass() -> None:
    """Catches the guard refusing more than the key headers (a proxy's own
    ``Proxy-Authorization``, a tracing header)."""
    handler = Recorder(Response.from_json(200, {"balance": 1}))
    headers = {"Proxy-Authorization": "Basic abc", "X-Trace": "t"}
    async with client(handler, default_headers={"X-Tenant": "a"}) as pp:
        await pp.account.credits(extra_headers=headers)
    (request,) = handler.requests
    assert request.headers["Proxy-Authorization"] == "Basic abc"
    assert request.headers["X-Tenant"] == "a"
    assert request.headers["x-api-key"] == KEY
    assert "Authorization" not in request.headers
