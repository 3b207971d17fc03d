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
│   │   ├── PermissionDeniedError     403 (FORBIDDEN)
│   │   │   └── InsufficientScopeError    INSUFFICIENT_SCOPE, adds ``scope``
│   │   ├── NotFoundError             404 (NOT_FOUND)
│   │   ├── ConflictError             409
│   │   │   └── AlreadyPublishedError     ALREADY_PUBLISHED
│   │   ├── ContentTooLargeError      413
│   │   │   ├── FileTooLargeError         FILE_TOO_LARGE
│   │   │   └── StorageQuotaExceededError STORAGE_QUOTA_EXCEEDED
│   │   ├── UnprocessableEntityError  422
│   │   │   └── PlatformNotConnectedError PLATFORM_NOT_CONNECTED, adds ``platforms``
│   │   ├── RateLimitError            429 (RATE_LIMIT_EXCEEDED), adds ``retry_after``
│   │   └── InternalServerError       5xx
│   ├── APIConnectionError            no usable answer: refused, reset, dropped
│   │   ├── APITimeoutError           ... because a timeout passed (also a TimeoutError)
│   │   └── CircuitOpenError          ... not sent: the API keeps failing, the client waits
│   └── ResponseValidationError       the answer could not be read into our models
│       └── MalformedResponseError    ... because it was not even JSON (truncated, garbled)
├── JobFailedError                    a job awaited with ``wait`` ended badly (``.job``)
│   ├── GenerationFailedError         ... a caption generation failed
│   ├── ImageGenerationFailedError    ... an image generation (some images may be there)
│   ├── VideoGenerationFailedError    ... a video generation
│   └── PostFailedError               ... a post had items fail
└── WaitTimeoutError                  a wait's deadline passed (also a TimeoutError)
```

Data is carried as attributes (``status_code``, ``code``, ``message``, ``request_id``,
``retry_after``...), so callers never parse messages. Errors of the libraries underneath
(aiohttp, cattrs, tenacity) are wrapped in these with ``raise ... from``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

if TYPE_CHECKING:
    from ._models import Generation, ImageGeneration, Post, VideoGeneration

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AlreadyPublishedError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConflictError",
    "ContentTooLargeError",
    "FileTooLargeError",
    "GenerationFailedError",
    "ImageGenerationFailedError",
    "InsufficientCreditsError",
    "InsufficientScopeError",
    "InternalServerError",
    "JobFailedError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlatformNotConnectedError",
    "PostFailedError",
    "PowerPostError",
    "PowerPostWarning",
    "RateLimitError",
    "ResponseValidationError",
    "StorageQuotaExceededError",
    "UnprocessableEntityError",
    "VideoGenerationFailedError",
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


def _strings_in(body: object, *names: str) -> list[str]:
    """String values under ``names`` in the error envelope (or its ``details``)."""
    found: list[str] = []
    if not isinstance(body, dict):
        return found
    error = body.get("error")
    for place in (error, error.get("details") if isinstance(error, dict) else None, body):
        if not isinstance(place, dict):
            continue
        for name in names:
            value = place.get(name)
            values = value if isinstance(value, list) else [value]
            found.extend(v for v in values if isinstance(v, str) and v and v not in found)
    return found


_SCOPE = re.compile(r"\b([a-z]+:(?:read|write|generate|publish))\b")
# The documented platforms (REFERENCE: "Known platforms"). ``x`` is one of them: a
# one-letter name is a platform like any other, never noise to filter out.
_PLATFORM_WORDS = frozenset({"instagram", "tiktok", "youtube", "x", "facebook", "linkedin"})
_LIST_SEPARATOR = r"\s*(?:,\s*and\b|,|\band\b|&)\s*"
# A message ending in a list of names, e.g. "Not connected in this workspace: x, threads".
_NAMED_LIST = re.compile(rf"\s*([a-z0-9_-]+(?:{_LIST_SEPARATOR}[a-z0-9_-]+)*)\s*\.?\s*")


def _platforms_in_message(message: str) -> list[str]:
    """The platforms a message names, in its order.

    A message ending in ``": a, b and c"`` that names at least one known platform is
    read whole, so a platform the SDK does not know yet is kept too; otherwise every
    known platform written as a word in the message (``x`` included).
    """
    text = message.lower()
    _, colon, after = text.rpartition(":")
    tail = _NAMED_LIST.fullmatch(after) if colon else None
    if tail is not None:
        items = [item for item in re.split(_LIST_SEPARATOR, tail.group(1)) if item]
        if any(item in _PLATFORM_WORDS for item in items):
            return list(dict.fromkeys(items))
    return list(dict.fromkeys(w for w in re.findall(r"[a-z]+", text) if w in _PLATFORM_WORDS))


class InsufficientScopeError(PermissionDeniedError):
    """403 ``INSUFFICIENT_SCOPE``: the API key lacks the scope this endpoint needs.

    Attributes:
        scope: The missing scope, e.g. ``"posts:publish"``: from the error's
            ``required_scope`` (or ``scope``) field, else read from its message; ``None``
            if the answer named none.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 403,
        code: str | None = "INSUFFICIENT_SCOPE",
        request_id: str | None = None,
        body: object = None,
    ) -> None:
        named = _strings_in(body, "required_scope", "scope", "missing_scope")
        match = _SCOPE.search(message)
        self.scope: str | None = named[0] if named else (match.group(1) if match else None)
        super().__init__(
            message, status_code=status_code, code=code, request_id=request_id, body=body
        )


class AlreadyPublishedError(ConflictError):
    """409 ``ALREADY_PUBLISHED``: the post is not a draft any more (publishing, published
    or failed); nothing was done."""


class ContentTooLargeError(APIStatusError):
    """413: the upload was refused for its size."""


class FileTooLargeError(ContentTooLargeError):
    """413 ``FILE_TOO_LARGE``: the file is over its type's limit."""


class StorageQuotaExceededError(ContentTooLargeError):
    """413 ``STORAGE_QUOTA_EXCEEDED``: the workspace's storage is full."""


class PlatformNotConnectedError(UnprocessableEntityError):
    """422 ``PLATFORM_NOT_CONNECTED``: a platform of the post is not connected to the
    workspace.

    Attributes:
        platforms: Every platform the answer named, as it named them (from a
            ``platforms`` or ``platform`` field of the error or its ``details``, else
            from its message), ``"x"`` included; empty if it named none.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 422,
        code: str | None = "PLATFORM_NOT_CONNECTED",
        request_id: str | None = None,
        body: object = None,
    ) -> None:
        named = _strings_in(body, "platforms", "platform") or _platforms_in_message(message)
        self.platforms: tuple[str, ...] = tuple(named)
        super().__init__(
            message, status_code=status_code, code=code, request_id=request_id, body=body
        )


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

    Reads (GETs) are retried after it like after a dropped connection; a ``create`` (any
    write that is not idempotent) is not, since the server answered a success: what it
    creates may exist and may have been charged. Its message then says so: look for it
    (`body`, the raw body received, may show its id) before creating it again.

    Attributes:
        status_code: The response's HTTP status (a success, e.g. ``200``), or ``None``
            when not known.
        request_id: The response's ``X-Request-Id`` header, when present: quote it to
            support.
        headers: The response's headers (looked up case-insensitively); empty when not
            known.
    """

    def __init__(
        self,
        message: str,
        *,
        body: bytes | None = None,
        errors: Sequence[str] = (),
        status_code: int | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.request_id = request_id
        self.headers: Mapping[str, str] = headers if headers is not None else {}
        super().__init__(message, body=body, errors=errors)

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_malformed,
            (
                type(self),
                self.message,
                self.body,
                self.errors,
                self.status_code,
                self.request_id,
                # The transports' headers are a read-only view, which does not pickle.
                CIMultiDict(self.headers),
            ),
        )


def _rebuild_malformed(
    cls: type[MalformedResponseError],
    message: str,
    body: bytes | None,
    errors: tuple[str, ...],
    status_code: int | None,
    request_id: str | None,
    headers: Mapping[str, str],
) -> MalformedResponseError:
    return cls(
        message,
        body=body,
        errors=errors,
        status_code=status_code,
        request_id=request_id,
        headers=headers,
    )


def _rebuild_validation(
    cls: type[ResponseValidationError], message: str, body: bytes | None, errors: tuple[str, ...]
) -> ResponseValidationError:
    return cls(message, body=body, errors=errors)


class JobFailedError(PowerPostError):
    """A job awaited with ``wait`` ended badly: catch this for every kind at once.

    Attributes:
        job: The finished job as last read: a [`Generation`][powerpost_async.Generation],
            [`ImageGeneration`][powerpost_async.ImageGeneration],
            [`VideoGeneration`][powerpost_async.VideoGeneration] or
            [`Post`][powerpost_async.Post].
    """

    job: Generation | ImageGeneration | VideoGeneration | Post


class GenerationFailedError(JobFailedError):
    """A generation that was awaited ended ``failed``.

    Attributes:
        generation: The failed [`Generation`][powerpost_async.Generation]; its ``error`` holds
            the API's code and message.
    """

    def __init__(self, generation: Generation) -> None:
        self.generation = generation
        self.job = generation
        error = generation.error
        detail = f"{error.code}: {error.message}" if error is not None else "no error details"
        super().__init__(f"generation {generation.generation_id} failed ({detail})")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.generation,))


class ImageGenerationFailedError(JobFailedError):
    """An image generation that was awaited ended ``failed``.

    Some images may still have been made (a partial failure): they are in
    ``image_generation.images``, each with its ``media_id``, and only they were charged.

    Attributes:
        image_generation: The failed [`ImageGeneration`][powerpost_async.ImageGeneration].
    """

    def __init__(self, image_generation: ImageGeneration) -> None:
        self.image_generation = image_generation
        self.job = image_generation
        error = image_generation.error
        detail = f"{error.code}: {error.message}" if error is not None else "no error details"
        made = len(image_generation.images)
        kept = f"; {made} image(s) were made and kept" if made else ""
        super().__init__(
            f"image generation {image_generation.image_generation_id} failed ({detail}){kept}",
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.image_generation,))


class VideoGenerationFailedError(JobFailedError):
    """A video generation that was awaited ended ``failed`` (its credits are refunded).

    Attributes:
        video_generation: The failed [`VideoGeneration`][powerpost_async.VideoGeneration].
    """

    def __init__(self, video_generation: VideoGeneration) -> None:
        self.video_generation = video_generation
        self.job = video_generation
        error = video_generation.error
        detail = f"{error.code}: {error.message}" if error is not None else "no error details"
        super().__init__(
            f"video generation {video_generation.video_generation_id} failed ({detail})"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.video_generation,))


class PostFailedError(JobFailedError):
    """A post awaited with ``posts.wait`` finished with items that failed.

    The items that did go out are not lost: ``post.items`` holds every item's status
    (``posted`` ones with their ``platform_post_id``).

    Attributes:
        post: The finished [`Post`][powerpost_async.Post].
        failed_items: The items that failed.
    """

    def __init__(self, post: Post) -> None:
        self.post = post
        self.job = post
        self.failed_items = post.failed_items
        posted = len(post.posted_items)
        super().__init__(
            f"post {post.post_id} ended {post.status}: {len(self.failed_items)} of "
            f"{len(post.items)} item(s) failed, {posted} posted"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.post,))


class WaitTimeoutError(PowerPostError, TimeoutError):
    """A wait's deadline passed before the generation(s) finished.

    Nothing the wait learnt is lost with it: what finished and what failed before the
    deadline travel on the error.

    Attributes:
        generation: The last state seen of the generation awaited by ``wait`` (``None`` if
            no poll succeeded, for multi-id waits, or for other kinds of jobs).
        last_seen: The last state seen of the job awaited by ``wait``, whatever its kind
            (an [`ImageGeneration`][powerpost_async.ImageGeneration], a
            [`Post`][powerpost_async.Post]...); ``None`` if never seen or for multi-id waits.
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
        finished: Mapping[str, Any] | None = None,
        errors: Mapping[str, Exception] | None = None,
        last_seen: object = None,
    ) -> None:
        self.message = message
        self.last_seen = last_seen if last_seen is not None else generation
        self.timeout = timeout
        self.pending_ids = tuple(pending_ids)
        self.generation = generation
        self.finished: Mapping[str, Any] = dict(finished or {})
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
                self.last_seen,
            ),
        )


def _rebuild_wait_timeout(
    cls: type[WaitTimeoutError],
    message: str,
    timeout: float,
    pending_ids: tuple[str, ...],
    generation: Generation | None,
    finished: Mapping[str, Any] | None = None,
    errors: Mapping[str, Exception] | None = None,
    last_seen: object = None,
) -> WaitTimeoutError:
    return cls(
        message,
        timeout=timeout,
        pending_ids=pending_ids,
        generation=generation,
        finished=finished,
        errors=errors,
        last_seen=last_seen,
    )


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: ContentTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


#: Error codes with a class of their own, each under its status's class.
CODE_ERRORS: dict[str, type[APIStatusError]] = {
    "INSUFFICIENT_SCOPE": InsufficientScopeError,
    "ALREADY_PUBLISHED": AlreadyPublishedError,
    "FILE_TOO_LARGE": FileTooLargeError,
    "STORAGE_QUOTA_EXCEEDED": StorageQuotaExceededError,
    "PLATFORM_NOT_CONNECTED": PlatformNotConnectedError,
}


def status_error_class(status_code: int, code: str | None = None) -> type[APIStatusError]:
    """The exception class for an HTTP error status (and its error code, if it has one).

    A code's own class is used only under the status it belongs to, so that, say, a 500
    carrying ``ALREADY_PUBLISHED`` stays a server error (retried as one).
    """
    if status_code >= 500:
        return InternalServerError
    cls = STATUS_ERRORS.get(status_code, APIStatusError)
    if code is not None:
        special = CODE_ERRORS.get(code)
        if special is not None and issubclass(special, cls) and cls is not APIStatusError:
            return special
    return cls
