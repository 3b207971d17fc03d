"""The fake API's sans-I/O core: a request in, a reply out, nothing awaited.

Both ways of serving call `handle()`, the aiohttp.web handler and the in-memory
transport alike; they only move bytes and carry out what the `Reply` says (wait
``delay`` seconds, or drop the connection). So both answer with the same bytes.

Generations are not worked on by anything: each one's schedule (when it starts
processing, when it ends, whether it fails) is drawn when it is created, and its status
is read off the clock whenever it is looked at. Refunds of failed generations are
settled the same way, at the start of every request and every peek.

``quirks`` (see `Quirks`) are read at every request, so switching one takes effect at
once; whatever state a walk through the list pages needs travels in its cursors.

The endpoints beyond captions (media, images, videos, posts, analytics, calendar) are
routed to `powerpost_async.testing._more.More`, which also checks every request's scope;
an upload's body reaches `handle` as an `Upload` (facts gathered while it streamed past,
see ``_multipart``), never as the file's bytes.

``GET /_fake/stats`` (`STATS_PATH`) is the fake's own: live counters, outside the API's
paths, answered without a key and never logged, faulted or rate-limited.
"""

from __future__ import annotations

import base64
import json
import math
import random
import uuid
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

from powerpost_async import (
    KNOWN_POST_TYPES,
    Generation,
    GenerationError,
    GenerationStatus,
    Output,
    YouTubeOutput,
    __version__,
)
from powerpost_async._limits import (
    CREDITS_PATH,
    DEFAULT_PAGE_SIZE,
    GENERATE_PATH,
    GENERATIONS_PATH,
    MAX_CTA_TEXT,
    MAX_MEDIA_IDS,
    MAX_PAGE_SIZE,
    MAX_PROMPT,
    MAX_SOURCE_URLS,
    MEDIA_UPLOAD_PATH,
)
from powerpost_async.testing._faults import Endpoint, Fault, Faults
from powerpost_async.testing._log import RequestLog, RequestRecord
from powerpost_async.testing._multipart import Upload, read_bytes
from powerpost_async.testing._quirks import Quirks
from powerpost_async.testing._routes import route as route_more

__all__ = [
    "COSTS",
    "DEFAULT_API_KEY",
    "DEFAULT_CREDITS",
    "DEFAULT_EPOCH",
    "DEFAULT_POST_DURATION",
    "DEFAULT_STORAGE_QUOTA",
    "DEFAULT_WORKSPACE_ID",
    "STATS_PATH",
    "Core",
    "Duration",
    "Reply",
    "RequestHook",
]

DEFAULT_API_KEY = "pp_live_sk_test"
DEFAULT_WORKSPACE_ID = "ws_test"
DEFAULT_CREDITS = 1000
#: Bytes each workspace may upload, and seconds each post item takes to post.
DEFAULT_STORAGE_QUOTA = 10 * 1024**3
DEFAULT_POST_DURATION = 3.0
#: ``created_at`` of a generation made when the server's clock read its starting value.
DEFAULT_EPOCH = datetime(2026, 1, 10, 18, 30, tzinfo=timezone.utc)
#: Credits a generation costs, by research mode (the documented examples).
COSTS: Mapping[str, int] = {"regular": 10, "deep": 15}
#: The fake's own live counters: outside the API's paths, so no API call can clash with it.
STATS_PATH = "/_fake/stats"
# Without a configured rate limit, the headers count against a limit no test reaches.
UNLIMITED = (1_000_000, 60.0)
SERVER = f"powerpost-async-fake/{__version__}"
FAILURE = {"code": "GENERATION_FAILED", "message": "Failed to generate content. Please try again."}
STATUSES = ("pending", "processing", "completed", "failed")
_FAILURE = GenerationError(FAILURE["code"], FAILURE["message"])

#: A duration in seconds: fixed, or a ``(low, high)`` range drawn per generation.
Duration = float | tuple[float, float]
#: Told of each API request once it is answered (not of requests for `STATS_PATH`).
RequestHook = Callable[[RequestRecord], object]


def _json_loads(body: bytes) -> Any:
    return json.loads(body)


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# The fake is a server of its own: it writes and reads JSON itself, with orjson when it is
# there (the bytes are the same; they come sooner), not through the SDK's converter.
loads: Callable[[bytes], Any] = _json_loads
dumps: Callable[[Any], bytes] = _json_dumps
try:
    import orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    pass
else:
    loads = orjson.loads
    dumps = orjson.dumps

_GENERATIONS = GENERATIONS_PATH
_GENERATE = GENERATE_PATH
_CREDITS = CREDITS_PATH
_CURSOR_VERSION = "v1"  # the position of the last item served, nothing more
_WALK_CURSOR_VERSION = "v2"  # that, and the state of the walk (see _Cursor)
_CAPTION_ENDPOINTS = frozenset({"list", "get", "create", "credits"})
_CAPTION_STYLE = {
    "instagram": "✨ {topic}{cta}\n\n{tags} #instagood",
    "tiktok": "POV: {topic}{cta} {tags} #fyp",
    "x": "{topic}{cta} {tags}",
    "facebook": "{topic}{cta}\n\n{tags}",
    "linkedin": "{topic}.{cta}\n\nWhat do you think? {tags}",
}


