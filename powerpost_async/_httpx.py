"""An optional transport on httpx (``pip install 'powerpost-async[httpx]'``).

Nothing else in the package imports this module, so ``import powerpost_async`` never
imports httpx: only naming [`HttpxTransport`][powerpost_async.HttpxTransport] does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any, cast

from multidict import CIMultiDict, CIMultiDictProxy

try:
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "HttpxTransport needs httpx, which is not installed: pip install 'powerpost-async[httpx]'",
        name=exc.name,
    ) from exc

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    PowerPostError,
)
from ._transport import (
    TIMEOUT_CACHE_SIZE,
    LoopBinding,
    Request,
    Response,
    StreamBody,
    check_declared_size,
    check_limits,
    read_capped,
    url_origin,
    url_path,
)

__all__ = ["HttpxTransport"]


class HttpxTransport:
    """Sends requests with an `AsyncClient`.

    The client is created lazily, inside the running event loop, on the first request
    (never at import time or in ``__init__``), with ``connection_limit`` connections,
    redirects not followed, TLS verification on and httpx's usual ``trust_env``
    (proxy and CA settings from the environment); `aclose()` closes it. Pass your
    own ``client`` to share its connection pool: it is then borrowed, and never closed
    here. Either way a redirect is never followed, so the API key never travels to
    another URL.

    A request's ``timeout`` bounds each step of the exchange (waiting for a pooled
    connection, connecting, sending, each wait for the answer), as httpx timeouts do,
    and reading of the body stops once the whole exchange has taken longer. A streamed
    body's (an upload's) whole exchange is bounded by it, its source's pauses included,
    and stopped by `aclose()`.

    Args:
        client: An ``httpx.AsyncClient`` to borrow instead of creating one.
        connection_limit: Most connections open at once. When borrowing, say how many
            the borrowed client allows (httpx does not tell): the SDK sizes its own
            concurrency (e.g. ``get_many``) on it.
        max_response_bytes: Larger response bodies are refused before being read
            (by their ``Content-Length``) or as soon as reading passes the limit.

    Raises:
        ValueError: ``connection_limit`` or ``max_response_bytes`` is below 1.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        connection_limit: int = 100,
        max_response_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        check_limits(connection_limit, max_response_bytes)
        self._client = client
        self._borrowed = client is not None
        self._limit = connection_limit
        self._max_response_bytes = max_response_bytes
        self._binding = LoopBinding()
        self._timeouts: dict[float | None, httpx.Timeout] = {}
        # Done once `aclose()` ran: stops the streamed exchanges still in flight.
        self._closing: asyncio.Future[None] | None = None

    @property
    def connection_limit(self) -> int:
        """How many requests can be in flight at once through this transport."""
        return self._limit

    def _open(self) -> httpx.AsyncClient:
        self._binding.check()
        client = self._client
        if client is None:
            client = self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=self._limit),
                follow_redirects=False,
            )
        elif client.is_closed:
            raise PowerPostError(
                "the httpx.AsyncClient lent to HttpxTransport is closed: keep it open "
                "as long as the PowerPost client that uses it"
            )
        return client

    def _timeout(self, seconds: float | None) -> httpx.Timeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = httpx.Timeout(seconds)
            # Cache the few values in use (the client's default, a caller's fixed one);
            # time left before a deadline is a new value each call: not cached.
            if len(self._timeouts) < TIMEOUT_CACHE_SIZE:
                self._timeouts[seconds] = timeout
        return timeout

    async def send(self, request: Request) -> Response:
        """Send one request and return its complete response.

        Raises:
            APIConnectionError: No response came back (``request_sent=False`` only
                when the connection could not even be made).
            APITimeoutError: ... because a timeout passed.
            ResponseValidationError: The body is larger than ``max_response_bytes``.
            PowerPostError: The transport is closed, or used from another event loop.
        """
        client = self._client
        loop = asyncio.get_running_loop()
        if client is None or loop is not self._binding.loop:
            client = self._open()
        deadline = None if request.timeout is None else loop.time() + request.timeout
        headers = request.headers
        content = request.content
        if isinstance(content, StreamBody) and content.length is not None:
            # Known length: Content-Length, not chunked (httpx then drops its chunking).
            headers = {**headers, "Content-Length": str(content.length)}
        try:
            outgoing = client.build_request(
                request.method,
                request.url,
                headers=headers,
                content=content,
                timeout=self._timeout(request.timeout),
            )
            if isinstance(content, StreamBody):
                return await self._exchange_streamed(client, outgoing, request, loop, deadline)
            return await self._exchange(client, outgoing, loop, deadline)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was ever handed this request: it surely did not leave.
            where = (
                f"connecting to {url_origin(request.url)}"
                if isinstance(exc, httpx.ConnectTimeout)
                else f"waiting for one of the {self._limit} pooled connections"
            )
            raise APITimeoutError(
                f"{request.method} {url_path(request.url)} timed out {where} "
                f"after {request.timeout} s",
                request_sent=False,
            ) from exc
        except (httpx.TimeoutException, _BodyDeadline) as exc:
            raise APITimeoutError(
                f"{request.method} {url_path(request.url)} timed out after {request.timeout} s"
            ) from exc
        except httpx.ConnectError as exc:
            raise APIConnectionError(
                f"could not connect to {url_origin(request.url)}: {exc}", request_sent=False
            ) from exc
        except (httpx.RequestError, OSError) as exc:
            raise APIConnectionError(
                f"{request.method} {url_path(request.url)} failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        outgoing: httpx.Request,
        loop: asyncio.AbstractEventLoop,
        deadline: float | None,
    ) -> Response:
        # Per request, so that a borrowed client that follows redirects does not.
        response = await client.send(outgoing, stream=True, follow_redirects=False)
        try:
            body = await self._read_capped(response, loop, deadline)
        finally:
            await response.aclose()
        headers = CIMultiDictProxy(CIMultiDict(response.headers.multi_items()))
        return Response(response.status_code, headers, body)

    async def _exchange_streamed(
        self,
        client: httpx.AsyncClient,
        outgoing: httpx.Request,
        request: Request,
        loop: asyncio.AbstractEventLoop,
        deadline: float | None,
    ) -> Response:
        """`_exchange` for a streamed body, stopped at the deadline or by `aclose()`.

        httpx asks the body's source for its chunks in the task that sends them, where
        its per-step timeouts do not reach and closing its pool does not interrupt: an
        upload's source that stalls would hold the request forever. So the exchange runs
        in a task of its own (one per upload, not per chunk), stopped and waited for, so
        that nothing is left inside the source (which the upload closes next).
        """
        exchange = loop.create_task(self._exchange(client, outgoing, loop, deadline))
        closing = self._closing
        if closing is None:
            closing = self._closing = loop.create_future()
        racing: set[asyncio.Future[Any]] = {exchange, closing}
        try:
            await asyncio.wait(
                racing,
                timeout=None if deadline is None else deadline - loop.time(),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            # The deadline passed, the transport closed, or the caller was cancelled
            # (then its CancelledError goes on once the exchange has stopped).
            if not exchange.done():
                exchange.cancel()
                await asyncio.wait({exchange})
            if not exchange.cancelled():
                # Retrieved, so that one dropped for the caller's cancellation is not
                # logged as never retrieved (otherwise it is raised just below).
                exchange.exception()
        if not exchange.cancelled():
            return exchange.result()
        # Stopped here: its cancellation is ours, and becomes the reason we stopped it.
        if closing.done():
            raise APIConnectionError(
                f"{request.method} {url_path(request.url)} failed: the client was closed "
                "while the request was in flight"
            )
        raise _BodyDeadline

    async def _read_capped(
        self,
        response: httpx.Response,
        loop: asyncio.AbstractEventLoop,
        deadline: float | None,
    ) -> bytes:
        limit = self._max_response_bytes
        check_declared_size(response.headers.get("content-length"), limit)

        def in_time() -> None:
            # httpx's read timeout is per read: a server trickling bytes would never
            # trip it, so the whole exchange's deadline is enforced here.
            if deadline is not None and loop.time() > deadline:
                raise _BodyDeadline

        # Leaving the loop early must close httpx's generator now, not leave it to the
        # event loop to finalise later in a task of its own. (aiter_bytes is an async
        # generator; httpx only annotates it as an AsyncIterator.)
        chunk_stream = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
        async with contextlib.aclosing(chunk_stream) as stream:
            return await read_capped(stream, limit, in_time)

    async def aclose(self) -> None:
        """Close the client (unless borrowed). Safe to call twice."""
        self._binding.closed = True
        closing = self._closing
        if closing is not None and not closing.done():
            closing.set_result(None)
        client, self._client = self._client, None
        if client is not None and not self._borrowed:
            await client.aclose()


class _BodyDeadline(Exception):
    """The whole exchange outlasted the request's timeout while its body was read."""
