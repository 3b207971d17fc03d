"""Long horizon: virtual hours (or days) of waiting against an API that misbehaves.

One client, one in-memory FakePowerPost, one VirtualClock, a seeded schedule. The run
is a series of *cycles*; in each:

* **the workload**: waves of generations lasting seconds to hours (``server.processing``
  changes per wave), each awaited by a mix of callers: ``wait_many`` over the wave,
  ``as_completed`` over part of it, several ``wait`` calls on the same ids (some in the
  uppercase the server canonicalises), forced polling or sweeping, callers cancelled
  midway, callers joining long after the end, deadlines shorter and longer than the
  generations, none at all; webhooks fed for half of the generations, some late;
* **the weather**: calm spells between outages (every request answered 503) of seconds
  to hours (to days in ``nox -s soak``), spells of dropped connections, 429 storms with
  hints up to two minutes, and spells of broken pagination (cursor cycles, endless
  empty pages, empty cursors, oldest-first lists);
* **a drain**: every caller ends, every task with it.

Checked for every caller: it ended by its deadline (plus 10 ms) with a result or a
documented error (`WaitTimeoutError`, `GenerationFailedError`, or `CancelledError` for
those cancelled), never anything else; it never timed out on a generation that had
finished and could have been seen in time; once the API was reachable again, it got
its answer within one circuit-breaker cool-down plus one interval (48 s), or 75 s while
pagination was broken (ids the lists miss are checked with backed-off GETs). Checked
at the end of every cycle: no task left, no growth of the memory the SDK holds
(tracemalloc, SDK modules only) from the first cycle's end to the last's. Reported:
requests per generation, time covered, the worst cases.

Size: ``POWERPOST_HORIZON_CYCLES`` cycles (default 3) of ``POWERPOST_HORIZON_HOURS``
hour(s) (default 1), outages up to ``POWERPOST_HORIZON_MAX_OUTAGE`` seconds (default 6 h),
generations up to ``POWERPOST_HORIZON_LONGEST`` hours (default 1, at most 4), seed
``POWERPOST_HORIZON_SEED``. ``nox -s soak`` runs days of it.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import gc
import math
import os
import random
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from powerpost_async import (
    GenerationFailedError,
    PowerPost,
    WaitProgress,
    WaitTimeoutError,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

CYCLES = int(os.environ.get("POWERPOST_HORIZON_CYCLES", "3"))
CYCLE_HOURS = float(os.environ.get("POWERPOST_HORIZON_HOURS", "1"))
MAX_OUTAGE = float(os.environ.get("POWERPOST_HORIZON_MAX_OUTAGE", str(6 * 3600)))
SEED = int(os.environ.get("POWERPOST_HORIZON_SEED", "11"))
#: The longest a generation lasts, in hours (up to 4).
LONGEST = float(os.environ.get("POWERPOST_HORIZON_LONGEST", "1"))

#: After the API is reachable again: one cool-down (30 s, +20 % jitter) and one interval.
RECOVERY_BOUND = 30.0 * 1.2 + 10.0 + 2.0
#: While pagination is broken, ids the lists miss are re-checked at most 60 s apart.
BROKEN_PAGES_BOUND = 60.0 + 10.0 + 5.0
DEADLINE_TOLERANCE = 0.01
#: Durations of a wave's generations: seconds, minutes, up to an hour, hours.
DURATIONS = [
    (low, high)
    for low, high in [(1.0, 10.0), (10.0, 300.0), (300.0, 3600.0), (3600.0, 4 * 3600.0)]
    if high <= max(LONGEST, 1.0) * 3600
]
HOUR = 3600.0
TROUBLES = ["cursor_cycle", "empty_pages", "empty_cursor", "order"]


@attrs.define
class Caller:
    """One waiting call, and how it ended."""

    kind: str
    ids: list[str]
    start: float
    deadline: float | None
    end: float = math.nan
    outcome: str = "running"
    pending: tuple[str, ...] = ()


@attrs.define
class Spell:
    """A stretch of weather: [start, end) of some kind."""

    kind: str
    start: float
    end: float
    trouble: str = ""


@attrs.define
class Figures:
    cycles: int = 0
    virtual_seconds: float = 0.0
    generations: int = 0
    callers: int = 0
    requests: int = 0
    endpoints: collections.Counter[str] = attrs.Factory(collections.Counter)
    outcomes: collections.Counter[str] = attrs.Factory(collections.Counter)
    spells: collections.Counter[str] = attrs.Factory(collections.Counter)
    troubles: collections.Counter[str] = attrs.Factory(collections.Counter)
    longest_outage: float = 0.0
    worst_overshoot: float = 0.0
    worst_recovery: float = 0.0
    tasks_at_cycle_ends: list[int] = attrs.Factory(list)
    sdk_memory: list[int] = attrs.Factory(list)
    real_seconds: float = 0.0


class Weather:
    """Outages, drops, 429 storms and broken pagination, one spell at a time."""

    def __init__(self, server: FakePowerPost, clock: VirtualClock, rng: random.Random) -> None:
        self.server = server
        self.clock = clock
        self.rng = rng
        self.spells: list[Spell] = []

    def draw(self, deck: list[str], cards: list[str]) -> str:
        """The next card of a shuffled deck: every kind comes round, in a random order."""
        if not deck:
            deck.extend(cards)
            self.rng.shuffle(deck)
        return deck.pop()

    async def run(self, until: float, kinds: list[str], troubles: list[str]) -> None:
        rng = self.rng
        while self.clock() < until:
            await self.clock.sleep(rng.uniform(300, HOUR))  # calm
            if self.clock() >= until:
                return
            kind = self.draw(kinds, ["outage", "drops", "storm", "pages"])
            start = self.clock()
            quirks = self.server.quirks
            if kind == "outage":
                length = math.exp(rng.uniform(math.log(5.0), math.log(MAX_OUTAGE)))
                self.server.faults.random(Fault.server_error(503), 1.0)
            elif kind == "drops":
                length = rng.uniform(60, 1800)
                self.server.faults.random(Fault.drop(), 0.3)
            elif kind == "storm":
                length = rng.uniform(60, 1200)
                hint = rng.choice([1, 5, 30, 120])
                self.server.faults.random(Fault.rate_limit(retry_after=hint), 0.5)
            else:
                length = rng.uniform(600, 2 * HOUR)
                trouble = self.draw(
                    troubles, ["cursor_cycle", "empty_pages", "empty_cursor", "order"]
                )
                if trouble == "cursor_cycle":
                    quirks.cursor_cycle = rng.choice([1, 2, 3])
                elif trouble == "empty_pages":
                    quirks.empty_pages = 10**9
                elif trouble == "empty_cursor":
                    quirks.empty_cursor = True
                else:
                    quirks.order = "oldest_first"
            await self.clock.sleep(length)
            self.server.faults.clear()
            quirks.cursor_cycle = quirks.empty_pages = 0
            quirks.empty_cursor = False
            quirks.order = "newest_first"
            end = self.clock()
            if kind == "storm":
                end += hint  # the last 429's pause outlasts the storm
            self.spells.append(Spell(kind, start, end, trouble if kind == "pages" else ""))

    def reachable_from(self, instant: float) -> float:
        """The first instant at or after ``instant`` when the API answers normally."""
        moved = True
        while moved:
            moved = False
            for spell in self.spells:
                if spell.kind != "pages" and spell.start <= instant < spell.end:
                    instant, moved = spell.end, True
        return instant

    def pages_broken(self, start: float, end: float) -> bool:
        return any(s.kind == "pages" and s.start < end and start < s.end for s in self.spells)

    def answer_due(self, instant: float) -> tuple[float, float]:
        """(when the API could first be asked, the latest a caller may get its answer)
        for a generation that finished at ``instant``.

        The SDK needs the API reachable for up to a bound after it comes back: a spell
        that starts within that stretch postpones the answer to its end, and so on.
        """
        ready = self.reachable_from(instant)
        while True:
            bound = RECOVERY_BOUND
            if self.pages_broken(ready, ready + BROKEN_PAGES_BOUND):
                bound = BROKEN_PAGES_BOUND
            cut = [
                s.start
                for s in self.spells
                if s.kind != "pages" and ready < s.start < ready + bound
            ]
            if not cut:
                return ready, ready + bound
            ready = self.reachable_from(min(cut))


class Workload:
    """Waves of generations, and the callers awaiting them."""

    def __init__(
        self, server: FakePowerPost, pp: PowerPost, clock: VirtualClock, rng: random.Random
    ) -> None:
        self.server = server
        self.pp = pp
        self.clock = clock
        self.rng = rng
        self.callers: list[Caller] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.generations = 0

    def spawn(self, caller: Caller, body: Callable[[], Awaitable[object]], delay: float) -> None:
        async def run() -> None:
            if delay:
                await self.clock.sleep(delay)
                caller.start = self.clock()
                if caller.deadline is not None:
                    caller.deadline += delay
            try:
                await body()
                caller.outcome = "result"
            except WaitTimeoutError as error:
                caller.outcome = "WaitTimeoutError"
                caller.pending = error.pending_ids
            except GenerationFailedError:
                caller.outcome = "GenerationFailedError"
            except asyncio.CancelledError:
                caller.outcome = "cancelled"
                caller.end = self.clock()
                raise
            except Exception as error:  # recorded, then failed on below
                caller.outcome = f"unexpected {type(error).__name__}: {error}"
            caller.end = self.clock()

        self.callers.append(caller)
        self.tasks.append(asyncio.ensure_future(run()))

    async def run(self, until: float) -> None:
        rng = self.rng
        while self.clock() < until:
            await self.clock.sleep(rng.uniform(60, 1200))
            self.wave()

    def wave(self) -> None:
        rng, pp, now = self.rng, self.pp, self.clock()
        low, high = rng.choice(DURATIONS)
        self.server.processing = (low, high)
        ids = self.server.seed_generations(rng.randint(1, 40))
        self.generations += len(ids)

        def timeout() -> float | None:
            return rng.choice([None, high * 0.5, high * 2 + 120, high * 3 + 600])

        def deadline(seconds: float | None) -> float | None:
            return None if seconds is None else now + seconds

        def strategy() -> Any:
            # Forced polling costs a GET per id per max_interval, whatever the rest do:
            # callers ask for it for quick generations, not for hours-long ones.
            forced = ["poll", "sweep"] if high <= 300 else ["sweep"]
            return rng.choice(["auto"] * 8 + forced)

        # wait_many over the wave
        t = timeout()
        progress: list[WaitProgress] = []
        interval = rng.choice([1.0, 2.0, 5.0, 10.0])
        self.spawn(
            Caller("wait_many", ids, now, deadline(t)),
            lambda: pp.generations.wait_many(
                ids,
                timeout=t,
                interval=interval,
                max_interval=max(interval, 10.0),
                strategy=strategy(),
                on_progress=progress.append if rng.random() < 0.5 else None,
                return_exceptions=rng.random() < 0.5,
            ),
            0.0,
        )
        # as_completed over part of it
        part = rng.sample(ids, max(1, len(ids) // 2))
        t2 = timeout()

        async def consume() -> None:
            async for _ in pp.generations.as_completed(part, timeout=t2, strategy=strategy()):
                pass

        self.spawn(Caller("as_completed", part, now, deadline(t2)), consume, 0.0)
        # several waits on the same ids, some spelt in uppercase
        for generation_id in rng.sample(ids, min(2, len(ids))):
            for _ in range(rng.randint(1, 5)):
                asked = generation_id.upper() if rng.random() < 0.3 else generation_id
                t3 = timeout()
                self.spawn(
                    Caller("wait", [generation_id], now, deadline(t3)),
                    functools.partial(pp.generations.wait, asked, timeout=t3),
                    0.0,
                )
        # a caller cancelled midway
        if rng.random() < 0.3:
            delay = rng.uniform(0, 600)

            async def cancel_midway() -> None:
                inner = asyncio.ensure_future(pp.generations.wait_many(ids, timeout=None))
                timer = asyncio.ensure_future(self.clock.sleep(delay))
                await asyncio.wait({inner, timer}, return_when=asyncio.FIRST_COMPLETED)
                for task in (inner, timer):
                    task.cancel()  # a no-op on the one that finished first
                await asyncio.wait({timer})
                await inner  # a result if it finished first, else CancelledError

            self.spawn(Caller("cancelled", ids, now, None), cancel_midway, 0.0)
        # a caller joining long after
        if rng.random() < 0.3:
            late = rng.uniform(high, high + 1800)
            t4 = timeout()
            self.spawn(
                Caller("late wait_many", ids, now, deadline(t4)),
                lambda: pp.generations.wait_many(ids, timeout=t4),
                late,
            )
        # webhooks for half of the generations, some late, some while the API is down
        for generation_id in ids:
            if rng.random() < 0.5:
                self.tasks.append(asyncio.ensure_future(self.webhook(generation_id)))

    async def webhook(self, generation_id: str) -> None:
        finished = self.server.timeline(generation_id).finished
        assert finished is not None
        await self.clock.sleep(max(0.0, finished - self.clock()) + self.rng.uniform(0, 30))
        await self.pp.generations.feed(generation_id)


def check(callers: list[Caller], weather: Weather, server: FakePowerPost, figures: Figures) -> None:
    """Every caller's end against its deadline and what really happened."""
    for caller in callers:
        figures.outcomes[caller.outcome] += 1
        assert caller.outcome in {
            "result",
            "WaitTimeoutError",
            "GenerationFailedError",
            "cancelled",
        }, caller
        if caller.outcome == "cancelled":
            continue
        if caller.deadline is not None:
            overshoot = caller.end - caller.deadline
            figures.worst_overshoot = max(figures.worst_overshoot, overshoot)
            assert overshoot <= DEADLINE_TOLERANCE, caller
        finishes = [server.timeline(i).finished for i in caller.ids]
        assert all(f is not None for f in finishes)
        if caller.outcome == "WaitTimeoutError":
            assert caller.deadline is not None
            for generation_id in caller.pending:
                finished = server.timeline(generation_id.lower()).finished
                assert finished is not None
                _, due = weather.answer_due(max(finished, caller.start))
                # It timed out: it must not have been due an answer before its deadline.
                assert due >= caller.deadline, (caller, generation_id, due)
            continue
        # A result, or GenerationFailedError: how long after it could have been seen?
        last = max(f for f in finishes if f is not None)
        ready, due = weather.answer_due(max(last, caller.start))
        figures.worst_recovery = max(figures.worst_recovery, caller.end - ready)
        assert caller.end <= due, (caller, ready, due)


