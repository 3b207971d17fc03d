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
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

from ._converter import loads
from ._exceptions import (
    APIStatusError,
    MalformedResponseError,
    RateLimitError,
    status_error_class,
)
from ._limits import (
    API_PREFIX,
    GENERATE_PATH,
    IMAGES_GENERATE_PATH,
    MEDIA_UPLOAD_PATH,
    POSTS_PATH,
    VIDEOS_GENERATE_PATH,
)
from ._ratelimit import http_date
from ._transport import Response
from ._version import __version__

__all__ = [
    "API_PREFIX",
    "PROTECTED_HEADERS",
    "QueryValue",
    "check_api_path",
    "check_header_value",
    "decode_json",
    "error_from_response",
    "merge_headers",
    "path_segment",
    "query_string",
    "retry_after_hint",
    "unreadable_write",
    "user_agent",
    "with_query",
]


# RFC 9110 token characters: what a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
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


#: Headers the client owns: only the client's own settings change them (the key in
#: ``PowerPost(api_key=...)``, the workspace with ``with_options(workspace_id=...)``).
#: ``Authorization`` is among them: the API takes ``Authorization: Bearer <key>`` as the
#: key too, so letting it through would let a request act with a key the client (its
#: sweeper, its rate-limit gate, its fleet, all keyed by its own key) knows nothing of.
PROTECTED_HEADERS: Final = frozenset({"x-api-key", "authorization", "x-workspace-id"})

QueryValue = str | int | float | bool


def merge_headers(
    base: Mapping[str, str], extra: Mapping[str, str], *, what: str = "extra_headers"
) -> dict[str, str]:
    """``base`` with ``extra`` laid over it (case-insensitively), each header checked.

    Raises:
        ValueError: ``extra`` would set the key (``x-api-key`` or ``Authorization``,
            in any case) or the workspace header, or a name or value could not go in a
            header.
    """
    if not isinstance(extra, Mapping):
        raise TypeError(f"{what} must be a mapping of header names to values")
    merged = dict(base)
    lowered = {name.lower(): name for name in merged}
    for name, value in extra.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"{what}: {name!r} is not a valid header name")
        if name.lower() in PROTECTED_HEADERS:
            if name.lower() == "x-workspace-id":
                raise ValueError(
                    f"{what} must not set {name}: the client sets it (use "
                    "pp.with_options(workspace_id=...) for another workspace)"
                )
            raise ValueError(
                f"{what} must not set {name}: the API reads it as the API key, which "
                "the client sends itself; pass the key as api_key= to PowerPost (another "
                "key: another PowerPost client)"
            )
        check_header_value(f"{what}[{name!r}]", value)
        previous = lowered.pop(name.lower(), None)
        if previous is not None:
            del merged[previous]
        merged[name] = value
        lowered[name.lower()] = name
    return merged


def with_query(path: str, extra: Mapping[str, QueryValue | None], what: str = "extra_query") -> str:
    """``path`` with ``extra``'s parameters appended (``None`` values left out).

    Raises:
        TypeError: ``extra`` is not a mapping of names to strings, numbers or booleans.
    """
    if not isinstance(extra, Mapping):
        raise TypeError(f"{what} must be a mapping of parameter names to values")
    pairs: list[tuple[str, str]] = []
    for name, value in extra.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{what}: parameter names must be non-empty strings, got {name!r}")
        if value is None:
            continue
        if isinstance(value, bool):
            pairs.append((name, "true" if value else "false"))
        elif isinstance(value, (str, int, float)):
            pairs.append((name, str(value)))
        else:
            raise TypeError(
                f"{what}[{name!r}] must be a string, number or boolean, got {type(value).__name__}"
            )
    if not pairs:
        return path
    return path + ("&" if "?" in path else "?") + urlencode(pairs)


