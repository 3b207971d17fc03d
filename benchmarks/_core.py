"""What every benchmark module shares: the context, results, targets and the A/B loop.

A benchmark compares *variants* (the SDK and its baselines). :func:`alternate` runs them
in turn, A B C A B C ..., for ``ctx.rounds`` rounds, so that whatever drifts during a
run (CPU frequency, a noisy neighbour, the page cache) hits every variant alike. Each
round of a variant is one :class:`Sample`: its wall time, the client process's CPU time,
the server process's CPU time, what other processes used meanwhile and how many
operations it did. Results are reported as
medians over rounds and as ratios of medians: nothing is judged by an absolute time,
except the one target the issue states in microseconds.

Some figures are not a matter of time at all (HTTP requests per generation, MiB of
memory, sockets open): a variant's round returns them in a :class:`Measured`, and
results of kind ``"count"`` report them the same way (medians, ratios, targets).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

__all__ = [
    "DISTURBED_CORES",
    "Context",
    "Kind",
    "Measured",
    "Result",
    "Sample",
    "Server",
    "Target",
    "Variant",
    "alternate",
    "drive",
    "machine_busy_seconds",
]

#: ``"rate"``: operations per second (higher is better); ``"time"``: µs per operation
#: (lower is better); ``"count"``: a figure the benchmark measures itself each round
#: (requests per generation, MiB, sockets; lower is better), see :class:`Measured`.
Kind = Literal["rate", "time", "count"]


class Server(Protocol):
    """The benchmark server as benchmarks see it (a :class:`~benchmarks._server.ServerProcess`)."""

    url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server process has used so far (``None`` if unknown)."""
        ...


@dataclass
class Context:
    """Settings and shared resources handed to every benchmark's ``run(ctx)``.

    Attributes:
        rounds: Measured rounds per variant (after one warm-up).
        requests: GET requests per round of the ``get`` benchmark; others scale from it.
        concurrency: Requests in flight at once in the HTTP throughput benchmarks.
        pages: Pages of 100 summaries the server's list chain has (``iterate`` walks all).
        records: Records structured per round by the in-process benchmarks.
        quick: A smoke run: tiny sizes, numbers not meaningful.
        server: The running server, or ``None`` if no selected benchmark needs one.
    """

    rounds: int
    requests: int
    concurrency: int
    pages: int
    records: int
    quick: bool = False
    server: Server | None = None

    def need_server(self) -> Server:
        """The server; raises if the runner did not start one (``NEEDS_SERVER = False``)."""
        if self.server is None:
            raise RuntimeError("this benchmark needs the server: set NEEDS_SERVER = True")
        return self.server

    def log(self, message: str) -> None:
        """Progress for the person watching (stderr, so ``--json -`` stays clean)."""
        print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Target:
    """A goal from the issue, checked against one result.

    Attributes:
        label: What the goal says, e.g. ``"get throughput >= 0.90x raw aiohttp"``.
        bound: The threshold.
        on: ``"ratio"``: the result's ratio to its baseline must be >= ``bound``;
            ``"value"``: the result's median must be <= ``bound`` (a time in µs, or a
            ``"count"`` result's figure: requests, MiB, sockets).
        baseline: For ``on="ratio"``: the variant (same ``bench``) the ratio is taken
            against, when it is not the result's own :attr:`Result.baseline` (a result
            judged against two baselines carries a second target naming the other one).
    """

    label: str
    bound: float
    on: Literal["ratio", "value"] = "ratio"
    baseline: str | None = None

    def met(self, value: float | None) -> bool | None:
        """Whether ``value`` (the ratio or the median, as ``on`` says) meets the goal."""
        if value is None:
            return None
        return value >= self.bound if self.on == "ratio" else value <= self.bound


#: A round in which processes other than the client and the server kept more than this
#: many cores busy (or the hypervisor stole that much) is *disturbed*: left out of the
#: medians when undisturbed rounds exist. On a 2-core machine such load competes directly
#: with the client and the server.
DISTURBED_CORES = 0.2
#: Slack for /proc/stat's 10 ms ticks (two CPUs, a tick of error each), so that a short
#: round is not called disturbed for rounding alone.
_TICK_SLACK = 0.02


