"""What came back with a call, beside its result: ``with_response`` and ``pp.rate_limit``.

``await pp.generations.with_response.get(id)`` answers an
[`APIResponse`][powerpost_async.APIResponse]: the parsed result as the plain call returns
it, plus the final HTTP response's status, headers, request id and rate-limit figures,
how long the call took and how many attempts it made.

How: the plain call runs unchanged, inside a context (a ``ContextVar``) that the
client's request path fills with the last response it received. Calls that are not made
through ``with_response`` pay one ``ContextVar.get`` per request, nothing more.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

import attrs

from ._ratelimit import integer_header, number_header

if TYPE_CHECKING:
    from ._timing import Clock
    from ._transport import Response

__all__ = ["CAPTURE", "APIResponse", "Capture", "RateLimit", "rate_limit_of", "with_response"]

T = TypeVar("T")
P = ParamSpec("P")


@attrs.frozen
class RateLimit:
    """The rate-limit figures the API sent with a response (``X-RateLimit-*`` headers).

    Attributes:
        limit: Requests allowed per window (``X-RateLimit-Limit``), if sent.
        remaining: Requests left in the current window (``X-RateLimit-Remaining``).
        reset: When the window resets (``X-RateLimit-Reset``, Unix seconds), in UTC.
    """

    limit: int | None
    remaining: int
    reset: datetime


def rate_limit_of(headers: Mapping[str, str]) -> RateLimit | None:
    """The rate-limit figures in ``headers``, or ``None`` if they are absent or unreadable."""
    remaining = integer_header(headers.get("x-ratelimit-remaining"))
    reset = number_header(headers.get("x-ratelimit-reset"))
    if remaining is None or reset is None:
        return None
    try:
        when = datetime.fromtimestamp(reset, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    return RateLimit(integer_header(headers.get("x-ratelimit-limit")), remaining, when)


@attrs.frozen
class APIResponse(Generic[T]):
    """A call's result with the HTTP response it came from.

    Get one from any call through ``with_response``:
    ``await pp.generations.with_response.get(id)``, ``await
    pp.account.with_response.credits()``, ``await pp.request(...)``.

    Attributes:
        parsed: What the plain call returns (a model, a page; decoded JSON for
            `PowerPost.request`).
        status_code: The HTTP status of the final response.
        headers: Its headers, looked up case-insensitively.
        request_id: Its ``X-Request-Id``, if sent: quote it to support.
        rate_limit: Its rate-limit figures, if sent.
        elapsed: Seconds the whole call took, retries and pauses included.
        attempts: Requests the call sent (1 without retries).
    """

    parsed: T
    status_code: int
    headers: Mapping[str, str] = attrs.field(repr=False)
    request_id: str | None
    rate_limit: RateLimit | None
    elapsed: float
    attempts: int


class Capture:
    """Filled by the request path while a ``with_response`` call runs."""

    __slots__ = ("attempts", "response")

    def __init__(self) -> None:
        self.response: Response | None = None
        self.attempts = 0


#: The capture of the ``with_response`` call running in this context, if any.
CAPTURE: ContextVar[Capture | None] = ContextVar("powerpost_async_capture", default=None)


def with_response(
    call: Callable[P, Awaitable[T]], clock: Clock
) -> Callable[P, Awaitable[APIResponse[T]]]:
    """``call``, answering an `APIResponse` around what it returns."""

    @functools.wraps(call)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> APIResponse[T]:
        capture = Capture()
        token = CAPTURE.set(capture)
        started = clock()
        try:
            parsed = await call(*args, **kwargs)
        finally:
            CAPTURE.reset(token)
        return build(parsed, capture, clock() - started)

    return wrapper


def build(parsed: T, capture: Capture, elapsed: float) -> APIResponse[T]:
    """The `APIResponse` of a call that returned ``parsed`` after filling ``capture``."""
    response = capture.response
    if response is None:  # pragma: no cover - every call sends a request
        raise AssertionError("the call returned without a response")
    headers = response.headers
    return APIResponse(
        parsed=parsed,
        status_code=response.status_code,
        headers=headers,
        request_id=headers.get("x-request-id") or None,
        rate_limit=rate_limit_of(headers),
        elapsed=elapsed,
        attempts=capture.attempts,
    )
