"""The client: configuration, the request path and its retry loop."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

import tenacity as _t
from yarl import URL

from ._breaker import CircuitBreaker
from ._converter import structure
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    MalformedResponseError,
    PowerPostError,
    RateLimitError,
)
from ._http import (
    check_header_value,
    decode_json,
    error_from_response,
    user_agent,
)
from ._resources import Account, Generations
from ._transport import Request, Response, Transport

__all__ = ["DEFAULT_BASE_URL", "PowerPost"]

T = TypeVar("T")

logger = logging.getLogger("powerpost_async")

DEFAULT_BASE_URL: Final = "https://powerpost.ai"
# Full-jitter exponential backoff between retries: uniform(0, min(MAX, INITIAL * 2**n)).
BACKOFF_INITIAL: Final = 0.5
BACKOFF_MAX: Final = 8.0

RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class PowerPost:
    """The PowerPost API client. Use it as an async context manager, one per event loop.

    Example:
        ```python
        async with PowerPost() as pp:   # key and workspace from the environment
            created = await pp.generations.create(prompt="We shipped dark mode",
                                                  post_types=["x-post"])
            generation = await pp.generations.wait(created.generation_id)
        ```

    Args:
        api_key: Your ``pp_live_sk_...`` key; defaults to ``$POWERPOST_API_KEY``.
        workspace_id: The workspace to work in; defaults to ``$POWERPOST_WORKSPACE_ID``.
            Needed by every ``generations`` call, not by ``account.credits()``.
        base_url: Defaults to ``$POWERPOST_BASE_URL``, then ``https://powerpost.ai``.
        transport: How requests are sent; defaults to a new
            [`AiohttpTransport`][powerpost_async.AiohttpTransport]. The client closes it on exit.
        timeout: Seconds one HTTP exchange may take (default 30; ``None``: no limit).
        max_retries: Retries after a retryable failure (default 2: connection error, timeout, 429,
            500/502/503/504); ``create`` is only retried when it surely was not received.
        max_retry_after: A 429 asking us to wait longer than this (default 60 s) is raised at once
            (as [`RateLimitError`][powerpost_async.RateLimitError] with ``retry_after`` set).
        allow_insecure_http: Allow a plain ``http://`` base URL that is not loopback
            (sends your key in clear text: only for trusted networks).
        circuit_breaker: After 10 consecutive failures (5xx, no answer) across the
            client, hold every request back (raising
            [`CircuitOpenError`][powerpost_async.CircuitOpenError], nothing
            sent) and let one probe test the API after a cool-down of 1 s, doubling to
            30 s: an outage then costs one request per cool-down, not a storm of retries.
        clock: Monotonic clock in seconds (injectable for tests).
        sleep: Async sleep (injectable for tests, e.g. to run in virtual time).

    Raises:
        PowerPostError: No API key was given or found in ``$POWERPOST_API_KEY``.
        ValueError: A setting is malformed (e.g. a key containing a newline).
    """

    def __init__(
        self,
        api_key: str | None = None,
        workspace_id: str | None = None,
        *,
        base_url: str | None = None,
        transport: Transport | None = None,
        timeout: float | None = 30.0,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        allow_insecure_http: bool = False,
        circuit_breaker: bool = True,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not api_key:  # None or "" (e.g. an unset variable read as ""): look further
            api_key = os.environ.get("POWERPOST_API_KEY") or None
        if not api_key:
            raise PowerPostError(
                "no API key: pass api_key=... or set the POWERPOST_API_KEY environment variable"
            )
        check_header_value("api_key", api_key)
        if not workspace_id:
            workspace_id = os.environ.get("POWERPOST_WORKSPACE_ID") or None
        if workspace_id is not None:
            check_header_value("workspace_id", workspace_id)
        if not base_url:
            base_url = os.environ.get("POWERPOST_BASE_URL") or DEFAULT_BASE_URL
        self._base_url = _check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        self._timeout = _check_timeout(timeout)
        self._max_retries = _check_retries(max_retries)
        if not max_retry_after >= 0:
            raise ValueError(f"max_retry_after must be >= 0, got {max_retry_after!r}")
        self._max_retry_after = float(max_retry_after)
        self._workspace_id = workspace_id
        self._clock: Clock = clock or time.monotonic
        self._sleep: Sleep = sleep or asyncio.sleep

        if transport is None:
            from ._aiohttp import AiohttpTransport

            transport = AiohttpTransport()
        self._transport: Transport = transport

        base_headers = {
            "x-api-key": api_key,
            "Accept": "application/json",
            "User-Agent": user_agent(),
        }
        self._headers_plain: Mapping[str, str] = base_headers
        self._headers_workspace: Mapping[str, str] | None = (
            {**base_headers, "X-Workspace-Id": workspace_id} if workspace_id else None
        )
        self._json_headers: dict[bool, Mapping[str, str]] = {}
        # A 429's retry hint slows the whole client: nothing is sent before this instant.
        self._not_before = 0.0
        self._breaker = CircuitBreaker(self._clock) if circuit_breaker else None
        self._closed = False

        self.generations: Generations = Generations(self)
        """Create, fetch, list, iterate and await generations."""
        self.account: Account = Account(self)
        """The account: its credit balance."""

    # -- configuration, read-only -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API's base URL, e.g. ``https://powerpost.ai``."""
        return self._base_url

    @property
    def workspace_id(self) -> str | None:
        """The workspace ``generations`` calls work in."""
        return self._workspace_id

    @property
    def timeout(self) -> float | None:
        """Default seconds one HTTP exchange may take."""
        return self._timeout

    @property
    def max_retries(self) -> int:
        """Default retries after a retryable failure."""
        return self._max_retries

    @property
    def transport(self) -> Transport:
        """The transport requests go through."""
        return self._transport

    @property
    def is_closed(self) -> bool:
        """``True`` once `aclose()` ran."""
        return self._closed

    def __repr__(self) -> str:
        # The key is deliberately absent.
        return f"<PowerPost base_url={self._base_url!r} workspace_id={self._workspace_id!r}>"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> PowerPost:
        if self._closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client and its transport. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self.generations._aclose()
        await self._transport.aclose()

    # -- the request path -----------------------------------------------------------------

    def _headers(self, *, workspace: bool, json_body: bool = False) -> Mapping[str, str]:
        if not workspace:
            headers = self._headers_plain
        elif self._headers_workspace is not None:
            headers = self._headers_workspace
        else:
            raise PowerPostError(
                "no workspace: pass workspace_id=... or set the POWERPOST_WORKSPACE_ID "
                "environment variable (every generations call needs one)"
            )
        if not json_body:
            return headers
        cached = self._json_headers.get(workspace)
        if cached is None:
            cached = self._json_headers[workspace] = {
                **headers,
                "Content-Type": "application/json",
            }
        return cached

    def _request(
        self,
        method: str,
        path: str,
        content: bytes | None,
        timeout: float | UseClientDefault | None,
        *,
        workspace: bool = True,
    ) -> Request:
        return Request(
            method,
            self._base_url + path,
            self._headers(workspace=workspace, json_body=content is not None),
            content,
            self._timeout if timeout is USE_CLIENT_DEFAULT else _check_timeout(timeout),
        )

    # The three callers below repeat their few lines of send-then-recover on purpose:
    # a shared coroutine would put one more frame on every request's hot path.

    async def _get(
        self,
        path: str,
        cls: type[T],
        *,
        workspace: bool = True,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> T:
        request = self._request("GET", path, None, timeout, workspace=workspace)
        retries = self._retries(max_retries)
        try:  # the happy path: one call, no retry machinery
            response, data = await self._send_once(request)
        except APIError as error:
            response, data = await self._recover(request, error, True, retries)
        return structure(data, cls, body=response.content)

    async def _get_json(
        self,
        path: str,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> tuple[Response, Any]:
        """Like ``_get``, but the decoded body is returned unstructured (see ``iterate``)."""
        request = self._request("GET", path, None, timeout)
        retries = self._retries(max_retries)
        try:
            return await self._send_once(request)
        except APIError as error:
            return await self._recover(request, error, True, retries)

    async def _post(
        self,
        path: str,
        content: bytes,
        cls: type[T],
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> T:
        request = self._request("POST", path, content, timeout)
        retries = self._retries(max_retries)
        try:
            response, data = await self._send_once(request)
        except APIError as error:
            response, data = await self._recover(request, error, False, retries)
        return structure(data, cls, body=response.content)

    def _retries(self, max_retries: int | UseClientDefault) -> int:
        if max_retries is USE_CLIENT_DEFAULT:
            return self._max_retries
        return _check_retries(max_retries)

    async def _recover(
        self, request: Request, error: APIError, idempotent: bool, retries: int
    ) -> tuple[Response, Any]:
        """After a failed first attempt: retry if it is safe and allowed, else re-raise."""
        if retries == 0 or not self._should_retry(error, idempotent):
            raise error
        return await self._retry(request, error, idempotent, retries)

    async def _send_once(self, request: Request) -> tuple[Response, Any]:
        if self._closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        if self._not_before:
            delay = self._not_before - self._clock()
            if delay > 0:
                if delay > self._max_retry_after:
                    # The whole client is rate limited for longer than we may wait.
                    raise RateLimitError(
                        "the client is rate limited: the API asked to wait "
                        f"{delay:.1f} s more, longer than max_retry_after",
                        code="RATE_LIMIT_EXCEEDED",
                        retry_after=delay,
                    )
                await self._sleep(delay)
        breaker = self._breaker
        probe = breaker.admit() if breaker is not None else False
        debug = logger.isEnabledFor(logging.DEBUG)
        started = self._clock() if debug else 0.0
        try:
            response = await self._transport.send(request)
        except APIConnectionError as exc:
            if breaker is not None:
                breaker.failure()
            if debug:
                logger.debug(
                    "%s %s -> %s after %.1f ms",
                    request.method,
                    _path(request.url),
                    type(exc).__name__,
                    (self._clock() - started) * 1000,
                )
            raise
        except BaseException:
            if probe:  # cancelled (or a bug): no verdict, let another request probe
                breaker.abandon()  # type: ignore[union-attr]
            raise
        if debug:
            logger.debug(
                "%s %s -> %d in %.1f ms",
                request.method,
                _path(request.url),
                response.status_code,
                (self._clock() - started) * 1000,
            )
        if 200 <= response.status_code < 300:
            try:
                data = decode_json(response)
            except MalformedResponseError:
                if breaker is not None:
                    breaker.failure()
                raise
            if breaker is not None:
                breaker.success()
            return response, data
        if breaker is not None:
            # 4xx (429 included) shows the API is up; 5xx shows it is not.
            if response.status_code >= 500:
                breaker.failure()
            else:
                breaker.success()
        error = error_from_response(response, now=time.time())
        if isinstance(error, RateLimitError) and error.retry_after:
            # Slow the whole client, but never for longer than max_retry_after: a hint of
            # a day (or a hostile one) must not silence the client for a day.
            pause = min(error.retry_after, self._max_retry_after)
            self._not_before = max(self._not_before, self._clock() + pause)
        raise error

    def _should_retry(self, error: BaseException, idempotent: bool) -> bool:
        if isinstance(error, RateLimitError):
            # Rejected before any work was done, so even a create may go again, unless
            # the server asks for a longer pause than we are allowed to take.
            return error.retry_after is None or error.retry_after <= self._max_retry_after
        if isinstance(error, APIStatusError):
            return idempotent and error.status_code in RETRYABLE_STATUS
        if isinstance(error, APIConnectionError):
            # A create that may have reached the server must not be sent twice.
            return idempotent or not error.request_sent
        # A garbled body is a transport fault: read again. A create may have worked: don't.
        return idempotent and isinstance(error, MalformedResponseError)

    def _wait(self, state: _t.RetryCallState) -> float:
        """Full-jitter exponential backoff, or the server's hint, whichever is later."""
        backoff = random.uniform(
            0, min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (state.attempt_number - 1))
        )
        gate = self._not_before
        if self._breaker is not None:
            gate = max(gate, self._breaker.open_until)
        return max(backoff, gate - self._clock(), 0.0)

    async def _retry(
        self, request: Request, first_error: APIError, idempotent: bool, retries: int
    ) -> tuple[Response, Any]:
        pending: list[APIError] = [first_error]

        def before_sleep(state: _t.RetryCallState) -> None:
            if logger.isEnabledFor(logging.DEBUG) and state.outcome is not None:
                logger.debug(
                    "retrying %s %s in %.2f s after %s (retry %d of %d)",
                    request.method,
                    _path(request.url),
                    state.upcoming_sleep,
                    _short(state.outcome.exception()),
                    state.attempt_number,
                    retries,
                )

        retrying = _t.AsyncRetrying(
            stop=_t.stop_after_attempt(retries + 1),
            wait=self._wait,
            retry=_t.retry_if_exception(lambda exc: self._should_retry(exc, idempotent)),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if pending:  # the failure that got us here counts as the first attempt
                    raise pending.pop()
                return await self._send_once(request)
        raise AssertionError(
            "unreachable: tenacity either returns or re-raises"
        )  # pragma: no cover


def _short(exc: BaseException | None) -> str:
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} {exc.code or ''}".strip()
    return type(exc).__name__


def _path(url: str) -> str:
    return URL(url, encoded=True).raw_path_qs


def _check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a string, got {type(base_url).__name__}")
    check_header_value("base_url", base_url)
    url = URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if url.query_string or url.fragment or url.user or url.password:
        raise ValueError("base_url must not carry a query, a fragment or credentials")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"refusing to send the API key in clear text to {url.host}: use https, or pass "
            "allow_insecure_http=True if this network is trusted"
        )
    return str(url).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    return float(timeout)


def _check_retries(max_retries: Any) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    return max_retries
