"""Waiting at scale (issue 4): how few requests ``wait_many`` makes, what 10,000 ids cost.

**Request economy, in virtual time.** Each round gets a fresh ``FakePowerPost`` whose
``VirtualClock`` the client shares, over the fake's in-memory transport, seeded with
1,000 generations (pending 0 s, processing uniform in 2-30 s). Request counts depend on
the schedule only, not on real time, so a round spanning 30 virtual seconds takes about
a real second. The variants alternate, every variant of a round facing the same seed
(the same ids and schedules), each round another:

* ``pp.generations.wait_many(ids)``, strategy ``"auto"`` (so, one shared sweep);
* naive polling: for every id at once, ``get`` it, then again every 2 s until it is
  terminal (the issue's "naive per-id 2 s polling");
* 10 callers each awaiting 100 of the ids at once (``asyncio.gather`` of 10
  ``wait_many``), who should share the client's one sweeper.

Figures: HTTP requests per generation (the server's request log: list + get), and the
mean detection delay: the mean virtual time at which the caller learnt that a generation
had finished minus the mean time they finished. The first is the time of the last GET of
each id in the server's log: every variant GETs an id until it sees it terminal and
never after (the sweeper GETs only ids gone from the in-flight lists), and in-memory
requests take no virtual time, so that is when the answer reached the caller (it matches
what ``on_progress`` reports, without its cost in the measured rounds). The fake does not
say when a generation finishes, so that is measured on a replica: a ``FakePowerPost``
with the same seed (the same ids and schedules, which the ids confirm) whose clock is
stepped by hand while peeking at each generation with ``server.generation(id)`` (no
request), to within 1 ms.

**10,000 ids at once, over sockets.** The fake API runs in another process
(:mod:`._fake_process`) on 127.0.0.1, in real time, processing uniform in 2-8 s. The
client is a fresh process each round too (:mod:`._wait_client`): memory that earlier
rounds and benchmarks freed stays resident in this one, and a wait here would reuse it
and seem to add nothing. It awaits every id with one ``wait_many`` over the default
aiohttp transport and measures itself: peak RSS added (VmRSS sampled every 50 ms, and
VmHWM reset before the wait), peak sockets open (``/proc/self/fd`` entries that are
sockets, sampled every 50 ms) and the wait's wall time; requests per generation come
from the server process's log. In rounds of their own, since tracing slows the client
and takes memory itself, the peak of Python allocations added (``tracemalloc``).
Rounds: ``min(--rounds, 3)``.

``--quick``: 200 generations in virtual time; 1,000 ids over sockets finishing within
0.5-1.5 s, one round.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Literal

from powerpost_async import Generation, PowerPost
from powerpost_async.testing import FakePowerPost, VirtualClock

from ._core import Context, Measured, Result, Target, Variant, alternate
from ._fake_process import FakeProcess
from ._wait_client import WaitClient, has_proc

NAME = "waiting"
TITLE = "waiting: wait_many's request economy, and many ids at once"
ORDER = 60
NEEDS_SERVER = False

# -- request economy (virtual time) ------------------------------------------------------------

GENERATIONS = 1_000
QUICK_GENERATIONS = 200
PENDING = 0.0
PROCESSING = (2.0, 30.0)
NAIVE_INTERVAL = 2.0
CALLERS = 10
#: Naive polls per id before giving up: far more than a 30 s schedule needs.
MAX_POLLS = 100
#: Steps at which the replica's clock is moved, coarse to fine: the finish times come out
#: to within the last one.
FINISH_STEPS = (1.0, 0.1, 0.01, 0.001)
FIRST_SEED = 1

SDK = "SDK wait_many (auto)"
NAIVE = "naive per-id polling every 2 s"
SHARED = f"SDK, {CALLERS} callers x wait_many of a tenth each"

# -- scale (sockets, real time) ------------------------------------------------------------------

SCALE_IDS = 10_000
QUICK_SCALE_IDS = 1_000
SCALE_PROCESSING = (2.0, 8.0)
QUICK_SCALE_PROCESSING = (0.5, 1.5)
SCALE_ROUNDS = 3
#: The warm-up round: a few ids finishing fast, to check that both processes work before
#: the measured rounds without waiting a whole schedule (each round's client is fresh).
WARMUP_IDS = 100
WARMUP_PROCESSING = (0.1, 0.5)
#: Real seconds a scale wait may take before it fails (its schedule ends within 8 s).
SCALE_TIMEOUT = 120.0
MEMORY_BOUND = 50.0  # MiB
SOCKET_BOUND = 100

Mode = Literal["sdk", "naive", "shared"]


async def run(ctx: Context) -> list[Result]:
    """The request-economy variants, then the scale rounds."""
    return await _economy(ctx) + await _scale(ctx)


# -- request economy ---------------------------------------------------------------------------


async def _economy(ctx: Context) -> list[Result]:
    count = QUICK_GENERATIONS if ctx.quick else GENERATIONS
    requests_bench = (
        f"wait_many: HTTP requests per generation ({count:,} finishing in 2-30 s, virtual time)"
    )
    delay_bench = "wait_many: detection delay in those rounds (virtual s after finishing)"
    # Every variant's warm-up uses FIRST_SEED, and its round r FIRST_SEED + r.
    seeds = range(FIRST_SEED, FIRST_SEED + ctx.rounds + 1)
    finish = {seed: _mean_finish(seed, count) for seed in seeds}
    ctx.log(f"  [{NAME}] finish times of {len(seeds)} schedules measured on replicas")

    def variant(mode: Mode, requests: Result, delay: Result) -> Variant:
        next_seed = itertools.count(FIRST_SEED).__next__

        def one_round() -> Awaitable[Measured]:
            seed = next_seed()
            return _economy_round(mode, count, seed, finish[seed])

        return Variant(requests, run=one_round, also={"delay": delay})

    virtual = (
        "virtual time: a VirtualClock shared by the client and a fresh FakePowerPost per "
        "round, over the fake's in-memory transport, so request counts do not depend on "
        f"real time (a round takes about a second); {count:,} generations per round, "
        "pending 0 s, processing uniform in 2-30 s; every variant of a round faces the "
        "same seed, each round another; being virtual, no round is left out as disturbed"
    )
    delay_note = (
        "mean virtual time at which the caller learnt that a generation had finished (its "
        "last, terminal GET in the server's log; in-memory requests take no virtual time) "
        "minus the mean time they finished, found to within 1 ms on a replica "
        "FakePowerPost with the same seed (same ids and schedules) whose clock is stepped "
        "by hand while peeking with server.generation(id)"
    )

    def requests_result(
        label: str,
        *,
        sdk: bool = False,
        baseline: str | None = None,
        target: Target | None = None,
        note: str = "",
    ) -> Result:
        return Result(
            requests_bench,
            label,
            "count",
            "requests/gen",
            sdk=sdk,
            baseline=baseline,
            target=target,
            note=note,
            timeless=True,
        )

    def delay_result(
        label: str, *, sdk: bool = False, baseline: str | None = None, note: str = ""
    ) -> Result:
        return Result(
            delay_bench, label, "count", "s", sdk=sdk, baseline=baseline, note=note, timeless=True
        )

    return await alternate(
        ctx,
        [
            variant(
                "sdk",
                requests_result(
                    SDK,
                    sdk=True,
                    baseline=NAIVE,
                    target=Target(
                        f"wait_many <= 1.2 requests per generation ({count:,} generations, 2-30 s)",
                        1.2,
                        on="value",
                    ),
                    note=virtual,
                ),
                delay_result(SDK, sdk=True, baseline=NAIVE, note=delay_note),
            ),
            variant("naive", requests_result(NAIVE), delay_result(NAIVE)),
            variant(
                "shared",
                requests_result(SHARED, sdk=True, baseline=SDK),
                delay_result(SHARED, sdk=True, baseline=SDK),
            ),
        ],
    )


async def _economy_round(mode: Mode, count: int, seed: int, finished_at: float) -> Measured:
    """One round in virtual time: requests per generation, and the mean detection delay."""
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, pending=PENDING, processing=PROCESSING, seed=seed)
    ids = server.seed_generations(count)
    async with server.client() as pp:
        if mode == "sdk":
            done = await pp.generations.wait_many(ids)
        elif mode == "shared":
            share = -(-count // CALLERS)
            parts = await asyncio.gather(
                *(pp.generations.wait_many(ids[at : at + share]) for at in range(0, count, share))
            )
            done = [generation for part in parts for generation in part]
        else:
            done = list(await asyncio.gather(*(_poll_naively(pp, clock, i) for i in ids)))
    log = server.requests
    requests = log.count(endpoint="list") + log.count(endpoint="get")
    if len(done) != count or not all(g.status.is_terminal for g in done):
        raise RuntimeError(f"{mode}: {len(done)} of {count} generations came back finished")
    if requests != len(log) or log.count(status=200) != len(log):
        raise RuntimeError(f"{mode}: unexpected requests in the log: {dict(log.counts())}")
    # When the caller learnt of each finish: the last GET of the id (see the docstring).
    detected = {r.generation_id: r.time for r in log if r.endpoint == "get"}
    if set(detected) != set(ids):
        raise RuntimeError(f"{mode}: {len(detected)} of {count} ids were ever read")
    delay = statistics.fmean(detected.values()) - finished_at
    return Measured(ops=count, value=requests / count, also={"delay": delay})


async def _poll_naively(pp: PowerPost, clock: VirtualClock, generation_id: str) -> Generation:
    """GET the generation every 2 s (virtual) until it is terminal."""
    for _ in range(MAX_POLLS):
        generation = await pp.generations.get(generation_id)
        if generation.status.is_terminal:
            return generation
        await clock.sleep(NAIVE_INTERVAL)
    raise RuntimeError(f"{generation_id} did not finish within {MAX_POLLS} polls")


def _mean_finish(seed: int, count: int) -> float:
    """When the ``count`` generations seeded with ``seed`` finish, on average (virtual s).

    Each finish time is bracketed between the last peek that saw the generation in flight
    and the first that saw it terminal, coarse to fine (:data:`FINISH_STEPS`), one fresh
    replica per step size since a clock never goes back; its midpoint is taken.
    """
    low = [0.0] * count
    high = [math.inf] * count
    horizon = PENDING + PROCESSING[1] + 2 * FINISH_STEPS[0]
    expected: list[str] | None = None
    for step in FINISH_STEPS:
        clock = VirtualClock(auto_advance=False)
        replica = FakePowerPost(clock=clock, pending=PENDING, processing=PROCESSING, seed=seed)
        ids = replica.seed_generations(count)
        if expected is not None and ids != expected:
            raise RuntimeError("a replica with the same seed seeded other generations")
        expected = ids
        # due[k]: the generations to peek at when the clock reads k * step.
        due: dict[int, list[int]] = {}
        for index in range(count):
            due.setdefault(math.floor(low[index] / step + 1e-9) + 1, []).append(index)
        for _ in range(math.ceil(horizon / step) + 1):
            if not due:
                break
            tick = min(due)
            if tick * step > horizon:
                raise RuntimeError(f"seed {seed}: generations still in flight at {horizon} s")
            clock.advance(max(0.0, tick * step - clock()))
            now = clock()
            for index in due.pop(tick):
                if replica.generation(ids[index]).status.is_terminal:
                    high[index] = min(high[index], now)
                else:
                    low[index] = max(low[index], now)
                    if (tick + 1) * step < high[index] - 1e-9:
                        due.setdefault(tick + 1, []).append(index)
        if due:
            raise RuntimeError(f"seed {seed}: finish times not bracketed at step {step}")
    return statistics.fmean((lo + hi) / 2 for lo, hi in zip(low, high, strict=True))


# -- scale ---------------------------------------------------------------------------------------


async def _scale(ctx: Context) -> list[Result]:
    count = QUICK_SCALE_IDS if ctx.quick else SCALE_IDS
    processing = QUICK_SCALE_PROCESSING if ctx.quick else SCALE_PROCESSING
    bench = f"wait_many: {count:,} ids at once over sockets (server in another process)"
    low, high = processing
    setup = (
        f"FakePowerPost in a separate process on 127.0.0.1, in real time ({count:,} "
        f"generations, processing uniform in {low:g}-{high:g} s); the client is a fresh "
        "process per round (benchmarks/_wait_client.py) awaiting every id with one "
        "wait_many over the default aiohttp transport, so its memory and sockets are "
        "measured alone; rounds: min(--rounds, 3), 1 with --quick; Client CPU is the "
        "client process's during the wait"
    )
    rss_note = (
        "peak VmRSS during the wait (sampled every 50 ms, and VmHWM reset just before) "
        "minus VmRSS just before it, SDK imported and ids loaded"
    )
    socket_note = (
        "most /proc/self/fd entries of the client process that were sockets at once, "
        "sampled every 50 ms (the asyncio loop's own self-pipe pair included)"
    )
    traced_note = (
        "peak of the Python allocations made since just before the wait (tracemalloc), "
        "in rounds of their own: tracing slows the client and takes memory itself"
    )

    def result(label: str, unit: str, *, note: str = "", target: Target | None = None) -> Result:
        return Result(bench, label, "count", unit, sdk=True, note=note, target=target)

    requests = result("requests per generation", "requests/gen", note=setup)
    also = {
        "wall": result("wall time of the wait", "s"),
        "rss": result(
            "peak RSS added",
            "MiB",
            note=rss_note,
            target=Target(f"{count:,} ids at once: peak RSS added < 50 MiB", MEMORY_BOUND, "value"),
        ),
        "sockets": result(
            "peak sockets open",
            "sockets",
            note=socket_note,
            target=Target(f"{count:,} ids at once: <= 100 sockets open", SOCKET_BOUND, "value"),
        ),
    }
    traced = result(
        "peak Python allocations added (tracemalloc)",
        "MiB",
        note=traced_note,
        target=Target(
            f"{count:,} ids at once: peak Python allocations added < 50 MiB",
            MEMORY_BOUND,
            "value",
        ),
    )
    if not has_proc():
        why = "needs Linux's /proc/self to read memory and sockets"
        return [replace(r, skipped=why, note="") for r in (requests, *also.values(), traced)]

    rounds = 1 if ctx.quick else min(ctx.rounds, SCALE_ROUNDS)
    # Each process serves one round: bounded by the wait's timeout, plus start-up.
    with FakeProcess(max_seconds=SCALE_TIMEOUT + 60.0) as servers:

        def measured(trace: bool) -> Callable[[], Measured]:
            return lambda: _scale_round(servers, count, processing, trace=trace)

        def warmup() -> Measured:
            # Checks that the machinery works, quickly; each round's client is fresh anyway.
            return _scale_round(servers, WARMUP_IDS, WARMUP_PROCESSING, trace=False)

        def nothing() -> int:
            return 1  # the first variant's warm-up has checked the same path

        return await alternate(
            replace(ctx, rounds=rounds, server=servers),
            [
                Variant(requests, run=measured(trace=False), warmup=warmup, also=also),
                Variant(traced, run=measured(trace=True), warmup=nothing),
            ],
        )


def _scale_round(
    servers: FakeProcess, count: int, processing: tuple[float, float], *, trace: bool
) -> Measured:
    """Have a fresh client process await ``count`` generations served by another process.

    The client starts first (imports done), so the generations' schedule, which starts
    when the server seeds them, is not eaten into by its start-up.
    """
    with WaitClient(trace=trace, timeout=SCALE_TIMEOUT) as client:
        seeded = servers.start(count, processing)
        try:
            outcome = client.wait(seeded)
        finally:
            stats = servers.stop()
    if outcome.ops != count or outcome.finished != count:
        raise RuntimeError(f"{outcome.finished} of {count} generations came back finished")
    if not stats or stats.get("other", 0) or stats.get("errors", 0):
        raise RuntimeError(f"the fake API process saw unexpected requests: {stats}")
    if trace:
        if outcome.traced_mib is None:
            raise RuntimeError("the wait client measured nothing with tracemalloc")
        return Measured(ops=count, value=outcome.traced_mib, helper_cpu=outcome.cpu)
    return Measured(
        ops=count,
        value=stats["requests"] / count,
        also={"wall": outcome.wall, "rss": outcome.rss_added_mib, "sockets": outcome.sockets},
        helper_cpu=outcome.cpu,
    )
