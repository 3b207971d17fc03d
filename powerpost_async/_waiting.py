"""Awaiting generations at scale: the engine behind ``wait``, ``wait_many``,
``as_completed`` and ``feed``.

Every id being awaited on a client is registered once, in one `Registry`, as a
`Watch` holding a future (``_registry.py``). Each waiting call is a `Holder` of its ids
and awaits their futures against its own deadline; it never does the asking itself.
Who asks:

* **a poller** per id (``_poller.py``), however many callers await it, while few ids
  are awaited or a caller forces ``strategy="poll"``;
* **the sweeper** (``_sweeper.py``), one task per client, once `SWEEP_THRESHOLD` ids are
  awaited (or a caller forces ``strategy="sweep"``): pollers of ids that nobody forces
  to poll then stop, and the sweeper answers;
* **a webhook** fed in (`Engine.feed`).

Whoever learns first resolves the future, and every caller awaiting that id wakes. The
engine needs only narrow things: a `Source` of generations and list pages, a clock and
a sleep; the client gives them.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Final, TypeAlias

import attrs

from ._checks import check_timeout
from ._exceptions import APIStatusError, PowerPostError, WaitTimeoutError
from ._fleet import Coordinator
from ._http import path_segment
from ._jobs import GENERATIONS, JobKind
from ._models import CreatedGeneration, Generation, GenerationSummary
from ._pacing import first_look
from ._policy import is_transient, poll_backoff
from ._poller import poll
from ._registry import Holder, Registry, Source, Strategy, Tools, Watch
from ._sweeper import Sweeper
from ._telemetry import Telemetry
from ._timing import Clock, Sleep, sleep_until_done

__all__ = [
    "FEED_TIMEOUT",
    "SWEEP_THRESHOLD",
    "Engine",
    "GenerationRef",
    "ProgressCallback",
    "Strategy",
    "WaitProgress",
    "distinct_ids",
    "generation_id_of",
]

#: What the waiting methods accept as "a generation": its id, or an object carrying one.
GenerationRef: TypeAlias = str | CreatedGeneration | Generation | GenerationSummary

#: With ``strategy="auto"``, sweeping starts once this many ids are awaited on the client.
SWEEP_THRESHOLD: Final = 4
#: Seconds a webhook's hint (``feed``) may spend reading the job, by default: a webhook
#: receiver must answer within 10 s, and polling or sweeping still finds the job.
FEED_TIMEOUT: Final = 5.0


@attrs.frozen
class WaitProgress:
    """How far a multi-id wait has got, passed to ``on_progress`` callbacks.

    Attributes:
        total: Distinct ids awaited by this call.
        pending: Last seen ``pending``.
        processing: Last seen ``processing``.
        completed: Finished ``completed``.
        failed: Finished ``failed``, or ended in an error for that id (e.g. not found).
        unknown: Not seen yet.
    """

    total: int
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    unknown: int = 0

    @property
    def done(self) -> int:
        """Ids that will not change any more (completed + failed)."""
        return self.completed + self.failed


ProgressCallback = Callable[[WaitProgress], object]


def generation_id_of(ref: object, kind: JobKind[Any] = GENERATIONS) -> str:
    """The id of a job reference (an id, or an object of the kind carrying one),
    checked the way ``get`` checks ids."""
    if isinstance(ref, kind.refs):
        ref = kind.id_of(ref)
    path_segment(ref, kind.id_field)  # same rules as every id: refuse what could alter a URL
    return ref  # type: ignore[return-value]


def distinct_ids(
    refs: Iterable[object], kind: JobKind[Any] = GENERATIONS
) -> tuple[list[str], list[str]]:
    """(every id in input order, the distinct ids in first-seen order); all checked first."""
    if isinstance(refs, (str, bytes)):
        raise TypeError(f"pass a list of {kind.noun} ids, not a single string")
    ids = [generation_id_of(ref, kind) for ref in refs]
    return ids, list(dict.fromkeys(ids))


class _Deadline(Exception):
    """Internal: a wait's deadline passed (turned into WaitTimeoutError by the caller)."""