@dataclass(frozen=True)
class Sample:
    """One round of one variant."""

    wall: float  # seconds, perf_counter
    cpu: float  # seconds of this (client) process, process_time
    server_cpu: float | None  # seconds of the server process, None if unknown or no server
    ops: int  # requests, records or calls done
    others_cpu: float | None = None  # seconds used by everything else (and stolen), if known
    figure: float | None = None  # what a "count" result measured this round (Measured)

    def value(self, kind: Kind) -> float:
        """Operations per second (``rate``), µs per operation (``time``) or the figure."""
        if kind == "count":
            if self.figure is None:
                raise ValueError("a sample of a 'count' result needs its figure")
            return self.figure
        return self.ops / self.wall if kind == "rate" else self.wall * 1e6 / self.ops

    @property
    def disturbed(self) -> bool:
        """Whether other processes used more than :data:`DISTURBED_CORES` in this round."""
        if self.others_cpu is None:
            return False
        return self.others_cpu > DISTURBED_CORES * self.wall + _TICK_SLACK


@dataclass
class Result:
    """What a benchmark reports for one variant.

    Figures are medians over the undisturbed rounds (see :data:`DISTURBED_CORES`), or
    over all rounds when every one was disturbed: a round slowed by someone else's
    process measures that process, not the code under test.

    Attributes:
        bench: The benchmark's name (``"get"``).
        variant: A short label (``"SDK generations.get"``).
        kind: ``"rate"``, ``"time"`` or ``"count"`` (see :data:`Kind`).
        unit: Shown next to the median, e.g. ``"req/s"``, ``"µs/record"`` or ``"MiB"``.
        samples: One per measured round.
        sdk: ``True`` for the SDK's own variants (highlighted in the chart).
        baseline: The variant (same ``bench``) the ratio is taken against, if any.
        target: A goal this result is checked against.
        extra_targets: Further goals for the same result, e.g. a ratio to another
            baseline (see :attr:`Target.baseline`); :attr:`targets` lists them all.
        note: A remark listed under the report's notes.
        skipped: Why the variant was not measured (then ``samples`` is empty).
        pegged: The client should keep one core busy in this variant (a concurrent HTTP
            load). An undisturbed round where it did not means the variant itself waits
            on something (a pool limit, a lock, a sleep), and the report says so.
        timeless: The figure does not depend on real time (it is counted in virtual
            time, say), so other processes cannot disturb it: every round is used, and
            pairs of variants that share a round's input stay paired.
    """

    bench: str
    variant: str
    kind: Kind
    unit: str
    samples: list[Sample] = field(default_factory=list)
    sdk: bool = False
    baseline: str | None = None
    target: Target | None = None
    extra_targets: Sequence[Target] = ()
    note: str = ""
    skipped: str | None = None
    pegged: bool = False
    timeless: bool = False

    @property
    def used(self) -> list[Sample]:
        """The rounds the figures come from: the undisturbed ones, if there are any."""
        if self.timeless:
            return list(self.samples)
        quiet = [s for s in self.samples if not s.disturbed]
        return quiet or list(self.samples)

    @property
    def median(self) -> float | None:
        """Median over rounds of the rate, the time per operation, or the figure."""
        used = self.used
        return statistics.median(s.value(self.kind) for s in used) if used else None

    @property
    def cpu_us_per_op(self) -> float | None:
        """Median client CPU µs per operation."""
        used = self.used
        return statistics.median(s.cpu * 1e6 / s.ops for s in used) if used else None

    @property
    def client_cores(self) -> float | None:
        """Median client CPU seconds per wall second (1.0 = one core pegged)."""
        used = self.used
        return statistics.median(s.cpu / s.wall for s in used) if used else None

    @property
    def server_cores(self) -> float | None:
        """Server CPU seconds per wall second over the rounds, ``None`` without a server.

        Summed over rounds rather than a median per round: where /proc only counts CPU
        time in 10 ms ticks, a single short round is too coarse to read alone.
        """
        known = [s for s in self.used if s.server_cpu is not None]
        wall = sum(s.wall for s in known)
        return sum(s.server_cpu or 0.0 for s in known) / wall if known and wall else None

    @property
    def disturbed_rounds(self) -> int:
        """How many rounds other processes disturbed (all of them are reported anyway)."""
        return sum(1 for s in self.samples if s.disturbed)

    def idle_rounds(self, below: float = 0.9, shortest: float = 0.5) -> int:
        """Undisturbed rounds of a :attr:`pegged` variant with the client under ``below`` cores.

        Rounds shorter than ``shortest`` seconds are not judged: ramp-up and the last
        stragglers dominate them.
        """
        if not self.pegged:
            return 0
        return sum(
            1
            for s in self.samples
            if not s.disturbed and s.wall >= shortest and s.cpu / s.wall < below
        )

    @property
    def targets(self) -> list[Target]:
        """Every goal this result is checked against: :attr:`target`, then the extra ones."""
        return ([self.target] if self.target is not None else []) + list(self.extra_targets)

    def baseline_of(self, others: Sequence[Result], baseline: str | None = None) -> Result | None:
        """The result named ``baseline`` (default: :attr:`baseline`) in the same ``bench``."""
        name = baseline if baseline is not None else self.baseline
        if name is None:
            return None
        for other in others:
            if other.bench == self.bench and other.variant == name:
                return other
        return None

    def ratio(self, others: Sequence[Result], baseline: str | None = None) -> float | None:
        """Median of this variant over the median of its :attr:`baseline` (or ``baseline``).

        For rates, > 1 means this one is faster; for times and counts, > 1 means it is
        slower, or uses more.
        """
        other = self.baseline_of(others, baseline)
        if other is None or self.median is None:
            return None
        theirs = other.median
        return self.median / theirs if theirs else None

    def judge(self, target: Target, others: Sequence[Result]) -> tuple[float | None, bool | None]:
        """The figure ``target`` is judged on (a ratio or the median), and whether it is met.

        ``(None, None)`` when it was not measured.
        """
        if target.on == "ratio":
            figure = self.ratio(others, target.baseline)
        else:
            figure = self.median
        return figure, target.met(figure)