def sdk_memory() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(True, "*powerpost_async*"),
            tracemalloc.Filter(False, "*powerpost_async/testing/*"),
        ]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


async def run_horizon(cycles: int, hours: float, seed: int) -> Figures:
    rng = random.Random(seed)
    random.seed(seed)  # the client's backoff jitter
    clock = VirtualClock()
    server = FakePowerPost(
        clock=clock, pending=(0.0, 5.0), failure_rate=0.05, seed=seed, credits=10**9
    )
    server.quirks.canonical_ids = True  # uppercase ids find their generation
    figures = Figures()
    kinds: list[str] = []  # decks of weather, drawn across cycles
    troubles: list[str] = []
    started = time.perf_counter()
    tracemalloc.start(1)
    try:
        async with server.client() as pp:
            for _ in range(cycles):
                origin = clock()
                until = origin + hours * HOUR
                weather = Weather(server, clock, rng)
                workload = Workload(server, pp, clock, rng)
                await asyncio.gather(weather.run(until, kinds, troubles), workload.run(until))
                await asyncio.gather(*workload.tasks, return_exceptions=True)
                for _ in range(5):
                    await asyncio.sleep(0)
                current = asyncio.current_task()
                left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
                figures.tasks_at_cycle_ends.append(len(left))
                assert left == [], left
                check(workload.callers, weather, server, figures)
                figures.cycles += 1
                figures.generations += workload.generations
                figures.callers += len(workload.callers)
                figures.requests += len(server.requests)
                for spell in weather.spells:
                    figures.spells[spell.kind] += 1
                    if spell.trouble:
                        figures.troubles[spell.trouble] += 1
                    if spell.kind == "outage":
                        figures.longest_outage = max(
                            figures.longest_outage, spell.end - spell.start
                        )
                figures.endpoints.update(r.endpoint or "other" for r in server.requests)
                # The harness's own records grow with the run: drop them between cycles.
                server.requests.clear()
                clock.sleeps.clear()
                del workload, weather
                gc.collect()
                figures.sdk_memory.append(sdk_memory())
            figures.virtual_seconds = clock()
    finally:
        tracemalloc.stop()
    figures.real_seconds = time.perf_counter() - started
    return figures


