"""Long horizon: virtual hours (or days) of waiting against an API that misbehaves.

Two clients (a busy one, and a quiet one where only slow waiters and the callers joining
them wait), one in-memory FakePowerPost behind a proxy that can rewrite its rate-limit
headers, one VirtualClock, a seeded schedule. The run is a series of *cycles*; in each:

* **the workload**: waves of generations lasting seconds to hours (``server.processing``
  changes per wave), each awaited by a mix of callers: ``wait_many`` over the wave,
  ``as_completed`` over part of it, several ``wait`` calls on the same ids (some in the
  uppercase the server canonicalises), forced polling or sweeping, callers cancelled
  midway, callers joining long after the end, deadlines shorter and longer than the
  generations, none at all; webhooks fed for half of the generations, some late.
  Beside them, on the quiet client, slow waiters (``wait(interval=600,
  max_interval=3600, timeout=None)``, a ``wait_many`` whose ticks grow to an hour) and
  *joiners*: callers with 5-30 s timeouts joining one of their ids around the moment it
  finishes (a third of them on the busy client);
* **the weather**, two fronts taking turns (one spell at a time): calm spells between
  outages (every request answered 503) of seconds to hours (to days in ``nox -s
  soak``), spells of dropped connections, 429 storms with hints up to two minutes, and
  spells of broken pagination (cursor cycles, endless empty pages, empty cursors,
  oldest-first lists); and, more often and shorter, the rate-limit and page-error
  front: sliding-window 429s (``Retry-After: 1``, ``X-RateLimit-Remaining: 0``, a reset
  60 s away), a server saying ``X-RateLimit-Limit: 0`` through a 429 storm, list pages
  refused with 400, 404 or 422. Every rate-limit spell runs with the server's clock
  (``Date``, ``X-RateLimit-Reset``) either the fake's own (its fixed epoch) or 10
  minutes ahead of the client's;
* **a drain**: every caller ends, every task with it; a caller still waiting hours after
  anything could keep it waiting is reported as hung.

Checked for every caller: it ended by its deadline (plus 10 ms) with a result or a
documented error (`WaitTimeoutError`, `GenerationFailedError`, or `CancelledError` for
those cancelled), never anything else; it never timed out on a generation that had
finished and could have been seen in time; once the API was reachable again, it got its
answer within one circuit-breaker cool-down plus one interval (48 s), or 75 s while
pagination was broken or refused (ids the lists miss are checked with backed-off GETs),
plus its own ``max_interval`` for a slow waiter, and once a rate-limit spell's pause and
pacing were over (its hint, the 60 s reset a sliding-window 429 names, or one pacing
window after ``Limit: 0``); a joiner on a finished job got it by its first look (at once
if the id was never looked at, else one ``interval`` after the last look, never later
than halfway to its deadline) whenever the API was answering then (pages refused or
broken included: a joiner alone would GET the id); while any caller but a slow waiter
waited, a request went at least every 15 minutes, and within 45 s of a sliding-window
429 (not at its reset); nobody hung. Checked at the end of every cycle: no task left, no
growth of the memory the SDK holds (tracemalloc, SDK modules only, traced from the
second cycle on) from the second cycle's end to the last's. Reported: requests per
generation, time covered, the worst cases.

Size: ``POWERPOST_HORIZON_CYCLES`` cycles (default 3) of ``POWERPOST_HORIZON_HOURS``
hour(s) (default 1), outages up to ``POWERPOST_HORIZON_MAX_OUTAGE`` seconds (default 6 h),
generations up to ``POWERPOST_HORIZON_LONGEST`` hours (default 1, at most 4), seed
``POWERPOST_HORIZON_SEED``. ``nox -s soak`` runs days of it.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import functools
import gc
import itertools
import math
import os
import random
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from email.utils import formatdate, parsedate_to_datetime
from typing import Any, TypeVar

import attrs

from powerpost_async import (
    GenerationFailedError,
    PowerPost,
    Request,
    Response,
    Transport,
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
#: The weather's two fronts: what each deals, and how long its calm spells last.
MAIN_KINDS = ["outage", "drops", "storm", "pages"]
MAIN_CALM = (300.0, HOUR)
QUOTA_KINDS = ["sliding", "limit zero", "refused"]
QUOTA_CALM = (300.0, 1800.0)
REFUSALS = [400, 404, 422]
#: The server's clock during a rate-limit spell: the fake's own (0: its fixed epoch, far
#: behind the client's wall clock), or 10 minutes ahead of the client's.
SKEWS = [0.0, 600.0]
#: A sliding-window 429: ``Retry-After: 1``, but the window's reset this far away.
SLIDING_RESET = 60.0
#: The longest anything may silence the client (retries.md): a hint, a pacing window.
MAX_PAUSE = 900.0
#: After a sliding-window 429, a client with eager waits sends again within this long.
AFTER_HINT = 45.0
#: A joiner's ``interval`` (the default): its first look comes at most this long after
#: the last look at its id.
JOINER_INTERVAL = 2.0
LOOK_TOLERANCE = 0.01
#: A slow waiter's ``max_interval``: alone, it may look this seldom.
SLOW_MAX_INTERVAL = HOUR
#: Past the latest deadline of a cycle's callers, and the slow waiters' last look after
#: their jobs finished: a caller still waiting then hung.
DRAIN_MARGIN = 2 * HOUR

T = TypeVar("T")


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
    #: Seconds its own pace may add to an answer (a slow waiter's max_interval).
    slack: float = 0.0
    #: A joiner's interval: a finished job is due by its first look (see `due()`).
    first_look: float | None = None
    #: Whether requests must keep going while it waits (not so for a slow waiter).
    eager: bool = True
    #: The client it waits on: the busy one, or the quiet one.
    client: str = "busy"


@attrs.define
class Spell:
    """A stretch of weather: [start, end) of some kind."""

    kind: str
    start: float
    end: float  # with what it leaves behind: a 429's pause, the pacing after it
    trouble: str = ""
    skew: float = 0.0  # how far ahead of the client's clock the server's runs


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
    skewed: int = 0
    hints: int = 0
    kinds: collections.Counter[str] = attrs.Factory(collections.Counter)
    longest_outage: float = 0.0
    worst_overshoot: float = 0.0
    worst_recovery: float = 0.0
    worst_joiner: float = 0.0
    longest_silence: float = 0.0
    violations: list[str] = attrs.Factory(list)
    tasks_at_cycle_ends: list[int] = attrs.Factory(list)
    sdk_memory: list[int] = attrs.Factory(list)
    real_seconds: float = 0.0


class Gateway:
    """A proxy in front of the fake that rewrites what its answers say about rate
    limits, in ways the fake cannot: its ``Date`` (and the ``X-RateLimit-Reset`` read
    against it) ahead of the client's clock, a sliding window's 429,
    ``X-RateLimit-Limit: 0``. The weather sets it; off, answers pass untouched."""

    def __init__(self, server: FakePowerPost, clock: VirtualClock) -> None:
        self.server = server
        self.clock = clock
        #: Seconds the server's clock runs ahead of the client's wall clock (0: the
        #: fake's own ``Date``, untouched).
        self.skew = 0.0
        #: Every 429 is a sliding window's: ``Retry-After: 1``, Remaining 0, and the
        #: window's reset `SLIDING_RESET` away.
        self.sliding = False
        #: Every answer says ``X-RateLimit-Limit: 0``.
        self.limit_zero = False

    def transport(self) -> _Link:
        """A client's transport: the fake's in-memory one, through this proxy."""
        return _Link(self, self.server.transport())

    def rewrite(self, response: Response, link: _Link) -> Response:
        link.sent.append(self.clock())
        sliding = self.sliding and response.status_code == 429
        if sliding:
            link.hinted.append(self.clock())
        if not (self.skew or sliding or self.limit_zero):
            return response
        headers = {name.lower(): value for name, value in response.headers.items()}
        date = parsedate_to_datetime(headers["date"]).timestamp()
        if self.skew:
            # Dated `skew` ahead of the client's wall clock (which barely moves while
            # virtual time runs), the reset moved with it: relative to its Date, each
            # answer says what the fake meant.
            shift = math.floor(time.time() + self.skew - date)
            date += shift
            headers["date"] = formatdate(date, usegmt=True)
            headers["x-ratelimit-reset"] = str(int(headers["x-ratelimit-reset"]) + shift)
        if sliding:
            headers["retry-after"] = "1"
            headers["x-ratelimit-remaining"] = "0"
            headers["x-ratelimit-reset"] = str(int(date + SLIDING_RESET))
        if self.limit_zero:
            headers["x-ratelimit-limit"] = "0"
        return Response(response.status_code, headers, response.content)


class _Link:
    """One client's transport through the `Gateway`, and when it sent what."""

    def __init__(self, gateway: Gateway, inner: Transport) -> None:
        self.gateway = gateway
        self.inner = inner
        self.sent: list[float] = []  # when each answer came (virtual time)
        self.hinted: list[float] = []  # when each sliding-window 429 came

    async def send(self, request: Request) -> Response:
        return self.gateway.rewrite(await self.inner.send(request), self)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Decks:
    """The shuffled decks the weather draws from, kept across cycles: every card comes
    round, whatever the number of cycles."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.quota: list[str] = []
        self.troubles: list[str] = []
        self.refusals: list[int] = []
        self.skews: list[float] = []


class Weather:
    """Outages, drops, 429 storms of every shape, broken or refused pagination: one
    spell at a time, dealt by two fronts in turn."""

    def __init__(
        self, server: FakePowerPost, gateway: Gateway, clock: VirtualClock, rng: random.Random
    ) -> None:
        self.server = server
        self.gateway = gateway
        self.clock = clock
        self.rng = rng
        self.spells: list[Spell] = []
        self.lock = asyncio.Lock()  # one spell at a time: each leaves everything clear

    def draw(self, deck: list[T], cards: Sequence[T]) -> T:
        """The next card of a shuffled deck: every kind comes round, in a random order."""
        if not deck:
            deck.extend(cards)
            self.rng.shuffle(deck)
        return deck.pop()

    async def run(self, until: float, decks: Decks) -> None:
        await asyncio.gather(
            self.front(until, decks, decks.kinds, MAIN_KINDS, MAIN_CALM),
            # More often and shorter than the main front, so that even the default run
            # (three hours) meets each of its kinds.
            self.front(until, decks, decks.quota, QUOTA_KINDS, QUOTA_CALM),
        )

    async def front(
        self,
        until: float,
        decks: Decks,
        deck: list[str],
        cards: list[str],
        calm: tuple[float, float],
    ) -> None:
        while self.clock() < until:
            await self.clock.sleep(self.rng.uniform(*calm))
            if self.clock() >= until:
                return
            async with self.lock:
                if self.clock() >= until:
                    return
                await self.spell(self.draw(deck, cards), decks)

    async def spell(self, kind: str, decks: Decks) -> None:
        rng, gateway = self.rng, self.gateway
        faults, quirks = self.server.faults, self.server.quirks
        start = self.clock()
        trouble = ""
        skew = 0.0
        tail = 0.0  # how long what it leaves behind lasts after it
        if kind == "outage":
            length = math.exp(rng.uniform(math.log(5.0), math.log(MAX_OUTAGE)))
            faults.random(Fault.server_error(503), 1.0)
        elif kind == "drops":
            length = rng.uniform(60, 1800)
            faults.random(Fault.drop(), 0.3)
        elif kind in ("storm", "sliding", "limit zero"):
            # Catches (skew): Retry-After dates and X-RateLimit-Reset read against the
            # local clock: a server 10 minutes ahead held the client ~605 s (up to the
            # 15 min cap) for a 5 s hint, so answers came minutes after the storm.
            skew = gateway.skew = self.draw(decks.skews, SKEWS)
            if kind == "storm":
                length = rng.uniform(60, 1200)
                hint = rng.choice([1, 5, 30, 120])
                tail = hint  # the last 429's pause outlasts the storm
            elif kind == "sliding":
                # Catches: a 429 with Retry-After 1, Remaining 0 and a reset 60 s away
                # held the client until the reset: every get failed at once with
                # RateLimitError when its deadline was nearer. Now one request goes
                # after 1 s (`after_hints()` checks it); the figures pace the rest until
                # the reset.
                length = rng.uniform(60, 900)
                hint = 1
                gateway.sliding = True
                tail = SLIDING_RESET
            else:
                # Catches: X-RateLimit-Limit: 0 after a 429 opened every pacing window
                # with nothing to let through: the client never asked again, and
                # wait(timeout=None) hung (a silence, then "hung" at the drain). Now a
                # window lets one request go, and none lasts past 15 min; a window lasts
                # as long as the hint or the server's (the fake's: 60 s).
                length = rng.uniform(60, 900)
                hint = rng.choice([1, 5, 30, 120])
                gateway.limit_zero = True
                tail = max(hint, 60.0)
            trouble = f"hint {hint} s"
            faults.random(Fault.rate_limit(retry_after=hint), 0.5)
        elif kind == "refused":
            # Catches: one 400, 404 or 422 on a list page failed every swept wait of the
            # client (here: "not a documented end", BadRequestError...) and stopped
            # sweeping. Now it ends that walk; the ids it did not reach are GET.
            kind = "pages"  # the lists miss ids meanwhile, as with broken pagination
            status = self.draw(decks.refusals, REFUSALS)
            trouble = f"refused {status}"
            # Short and light: each refused walk costs a GET per id it did not reach.
            length = rng.uniform(120, 900)
            faults.random(Fault.client_error(status), 0.3, on="list")
        else:
            length = rng.uniform(600, 2 * HOUR)
            trouble = self.draw(decks.troubles, TROUBLES)
            if trouble == "cursor_cycle":
                quirks.cursor_cycle = rng.choice([1, 2, 3])
            elif trouble == "empty_pages":
                quirks.empty_pages = 10**9
            elif trouble == "empty_cursor":
                quirks.empty_cursor = True
            else:
                quirks.order = "oldest_first"
        await self.clock.sleep(length)
        faults.clear()
        quirks.cursor_cycle = quirks.empty_pages = 0
        quirks.empty_cursor = False
        quirks.order = "newest_first"
        gateway.skew = 0.0
        gateway.sliding = gateway.limit_zero = False
        self.spells.append(Spell(kind, start, self.clock() + tail, trouble, skew))

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

    def settled(self, start: float, end: float) -> bool:
        """Whether the API answered normally from ``start`` to ``end``, and had since one
        recovery bound (breaker closed, no pause or pacing left). Pages may be broken or
        refused: GETs are answered."""
        return not any(
            s.kind != "pages" and s.start < end and start < s.end + RECOVERY_BOUND
            for s in self.spells
        )

    def answer_due(self, instant: float, slack: float = 0.0) -> tuple[float, float]:
        """(when the API could first be asked, the latest a caller may get its answer)
        for a generation that finished at ``instant``; ``slack``: what the caller's own
        pace may add (its looks that far apart).

        The SDK needs the API reachable for up to a bound after it comes back: a spell
        that starts within that stretch postpones the answer to its end, and so on.
        """
        ready = self.reachable_from(instant)
        while True:
            bound = RECOVERY_BOUND + slack
            if self.pages_broken(ready, ready + BROKEN_PAGES_BOUND + slack):
                bound = BROKEN_PAGES_BOUND + slack
            cut = [
                s.start
                for s in self.spells
                if s.kind != "pages" and ready < s.start < ready + bound
            ]
            if not cut:
                return ready, ready + bound
            ready = self.reachable_from(min(cut))

    def due(self, caller: Caller, finished: float) -> float:
        """The latest ``caller`` may get a generation that finished at ``finished``."""
        _, due = self.answer_due(max(finished, caller.start), caller.slack)
        if caller.first_look is not None and finished <= caller.start:
            # Joining a finished job: its first look answers it, at once if the id was
            # never looked at, else one interval after the last look, never later than
            # halfway to its deadline, whoever else awaits it and however seldom.
            look = caller.first_look
            if caller.deadline is not None:
                look = min(look, (caller.deadline - caller.start) / 2)
            if self.settled(caller.start, caller.start + look):
                due = min(due, caller.start + look + LOOK_TOLERANCE)
        return due


class Workload:
    """Waves of generations, and the callers awaiting them."""

    def __init__(
        self,
        server: FakePowerPost,
        pp: PowerPost,
        quiet: PowerPost,
        clock: VirtualClock,
        rng: random.Random,
    ) -> None:
        self.server = server
        self.pp = pp
        #: A second client (its own waiting engine) where only slow waiters and the
        #: callers joining them wait: on ``pp``, the eager callers' sweeps (every 10 s
        #: at most) would answer a joiner before any slow poller or sweeper mattered.
        self.quiet = quiet
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
                if caller.outcome == "running":  # not found hung at the drain
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
        # Slow waiters (on the quiet client), each with callers in a hurry joining around
        # the moment its job finishes. Catches: a poller or sweeper sleeping for a slow
        # caller (600 s polls, quiet ticks grown to an hour) slept on when a caller with
        # a 5-30 s timeout joined: WaitTimeoutError ("last seen: processing") on a job
        # that had finished, that the newcomer alone would have seen at its first look.
        quiet = self.quiet
        for generation_id in rng.sample(ids, min(2, len(ids))):
            self.spawn(
                Caller(
                    "slow wait",
                    [generation_id],
                    now,
                    None,
                    slack=SLOW_MAX_INTERVAL,
                    eager=False,
                    client="quiet",
                ),
                functools.partial(
                    quiet.generations.wait,
                    generation_id,
                    timeout=None,
                    interval=600.0,
                    max_interval=SLOW_MAX_INTERVAL,
                ),
                0.0,
            )
            self.join(generation_id)
        if len(ids) >= 4 and rng.random() < 0.5:
            # Swept on the quiet client, its quiet ticks growing to an hour: catches a
            # sleeping sweeper not woken by a joiner (as the slow polls above).
            slow_ids = rng.sample(ids, rng.randint(4, len(ids)))
            self.spawn(
                Caller(
                    "slow wait_many",
                    slow_ids,
                    now,
                    None,
                    slack=SLOW_MAX_INTERVAL,
                    eager=False,
                    client="quiet",
                ),
                functools.partial(
                    quiet.generations.wait_many,
                    slow_ids,
                    timeout=None,
                    interval=rng.choice([2.0, 60.0]),
                    max_interval=SLOW_MAX_INTERVAL,
                ),
                0.0,
            )
            self.join(rng.choice(slow_ids))
        # webhooks for half of the generations, some late, some while the API is down
        for generation_id in ids:
            if rng.random() < 0.5:
                self.tasks.append(asyncio.ensure_future(self.webhook(generation_id)))

    def join(self, generation_id: str) -> None:
        """Callers with short timeouts joining ``generation_id`` around its finish (from
        2 s before to a minute after), through each way of waiting; most beside its slow
        waiter on the quiet client, some on the busy one."""
        rng, now = self.rng, self.clock()
        finished = self.server.timeline(generation_id).finished
        assert finished is not None
        for _ in range(rng.randint(1, 3)):
            delay = max(0.0, finished - now + rng.uniform(-2.0, 60.0))
            timeout = rng.uniform(5.0, 30.0)
            client = rng.choice(["quiet", "quiet", "busy"])
            pp = self.quiet if client == "quiet" else self.pp
            how = rng.choice(["wait", "wait_many", "as_completed"])
            body: Callable[[], Awaitable[object]]
            if how == "wait":
                body = functools.partial(pp.generations.wait, generation_id, timeout=timeout)
            elif how == "wait_many":
                body = functools.partial(pp.generations.wait_many, [generation_id], timeout=timeout)
            else:
                body = functools.partial(self.consume, pp, [generation_id], timeout)
            caller = Caller(
                f"joiner {how}",
                [generation_id],
                now,
                now + timeout,
                first_look=JOINER_INTERVAL,
                client=client,
            )
            self.spawn(caller, body, delay)

    @staticmethod
    async def consume(pp: PowerPost, ids: list[str], timeout: float) -> None:
        async for _ in pp.generations.as_completed(ids, timeout=timeout):
            pass

    async def drain(self) -> None:
        """Wait for every task. A caller still waiting long after its deadline, or
        after its jobs finished and its slowest look, hung: it is cancelled and
        recorded so (check() then names it)."""
        deadlines = [c.deadline for c in self.callers if c.deadline is not None]
        finishes = [self.server.timeline(i).finished or 0.0 for c in self.callers for i in c.ids]
        limit = max([*deadlines, *finishes, self.clock()]) + SLOW_MAX_INTERVAL + DRAIN_MARGIN
        everything: asyncio.Future[Any] = asyncio.gather(*self.tasks, return_exceptions=True)
        guard: asyncio.Future[Any] = asyncio.ensure_future(self.clock.sleep(limit - self.clock()))
        await asyncio.wait({everything, guard}, return_when=asyncio.FIRST_COMPLETED)
        if not everything.done():
            for caller in self.callers:
                if caller.outcome == "running":
                    caller.outcome, caller.end = "hung", self.clock()
            for task in self.tasks:
                task.cancel()
        await asyncio.wait({everything})
        guard.cancel()
        await asyncio.wait({guard})

    async def webhook(self, generation_id: str) -> None:
        finished = self.server.timeline(generation_id).finished
        assert finished is not None
        await self.clock.sleep(max(0.0, finished - self.clock()) + self.rng.uniform(0, 30))
        await self.pp.generations.feed(generation_id)


def check(callers: list[Caller], weather: Weather, server: FakePowerPost, figures: Figures) -> None:
    """Every caller's end against its deadline and what really happened: what breaks an
    invariant is added to ``figures.violations``."""
    for caller in callers:
        figures.outcomes[caller.outcome] += 1
        problem = judge(caller, weather, server, figures)
        if problem is not None:
            ids = ", ".join(caller.ids[:3]) + (", ..." if len(caller.ids) > 3 else "")
            deadline = "none" if caller.deadline is None else f"{caller.deadline:.2f}"
            figures.violations.append(
                f"{caller.kind} [{ids}] from {caller.start:.2f} (deadline {deadline}), "
                f"ended {caller.end:.2f} with {caller.outcome}: {problem}"
            )


def judge(caller: Caller, weather: Weather, server: FakePowerPost, figures: Figures) -> str | None:
    """What ``caller`` did wrong, if anything."""
    if caller.outcome not in {"result", "WaitTimeoutError", "GenerationFailedError", "cancelled"}:
        return "not a documented end"
    if caller.outcome == "cancelled":
        return None
    if caller.deadline is not None:
        overshoot = caller.end - caller.deadline
        figures.worst_overshoot = max(figures.worst_overshoot, overshoot)
        if overshoot > DEADLINE_TOLERANCE:
            return f"{overshoot:.3f} s past its deadline"
    finishes = [server.timeline(i).finished for i in caller.ids]
    assert all(f is not None for f in finishes)
    if caller.outcome == "WaitTimeoutError":
        assert caller.deadline is not None
        for generation_id in caller.pending:
            finished = server.timeline(generation_id.lower()).finished
            assert finished is not None
            due = weather.due(caller, finished)
            # It timed out: it must not have been due an answer before its deadline.
            if due < caller.deadline:
                return f"{generation_id} finished at {finished:.2f}, due by {due:.2f}"
        return None
    # A result, or GenerationFailedError: how long after it could have been seen?
    last = max(f for f in finishes if f is not None)
    ready, _ = weather.answer_due(max(last, caller.start))
    due = weather.due(caller, last)
    if caller.slack == 0.0:
        figures.worst_recovery = max(figures.worst_recovery, caller.end - ready)
    if caller.first_look is not None and last <= caller.start:
        figures.worst_joiner = max(figures.worst_joiner, caller.end - caller.start)
    if caller.end > due:
        return f"the last finished at {last:.2f}, askable from {ready:.2f}, due by {due:.2f}"
    return None


def waited(callers: list[Caller]) -> list[tuple[float, float]]:
    """The stretches of time during which one of ``callers`` waited, merged."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted((c.start, c.end) for c in callers if c.end > c.start):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def longest_silence(callers: list[Caller], times: list[float]) -> tuple[float, float]:
    """(the longest stretch without a request while an eager caller waited, its end).

    Catches a client silenced by a rate-limit hint or pacing window that never ends
    (``X-RateLimit-Limit: 0``): nothing may hold every request back more than 15 min.
    """
    worst = (0.0, 0.0)
    for start, end in waited([c for c in callers if c.eager]):
        inside = times[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]
        points = [start, *inside, end]
        for earlier, later in itertools.pairwise(points):
            worst = max(worst, (later - earlier, later))
    return worst