@attrs.frozen
class Reply:
    """What the server answers; ``drop`` means: close the connection, answer nothing."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    delay: float = 0.0
    drop: bool = False


class _ApiError(Exception):
    """An error answer, in the documented envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.retry_after is not None:
            error["retryAfter"] = self.retry_after
        if self.extra:
            error.update(self.extra)
        return {"error": error}


def _invalid(message: str) -> _ApiError:
    return _ApiError(400, "VALIDATION_ERROR", message)


@attrs.frozen
class _Quota:
    limit: int
    remaining: int
    reset: float  # on the server's clock


class _Limiter:
    """Fixed windows of ``per`` seconds per API key, aligned on the server's start."""

    def __init__(self, limit: int, per: float, origin: float) -> None:
        self._limit = limit
        self._per = per
        self._origin = origin
        self._used: dict[str | None, tuple[int, int]] = {}  # key -> (window, requests)

    def _window(self, key: str | None, now: float) -> tuple[int, int, float]:
        window = math.floor((now - self._origin) / self._per)
        seen, used = self._used.get(key, (window, 0))
        reset = self._origin + (window + 1) * self._per
        return window, (used if seen == window else 0), reset

    def peek(self, key: str | None, now: float) -> _Quota:
        _, used, reset = self._window(key, now)
        return _Quota(self._limit, max(0, self._limit - used), reset)

    def take(self, key: str, now: float) -> tuple[_Quota, bool]:
        window, used, reset = self._window(key, now)
        if used >= self._limit:
            return _Quota(self._limit, 0, reset), False
        self._used[key] = (window, used + 1)
        return _Quota(self._limit, self._limit - used - 1, reset), True


@attrs.define(eq=False)
class _Generation:
    generation_id: str
    seq: int
    created_ms: int
    created_at: str
    workspace_id: str
    account: str | None  # the key charged; None for seeded history, which cost nothing
    prompt: str | None
    platforms: tuple[str, ...]
    research_mode: str
    cost: int
    cta_text: str | None
    starts: float  # pending until then (server clock); math.inf holds it there
    ends: float  # processing until then
    fails: bool

    @property
    def position(self) -> tuple[int, int]:
        """Where it sorts: by creation time, then creation order."""
        return (self.created_ms, self.seq)

    def status(self, now: float) -> str:
        if now < self.starts:
            return "pending"
        if now < self.ends:
            return "processing"
        return "failed" if self.fails else "completed"


@attrs.frozen
class _Cursor:
    """Where a walk through the list pages is: what a cursor encodes.

    Without quirks that need more (``cursor_cycle``, ``empty_pages``), a cursor is the
    ``v1`` ``position`` alone, as it always was; with them, a ``v2`` cursor carries the
    rest too, so that the server keeps no state per walk.
    """

    position: tuple[int, int]  # of the last item served: the next page starts after it
    depth: int = 2  # the page this cursor leads to is the walk's depth-th (page 1: no cursor)
    empty: int = 0  # empty pages served since the last real page
    anchor: tuple[int, int] | None = None  # the position in the cursor page 1 returned

    @property
    def first(self) -> _Cursor:
        """The cursor page 1 of this walk returned."""
        anchor = self.position if self.anchor is None else self.anchor
        return _Cursor(anchor, anchor=anchor)


@attrs.frozen
class _Result:
    status: int
    payload: Any
    quota: _Quota
    generation_id: str | None = None
    object_id: str | None = None  # of the other endpoints (see RequestRecord.object_id)


