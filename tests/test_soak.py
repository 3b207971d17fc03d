"""Soak and storm: many generations through one client while the API misbehaves.

The soak creates N generations through ONE client (bounded concurrency), awaits them
with ``wait_many``, and then reconciles what the client saw with what the embedded
server did, while the server injects, at random: 429s with ``retryAfter``, 500/502/503
(before and after doing the work), dropped connections (before and after), answers
slower than the client's timeout, and truncated JSON bodies.

What must hold afterwards:

* every generation the server made is accounted for, with its true final status: it was
  either returned by a successful ``create`` or is visible through ``iterate`` (a create
  can fail on the client after the server executed it: a drop, a timeout, a garbled or
  5xx answer after the work; such orphans are reconciled, never lost);
* no ``create`` call made two generations (each call has a unique prompt);
* no unexpected exception (only the SDK's ``APIError`` family), no task, socket or
  session left open.

Sizes: ``POWERPOST_SOAK_GENERATIONS`` (default 300) for the in-memory run in virtual
time, ``POWERPOST_SOAK_SOCKET_GENERATIONS`` (default 40) for the real-time run over
sockets. ``nox -s soak`` runs both with 2,000. ``pytest -s`` shows the tables.

The storm tests (the API answers 503 to everything for two virtual minutes) check that
the request rate stays bounded for the shared sweep and ``get_many`` too, and print the
figures with and without the circuit breaker (docs/reliability.md quotes them).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

import attrs
import pytest

from powerpost_async import (
    APIError,
    CreatedGeneration,
    Generation,
    GenerationStatus,
    PowerPost,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

T = TypeVar("T")

SOAK_GENERATIONS = int(os.environ.get("POWERPOST_SOAK_GENERATIONS", "300"))
SOCKET_GENERATIONS = int(os.environ.get("POWERPOST_SOAK_SOCKET_GENERATIONS", "40"))
SEED = int(os.environ.get("POWERPOST_SOAK_SEED", "7"))

# Client timeout vs. the slow fault's delay: a slow answer always times out the client
# while the server still does the work (the nastiest case for a create). The timeout is
# a call's deadline, retries and pauses included: long enough for a 429's 1 s pause and
# the retry after it to fit.
CLIENT_TIMEOUT = 3.0
SLOW_DELAY = 4.0
CREATE_CONCURRENCY = 50
POST_TYPES = ("instagram-feed", "x-post", "youtube-short")


def fault_mix(rate_limit_probability: float) -> list[tuple[Fault, float, Any]]:
    """(fault, probability, endpoints) injected at random during a soak.

    Every endpoint gets every kind; a server error *after* the work only matters for a
    create (a GET has no side effect), so it is aimed there.
    """
    return [
        (Fault.rate_limit(1), rate_limit_probability, None),
        (Fault.server_error(500), 0.02, None),
        (Fault.server_error(502), 0.02, None),
        (Fault.server_error(503), 0.02, None),
        (Fault.server_error(503, executed=True), 0.03, "create"),
        (Fault.drop(executed=False), 0.02, None),
        (Fault.drop(executed=True), 0.02, None),
        (Fault.slow(SLOW_DELAY), 0.02, None),
        (Fault.malformed(), 0.02, None),
    ]


@attrs.define
class Call:
    """One ``create`` call of the soak and how it ended on the client."""

    prompt: str
    created: CreatedGeneration | None = None
    error: BaseException | None = None


@attrs.define
class SoakReport:
    """Everything the soak measured, printed as a table at the end."""

    title: str
    rows: list[tuple[str, str]] = attrs.Factory(list)

    def add(self, label: str, value: object) -> None:
        self.rows.append((label, str(value)))

    def table(self) -> str:
        width = max(len(label) for label, _ in self.rows)
        lines = [self.title, "-" * len(self.title)]
        lines += [f"{label:<{width}}  {value}" for label, value in self.rows]
        return "\n".join(lines)


class UnhandledErrors:
    """Collects whatever reaches the event loop's exception handler during a block.

    "Task exception was never retrieved", exceptions in callbacks and the like: none of
    them may happen during a soak, even though no test would otherwise notice them.
    """

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: Any = None

    def __enter__(self) -> UnhandledErrors:
        self._loop = asyncio.get_running_loop()
        self._previous = self._loop.get_exception_handler()
        self._loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None
        self._loop.set_exception_handler(self._previous)


def open_sockets() -> int:
    """Sockets this process holds open (Linux: /proc/self/fd), or -1 if unknown."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return -1
    count = 0
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:  # closed between listdir and readlink
            continue
    return count