def after_hints(callers: list[Caller], link: _Link, client: str) -> list[str]:
    """Catches a sliding-window 429 (``Retry-After: 1``, Remaining 0, a reset 60 s
    away) holding the client until the reset: the hint says when the next request may
    go, and one does. A client with eager waits (whose sweeps retry a failed tick
    within 30 s, whose polls come 12.5 s apart at most) sends again well before the
    reset."""
    spans = waited([c for c in callers if c.eager and c.client == client])
    problems = []
    for hinted in link.hinted:
        if not any(start <= hinted and hinted + AFTER_HINT <= end for start, end in spans):
            continue  # nobody needed to ask meanwhile
        later = link.sent[bisect.bisect_right(link.sent, hinted) :]
        following = later[0] if later else math.inf
        if following - hinted > AFTER_HINT:
            problems.append(
                f"the {client} client got a sliding-window 429 at {hinted:.2f} and sent "
                f"nothing more until {following:.2f}"
            )
    return problems


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
    gateway = Gateway(server, clock)
    busy, calm = gateway.transport(), gateway.transport()
    figures = Figures()
    decks = Decks()  # drawn across cycles
    started = time.perf_counter()
    try:
        async with (
            server.client(transport=busy) as pp,
            server.client(transport=calm) as quiet,
        ):
            for cycle in range(cycles):
                if cycle == 1:
                    # The first cycle warms the caches; only growth after it counts, so
                    # it runs untraced (tracing is most of this test's real time).
                    tracemalloc.start(1)
                origin = clock()
                until = origin + hours * HOUR
                weather = Weather(server, gateway, clock, rng)
                workload = Workload(server, pp, quiet, clock, rng)
                await asyncio.gather(weather.run(until, decks), workload.run(until))
                await workload.drain()
                for _ in range(5):
                    await asyncio.sleep(0)
                check(workload.callers, weather, server, figures)
                silence, at = longest_silence(workload.callers, [r.time for r in server.requests])
                figures.longest_silence = max(figures.longest_silence, silence)
                if silence > MAX_PAUSE:
                    figures.violations.append(f"no request for {silence:.0f} s until {at:.2f}")
                for name, link in (("busy", busy), ("quiet", calm)):
                    figures.violations += after_hints(workload.callers, link, name)
                    figures.hints += len(link.hinted)
                    link.sent.clear()
                    link.hinted.clear()
                current = asyncio.current_task()
                left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
                figures.tasks_at_cycle_ends.append(len(left))
                assert left == [], left
                figures.cycles += 1
                figures.generations += workload.generations
                figures.callers += len(workload.callers)
                figures.kinds.update(c.kind.split()[0] for c in workload.callers)
                figures.requests += len(server.requests)
                for spell in weather.spells:
                    figures.spells[spell.kind] += 1
                    figures.skewed += spell.skew > 0
                    if spell.trouble and not spell.trouble.startswith("hint"):
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
                if tracemalloc.is_tracing():
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
        ("  of which", ", ".join(f"{k} {v}" for k, v in sorted(figures.kinds.items()))),
        ("  how they ended", ", ".join(f"{k} {v}" for k, v in sorted(figures.outcomes.items()))),
        ("weather spells", ", ".join(f"{k} {v}" for k, v in sorted(figures.spells.items()))),
        ("  server clock 10 min ahead", f"{figures.skewed} rate-limit spells"),
        ("  sliding-window 429s", f"{figures.hints}"),
        (
            "  pages broken or refused",
            ", ".join(f"{k} {v}" for k, v in sorted(figures.troubles.items())),
        ),
        ("longest outage", f"{figures.longest_outage / HOUR:.2f} h"),
        ("HTTP requests", f"{figures.requests}"),
        ("  by endpoint", ", ".join(f"{k} {v}" for k, v in sorted(figures.endpoints.items()))),
        ("requests per generation", f"{figures.requests / max(figures.generations, 1):.2f}"),
        ("worst deadline overshoot", f"{max(figures.worst_overshoot, 0.0) * 1000:.1f} ms"),
        ("worst answer after recovery", f"{figures.worst_recovery:.1f} s"),
        ("worst joiner on a finished job", f"{figures.worst_joiner:.2f} s after joining"),
        ("longest silence while waited on", f"{figures.longest_silence:.0f} s"),
        ("tasks left at cycle ends", ", ".join(map(str, figures.tasks_at_cycle_ends))),
        ("invariants broken", f"{len(figures.violations)}"),
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
    problems = list(figures.violations)
    # Once warm (caches filled by the first cycle), the memory the SDK holds stays flat.
    if len(figures.sdk_memory) >= 2:
        growth = max(figures.sdk_memory) - figures.sdk_memory[0]
        if growth >= 32 * 1024:
            problems.append(f"the SDK's memory grew by {growth} bytes: {figures.sdk_memory}")
    # Generations of up to four hours, swept every 10 s at most: lists cost per hour.
    per_generation = figures.requests / figures.generations
    if per_generation >= 20:
        problems.append(f"{per_generation:.2f} requests per generation (budget: 20)")
    assert not problems, "\n".join(
        [f"seed {SEED}: {len(problems)} invariants broken (virtual times):", *problems[:12]]
    )
