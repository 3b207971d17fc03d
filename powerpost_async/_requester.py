"""The one request path: plan the deadline, pass the gates, send once, recover in one loop.

Every call of the SDK goes through a `Requester`: the resources' reads and writes, the
waiting engine's GETs and list pages, ``PowerPost.request``. It holds what a request
needs and nothing else: the base URL and headers, the default timeout and retries, the
transport, the client-wide gates every request passes (a 429's pause and paced release,
the circuit breaker) and telemetry, decided once when the client is made (``None``: the
fast path costs one attribute test). A client's copies (``with_options``) each have a
requester of their own, `derived` from the original: other settings, the same
transport, gates and telemetry.

The path of one call:

1. **Plan** (`plan`): each attempt's timeout, the call's deadline (its timeout from now,
   or the deadline of the wait or webhook it serves: no attempt outlasts it), retries.
2. **Gates** (`_admit`): only when one is engaged; held back at most until the call's
   hold limit (its deadline, less room for the attempt; ``max_retry_after`` for a call
   that is not a wait), else `RateLimitError`/`CircuitOpenError` at once.
3. **Send once** (`_send_once`): the transport moves the bytes; the answer is decoded,
   or turned into the error of its status; a 429 engages the rate-limit gate (and tells
   the fleet).
4. **Recover** (`_recover`): retries, with tenacity, while `_policy.may_resend` allows
   (a write that may have landed is never sent again), the gates' pauses respected,
   within the deadline.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import attrs
import tenacity as _t
from yarl import URL

from ._breaker import CircuitBreaker
from ._checks import check_retries, check_timeout
from ._converter import dumps, structure
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
    QueryValue,
    decode_json,
    error_from_response,
    merge_headers,
    unreadable_write,
    with_query,
)
from ._policy import RETRY_BACKOFF, may_resend
from ._ratelimit import RateLimitGate
from ._response import CAPTURE, Capture
from ._telemetry import Telemetry
from ._timing import Clock, Sleep
from ._transport import Request, Response, StreamBody, Transport

__all__ = ["FROM_TIMEOUT", "Requester"]

T = TypeVar("T")

logger = logging.getLogger("powerpost_async")

# An attempt left with less than this before its deadline still gets this long.
_MIN_ATTEMPT: Final = 0.001
# The most time a pause leaves before a call's deadline for the attempt after it.
_ATTEMPT_ROOM: Final = 1.0


class _FromTimeout(enum.Enum):
    FROM_TIMEOUT = enum.auto()


#: The call's deadline is its timeout from now (what every public call does).
FROM_TIMEOUT: Final = _FromTimeout.FROM_TIMEOUT


class Requester:
    """The one request path of a client (see the module docstring).

    Attributes:
        base_url: The API's base URL.
        workspace_id: Sent as ``X-Workspace-Id`` by the calls that need one.
        timeout: Default seconds a call may take, retries and pauses included.
        max_retries: Default retries after a retryable failure.
        max_retry_after: The longest a call that is not a wait is held back.
        clock: Monotonic clock.
        sleep: Async sleep.
        transport: Moves the bytes.
        rate: The client-wide 429 pause and paced release.
        breaker: The circuit breaker (``None``: off).
        telemetry: Spans and metrics (``None``: OpenTelemetry is absent).
        coordinator: Told of 429 pauses (the rate limit is the fleet's), or ``None``.
        closed: Every call is refused once set.
    """

    __slots__ = (
        "_headers_workspace",
        "_json_headers",
        "base_url",
        "breaker",
        "clock",
        "closed",
        "coordinator",
        "headers_plain",
        "max_retries",
        "max_retry_after",
        "rate",
        "sleep",
        "telemetry",
        "timeout",
        "transport",
        "workspace_id",
    )

    def __init__(
        self,
        *,
        base_url: str,
        headers: Mapping[str, str],
        workspace_id: str | None,
        timeout: float | None,
        max_retries: int,
        max_retry_after: float,
        clock: Clock,
        sleep: Sleep,
        transport: Transport,
        rate: RateLimitGate,
        breaker: CircuitBreaker | None,
        telemetry: Telemetry | None,
        coordinator: Coordinator | None,
    ) -> None:
        self.base_url = base_url
        self.workspace_id = workspace_id
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.clock = clock
        self.sleep = sleep
        self.transport = transport
        self.rate = rate
        self.breaker = breaker
        self.telemetry = telemetry
        self.coordinator = coordinator
        self.closed = False
        self.set_headers(headers, workspace_id)

    def derive(
        self,
        *,
        workspace_id: str | None,
        timeout: float | None,
        max_retries: int,
        headers: Mapping[str, str],
    ) -> Requester:
        """A requester with other settings that sends through the same transport and
        passes the same gates (a copy of the client made by ``with_options``)."""
        return Requester(
            base_url=self.base_url,
            headers=headers,
            workspace_id=workspace_id,
            timeout=timeout,
            max_retries=max_retries,
            max_retry_after=self.max_retry_after,
            clock=self.clock,
            sleep=self.sleep,
            transport=self.transport,
            rate=self.rate,
            breaker=self.breaker,
            telemetry=self.telemetry,
            coordinator=self.coordinator,
        )

    def set_headers(self, base: Mapping[str, str], workspace_id: str | None) -> None:
        self.headers_plain: Mapping[str, str] = base
        self._headers_workspace: Mapping[str, str] | None = (
            {**base, "X-Workspace-Id": workspace_id} if workspace_id else None
        )
        self._json_headers: dict[bool, Mapping[str, str]] = {}

    def _headers(self, *, workspace: bool, json_body: bool = False) -> Mapping[str, str]:
        if not workspace:
            headers = self.headers_plain
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

    def build(
        self,
        method: str,
        path: str,
        content: bytes | StreamBody | None,
        timeout: float | None,
        *,
        workspace: bool = True,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
        content_type: str | None = None,
    ) -> Request:
        headers = self._headers(
            workspace=workspace, json_body=content is not None and content_type is None
        )
        if content_type is not None:  # a body that is not JSON (an upload's multipart)
            headers = {**headers, "Content-Type": content_type}
        if extra_headers:
            headers = merge_headers(headers, extra_headers)
        if extra_query:
            path = with_query(path, extra_query)
        return Request(method, self.base_url + path, headers, content, timeout)

    def plan(
        self,
        timeout: float | UseClientDefault | None,
        max_retries: int | UseClientDefault,
        deadline: float | _FromTimeout | None,
    ) -> tuple[float | None, float | None, int]:
        """(each attempt's timeout, the call's deadline, retries) of one call."""
        attempt = self.timeout if timeout is USE_CLIENT_DEFAULT else check_timeout(timeout)
        retries = (
            self.max_retries if max_retries is USE_CLIENT_DEFAULT else check_retries(max_retries)
        )
        if deadline is FROM_TIMEOUT:
            # A call's timeout is its deadline: attempts, retries and pauses included.
            return attempt, None if attempt is None else self.clock() + attempt, retries
        if deadline is not None:
            # A deadline of the caller's (a wait's, a webhook's): no attempt outlasts it.
            left = max(deadline - self.clock(), _MIN_ATTEMPT)
            if attempt is None or left < attempt:
                attempt = left
        return attempt, deadline, retries

    # The three callers below repeat their few lines of send-then-recover on purpose:
    # a shared coroutine would put one more frame on every request's hot path.

    async def get(
        self,
        path: str,
        cls: type[T],
        *,
        workspace: bool = True,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        deadline: float | _FromTimeout | None = FROM_TIMEOUT,
        patient: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> T:
        attempt, deadline, retries = self.plan(timeout, max_retries, deadline)
        request = self.build(
            "GET",
            path,
            None,
            attempt,
            workspace=workspace,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        if self.telemetry is not None:
            response, data = await self.traced(request, True, deadline, retries, patient)
            return structure(data, cls, body=response.content)
        try:  # the happy path: one call, no retry machinery
            response, data = await self._send_once(request, deadline, retries > 0, patient)
        except APIError as error:
            response, data = await self._recover(request, error, True, deadline, retries, patient)
        return structure(data, cls, body=response.content)

    async def get_json(
        self,
        path: str,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        deadline: float | _FromTimeout | None = FROM_TIMEOUT,
        patient: bool = False,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> tuple[Response, Any]:
        """Like ``_get``, but the decoded body is returned unstructured (see ``iterate``)."""
        attempt, deadline, retries = self.plan(timeout, max_retries, deadline)
        request = self.build(
            "GET", path, None, attempt, extra_headers=extra_headers, extra_query=extra_query
        )
        if self.telemetry is not None:
            return await self.traced(request, True, deadline, retries, patient)
        try:
            return await self._send_once(request, deadline, retries > 0, patient)
        except APIError as error:
            return await self._recover(request, error, True, deadline, retries, patient)

    async def post(
        self,
        path: str,
        content: bytes | StreamBody,
        cls: type[T],
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
        content_type: str | None = None,
    ) -> T:
        attempt, deadline, retries = self.plan(timeout, max_retries, FROM_TIMEOUT)
        request = self.build(
            "POST",
            path,
            content,
            attempt,
            extra_headers=extra_headers,
            extra_query=extra_query,
            content_type=content_type,
        )
        if self.telemetry is not None:
            response, data = await self.traced(request, False, deadline, retries, False)
            return structure(data, cls, body=response.content)
        try:
            response, data = await self._send_once(request, deadline, retries > 0, False)
        except APIError as error:
            response, data = await self._recover(request, error, False, deadline, retries, False)
        return structure(data, cls, body=response.content)

    async def call(
        self,
        method: str,
        path: str,
        cls: type[T] | None,
        *,
        body: Any = None,
        idempotent: bool,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> Any:
        """One JSON call of a resource, structured into ``cls`` (``None``: the decoded
        body as is). ``idempotent=False`` calls are resent only if surely never sent."""
        attempt, deadline, retries = self.plan(timeout, max_retries, FROM_TIMEOUT)
        content = None if body is None else dumps(body)
        request = self.build(
            method, path, content, attempt, extra_headers=extra_headers, extra_query=extra_query
        )
        if self.telemetry is not None:
            response, data = await self.traced(request, idempotent, deadline, retries, False)
        else:
            response, data = await self.exchange(request, idempotent, deadline, retries, False)
        return data if cls is None else structure(data, cls, body=response.content)

    async def exchange(
        self,
        request: Request,
        idempotent: bool,
        deadline: float | None,
        retries: int,
        patient: bool,
        raw: bool = False,
    ) -> tuple[Response, Any]:
        """One call: the first attempt, then the retries it may have."""
        try:
            return await self._send_once(request, deadline, retries > 0, patient, raw)
        except APIError as error:
            return await self._recover(request, error, idempotent, deadline, retries, patient, raw)

    async def traced(
        self,
        request: Request,
        idempotent: bool,
        deadline: float | None,
        retries: int,
        patient: bool,
        raw: bool = False,
    ) -> tuple[Response, Any]:
        """`_exchange` in an OpenTelemetry span, its requests and retries counted."""
        assert self.telemetry is not None
        outer = CAPTURE.get()  # a with_response call around this one keeps its capture
        capture = outer if outer is not None else Capture()
        before = capture.attempts
        token = CAPTURE.set(capture) if outer is None else None
        try:
            return await self.telemetry.call(
                request.method,
                _path(request.url),
                lambda: self.exchange(request, idempotent, deadline, retries, patient, raw),
                lambda: (capture.attempts - before, capture.response),
            )
        finally:
            if token is not None:
                CAPTURE.reset(token)

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
            limit = min(limit, self.clock() + self.max_retry_after)
        return limit

    async def _admit(
        self, request: Request, deadline: float | None, may_wait: bool, patient: bool
    ) -> tuple[Request, bool]:
        """Pass the gates (the 429 pause and pacing, the breaker) within the call's limit.

        Returns the request (its timeout shortened by the time spent waiting, so the
        deadline holds) and whether it is the breaker's probe.
        """
        limit = self._hold_limit(request, deadline, patient)
        if self.rate.engaged:
            await self.rate.admit(limit)
        breaker = self.breaker
        probe = False
        if breaker is not None and breaker.open_until:
            probe = await breaker.admit(limit, may_wait=may_wait or patient)
        return _shortened(request, deadline, self.clock), probe

    async def _send_once(
        self,
        request: Request,
        deadline: float | None,
        may_wait: bool,
        patient: bool,
        raw: bool = False,
    ) -> tuple[Response, Any]:
        if self.closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        capture = CAPTURE.get()
        if capture is not None:
            capture.attempts += 1
        rate = self.rate
        breaker = self.breaker
        probe = False
        if rate.paced or rate.pause_until or (breaker is not None and breaker.open_until):
            request, probe = await self._admit(request, deadline, may_wait, patient)
        debug = logger.isEnabledFor(logging.DEBUG)
        started = self.clock() if debug else 0.0
        try:
            response = await self.transport.send(request)
        except APIConnectionError as exc:
            if breaker is not None:
                breaker.failure()
            if debug:
                logger.debug(
                    "%s %s -> %s after %.1f ms",
                    request.method,
                    _path(request.url),
                    type(exc).__name__,
                    (self.clock() - started) * 1000,
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
                (self.clock() - started) * 1000,
            )
        if capture is not None:
            capture.response = response
        if "x-ratelimit-remaining" in response.headers:
            rate.last_quota_headers = response.headers  # for pp.rate_limit, read lazily
        if rate.paced:
            rate.observe(response.headers)
        if 200 <= response.status_code < 300:
            try:
                data = None if raw and not response.content else decode_json(response)
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
            if pause and self.coordinator is not None:
                self.coordinator.pause(pause)  # the rate limit is the fleet's, not ours
        raise error

    async def _recover(
        self,
        request: Request,
        first_error: APIError,
        idempotent: bool,
        deadline: float | None,
        retries: int,
        patient: bool,
        raw: bool = False,
    ) -> tuple[Response, Any]:
        """After a failed first attempt: retry while it is safe, allowed and in time.

        A write that is not idempotent and ends on a success it cannot read was carried
        out: its error says so (the failure path is the only one that knows it is a write).
        """
        try:
            return await self._retry(
                request, first_error, idempotent, deadline, retries, patient, raw
            )
        except MalformedResponseError as error:
            if idempotent:
                raise
            told = unreadable_write(error, request.method, request.url)
            raise told.with_traceback(error.__traceback__) from error.__cause__

    async def _retry(
        self,
        request: Request,
        first_error: APIError,
        idempotent: bool,
        deadline: float | None,
        retries: int,
        patient: bool,
        raw: bool,
    ) -> tuple[Response, Any]:
        if (
            retries == 0
            or not may_resend(first_error, idempotent=idempotent)
            or not _can_resend(request)
        ):
            raise first_error
        pending: list[APIError] = [first_error]
        planned = [0.0]

        def retry(state: _t.RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome is not None else None
            if (
                error is None
                or not may_resend(error, idempotent=idempotent)
                or not _can_resend(request)
            ):
                return False
            # The pause: the backoff, or longer while a gate holds requests back anyway.
            pause = RETRY_BACKOFF.delay(state.attempt_number - 1)
            pause = max(pause, self.rate.remaining_pause())
            if self.breaker is not None:
                pause = max(pause, self.breaker.remaining_cooldown())
            if self.clock() + pause > self._hold_limit(request, deadline, patient):
                return False  # it would outlast the call's deadline: give up now
            planned[0] = pause
            return True

        def before_sleep(state: _t.RetryCallState) -> None:
            if logger.isEnabledFor(logging.INFO) and state.outcome is not None:
                logger.info(
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
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if pending:  # the failure that got us here counts as the first attempt
                    raise pending.pop()
                return await self._send_once(
                    _shortened(request, deadline, self.clock), deadline, True, patient, raw
                )
        raise AssertionError(
            "unreachable: tenacity either returns or re-raises"
        )  # pragma: no cover


def _shortened(request: Request, deadline: float | None, clock: Clock) -> Request:
    """``request`` with its timeout cut to what is left before ``deadline``."""
    if deadline is None:
        return request
    left = max(deadline - clock(), _MIN_ATTEMPT)
    if request.timeout is None or left < request.timeout:
        return attrs.evolve(request, timeout=left)
    return request


def _can_resend(request: Request) -> bool:
    """Whether the request's body can go again: a one-shot stream, once read, cannot."""
    content = request.content
    return not isinstance(content, StreamBody) or content.can_resend


def _short(exc: BaseException | None) -> str:
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} {exc.code or ''}".strip()
    return type(exc).__name__


def _path(url: str) -> str:
    return URL(url, encoded=True).raw_path_qs