def check_api_path(path: object) -> str:
    """A path for `PowerPost.request`: under ``/api/``, with nothing that could leave it.

    Raises:
        TypeError: ``path`` is not a string.
        ValueError: it is not an absolute path under ``/api/``, or holds a query, a
            fragment, ``..``, a backslash, whitespace or control characters.
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, got {type(path).__name__}")
    if not path.startswith("/api/") or path.startswith("//"):
        raise ValueError(
            f"path must start with /api/ (e.g. {API_PREFIX}/content/generations), got {path!r}"
        )
    if any(part in path for part in ("?", "#", "..", "\\", "//")) or not path.isprintable():
        raise ValueError(
            f"path {path!r} must not hold '?', '#', '..', '//', a backslash or control "
            "characters (pass query parameters as query=)"
        )
    if any(c.isspace() for c in path) or not path.isascii():
        raise ValueError(f"path {path!r} must be printable ASCII without whitespace")
    return path


def decode_json(response: Response) -> Any:
    """The JSON body of a successful response, or
    [`MalformedResponseError`][powerpost_async.MalformedResponseError] carrying the
    response's status, request id and headers."""
    try:
        return loads(response.content)
    except ValueError as exc:  # json.JSONDecodeError and orjson.JSONDecodeError both are
        status = response.status_code
        request_id = response.headers.get("x-request-id") or None
        raise MalformedResponseError(
            f"the server answered {status} with a body that is not JSON" + _quoting(request_id),
            body=response.content,
            errors=[_snippet(response.content)],
            status_code=status,
            request_id=request_id,
            headers=response.headers,
        ) from exc


# What a create leaves behind, by the path it is sent to.
_CREATES: Final = {
    GENERATE_PATH: "the generation",
    IMAGES_GENERATE_PATH: "the image generation",
    VIDEOS_GENERATE_PATH: "the video generation",
    POSTS_PATH: "the post",
    MEDIA_UPLOAD_PATH: "the uploaded media",
}


def unreadable_write(
    error: MalformedResponseError, method: str, url: str
) -> MalformedResponseError:
    """``error`` (a success whose body is not JSON) retold for a write that is not
    idempotent: the server did it, so it must not be sent again blindly.

    Args:
        error: What reading the answer raised.
        method: The request's method.
        url: The request's URL (its path names what a create made).
    """
    path = urlsplit(url).path
    status = error.status_code if error.status_code is not None else "a success"
    # endswith: a base URL may carry a path of its own (a proxy's prefix).
    made = next((what for end, what in _CREATES.items() if path.endswith(end)), None)
    if method != "POST":
        made = None
    if made is not None:
        consequence = f"{made} may exist and may have been charged; check before creating it again"
    else:
        consequence = "what it does may have been done (and charged); check before sending it again"
    return MalformedResponseError(
        f"{method} {path}: the request was carried out ({status}) but its answer could not "
        f"be read (not JSON): {consequence}{_quoting(error.request_id)}",
        body=error.body,
        errors=error.errors,
        status_code=error.status_code,
        request_id=error.request_id,
        headers=error.headers,
    )


def _quoting(request_id: str | None) -> str:
    return f" (request id {request_id})" if request_id else ""


def error_from_response(response: Response, *, now: float) -> APIStatusError:
    """The exception for a non-success response.

    Reads the documented envelope ``{"error": {"message", "code", "retryAfter"?}}`` and
    falls back to a description of the raw body when there is none.

    Args:
        response: The response, any status other than 200.
        now: The current Unix time: what a ``Retry-After`` date or ``X-RateLimit-Reset``
            is read against when the response has no ``Date`` header.
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

    cls = status_error_class(status, code)
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

    A date or a reset is an instant on the server's clock, so it is read against the
    response's ``Date`` header (``when - Date``): a server whose clock runs 10 minutes
    ahead must not turn a 5 s hint into 605 s. ``now`` (the local Unix time) stands in
    only for a missing or unreadable ``Date``.
    """
    hint = _seconds(body_value)
    if hint is not None:
        return hint
    server_now = http_date(headers.get("date"))
    if server_now is None:
        server_now = now
    header = headers.get("retry-after")
    if header is not None:
        hint = _seconds(header)
        if hint is not None:
            return hint
        when = http_date(header)
        if when is not None:
            return max(0.0, when - server_now)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = _seconds(headers.get("x-ratelimit-reset"))
        if reset is not None:
            return max(0.0, reset - server_now)
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