@dataclass(frozen=True)
class Measured:
    """What one round did, when it measured figures of its own (``"count"`` results).

    Attributes:
        ops: Operations done, as a plain ``run()`` would return (e.g. generations).
        value: The figure of the variant's own result, if its kind is ``"count"``.
        also: Figures for the variant's :attr:`Variant.also` results, by the same keys.
        helper_cpu: CPU seconds that child processes spent doing this round's client-side
            work (the harness only sees its own process's time): counted as client CPU.
    """

    ops: int
    value: float | None = None
    also: Mapping[str, float] = field(default_factory=dict)
    helper_cpu: float = 0.0


Operation = Callable[[], "Awaitable[int | Measured] | int | Measured"]


@dataclass(frozen=True)
class Variant:
    """One contender: ``run()`` does one round's work and returns how many operations.

    ``run`` may be a coroutine function (HTTP benchmarks) or a plain function (in-process
    ones). ``warmup`` runs once, unmeasured, before the rounds; it defaults to ``run``.

    A round that measures figures of its own returns a :class:`Measured` instead of a
    count: its ``value`` goes to :attr:`result` (kind ``"count"``), and each of its
    ``also`` figures to the result of :attr:`also` under the same key, so one round can
    fill several results (say, requests per generation and detection delay). Those
    results share the round's wall time, CPU and disturbance with :attr:`result`.
    """

    result: Result
    run: Operation
    warmup: Operation | None = None
    also: Mapping[str, Result] = field(default_factory=dict)


async def _call(operation: Operation) -> int | Measured:
    outcome = operation()
    if inspect.isawaitable(outcome):
        return await outcome
    return outcome