class Engine:
    """Every wait of one client on one kind of job: the registry, the pollers, the
    sweeper (for the kinds that have a list to sweep), the fleet.

    Args:
        source: Reads jobs and list pages for the engine's own work (the sweeper, the
            fleet's lead); each waiting call brings its own for its ids, which polls
            and webhooks of those ids read with.
        clock: Monotonic clock.
        sleep: Async sleep.
        workspace_id: The client's workspace (webhook events of others are ignored).
        coordinator: Shares the waiting with other processes (``None``: on its own).
        join: Joins the coordinator's fleet (once), before the first wait.
        telemetry: Spans and metrics of the waits (``None``: OpenTelemetry is absent).
        kind: The kind of job awaited (caption generations unless said).
        idle: Called when the engine holds nothing and runs nothing (it may be dropped).
    """

    def __init__(
        self,
        source: Source,
        *,
        clock: Clock,
        sleep: Sleep,
        workspace_id: str | None,
        coordinator: Coordinator | None = None,
        join: Callable[[], Awaitable[None]] | None = None,
        telemetry: Telemetry | None = None,
        kind: JobKind[Any] = GENERATIONS,
        idle: Callable[[Engine], None] | None = None,
    ) -> None:
        self.kind = kind
        self._source = source
        self._telemetry = telemetry
        self._clock = clock
        self._sleep = sleep
        self._workspace_id = workspace_id
        self._idle = idle
        self._registry = Registry(kind)
        self._tools = Tools(self._source_for, clock, sleep, self._seen, self._fail, kind)
        # Only a kind with a list endpoint is swept; the others are polled per id.
        self._sweeper = (
            Sweeper(self._registry, self._tools, may_act=self._may_sweep) if kind.sweeps else None
        )
        self._pollers: set[asyncio.Task[None]] = set()
        self._side_tasks: set[asyncio.Task[Any]] = set()  # stopped sweepers, fed hints
        self._closed = False
        # The fleet: every waiting call's holder (to hand its ids over and take them
        # back as the coordinator comes and goes), and the holder of the ids this
        # process answers for while it leads.
        self._coordinator = coordinator
        self._join = join
        self._fleet_active = False
        self._holders: dict[Holder, list[Watch]] = {}
        self._lead: Holder | None = None
        self._lead_watches: dict[str, Watch] = {}

    @property
    def workspace_id(self) -> str | None:
        return self._workspace_id

    @property
    def busy(self) -> bool:
        """Whether it holds or runs anything (an idle engine costs nothing to drop)."""
        return bool(
            self._holders
            or self._lead is not None
            or len(self._registry)
            or self._pollers
            or self._side_tasks
            or (self._sweeper is not None and self._sweeper.running)
        )

    def _source_for(self, watch: Watch | None) -> Source:
        """The source to read ``watch`` with: that of the first of its callers that
        brought one (a wait uses the settings of the client it was called on)."""
        if watch is not None:
            for holder in watch.holders:
                if holder.source is not None:
                    return holder.source
        return self._source

    # -- holding ids ------------------------------------------------------------------------

    def _holder(
        self,
        strategy: Strategy,
        interval: float,
        max_interval: float,
        deadline: float | None,
        source: Source | None,
        owner: object,
        **callbacks: Any,
    ) -> Holder:
        """A holder for a waiting call: delegated to the fleet while it can be reached."""
        return Holder(
            strategy,
            interval,
            max_interval,
            deadline,
            delegated=self._fleet_active,
            source=source,
            owner=owner,
            joined=self._clock(),
            **callbacks,
        )

    def _hold(self, holder: Holder, ids: Iterable[str]) -> list[Watch]:
        if self._closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        watches = self._registry.hold(holder, ids)
        self._holders[holder] = watches
        if self._telemetry is not None:
            self._telemetry.waiting(len(watches))
        if holder.delegated and self._coordinator is not None:
            self._coordinator.hold(self._deadlines(holder, watches))
        self._arrange(watches)
        self._joined(holder, watches)
        return watches

    def _joined(self, holder: Holder, watches: list[Watch]) -> None:
        """A caller joined: whatever looks at its ids plans its first look now, as it
        would look alone (`first_look`), and starts its backoff over."""
        now = self._clock()
        interval, deadline = holder.interval, holder.deadline
        for watch in watches:
            if watch.done:
                continue
            pace = watch.pace
            if watch.poller is not None:
                pace.restart()
                pace.bring_forward(first_look(now, pace.last, interval, deadline))
        sweeper = self._sweeper
        if sweeper is not None and sweeper.running and holder.sweeps_here:
            sweeper.joined(first_look(now, sweeper.pace.last, interval, deadline))

    def _deadlines(self, holder: Holder, watches: list[Watch]) -> dict[str, float | None]:
        left = None if holder.deadline is None else max(0.0, holder.deadline - self._clock())
        fleet_id = self.kind.fleet_id
        return {fleet_id(watch.id): left for watch in watches if not watch.done}

    @property
    def _sweeping(self) -> bool:
        return self._sweeper is not None and self._sweeper.running

    def _arrange(self, watches: Iterable[Watch]) -> None:
        """Start the sweeper or pollers these watches now need; stop what is not needed."""
        registry = self._registry
        sweeper = self._sweeper
        if (
            sweeper is not None
            and not sweeper.running
            and (registry.sweepable >= SWEEP_THRESHOLD or registry.sweep_forced)
        ):
            sweeper.start()
            for watch in registry.watches():  # the sweeper answers for these now
                if watch.poller is not None and not watch.poll_forced:
                    watch.poller.cancel()
        for watch in watches:
            needed = not watch.done and self._needs_poller(watch)
            # A poller that has returned is over even before its done callback ran.
            polling = watch.poller is not None and not watch.poller.done()
            if needed and not polling:
                self._start_poller(watch)
            elif not needed and polling:
                watch.poller.cancel()  # type: ignore[union-attr]

    def _needs_poller(self, watch: Watch) -> bool:
        return watch.poll_forced or (watch.sweepable and not self._sweeping)

    def _start_poller(self, watch: Watch) -> None:
        task = asyncio.get_running_loop().create_task(
            poll(watch, self._tools),
            name=f"powerpost-poll-{watch.id}",
        )
        watch.poller = task
        self._pollers.add(task)

        def ended(_: asyncio.Task[None]) -> None:
            self._pollers.discard(task)
            if watch.poller is task:
                watch.poller = None
            self._maybe_idle()

        task.add_done_callback(ended)

    async def _release(self, holder: Holder, watches: list[Watch]) -> None:
        """Unregister ``holder``; stop whatever nobody needs any more, and wait for it."""
        if self._holders.pop(holder, None) is not None and self._telemetry is not None:
            self._telemetry.waiting(-len(watches))
        delegated = holder.delegated
        gone = self._registry.release(holder, watches)
        if delegated and self._coordinator is not None:
            # Withdraw from the fleet the ids no other caller here hands over.
            fleet_id = self.kind.fleet_id
            unheld = [fleet_id(w.id) for w in watches if not w.holders or not w.delegated]
            if unheld:
                self._coordinator.release(unheld)
        stopping = self._stop_unneeded(gone, watches)
        self._left(watches)
        if stopping:
            await asyncio.wait(stopping)
        self._maybe_idle()

    def _left(self, watches: list[Watch]) -> None:
        """A caller left: the loops looking at its ids replan for the callers that remain
        (a hurried caller leaving slows them down again; a deadline leaving shortens)."""
        now = self._clock()
        for watch in watches:
            if watch.holders and watch.poller is not None and not watch.done:
                pace = watch.pace
                if pace.last is not None:
                    backoff = poll_backoff(watch.interval, watch.max_interval)
                    pace.replan(max(now, pace.last + backoff.base(max(0, pace.quiet - 1))))
                else:
                    pace.wake()  # its deadline may have changed
        if self._sweeper is not None:
            self._sweeper.pace.wake()

    def _maybe_idle(self) -> None:
        if self._idle is not None and not self._closed and not self.busy:
            self._idle(self)

    def _stop_unneeded(self, gone: list[Watch], watches: list[Watch]) -> list[asyncio.Task[None]]:
        """Cancel what the watches nobody holds, or holds differently now, do not need."""
        stopping: list[asyncio.Task[None]] = []
        for watch in gone:
            if not watch.future.done():
                watch.future.cancel()
            if watch.poller is not None:
                watch.poller.cancel()
                stopping.append(watch.poller)
        if len(gone) < len(watches):
            for watch in watches:
                if watch.holders and watch.poller is not None and not self._needs_poller(watch):
                    watch.poller.cancel()
                    stopping.append(watch.poller)
        if not self._registry.sweepable and self._sweeper is not None:
            sweeper = self._sweeper.stop()
            if sweeper is not None:
                stopping.append(sweeper)
        return stopping

    def _keep(self, tasks: Iterable[asyncio.Task[Any]]) -> None:
        """Tasks stopped from a callback, which cannot wait for them: `aclose` will."""
        for task in tasks:
            if not task.done():
                self._side_tasks.add(task)
                task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task[Any]) -> None:
        self._side_tasks.discard(task)
        self._maybe_idle()

    def stop_owner(self, owner: object, error: BaseException) -> None:
        """End every call made on ``owner`` (a client copy being closed) with ``error``."""
        for holder in list(self._holders):
            if holder.owner is owner:
                holder.stop(error)

    # -- the fleet (what the coordinator tells this client) --------------------------------

    def connection_changed(self, connected: bool) -> None:
        """Hand every wait to the fleet when it can be reached; take them back if not."""
        if self._coordinator is None or connected == self._fleet_active or self._closed:
            return
        self._fleet_active = connected
        if not connected:
            self.lead(())
        handed: dict[str, float | None] = {}
        for holder, watches in list(self._holders.items()):
            self._registry.delegate(holder, watches, connected)
            if holder.delegated:
                for generation_id, left in self._deadlines(holder, watches).items():
                    known = handed.get(generation_id, 0.0)
                    handed[generation_id] = (
                        None if left is None or known is None else max(left, known)
                    )
        if handed:
            self._coordinator.hold(handed)
        watches = self._registry.watches()
        self._arrange(watches)
        self._keep(self._stop_unneeded([], watches))

    def lead(self, generation_ids: Collection[str]) -> None:
        """Answer for these ids, awaited somewhere in the fleet (empty: stop leading)."""
        if self._closed:
            return
        wanted = set(generation_ids)
        holder = self._lead
        if holder is None:
            if not wanted:
                return
            kind = self.kind
            holder = self._lead = Holder(
                "auto", kind.interval, kind.max_interval, None, joined=self._clock()
            )
            joining = True
        else:
            joining = False
        gone_ids = [i for i in self._lead_watches if i not in wanted]
        new_ids = [i for i in wanted if i not in self._lead_watches]
        taken: list[Watch] = []
        if new_ids:
            taken = self._registry.hold(holder, new_ids, joining=joining)
            for watch in taken:
                self._lead_watches[watch.id] = watch
        stopping: list[asyncio.Task[None]] = []
        if gone_ids:
            leaving = not wanted
            dropped = [self._lead_watches.pop(i) for i in gone_ids]
            gone = self._registry.release(holder, dropped, leaving=leaving)
            stopping = self._stop_unneeded(gone, dropped)
            if leaving:
                self._lead = None
        self._arrange(self._lead_watches.values())
        if taken:
            # Ids taken on for the fleet are callers joining, as they would be here.
            self._joined(holder, taken)
        self._keep(stopping)
        if not wanted:
            self._maybe_idle()

    def delivered(self, outcomes: Mapping[str, Any]) -> None:
        """Outcomes another process learnt: resolve the waits here (not announced again)."""
        for job_id, outcome in outcomes.items():
            for watch in self._registry.find(job_id):
                if isinstance(outcome, BaseException):
                    self._finish(watch, outcome, announce=False)
                else:
                    self._seen(watch, outcome, announce=False)

    def fed(self, generation_id: str) -> None:
        """The leader got a webhook's hint from another process: read it, announce it."""
        if self._closed or not self._registry.find(generation_id):
            return
        self._keep([asyncio.get_running_loop().create_task(self.feed(generation_id, None))])

    def _may_sweep(self) -> bool:
        # A fence: a leader paused past its lease must not sweep on it.
        coordinator = self._coordinator
        if coordinator is None or self._lead is None or not self._fleet_active:
            return True
        return coordinator.may_lead()

    # -- resolution -------------------------------------------------------------------------

    def _seen(self, watch: Watch, job: Any, *, announce: bool = True) -> None:
        """A GET of ``watch.id`` answered ``job``: record it, resolve if terminal.

        Callers who asked for the same job under another spelling (the server
        canonicalises ids) learn it at the same time; with a fleet, so do the other
        processes (unless it came from them: ``announce=False``).
        """
        kind = self.kind
        server_id = kind.id_of(job)
        if server_id != watch.id:
            self._registry.learn_spelling(watch, server_id)
        same = self._registry.find(server_id)
        if watch not in same:
            same.append(watch)
        now = self._clock()
        terminal = kind.terminal(job)
        for each in same:
            each.see(job, now)
            if terminal:
                self._finish(each, job, announce=announce)

    def _fail(self, watch: Watch, error: BaseException) -> None:
        self._finish(watch, error)

    def _finish(self, watch: Watch, outcome: Any, *, announce: bool = True) -> None:
        future = watch.future
        if future.done():
            return
        failed = isinstance(outcome, BaseException)
        if not failed:
            if self._telemetry is not None and watch.unfinished_at is not None:
                self._telemetry.detected(max(0.0, self._clock() - watch.unfinished_at))
            future.set_result(outcome)
        else:
            future.set_exception(outcome)
            future.exception()  # mark retrieved: no "never retrieved" if nobody awaits
        final = not failed or (isinstance(outcome, APIStatusError) and not is_transient(outcome))
        if announce and final and self._fleet_active and self._coordinator is not None:
            self._coordinator.publish({self.kind.fleet_id(watch.id): outcome})  # pyright: ignore[reportArgumentType]
        poller = watch.poller
        if poller is not None and poller is not asyncio.current_task():
            poller.cancel()  # answered another way: its polling is over
        for holder in list(watch.holders):
            if holder.finished is not None:
                holder.finished(watch)

    async def feed(
        self, generation_id: str, workspace_id: str | None, timeout: float | None = FEED_TIMEOUT
    ) -> bool:
        """A webhook says job ``generation_id`` finished: re-read it and wake its waits.

        The event is only a hint: what waits receive always comes from the API. The GET
        gets ``timeout`` seconds, retries and pauses included (a webhook receiver must
        answer quickly; if the API is slow, polling or sweeping still finds the job).
        Returns whether the id was awaited.
        """
        if workspace_id is not None and workspace_id != self._workspace_id:
            return False  # another workspace's event: not ours to act on
        deadline = None if timeout is None else self._clock() + timeout
        if self._join is not None:
            await self._join()
        watches = [w for w in self._registry.find(generation_id) if not w.done]
        if not watches:
            if self._fleet_active and self._coordinator is not None:
                # The leader may await it for others.
                self._coordinator.feed(self.kind.fleet_id(generation_id))
            return False
        watch = watches[0]
        try:
            job = await self._source_for(watch).fetch(watch.id, deadline=deadline, patient=False)
        except Exception as error:  # cancellation propagates
            if not is_transient(error):
                self._fail(watch, error)
            return True  # transient: polling or sweeping will still find it
        self._seen(watch, job)
        return True

    async def aclose(self) -> None:
        """Fail whatever is still awaited and stop every task (the client is closing).

        Safe to call again, and to call again after a cancelled call: each call does
        what is left (the waits are failed first, so none is left hanging).
        """
        self._closed = True
        error = PowerPostError("the PowerPost client was closed while this wait was running")
        for watch in self._registry.watches():
            self._finish(watch, error)
        for holder in list(self._holders):
            holder.stop(error)
        tasks = [t for t in (*self._pollers, *self._side_tasks) if not t.done()]
        for task in tasks:
            task.cancel()
        sweeper = self._sweeper.stop() if self._sweeper is not None else None
        if sweeper is not None:
            tasks.append(sweeper)
        if tasks:
            await asyncio.wait(tasks)

    # -- waiting ----------------------------------------------------------------------------

    async def _until(self, future: asyncio.Future[Any], deadline: float | None) -> None:
        """Wait for ``future`` until ``deadline`` on the clock; raise _Deadline after."""
        while not future.done():
            if deadline is None:
                await asyncio.wait({future})
                return
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise _Deadline()
            await sleep_until_done(future, remaining, self._sleep)

    async def wait(
        self,
        ref: object,
        *,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        source: Source | None = None,
        owner: object = None,
    ) -> Any:
        telemetry = self._telemetry
        if telemetry is None:
            return await self._wait(ref, timeout, interval, max_interval, strategy, source, owner)
        span = telemetry.start_wait("wait", 1)
        try:
            job = await self._wait(ref, timeout, interval, max_interval, strategy, source, owner)
        except BaseException as error:
            telemetry.end_wait(span, error)
            raise
        telemetry.end_wait(span, None)
        return job

    async def _wait(
        self,
        ref: object,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        source: Source | None,
        owner: object,
    ) -> Any:
        kind = self.kind
        job_id = generation_id_of(ref, kind)
        timeout = check_wait_args(timeout, interval, max_interval, strategy, kind)
        if self._join is not None:
            await self._join()
        deadline = None if timeout is None else self._clock() + timeout
        woken = asyncio.get_running_loop().create_future()

        def wake(_: Watch | None) -> None:
            if not woken.done():
                woken.set_result(None)

        holder = self._holder(
            strategy, interval, max_interval, deadline, source, owner, finished=wake
        )
        watches = self._hold(holder, [job_id])
        watch = watches[0]
        try:
            if not watch.done:
                await self._until(woken, deadline)
            if holder.error is not None:
                raise holder.error
            job = watch.future.result()
        except _Deadline:
            raise WaitTimeoutError(
                f"{kind.noun} {job_id} did not finish within {timeout} s "
                f"(last seen: {watch.last_status or 'never'})",
                timeout=timeout or 0.0,
                pending_ids=[job_id],
                generation=watch.last_generation,
                last_seen=watch.last,
            ) from None
        finally:
            await self._release(holder, watches)
        failure = kind.failure(job)
        if failure is not None:
            raise failure
        return job

    def as_completed(
        self,
        refs: Iterable[object],
        *,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        on_progress: ProgressCallback | None,
        source: Source | None = None,
        owner: object = None,
    ) -> AsyncGenerator[Any, None]:
        _, ids = distinct_ids(refs, self.kind)
        timeout = check_wait_args(timeout, interval, max_interval, strategy, self.kind)
        holder = Holder(strategy, interval, max_interval, None, source=source, owner=owner)
        return self._yield_generations(
            self._outcomes(ids, timeout, holder, on_progress, "as_completed")
        )

    @staticmethod
    async def _yield_generations(
        outcomes: AsyncGenerator[tuple[str, Any], None],
    ) -> AsyncGenerator[Any, None]:
        # Per-id errors (an unknown id) must not hold the others back: they are raised
        # once every other id has been yielded (or carried by the WaitTimeoutError).
        errors: list[Exception] = []
        try:
            async for _, outcome in outcomes:
                if isinstance(outcome, Exception):
                    errors.append(outcome)
                else:
                    yield outcome
        finally:
            await outcomes.aclose()
        if errors:
            raise errors[0]

    async def wait_many(
        self,
        refs: Iterable[object],
        *,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        on_progress: ProgressCallback | None,
        return_exceptions: bool,
        source: Source | None = None,
        owner: object = None,
    ) -> list[Any]:
        ids, distinct = distinct_ids(refs, self.kind)
        timeout = check_wait_args(timeout, interval, max_interval, strategy, self.kind)
        holder = Holder(strategy, interval, max_interval, None, source=source, owner=owner)
        results: dict[str, Any] = {}
        outcomes = self._outcomes(distinct, timeout, holder, on_progress, "wait_many")
        try:
            async for generation_id, outcome in outcomes:
                results[generation_id] = outcome
        finally:
            await outcomes.aclose()
        if not return_exceptions:
            for generation_id in ids:  # the first failing id in input order
                outcome = results[generation_id]
                if isinstance(outcome, Exception):
                    raise outcome
        return [results[i] for i in ids]

    def _outcomes(
        self,
        ids: list[str],
        timeout: float | None,
        wanted: Holder,
        on_progress: ProgressCallback | None,
        name: str,
    ) -> AsyncGenerator[tuple[str, Any], None]:
        """Yield ``(id, terminal job or per-id error)`` as each id finishes.

        ``wanted`` carries the call's settings; the holder registered is made from it
        when the generator starts (its deadline counts from then).
        """
        outcomes = self._outcomes_of(ids, timeout, wanted, on_progress)
        if self._telemetry is None or not ids:
            return outcomes  # no extra generator on the way of every result
        return self._traced_outcomes(outcomes, name, len(ids))

    async def _traced_outcomes(
        self,
        inner: AsyncGenerator[tuple[str, Any], None],
        name: str,
        count: int,
    ) -> AsyncGenerator[tuple[str, Any], None]:
        """``inner`` in a wait span. Not the current span: it lives across yields, and
        the requests that answer it are shared with other waits anyway."""
        telemetry = self._telemetry
        assert telemetry is not None
        span = telemetry.start_wait(name, count)
        failure: BaseException | None = None
        try:
            async for item in inner:
                yield item
        except BaseException as error:
            failure = error
            raise
        finally:
            await inner.aclose()
            telemetry.end_wait(span, failure)

    async def _outcomes_of(
        self,
        ids: list[str],
        timeout: float | None,
        wanted: Holder,
        on_progress: ProgressCallback | None,
    ) -> AsyncGenerator[tuple[str, Any], None]:
        if not ids:
            return
        if self._join is not None:
            await self._join()
        deadline = None if timeout is None else self._clock() + timeout
        finished: deque[Watch] = deque()
        wake: list[asyncio.Future[None] | None] = [None]
        progress = _Progress(on_progress)

        def on_finished(watch: Watch | None) -> None:
            if watch is not None:  # None: the call must end (holder.error)
                finished.append(watch)
                progress.changed(watch)
            waiter = wake[0]
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        holder = self._holder(
            wanted.strategy,
            wanted.interval,
            wanted.max_interval,
            deadline,
            wanted.source,
            wanted.owner,
            finished=on_finished,
            changed=progress.changed if on_progress is not None else None,
        )
        watches = self._hold(holder, ids)
        results: dict[str, Any] = {}
        errors: dict[str, Exception] = {}
        try:
            progress.observe(watches)
            for watch in watches:  # already answered for another caller: ours too
                if watch.done:
                    finished.append(watch)
            progress.report()
            for remaining in range(len(watches) - 1, -1, -1):
                while not finished:
                    if holder.error is not None:
                        raise holder.error
                    if deadline is not None and self._clock() >= deadline:
                        raise _Deadline()
                    waiter = wake[0] = asyncio.get_running_loop().create_future()
                    try:
                        left = math.inf if deadline is None else deadline - self._clock()
                        await sleep_until_done(waiter, left, self._sleep)
                    finally:
                        wake[0] = None
                watch = finished.popleft()
                outcome = _outcome(watch)
                if isinstance(outcome, Exception):
                    errors[watch.id] = outcome
                else:
                    results[watch.id] = outcome
                if not remaining:
                    progress.report()  # the final count, before the last result
                yield watch.id, outcome
        except _Deadline:
            pending = [w.id for w in watches if w.id not in results and w.id not in errors]
            message = (
                f"{len(pending)} of {len(watches)} {self.kind.plural} did not finish within "
                f"{timeout} s: " + ", ".join(pending[:10]) + (", ..." if len(pending) > 10 else "")
            )
            if errors:
                first = next(iter(errors.items()))
                message += (
                    f"; {len(errors)} ended in an error, e.g. {first[0]}: {type(first[1]).__name__}"
                )
            raise WaitTimeoutError(
                message,
                timeout=timeout or 0.0,
                pending_ids=pending,
                finished=results,
                errors=errors,
            ) from None
        finally:
            progress.close()
            await self._release(holder, watches)