class Core:
    """The fake API's state and its request handler (see the module docstring)."""

    def __init__(
        self,
        *,
        keys: Mapping[str, Iterable[str]],
        credits: int | Mapping[str, int],
        clock: Callable[[], float],
        pending: Duration,
        processing: Duration,
        failure_rate: float,
        seed: int,
        rate_limit: tuple[int, float] | None,
        epoch: datetime,
        quirks: Quirks | None = None,
        on_request: RequestHook | None = None,
        scopes: Mapping[str, Iterable[str]] | None = None,
        storage_quota: int = DEFAULT_STORAGE_QUOTA,
        image_failure_rate: float = 0.0,
        post_duration: float = DEFAULT_POST_DURATION,
        connected_platforms: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.workspaces: dict[str, tuple[str, ...]] = _check_keys(keys)
        self._balances = _check_credits(credits, self.workspaces)
        self._clock = clock
        self.pending = pending
        self.processing = processing
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be between 0 and 1, got {failure_rate!r}")
        self._failure_rate = failure_rate
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")
        self._epoch = epoch.astimezone(timezone.utc)
        self._origin = clock()
        limit, per = _check_rate_limit(rate_limit)
        self._limiter = _Limiter(limit, per, self._origin)
        # Separate streams, so that e.g. injecting faults does not change generation ids.
        self._ids = random.Random(f"{seed}/ids")
        self._schedule = random.Random(f"{seed}/schedule")
        self.faults = Faults(seed)
        self.quirks = Quirks() if quirks is None else quirks
        self.log = RequestLog()
        self.on_request = on_request
        self._requests = 0
        self._seq = 0
        self._by_id: dict[str, _Generation] = {}
        # Per workspace, sorted by position: the positions, and the generations.
        self._index: dict[str, tuple[list[tuple[int, int]], list[_Generation]]] = {}
        self._unrefunded: list[_Generation] = []
        # Media, images, videos, posts, analytics, calendar (imported here: it uses us).
        from powerpost_async.testing._more import More

        self.more = More(
            self,
            seed=seed,
            scopes=scopes,
            storage_quota=storage_quota,
            image_failure_rate=image_failure_rate,
            post_duration=post_duration,
            connected_platforms=connected_platforms,
        )

    @property
    def pending(self) -> Duration:
        """Seconds a new generation stays pending (fixed, or a range drawn per generation)."""
        return self._pending

    @pending.setter
    def pending(self, value: Duration) -> None:
        self._pending = _check_duration("pending", value)

    @property
    def processing(self) -> Duration:
        """Seconds a new generation then stays processing."""
        return self._processing

    @processing.setter
    def processing(self, value: Duration) -> None:
        self._processing = _check_duration("processing", value)

    # -- the request handler --------------------------------------------------------------

    def handle(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes | Upload,
    ) -> Reply:
        """Answer one request.

        Args:
            method: The HTTP method.
            raw_path: The path, still percent-encoded.
            raw_query: The query string without ``?``, still percent-encoded.
            headers: The request headers (looked up case-insensitively).
            body: The request body (empty if none); for an upload, what the server
                gathered of it while it streamed past (see `handle_upload`), or the
                whole body as bytes.
        """
        now = self._clock()
        self._settle(now)
        if raw_path == STATS_PATH:  # not the API: no key, no faults, not logged
            return self._stats_reply(method, now)
        self._requests += 1
        request_id = f"req_{self._requests:06d}"
        headers = CIMultiDictProxy(CIMultiDict(headers))
        query = _first_values(raw_query)
        route = _route(method, raw_path)
        endpoint = None if isinstance(route, _ApiError) else route[0]
        fault = self.faults._draw(endpoint) if endpoint is not None else None

        if fault is not None and not fault.executed:
            result = self._preempt(fault, headers, now)
        else:
            result = self._execute(route, headers, query, body, now)
            if fault is not None and fault.kind == "server_error":
                result = attrs.evolve(
                    result, status=fault.status, payload=_server_error(fault.status).payload()
                )
        drop = fault is not None and fault.kind == "drop"
        content = b"" if drop else dumps(result.payload)
        if fault is not None and fault.kind == "malformed":
            content = content[: len(content) // 2]  # a strict prefix of JSON is never JSON

        record = RequestRecord(
            request_id=request_id,
            time=now,
            method=method,
            path=raw_path,
            query=query,
            endpoint=endpoint,
            status=None if drop else result.status,
            workspace_id=headers.get("X-Workspace-Id"),
            fault=fault.kind if fault is not None else None,
            executed=fault is None or fault.executed,
            generation_id=result.generation_id,
            object_id=result.object_id,
        )
        self.log._append(record)
        if self.on_request is not None:
            self.on_request(record)
        return Reply(
            status=result.status,
            headers=self._headers(request_id, result.quota, len(content), now),
            body=content,
            delay=fault.delay if fault is not None else 0.0,
            drop=drop,
        )

    def upload_limit(self, headers: Mapping[str, str], media_type: str | None) -> int:
        """How many bytes of an upload's file are worth reading before answering.

        The per-type limit (the larger one while ``media_type`` is unknown), or what is
        left of the workspace's storage quota if less; 0 when the request will be
        refused anyway (no key, missing scope, not the key's workspace), so that a
        server stops reading at once. Past it, the answer is a 413.
        """
        headers = CIMultiDictProxy(CIMultiDict(headers))
        key = _api_key(headers)
        if key is None or key not in self.workspaces:
            return 0
        workspace = headers.get("X-Workspace-Id", "").strip()
        try:
            self.more.authorize(key, "upload")
        except _ApiError:
            return 0
        if workspace not in self.workspaces[key]:
            return 0
        self._settle(self._clock())
        return self.more.upload_limit(workspace, media_type)

    def handle_upload(self, raw_query: str, headers: Mapping[str, str], upload: Upload) -> Reply:
        """Answer ``POST /media/upload`` from the facts gathered of its body.

        The servers read the multipart body as it streams, keeping only its ``type``,
        the file's name, content type, size and first bytes (see `upload_limit` for
        when they stop), and hand those here: the core never holds the file.
        """
        return self.handle("POST", MEDIA_UPLOAD_PATH, raw_query, headers, upload)

    def _preempt(self, fault: Fault, headers: Mapping[str, str], now: float) -> _Result:
        """The answer to a request that an injected fault stops before the API sees it."""
        key = _api_key(headers)
        quota = self._limiter.peek(key if key in self.workspaces else None, now)
        if fault.kind == "rate_limit":
            quota = attrs.evolve(quota, remaining=0, reset=now + fault.retry_after)
            error = _rate_limited(fault.retry_after)
            return _Result(error.status, error.payload(), quota)
        if fault.kind == "server_error":
            return _Result(fault.status, _server_error(fault.status).payload(), quota)
        return _Result(0, None, quota)  # dropped: no answer at all

    def _execute(
        self,
        route: tuple[Endpoint, str | None] | _ApiError,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: bytes | Upload,
        now: float,
    ) -> _Result:
        quota = self._limiter.peek(None, now)
        generation_id: str | None = None
        object_id: str | None = None
        try:
            if isinstance(route, _ApiError):
                raise route
            endpoint, target = route
            if endpoint in _CAPTION_ENDPOINTS:
                generation_id = target
            else:
                object_id = target
            key = _api_key(headers)
            if key is None or key not in self.workspaces:
                raise _ApiError(401, "INVALID_API_KEY", "Invalid or missing API key")
            quota, allowed = self._limiter.take(key, now)
            if not allowed:
                raise _rate_limited(max(1, math.ceil(quota.reset - now)))
            self.more.authorize(key, endpoint)
            if endpoint == "credits":
                return _Result(200, {"balance": self._balances[key]}, quota)
            workspace = self._workspace(key, headers)
            if endpoint not in _CAPTION_ENDPOINTS:
                if endpoint == "upload" and not isinstance(body, Upload):
                    body = read_bytes(
                        body,
                        headers.get("Content-Type"),
                        lambda kind: self.more.upload_limit(workspace, kind),
                    )
                status, payload, object_id = self.more.execute(
                    endpoint, target, key, workspace, query, body, now
                )
                return _Result(status, payload, quota, object_id=object_id)
            body = body if isinstance(body, bytes) else b""
            if endpoint == "list":
                payload = self._list(workspace, query, now)
            elif endpoint == "get":
                payload = self._detail(self._find(workspace, generation_id), now)
            else:
                payload = self._create(key, workspace, body, now)
                generation_id = payload["generation_id"]
            return _Result(200, payload, quota, generation_id)
        except _ApiError as error:
            return _Result(error.status, error.payload(), quota, generation_id, object_id)

    def _headers(self, request_id: str, quota: _Quota, length: int, now: float) -> dict[str, str]:
        reset_unix = self._epoch.timestamp() + (quota.reset - self._origin)
        return {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(length),
            # The server's own clock, so that a virtual clock gives reproducible headers.
            "Date": format_datetime(self._at(now).replace(microsecond=0), usegmt=True),
            "Server": SERVER,
            "X-Request-ID": request_id,
            "X-RateLimit-Limit": str(quota.limit),
            "X-RateLimit-Remaining": str(quota.remaining),
            "X-RateLimit-Reset": str(math.ceil(reset_unix)),
        }

    def _workspace(self, key: str, headers: Mapping[str, str]) -> str:
        workspace = headers.get("X-Workspace-Id", "").strip()
        if not workspace:
            raise _invalid("X-Workspace-Id header is required")
        if workspace not in self.workspaces[key]:
            raise _ApiError(403, "FORBIDDEN", "You do not have access to this workspace")
        return workspace

    # -- endpoints ------------------------------------------------------------------------

    def _list(self, workspace: str, query: Mapping[str, str], now: float) -> dict[str, Any]:
        status = query.get("status")
        if status is not None and status not in STATUSES:
            raise _invalid(f"status must be one of {', '.join(STATUSES)}")
        limit = _page_size(query.get("limit"))
        raw_cursor = query.get("cursor")
        cursor = None if raw_cursor is None else _decode(raw_cursor)
        quirks = self.quirks
        depth = 1 if cursor is None else cursor.depth
        page: list[_Generation] = []
        following: _Cursor | None  # where the next page starts; None: this is the last
        if cursor is not None and cursor.empty < quirks.empty_pages:
            # An empty page before the real one: the same position, one more empty page.
            following = attrs.evolve(cursor, depth=depth + 1, empty=cursor.empty + 1)
        else:
            page, has_more = self._page(workspace, cursor, status, limit, now)
            following = None
            if has_more:
                position = page[-1].position
                anchor = position if cursor is None else cursor.first.position
                following = _Cursor(position, depth=depth + 1, anchor=anchor)
        if cursor is not None and 0 < quirks.cursor_cycle < depth:
            following = cursor.first  # back to where page 1 pointed: round and round
        if following is None:
            next_cursor = None
        elif quirks.empty_cursor:
            next_cursor = ""
        else:
            next_cursor = _encode(following, walk=bool(quirks.cursor_cycle or quirks.empty_pages))
        return {
            "data": [self._summary(g, now) for g in page],
            "next_cursor": next_cursor,
            "has_more": following is not None,
        }

    def _page(
        self,
        workspace: str,
        cursor: _Cursor | None,
        status: str | None,
        limit: int,
        now: float,
    ) -> tuple[list[_Generation], bool]:
        """The generations of a real page (the status filter applied), and if more follow."""
        positions, generations = self._index.get(workspace, ([], []))
        # A cursor is the position of the last item served, so generations created since
        # then can neither shift nor repeat a page: newest first they come before it, and
        # oldest first after everything served so far (on later pages).
        indices: range
        if self.quirks.order == "oldest_first":
            start = 0 if cursor is None else bisect_right(positions, cursor.position)
            indices = range(start, len(positions))
        else:
            end = len(positions) if cursor is None else bisect_left(positions, cursor.position)
            indices = range(end - 1, -1, -1)
        page: list[_Generation] = []
        for index in indices:
            generation = generations[index]
            if status is not None and generation.status(now) != status:
                continue
            if len(page) == limit:
                return page, True
            page.append(generation)
        return page, False

    def _lookup(self, generation_id: str) -> _Generation | None:
        """The generation with this id (in any case, when ids are canonicalised)."""
        generation = self._by_id.get(generation_id)
        if generation is None and self.quirks.canonical_ids:
            generation = self._by_id.get(generation_id.lower())
        return generation

    def _find(self, workspace: str, generation_id: str | None) -> _Generation:
        generation = self._lookup(generation_id or "")
        if generation is None or generation.workspace_id != workspace:
            raise _ApiError(404, "NOT_FOUND", "Generation not found")
        return generation

    def _create(self, key: str, workspace: str, body: bytes, now: float) -> dict[str, Any]:
        request = _read_create(body)
        cost = COSTS[request["research_mode"]]
        balance = self._balances[key]
        if balance < cost:
            raise _ApiError(
                402,
                "INSUFFICIENT_CREDITS",
                f"Insufficient credits: this generation needs {cost}, the balance is {balance}",
            )
        self._balances[key] = balance - cost
        generation = self._new(
            workspace,
            now,
            account=key,
            prompt=request["prompt"],
            post_types=request["post_types"],
            research_mode=request["research_mode"],
            cta_text=request["cta_text"],
        )
        return {
            "generation_id": generation.generation_id,
            "status": generation.status(now),
            "credits_used": cost,
            "remaining_credits": self._balances[key],
            "status_url": f"{_GENERATIONS}/{generation.generation_id}",
        }

    # -- state ----------------------------------------------------------------------------

    def _new(
        self,
        workspace: str,
        now: float,
        *,
        account: str | None,
        prompt: str | None,
        post_types: Iterable[str],
        research_mode: str,
        cta_text: str | None,
        hold: str | None = None,
    ) -> _Generation:
        self._seq += 1
        generation_id = str(uuid.UUID(int=self._ids.getrandbits(128), version=4))
        # Always three draws per generation, so one's settings never shift the next's.
        pending = _draw(self._pending, self._schedule.random())
        processing = _draw(self._processing, self._schedule.random())
        fails = self._schedule.random() < self._failure_rate
        starts, ends = now + pending, now + pending + processing
        if hold is not None:
            starts, ends, fails = _held(hold, now, fails)
        created_ms = round((now - self._origin) * 1000)
        generation = _Generation(
            generation_id=generation_id,
            seq=self._seq,
            created_ms=created_ms,
            created_at=_iso(self._epoch + timedelta(milliseconds=created_ms)),
            workspace_id=workspace,
            account=account,
            prompt=prompt,
            platforms=_platforms(post_types),
            research_mode=research_mode,
            cost=COSTS[research_mode],
            cta_text=cta_text,
            starts=starts,
            ends=ends,
            fails=fails,
        )
        self._by_id[generation_id] = generation
        positions, generations = self._index.setdefault(workspace, ([], []))
        at = bisect_right(positions, generation.position)
        positions.insert(at, generation.position)
        generations.insert(at, generation)
        if fails and account is not None:
            self._unrefunded.append(generation)
        return generation

    def _settle(self, now: float) -> None:
        """Refund the failed generations whose failure is visible by ``now``; and the
        rest of the clock's work (images, videos, posts: `More.settle`)."""
        self.more.settle(now)
        if not any(g.ends <= now for g in self._unrefunded):
            return
        for generation in self._unrefunded:
            if generation.ends <= now and generation.account is not None:
                self._balances[generation.account] += generation.cost
        self._unrefunded = [g for g in self._unrefunded if g.ends > now]

    def _summary(self, generation: _Generation, now: float) -> dict[str, Any]:
        status = generation.status(now)
        return {
            "generation_id": generation.generation_id,
            "status": status,
            "prompt": generation.prompt,
            "platforms": list(generation.platforms),
            "research_mode": generation.research_mode,
            "credits_used": 0 if status == "failed" else generation.cost,
            "created_at": generation.created_at,
        }

    def _detail(self, generation: _Generation, now: float) -> dict[str, Any]:
        data = self._summary(generation, now)
        if data["status"] == "completed":
            data["outputs"] = {
                platform: {"title": output.title, "description": output.description}
                if isinstance(output, YouTubeOutput)
                else output
                for platform, output in _outputs(generation).items()
            }
        elif data["status"] == "failed":
            data["error"] = dict(FAILURE)
        return data

    def _model(self, generation: _Generation, now: float) -> Generation:
        """What `_detail` says, as the SDK's model (what a client structures from it)."""
        status = generation.status(now)
        created = self._epoch + timedelta(milliseconds=generation.created_ms)
        return Generation(
            generation_id=generation.generation_id,
            status=GenerationStatus(status),
            # The wire carries milliseconds (see _iso).
            created_at=created.replace(microsecond=created.microsecond // 1000 * 1000),
            prompt=generation.prompt,
            platforms=generation.platforms,
            research_mode=generation.research_mode,
            credits_used=0 if status == "failed" else generation.cost,
            outputs=_outputs(generation) if status == "completed" else None,
            error=_FAILURE if status == "failed" else None,
        )

    # -- the fake's own counters ----------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Live counters, JSON-ready: what `STATS_PATH` answers (see FakePowerPost.stats)."""
        now = self._clock()
        self._settle(now)
        by_endpoint: dict[str, Counter[str]] = {}
        by_status: Counter[str] = Counter()
        faults: Counter[str] = Counter()
        for record in self.log:
            status = "dropped" if record.status is None else str(record.status)
            by_endpoint.setdefault(record.endpoint or "other", Counter())[status] += 1
            by_status[status] += 1
            if record.fault is not None:
                faults[record.fault] += 1
        statuses = Counter(g.status(now) for g in self._by_id.values())
        used = sum(
            g.cost
            for g in self._by_id.values()
            if g.account is not None and g.status(now) != "failed"
        )
        used += self.more.used(now)
        return {
            "uptime_s": round(now - self._origin, 3),
            "requests": {
                "total": len(self.log),
                "by_endpoint": {e: dict(sorted(c.items())) for e, c in sorted(by_endpoint.items())},
                "by_status": dict(sorted(by_status.items())),
                "faults": dict(sorted(faults.items())),
            },
            "generations": {"total": len(self._by_id)} | {s: statuses[s] for s in STATUSES},
            **self.more.stats(now),
            "credits": {"used": used, "balance": sum(self._balances.values())},
        }

    def _stats_reply(self, method: str, now: float) -> Reply:
        if method == "GET":
            status, content = 200, dumps(self.stats())
        else:
            error = _ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {STATS_PATH}")
            status, content = error.status, dumps(error.payload())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(content)),
            "Date": format_datetime(self._at(now).replace(microsecond=0), usegmt=True),
            "Server": SERVER,
            "Cache-Control": "no-store",
        }
        return Reply(status=status, headers=headers, body=content)

    def _at(self, now: float) -> datetime:
        return self._epoch + timedelta(seconds=now - self._origin)

    # -- peeks and helpers for FakePowerPost (no request, no log) --------------------------

    def generation(self, generation_id: str) -> Generation:
        """What ``GET /content/generations/{id}`` would answer, in any workspace."""
        now = self._clock()
        self._settle(now)
        generation = self._lookup(generation_id)
        if generation is None:
            raise KeyError(generation_id)
        return self._model(generation, now)

    def generation_webhook(self, generation_id: str, now: float) -> dict[str, Any]:
        """The ``generation.completed``/``.failed`` webhook envelope of a finished one.

        Raises:
            KeyError: No generation has this id.
            ValueError: It has not finished yet.
        """
        generation = self._by_id.get(generation_id)
        if generation is None:
            raise KeyError(f"no generation with id {generation_id!r}")
        detail = self._detail(generation, now)
        status = detail["status"]
        data: dict[str, Any] = {"generation_id": generation_id, "status": status}
        if status == "completed":
            data["outputs"] = detail["outputs"]
        elif status == "failed":
            data["error_code"] = FAILURE["code"]
            data["error_message"] = FAILURE["message"]
        else:
            raise ValueError(f"generation {generation_id} is still {status}")
        return {
            "event": f"generation.{status}",
            "timestamp": _iso(self._at(generation.ends)),
            "workspace_id": generation.workspace_id,
            "data": data,
        }

    def has(self, generation_id: str) -> bool:
        """Whether a generation (caption, image or video) has this id."""
        return generation_id in self._by_id or self.more.has(generation_id)

    def timeline(self, generation_id: str) -> tuple[float, float, float]:
        """(created, starts, ends) on the server clock; ``inf`` where it is held."""
        generation = self._by_id[generation_id]
        created = self._origin + generation.created_ms / 1000
        return created, generation.starts, generation.ends

    def generations(self, workspace: str | None) -> list[Generation]:
        """Every generation (of one workspace, or all), newest first, as ``get`` answers."""
        now = self._clock()
        self._settle(now)
        everything = sorted(self._by_id.values(), key=lambda g: g.position, reverse=True)
        return [
            self._model(g, now)
            for g in everything
            if workspace is None or g.workspace_id == workspace
        ]

    def balance(self, key: str) -> int:
        """The credit balance of ``key``, refunds settled."""
        self._settle(self._clock())
        return self._balances[key]

    def seed(
        self,
        count: int,
        workspace: str,
        *,
        status: str | None,
        prompt: str | None,
        post_types: Iterable[str],
        research_mode: str,
    ) -> list[str]:
        """Make ``count`` generations directly, charging nothing; their ids, oldest first."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)} or None")
        if research_mode not in COSTS:
            raise ValueError(f"research_mode must be one of {', '.join(COSTS)}")
        types = list(post_types)
        _check_post_types(types, ValueError)
        now = self._clock()
        self._settle(now)
        return [
            self._new(
                workspace,
                now,
                account=None,
                prompt=prompt if prompt is not None else f"Seeded generation {self._seq + 1}",
                post_types=types,
                research_mode=research_mode,
                cta_text=None,
                hold=status,
            ).generation_id
            for _ in range(count)
        ]

    def complete_all(self) -> None:
        """End every unfinished generation (caption, image, video) now, as drawn."""
        self.complete([*self._by_id, *self.more.image_jobs, *self.more.video_jobs])

    def complete(self, generation_ids: Iterable[str]) -> None:
        """End these generations now (those unfinished), with the outcome drawn for each."""
        now = self._clock()
        for generation_id in generation_ids:
            if self.more.complete(generation_id, now):
                continue
            generation = self._by_id[generation_id]
            if generation.ends > now:
                generation.starts = min(generation.starts, now)
                generation.ends = now
        self._settle(now)


# -- pure helpers --------------------------------------------------------------------------


def _route(method: str, raw_path: str) -> tuple[Endpoint, str | None] | _ApiError:
    endpoint: Endpoint
    target: str | None = None
    if raw_path == _GENERATIONS:
        endpoint, allowed = "list", "GET"
    elif raw_path.startswith(_GENERATIONS + "/") and "/" not in raw_path[len(_GENERATIONS) + 1 :]:
        endpoint, allowed = "get", "GET"
        target = unquote(raw_path[len(_GENERATIONS) + 1 :])
        if not target:
            return _ApiError(404, "NOT_FOUND", f"No route for {raw_path}")
    elif raw_path == _GENERATE:
        endpoint, allowed = "create", "POST"
    elif raw_path == _CREDITS:
        endpoint, allowed = "credits", "GET"
    else:
        found = route_more(method, raw_path)
        if found is None:
            return _ApiError(404, "NOT_FOUND", f"No route for {raw_path}")
        if isinstance(found, str):
            return _ApiError(405, "METHOD_NOT_ALLOWED", found)
        return found
    if method != allowed:
        return _ApiError(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on {raw_path}")
    return endpoint, target


def _first_values(raw_query: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        values.setdefault(name, value)
    return values


def _api_key(headers: Mapping[str, str]) -> str | None:
    key = headers.get("x-api-key")
    if key is not None:
        return key.strip()
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _rate_limited(retry_after: int) -> _ApiError:
    return _ApiError(
        429,
        "RATE_LIMIT_EXCEEDED",
        f"Rate limit exceeded, retry in {retry_after} seconds",
        retry_after=retry_after,
    )


def _server_error(status: int) -> _ApiError:
    return _ApiError(status, "INTERNAL_ERROR", HTTPStatus(status).phrase)


def _page_size(value: str | None) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_PAGE_SIZE:
        raise _invalid(f"limit must be an integer between 1 and {MAX_PAGE_SIZE}")
    return int(value)


def _encode(cursor: _Cursor, *, walk: bool = False) -> str:
    """The cursor as sent: its position alone (v1), or with the walk's state (v2)."""
    fields = [*cursor.position]
    if walk:
        fields += [cursor.depth, cursor.empty, *cursor.first.position]
    version = _WALK_CURSOR_VERSION if walk else _CURSOR_VERSION
    text = ":".join([version, *map(str, fields)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str) -> _Cursor:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        version, *fields = text.split(":")
        numbers = [int(field) for field in fields]
        if version == _CURSOR_VERSION and len(numbers) == 2:
            return _Cursor((numbers[0], numbers[1]))
        if version == _WALK_CURSOR_VERSION and len(numbers) == 6:
            created_ms, seq, depth, empty, anchor_ms, anchor_seq = numbers
            if depth < 2 or empty < 0:
                raise ValueError(depth, empty)
            return _Cursor((created_ms, seq), depth, empty, (anchor_ms, anchor_seq))
        raise ValueError(version)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors too
        raise _invalid("cursor is not valid: pass next_cursor as it was returned") from None


def _read_create(body: bytes) -> dict[str, Any]:
    """The fields of a create request, checked as the API documents them."""
    try:
        data = loads(body)
    except ValueError:
        raise _invalid("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise _invalid("Request body must be a JSON object")
    prompt = data.get("prompt")
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise _invalid("prompt must be a non-empty string")
        if len(prompt) > MAX_PROMPT:
            raise _invalid(f"prompt must be at most {MAX_PROMPT} characters")
    if "post_types" not in data:
        raise _invalid("post_types is required")
    post_types = data["post_types"]
    _check_post_types(post_types, _invalid)
    research_mode = data.get("research_mode")
    if research_mode is None:
        raise _invalid("research_mode is required")
    if research_mode not in COSTS:
        raise _invalid(f"research_mode must be one of {', '.join(COSTS)}")
    media_ids = _string_list(data, "media_ids", MAX_MEDIA_IDS)
    if prompt is None and not media_ids:
        raise _invalid("Either prompt or media_ids is required")
    writing_style_id = data.get("writing_style_id")
    if writing_style_id is not None and (
        not isinstance(writing_style_id, str) or not writing_style_id.strip()
    ):
        raise _invalid("writing_style_id must be a non-empty string")
    cta_text = data.get("cta_text")
    if cta_text is not None:
        if not isinstance(cta_text, str):
            raise _invalid("cta_text must be a string")
        if len(cta_text) > MAX_CTA_TEXT:
            raise _invalid(f"cta_text must be at most {MAX_CTA_TEXT} characters")
    for url in _string_list(data, "source_urls", MAX_SOURCE_URLS):
        if not url.startswith(("http://", "https://")):
            raise _invalid("source_urls must be http(s) URLs")
    return {
        "prompt": prompt,
        "post_types": post_types,
        "research_mode": research_mode,
        "cta_text": cta_text,
    }


def _check_post_types(post_types: object, error: Callable[[str], Exception]) -> None:
    if (
        not isinstance(post_types, list)
        or not post_types
        or not all(isinstance(t, str) for t in post_types)
    ):
        raise error("post_types must be a non-empty array of post types")
    unknown = [t for t in post_types if t not in KNOWN_POST_TYPES]
    if unknown:
        raise error(
            f"Unknown post type(s): {', '.join(unknown)}; "
            f"valid types are {', '.join(KNOWN_POST_TYPES)}"
        )


def _string_list(data: Mapping[str, Any], name: str, most: int) -> list[str]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _invalid(f"{name} must be an array of non-empty strings")
    if len(value) > most:
        raise _invalid(f"{name} must have at most {most} items")
    return value


def _platforms(post_types: Iterable[str]) -> tuple[str, ...]:
    # instagram-feed -> instagram, x-post -> x; several types of one platform share it.
    return tuple(dict.fromkeys(t.partition("-")[0] for t in post_types))


def _outputs(generation: _Generation) -> dict[str, Output]:
    topic = generation.prompt or "Fresh from our media library"
    cta = f" {generation.cta_text}" if generation.cta_text else ""
    words = ["".join(c for c in w if c.isalnum()) for w in topic.split()]
    tags = " ".join([f"#{w.capitalize()}" for w in words if len(w) > 3][:3]) or "#news"
    outputs: dict[str, Output] = {}
    for platform in generation.platforms:
        if platform == "youtube":
            outputs[platform] = YouTubeOutput(title=topic[:100], description=f"{topic}{cta} {tags}")
        else:
            style = _CAPTION_STYLE.get(platform, "{topic}{cta} {tags}")
            outputs[platform] = style.format(topic=topic, cta=cta, tags=tags)
    return outputs


def _draw(duration: Duration, uniform: float) -> float:
    if isinstance(duration, tuple):
        low, high = duration
        return low + (high - low) * uniform
    return duration


def _held(status: str, now: float, fails: bool) -> tuple[float, float, bool]:
    """A schedule that keeps a seeded generation in ``status`` (until complete_all)."""
    if status == "pending":
        return math.inf, math.inf, fails
    if status == "processing":
        return now, math.inf, fails
    return now, now, status == "failed"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _check_keys(keys: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    checked: dict[str, tuple[str, ...]] = {}
    for key, workspaces in keys.items():
        if not isinstance(key, str) or not key or key != key.strip():
            raise ValueError(f"API keys must be non-empty strings, got {key!r}")
        if isinstance(workspaces, str):
            raise TypeError(f"the workspaces of {key[:12]}... must be a list of ids, not a string")
        checked[key] = tuple(workspaces)
    if not checked:
        raise ValueError("keys must configure at least one API key")
    return checked


def _check_credits(credits: int | Mapping[str, int], keys: Mapping[str, object]) -> dict[str, int]:
    if isinstance(credits, int):
        return dict.fromkeys(keys, credits)
    unknown = set(credits) - set(keys)
    if unknown:
        raise ValueError(f"credits names {len(unknown)} key(s) that are not configured in keys")
    return {key: credits.get(key, DEFAULT_CREDITS) for key in keys}


def _check_duration(name: str, value: Duration) -> Duration:
    bounds = value if isinstance(value, tuple) else (value, value)
    low, high = bounds
    if not (0 <= low <= high) or math.isinf(high):
        raise ValueError(f"{name} must be seconds >= 0, or a (low, high) range, got {value!r}")
    return value


def _check_rate_limit(rate_limit: tuple[int, float] | None) -> tuple[int, float]:
    if rate_limit is None:
        return UNLIMITED
    limit, per = rate_limit
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"rate_limit needs at least 1 request per window, got {limit!r}")
    if not per > 0 or math.isinf(per):
        raise ValueError(f"rate_limit needs a window of seconds > 0, got {per!r}")
    return limit, float(per)