def table(figures: Figures) -> str:
    days = figures.virtual_seconds / 86400
    rows = [
        ("virtual time covered", f"{figures.virtual_seconds / HOUR:.1f} h ({days:.2f} days)"),
        ("cycles", f"{figures.cycles}"),
        ("generations", f"{figures.generations}"),
        ("callers (waits)", f"{figures.callers}"),
        ("  how they ended", ", ".join(f"{k} {v}" for k, v in sorted(figures.outcomes.items()))),
        ("weather spells", ", ".join(f"{k} {v}" for k, v in sorted(figures.spells.items()))),
        ("  broken pagination", ", ".join(f"{k} {v}" for k, v in sorted(figures.troubles.items()))),
        ("longest outage", f"{figures.longest_outage / HOUR:.2f} h"),
        ("HTTP requests", f"{figures.requests}"),
        ("  by endpoint", ", ".join(f"{k} {v}" for k, v in sorted(figures.endpoints.items()))),
        ("requests per generation", f"{figures.requests / max(figures.generations, 1):.2f}"),
        ("worst deadline overshoot", f"{max(figures.worst_overshoot, 0.0) * 1000:.1f} ms"),
        ("worst answer after recovery", f"{figures.worst_recovery:.1f} s"),
        ("tasks left at cycle ends", ", ".join(map(str, figures.tasks_at_cycle_ends))),
        (
            "SDK memory at cycle ends",
            ", ".join(f"{m / 1024:.0f}" for m in figures.sdk_memory) + " KiB",
        ),
        ("real time", f"{figures.real_seconds:.1f} s"),
    ]
    title = f"long horizon: {figures.cycles} cycles, seed {SEED}"
    width = max(len(k) for k, _ in rows) + 2
    return "\n".join([title, "-" * len(title)] + [f"{k:<{width}}{v}" for k, v in rows])


async def test_long_horizon() -> None:
    figures = await run_horizon(CYCLES, CYCLE_HOURS, SEED)
    print("\n" + table(figures))
    assert figures.generations > 0
    assert figures.outcomes["result"] > 0
    # Once warm (caches filled by the first cycles), the memory the SDK holds stays flat.
    if len(figures.sdk_memory) >= 3:
        warm = figures.sdk_memory[1]
        assert max(figures.sdk_memory[1:]) - warm < 32 * 1024, figures.sdk_memory
    # Generations of up to four hours, swept every 10 s at most: lists cost per hour.
    assert figures.requests / figures.generations < 20
