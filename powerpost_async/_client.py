"""The client: its configuration, its resources, its copies and its lifecycle.

Every request goes through its `Requester` (``_requester.py``, the one request path);
every wait through the waiting engine of its kind and workspace (``_engine/``).
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
import os
import time
import weakref
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from yarl import URL

from ._breaker import CircuitBreaker
from ._checks import check_retries, check_timeout
from ._converter import dumps
from ._creative import Images, Videos
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._engine._engines import Engines
from ._engine._member import Member
from ._exceptions import (
    PowerPostError,
)
from ._fleet import Coordinator
from ._http import (
    QueryValue,
    check_api_path,
    check_header_value,
    merge_headers,
    user_agent,
    with_query,
)
from ._media import MediaResource
from ._planning import Analytics, Calendar
from ._posts import Posts
from ._ratelimit import MAX_PAUSE, RateLimitGate
from ._requester import FROM_TIMEOUT, Requester
from ._resources import Account, Generations
from ._response import CAPTURE, APIResponse, Capture, RateLimit, build, rate_limit_of
from ._telemetry import telemetry
from ._timing import Clock, Sleep
from ._transport import Transport

if TYPE_CHECKING:
    from .webhooks import WebhookEvent

__all__ = ["DEFAULT_BASE_URL", "PowerPost"]

T = TypeVar("T")

logger = logging.getLogger("powerpost_async")

DEFAULT_BASE_URL: Final = "https://powerpost.ai"
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# Methods whose request may be sent again even if the first one may have been received.
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


class _Shared:
    """What a client and its copies (``with_options``) share, besides the request path's
    transport and gates: the waiting engines, the copies (closed with it), and the
    closing under way."""

    __slots__ = ("closing", "copies", "engines")

    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self.copies: weakref.WeakSet[PowerPost] = weakref.WeakSet()
        # The closing under way: a cancelled aclose() leaves it running, and the next
        # aclose() waits for it to complete.
        self.closing: asyncio.Future[None] | None = None


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
        default_headers: Extra headers sent with every request (not the key or
            workspace headers, which the client owns).
        clock: Monotonic clock in seconds (injectable for tests).
        sleep: Async sleep (injectable for tests, e.g. to run in virtual time).

    Raises:
        PowerPostError: No API key was given or found in ``$POWERPOST_API_KEY``.
        ValueError: A setting is malformed (e.g. a key containing a newline).
    """

    generations: Generations
    """Create, fetch, list, iterate and await caption generations."""
    account: Account
    """The account: its credit balance."""
    media: MediaResource
    """Upload images and videos."""
    images: Images
    """Generate, fetch and await image generations."""
    videos: Videos
    """Generate, fetch and await video generations."""
    posts: Posts
    """Create posts; publish, schedule or cancel them; await their publication."""
    analytics: Analytics
    """The numbers of posted items."""
    calendar: Calendar
    """The content calendar's planning entries."""

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
        default_headers: Mapping[str, str] | None = None,
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
        if not max_retry_after >= 0:
            raise ValueError(f"max_retry_after must be >= 0, got {max_retry_after!r}")
        clock = clock or time.monotonic
        sleep = sleep or asyncio.sleep

        if transport is None:
            from ._aiohttp import AiohttpTransport

            transport = AiohttpTransport()

        base_headers = {
            "x-api-key": api_key,
            "Accept": "application/json",
            "User-Agent": user_agent(),
        }
        if default_headers:
            base_headers = merge_headers(base_headers, default_headers, what="default_headers")
        base_url = _check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        retry_after = float(max_retry_after)
        self._requester = Requester(
            base_url=base_url,
            headers=base_headers,
            workspace_id=workspace_id,
            timeout=check_timeout(timeout),
            max_retries=check_retries(max_retries),
            max_retry_after=retry_after,
            clock=clock,
            sleep=sleep,
            transport=transport,
            # The gates every request passes: a 429's pause and paced release, the breaker.
            rate=RateLimitGate(clock, sleep, ceiling=max(MAX_PAUSE, retry_after)),
            breaker=CircuitBreaker(clock, sleep) if circuit_breaker else None,
            # OpenTelemetry spans and metrics, if it is installed (else None: nothing to do).
            telemetry=telemetry(clock, URL(base_url).host or ""),
            coordinator=coordinator,
        )
        self._coordinator = coordinator
        self._joining: asyncio.Task[None] | None = None
        self._root = True  # False for the copies with_options makes
        self._shared = _Shared(Engines(self._requester, coordinator, self._join_fleet))
        self._attach_resources()

    def _attach_resources(self) -> None:
        """Hang the resources off the client (a copy made by with_options gets its own)."""
        self.generations = Generations(self)
        self.account = Account(self)
        self.media = MediaResource(self)
        self.images = Images(self)
        self.videos = Videos(self)
        self.posts = Posts(self)
        self.analytics = Analytics(self)
        self.calendar = Calendar(self)

    # -- configuration, read-only -------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API's base URL, e.g. ``https://powerpost.ai``."""
        return self._requester.base_url

    @property
    def workspace_id(self) -> str | None:
        """The workspace ``generations`` calls work in."""
        return self._requester.workspace_id

    @property
    def timeout(self) -> float | None:
        """Default seconds a call may take, retries and pauses included."""
        return self._requester.timeout

    @property
    def max_retries(self) -> int:
        """Default retries after a retryable failure."""
        return self._requester.max_retries

    @property
    def transport(self) -> Transport:
        """The transport requests go through."""
        return self._requester.transport

    @property
    def coordinator(self) -> Coordinator | None:
        """What this client shares its waiting with (``None``: nobody)."""
        return self._coordinator

    @property
    def is_closed(self) -> bool:
        """``True`` once `aclose()` ran (on this copy, or on the client it was made from)."""
        return self._requester.closed

    @property
    def rate_limit(self) -> RateLimit | None:
        """The rate-limit figures of the latest response that carried them (``None``:
        none yet). Shared with the client's copies: the limit is the key's."""
        headers = self._requester.rate.last_quota_headers
        return None if headers is None else rate_limit_of(headers)

    def with_options(
        self,
        *,
        workspace_id: str | UseClientDefault = USE_CLIENT_DEFAULT,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        default_headers: Mapping[str, str] | None = None,
    ) -> PowerPost:
        """A client with other settings that shares everything else with this one.

        The copy sends through the same transport and passes the same gates (a 429's
        pause, the circuit breaker: the rate limit is the key's); its waits share the
        waiting engine of their workspace (one sweeper per workspace, however many
        copies). Use it for one call (``pp.with_options(timeout=5).generations.get(id)``)
        or keep it, e.g. one per workspace in a multi-tenant service. Cheap to make.

        Closing a copy closes nothing shared; closing the client it came from closes
        every copy. Fleet mode (``coordinator``) covers the client's own workspace: waits
        in other workspaces are swept by this process alone.

        Args:
            workspace_id: Work in this workspace instead.
            timeout: The copy's default timeout.
            max_retries: The copy's default retries.
            default_headers: Headers added to (or replacing) the client's own extra
                headers; never the key or workspace header.

        Raises:
            ValueError: A setting is not acceptable (nothing is changed).
        """
        requester = self._requester
        if requester.closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        headers = dict(requester.headers_plain)
        if default_headers:
            headers = merge_headers(headers, default_headers, what="default_headers")
        workspace = requester.workspace_id
        if not isinstance(workspace_id, UseClientDefault):
            workspace = check_header_value("workspace_id", workspace_id)
        attempt = requester.timeout if timeout is USE_CLIENT_DEFAULT else check_timeout(timeout)
        retries = (
            requester.max_retries
            if max_retries is USE_CLIENT_DEFAULT
            else check_retries(max_retries)
        )
        clone = copy.copy(self)
        clone._root = False
        clone._joining = None
        clone._requester = requester.derive(
            workspace_id=workspace, timeout=attempt, max_retries=retries, headers=headers
        )
        clone._attach_resources()
        self._shared.copies.add(clone)
        return clone

    async def feed(self, event: WebhookEvent) -> bool:
        """Hand a parsed webhook event to the resource it concerns: its waits resolve now.

        ``generation.*`` goes to `generations`, ``image_generation.*`` to `images`,
        ``video_generation.*`` to `videos`, ``post.*`` to `posts`; any other event costs
        nothing. Like each resource's ``feed``, the event is only a hint: the job is
        re-read from the API (one GET) before any wait resolves.

        Returns:
            Whether the event concerned a job being awaited on this client.
        """
        name = getattr(event, "event", None)
        if not isinstance(name, str):
            raise TypeError(
                "feed takes a parsed webhook event (powerpost_async.webhooks.parse_webhook); "
                "to feed an id, use the resource's feed, e.g. pp.images.feed(id)"
            )
        kind = name.partition(".")[0]
        if kind == "generation":
            return await self.generations.feed(event)
        if kind == "image_generation":
            return await self.images.feed(event)
        if kind == "video_generation":
            return await self.videos.feed(event)
        if kind == "post":
            return await self.posts.feed(event)
        return False

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, QueryValue | None] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        workspace: bool = True,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
    ) -> APIResponse[Any]:
        """Call an endpoint the SDK does not wrap (yet), with its auth, retries and errors.

        ``GET`` and ``HEAD`` are retried like every read; other methods only when the
        request surely never reached the server (the rule ``create`` follows: nothing
        that may cost credits is sent twice).

        Example:
            ```python
            answer = await pp.request("GET", "/api/v1/content/generations",
                                      query={"limit": 5})
            print(answer.status_code, answer.parsed["data"][0]["generation_id"])
            ```

        Args:
            method: ``GET``, ``HEAD``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
            path: Under ``/api/``, e.g. ``/api/v1/content/generations`` (no query: use
                ``query``).
            query: Query parameters (``None`` values left out).
            json: A JSON body (anything ``json.dumps`` takes).
            headers: Extra headers for this call (never the key or workspace header).
            workspace: Send the workspace header (``False`` for account endpoints).
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.

        Returns:
            The response; ``parsed`` is the decoded JSON body (``None`` if empty).

        Raises:
            ValueError: The method, path, query or headers are not acceptable (nothing
                sent).
            APIStatusError: The API answered with an error (its subclass by status).
        """
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise ValueError(f"method must be one of {sorted(_METHODS)}, got {method!r}")
        method = method.upper()
        target = check_api_path(path)
        if query:
            target = with_query(target, query, "query")
        content = None if json is None else dumps(json)
        requester = self._requester
        capture = Capture()
        token = CAPTURE.set(capture)
        started = requester.clock()
        try:
            attempt, deadline, retries = requester.plan(timeout, max_retries, FROM_TIMEOUT)
            request = requester.build(
                method, target, content, attempt, workspace=workspace, extra_headers=headers
            )
            idempotent = method in _SAFE_METHODS
            if requester.telemetry is not None:
                call = requester.traced
            else:
                call = requester.exchange
            _, data = await call(request, idempotent, deadline, retries, False, True)
        finally:
            CAPTURE.reset(token)
        return build(data, capture, requester.clock() - started)

    def __repr__(self) -> str:
        # The key is deliberately absent.
        requester = self._requester
        return (
            f"<PowerPost base_url={requester.base_url!r} workspace_id={requester.workspace_id!r}>"
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> PowerPost:
        if self._requester.closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        await self._join_fleet()
        return self

    async def _join_fleet(self) -> None:
        """Join the coordinator's fleet, once (at ``async with``, or the first wait)."""
        if self._coordinator is None or self._requester.closed:
            return
        if self._joining is None:
            req = self._requester
            key = req.headers_plain["x-api-key"]
            member = Member(self._engines, req.workspace_id, req.base_url, key, req.rate)
            self._joining = asyncio.ensure_future(self._coordinator.join(member))
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
        """Close the client and its transport. Safe to call twice.

        On a copy made by `with_options`, only the copy is closed: the transport and
        the waits of other copies are the original client's; the copy's own waits end
        with ``PowerPostError``. A cancelled ``aclose()`` still completes in the
        background, and calling it again waits for that.
        """
        requester = self._requester
        if not self._root:
            if not requester.closed:
                requester.closed = True
                error = PowerPostError(
                    "this PowerPost client was closed while this wait was running"
                )
                self._engines.stop_owner(self, error)
            return
        requester.closed = True
        shared = self._shared
        if shared.closing is None:
            shared.closing = asyncio.ensure_future(self._close())
        # Shielded: a cancelled caller must not leave the closing half done.
        await asyncio.shield(shared.closing)

    async def _close(self) -> None:
        shared = self._shared
        for clone in list(shared.copies):
            clone._requester.closed = True
        try:
            if self._joining is not None and self._coordinator is not None:
                await asyncio.wait({self._joining})
                await self._coordinator.leave()
        finally:
            try:
                await shared.engines.aclose()
            finally:
                await self._requester.transport.aclose()

    @property
    def _engines(self) -> Engines:
        """The waiting engines this client and its copies share."""
        return self._shared.engines


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