def _outcome(watch: Watch) -> Any:
    future = watch.future
    if future.cancelled():
        return PowerPostError(f"the wait for {watch.id} was cancelled")
    error = future.exception()
    if error is not None:
        if not isinstance(error, Exception):
            raise error
        return error
    return future.result()


class _Progress:
    """Counts of one multi-id wait, kept up to date id by id, reported once per loop pass.

    Recounting every id on every change would cost O(n) per change, O(n²) per wait:
    only the ids that changed are recounted, and changes within one pass of the event
    loop (a sweep tick resolves many ids at once) make one report.
    """

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._category: dict[Watch, str] = {}
        categories = ("pending", "processing", "completed", "failed", "unknown")
        self._counts: dict[str, int] = dict.fromkeys(categories, 0)
        self._dirty: set[Watch] = set()
        self._scheduled: asyncio.Handle | None = None
        self._last: WaitProgress | None = None

    def observe(self, watches: list[Watch]) -> None:
        if self._callback is None:
            return
        for watch in watches:
            category = watch.category
            self._category[watch] = category
            self._counts[category] += 1

    def changed(self, watch: Watch) -> None:
        if self._callback is None or watch not in self._category:
            return
        self._dirty.add(watch)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.report)

    def report(self) -> None:
        """Recount what changed and call back if the counts moved."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._callback is None:
            return
        for watch in self._dirty:
            category = watch.category
            before = self._category[watch]
            if category != before:
                self._counts[before] -= 1
                self._counts[category] += 1
                self._category[watch] = category
        self._dirty.clear()
        progress = WaitProgress(total=len(self._category), **self._counts)
        if progress != self._last:
            self._last = progress
            self._callback(progress)

    def close(self) -> None:
        """Stop reporting (the wait is over)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._callback = None
        self._dirty.clear()


def check_wait_args(
    timeout: float | None,
    interval: float,
    max_interval: float,
    strategy: str,
    kind: JobKind[Any] = GENERATIONS,
) -> float | None:
    """Refuse unusable wait arguments, naming the problem; returns the timeout (``inf``
    read as ``None``, no deadline)."""
    timeout = check_timeout(timeout)
    if isinstance(interval, bool) or not 0 < interval < math.inf:
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    if isinstance(max_interval, bool) or not interval <= max_interval < math.inf:
        raise ValueError(
            f"max_interval must be a finite number >= interval ({interval}), got {max_interval!r}"
        )
    if strategy not in ("auto", "poll", "sweep"):
        raise ValueError(f"strategy must be 'auto', 'poll' or 'sweep', got {strategy!r}")
    if strategy == "sweep" and not kind.sweeps:
        raise ValueError(
            f"strategy='sweep' needs a list to sweep, and the API lists no {kind.plural}: "
            "use 'auto' or 'poll'"
        )
    return timeout
