"""Transports: how bytes get to the API and back.

A transport is one async method, `send()`, taking our own
[`Request`][powerpost_async.Request] and returning our own [`Response`][powerpost_async.Response],
plus `aclose()`.
No aiohttp (or httpx) type appears here; the client builds requests and reads responses
without awaiting anything, so any HTTP library can sit underneath.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from ._converter import dumps, loads

__all__ = [
    "TIMEOUT_CACHE_SIZE",
    "LoopBinding",
    "MockTransport",
    "Request",
    "Response",
    "StreamBody",
    "Transport",
    "check_declared_size",
    "check_limits",
    "read_capped",
    "release_body",
    "url_origin",
    "url_path",
]

#: Distinct timeouts a transport keeps a prepared timeout object for.
TIMEOUT_CACHE_SIZE = 16

# Headers whose values are secrets: never shown in a repr, a log record or an error.
SECRET_HEADERS = frozenset({"x-api-key", "authorization"})


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


class StreamBody:
    """A request body sent in chunks, never held whole in memory (an upload's).

    Iterate it with ``async for chunk in body`` to get its bytes; a transport hands the
    chunks to the network as they come, with ``Content-Length: length`` when the length
    is known and chunked transfer encoding otherwise.

    A replayable body (a file read from disk, bytes) starts again from its first byte
    at each iteration, so a request refused before it was sent can go again. A one-shot
    body (an async iterator) can be iterated once: after its first chunk was read, it
    can never be sent again (`can_resend` turns ``False``; the client then does not
    retry the request, whatever the error).

    Args:
        chunks: Called at each iteration for the body's chunks, from the first one.
        length: The body's size in bytes, if known.
        replayable: ``False`` if ``chunks`` can only be called once (a one-shot body).
    """

    __slots__ = ("_chunks", "_left", "_reader", "_started", "length", "replayable")

    def __init__(
        self,
        chunks: Callable[[], AsyncIterable[bytes]],
        *,
        length: int | None = None,
        replayable: bool = True,
    ) -> None:
        if length is not None and (isinstance(length, bool) or length < 0):
            raise ValueError(f"length must be None or an integer >= 0, got {length!r}")
        self._chunks = chunks
        self._started = False
        # The task inside the source right now (asking it for a chunk), and what tells
        # `release_body` when it has left: see there. A body is read by one task at a time.
        self._reader: asyncio.Task[Any] | None = None
        self._left: asyncio.Event | None = None
        #: The size in bytes, or ``None`` if unknown (then sent chunked).
        self.length = length
        #: Whether the body can be iterated again from its start.
        self.replayable = replayable

    @property
    def started(self) -> bool:
        """Whether a chunk of it was ever read (by a transport, or `read`)."""
        return self._started

    @property
    def can_resend(self) -> bool:
        """Whether the body can be sent (again): replayable, or never read yet."""
        return self.replayable or not self._started

    def __aiter__(self) -> AsyncIterator[bytes]:
        if not self.can_resend:
            raise RuntimeError(
                "this one-shot request body was already read: it cannot be sent again"
            )
        return _Chunks(self, self._chunks)

    async def read(self) -> bytes:
        """The whole body, as bytes (for tests: it holds everything in memory)."""
        return b"".join([chunk async for chunk in self])

    def __repr__(self) -> str:
        kind = "replayable" if self.replayable else "one-shot"
        return f"<StreamBody {kind} length={self.length}>"


class _Chunks:
    """One iteration of a `StreamBody`: marks it started when its first chunk is asked for.

    Calling ``__aiter__`` reads nothing (aiohttp calls it when building the request,
    before connecting): only asking for a chunk does.
    """

    __slots__ = ("_body", "_chunks", "_iterator")

    def __init__(self, body: StreamBody, chunks: Callable[[], AsyncIterable[bytes]]) -> None:
        self._body = body
        self._chunks: Callable[[], AsyncIterable[bytes]] | None = chunks
        self._iterator: AsyncIterator[bytes] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        iterator = self._iterator
        if iterator is None:
            if self._chunks is None:
                raise StopAsyncIteration
            if not self._body.can_resend:
                raise RuntimeError(
                    "this one-shot request body was already read: it cannot be sent again"
                )
            self._body._started = True
            iterator = self._iterator = self._chunks().__aiter__()
            self._chunks = None
        body = self._body
        body._reader = asyncio.current_task()
        try:
            return await iterator.__anext__()
        finally:
            body._reader = None
            left, body._left = body._left, None
            if left is not None:
                left.set()


@attrs.frozen(repr=False)
class Request:
    """An HTTP request, as the client hands it to a transport.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        url: The absolute URL, path segments and query already percent-encoded.
        headers: Header names and values (the API key among them: never logged).
        content: The body: bytes, a [`StreamBody`][powerpost_async.StreamBody] (an
            upload, sent as it is read), or ``None``.
        timeout: Seconds the whole exchange may take, or ``None`` for no limit.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes | StreamBody | None = None
    timeout: float | None = None

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url} headers={_redacted(self.headers)!r}>"


