"""The client: configuration, the request path and its retry loop."""

from __future__ import annotations

import asyncio
import enum
import ipaddress
import logging
import math
import os
import time
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any, Final, TypeVar

import attrs
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
from ._fleet import Coordinator
from ._http import (
    check_header_value,
    decode_json,
    error_from_response,
    user_agent,
)
from ._models import Generation
from ._policy import RETRY_BACKOFF, may_resend
from ._ratelimit import MAX_PAUSE, RateLimitGate
from ._resources import Account, Generations
from ._timing import Clock, Sleep
from ._transport import Request, Response, Transport

__all__ = ["DEFAULT_BASE_URL", "PowerPost"]

T = TypeVar("T")

logger = logging.getLogger("powerpost_async")

DEFAULT_BASE_URL: Final = "https://powerpost.ai"
# An attempt left with less than this before its deadline still gets this long.
_MIN_ATTEMPT: Final = 0.001
# The most time a pause leaves before a call's deadline for the attempt after it.
_ATTEMPT_ROOM: Final = 1.0


class _FromTimeout(enum.Enum):
    FROM_TIMEOUT = enum.auto()


#: Internal: the call's deadline is its timeout from now (what every public call does).
FROM_TIMEOUT: Final = _FromTimeout.FROM_TIMEOUT


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
        timeout: Seconds a call may take (default 60; ``None``: no limit): its deadline,
            covering every attempt, the backoff between them and any time it is held
            back by a 429's pause or the circuit breaker. Waits (``wait``, ``wait_many``,
            ``as_completed``) have their own ``timeout`` and use this one per request.
        max_retries: Retries after a retryable failure (default 2: connection error, timeout, 429,
            500/502/503/504); ``create`` is only retried when it surely was not received.
        max_retry_after: The longest a call (other than a wait) is held back by a pause,
            whatever its deadline (default 60 s). A 429 asking for longer is raised at once
            (as [`RateLimitError`][powerpost_async.RateLimitError] with ``retry_after`` set),
            and so are later calls while the client is paused for longer.
        allow_insecure_http: Allow a plain ``http://`` base URL that is not loopback
            (sends your key in clear text: only for trusted networks).
        circuit_breaker: After 10 consecutive failures (5xx, no answer) across the
            client, hold every request back (nothing sent) and let one probe test the API
            after a cool-down of 1 s, doubling to 30 s: an outage then costs one request
            per cool-down, not a storm of retries. Calls that may retry wait in line
            within their deadline and go as soon as the probe succeeds; the others get
            [`CircuitOpenError`][powerpost_async.CircuitOpenError] at once.
        coordinator: Shares the waiting with the other processes of a service (one sweeper
            for the whole fleet, webhooks and 429 pauses seen by all), e.g.
            [`RedisCoordinator`][powerpost_async.redis.RedisCoordinator]; one per client.
            ``None`` (the default): this client waits on its own. See
            the fleet mode page (docs/concepts/fleet.md).
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
        timeout: float | None = 60.0,
        max_retries: int = 2,
        max_retry_after: float = 60.0,
        allow_insecure_http: bool = False,
        circuit_breaker: bool = True,
        coordinator: Coordinator | None = None,
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
        # The gates every request passes: a 429's pause and paced release, the breaker.
        self._rate = RateLimitGate(
            self._clock, self._sleep, ceiling=max(MAX_PAUSE, self._max_retry_after)
        )
        self._breaker = CircuitBreaker(self._clock, self._sleep) if circuit_breaker else None
        self._closed = False

        self._coordinator = coordinator
        self._joining: asyncio.Task[None] | None = None
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
        """Default seconds a call may take, retries and pauses included."""
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
    def coordinator(self) -> Coordinator | None:
        """What this client shares its waiting with (``None``: nobody)."""
        return self._coordinator

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
        await self._join_fleet()
        return self

    async def _join_fleet(self) -> None:
        """Join the coordinator's fleet, once (at ``async with``, or the first wait)."""
        if self._coordinator is None or self._closed:
            return
        if self._joining is None:
            self._joining = asyncio.ensure_future(self._coordinator.join(_Member(self)))
        # Shielded: one caller cancelled must not cancel the joining the others await.
        await asyncio.shield(self._joining)

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
        try:
            if self._joining is not None and self._coordinator is not None:
                await asyncio.wait({self._joining})
                await self._coordinator.leave()
        finally:
            try:
                await self.generations._aclose()
            finally:
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
        timeout: float | None,
        *,
        workspace: bool = True,
    ) -> Request:
        return Request(
            method,
            self._base_url + path,
            self._headers(workspace=workspace, json_body=content is not None),
            content,
            timeout,
        )

    def _plan(
        self,
        timeout: float | UseClientDefault | None,
        max_retries: int | UseClientDefault,
        deadline: float | _FromTimeout | None,
    ) -> tuple[float | None, float | None, int]:
        """(each attempt's timeout, the call's deadline, retries) of one call."""
        attempt = self._timeout if timeout is USE_CLIENT_DEFAULT else _check_timeout(timeout)
        retries = (
            self._max_retries if max_retries is USE_CLIENT_DEFAULT else _check_retries(max_retries)
        )
        if deadline is FROM_TIMEOUT:
            # A call's timeout is its deadline: attempts, retries and pauses included.
            return attempt, None if attempt is None else self._clock() + attempt, retries
        return attempt, deadline, retries

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
        deadline: float | _FromTimeout | None = FROM_TIMEOUT,
        patient: bool = False,
    ) -> T:
        attempt, deadline, retries = self._plan(timeout, max_retries, deadline)
        request = self._request("GET", path, None, attempt, workspace=workspace)
        try:  # the happy path: one call, no retry machinery
            response, data = await self._send_once(request, deadline, retries > 0, patient)
        except APIError as error:
            response, data = await self._recover(request, error, True, deadline, retries, patient)
        return structure(data, cls, body=response.content)

    async def _get_json(
        self,
        path: str,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        deadline: float | _FromTimeout | None = FROM_TIMEOUT,
        patient: bool = False,
    ) -> tuple[Response, Any]:
        """Like ``_get``, but the decoded body is returned unstructured (see ``iterate``)."""
        attempt, deadline, retries = self._plan(timeout, max_retries, deadline)
        request = self._request("GET", path, None, attempt)
        try:
            return await self._send_once(request, deadline, retries > 0, patient)
        except APIError as error:
            return await self._recover(request, error, True, deadline, retries, patient)

    async def _post(
        self,
        path: str,
        content: bytes,
        cls: type[T],
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> T:
        attempt, deadline, retries = self._plan(timeout, max_retries, FROM_TIMEOUT)
        request = self._request("POST", path, content, attempt)
        try:
            response, data = await self._send_once(request, deadline, retries > 0, False)
        except APIError as error:
            response, data = await self._recover(request, error, False, deadline, retries, False)
        return structure(data, cls, body=response.content)

    def _hold_limit(self, request: Request, deadline: float | None, patient: bool) -> float:
        """The latest instant a call may be held back until (by a pause or the breaker).

        Early enough before its deadline to leave the attempt that follows some time (a
        quarter of its timeout, at most a second): a pause that would use up the whole
        deadline only delays a failure. For a call that is not a wait, also never longer
        than ``max_retry_after`` from now.
        """
        limit = math.inf
        if deadline is not None:
            room = min(_ATTEMPT_ROOM, request.timeout / 4) if request.timeout else 0.0
            limit = deadline - room
        if not patient:
            limit = min(limit, self._clock() + self._max_retry_after)
        return limit

    async def _admit(
        self, request: Request, deadline: float | None, may_wait: bool, patient: bool
    ) -> tuple[Request, bool]:
        """Pass the gates (the 429 pause and pacing, the breaker) within the call's limit.

        Returns the request (its timeout shortened by the time spent waiting, so the
        deadline holds) and whether it is the breaker's probe.
        """
        limit = self._hold_limit(request, deadline, patient)
        if self._rate.engaged:
            await self._rate.admit(limit)
        breaker = self._breaker
        probe = False
        if breaker is not None and breaker.open_until:
            probe = await breaker.admit(limit, may_wait=may_wait or patient)
        return _shortened(request, deadline, self._clock), probe

    async def _send_once(
        self, request: Request, deadline: float | None, may_wait: bool, patient: bool
    ) -> tuple[Response, Any]:
        if self._closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        rate = self._rate
        breaker = self._breaker
        probe = False
        if rate.paced or rate.pause_until or (breaker is not None and breaker.open_until):
            request, probe = await self._admit(request, deadline, may_wait, patient)
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
        if rate.paced:
            rate.observe(response.headers)
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
        if isinstance(error, RateLimitError):
            # Slow the whole client, then release what it held paced.
            pause = rate.rate_limited(error.retry_after, response.headers)
            if pause and self._coordinator is not None:
                self._coordinator.pause(pause)  # the rate limit is the fleet's, not ours
        raise error

    async def _recover(
        self,
        request: Request,
        first_error: APIError,
        idempotent: bool,
        deadline: float | None,
        retries: int,
        patient: bool,
    ) -> tuple[Response, Any]:
        """After a failed first attempt: retry while it is safe, allowed and in time."""
        if retries == 0 or not may_resend(first_error, idempotent=idempotent):
            raise first_error
        pending: list[APIError] = [first_error]
        planned = [0.0]

        def retry(state: _t.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome is not None else None
            if error is None or not may_resend(error, idempotent=idempotent):
                return False
            # The pause: the backoff, or longer while a gate holds requests back anyway.
            pause = RETRY_BACKOFF.delay(state.attempt_number - 1)
            pause = max(pause, self._rate.remaining_pause())
            if self._breaker is not None:
                pause = max(pause, self._breaker.remaining_cooldown())
            if self._clock() + pause > self._hold_limit(request, deadline, patient):
                return False  # it would outlast the call's deadline: give up now
            planned[0] = pause
            return True

        def before_sleep(state: _t.RetryCallState) -> None:
            if logger.isEnabledFor(logging.DEBUG) and state.outcome is not None:
                logger.debug(
                    "retrying %s %s in %.2f s after %s (retry %d of %d)",
                    request.method,
                    _path(request.url),
                    planned[0],
                    _short(state.outcome.exception()),
                    state.attempt_number,
                    retries,
                )

        retrying = _t.AsyncRetrying(
            stop=_t.stop_after_attempt(retries + 1),
            wait=lambda state: planned[0],
            retry=retry,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if pending:  # the failure that got us here counts as the first attempt
                    raise pending.pop()
                return await self._send_once(
                    _shortened(request, deadline, self._clock), deadline, True, patient
                )
        raise AssertionError(
            "unreachable: tenacity either returns or re-raises"
        )  # pragma: no cover


class _Member:
    """A client as its coordinator sees it (the `FleetMember` it joins with)."""

    __slots__ = ("_client",)

    def __init__(self, client: PowerPost) -> None:
        self._client = client

    @property
    def scope(self) -> str:
        return f"{self._client.base_url} {self._client.workspace_id or ''}"

    def delivered(self, outcomes: Mapping[str, Generation | APIStatusError]) -> None:
        self._client.generations._engine.delivered(outcomes)

    def lead(self, generation_ids: Collection[str]) -> None:
        self._client.generations._engine.lead(generation_ids)

    def fed(self, generation_id: str) -> None:
        self._client.generations._engine.fed(generation_id)

    def paused(self, seconds: float) -> None:
        # Another process got the 429: pause here too, without announcing it again.
        self._client._rate.rate_limited(seconds, {})

    def connection_changed(self, connected: bool) -> None:
        self._client.generations._engine.connection_changed(connected)


def _shortened(request: Request, deadline: float | None, clock: Clock) -> Request:
    """``request`` with its timeout cut to what is left before ``deadline``."""
    if deadline is None:
        return request
    left = max(deadline - clock(), _MIN_ATTEMPT)
    if request.timeout is None or left < request.timeout:
        return attrs.evolve(request, timeout=left)
    return request


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
