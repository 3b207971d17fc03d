"""The default transport, on aiohttp."""

from __future__ import annotations

import asyncio

import aiohttp
from yarl import URL

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
    release_body,
    url_origin,
    url_path,
)

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
        headers = request.headers
        content = request.content
        if isinstance(content, StreamBody) and content.length is not None:
            # Known length: Content-Length, not chunked (aiohttp would send it chunked).
            headers = {**headers, "Content-Length": str(content.length)}
        try:
            async with session.request(
                request.method,
                URL(request.url, encoded=True),
                headers=headers,
                data=content,
                timeout=self._timeout(request.timeout),
                allow_redirects=False,  # the key must never follow a redirect elsewhere
            ) as resp:
                length = resp.content_length
                check_declared_size(length, self._max_response_bytes)
                if length is not None and "Content-Encoding" not in resp.headers:
                    body = await resp.read()  # its size is known, and within the cap
                else:  # chunked, or compressed: only the inflated size counts
                    body = await read_capped(resp.content.iter_any(), self._max_response_bytes)
                return Response(resp.status, resp.headers, body)
        except aiohttp.ConnectionTimeoutError as exc:
            raise APITimeoutError(
                f"timed out connecting to {url_origin(request.url)}", request_sent=False
            ) from exc
        except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
            raise APITimeoutError(
                f"{request.method} {url_path(request.url)} timed out after {request.timeout} s"
            ) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            # Caught before its base, ClientConnectorError: in older aiohttp (3.10 among
            # them) it never sets the os_error that the base's property reads.
            raise APIConnectionError(
                f"could not connect to {url_origin(request.url)}: TLS certificate verification "
                f"failed: {exc.certificate_error}",
                request_sent=False,
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise APIConnectionError(
                f"could not connect to {url_origin(request.url)}: {exc.os_error}",
                request_sent=False,
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise APIConnectionError(
                f"{request.method} {url_path(request.url)} failed: {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            if isinstance(content, StreamBody):
                # aiohttp writes the body from a task of its own, cancelled (not awaited)
                # when the request ends, timed out or failed: it may still be inside the
                # upload's source, which the upload closes as soon as this returns.
                await release_body(content)

    async def aclose(self) -> None:
        """Close the session (unless borrowed). Safe to call twice."""
        self._binding.closed = True
        session, self._session = self._session, None
        if session is not None and not self._borrowed:
            await session.close()
