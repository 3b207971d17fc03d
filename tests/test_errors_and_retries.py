"""Error envelope -> exceptions, retries, rate-limit hints, and the never-twice rule."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from powerpost_async import (
    AlreadyPublishedError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentTooLargeError,
    FileTooLargeError,
    InsufficientCreditsError,
    InsufficientScopeError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    PlatformNotConnectedError,
    PowerPost,
    PowerPostError,
    RateLimitError,
    Request,
    Response,
    ResponseValidationError,
    StorageQuotaExceededError,
    UnprocessableEntityError,
)

from .conftest import API_KEY, RecordingSleep, load_sample

ClientFactory = Callable[..., PowerPost]


def envelope(code: str, message: str = "something", **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def scripted(*answers: Response | Exception) -> Callable[[Request], Response]:
    """A handler answering each request with the next item (the last one repeats)."""
    queue: Iterator[Response | Exception] = iter(answers)
    last: list[Response | Exception] = []

    def handler(request: Request) -> Response:
        item = next(queue, None)
        if item is None:
            item = last[0]
        else:
            last[:] = [item]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


OK = Response.from_json(200, load_sample("generation_processing"))
CREATED = Response.from_json(200, load_sample("create_generation"))


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "VALIDATION_ERROR", BadRequestError),
        (401, "INVALID_API_KEY", AuthenticationError),
        (402, "INSUFFICIENT_CREDITS", InsufficientCreditsError),
        (403, "FORBIDDEN", PermissionDeniedError),
        (403, "INSUFFICIENT_SCOPE", InsufficientScopeError),
        (404, "NOT_FOUND", NotFoundError),
        (409, "ALREADY_PUBLISHED", AlreadyPublishedError),
        (409, "CANNOT_CANCEL", ConflictError),
        (413, "FILE_TOO_LARGE", FileTooLargeError),
        (413, "STORAGE_QUOTA_EXCEEDED", StorageQuotaExceededError),
        (413, "PAYLOAD_TOO_LARGE", ContentTooLargeError),
        (418, "ALREADY_PUBLISHED", APIStatusError),
        (422, "PLATFORM_NOT_CONNECTED", PlatformNotConnectedError),
        (422, "SCHEDULE_LIMIT_REACHED", UnprocessableEntityError),
        (429, "RATE_LIMIT_EXCEEDED", RateLimitError),
        (500, "INTERNAL_ERROR", InternalServerError),
        (503, "INTERNAL_ERROR", InternalServerError),
        (500, "ALREADY_PUBLISHED", InternalServerError),
    ],
)
async def test_status_and_envelope_become_typed_errors(
    make_client: ClientFactory, status: int, code: str, cls: type[APIStatusError]
) -> None:
    body = envelope(code, "Human readable words")
    response = Response.from_json(status, body, headers={"X-Request-Id": "req_123"})
    async with make_client(scripted(response), max_retries=0) as pp:
        with pytest.raises(cls) as info:
            await pp.generations.get("abc")
    error = info.value
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert isinstance(error, PowerPostError)
    assert error.status_code == status
    assert error.code == code
    assert error.message == "Human readable words"
    assert error.request_id == "req_123"
    assert error.body == body
    assert str(error) == f"{status} {code}: Human readable words (request id req_123)"
    clone = pickle.loads(pickle.dumps(error))
    assert (type(clone), clone.code, clone.request_id) == (cls, code, "req_123")


@pytest.mark.parametrize(
    ("error", "scope"),
    [
        ({"required_scope": "posts:publish"}, "posts:publish"),
        ({"details": {"scope": "media:write"}}, "media:write"),
        ({"message": "This API key is missing the required scope: images:generate"}, None),
        ({"message": "no scope named here"}, None),
    ],
)
async def test_missing_scope_is_readable_from_the_error(
    make_client: ClientFactory, error: dict[str, object], scope: str | None
) -> None:
    body = {"error": {"code": "INSUFFICIENT_SCOPE", "message": "Missing scope", **error}}
    async with make_client(scripted(Response.from_json(403, body)), max_retries=0) as pp:
        with pytest.raises(InsufficientScopeError) as info:
            await pp.generations.get("abc")
    expected = scope or ("images:generate" if "images:generate" in str(error) else None)
    assert info.value.scope == expected
    assert isinstance(info.value, PermissionDeniedError)
    assert pickle.loads(pickle.dumps(info.value)).scope == expected


@pytest.mark.parametrize(
    ("error", "platforms"),
    [
        ({"platforms": ["tiktok", "x"]}, ("tiktok", "x")),
        ({"platform": "linkedin"}, ("linkedin",)),
        ({"message": "Connect your Instagram and TikTok accounts first"}, ("instagram", "tiktok")),
    ],
)
async def test_unconnected_platforms_are_readable_from_the_error(
    make_client: ClientFactory, error: dict[str, object], platforms: tuple[str, ...]
) -> None:
    body = {"error": {"code": "PLATFORM_NOT_CONNECTED", "message": "Not connected", **error}}
    async with make_client(scripted(Response.from_json(422, body)), max_retries=0) as pp:
        with pytest.raises(PlatformNotConnectedError) as info:
            await pp.generations.get("abc")
    assert info.value.platforms == platforms


async def test_non_json_error_body_still_says_something(make_client: ClientFactory) -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    async with make_client(scripted(Response(502, {}, html)), max_retries=0) as pp:
        with pytest.raises(InternalServerError) as info:
            await pp.generations.get("abc")
    assert info.value.code is None
    assert "HTTP 502 Bad Gateway" in info.value.message
    assert "<h1>502 Bad Gateway</h1>" in info.value.message
    assert info.value.body == html.decode()
    assert info.value.request_id is None


async def test_empty_error_body(make_client: ClientFactory) -> None:
    async with make_client(scripted(Response(404, {}, b"")), max_retries=0) as pp:
        with pytest.raises(NotFoundError, match="HTTP 404 Not Found; the body was empty"):
            await pp.generations.get("abc")


async def test_malformed_success_body_is_a_validation_error(make_client: ClientFactory) -> None:
    async with make_client(scripted(Response(200, {}, b'{"generation_id": "x", '))) as pp:
        with pytest.raises(ResponseValidationError, match="not JSON") as info:
            await pp.generations.get("abc")
    assert info.value.body == b'{"generation_id": "x", '


# -- retries of GETs ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_get_retries_retryable_statuses(
    make_client: ClientFactory, sleep: RecordingSleep, status: int
) -> None:
    failure = Response.from_json(status, envelope("X"))
    async with make_client(scripted(failure, failure, OK)) as pp:
        generation = await pp.generations.get("abc")
        sent = len(pp.transport.requests)  # type: ignore[attr-defined]
    assert generation.generation_id == "550e8400-e29b-41d4-a716-446655440000"
    assert sent == 3
    assert len(sleep.calls) == 2


@pytest.mark.parametrize(
    "error",
    [
        APIConnectionError("connection reset", request_sent=True),
        APIConnectionError("refused", request_sent=False),
        APITimeoutError("timed out"),
    ],
)
async def test_get_retries_connection_errors_and_timeouts(
    make_client: ClientFactory, error: Exception
) -> None:
    async with make_client(scripted(error, OK)) as pp:
        await pp.generations.get("abc")
        assert len(pp.transport.requests) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
async def test_client_errors_are_not_retried(make_client: ClientFactory, status: int) -> None:
    async with make_client(scripted(Response.from_json(status, envelope("X")))) as pp:
        with pytest.raises(APIStatusError):
            await pp.generations.get("abc")
        assert len(pp.transport.requests) == 1  # type: ignore[attr-defined]


async def test_retries_give_up_after_max_retries_with_the_last_error(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    first = Response.from_json(503, envelope("FIRST"))
    last = Response.from_json(500, envelope("LAST"))
    async with make_client(scripted(first, first, last), max_retries=2) as pp:
        with pytest.raises(InternalServerError) as info:
            await pp.generations.get("abc")
        assert len(pp.transport.requests) == 3  # type: ignore[attr-defined]
    assert info.value.code == "LAST"
    assert len(sleep.calls) == 2


async def test_max_retries_per_call_overrides_the_client(make_client: ClientFactory) -> None:
    failure = Response.from_json(503, envelope("X"))
    async with make_client(scripted(failure), max_retries=5) as pp:
        with pytest.raises(InternalServerError):
            await pp.generations.get("abc", max_retries=0)
        assert len(pp.transport.requests) == 1  # type: ignore[attr-defined]
        with pytest.raises(InternalServerError):
            await pp.generations.get("abc", max_retries=1)
        assert len(pp.transport.requests) == 3  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="max_retries"):
            await pp.generations.get("abc", max_retries=-2)


async def test_backoff_is_exponential_with_full_jitter(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    failure = Response.from_json(503, envelope("X"))
    async with make_client(scripted(failure), max_retries=6) as pp:
        with pytest.raises(InternalServerError):
            await pp.generations.get("abc")
    caps = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(sleep.calls) == 6
    for waited, cap in zip(sleep.calls, caps, strict=True):
        assert 0 <= waited <= cap


# -- rate limits ----------------------------------------------------------------------------


def rate_limited(headers: dict[str, str] | None = None, **extra: object) -> Response:
    return Response.from_json(429, envelope("RATE_LIMIT_EXCEEDED", **extra), headers=headers)


async def test_429_waits_the_body_hint(make_client: ClientFactory, sleep: RecordingSleep) -> None:
    async with make_client(scripted(rate_limited(retryAfter=12), OK)) as pp:
        await pp.generations.get("abc")
    assert sleep.calls == [pytest.approx(12.0)]


async def test_429_waits_the_retry_after_header_in_seconds(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    async with make_client(scripted(rate_limited({"Retry-After": "7"}), OK)) as pp:
        await pp.generations.get("abc")
    assert sleep.calls == [pytest.approx(7.0)]


async def test_429_waits_the_retry_after_header_as_a_date(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    async with make_client(scripted(rate_limited({"Retry-After": when}), OK)) as pp:
        await pp.generations.get("abc")
    assert len(sleep.calls) == 1
    assert 25 <= sleep.calls[0] <= 31


async def test_429_falls_back_to_rate_limit_reset(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    reset = int(datetime.now(timezone.utc).timestamp()) + 20
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)}
    async with make_client(scripted(rate_limited(headers), OK)) as pp:
        await pp.generations.get("abc")
    assert len(sleep.calls) == 1
    assert 18 <= sleep.calls[0] <= 21


async def test_429_without_hint_backs_off(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    async with make_client(scripted(rate_limited(), OK)) as pp:
        await pp.generations.get("abc")
    assert len(sleep.calls) == 1
    assert 0 <= sleep.calls[0] <= 0.5


async def test_429_hint_over_the_cap_raises_at_once(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    async with make_client(scripted(rate_limited(retryAfter=3600), OK)) as pp:
        with pytest.raises(RateLimitError) as info:
            await pp.generations.get("abc")
        assert len(pp.transport.requests) == 1  # type: ignore[attr-defined]
    assert info.value.retry_after == 3600
    assert sleep.calls == []


async def test_429_hint_slows_the_whole_client(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    async with make_client(scripted(rate_limited(retryAfter=10), OK), max_retries=0) as pp:
        with pytest.raises(RateLimitError):
            await pp.generations.get("abc")
        assert sleep.calls == []
        await pp.generations.get("other")  # another call: waits out the hint first
    assert sleep.calls == [pytest.approx(10.0)]


async def test_cap_is_configurable(make_client: ClientFactory, sleep: RecordingSleep) -> None:
    async with make_client(
        scripted(rate_limited(retryAfter=90), OK), max_retry_after=120, timeout=None
    ) as pp:
        await pp.generations.get("abc")
    assert sleep.calls == [pytest.approx(90.0)]


async def test_a_pause_never_outlasts_the_call_timeout(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    # max_retry_after allows 90 s, but this call's deadline is 10 s: it fails at once.
    async with make_client(scripted(rate_limited(retryAfter=90), OK), max_retry_after=120) as pp:
        with pytest.raises(RateLimitError) as info:
            await pp.generations.get("abc", timeout=10)
        assert info.value.retry_after == 90
        with pytest.raises(RateLimitError) as again:  # later calls too, nothing sent
            await pp.generations.get("other", timeout=10)
        assert again.value.retry_after == pytest.approx(90.0)
        assert len(pp.transport.requests) == 1  # type: ignore[attr-defined]
    assert sleep.calls == []


# -- create: never sent twice when it may have been received --------------------------------


async def create(pp: PowerPost) -> object:
    return await pp.generations.create(prompt="hello world", post_types=["x-post"])


@pytest.mark.parametrize(
    "failure",
    [
        Response.from_json(500, envelope("INTERNAL_ERROR")),
        Response.from_json(502, envelope("X")),
        Response.from_json(503, envelope("X")),
        Response.from_json(504, envelope("X")),
        APITimeoutError("timed out"),
        APIConnectionError("server disconnected", request_sent=True),
    ],
)
async def test_create_is_sent_exactly_once_when_it_may_have_arrived(
    make_client: ClientFactory, failure: Response | Exception
) -> None:
    async with make_client(scripted(failure, CREATED), max_retries=5) as pp:
        with pytest.raises(APIError):
            await create(pp)
        posts = [r for r in pp.transport.requests if r.method == "POST"]  # type: ignore[attr-defined]
    assert len(posts) == 1


async def test_create_is_retried_when_it_surely_never_arrived(make_client: ClientFactory) -> None:
    refused = APIConnectionError("connection refused", request_sent=False)
    async with make_client(scripted(refused, refused, CREATED)) as pp:
        created = await create(pp)
        assert len(pp.transport.requests) == 3  # type: ignore[attr-defined]
    assert created is not None


async def test_create_is_retried_after_429(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    async with make_client(scripted(rate_limited(retryAfter=2), CREATED)) as pp:
        await create(pp)
        assert len(pp.transport.requests) == 2  # type: ignore[attr-defined]
    assert sleep.calls == [pytest.approx(2.0)]


async def test_create_after_refusal_then_500_stops(make_client: ClientFactory) -> None:
    refused = APIConnectionError("connection refused", request_sent=False)
    failure = Response.from_json(500, envelope("INTERNAL_ERROR"))
    async with make_client(scripted(refused, failure, CREATED), max_retries=5) as pp:
        with pytest.raises(InternalServerError):
            await create(pp)
        assert len(pp.transport.requests) == 2  # type: ignore[attr-defined]


# -- logging and secrets --------------------------------------------------------------------


async def test_debug_log_has_method_path_status_and_retries_but_never_the_key(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    failure = Response.from_json(503, envelope("INTERNAL_ERROR"), headers={"X-Request-Id": "r"})
    caplog.set_level(logging.DEBUG)
    denied = Response.from_json(401, envelope("INVALID_API_KEY", "Invalid API key"))
    async with make_client(scripted(failure, OK, denied)) as pp:
        await pp.generations.get("abc")
        with pytest.raises(AuthenticationError) as info:
            await pp.generations.get("other")
    messages = [r.getMessage() for r in caplog.records if r.name == "powerpost_async"]
    assert any("GET /api/v1/content/generations/abc -> 503" in m for m in messages)
    assert any("GET /api/v1/content/generations/abc -> 200" in m for m in messages)
    assert any(m.startswith("retrying GET /api/v1/content/generations/abc in ") for m in messages)
    assert any("503 INTERNAL_ERROR" in m for m in messages)
    everything = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert API_KEY not in everything
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)


async def test_an_over_long_hint_fails_later_calls_at_once_until_it_ends(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    # A pause longer than max_retry_after is not waited out: the 429 is raised, and
    # every later call fails at once (nothing sent) while the client is paused.
    async with make_client(scripted(rate_limited(retryAfter=600), OK)) as pp:
        with pytest.raises(RateLimitError):
            await pp.generations.get("abc")
        for elapsed in (0, 100, 539):
            sleep.now = 1000.0 + elapsed
            with pytest.raises(RateLimitError) as info:
                await pp.generations.get("abc")
            assert info.value.retry_after == pytest.approx(600.0 - elapsed)
        assert len(pp.transport.requests) == 1  # type: ignore[attr-defined]
        sleep.now = 1000.0 + 550  # 50 s left: within max_retry_after, waited out
        generation = await pp.generations.get("abc")
    assert generation.generation_id
    assert sleep.calls == [pytest.approx(50.0)]


async def test_a_huge_429_hint_gates_the_client_for_at_most_fifteen_minutes(
    make_client: ClientFactory, sleep: RecordingSleep
) -> None:
    # A buggy retryAfter of 31 years must not silence the client for 31 years: the
    # pause is capped at 900 s, after which one request asks again.
    async with make_client(scripted(rate_limited(retryAfter=10**9), OK)) as pp:
        with pytest.raises(RateLimitError):
            await pp.generations.get("abc")
        with pytest.raises(RateLimitError) as info:
            await pp.generations.get("abc")
        assert info.value.retry_after == pytest.approx(900.0)
        sleep.now += 900
        generation = await pp.generations.get("abc")
    assert generation.generation_id
    assert sleep.calls == []
