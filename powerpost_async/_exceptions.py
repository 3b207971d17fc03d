"""The one exception tree of powerpost-async.

Everything the SDK raises on purpose derives from
[`PowerPostError`][powerpost_async.PowerPostError]:

```text
PowerPostError
├── APIError                          something went wrong talking to the API
│   ├── APIStatusError                the API answered with an error status
│   │   ├── BadRequestError           400 (VALIDATION_ERROR, missing workspace header)
│   │   ├── AuthenticationError       401 (INVALID_API_KEY)
│   │   ├── InsufficientCreditsError  402 (INSUFFICIENT_CREDITS)
│   │   ├── PermissionDeniedError     403 (FORBIDDEN, INSUFFICIENT_SCOPE)
│   │   ├── NotFoundError             404 (NOT_FOUND)
│   │   ├── ConflictError             409 (ALREADY_PUBLISHED)
│   │   ├── UnprocessableEntityError  422 (PLATFORM_NOT_CONNECTED)
│   │   ├── RateLimitError            429 (RATE_LIMIT_EXCEEDED), adds ``retry_after``
│   │   └── InternalServerError       5xx
│   ├── APIConnectionError            no usable answer: refused, reset, dropped
│   │   ├── APITimeoutError           ... because a timeout passed (also a TimeoutError)
│   │   └── CircuitOpenError          ... not sent: the API keeps failing, the client waits
│   └── ResponseValidationError       the answer could not be read into our models
│       └── MalformedResponseError    ... because it was not even JSON (truncated, garbled)
├── GenerationFailedError             a generation awaited with ``wait`` failed
└── WaitTimeoutError                  a wait's deadline passed (also a TimeoutError)
```

Data is carried as attributes (``status_code``, ``code``, ``message``, ``request_id``,
``retry_after``...), so callers never parse messages. Errors of the libraries underneath
(aiohttp, cattrs, tenacity) are wrapped in these with ``raise ... from``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._models import Generation

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConflictError",
    "GenerationFailedError",
    "InsufficientCreditsError",
    "InternalServerError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "PowerPostError",
    "PowerPostWarning",
    "RateLimitError",
    "ResponseValidationError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
]


class PowerPostError(Exception):
    """Base class of every error raised by powerpost-async."""


class PowerPostWarning(UserWarning):
    """Something works, but probably not as you meant (e.g. an unknown post type)."""


class APIError(PowerPostError):
    """Talking to the PowerPost API did not give a usable answer."""


class APIStatusError(APIError):
    """The API answered with a non-success HTTP status.

    Attributes:
        status_code: The HTTP status, e.g. ``404``.
        code: The API's error code from the ``{"error": {"code": ...}}`` envelope, e.g.
            ``"NOT_FOUND"``; ``None`` when the body carried none.
        message: The API's human-readable message (or a description of the raw body).
        request_id: The ``X-Request-Id`` response header, when present: quote it to support.
        body: The decoded JSON body, or the body text when it was not JSON.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        request_id: str | None = None,
        body: object = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.request_id = request_id
        self.body = body
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"{self.status_code}"
        if self.code:
            text += f" {self.code}"
        text += f": {self.message}"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only constructor: teach pickle (and copy) how to rebuild us, with the
        # same args (so the same str()) and the same attributes.
        return (_rebuild, (type(self), self.args, self.__dict__.copy()))


def _rebuild(
    cls: type[APIStatusError], args: tuple[object, ...], state: dict[str, object]
) -> APIStatusError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class BadRequestError(APIStatusError):
    """400: the request was invalid (``VALIDATION_ERROR``) or lacked a required header."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong (``INVALID_API_KEY``)."""


class InsufficientCreditsError(APIStatusError):
    """402: the account has too few credits for this generation (``INSUFFICIENT_CREDITS``)."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this workspace (``FORBIDDEN``) or lacks a scope."""


class NotFoundError(APIStatusError):
    """404: no such generation (or other resource) in this workspace."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's state (``ALREADY_PUBLISHED``)."""


class UnprocessableEntityError(APIStatusError):
    """422: the request is well-formed but cannot be carried out."""


class RateLimitError(APIStatusError):
    """429: too many requests (``RATE_LIMIT_EXCEEDED``).

    Attributes:
        retry_after: Seconds the server asked us to wait (from ``error.retryAfter``, the
            ``Retry-After`` header, or ``X-RateLimit-Reset``), or ``None`` if it gave no hint.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        code: str | None = None,
        request_id: str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message, status_code=status_code, code=code, request_id=request_id, body=body
        )


class InternalServerError(APIStatusError):
    """5xx: the server failed."""


class APIConnectionError(APIError):
    """No answer came back: the connection was refused, reset or dropped.

    Attributes:
        request_sent: ``False`` only when the request surely never reached the server
            (e.g. the connection was refused). ``True`` means it may have been received and
            acted upon: that is why a ``create`` is never retried after such an error.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        self.message = message
        self.request_sent = request_sent
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_connection, (type(self), self.message, self.request_sent))