async def persist(
    action: Callable[[], Awaitable[T]], sleep: Callable[[float], Awaitable[None]]
) -> T:
    """Run ``action`` until it gets past the injected faults (the client retried already).

    Reconciliation reads (listing, credits) run with the faults still on: a real caller
    would have to do the same, so the soak does too.
    """
    for _ in range(20):
        try:
            return await action()
        except APIError:
            await sleep(1.0)
    raise AssertionError("20 attempts in a row failed: the fault rates are far too high")


def tasks_besides_current() -> list[asyncio.Task[Any]]:
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


# -- the soak ---------------------------------------------------------------------------------


async def soak(
    server: FakePowerPost,
    pp: PowerPost,
    count: int,
    sleep: Callable[[float], Awaitable[None]],
    report: SoakReport,
    *,
    wait_timeout: float,
    interval: float,
) -> None:
    """Create ``count`` generations, await them, reconcile, and assert nothing was lost."""
    calls = [Call(prompt=f"soak #{n:05d}: we shipped feature {n}") for n in range(count)]
    gate = asyncio.Semaphore(CREATE_CONCURRENCY)

    async def create(call: Call, post_types: Sequence[str]) -> None:
        async with gate:
            try:
                call.created = await pp.generations.create(
                    prompt=call.prompt, post_types=post_types
                )
            except APIError as error:  # the only kind allowed; anything else fails the soak
                call.error = error

    balance_before = server.balance()
    await asyncio.gather(
        *(create(call, [POST_TYPES[n % len(POST_TYPES)]]) for n, call in enumerate(calls))
    )
    created = {c.created.generation_id: c for c in calls if c.created is not None}
    assert len(created) == sum(c.created is not None for c in calls), "an id was returned twice"

    awaited = await pp.generations.wait_many(
        list(created),
        timeout=wait_timeout,
        interval=interval,
        max_interval=max(interval, 2.0),
        return_exceptions=True,
    )
    seen: dict[str, Generation | Exception] = dict(zip(created, awaited, strict=True))

    # Reconcile: creates that failed on the client may still have made a generation.
    async def list_everything() -> dict[str, GenerationStatus]:
        return {s.generation_id: s.status async for s in pp.generations.iterate()}

    listed = await persist(list_everything, sleep)
    orphans = [i for i in listed if i not in created]
    if orphans:
        recovered = await pp.generations.wait_many(
            orphans, timeout=wait_timeout, interval=interval, return_exceptions=True
        )
        seen.update(zip(orphans, recovered, strict=True))
    credits = await persist(pp.account.credits, sleep)

    # -- what the server did --------------------------------------------------------------
    made = server.generations()
    made_ids = {g.generation_id for g in made}
    by_prompt = collections.Counter(g.prompt for g in made)
    prompts = {c.prompt for c in calls}
    duplicated = sum(n - 1 for n in by_prompt.values() if n > 1)
    lost = made_ids - set(listed)
    unaccounted = made_ids - set(seen)

    # -- the table ------------------------------------------------------------------------
    log = server.requests
    endpoints = collections.Counter(r.endpoint for r in log)
    report.add(
        "HTTP requests (server side)",
        f"{len(log)}: "
        + ", ".join(f"{e} {endpoints[e]}" for e in ("create", "get", "list", "credits")),
    )
    injected = collections.Counter(_fault_label(r.fault, r.status, r.executed) for r in log)
    injected.pop(None, None)
    report.add("faults injected", f"{sum(injected.values())} ({_share(injected, len(log))})")
    for label, n in sorted(injected.items(), key=lambda kv: str(kv[0])):
        report.add(f"  {label}", n)
    errors = collections.Counter(type(c.error).__name__ for c in calls if c.error is not None)
    report.add("create calls", count)
    report.add("  returned a generation", len(created))
    report.add(
        "  raised (APIError family)",
        f"{sum(errors.values())}" + (f": {_counts(errors)}" if errors else ""),
    )
    failed_calls = {c.prompt for c in calls if c.error is not None}
    orphan_calls = sum(1 for g in made if g.prompt in failed_calls)
    report.add("generations made by the server", len(made))
    report.add("  returned by create", len(made_ids & set(created)))
    report.add("  recovered by listing (create raised)", len(orphans))
    finals = collections.Counter(
        g.status.value if isinstance(g, Generation) else type(g).__name__ for g in seen.values()
    )
    report.add("final statuses seen by the client", _counts(finals))
    report.add("lost (made, never seen by the client)", len(lost | unaccounted))
    report.add("duplicated creates (2+ generations per call)", duplicated)
    report.add("credits: client == server == expected", credits.balance)

    # -- the assertions -------------------------------------------------------------------
    assert not lost, f"generations the listing never showed: {sorted(lost)[:5]}"
    assert not unaccounted, f"generations never awaited: {sorted(unaccounted)[:5]}"
    assert duplicated == 0, f"create calls that made 2+ generations: {by_prompt.most_common(3)}"
    assert set(by_prompt) <= prompts, "the server made a generation nobody asked for"
    assert set(created) <= made_ids, "create returned an id the server does not know"
    assert orphan_calls == len(orphans)
    # Every create the server executed made exactly one generation; no other did.
    assert log.count(endpoint="create", executed=True) == len(made)
    for generation_id, outcome in seen.items():
        assert isinstance(outcome, Generation), f"{generation_id}: {outcome!r}"
        truth = server.generation(generation_id)
        assert outcome.status.is_terminal
        assert outcome == truth, f"{generation_id}: client saw {outcome}, server has {truth}"
    for call in calls:
        if call.created is not None:
            truth = server.generation(call.created.generation_id)
            assert truth.prompt == call.prompt
    completed = sum(1 for g in made if g.status is GenerationStatus.COMPLETED)
    assert credits.balance == server.balance() == balance_before - 10 * completed
    assert finals.keys() <= {"completed", "failed"}


