"""FakePowerPost: an in-process PowerPost API v1, over a socket or in memory."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import attrs
from aiohttp import web
from yarl import URL

from powerpost_async import (
    APIConnectionError,
    APITimeoutError,
    Generation,
    PowerPost,
    PowerPostError,
    Request,
    Response,
)
from powerpost_async._limits import MEDIA_UPLOAD_PATH
from powerpost_async.testing._clock import VirtualClock
from powerpost_async.testing._core import (
    DEFAULT_API_KEY,
    DEFAULT_CREDITS,
    DEFAULT_EPOCH,
    DEFAULT_POST_DURATION,
    DEFAULT_STORAGE_QUOTA,
    DEFAULT_WORKSPACE_ID,
    STATS_PATH,
    Core,
    Duration,
    Reply,
    RequestHook,
)
from powerpost_async.testing._faults import Faults
from powerpost_async.testing._log import RequestLog
from powerpost_async.testing._multipart import read_aiohttp, read_chunks
from powerpost_async.testing._quirks import Quirks

__all__ = ["FakePowerPost", "FakeTransport"]

Sleep = Callable[[float], Awaitable[None]]

# In-flight handlers get this long (real seconds) to finish when the server closes.
_SHUTDOWN_TIMEOUT = 0.25
# A streamed request body (not an upload) is read whole up to this size, then refused.
_MAX_JSON_BODY = 16 * 1024 * 1024
# After answering an upload early, the rest of its body is dropped for this long (real
# seconds) at most, as aiohttp's lingering close would.
_LINGER = 10.0
_MAX_DISCARDED_CHUNKS = 2**22


@attrs.frozen
class Timeline:
    """What really happened to one generation, on the server's clock (seconds).

    Attributes:
        created: When it was created.
        started: When it started processing (``None``: held pending).
        finished: When it became completed or failed (``None``: held, not scheduled).
    """

    created: float
    started: float | None
    finished: float | None


class FakePowerPost:
    """A faithful PowerPost API v1 in your process, for tests.

    It serves the generations list and get, create and the credit balance, with the
    documented authentication, workspaces, validation, error envelope, pagination,
    credits and rate-limit headers. Generations go ``pending -> processing ->
    completed | failed`` on a schedule read off ``clock``, so a
    [`VirtualClock`][powerpost_async.testing.VirtualClock]
    makes a whole lifecycle take no real time. Faults can be injected (`faults`),
    legal but unusual behaviours switched on (`quirks`), and every request is logged
    (`requests`).

    It also serves media upload (multipart, read as it streams: never held in
    memory), image and video generations (on the same clock, charged and refunded),
    posts (create, get, publish, schedule, cancel-publish; items post one after
    another, ``post_duration`` seconds each), post-item analytics and the calendar, and
    checks every request's scope. Trigger words: a prompt containing ``[fail]`` makes
    an image or video generation fail (every image), ``[partial]`` makes half of an
    image generation's images fail (at least one); a post item whose content contains
    ``[fail]`` fails to post.

    Use it in one of three ways:

    ```text
    # 1. over a real socket on 127.0.0.1
    async with FakePowerPost() as server:
        async with server.client(use_socket=True) as pp: ...

    # 2. in memory, no socket
    server = FakePowerPost(clock=VirtualClock())
    async with server.client() as pp:   # or PowerPost(..., transport=server.transport())
        ...

    # 3. with pytest: the ``powerpost_fake`` and ``powerpost_client`` fixtures
    ```

    Args:
        keys: API key -> the workspaces it owns. Defaults to one key,
            ``pp_live_sk_test``, owning ``ws_test``.
        credits: Every key's starting balance, or a balance per key (keys left out
            start with 1000).
        clock: Monotonic seconds; generation schedules, ``created_at`` and rate-limit
            windows are read off it. Defaults to `monotonic()`.
        sleep: How the server waits (slow-answer faults). Defaults to the clock's
            ``sleep`` for a [`VirtualClock`][powerpost_async.testing.VirtualClock], else `sleep()`.
        pending: Seconds a generation stays ``pending``: a number, or a ``(low, high)``
            range drawn per generation.
        processing: Seconds it then stays ``processing`` (number or range).
        failure_rate: The chance that a generation ends ``failed`` (then refunded).
        seed: Seeds every random draw (ids, schedules, failures, random faults): the same
            seed and the same requests give the same answers.
        rate_limit: ``(requests, per_seconds)`` allowed per key, in fixed windows; over it
            a request gets 429 ``RATE_LIMIT_EXCEEDED``. ``None``: no limit.
        epoch: The wall-clock time the server starts at: ``created_at``, the ``Date``
            and ``X-RateLimit-Reset`` headers are this plus the clock's progress since
            construction, so a virtual clock makes them reproducible.
        quirks: Legal but unusual behaviours to start with (see
            [`Quirks`][powerpost_async.testing.Quirks]); ``None``: none. Change them
            later through `quirks`.
        on_request: Called with each request's
            [`RequestRecord`][powerpost_async.testing.RequestRecord] once it is answered
            (and logged), on either transport: e.g. to print requests as they come. It
            runs inside the request, so it should be quick and must not raise.
        scopes: API key -> the scopes it holds; keys left out hold all 14. A request
            whose endpoint needs a scope the key lacks gets 403 ``INSUFFICIENT_SCOPE``.
        storage_quota: Bytes of uploads each workspace may hold (generated media do not
            count); past it an upload gets 413 ``STORAGE_QUOTA_EXCEEDED``.
        image_failure_rate: The chance that each image of an image generation fails
            (the generation then ends ``failed`` with the others; the failed ones are
            refunded). ``failure_rate`` fails a whole image or video generation.
        post_duration: Seconds each post item takes to post; a post's items post one
            after another, after ``pending`` seconds.
        connected_platforms: Workspace -> the platforms connected in it; workspaces
            left out have all six. Change it later with `connect_platforms()` and
            `disconnect_platforms()`.

    Besides the API, the server answers ``GET /_fake/stats`` (`stats_url`) with `stats()`
    as JSON: live counters for a person or a dashboard watching a long run. That path is
    outside the API's, needs no key, and is never logged, faulted or rate-limited.
    """

    def __init__(
        self,
        *,
        keys: Mapping[str, Iterable[str]] | None = None,
        credits: int | Mapping[str, int] = DEFAULT_CREDITS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep | None = None,
        pending: Duration = 0.0,
        processing: Duration = 5.0,
        failure_rate: float = 0.0,
        seed: int = 0,
        rate_limit: tuple[int, float] | None = None,
        epoch: datetime = DEFAULT_EPOCH,
        quirks: Quirks | None = None,
        on_request: RequestHook | None = None,
        scopes: Mapping[str, Iterable[str]] | None = None,
        storage_quota: int = DEFAULT_STORAGE_QUOTA,
        image_failure_rate: float = 0.0,
        post_duration: float = DEFAULT_POST_DURATION,
        connected_platforms: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        if quirks is not None and not isinstance(quirks, Quirks):
            raise TypeError(f"quirks must be a Quirks, got {type(quirks).__name__}")
        self._core = Core(
            keys={DEFAULT_API_KEY: [DEFAULT_WORKSPACE_ID]} if keys is None else keys,
            credits=credits,
            clock=clock,
            pending=pending,
            processing=processing,
            failure_rate=failure_rate,
            seed=seed,
            rate_limit=rate_limit,
            epoch=epoch,
            quirks=quirks,
            on_request=on_request,
            scopes=scopes,
            storage_quota=storage_quota,
            image_failure_rate=image_failure_rate,
            post_duration=post_duration,
            connected_platforms=connected_platforms,
        )
        self._clock = clock
        if sleep is None:
            sleep = clock.sleep if isinstance(clock, VirtualClock) else asyncio.sleep
        self._sleep = sleep
        self.api_key: str = next(iter(self._core.workspaces))
        """The first configured key (``pp_live_sk_test`` by default)."""
        workspaces = self._core.workspaces[self.api_key]
        if not workspaces:
            raise ValueError("the first key in keys must own at least one workspace")
        self.workspace_id: str = workspaces[0]
        """The first workspace of `api_key` (``ws_test`` by default)."""
        self._runner: web.ServerRunner | None = None
        self._base_url: str | None = None

    def __repr__(self) -> str:
        where = self._base_url or "in memory"
        return f"<FakePowerPost {where} requests={len(self._core.log)}>"

    # -- what tests look at ---------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults to inject: ``server.faults.script(...)``, ``.random(...)``."""
        return self._core.faults

    @property
    def quirks(self) -> Quirks:
        """The unusual behaviours switched on: ``server.quirks.order = "oldest_first"``.

        See [`Quirks`][powerpost_async.testing.Quirks]; the next request obeys a change.
        """
        return self._core.quirks

    @property
    def requests(self) -> RequestLog:
        """Every request received, for assertions; ``server.requests.clear()`` resets."""
        return self._core.log

    @property
    def clock(self) -> Callable[[], float]:
        """The server's clock."""
        return self._clock

    def stats(self) -> dict[str, Any]:
        """Live counters, JSON-ready; what ``GET /_fake/stats`` answers.

        ```text
        {"uptime_s": 12.5,
         "requests": {"total": 9,
                      "by_endpoint": {"create": {"200": 4}, "get": {"200": 3, "503": 1},
                                      "list": {"dropped": 1}},
                      "by_status": {"200": 7, "503": 1, "dropped": 1},
                      "faults": {"drop": 1, "server_error": 1}},
         "generations": {"total": 12, "pending": 1, "processing": 2, "completed": 8,
                         "failed": 1},
         "credits": {"used": 30, "balance": 970}}
        ```

        ``requests`` counts what `requests` holds (``clear()`` resets it); ``other`` is
        an unknown path or method, ``dropped`` a connection closed without an answer.
        ``generations`` counts every workspace's; ``credits`` are those of every key
        together: ``used`` by generations made through the API, less refunds.
        """
        return self._core.stats()

    def generation(self, generation_id: str) -> Generation:
        """Peek at a generation, in any workspace, as ``get`` would answer now.

        Raises:
            KeyError: No generation has this id.
        """
        return self._core.generation(generation_id)

    def timeline(self, generation_id: str) -> Timeline:
        """When a generation was created, started processing and finished (server clock).

        Lets tests and benchmarks compare what a client saw with what really happened,
        e.g. how late a wait noticed a finish, or how many polls a naive loop needed.

        Raises:
            KeyError: No generation has this id.
        """
        created, starts, ends = self._core.timeline(generation_id)
        return Timeline(
            created=created,
            started=None if math.isinf(starts) else starts,
            finished=None if math.isinf(ends) else ends,
        )

    def generations(self, workspace_id: str | None = None) -> list[Generation]:
        """Every generation (of one workspace, or of all), newest first."""
        return self._core.generations(workspace_id)

    def balance(self, api_key: str | None = None) -> int:
        """The credit balance of ``api_key`` (default `api_key`), refunds settled."""
        return self._core.balance(self.api_key if api_key is None else api_key)

    def seed_generations(
        self,
        count: int,
        *,
        workspace_id: str | None = None,
        status: Literal["pending", "processing", "completed", "failed"] | None = None,
        prompt: str | None = None,
        post_types: Sequence[str] = ("instagram-feed", "x-post"),
        research_mode: Literal["regular", "deep"] = "regular",
    ) -> list[str]:
        """Create ``count`` generations server-side (no request, no credits), e.g. to list.

        Args:
            count: How many.
            workspace_id: Where (default `workspace_id`).
            status: Put them in this status and keep them there until
                `complete_all()`; ``None`` gives them the usual schedule from now.
            prompt: Their prompt (default ``"Seeded generation <n>"``).
            post_types: Their post types.
            research_mode: Their research mode.

        Returns:
            Their ids, oldest first.
        """
        workspace = self.workspace_id if workspace_id is None else workspace_id
        if not any(workspace in owned for owned in self._core.workspaces.values()):
            raise ValueError(f"no configured key owns workspace {workspace!r}")
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        return self._core.seed(
            count,
            workspace,
            status=status,
            prompt=prompt,
            post_types=post_types,
            research_mode=research_mode,
        )

    @property
    def pending(self) -> Duration:
        """Seconds a generation made from now on stays ``pending`` (number or range).

        Settable at any time, e.g. ``server.processing = (60, 3600)`` for generations
        of one minute to one hour from now on; those already made keep their schedule.

        Raises:
            ValueError: (when set) not seconds >= 0 or a ``(low, high)`` range of them.
        """
        return self._core.pending

    @pending.setter
    def pending(self, value: Duration) -> None:
        self._core.pending = value

    @property
    def processing(self) -> Duration:
        """Seconds a generation made from now on then stays ``processing`` (settable)."""
        return self._core.processing

    @processing.setter
    def processing(self, value: Duration) -> None:
        self._core.processing = value

    def complete_all(self) -> None:
        """End every unfinished generation now, each with its drawn outcome.

        Caption, image and video generations alike: completed, or failed (and refunded)
        if ``failure_rate``, ``image_failure_rate`` or a trigger word drew it so. Works
        with any clock. (Posts publish on the clock: see `advance()`.)
        """
        self._core.complete_all()

    def complete(self, *generation_ids: str) -> None:
        """End these generations now (those not finished yet), each with its drawn outcome.

        What a webhook test needs: one generation finishes, the others keep going.
        Caption, image and video generation ids may be mixed.

        Raises:
            KeyError: No generation has one of these ids (then none is ended).
        """
        missing = [i for i in generation_ids if not self._core.has(i)]
        if missing:
            raise KeyError(f"no generation with id {missing[0]!r}")
        self._core.complete(generation_ids)

    def advance(self, seconds: float) -> None:
        """Move the server's [`VirtualClock`][powerpost_async.testing.VirtualClock] forward.

        Everything due by then happens, in time order: generations finish (failed ones
        are refunded), scheduled posts start publishing, post items post (and are
        charged for).

        Raises:
            TypeError: The server's clock is not a
                [`VirtualClock`][powerpost_async.testing.VirtualClock].
        """
        if not isinstance(self._clock, VirtualClock):
            raise TypeError("advance() needs FakePowerPost(clock=VirtualClock())")
        self._clock.advance(seconds)
        self._core._settle(self._clock())

    # -- beyond captions: peeks, platforms, webhooks ------------------------------------

    def image_generation(self, image_generation_id: str) -> dict[str, Any]:
        """What ``GET /images/generations/{id}`` would answer now, in any workspace.

        Raises:
            KeyError: No image generation has this id.
        """
        return self._peek("image", image_generation_id)

    def video_generation(self, video_generation_id: str) -> dict[str, Any]:
        """What ``GET /videos/generations/{id}`` would answer now, in any workspace.

        Raises:
            KeyError: No video generation has this id.
        """
        return self._peek("video", video_generation_id)

    def post(self, post_id: str) -> dict[str, Any]:
        """What ``GET /posts/{id}`` would answer now, in any workspace.

        Raises:
            KeyError: No post has this id.
        """
        return self._peek("post", post_id)

    def calendar_entry(self, entry_id: str) -> dict[str, Any]:
        """What ``GET /calendar/entries/{id}`` would answer now, in any workspace.

        Raises:
            KeyError: No calendar entry has this id (or it was deleted).
        """
        return self._peek("entry", entry_id)

    def media(self, media_id: str) -> dict[str, Any]:
        """One media of any workspace, as the fake knows it: ``media_id``,
        ``workspace_id``, ``type``, ``file_name``, ``file_size``, ``mime_type``,
        ``created_at``, ``source`` (``upload``, ``image_generation`` or
        ``video_generation``), ``generation_id`` (of that generation), and ``width``,
        ``height``, ``duration`` (``None`` for uploads).

        Raises:
            KeyError: No media has this id, or not yet (a generated image or video
                exists once its generation completed).
        """
        return self._peek("media", media_id)

    def _peek(self, kind: str, object_id: str) -> dict[str, Any]:
        now = self._clock()
        self._core._settle(now)
        try:
            return self._core.more.peek(kind, object_id, now)
        except KeyError:
            raise KeyError(f"no {kind} with id {object_id!r}") from None

    def connected_platforms(self, workspace_id: str | None = None) -> frozenset[str]:
        """The platforms connected in a workspace (default `workspace_id`)."""
        return self._core.more.connected(self._known_workspace(workspace_id))

    def connect_platforms(self, *platforms: str, workspace_id: str | None = None) -> None:
        """Connect platforms (``"x"``, ``"instagram"``...) in a workspace, from now on.

        Raises:
            ValueError: An unknown platform or workspace.
        """
        self._core.more.set_connected(self._known_workspace(workspace_id), platforms, True)

    def disconnect_platforms(self, *platforms: str, workspace_id: str | None = None) -> None:
        """Disconnect platforms in a workspace, from now on.

        Publishing or scheduling a post with an item on one of them then gets 422
        ``PLATFORM_NOT_CONNECTED``; a scheduled post whose time comes posts its other
        items and fails those (item error ``PLATFORM_NOT_CONNECTED``).

        Raises:
            ValueError: An unknown platform or workspace.
        """
        self._core.more.set_connected(self._known_workspace(workspace_id), platforms, False)

    def _known_workspace(self, workspace_id: str | None) -> str:
        workspace = self.workspace_id if workspace_id is None else workspace_id
        if not any(workspace in owned for owned in self._core.workspaces.values()):
            raise ValueError(f"no configured key owns workspace {workspace!r}")
        return workspace

    def webhook_event(self, object_id: str) -> bytes:
        """The body PowerPost would POST to a webhook when this finished, as bytes.

        For a caption generation: ``generation.completed`` or ``generation.failed``;
        an image generation: ``image_generation.completed`` or
        ``image_generation.failed``; a post: ``post.published`` or ``post.failed``. The
        envelope (``event``, ``timestamp`` of the finish, ``workspace_id``, ``data``) is
        what [`parse_webhook()`][powerpost_async.webhooks.parse_webhook] reads. The fake
        sends nothing by itself: hand these bytes to your webhook handler.

        Raises:
            KeyError: Nothing has this id (video generations have no webhook event).
            ValueError: It has not finished yet.
        """
        from powerpost_async.testing._core import dumps

        now = self._clock()
        self._core._settle(now)
        envelope = self._core.more.webhook(object_id, now)
        if envelope is None:
            envelope = self._core.generation_webhook(object_id, now)
        return dumps(envelope)

    # -- in memory ------------------------------------------------------------------------

    def transport(self) -> FakeTransport:
        """A new in-memory transport to this server, for ``PowerPost(transport=...)``."""
        return FakeTransport(self._core, self._sleep)

    def client(self, *, use_socket: bool = False, **kwargs: Any) -> PowerPost:
        """A [`PowerPost`][powerpost_async.PowerPost] client wired to this server.

        It uses `api_key` and `workspace_id`, and the server's
        [`VirtualClock`][powerpost_async.testing.VirtualClock] (as ``clock`` and ``sleep``) if it
        has one, unless
        ``kwargs`` say otherwise.

        Args:
            use_socket: Talk over the socket (the server must be started) instead of
                in memory.
            kwargs: Any other [`PowerPost`][powerpost_async.PowerPost] argument.
        """
        kwargs.setdefault("api_key", self.api_key)
        kwargs.setdefault("workspace_id", self.workspace_id)
        if use_socket:
            kwargs.setdefault("base_url", self.base_url)
        else:
            kwargs.setdefault("transport", self.transport())
        if isinstance(self._clock, VirtualClock):
            kwargs.setdefault("clock", self._clock)
            kwargs.setdefault("sleep", self._clock.sleep)
        return PowerPost(**kwargs)

    # -- over a socket --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` while serving.

        Raises:
            RuntimeError: The server is not serving (use ``async with`` or `start()`).
        """
        if self._base_url is None:
            raise RuntimeError("FakePowerPost is not serving: use `async with` or start()")
        return self._base_url

    @property
    def stats_url(self) -> str:
        """``http://127.0.0.1:PORT/_fake/stats``: `stats()` over HTTP, while serving.

        Raises:
            RuntimeError: The server is not serving.
        """
        return self.base_url + STATS_PATH

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve over HTTP (see `base_url`).

        Args:
            host: The address to bind; loopback unless you mean to expose it.
            port: The port; 0 picks a free one.
        """
        if self._runner is not None:
            raise RuntimeError("FakePowerPost is already serving")
        runner = web.ServerRunner(
            web.Server(self._serve), access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            host, port = runner.addresses[0][:2]
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        shown = f"[{host}]" if ":" in str(host) else host
        self._base_url = f"http://{shown}:{port}"

    async def aclose(self) -> None:
        """Stop serving and close every connection. Safe to call twice."""
        runner, self._runner = self._runner, None
        self._base_url = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakePowerPost:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _serve(self, request: web.BaseRequest) -> web.StreamResponse:
        url = request.rel_url
        unread = False  # an upload whose body was not read to its end
        if request.method == "POST" and url.raw_path == MEDIA_UPLOAD_PATH:
            # Streamed: only facts of the file are kept, and reading stops past the limit.
            headers = request.headers
            upload = await read_aiohttp(
                request, lambda kind: self._core.upload_limit(headers, kind)
            )
            if upload.complete and upload.problem is None:
                await _discard(request)  # the epilogue, if any: the body is read through
            reply = self._core.handle_upload(url.raw_query_string, headers, upload)
            unread = not request.content.at_eof()
        else:
            body = await request.read()
            reply = self._core.handle(
                request.method, url.raw_path, url.raw_query_string, request.headers, body
            )
        if reply.delay:
            await self._sleep(reply.delay)
        if reply.drop and request.transport is not None:
            # Close without answering; aiohttp then finds the connection gone and
            # gives up writing the response below, quietly.
            request.transport.close()
        response = web.Response(status=reply.status or 500, body=reply.body, headers=reply.headers)
        if unread and not reply.drop:
            # Answer at once (a 413: the file passed the limit), then close. What the
            # client still sends meanwhile is read and dropped here, while the request
            # is current (closing on unread bytes would reset the connection, and the
            # client could lose the answer).
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            if not await _discard(request):
                request.protocol.force_close()
        return response


class FakeTransport:
    """An in-memory transport to a fake server, from ``FakePowerPost.transport()``.

    It answers exactly what the socket server would (the same status, headers and body,
    from the same handler), with no socket. An injected drop raises
    [`APIConnectionError`][powerpost_async.APIConnectionError] with ``request_sent=True``;
    an answer delayed past the request's timeout raises
    [`APITimeoutError`][powerpost_async.APITimeoutError] once the timeout has passed on
    the server's sleep (virtual time with a
    [`VirtualClock`][powerpost_async.testing.VirtualClock]).

    Attributes:
        closed: ``True`` once ``aclose()`` ran.
    """

    def __init__(self, core: Core, sleep: Sleep) -> None:
        self._core = core
        self._sleep = sleep
        self.closed = False

    async def send(self, request: Request) -> Response:
        """Hand the request to the server and return its answer."""
        if self.closed:
            raise PowerPostError("this FakeTransport is closed")
        url = URL(request.url, encoded=True)
        # A real exchange takes at least one pass of the event loop: let others run.
        await asyncio.sleep(0)
        content: object = request.content
        reply: Reply
        if request.method == "POST" and url.raw_path == MEDIA_UPLOAD_PATH:
            # Parsed as it comes, chunk by chunk: the file is never held whole.
            headers = request.headers
            upload = await read_chunks(
                _chunks(content),
                headers.get("Content-Type"),
                lambda kind: self._core.upload_limit(headers, kind),
            )
            reply = self._core.handle_upload(url.raw_query_string, headers, upload)
        else:
            body = await _read_whole(content)
            reply = self._core.handle(
                request.method, url.raw_path, url.raw_query_string, request.headers, body
            )
        where = f"{request.method} {url.raw_path}"
        if request.timeout is not None and reply.delay >= request.timeout:
            await self._sleep(request.timeout)
            raise APITimeoutError(f"{where} timed out after {request.timeout} s")
        if reply.delay:
            await self._sleep(reply.delay)
        if reply.drop:
            raise APIConnectionError(
                f"{where} failed: the server closed the connection without answering",
                request_sent=True,
            )
        return Response(reply.status, reply.headers, reply.body)

    async def aclose(self) -> None:
        """Mark the transport closed (the server is not affected)."""
        self.closed = True


async def _discard(request: web.BaseRequest) -> bool:
    """Read and drop the rest of a request body: until its end, the client closing, or
    `_LINGER` seconds. Whether the end was reached."""
    if request.content.at_eof():
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _LINGER
    with contextlib.suppress(Exception):  # the client went away: nothing more to read
        for _ in range(_MAX_DISCARDED_CHUNKS):
            left = deadline - loop.time()
            if left <= 0 or not await asyncio.wait_for(request.content.readany(), left):
                break
    return request.content.at_eof()


def _chunks(content: object) -> AsyncIterable[bytes]:
    """A request's content as chunks: an async iterable as it is, bytes as one chunk."""
    if content is None or isinstance(content, (bytes, bytearray, memoryview)):
        return _one(bytes(content or b""))
    if isinstance(content, AsyncIterable):
        return content  # a StreamBody, or any async iterable of bytes
    raise TypeError(f"request content must be bytes or an async iterable, got {content!r}")


async def _one(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


async def _read_whole(content: object) -> bytes:
    """A request's content as bytes (a streamed one read whole, up to a bound)."""
    if content is None or isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content or b"")
    parts: list[bytes] = []
    size = 0
    iterator = aiter(_chunks(content))
    try:
        async for chunk in iterator:
            size += len(chunk)
            if size > _MAX_JSON_BODY:
                raise PowerPostError("the fake reads streamed bodies of at most 16 MiB")
            parts.append(bytes(chunk))
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
    return b"".join(parts)
