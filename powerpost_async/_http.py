"""Sans-I/O core: building requests and reading responses, without awaiting anything.

Everything the client decides about HTTP lives here as plain functions: URLs and
headers, input checks on what goes into them, status -> exception, the error envelope,
rate-limit hints. The client only glues these to a transport and a retry loop.
"""

from __future__ import annotations

import math
import platform
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode

from ._converter import loads
from ._exceptions import (
    APIStatusError,
    MalformedResponseError,
    RateLimitError,
    status_error_class,
)
from ._transport import Response
from ._version import __version__

__all__ = [
    "API_PREFIX",
    "check_header_value",
    "decode_json",
    "error_from_response",
    "path_segment",
    "query_string",
    "retry_after_hint",
    "user_agent",
]

API_PREFIX = "/api/v1"

_FORBIDDEN_IN_ID = ("/", "?", "#", "..", "%", "\\")
# Ids made only of these need no encoding and cannot alter a URL (no dots at all).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_\-]+")


def user_agent() -> str:
    """``powerpost-async/<version> <implementation>/<python version>``."""
    return (
        f"powerpost-async/{__version__} "
        f"{platform.python_implementation()}/{platform.python_version()}"
    )


def check_header_value(name: str, value: object) -> str:
    """Return ``value`` if it can go in a header, else raise ``ValueError`` naming ``name``.

    CR, LF and NUL would let a value smuggle extra headers (or a whole request).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value or value != value.strip():
        raise ValueError(f"{name} must be a non-empty string without surrounding whitespace")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"{name} must not contain CR, LF or NUL characters")
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"{name} must contain only printable ASCII characters")
    return value


def path_segment(value: object, name: str = "generation_id") -> str:
    """Check an id that goes into a URL path and percent-encode it.

    Raises:
        TypeError: ``value`` is not a string.
        ValueError: it is empty or ``.``, or holds ``/ ? # ..``, ``%``, a backslash or
            whitespace.
    """
    if type(value) is str and _PLAIN_ID.fullmatch(value):
        return value  # the common case (UUIDs): nothing to check further or to encode
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} must not be empty")
    if (
        value == "."  # a dot-segment: normalised away, it would turn a GET into the list
        or any(part in value for part in _FORBIDDEN_IN_ID)
        or any(c.isspace() for c in value)
    ):
        raise ValueError(
            f"{name} {value!r} is not a valid id: it must not be '.' nor contain '/', '?', "
            "'#', '..', '%', a backslash or whitespace"
        )
    if not value.isprintable():
        raise ValueError(f"{name} {value!r} is not a valid id: it holds control characters")
    return quote(value, safe="")


def query_string(params: Mapping[str, str | int | None]) -> str:
    """``?a=1&b=2`` from the params that are not ``None`` (empty string if none are)."""
    present = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(present) if present else ""


def decode_json(response: Response) -> Any:
    """The JSON body of a successful response, or
    [`MalformedResponseError`][powerpost_async.MalformedResponseError]."""
    try:
        return loads(response.content)
    except ValueError as exc:  # json.JSONDecodeError and orjson.JSONDecodeError both are
        raise MalformedResponseError(
            f"the server answered {response.status_code} with a body that is not JSON",
            body=response.content,
            errors=[_snippet(response.content)],
        ) from exc


def error_from_response(response: Response, *, now: float) -> APIStatusError:
    """The exception for a non-success response.

    Reads the documented envelope ``{"error": {"message", "code", "retryAfter"?}}`` and
    falls back to a description of the raw body when there is none.

    Args:
        response: The response, any status other than 200.
        now: The current Unix time, to turn a ``Retry-After`` date into seconds.
    """
    status = response.status_code
    headers = response.headers
    request_id = headers.get("x-request-id")
    body: object
    code: str | None = None
    message: str | None = None
    retry_after_body: object = None
    try:
        body = loads(response.content) if response.content else None
    except ValueError:
        body = response.content.decode("utf-8", "replace")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
        code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
        message = envelope.get("message") if isinstance(envelope.get("message"), str) else None
        retry_after_body = envelope.get("retryAfter")
    elif isinstance(body, dict) and isinstance(body.get("message"), str):
        message = body["message"]  # not the documented envelope, but say what it says
    if message is None:
        message = f"{_reason(status)}; {_describe_body(response.content)}"

    cls = status_error_class(status)
    if cls is RateLimitError:
        return RateLimitError(
            message,
            status_code=status,
            code=code,
            request_id=request_id,
            body=body,
            retry_after=retry_after_hint(headers, retry_after_body, now=now),
        )
    return cls(message, status_code=status, code=code, request_id=request_id, body=body)


def retry_after_hint(
    headers: Mapping[str, str], body_value: object = None, *, now: float
) -> float | None:
    """Seconds a 429 asks us to wait, or ``None`` when it gives no usable hint.

    In order: ``error.retryAfter`` in the body, the ``Retry-After`` header (seconds or an
    HTTP date), then ``X-RateLimit-Reset`` (Unix seconds) when ``X-RateLimit-Remaining``
    is ``0``. Negative hints count as 0.
    """
    hint = _seconds(body_value)
    if hint is not None:
        return hint
    header = headers.get("retry-after")
    if header is not None:
        hint = _seconds(header)
        if hint is not None:
            return hint
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - now)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = _seconds(headers.get("x-ratelimit-reset"))
        if reset is not None:
            return max(0.0, reset - now)
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return max(0.0, number)


def _reason(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _describe_body(content: bytes) -> str:
    if not content:
        return "the body was empty"
    return f"the body was not the documented error envelope: {_snippet(content)}"


def _snippet(content: bytes, limit: int = 200) -> str:
    text = content[: limit * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit or len(content) > limit * 4 else ""))