def _rebuild_connection(
    cls: type[APIConnectionError], message: str, request_sent: bool
) -> APIConnectionError:
    return cls(message, request_sent=request_sent)


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request timed out (also a built-in `TimeoutError`)."""


class CircuitOpenError(APIConnectionError):
    """Not sent: the API failed many times in a row, so the client holds requests back.

    Nothing reached the server (``request_sent`` is ``False``): retrying later is safe,
    even for a ``create``. The client's own retries wait ``retry_after`` seconds for
    it; a single probe request then tests the API (see ``PowerPost(circuit_breaker=...)``).

    Attributes:
        retry_after: Seconds until the client lets a probe through.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(message, request_sent=False)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_circuit, (type(self), self.message, self.retry_after))


def _rebuild_circuit(
    cls: type[CircuitOpenError], message: str, retry_after: float
) -> CircuitOpenError:
    return cls(message, retry_after=retry_after)


class ResponseValidationError(APIError):
    """A response body could not be read into the SDK's models.

    Attributes:
        body: The raw response body (bytes) as received.
        errors: What was wrong, one human-readable line per problem.
    """

    def __init__(self, message: str, *, body: bytes | None = None, errors: Sequence[str] = ()):
        self.message = message
        self.body = body
        self.errors = tuple(errors)
        details = "; ".join(self.errors)
        super().__init__(f"{message}: {details}" if details else message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_validation, (type(self), self.message, self.body, self.errors))


class MalformedResponseError(ResponseValidationError):
    """A success response whose body was not JSON at all (truncated or garbled on the way).

    Reads (GETs) are retried after it like after a dropped connection; a ``create`` is
    not, since it may have worked: the raw body is in `body`.
    """


def _rebuild_validation(
    cls: type[ResponseValidationError], message: str, body: bytes | None, errors: tuple[str, ...]
) -> ResponseValidationError:
    return cls(message, body=body, errors=errors)


class GenerationFailedError(PowerPostError):
    """A generation that was awaited ended ``failed``.

    Attributes:
        generation: The failed [`Generation`][powerpost_async.Generation]; its ``error`` holds
            the API's code and message.
    """

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        error = generation.error
        detail = f"{error.code}: {error.message}" if error is not None else "no error details"
        super().__init__(f"generation {generation.generation_id} failed ({detail})")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.generation,))


class WaitTimeoutError(PowerPostError, TimeoutError):
    """A wait's deadline passed before the generation(s) finished.

    Nothing the wait learnt is lost with it: what finished and what failed before the
    deadline travel on the error.

    Attributes:
        generation: The last state seen of the generation awaited by ``wait`` (``None`` if
            no poll succeeded, or for multi-id waits).
        pending_ids: The ids that had not finished when the deadline passed.
        timeout: The deadline, in seconds.
        finished: Multi-id waits: the generations that did finish in time, by id
            (``wait_many`` would otherwise lose them; ``as_completed`` yielded them).
        errors: Multi-id waits: the per-id errors met before the deadline (e.g.
            ``NotFoundError`` for an unknown id), by id.
    """

    def __init__(
        self,
        message: str,
        *,
        timeout: float,
        pending_ids: Sequence[str] = (),
        generation: Generation | None = None,
        finished: Mapping[str, Generation] | None = None,
        errors: Mapping[str, Exception] | None = None,
    ) -> None:
        self.message = message
        self.timeout = timeout
        self.pending_ids = tuple(pending_ids)
        self.generation = generation
        self.finished: Mapping[str, Generation] = dict(finished or {})
        self.errors: Mapping[str, Exception] = dict(errors or {})
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_wait_timeout,
            (
                type(self),
                self.message,
                self.timeout,
                self.pending_ids,
                self.generation,
                self.finished,
                self.errors,
            ),
        )


def _rebuild_wait_timeout(
    cls: type[WaitTimeoutError],
    message: str,
    timeout: float,
    pending_ids: tuple[str, ...],
    generation: Generation | None,
    finished: Mapping[str, Generation] | None = None,
    errors: Mapping[str, Exception] | None = None,
) -> WaitTimeoutError:
    return cls(
        message,
        timeout=timeout,
        pending_ids=pending_ids,
        generation=generation,
        finished=finished,
        errors=errors,
    )


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status_code >= 500:
        return InternalServerError
    return STATUS_ERRORS.get(status_code, APIStatusError)
