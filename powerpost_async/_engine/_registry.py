"""The watch registry: every id awaited on a client, once, whoever awaits it. No I/O.

Each awaited id has one `Watch`: one future, resolved by whoever learns first that the
generation finished (its poller, the sweeper, a webhook fed in), and the `Holder` of
each call awaiting it. A call holds its ids from start to end and releases them in its
``finally``: whatever it registered (itself as a holder, its notifications) leaves with
it, so a wait that times out or is cancelled leaves nothing behind on an id that others
still await.

Watches are keyed by the id **as the caller asked for it**. A server may write an id
differently (say, lowercase for an id asked in uppercase): a GET's answer teaches the
registry that spelling as an *alias*, so list pages and webhook events that use it find
the watch too, and results are always filed under the id the caller knows.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from powerpost_async._models import Generation, GenerationSummary

from ._pacing import Pace

if TYPE_CHECKING:
    from powerpost_async._timing import Clock, Sleep
    from powerpost_async._transport import Response

    from ._kinds import JobKind

__all__ = ["Holder", "Registry", "Source", "Strategy", "Tools", "Watch"]

Strategy = Literal["auto", "poll", "sweep"]


class Source(Protocol):
    """What the waiting engine needs from the API (each job kind's resource gives it)."""

    async def fetch(self, job_id: str, *, deadline: float | None, patient: bool = True) -> Any:
        """GET one job. A *patient* call (a wait's) may be held back by the 429
        pause and the breaker until ``deadline``, not just ``max_retry_after``."""
        ...

    async def page(self, status: str, cursor: str | None) -> tuple[Response, Any]:
        """One raw page of the list of jobs in ``status`` (100 per page; only the
        kinds that sweep are asked)."""
        ...


@attrs.frozen
class Tools:
    """What a poller and the sweeper work with: narrow things, not the client.

    Attributes:
        source: The `Source` to read with for a watch (its callers' client's), or for
            the sweeper (``None``: the engine's own).
        clock: Monotonic clock.
        sleep: Async sleep.
        seen: Called with a job read by GET (resolves the watch if terminal).
        fail: Called to fail one watch with an error that asking again will not cure.
        kind: The kind of job.
        left: Called for a swept id that left the in-flight lists; ``True`` if that is
            all there was to do (awaited only for the fleet, whose members read it), so
            no GET is needed here.
        may_poll: Asked before each poll; ``False`` skips it (an id polled only for the
            fleet, by a leader whose lease may have lapsed).
    """

    source: Callable[[Watch | None], Source]
    clock: Clock
    sleep: Sleep
    seen: Callable[[Watch, Any], None]
    fail: Callable[[Watch, BaseException], None]
    kind: JobKind[Any]
    left: Callable[[Watch], bool] = lambda watch: False
    may_poll: Callable[[Watch], bool] = lambda watch: True


class Holder:
    """One call awaiting some ids, and how it wants them awaited."""

    __slots__ = (
        "changed",
        "deadline",
        "delegated",
        "error",
        "finished",
        "for_fleet",
        "interval",
        "joined",
        "max_interval",
        "owner",
        "source",
        "strategy",
    )

    def __init__(
        self,
        strategy: Strategy,
        interval: float,
        max_interval: float,
        deadline: float | None,
        *,
        finished: Callable[[Watch | None], None] | None = None,
        changed: Callable[[Watch], None] | None = None,
        delegated: bool = False,
        source: Source | None = None,
        owner: object = None,
        joined: float = 0.0,
        for_fleet: bool = False,
    ) -> None:
        self.strategy: Strategy = strategy
        #: Holds ids for other processes of the fleet (this one leads), not for a call.
        self.for_fleet = for_fleet
        #: The fleet's leader answers for its ids, not this process (never for "poll").
        self.delegated = delegated and strategy != "poll"
        self.interval = interval
        self.max_interval = max_interval
        self.deadline = deadline
        #: Called when one of its ids finishes (a result or an error), and with ``None``
        #: when the call itself must end (`stop`).
        self.finished = finished
        #: Called when the status last seen of one of its ids changes: progress reports.
        self.changed = changed
        #: Reads its ids for it: the client the call was made on (``None``: the engine's).
        self.source = source
        #: The client the call was made on (closing it ends the call).
        self.owner = owner
        #: When it joined (clock time).
        self.joined = joined
        #: Why the call must end now (its client closed), else ``None``.
        self.error: BaseException | None = None

    @property
    def sweeps_here(self) -> bool:
        """Whether this process's sweeper may answer for it."""
        return self.strategy != "poll" and not self.delegated

    def stop(self, error: BaseException) -> None:
        """End the call with ``error`` (its client closed): it raises it at once."""
        if self.error is None:
            self.error = error
            if self.finished is not None:
                self.finished(None)


class Watch:
    """One awaited id: its future, its holders, what was last seen of it."""

    __slots__ = (
        "_last",
        "confirming",
        "delegated",
        "forced_pollers",
        "future",
        "holders",
        "id",
        "kind",
        "listed_since",
        "misses",
        "next_check",
        "pace",
        "poller",
        "server_id",
        "stale_check",
        "stale_checks",
        "unfinished_at",
        "unreached_check",
        "unreached_checks",
    )

    def __init__(self, job_id: str, future: asyncio.Future[Any], kind: JobKind[Any]) -> None:
        self.id = job_id
        self.future = future
        self.kind = kind
        # An insertion-ordered set: 10,000 callers of one id come and go in O(1) each.
        self.holders: dict[Holder, None] = {}
        self.forced_pollers = 0  # holders with strategy="poll"
        self.delegated = 0  # holders whose waits the fleet's leader answers
        #: The fleet said it ended (`JobEnded`): read it here, whoever answers for it.
        self.confirming = False
        self._last: Any = None
        #: The task polling it, if any (one per id, however many hold it), and when it
        #: looks next.
        self.poller: asyncio.Task[None] | None = None
        self.pace = Pace()
        #: How often the sweeper found it absent from the in-flight lists yet still in
        #: flight, and when it may check it with a GET again (backed off).
        self.misses = 0
        self.next_check = 0.0
        #: When the in-flight lists first showed it (``None``: never): an id they show
        #: far longer than usual is checked with a GET now and then (a stale index):
        #: how often it was, and when it may be again.
        self.listed_since: float | None = None
        self.stale_checks = 0
        self.stale_check = 0.0
        #: Read after walks cut short (the ids they did not reach), backed off: how
        #: often, and when it may be again.
        self.unreached_checks = 0
        self.unreached_check = 0.0
        #: How the server spells this id, when it answered with another spelling.
        self.server_id: str | None = None
        #: When it was last seen in flight (clock time; ``None``: never).
        self.unfinished_at: float | None = None

    @property
    def done(self) -> bool:
        return self.future.done()

    @property
    def last(self) -> Any:
        """What was last seen of it (a full job, or a generation's list summary)."""
        return self._last

    def see(self, value: Any, now: float) -> None:
        """Record what was seen at ``now``; tell the holders if the status moved."""
        changed = self._last is None or value.status != self._last.status
        self._last = value
        if not self.kind.terminal(value):
            self.unfinished_at = now
        if changed:
            for holder in self.holders:
                if holder.changed is not None:
                    holder.changed(self)

    @property
    def last_status(self) -> Any:
        """The status last seen (the kind's status enum), or ``None``."""
        return None if self._last is None else self._last.status

    @property
    def last_generation(self) -> Generation | None:
        """What was last seen, as a Generation (a list summary has no outputs anyway);
        ``None`` for other kinds of jobs."""
        last = self._last
        if last is None or isinstance(last, Generation):
            return last
        if isinstance(last, GenerationSummary):
            return Generation(**attrs.asdict(last, recurse=False))
        return None

    @property
    def category(self) -> str:
        """Where this id counts in a WaitProgress."""
        future = self.future
        if future.done():
            if future.cancelled() or future.exception() is not None:
                return "failed"
            return self.kind.category(future.result())
        last = self._last
        return "unknown" if last is None else self.kind.phase(last)

    # -- what its holders want ----------------------------------------------------------

    @property
    def sweepable(self) -> bool:
        """Held by someone who lets this process's sweeper answer (not only by forced
        pollers, nor only by holders the fleet answers for)."""
        return len(self.holders) > self.forced_pollers + self.delegated

    @property
    def awaited_here(self) -> bool:
        """Held by a call of this process (not only for the fleet)."""
        return any(not holder.for_fleet for holder in self.holders)

    @property
    def poll_forced(self) -> bool:
        return self.forced_pollers > 0

    @property
    def interval(self) -> float:
        return min(h.interval for h in self.holders)

    @property
    def max_interval(self) -> float:
        return min(h.max_interval for h in self.holders)

    @property
    def deadline(self) -> float | None:
        """The latest deadline of its holders (``None`` if one of them has none)."""
        latest = -math.inf
        for holder in self.holders:
            if holder.deadline is None:
                return None
            latest = max(latest, holder.deadline)
        return latest


class Registry:
    """Every watch of one client, and the counts the strategy decisions read."""

    def __init__(self, kind: JobKind[Any]) -> None:
        self.kind = kind
        self._watches: dict[str, Watch] = {}
        # The server's spelling of an id -> the watches asked under other spellings.
        self._aliases: dict[str, dict[Watch, None]] = {}
        # Holders that let the sweeper answer, by interval: the sweep interval is the
        # shortest of the holders present now, not of every holder ever seen.
        self._sweep_intervals: Counter[float] = Counter()
        self._sweep_max_intervals: Counter[float] = Counter()
        #: Counts sweepable holders as they join: the sweeper looks sooner after one does.
        self.joined = 0
        self._sweepable = 0  # watches with a sweepable holder
        self._sweep_forced = 0  # holders with strategy="sweep"

    def __len__(self) -> int:
        return len(self._watches)

    def watches(self) -> list[Watch]:
        """Every watch, as a list (safe to change the registry while going through it)."""
        return list(self._watches.values())

    def find(self, server_id: str) -> list[Watch]:
        """Every watch of the generation the server calls ``server_id``: the one asked
        under that spelling, and those asked under others the server answered with it."""
        found: list[Watch] = []
        watch = self._watches.get(server_id)
        if watch is not None:
            found.append(watch)
        aliased = self._aliases.get(server_id)
        if aliased:
            found.extend(aliased)
        return found

    @property
    def sweepable(self) -> int:
        """Watches held by at least one holder that lets the sweeper answer."""
        return self._sweepable

    @property
    def sweep_forced(self) -> bool:
        return self._sweep_forced > 0

    @property
    def sweep_interval(self) -> float | None:
        """The shortest interval among the holders present that let the sweeper answer."""
        return min(self._sweep_intervals) if self._sweep_intervals else None

    @property
    def sweep_max_interval(self) -> float | None:
        """The shortest max_interval among those holders."""
        return min(self._sweep_max_intervals) if self._sweep_max_intervals else None

    def open_sweepable(self) -> dict[str, Watch]:
        """The unfinished watches the sweeper answers for."""
        return {i: w for i, w in self._watches.items() if not w.done and w.sweepable}

    # -- holding and releasing --------------------------------------------------------------

    def hold(self, holder: Holder, ids: Iterable[str], *, joining: bool = True) -> list[Watch]:
        """Register ``holder`` on each id (creating watches as needed).

        ``joining=False`` adds ids to a holder already registered (its settings are
        counted once, when it joins).
        """
        loop = asyncio.get_running_loop()
        watches: list[Watch] = []
        for generation_id in ids:
            watch = self._watches.get(generation_id)
            if watch is None:
                future = loop.create_future()
                watch = self._watches[generation_id] = Watch(generation_id, future, self.kind)
            was_sweepable = watch.sweepable
            watch.holders[holder] = None
            watch.forced_pollers += holder.strategy == "poll"
            watch.delegated += holder.delegated
            self._sweepable += watch.sweepable - was_sweepable
            watches.append(watch)
        if joining:
            self._count(holder, +1)
        return watches

    def _count(self, holder: Holder, sign: int) -> None:
        if not holder.sweeps_here:
            return
        for counts, key in (
            (self._sweep_intervals, holder.interval),
            (self._sweep_max_intervals, holder.max_interval),
        ):
            counts[key] += sign
            if counts[key] <= 0:
                del counts[key]
        if sign > 0:
            self.joined += 1
        if holder.strategy == "sweep":
            self._sweep_forced += sign

    def delegate(self, holder: Holder, watches: Iterable[Watch], delegated: bool) -> None:
        """Hand ``holder``'s ids to the fleet's leader, or take them back."""
        delegated = delegated and holder.strategy != "poll"
        if holder.delegated == delegated:
            return
        self._count(holder, -1)
        holder.delegated = delegated
        self._count(holder, +1)
        for watch in watches:
            if holder not in watch.holders:
                continue
            was_sweepable = watch.sweepable
            watch.delegated += 1 if delegated else -1
            self._sweepable += watch.sweepable - was_sweepable

    def release(
        self, holder: Holder, watches: Iterable[Watch], *, leaving: bool = True
    ) -> list[Watch]:
        """Unregister ``holder`` from ``watches``; returns those nobody holds any more
        (removed). ``leaving=False`` keeps the holder registered for its other ids."""
        gone: list[Watch] = []
        for watch in watches:
            was_sweepable = watch.sweepable
            if watch.holders.pop(holder, False) is False:
                continue  # not held by it (released twice)
            watch.forced_pollers -= holder.strategy == "poll"
            watch.delegated -= holder.delegated
            self._sweepable += watch.sweepable - was_sweepable
            if not watch.holders and self._watches.get(watch.id) is watch:
                del self._watches[watch.id]
                if watch.server_id is not None:
                    aliased = self._aliases.get(watch.server_id)
                    if aliased is not None:
                        aliased.pop(watch, None)
                        if not aliased:
                            del self._aliases[watch.server_id]
                gone.append(watch)
        if leaving:
            self._count(holder, -1)
        return gone

    def learn_spelling(self, watch: Watch, server_id: str) -> None:
        """The server writes ``watch.id`` as ``server_id``: find the watch by it too."""
        if (
            server_id != watch.id
            and watch.server_id is None
            and self._watches.get(watch.id) is watch
        ):
            watch.server_id = server_id
            self._aliases.setdefault(server_id, {})[watch] = None