def _case_insensitive(headers: Mapping[str, str] | None) -> Mapping[str, str]:
    if isinstance(headers, (CIMultiDictProxy, CIMultiDict)):
        return headers  # the aiohttp transport's headers: already case-insensitive
    return CIMultiDictProxy(CIMultiDict(headers or {}))


@attrs.frozen(repr=False)
class Response:
    """An HTTP response, as a transport hands it back.

    Attributes:
        status_code: The HTTP status.
        headers: Response headers, looked up case-insensitively.
        content: The whole body, as bytes.
    """

    status_code: int
    headers: Mapping[str, str] = attrs.field(factory=dict, converter=_case_insensitive)
    content: bytes = b""

    @classmethod
    def from_json(
        cls, status_code: int, data: Any, *, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A response with a JSON body (handy in a [`MockTransport`][powerpost_async.MockTransport]
        handler)."""
        merged = {"Content-Type": "application/json", **(headers or {})}
        return cls(status_code, headers=merged, content=dumps(data))

    def json(self) -> Any:
        """The body decoded as JSON."""
        return loads(self.content)

    def __repr__(self) -> str:
        return f"<Response {self.status_code} ({len(self.content)} bytes)>"


@runtime_checkable
class Transport(Protocol):
    """What the client needs from an HTTP library.

    ``send`` must raise [`APIConnectionError`][powerpost_async.APIConnectionError] (or
    [`APITimeoutError`][powerpost_async.APITimeoutError]) when no response arrives, with
    ``request_sent=False`` only when the request surely never left (e.g. connection
    refused): the client relies on that to never send a credit-costing request twice.
    Any HTTP status is a response, not an error.
    """

    async def send(self, request: Request) -> Response:
        """Send one request and return its complete response.

        With a [`StreamBody`][powerpost_async.StreamBody], return or raise only once no
        task is still asking it for a chunk: its source (an upload's async generator) is
        closed next, and an async generator cannot be closed while it runs.
        """
        ...

    async def aclose(self) -> None:
        """Release connections; the transport is unusable afterwards."""
        ...


Handler = Callable[[Request], "Response | Awaitable[Response]"]


class MockTransport:
    """A transport that calls ``handler(request)`` instead of the network.

    The handler may be sync or async, may return a [`Response`][powerpost_async.Response]
    or raise (e.g. [`APIConnectionError`][powerpost_async.APIConnectionError] to simulate
    a network failure).

    A streamed body (a [`StreamBody`][powerpost_async.StreamBody], e.g. an upload's) is
    read whole before the handler is called, as a server would receive it: the handler
    and ``requests`` see ``content`` as bytes. With ``read_body=False`` the handler gets
    the request as sent instead, its body unread: it may ``await request.content.read()``,
    or raise without reading it (a connection refused before anything was sent). An error
    raised while reading the body (by the source of an upload) propagates as it is.

    Args:
        handler: Answers each request.
        read_body: Read a streamed body into bytes before calling ``handler``.

    Attributes:
        requests: Every request seen, in order.
        closed: ``True`` once ``aclose()`` ran.

    Example:
        ```python
        def handler(request: Request) -> Response:
            return Response.from_json(200, {"balance": 47})

        async with PowerPost("pp_live_sk_test", transport=MockTransport(handler)) as pp:
            assert (await pp.account.credits()).balance == 47
        ```
    """

    def __init__(self, handler: Handler, *, read_body: bool = True) -> None:
        self._handler = handler
        self._read_body = read_body
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> Response:
        """Record the request and answer it with the handler."""
        if self.closed:
            raise RuntimeError("MockTransport is closed")
        if self._read_body and isinstance(request.content, StreamBody):
            request = attrs.evolve(request, content=await request.content.read())
        self.requests.append(request)
        result = self._handler(request)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, Response):
            raise TypeError(f"MockTransport handler returned {type(result).__name__}, not Response")
        return result

    async def aclose(self) -> None:
        """Mark the transport closed."""
        self.closed = True


def check_limits(connection_limit: int, max_response_bytes: int) -> None:
    """Refuse a transport's limits below 1, naming the setting."""
    if connection_limit < 1:
        raise ValueError(f"connection_limit must be at least 1, got {connection_limit}")
    if max_response_bytes < 1:
        raise ValueError(f"max_response_bytes must be at least 1, got {max_response_bytes}")


def check_declared_size(length: int | str | None, limit: int) -> None:
    """Refuse a body whose declared ``Content-Length`` is over ``limit``, before reading it.

    Raises:
        ResponseValidationError: It is.
    """
    from ._exceptions import ResponseValidationError

    if isinstance(length, str):
        length = int(length) if length.strip().isdigit() else None
    if length is not None and length > limit:
        raise ResponseValidationError(
            f"response body of {length} bytes is larger than the {limit}-byte limit; "
            "it was not read"
        )


async def read_capped(
    chunks: AsyncIterable[bytes], limit: int, check: Callable[[], None] | None = None
) -> bytes:
    """A body read chunk by chunk, refused as soon as it grows past ``limit`` bytes.

    Counted as read, after any decompression: a small gzip body must not inflate past
    the cap. ``check`` runs after each chunk (a transport's deadline, say).

    Raises:
        ResponseValidationError: The body is larger than ``limit``.
    """
    from ._exceptions import ResponseValidationError

    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ResponseValidationError(
                f"response body is larger than the {limit}-byte limit; reading stopped"
            )
        if check is not None:
            check()
        parts.append(chunk)
    return b"".join(parts)


async def release_body(body: bytes | StreamBody | None) -> None:
    """Once a request is over, stop the task still inside its body's source, and wait
    until it has left the source.

    A transport may read a streamed body in a task of its own (aiohttp's body writer),
    which it cancels when the request ends but does not wait for. Until that task has
    handled its cancellation it is still inside the source: an upload's async generator,
    which the upload closes next, and closing a running async generator raises
    ``RuntimeError`` in place of the request's real error. The task reads for a request
    that is over, so cancelling it (again) stops nothing that is still wanted.
    """
    if not isinstance(body, StreamBody):
        return
    reader = body._reader
    if reader is None or reader is asyncio.current_task():
        return  # nothing inside the source, or the caller is the one inside
    left = body._left
    if left is None:
        left = body._left = asyncio.Event()
    reader.cancel()
    await left.wait()


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, for messages (never its path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"  # never user:password@


def url_path(url: str) -> str:
    """The path of a URL, for messages (never its query: it may hold a cursor)."""
    return urlsplit(url).path


class LoopBinding:
    """Ties a transport to the event loop of its first request, and to its lifetime.

    HTTP clients' pooled connections and locks belong to the loop that made them: used
    from another loop they fail late and obscurely, or hang. This says what to do instead.
    """

    __slots__ = ("closed", "loop")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def check(self) -> None:
        """Bind to the running loop on first use; raise if closed or on another loop."""
        from ._exceptions import PowerPostError

        loop = asyncio.get_running_loop()
        if self.closed:
            raise PowerPostError(
                "this PowerPost client (its transport) is closed; create a new one, "
                "e.g. `async with PowerPost() as pp:`"
            )
        if self.loop is None:
            self.loop = loop
        elif loop is not self.loop:
            raise PowerPostError(
                "this PowerPost client was first used in another event loop and cannot be "
                "used from this one: create one client per event loop (for example in your "
                "app's lifespan or startup hook), not at import time"
            )
