"""The core of the waiting engine: every awaited id of one client, one kind of job and
one workspace, and who looks at it.

Every id being awaited is registered once, in one `Registry`, as a `Watch` holding a
future (``_registry.py``). Each waiting call is a `Holder` of its ids and awaits their
futures against its own deadline (``_engine.py``); it never does the asking itself.
Who asks:

* **a poller** per id (``_poller.py``), however many callers await it, while few ids
  are awaited or a caller forces ``strategy="poll"``;
* **the sweeper** (``_sweeper.py``), one task per engine, once `SWEEP_THRESHOLD` ids are
  awaited (or a caller forces ``strategy="sweep"``): pollers of ids that nobody forces
  to poll then stop, and the sweeper answers;
* **a webhook** fed in (`EngineCore.feed`);
* **another process of the fleet** (`delivered`), or this one for the fleet (`lead`).

When each looks next is the `Pace`'s to say (``_pacing.py``): callers joining and
leaving change it, and the loop sleeping for it wakes. Whoever learns first resolves
the future, and every caller awaiting that id wakes. The engine needs only narrow
things: `Source`s of jobs and list pages, a clock and a sleep; the client gives them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Final

from powerpost_async._exceptions import APIStatusError, PowerPostError
from powerpost_async._fleet import Coordinator, JobEnded
from powerpost_async._policy import about_the_client, is_transient, poll_backoff
from powerpost_async._telemetry import Telemetry
from powerpost_async._timing import Clock, Sleep

from ._kinds import GENERATIONS, JobKind
from ._pacing import first_look
from ._poller import poll
from ._registry import Holder, Registry, Source, Strategy, Tools, Watch
from ._sweeper import Sweeper

__all__ = ["FEED_TIMEOUT", "SWEEP_THRESHOLD", "EngineCore"]

#: With ``strategy="auto"``, sweeping starts once this many ids are awaited on the client.
SWEEP_THRESHOLD: Final = 4
#: Seconds a webhook's hint (``feed``) may spend reading the job, by default: a webhook
#: receiver must answer within 10 s, and polling or sweeping still finds the job.
FEED_TIMEOUT: Final = 5.0


class EngineCore:
    """Every awaited id of one client on one kind of job: the registry, the pollers, the
    sweeper (for the kinds that have a list to sweep), the fleet (see the module).

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
        idle: Callable[[EngineCore], None] | None = None,
    ) -> None:
        self.kind = kind
        self._source = source
        self._telemetry = telemetry
        self._clock = clock
        self._sleep = sleep
        self._workspace_id = workspace_id
        self._idle = idle
        self._registry = Registry(kind)
        self._tools = Tools(
            self._source_for,
            clock,
            sleep,
            self._seen,
            self._fail,
            kind,
            self._left_lists,
            self._may_poll,
        )
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
            for watch in watches:
                # Its look, as alone: not held back by backoffs learnt for others.
                watch.next_check = watch.unreached_check = 0.0
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
        return watch.confirming or watch.poll_forced or (watch.sweepable and not self._sweeping)

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
                for job_id, left in self._deadlines(holder, watches).items():
                    known = handed.get(job_id, 0.0)
                    handed[job_id] = None if left is None or known is None else max(left, known)
        if handed:
            self._coordinator.hold(handed)
        watches = self._registry.watches()
        self._arrange(watches)
        self._keep(self._stop_unneeded([], watches))

    def lead(self, job_ids: Collection[str]) -> None:
        """Answer for these ids, awaited somewhere in the fleet (empty: stop leading)."""
        if self._closed:
            return
        wanted = set(job_ids)
        holder = self._lead
        if holder is None:
            if not wanted:
                return
            kind = self.kind
            holder = self._lead = Holder(
                "auto",
                kind.interval,
                kind.max_interval,
                None,
                joined=self._clock(),
                for_fleet=True,
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
        """Outcomes another process learnt: resolve the waits here (not announced again).

        A `JobEnded` carries no job: each awaited id it names is read here at once, by
        its poller (started for it even if the fleet answers for the id, and retrying
        within the callers' deadline), as a single process reads an id its sweep found
        finished.
        """
        confirm: list[Watch] = []
        for job_id, outcome in outcomes.items():
            for watch in self._registry.find(job_id):
                if isinstance(outcome, BaseException):
                    self._finish(watch, outcome, announce=False)
                elif isinstance(outcome, JobEnded):
                    if not watch.done:
                        watch.confirming = True
                        watch.pace.bring_forward(self._clock())
                        confirm.append(watch)
                else:
                    self._seen(watch, outcome, announce=False)
        if confirm:
            self._arrange(confirm)

    def fed(self, job_id: str) -> None:
        """The leader got a webhook's hint from another process: read it, announce it."""
        if self._closed or not self._registry.find(job_id):
            return
        self._keep([asyncio.get_running_loop().create_task(self.feed(job_id, None))])

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

    def _may_poll(self, watch: Watch) -> bool:
        # A fence: an id polled only for the fleet is asked about only under the lease.
        return watch.awaited_here or self._may_sweep()

    def _left_lists(self, watch: Watch) -> bool:
        """A swept id left the in-flight lists. Awaited here, it is read (the caller
        gets the job); awaited only by other processes of the fleet, and the fleet
        shares ids and statuses rather than jobs, it is announced as ended unread: each
        process that awaits it reads it with one GET, as alone (a list that missed it
        while in flight costs that process's poller, not a wrong answer)."""
        coordinator = self._coordinator
        if (
            coordinator is None
            or not self._fleet_active
            or watch.awaited_here
            or getattr(coordinator, "stores_results", True)
        ):
            return False
        # Not resolved here: nobody here awaits it, and a caller joining later must get
        # the job, not the announcement.
        coordinator.publish({self.kind.fleet_id(watch.id): JobEnded(None)})
        return True

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
        # Shared with the fleet: a job's end, or an error about that id (a 404). Never an
        # error about this client (its key revoked, a scope missing): that is its alone.
        final = not failed or (
            isinstance(outcome, APIStatusError)
            and not is_transient(outcome)
            and not about_the_client(outcome)
        )
        if announce and final and self._fleet_active and self._coordinator is not None:
            self._coordinator.publish({self.kind.fleet_id(watch.id): outcome})  # pyright: ignore[reportArgumentType]
        poller = watch.poller
        if poller is not None and poller is not asyncio.current_task():
            poller.cancel()  # answered another way: its polling is over
        for holder in list(watch.holders):
            if holder.finished is not None:
                holder.finished(watch)

    async def feed(
        self, job_id: str, workspace_id: str | None, timeout: float | None = FEED_TIMEOUT
    ) -> bool:
        """A webhook says job ``job_id`` finished: re-read it and wake its waits.

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
        watches = [w for w in self._registry.find(job_id) if not w.done]
        if not watches:
            if self._fleet_active and self._coordinator is not None:
                # The leader may await it for others.
                self._coordinator.feed(self.kind.fleet_id(job_id))
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
