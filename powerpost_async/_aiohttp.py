"""The default transport, on aiohttp."""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    PowerPostError,
    ResponseValidationError,
)
from ._transport import TIMEOUT_CACHE_SIZE, LoopBinding, Request, Response, check_limits

__all__ = ["AiohttpTransport"]

DEFAULT_CONNECTION_LIMIT = 100


class AiohttpTransport:
    """Sends requests with an `ClientSession`.

    The session is created lazily, inside the running event loop, on the first request
    (never at import time or in ``__init__``), and closed by `aclose()`. Pass your own
    ``session`` to share its connection pool: it is then borrowed, and never closed here.

    Args:
        session: A session to borrow instead of creating one.
        connection_limit: Most connections open at once (ignored when borrowing).
        max_response_bytes: Larger response bodies are refused before being read.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        connection_limit: int = 100,
        max_response_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        check_limits(connection_limit, max_response_bytes)
        self._session = session
        self._borrowed = session is not None
        self._limit = connection_limit
        self._max_response_bytes = max_response_bytes
        self._binding = LoopBinding()
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}

    @property
    def connection_limit(self) -> int:
        """How many requests can be in flight at once through this transport."""
        if self._session is not None and self._borrowed:
            limit = self._session.connector.limit if self._session.connector else 0
            return limit or DEFAULT_CONNECTION_LIMIT
        return self._limit

    def _open(self) -> aiohttp.ClientSession:
        self._binding.check()
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0)
            session = self._session = aiohttp.ClientSession(connector=connector)
        return session

    def _timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=seconds)
            # Cache the few values in use (the client's default, a caller's fixed one);
            # time left before a deadline is a new value each call: not cached.
            if len(self._timeouts) < TIMEOUT_CACHE_SIZE:
                self._timeouts[seconds] = timeout
        return timeout

    async def send(self, request: Request) -> Response:
        """Send one request; connection failures become
        [`APIConnectionError`][powerpost_async.APIConnectionError]."""
        session = self._session
        if session is None or asyncio.get_running_loop() is not self._binding.loop:
            session = self._open()
        if session.closed:
            raise PowerPostError(
                "the aiohttp ClientSession lent to AiohttpTransport was closed while this "
                "PowerPost client still uses it: close the client first, then the session"
            )
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),
                headers=request.headers,
                data=request.content,
                timeout=self._timeout(request.timeout),
                allow_redirects=False,  # the key must never follow a redirect elsewhere
            ) as resp:
                length = resp.content_length
                if length is not None and length > self._max_response_bytes:
                    raise ResponseValidationError(
                        f"response body of {length} bytes is larger than the "
                        f"{self._max_response_bytes}-byte limit; it was not read"
                    )
                if length is not None and "Content-Encoding" not in resp.headers:
                    body = await resp.read()  # its size is known, and within the cap
                else:  # chunked, or compressed: only the inflated size counts
                    body = await self._read_capped(resp)
                return Response(resp.status, resp.headers, body)
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"timed out connecting to {_origin(request.url)}", request_sent=False
            ) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            raise APITimeoutError(
                f"{request.method} {_path(request.url)} timed out after {request.timeout} s"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"could not connect to {_origin(request.url)}: {exc.os_error}", request_sent=False
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(
                f"{request.method} {_path(request.url)} failed: {type(exc).__name__}: {exc}"
            ) from exc

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        # No Content-Length (chunked): read in pieces, refuse once past the cap.
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > self._max_response_bytes:
                raise ResponseValidationError(
                    f"response body is larger than the {self._max_response_bytes}-byte "
                    "limit; reading stopped"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        """Close the session (unless borrowed). Safe to call twice."""
        self._binding.closed = True
        session, self._session = self._session, None
        if session is not None and not self._borrowed:
            await session.close()


def _origin(url: str) -> str:
    parsed = URL(url, encoded=True)
    return f"{parsed.scheme}://{parsed.raw_authority}"


def _path(url: str) -> str:
    return URL(url, encoded=True).raw_path