async def alternate(ctx: Context, variants: Sequence[Variant]) -> list[Result]:
    """Warm every variant up, then run them in turn for ``ctx.rounds`` rounds.

    Returns the variants' results, their samples filled in: each variant's
    :attr:`~Variant.result`, then its :attr:`~Variant.also` results.
    """
    for variant in variants:
        await _call(variant.warmup or variant.run)
    for round_number in range(1, ctx.rounds + 1):
        for variant in variants:
            # Garbage left by the previous variant must not be collected on this one's time.
            gc.collect()
            sample, measured = await _measure(ctx, variant.run)
            result = variant.result
            shown = [(result, _with_figure(sample, result, measured, None))]
            shown += [
                (other, _with_figure(sample, other, measured, key))
                for key, other in variant.also.items()
            ]
            for target, own in shown:
                target.samples.append(own)
            ctx.log(
                f"  [{result.bench}] round {round_number}/{ctx.rounds} {result.variant}: "
                + "; ".join(_show(own.value(r.kind), r.unit) for r, own in shown)
            )
    return [r for variant in variants for r in (variant.result, *variant.also.values())]


def _with_figure(
    sample: Sample, result: Result, measured: Measured | None, key: str | None
) -> Sample:
    """``sample`` with the figure ``result`` takes from ``measured`` (``key``: an also)."""
    if measured is None:
        if result.kind == "count" or key is not None:
            raise RuntimeError(
                f"{result.bench} / {result.variant}: a 'count' result needs its round to "
                "return Measured(...)"
            )
        return sample
    figure = measured.value if key is None else measured.also.get(key)
    if result.kind != "count":
        if key is not None:
            raise RuntimeError(f"{result.bench} / {result.variant}: an also result must be 'count'")
        return sample
    if figure is None:
        raise RuntimeError(
            f"{result.bench} / {result.variant}: the round measured no figure for it"
            + ("" if key is None else f" (key {key!r})")
        )
    return replace(sample, figure=figure)


async def _measure(ctx: Context, operation: Operation) -> tuple[Sample, Measured | None]:
    server = ctx.server
    server_before = server.cpu_seconds() if server is not None else None
    busy_before = machine_busy_seconds()
    cpu_before = time.process_time()
    wall_before = time.perf_counter()
    outcome = await _call(operation)
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    busy_after = machine_busy_seconds()
    server_after = server.cpu_seconds() if server is not None else None
    measured = outcome if isinstance(outcome, Measured) else None
    ops = outcome.ops if isinstance(outcome, Measured) else outcome
    cpu += measured.helper_cpu if measured is not None else 0.0
    if ops <= 0:
        raise RuntimeError("a benchmark variant reported no operations")
    server_cpu = _delta(server_before, server_after)
    busy = _delta(busy_before, busy_after)
    others = None if busy is None else max(0.0, busy - cpu - (server_cpu or 0.0))
    sample = Sample(wall=wall, cpu=cpu, server_cpu=server_cpu, ops=ops, others_cpu=others)
    return sample, measured


def _delta(before: float | None, after: float | None) -> float | None:
    return after - before if after is not None and before is not None else None


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_seconds() -> float | None:
    """CPU seconds the machine ran processes (or had stolen), from /proc/stat.

    ``None`` where there is no /proc. Counted in 10 ms ticks: fine for telling whether
    other processes took a noticeable share of a round, not for measuring the client.
    """
    try:
        with open("/proc/stat", "rb") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    # "cpu user nice system idle iowait irq softirq steal ...". Interrupt time is left out:
    # the benchmark's own loopback traffic shows up there, charged to no process.
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = map(int, fields[1:9])
    return (user + nice + system + steal) / _TICK


def _show(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.3g} {unit}"


async def drive(total: int, concurrency: int, operation: Callable[[], Awaitable[object]]) -> int:
    """Do ``operation`` ``total`` times with ``concurrency`` in flight; return the count.

    A fixed pool of workers, each awaiting its share in a bounded loop, is the cheapest
    way to keep ``concurrency`` requests in flight, and every variant pays the same for
    it, so it does not tilt a comparison.
    """
    concurrency = max(1, min(concurrency, total))
    share, extra = divmod(total, concurrency)

    async def worker(count: int) -> None:
        for _ in range(count):
            await operation()

    await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    return total
