"""The shared sweeper: one background task per client answers for every swept id.

Each tick it walks the lists of ``pending`` and ``processing`` generations (100 per page,
through the one cursor walker and its guards), concludes that every awaited id absent
from both has left the in-flight state, and GETs only those, once, for their outputs.
Its cost grows with the number of in-flight generations / 100, not with the number of
ids awaited or of callers.

* **Interval.** The shortest ``interval`` among the callers present *now*: a short one
  leaves with its caller. When the next tick goes is the sweeper's `Pace`'s to say
  (``_pacing.py``): a caller joining wakes a sleeping sweeper, which ticks by the time
  that caller would have looked alone.
* **Each answer filed as it arrives.** The GETs of a tick run 16 at a time; each result
  resolves its waits the moment it comes back, not when the tick's slowest is done.
* **Early stop.** A page older than every awaited generation ends the walk early, but
  only while the pages have shown newest-first order, which the API does not promise:
  one page out of that order turns early stops off for good.
* **Broken pagination** (a cycle, empty pages promising more, an empty cursor, more
  pages than the budget) ends the walk where it is; ids it did not show are checked
  with a GET like any absent id.
* **An absent id still in flight** (the lists missed it) is checked again only after a
  growing pause: unreliable lists cost a bounded number of GETs, not one per tick.
* **An id listed in flight far longer than usual** (`STALE_AFTER`: a stale list index
  may keep showing a finished job) is checked with a GET too, ever less often.
* **A page refused** (400, 404, 422) ends that walk, like broken pagination: the ids it
  did not reach are checked with a GET. Only errors about the client itself (401, 403)
  end every swept wait.
* **Failures.** A tick that fails transiently is retried after a capped backoff (the
  circuit breaker holds its requests back meanwhile, so recovery is seen at the first
  successful probe); one that fails about the client itself (401, 403) fails every
  swept wait with that error; a bug fails them too, rather than leaving them hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Literal

from powerpost_async._bulk import run_bounded
from powerpost_async._converter import structure
from powerpost_async._exceptions import (
    APIError,
    APIStatusError,
    NotFoundError,
    RateLimitError,
    ResponseValidationError,
)
from powerpost_async._models import IN_FLIGHT, Generation, GenerationStatus, GenerationSummary, Page
from powerpost_async._pagination import walk_pages
from powerpost_async._policy import Backoff, about_the_client, is_transient

from ._pacing import Pace
from ._registry import Registry, Tools, Watch

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_MAX_INTERVAL", "SWEEP_MAX_PAGES", "Sweeper"]

logger = logging.getLogger("powerpost_async")

DEFAULT_INTERVAL: Final = 2.0
DEFAULT_MAX_INTERVAL: Final = 10.0
#: GETs a tick makes at once for ids that left the in-flight lists.
SWEEP_GET_CONCURRENCY: Final = 16
#: Pages one tick reads per status at most (50,000 generations in flight).
SWEEP_MAX_PAGES: Final = 500
#: Longest pause after failed ticks in a row, and between GETs of an id the lists miss.
SWEEP_MAX_BACKOFF: Final = 30.0
MISS_MAX_BACKOFF: Final = 60.0
#: The shortest pause after a tick that got a 429 with a hint (a server answering
#: ``Retry-After: 0`` to every list must not make the sweeper spin).
MIN_HINTED_PAUSE: Final = 0.5
#: Ticks in a row that answer nobody before the sweeper starts to slow down.
QUIET_TICKS: Final = 3
#: An id the in-flight lists have shown this long (far longer than a generation takes)
#: is checked with a GET too, in case the lists are stale; then ever less often, up to
#: every STALE_MAX_BACKOFF seconds.
STALE_AFTER: Final = 900.0
STALE_MAX_BACKOFF: Final = 900.0


class Sweeper:
    """The sweeping task of one client (see the module docstring).

    Args:
        registry: The watches to answer for.
        tools: Where to read lists and generations, the clock and sleep, whom to tell.
        may_act: Asked before each tick; ``False`` skips it (a fleet leader whose lease
            may have lapsed must not sweep on it).
    """

    def __init__(
        self, registry: Registry, tools: Tools, *, may_act: Callable[[], bool] | None = None
    ) -> None:
        self._registry = registry
        self._tools = tools
        self._may_act = may_act
        self._task: asyncio.Task[None] | None = None
        # Until a page shows otherwise, lists are taken to be newest first.
        self._newest_first = True
        #: When the next tick is due; callers joining and leaving change it.
        self.pace = Pace()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self.pace = Pace()  # the first tick goes at once: finished ids return now
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="powerpost-sweeper"
            )

    def stop(self) -> asyncio.Task[None] | None:
        """Cancel the task; returns it (to be awaited) if it was running."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            return task
        return None

    def joined(self, due: float) -> None:
        """A caller joined, wanting its first look by ``due``: the quiet backoff starts
        over, and a sweeper sleeping longer wakes."""
        self.pace.restart()
        self.pace.bring_forward(due)

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        clock, pace = self._tools.clock, self.pace
        while self._registry.sweepable:
            await pace.sleep_until_due(clock, self._tools.sleep, _no_deadline)
            if not self._registry.sweepable:
                return
            interval = self._registry.sweep_interval or DEFAULT_INTERVAL
            longest = max(interval, self._registry.sweep_max_interval or interval)
            pace.begin(clock())
            try:
                answered = await self._tick()
            except Exception as error:  # cancellation propagates
                if isinstance(error, RateLimitError) and error.retry_after is not None:
                    # The server said when the next request may go (the client's gate
                    # paces what follows): no backoff of our own on top of it.
                    pause = max(error.retry_after, MIN_HINTED_PAUSE)
                elif isinstance(error, APIError) and is_transient(error):
                    backoff = Backoff(interval, max(longest, SWEEP_MAX_BACKOFF), 2.0, (1.0, 1.25))
                    pause = backoff.delay(failures)
                    failures += 1
                else:
                    pause = -1.0
                if pause >= 0:
                    logger.info("sweep failed (%s); next try in %.1f s", error, pause)
                    pace.looked(clock(), pause)
                    continue
                # About the client (401, 403 on a list) or a bug: fail the swept waits,
                # don't leave them hanging.
                logger.warning("sweeping failed for good: %s", error)
                for watch in self._registry.open_sweepable().values():
                    self._tools.fail(watch, error)
                return
            failures = 0
            # Every interval while ticks answer someone; after quiet ones, less often, up
            # to max_interval (hours-long generations need no tick every 2 s). A caller
            # joining (see `joined`), or a tick answering one, starts over.
            if answered:
                pace.restart()
            # A few quiet ticks are normal between finishes; more mean a long wait ahead.
            pause = interval
            if pace.quiet >= QUIET_TICKS:
                slower = Backoff(interval, longest, 1.5, (1.0, 1.25))
                pause = slower.delay(pace.quiet - QUIET_TICKS + 1)
            pace.looked(clock(), pause)

    async def _tick(self) -> int:
        """One sweep; returns how many of the swept ids it found finished."""
        if self._may_act is not None and not self._may_act():
            return 0
        watches = self._registry.open_sweepable()
        if not watches:
            return 0
        in_flight, complete = await self._scan(watches)
        now = self._tools.clock()
        interval = self._registry.sweep_interval or DEFAULT_INTERVAL
        checks: list[tuple[Watch, _Why]] = []
        for i, w in watches.items():
            if i in in_flight:
                # Listed in flight far longer than usual: the list index may be stale.
                if _listed_too_long(w, now) and w.stale_check <= now:
                    checks.append((w, "stale"))
                continue
            if not complete:
                # A walk cut short (broken pagination, a refused page) proves nothing
                # about the ids it did not reach: each is read, on a backoff of its own
                # that a later complete walk does not reset (a list refused every other
                # tick must not cost a GET per id per tick).
                if w.unreached_check <= now:
                    checks.append((w, "unreached"))
                continue
            if w.next_check > now:
                continue
            if self._tools.left(w):
                # Announced as ended to the fleet, whose members read it: announced
                # again only after a growing pause while the fleet still awaits it.
                miss = Backoff(interval, max(interval, MISS_MAX_BACKOFF), 2.0, (1.0, 1.25))
                w.next_check = now + miss.delay(w.misses)
                w.misses += 1
                continue
            checks.append((w, "absent"))
        if not checks:
            return 0
        source = self._tools.source(None)
        answered = 0

        async def check(item: tuple[Watch, _Why]) -> None:
            nonlocal answered
            watch, why = item
            try:
                result: Any = await source.fetch(watch.id, deadline=None)
            except Exception as error:  # filed below; cancellation propagates
                result = error
            # Filed the moment it arrives: the other GETs of the tick do not hold it back.
            if not watch.done:
                self._file(watch, result, interval, why)
                answered += watch.done

        await run_bounded(checks, check, SWEEP_GET_CONCURRENCY, return_exceptions=False)
        return answered

    def _file(self, watch: Watch, result: Any, interval: float, why: _Why) -> None:
        """What a GET of an id said: resolve it, or look again later (backed off).

        ``why`` it was read: absent from complete lists, not reached by a walk cut
        short, or listed in flight far longer than usual (a stale list index?).
        """
        if isinstance(result, Generation):
            self._tools.seen(watch, result)
            if not result.status.is_terminal:
                now = self._tools.clock()
                if why == "stale":
                    # A long job, not a stale list: again, each time later, up to
                    # STALE_MAX_BACKOFF.
                    stale = Backoff(interval, max(interval, STALE_MAX_BACKOFF), 2.0, (1.0, 1.25))
                    watch.stale_check = now + stale.delay(watch.stale_checks)
                    watch.stale_checks += 1
                elif why == "unreached":
                    miss = Backoff(interval, max(interval, MISS_MAX_BACKOFF), 2.0, (1.0, 1.25))
                    watch.unreached_check = now + miss.delay(watch.unreached_checks)
                    watch.unreached_checks += 1
                else:
                    # The lists missed it although it is in flight: look again later,
                    # each time later still, rather than at every tick.
                    miss = Backoff(interval, max(interval, MISS_MAX_BACKOFF), 2.0, (1.0, 1.25))
                    watch.next_check = now + miss.delay(watch.misses)
                    watch.misses += 1
        elif isinstance(result, NotFoundError) or not is_transient(result):
            self._tools.fail(watch, result)
        # else transient: the next tick tries again

    async def _scan(self, watches: dict[str, Watch]) -> tuple[set[str], bool]:
        """The ids of ``watches`` that the in-flight lists show, noting what they show,
        and whether every walk went to its end (not cut short by an error)."""
        found: set[str] = set()
        created = [w.last.created_at for w in watches.values() if w.last is not None]
        oldest = min(created) if len(created) == len(watches) else None
        # A generation last seen processing cannot be pending again: when that holds for
        # every watched id, the pending list has nothing to tell.
        statuses = (
            IN_FLIGHT
            if any(w.last_status is not GenerationStatus.PROCESSING for w in watches.values())
            else (GenerationStatus.PROCESSING,)
        )
        complete = True
        for status in statuses:
            complete &= await self._walk(status, watches, found, oldest)
        return found, complete

    async def _walk(
        self,
        status: GenerationStatus,
        watches: dict[str, Watch],
        found: set[str],
        oldest: datetime | None,
    ) -> bool:
        """Walk one list; ``False`` if it was cut short (what it did not reach is
        unknown)."""
        previous: datetime | None = None
        source = self._tools.source(None)

        def fetch(cursor: str | None) -> Any:
            return source.page(status.value, cursor)

        pages = walk_pages(fetch, lambda raw: raw[1], max_pages=SWEEP_MAX_PAGES)
        try:
            async with contextlib.aclosing(pages):
                async for response, data in pages:
                    now = self._tools.clock()
                    page = structure(data, Page[GenerationSummary], body=response.content)
                    for summary in page.data:
                        if previous is not None and summary.created_at > previous:
                            self._newest_first = False  # the API never promised it
                        previous = summary.created_at
                        for watch in self._registry.find(summary.generation_id):
                            if watches.get(watch.id) is watch:
                                found.add(watch.id)
                                if watch.listed_since is None:
                                    watch.listed_since = now
                                watch.misses = 0
                                watch.see(summary, now)
                    if (
                        self._newest_first
                        and oldest is not None
                        and page.data
                        and page.data[-1].created_at < oldest
                    ):
                        return True  # older than everything awaited: later pages hold none
        except ResponseValidationError as error:
            # Pagination that never ends, or a page we cannot read: what the walk did not
            # show is checked with a GET, like any id absent from the lists.
            logger.debug("sweep: the %s list ended early: %s", status.value, error)
            return False
        except APIStatusError as error:
            if is_transient(error) or about_the_client(error):
                raise  # retried after a backoff / the end of every swept wait
            # A page refused (a 400 "invalid cursor", a 404, a 422): it ends this walk,
            # not the waits; the ids it did not reach are checked with a GET.
            logger.info("sweep: the %s list ended early: %s", status.value, error)
            return False
        return True


#: Why the sweeper reads an id (see `Sweeper._file`).
_Why = Literal["absent", "unreached", "stale"]


def _no_deadline() -> None:
    """The sweeper runs while anyone is swept: no deadline of its own."""
    return


def _listed_too_long(watch: Watch, now: float) -> bool:
    """Shown in flight by the lists far longer than usual: maybe a stale list index."""
    since = watch.listed_since
    return since is not None and now - since >= STALE_AFTER
