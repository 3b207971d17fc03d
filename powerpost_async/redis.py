"""Fleet mode through Redis: many processes, one sweeper (``pip install 'powerpost-async[redis]'``).

```python
from powerpost_async import PowerPost
from powerpost_async.redis import RedisCoordinator

async with PowerPost(coordinator=RedisCoordinator("redis://localhost:6379/0")) as pp:
    generations = await pp.generations.wait_many(ids)  # nothing else changes
```

Every process of a service (uvicorn or gunicorn workers, replicas) gives its client a
coordinator on the same Redis. Then, per API base URL and workspace (and namespace):

* each process registers the ids its callers await, with their deadlines;
* one process holds the *lease* (a key with a TTL, renewed) and sweeps, once, for the
  ids of every process; it stores each outcome (with a TTL) and announces it; every
  process resolves its own waits from the announcement (reading the job with one GET
  unless whole jobs are stored), and one that registers later finds the stored outcome;
* a webhook fed to any process, and a 429's pause, reach every process;
* if the leader dies, another takes the lease within ``lease_ttl`` (plus one tick of a
  third of it): the ids live in Redis, not in the leader, so no wait is lost;
* if Redis cannot be reached, the client says so once (a WARNING on the
  ``powerpost_async`` logger), waits on its own, and rejoins when Redis is back. No
  wait ever fails because Redis failed.

What is stored, all under ``<namespace>:{<hash of base URL and workspace>}:``, every key
with a TTL: the lease (``lease_ttl``); per process, the ids it awaits with their
deadlines (``3 x lease_ttl``, renewed while the process lives); the outcomes
(``result_ttl``, default 5 minutes): by default only each finished job's id and final
status (every process that awaits it reads it with one GET), whole jobs (user content,
the captions) only with ``store_results=True``; the channel of announcements. Never the
API key (the scope holds a digest of it: processes with different keys never share).
Use ``rediss://`` for TLS; AUTH goes in the URL.

Nothing else in the package imports this module: ``import powerpost_async`` never
imports redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
import secrets
import sys
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

try:
    import redis.asyncio as _redis
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "RedisCoordinator needs redis, which is not installed: "
        "pip install 'powerpost-async[redis]'",
        name=exc.name,
    ) from exc

from ._converter import dumps, loads, structure, unstructure
from ._engine._kinds import KINDS, kind_of
from ._exceptions import APIStatusError, status_error_class
from ._fleet import FleetMember, JobEnded
from ._models import Generation

if TYPE_CHECKING:
    from ._fleet import Outcome

__all__ = ["RedisCoordinator"]

logger = logging.getLogger("powerpost_async")

T = TypeVar("T")

#: A process that stops renewing its registrations leaves after this many lease TTLs.
REGISTRATION_TTLS: Final = 3
#: Outcomes per announcement at most (a follower reads each whole before filtering it).
ANNOUNCE_BATCH: Final = 256
#: Longest pause between two attempts to reach Redis again.
MAX_RECONNECT_PAUSE: Final = 30.0
_NAMESPACE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

# Take the lease if nobody holds it, renew it if we do (also after a reconnection).
_ACQUIRE = """
local holder = redis.call('get', KEYS[1])
if holder == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
# Give the lease up, only if we hold it.
_RESIGN = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
# The leader forgets processes that stopped renewing (their id sets expired already).
_PRUNE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('zremrangebyscore', KEYS[2], '-inf', ARGV[2])
end
return -1
"""


class RedisCoordinator:
    """Coordinates the clients of many processes through Redis (see the module).

    One per client: ``PowerPost(coordinator=RedisCoordinator(...))`` in each process.

    Args:
        redis: A ``redis://``, ``rediss://`` or ``unix://`` URL (the connection is then
            made and closed here), or a ``redis.asyncio.Redis`` you own (used as is,
            never closed here).
        namespace: Prefix of every key, so that several services can share one Redis.
        lease_ttl: Seconds the sweeper's lease lasts without renewal: how soon another
            process takes over from a dead leader. Renewed every third of it.
        result_ttl: Seconds an outcome stays in Redis for processes that register its
            id late.
        store_results: Store and announce whole finished jobs (prompts, captions, media
            links) instead of only their ids and final statuses. Off by default: a
            shared Redis is often less guarded than your API key, and each process that
            awaits a job reads it with one GET. Turn it on when many processes await the
            same ids and those GETs matter more than what Redis holds for ``result_ttl``.

    Raises:
        ValueError: A setting is not acceptable (named in the message).
    """

    def __init__(
        self,
        redis: str | _redis.Redis,
        *,
        namespace: str = "powerpost",
        lease_ttl: float = 5.0,
        result_ttl: float = 300.0,
        store_results: bool = False,
    ) -> None:
        if isinstance(redis, str):
            if not redis.startswith(("redis://", "rediss://", "unix://")):
                raise ValueError(
                    "redis must be a redis://, rediss:// or unix:// URL, or a redis.asyncio.Redis"
                )
            self._url: str | None = redis
            self._redis: _redis.Redis | None = None
        elif isinstance(redis, _redis.Redis):
            self._url = None
            self._redis = redis
        else:
            raise TypeError(
                f"redis must be a URL or a redis.asyncio.Redis, got {type(redis).__name__}"
            )
        if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise ValueError(
                "namespace must be 1 to 64 letters, digits or '_.:-', got " + repr(namespace)
            )
        for name, value in (("lease_ttl", lease_ttl), ("result_ttl", result_ttl)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number of seconds")
            if not 0.1 <= value < math.inf:
                raise ValueError(f"{name} must be at least 0.1 s and finite, got {value!r}")
        self._namespace = namespace
        self._lease_ttl = float(lease_ttl)
        self._result_ttl = float(result_ttl)
        if not isinstance(store_results, bool):
            raise TypeError("store_results must be True or False")
        self._store_results = store_results
        self._proc = secrets.token_hex(8)  # this process, in Redis
        self._member: FleetMember | None = None
        self._prefix = ""
        self._task: asyncio.Task[None] | None = None
        # Set by leave(): every loop ends at its next turn even if a cancellation is
        # swallowed on the way (asyncio.wait_for can before 3.12, and so can a library).
        self._stopping = False
        self._connected = False
        self._leading = False
        self._lease_until = 0.0  # loop time until which our lease surely holds
        self._warned = False
        # What the writer owes Redis, merged between flushes.
        self._held: dict[str, float] = {}  # id -> deadline (loop time; inf: none)
        self._to_hold: dict[str, float] = {}
        self._to_release: set[str] = set()
        self._to_publish: dict[str, Any] = {}
        self._to_feed: set[str] = set()
        self._to_pause = 0.0
        self._wake: asyncio.Event | None = None
        self._first_attempt: asyncio.Future[None] | None = None
        self._offset = 0.0  # Redis time minus loop time

    def __repr__(self) -> str:
        where = "a borrowed client" if self._url is None else _safe_url(self._url)
        state = "connected" if self._connected else "not connected"
        role = ", leading" if self._leading else ""
        return f"<RedisCoordinator {where} namespace={self._namespace!r} {state}{role}>"

    # -- the Coordinator protocol -------------------------------------------------------

    @property
    def stores_results(self) -> bool:
        """Whether whole jobs are stored and announced (``store_results``), or only ids
        and statuses (then the leader need not read a job nobody awaits in its process)."""
        return self._store_results

    @property
    def connected(self) -> bool:
        """Whether Redis can be reached now."""
        return self._connected

    @property
    def leading(self) -> bool:
        """Whether this process sweeps for the fleet now."""
        return self._leading

    @property
    def process_id(self) -> str:
        """How this process is named in Redis (random; handy in logs)."""
        return self._proc

    def may_lead(self) -> bool:
        """Whether this process surely still holds the lease (a fence)."""
        return self._leading and asyncio.get_running_loop().time() < self._lease_until

    async def join(self, member: FleetMember) -> None:
        """Start: connect, then keep connected in the background.

        Returns once the first attempt to reach Redis has succeeded or failed, or after
        ``lease_ttl`` at most: a Redis that is down delays the client that little, and
        never fails it.
        """
        if self._member is not None:
            raise RuntimeError("this RedisCoordinator already serves a client: use one per client")
        self._member = member
        self._stopping = False
        digest = hashlib.sha256(member.scope.encode()).hexdigest()[:16]
        # One hash tag: every key in one slot, so that scripts work on Redis Cluster too.
        self._prefix = f"{self._namespace}:{{{digest}}}"
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._first_attempt = loop.create_future()
        self._task = loop.create_task(self._run(), name="powerpost-fleet")
        await asyncio.wait({self._first_attempt}, timeout=self._lease_ttl)

    async def leave(self) -> None:
        """Stop: withdraw this process's ids, resign the lease, close what we opened."""
        task, self._task = self._task, None
        self._stopping = True
        self._poke()
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
        joined, self._member = self._member is not None, None  # the client is closing
        client = self._redis
        if client is not None and joined and self._connected:
            with contextlib.suppress(Exception):  # leaving must never fail a close
                await self._timed(self._withdraw(client))
        self._set_connected(False, None)
        if client is not None and self._url is not None:
            self._redis = None
            with contextlib.suppress(Exception):
                await client.aclose()

    def hold(self, deadlines: Mapping[str, float | None]) -> None:
        """Register ids awaited here (seconds until their deadlines, ``None``: none)."""
        now = self._now()
        for generation_id, left in deadlines.items():
            deadline = math.inf if left is None else now + left
            if deadline > self._held.get(generation_id, -math.inf):
                self._held[generation_id] = deadline
                self._to_hold[generation_id] = deadline
            self._to_release.discard(generation_id)
        self._poke()

    def release(self, generation_ids: Collection[str]) -> None:
        """Withdraw ids nobody here awaits any more."""
        for generation_id in generation_ids:
            self._held.pop(generation_id, None)
            self._to_hold.pop(generation_id, None)
            self._to_release.add(generation_id)
        self._poke()

    def publish(self, outcomes: Mapping[str, Outcome]) -> None:
        """Store and announce finished generations (or errors for good)."""
        if not self._connected:
            return  # the others have a leader of their own, or wait on their own
        for generation_id, outcome in outcomes.items():
            self._to_publish[generation_id] = _encode(outcome, self._store_results)
        self._poke()

    def feed(self, generation_id: str) -> None:
        """Pass a webhook's hint on to the leader."""
        if self._connected:
            self._to_feed.add(generation_id)
            self._poke()

    def pause(self, seconds: float) -> None:
        """Share a 429's pause with the fleet."""
        if self._connected and seconds > 0:
            self._to_pause = max(self._to_pause, seconds)
            self._poke()

    # -- the background task --------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Redis down, a timeout, a bad answer: wait alone
                failures = 0 if self._connected else failures + 1
                self._set_connected(False, error)
            self._attempted()
            await asyncio.sleep(min(MAX_RECONNECT_PAUSE, 0.25 * 2 ** min(failures, 8)))

    async def _session(self) -> None:
        client = self._redis
        if client is None:
            assert self._url is not None
            client = self._redis = _redis.Redis.from_url(
                self._url,
                socket_timeout=self._lease_ttl,
                socket_connect_timeout=self._lease_ttl,
            )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._timed(pubsub.subscribe(self._key("events")))
            await self._timed(client.ping())
            self._set_connected(True, None)  # the client hands its waits over now
            await self._tick(client)
            self._attempted()
            tasks = [
                asyncio.ensure_future(self._reader(pubsub)),
                asyncio.ensure_future(self._writer(client)),
                asyncio.ensure_future(self._ticker(client)),
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.wait(tasks)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            # redis-py types aclose() only in newer releases (untyped in 5.0.1, the
            # floor): called through a typed alias, it checks the same on both.
            aclose: Callable[[], Awaitable[object]] = pubsub.aclose
            with contextlib.suppress(Exception):
                await aclose()

    def _attempted(self) -> None:
        first = self._first_attempt
        if first is not None and not first.done():
            first.set_result(None)

    def _set_connected(self, connected: bool, error: BaseException | None) -> None:
        if not connected and error is not None and not self._warned:
            self._warned = True  # once per outage, at start as mid-run
            logger.warning(
                "fleet: cannot reach Redis (%s: %s); waiting without the fleet until it is back",
                type(error).__name__,
                error,
            )
        if connected == self._connected:
            return
        self._connected = connected
        member = self._member
        if connected:
            if self._warned:
                logger.info("fleet: Redis is reachable again; waits are shared again")
            self._warned = False
        else:
            self._stop_leading()
            # The client re-registers what it awaits when Redis is back.
            self._held.clear()
            self._to_hold.clear()
            self._to_release.clear()
            self._to_publish.clear()
            self._to_feed.clear()
            self._to_pause = 0.0
        if member is not None:
            member.connection_changed(connected)

    async def _timed(self, operation: Awaitable[T]) -> T:
        """Any Redis call: never longer than a lease (a hung Redis is a lost Redis)."""
        if sys.version_info >= (3, 11):
            # Unlike wait_for before 3.12, never swallows a cancellation that meets
            # the operation's own completion.
            async with asyncio.timeout(self._lease_ttl):
                return await operation
        return await asyncio.wait_for(operation, self._lease_ttl)

    # -- registrations, announcements ---------------------------------------------------

    async def _writer(self, client: _redis.Redis) -> None:
        wake = self._wake
        assert wake is not None
        while not self._stopping:
            await wake.wait()
            wake.clear()
            if not self._stopping:
                await self._flush(client)

    async def _flush(self, client: _redis.Redis) -> None:
        holding, self._to_hold = self._to_hold, {}
        releasing, self._to_release = self._to_release, set()
        publishing, self._to_publish = self._to_publish, {}
        feeding, self._to_feed = self._to_feed, set()
        pause, self._to_pause = self._to_pause, 0.0
        mine = self._key("p", self._proc)
        events = self._key("events")
        pipe = client.pipeline(transaction=False)
        if holding:
            scores = {i: self._redis_time(d) for i, d in holding.items()}
            pipe.zadd(mine, scores, gt=True)
            pipe.pexpire(mine, self._registration_ms())
        if releasing:
            pipe.zrem(mine, *releasing)
        if publishing:
            for generation_id, encoded in publishing.items():
                pipe.set(
                    self._key("r", generation_id), dumps(encoded), px=self._ms(self._result_ttl)
                )
            # Bounded announcements: a follower reads each whole before it filters it.
            batch = list(publishing.items())
            for start in range(0, len(batch), ANNOUNCE_BATCH):
                part = dict(batch[start : start + ANNOUNCE_BATCH])
                pipe.publish(events, dumps({"k": "done", "o": part, "src": self._proc}))
        for generation_id in feeding:
            pipe.publish(events, dumps({"k": "feed", "id": generation_id, "src": self._proc}))
        if pause:
            pipe.publish(events, dumps({"k": "pause", "s": pause, "src": self._proc}))
        ids = list(holding)
        if ids:
            pipe.mget([self._key("r", i) for i in ids])
        if not (holding or releasing or publishing or feeding or pause):
            return
        results = await self._timed(pipe.execute())
        if ids:
            # Registered first, then looked up: an outcome announced before we
            # registered is found here, one announced after reaches the reader.
            found: dict[str, Any] = {}
            for generation_id, raw in zip(ids, results[-1], strict=True):
                if raw:
                    with contextlib.suppress(ValueError):
                        found[generation_id] = loads(raw)
            self._deliver(found)

    async def _reader(self, pubsub: Any) -> None:
        while not self._stopping:
            message = await pubsub.get_message(timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            try:
                event = loads(message["data"])
            except ValueError:
                continue  # not ours: ignore
            if not isinstance(event, dict) or event.get("src") == self._proc:
                continue
            kind = event.get("k")
            member = self._member
            if member is None:
                continue
            if kind == "done" and isinstance(event.get("o"), dict):
                # Only what this process awaits is decoded.
                held = self._held
                self._deliver({i: o for i, o in event["o"].items() if i in held})
            elif kind == "feed" and isinstance(event.get("id"), str) and self.may_lead():
                member.fed(event["id"])
            elif kind == "pause" and isinstance(event.get("s"), (int, float)):
                seconds = float(event["s"])
                if 0 < seconds < math.inf:
                    member.paused(seconds)

    def _deliver(self, encoded: Mapping[str, Any]) -> None:
        member = self._member
        if member is None or not encoded:
            return
        outcomes: dict[str, Outcome] = {}
        for generation_id, data in encoded.items():
            try:
                outcomes[generation_id] = _decode(data)
            except Exception as error:  # garbage in Redis must not break a wait
                logger.debug(
                    "fleet: ignoring an unreadable outcome for %s: %s", generation_id, error
                )
        if outcomes:
            member.delivered(outcomes)

    # -- liveness and the lease -----------------------------------------------------------

    async def _ticker(self, client: _redis.Redis) -> None:
        while not self._stopping:
            await asyncio.sleep(self._lease_ttl / 3)
            if not self._stopping:
                await self._tick(client)

    async def _tick(self, client: _redis.Redis) -> None:
        started = self._now()
        seconds, micros = await self._timed(client.time())
        redis_now = float(seconds) + float(micros) / 1e6
        self._offset = redis_now - self._now()
        lease = self._key("lease")
        procs = self._key("procs")
        mine = self._key("p", self._proc)
        ttl_ms = self._ms(self._lease_ttl)
        pipe = client.pipeline(transaction=False)
        pipe.zadd(procs, {self._proc: redis_now + REGISTRATION_TTLS * self._lease_ttl})
        pipe.pexpire(procs, self._registration_ms())
        pipe.pexpire(mine, self._registration_ms())
        _queue_eval(pipe, _ACQUIRE, [lease], self._proc, ttl_ms)
        results = await self._timed(pipe.execute())
        leading = bool(results[-1])
        if leading:
            if not self._leading:
                logger.info("fleet: this process holds the lease; it sweeps for the fleet")
            self._leading = True
            # Counted from before we asked, and short of the TTL: a fence that errs safe.
            self._lease_until = started + self._lease_ttl * 0.8
            await self._lead(client, redis_now)
        elif self._leading:
            logger.info("fleet: this process lost the lease; another one sweeps now")
            self._stop_leading()

    async def _lead(self, client: _redis.Redis, redis_now: float) -> None:
        procs = self._key("procs")
        alive = await self._timed(client.zrangebyscore(procs, redis_now, "+inf"))
        pipe = client.pipeline(transaction=False)
        for proc in alive:
            name = proc.decode() if isinstance(proc, bytes) else str(proc)
            pipe.zrangebyscore(self._key("p", name), redis_now, "+inf")
        _queue_eval(pipe, _PRUNE, [self._key("lease"), procs], self._proc, redis_now)
        results = await self._timed(pipe.execute())
        wanted: set[str] = set()
        for members in results[:-1]:
            wanted.update(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if results[-1] == -1:  # the lease moved on between our calls
            self._stop_leading()
            return
        member = self._member
        if member is not None and self.may_lead():
            member.lead(wanted)

    def _stop_leading(self) -> None:
        if self._leading:
            self._leading = False
            self._lease_until = 0.0
            if self._member is not None:
                self._member.lead(())

    async def _withdraw(self, client: _redis.Redis) -> None:
        pipe = client.pipeline(transaction=False)
        pipe.delete(self._key("p", self._proc))
        pipe.zrem(self._key("procs"), self._proc)
        _queue_eval(pipe, _RESIGN, [self._key("lease")], self._proc)
        await pipe.execute()
        self._leading = False

    def _redis_time(self, deadline: float) -> float | str:
        return "+inf" if math.isinf(deadline) else deadline + self._offset

    def _registration_ms(self) -> int:
        return self._ms(REGISTRATION_TTLS * self._lease_ttl)

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, math.ceil(seconds * 1000))


def _queue_eval(pipe: Any, script: str, keys: Sequence[str], *args: object) -> None:
    """Queue ``EVAL script`` on *pipe* with *keys* and *args*.

    redis-py 5.0.1 (the floor) annotates eval's arguments as lists and later releases
    fix it: one loosely typed call checks the same against both.
    """
    queue: Callable[..., object] = pipe.eval
    queue(script, len(keys), *keys, *args)


def _encode(outcome: Outcome, whole: bool) -> dict[str, Any]:
    if isinstance(outcome, JobEnded):
        return {"d": outcome.status}
    if not whole and not isinstance(outcome, APIStatusError):
        # Only that it ended: the job (user content) is read by whoever awaits it.
        status = outcome.status
        return {"d": str(getattr(status, "value", status))}
    if isinstance(outcome, Generation):
        return {"g": unstructure(outcome)}
    if not isinstance(outcome, APIStatusError):
        kind = kind_of(outcome)
        assert kind is not None, f"not a job: {type(outcome).__name__}"
        return {"j": [kind.key, unstructure(outcome)]}
    return {
        "e": {
            "status": outcome.status_code,
            "code": outcome.code,
            "message": outcome.message,
            "request_id": outcome.request_id,
        }
    }


def _decode(data: Any) -> Outcome:
    """An outcome read back from Redis: never unpickled, only structured (it is data)."""
    if isinstance(data, dict) and "d" in data:
        status = data["d"]
        return JobEnded(status if isinstance(status, str) else None)
    if isinstance(data, dict) and "g" in data:
        return structure(data["g"], Generation)
    if isinstance(data, dict) and "j" in data:
        key, job = data["j"]
        return structure(job, KINDS[key].model)  # type: ignore[no-any-return]
    error = data["e"]
    status = int(error["status"])
    if not 400 <= status <= 599:
        raise ValueError(f"not an error status: {status}")
    cls = status_error_class(status)
    return cls(
        str(error.get("message") or ""),
        status_code=status,
        code=error.get("code") if isinstance(error.get("code"), str) else None,
        request_id=error.get("request_id") if isinstance(error.get("request_id"), str) else None,
    )


def _safe_url(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)