def _fault_label(fault: str | None, status: int | None, executed: bool) -> str | None:
    if fault is None:
        return None
    if fault == "rate_limit":
        return "429 rate limit"
    if fault == "server_error":
        return f"{status} {'after' if executed else 'before'} the work"
    if fault == "drop":
        return f"drop {'after' if executed else 'before'} the work"
    if fault == "slow":
        return "slow (past the client timeout)"
    return "malformed (truncated JSON)"


def _counts(counter: collections.Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


def _share(counter: collections.Counter[Any], total: int) -> str:
    return f"{100 * sum(counter.values()) / max(total, 1):.1f}% of requests"


def configure_faults(server: FakePowerPost, rate_limit_probability: float) -> None:
    for fault, probability, on in fault_mix(rate_limit_probability):
        server.faults.random(fault, probability, on=on)


def credits_for(count: int) -> int:
    # Never short of credits: a 402 is not a fault under test here.
    return 20 * count + 1000


async def test_soak_in_memory_virtual_time() -> None:
    """N generations through one client, in memory, in virtual time, under random faults."""
    asyncio.get_running_loop().set_debug(True)
    random.seed(SEED)  # the client's backoff jitter: the same run each time
    clock = VirtualClock()
    server = FakePowerPost(
        clock=clock,
        pending=(0.0, 1.0),
        processing=(0.5, 30.0),
        failure_rate=0.1,
        seed=SEED,
        credits=credits_for(SOAK_GENERATIONS),
    )
    configure_faults(server, rate_limit_probability=0.01)
    report = SoakReport(
        f"soak in memory, virtual time: {SOAK_GENERATIONS} generations, seed {SEED}"
    )
    started = time.perf_counter()
    with UnhandledErrors() as unhandled:
        async with server.client(timeout=CLIENT_TIMEOUT) as pp:
            await soak(
                server,
                pp,
                SOAK_GENERATIONS,
                clock.sleep,
                report,
                wait_timeout=3600.0,
                interval=2.0,
            )
        for _ in range(3):
            await asyncio.sleep(0)
        assert pp.is_closed
        assert tasks_besides_current() == []
    gc.collect()  # an unclosed session or transport would warn (an error in this suite) now
    report.add("virtual time elapsed", f"{clock():.1f} s")
    report.add("real time elapsed", f"{time.perf_counter() - started:.1f} s")
    report.add("unhandled errors / leaked tasks", f"{len(unhandled.errors)} / 0")
    print("\n" + report.table())
    assert unhandled.errors == []


async def test_soak_over_sockets_real_time() -> None:
    """The same soak over real sockets and the real clock: aiohttp, timeouts, drops."""
    asyncio.get_running_loop().set_debug(True)
    random.seed(SEED)
    sockets_before = open_sockets()
    server = FakePowerPost(
        pending=(0.0, 0.5),
        processing=(0.5, 3.0),
        failure_rate=0.1,
        seed=SEED,
        credits=credits_for(SOCKET_GENERATIONS),
    )
    # Every 429 holds the whole client back for its retryAfter (1 s of real time): rarer
    # here than in virtual time, or the run would mostly be waiting.
    configure_faults(server, rate_limit_probability=0.002)
    report = SoakReport(
        f"soak over sockets, real time: {SOCKET_GENERATIONS} generations, seed {SEED}"
    )
    started = time.perf_counter()
    with UnhandledErrors() as unhandled:
        async with server:
            async with server.client(use_socket=True, timeout=CLIENT_TIMEOUT) as pp:
                await soak(
                    server,
                    pp,
                    SOCKET_GENERATIONS,
                    asyncio.sleep,
                    report,
                    wait_timeout=600.0,
                    interval=0.5,
                )
            assert pp.is_closed
            # Slow answers are still being held back server-side: let them end, so that
            # closing the server cancels nothing.
            await asyncio.sleep(SLOW_DELAY + 0.2)
        for _ in range(5):
            await asyncio.sleep(0)
        assert tasks_besides_current() == []
    gc.collect()
    sockets_after = open_sockets()
    report.add("real time elapsed", f"{time.perf_counter() - started:.1f} s")
    report.add("open sockets before / after", f"{sockets_before} / {sockets_after}")
    report.add("unhandled errors / leaked tasks", f"{len(unhandled.errors)} / 0")
    print("\n" + report.table())
    assert unhandled.errors == []
    assert sockets_after == sockets_before


# -- the storm --------------------------------------------------------------------------------

OUTAGE = 120.0
WINDOW = 10.0
STORM_IDS = 200


@attrs.frozen
class Storm:
    """Requests the server saw around a total outage of ``OUTAGE`` virtual seconds."""

    during: int
    per_window: tuple[int, ...]
    after: int
    recovery: float

    @property
    def peak_after_first_window(self) -> int:
        return max(self.per_window[1:], default=0)


async def storm(
    *, breaker: bool, strategy: Literal["poll", "sweep"], get_many: bool, seed: int = 3
) -> Storm:
    """200 awaited generations (and a get_many of them) while every request gets a 503.

    Returns the requests during the outage, per 10 s window, after it, and how long the
    waits took to finish once the API was back.
    """
    random.seed(seed)  # backoff and breaker jitter: the same figures on every run
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, pending=0, processing=(5, 20), seed=seed)
    async with server.client(circuit_breaker=breaker) as pp:
        ids = server.seed_generations(STORM_IDS, status="processing")
        server.faults.random(Fault.server_error(503), 1.0)
        waiting = asyncio.ensure_future(
            pp.generations.wait_many(ids, strategy=strategy, timeout=None)
        )
        bulk: asyncio.Future[list[Generation | Exception]] | None = None
        if get_many:
            bulk = asyncio.ensure_future(pp.generations.get_many(ids, return_exceptions=True))
        await clock.sleep(OUTAGE)
        during = list(server.requests)
        server.faults.clear()
        server.complete_all()
        ended = clock()
        generations = await waiting
        recovery = clock() - ended
        assert all(g.status.is_terminal for g in generations)
        if bulk is not None:
            # get_many gave up during the outage (each id after its retries): every id
            # is an error, none a hang. Once the API is back, the same call works.
            outcomes = await bulk
            assert all(isinstance(o, APIError) for o in outcomes)
            again = await pp.generations.get_many(ids)
            assert [g.generation_id for g in again] == ids
        after = len(server.requests) - len(during)
    windows = collections.Counter(int(r.time // WINDOW) for r in during)
    per_window = tuple(windows.get(w, 0) for w in range(int(OUTAGE // WINDOW)))
    return Storm(len(during), per_window, after, recovery)


async def test_storm_sweep_and_get_many_stay_bounded_and_recover() -> None:
    """wait_many (shared sweep) plus a get_many of the same 200 ids, through 2 min of 503s."""
    with_breaker = await storm(breaker=True, strategy="sweep", get_many=True)
    without = await storm(breaker=False, strategy="sweep", get_many=True)
    # The first window holds the get_many burst (one try per id until the breaker
    # opens); after it, a probe per cool-down (1 s doubling to 30 s) and nothing else.
    assert with_breaker.per_window[0] <= 130
    assert with_breaker.peak_after_first_window <= 5
    assert with_breaker.during <= 130
    # Without the breaker the sweep alone is still bounded (one tick per interval, with
    # backoff), but get_many pays 3 tries for each of the 200 ids.
    assert without.during >= 3 * STORM_IDS
    assert without.peak_after_first_window <= 30
    for figures in (with_breaker, without):
        assert figures.recovery <= 40.0
        assert figures.after >= STORM_IDS  # the finished ids are read, then get_many again
    print("\n" + storm_table([("sweep + get_many", with_breaker, without)]))


def storm_table(rows: list[tuple[str, Storm, Storm]]) -> str:
    head = f"storm: {STORM_IDS} ids awaited, all requests answered 503 for {OUTAGE:g} s"
    lines = [head, "-" * len(head)]
    lines.append(
        f"{'scenario':<18} {'breaker':<8} {'requests':>8} {'peak/10s':>9} "
        f"{'after 1st 10s':>14} {'recovery':>9}"
    )
    for name, on, off in rows:
        for label, figures in (("on", on), ("off", off)):
            lines.append(
                f"{name:<18} {label:<8} {figures.during:>8} {max(figures.per_window):>9} "
                f"{sum(figures.per_window[1:]):>14} {figures.recovery:>8.1f}s"
            )
    return "\n".join(lines)


@pytest.mark.skipif(
    not os.environ.get("POWERPOST_STORM_FIGURES"),
    reason="set POWERPOST_STORM_FIGURES=1 to measure every storm scenario (slower)",
)
async def test_storm_figures_for_the_docs() -> None:
    """Every scenario with and without the breaker, as quoted in docs/reliability.md."""
    rows = []
    for name, strategy, bulk in (
        ("poll (200 pollers)", "poll", False),
        ("sweep", "sweep", False),
        ("sweep + get_many", "sweep", True),
    ):
        on = await storm(breaker=True, strategy=strategy, get_many=bulk)  # type: ignore[arg-type]
        off = await storm(breaker=False, strategy=strategy, get_many=bulk)  # type: ignore[arg-type]
        rows.append((name, on, off))
    print("\n" + storm_table(rows))
