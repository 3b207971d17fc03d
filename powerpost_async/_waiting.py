"""Awaiting generations at scale: per-id polling, shared bulk sweeps, and bulk reads.

Every id being awaited on a client is registered once, in one `Tracker`, as a
`_Watch` holding a future. Whoever learns that a generation finished (a poller, the
sweeper, or a webhook event fed in) resolves that future, and every caller awaiting the id
wakes, whichever call it came from.

Two ways of learning:

* **Polling** (few ids): the caller's own task GETs the generation, first at once, then at
  intervals growing towards ``max_interval``, jittered, driven by tenacity.
* **Sweeping** (many ids): one background task per client pages through
  ``list(status="pending")`` and ``list(status="processing")`` each tick, concludes that
  every awaited id absent from both has left the in-flight state, and GETs only those, once,
  for their outputs. Its cost grows with the number of in-flight generations / 100, not
  with the number of ids awaited, and it is shared by every wait on the client.

``strategy="auto"`` polls while fewer than `SWEEP_THRESHOLD` ids are awaited on the
client, and sweeps from then on (a poller that sees the sweeper running stops polling and
lets it answer). The sweeper stops as soon as nothing is awaited, and on ``aclose()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import attrs
import tenacity as _t

from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    GenerationFailedError,
    MalformedResponseError,
    NotFoundError,
    PowerPostError,
    RateLimitError,
    WaitTimeoutError,
)
from ._http import path_segment
from ._models import CreatedGeneration, Generation, GenerationStatus, GenerationSummary

if TYPE_CHECKING:
    from ._client import PowerPost

__all__ = [
    "SWEEP_THRESHOLD",
    "GenerationRef",
    "Strategy",
    "Tracker",
    "WaitProgress",
]

logger = logging.getLogger("powerpost_async")

T = TypeVar("T")

Strategy = Literal["auto", "poll", "sweep"]
#: What the waiting methods accept as "a generation": its id, or an object carrying one.
GenerationRef = str | CreatedGeneration | Generation | GenerationSummary

#: With ``strategy="auto"``, sweeping starts once this many ids are awaited on the client.
SWEEP_THRESHOLD = 4
DEFAULT_INTERVAL = 2.0
DEFAULT_MAX_INTERVAL = 10.0
# GETs a sweep tick makes at once for ids that left the in-flight lists.
SWEEP_GET_CONCURRENCY = 16
_IN_FLIGHT = (GenerationStatus.PENDING, GenerationStatus.PROCESSING)


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


def generation_id_of(ref: object) -> str:
    """The id of a generation reference, checked the way ``get`` checks ids."""
    if isinstance(ref, (CreatedGeneration, Generation, GenerationSummary)):
        ref = ref.generation_id
    path_segment(ref)  # same rules as every other id: refuse what could alter a URL
    return ref  # type: ignore[return-value]


def distinct_ids(refs: Iterable[GenerationRef]) -> tuple[list[str], list[str]]:
    """(every id in input order, the distinct ids in first-seen order); all checked first."""
    if isinstance(refs, (str, bytes)):
        raise TypeError("pass a list of generation ids, not a single string")
    ids = [generation_id_of(ref) for ref in refs]
    return ids, list(dict.fromkeys(ids))


class _Watch:
    """One awaited id: its future, how many callers hold it, and what was last seen."""

    __slots__ = ("_last", "forced_poll", "future", "holders", "observers")

    def __init__(self, future: asyncio.Future[Generation]) -> None:
        self.future = future
        self.holders = 0
        self.forced_poll = 0  # holders that asked for strategy="poll"
        self._last: Generation | GenerationSummary | None = None
        # Progress reporters of multi-id waits holding this id: told when ``last`` changes
        # (a finish reaches them through the future), so they recount this id alone.
        self.observers: list[Callable[[], None]] = []

    @property
    def last(self) -> Generation | GenerationSummary | None:
        """What was last seen of it (a list summary, or a full generation)."""
        return self._last

    @last.setter
    def last(self, value: Generation | GenerationSummary | None) -> None:
        changed = self._last is None or value is None or value.status != self._last.status
        self._last = value
        if changed:
            for observer in self.observers:
                observer()

    @property
    def category(self) -> str:
        """Where this id counts in a WaitProgress."""
        future = self.future
        if future.done():
            if future.cancelled() or future.exception() is not None:
                return "failed"
            completed = future.result().status is GenerationStatus.COMPLETED
            return "completed" if completed else "failed"
        status = self.last_status
        if status is GenerationStatus.PENDING:
            return "pending"
        if status is GenerationStatus.PROCESSING:
            return "processing"
        return "unknown"

    @property
    def sweepable(self) -> bool:
        """Awaited by someone who lets the sweeper answer (did not force polling)."""
        return self.holders > self.forced_poll

    @property
    def last_status(self) -> GenerationStatus | None:
        return None if self.last is None else self.last.status

    @property
    def last_generation(self) -> Generation | None:
        """What was last seen, as a Generation (a list summary has no outputs anyway)."""
        last = self.last
        if last is None or isinstance(last, Generation):
            return last
        return Generation(**attrs.asdict(last, recurse=False))


class Tracker:
    """Every wait of one client: the watches, the shared sweeper, and the progress hub."""

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        self._watches: dict[str, _Watch] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_interval = DEFAULT_INTERVAL
        self._closed = False
        # Ids awaited by at least one caller that did not force polling; and how many
        # callers asked for strategy="sweep". Kept as counts: registering 10,000 ids
        # must not rescan the registry each time.
        self._sweepable = 0
        self._sweep_forced = 0

    # -- registration ---------------------------------------------------------------------

    def _hold(self, generation_id: str, strategy: Strategy) -> _Watch:
        if self._closed or self._client.is_closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")
        watch = self._watches.get(generation_id)
        if watch is None:
            future: asyncio.Future[Generation] = asyncio.get_running_loop().create_future()
            watch = self._watches[generation_id] = _Watch(future)
        was_sweepable = watch.sweepable
        watch.holders += 1
        if strategy == "sweep":
            self._sweep_forced += 1
        elif strategy == "poll":
            watch.forced_poll += 1
        self._sweepable += watch.sweepable - was_sweepable
        return watch

    def _release(self, generation_id: str, watch: _Watch, strategy: Strategy) -> None:
        was_sweepable = watch.sweepable
        watch.holders -= 1
        if strategy == "sweep":
            self._sweep_forced -= 1
        elif strategy == "poll":
            watch.forced_poll -= 1
        self._sweepable += watch.sweepable - was_sweepable
        if watch.holders <= 0 and self._watches.get(generation_id) is watch:
            del self._watches[generation_id]
            if not watch.future.done():
                watch.future.cancel()
        if not self._watches:
            self._stop_sweeper()

    @property
    def sweeping(self) -> bool:
        """``True`` while the shared sweeper is running."""
        return self._sweeper is not None and not self._sweeper.done()

    def _maybe_start_sweeper(self, interval: float) -> None:
        self._sweep_interval = min(self._sweep_interval, interval) if self.sweeping else interval
        if self.sweeping:
            return
        if self._sweepable >= SWEEP_THRESHOLD or self._sweep_forced:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep_loop(), name="powerpost-sweeper"
            )

    def _stop_sweeper(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None and not sweeper.done():
            sweeper.cancel()

    async def aclose(self) -> None:
        """Stop the sweeper and fail whatever is still awaited (the client is closing)."""
        self._closed = True
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        error = PowerPostError("the PowerPost client was closed while this wait was running")
        for watch in self._watches.values():
            _fail(watch.future, error)

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, generation: Generation) -> bool:
        """Record a terminal generation; wakes every wait on its id. ``True`` if awaited."""
        watch = self._watches.get(generation.generation_id)
        if watch is None:
            return False
        watch.last = generation
        if generation.status.is_terminal and not watch.future.done():
            watch.future.set_result(generation)
            return True
        return False

    async def feed(self, generation_id: str, workspace_id: str | None) -> bool:
        """A webhook says ``generation_id`` finished: re-read it and wake its waits.

        The event is only a hint (webhook signatures cannot be checked by the SDK yet):
        what waits receive always comes from the API. Returns whether the id was awaited.
        """
        if workspace_id is not None and workspace_id != self._client.workspace_id:
            return False  # another workspace's event: not ours to act on
        watch = self._watches.get(generation_id)
        if watch is None or watch.future.done():
            return False
        try:
            generation = await self._client.generations.get(generation_id)
        except APIError as error:
            if _is_transient(error):
                return True  # polling or sweeping will still find it
            _fail(watch.future, error)
            return True
        watch.last = generation
        self.resolve(generation)
        return True

    def _note(self, summary: Generation | GenerationSummary) -> None:
        watch = self._watches.get(summary.generation_id)
        if watch is not None:
            watch.last = summary

    # -- the sweeper ------------------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        failures = 0
        first = True
        while self._watches:
            delay = self._sweep_interval
            try:
                # The first tick goes at once: ids that finished already return now.
                if not first:
                    await self._client._sleep(delay)
                first = False
                await self._sweep_tick()
                failures = 0
            except asyncio.CancelledError:
                raise
            except APIError as error:
                if _is_transient(error):
                    # The client already retried; keep sweeping, backing off, till deadlines.
                    failures += 1
                    backoff = min(DEFAULT_MAX_INTERVAL, delay * 2**failures)
                    logger.debug("sweep failed (%s); next try in %.1f s", error, backoff)
                    await self._client._sleep(backoff - delay)
                    continue
                self._fail_all(error)
                return
            except Exception as error:  # a bug must not leave every waiter hanging
                self._fail_all(error)
                return

    def _fail_all(self, error: BaseException) -> None:
        for watch in self._watches.values():
            _fail(watch.future, error)

    async def _sweep_tick(self) -> None:
        open_watches = {i: w for i, w in self._watches.items() if not w.future.done()}
        if not open_watches:
            return
        in_flight = await self._scan_in_flight(open_watches)
        absent = [i for i in open_watches if i not in in_flight]
        if absent:
            results = await self._client.generations.get_many(
                absent, concurrency=SWEEP_GET_CONCURRENCY, return_exceptions=True
            )
            for generation_id, result in zip(absent, results, strict=True):
                watch = self._watches.get(generation_id)
                if watch is None or watch.future.done():
                    continue
                if isinstance(result, Generation):
                    self.resolve(result)  # if still in flight (it moved lists), kept for later
                elif isinstance(result, NotFoundError):
                    _fail(watch.future, result)
                elif isinstance(result, APIError) and _is_transient(result):
                    continue  # try again next tick
                else:
                    _fail(watch.future, result)

    async def _scan_in_flight(self, watches: dict[str, _Watch]) -> dict[str, GenerationStatus]:
        """Which watched ids are pending or processing now, from the list pages.

        Lists are newest first; once a page is older than every watched generation whose
        creation time is known (and none is unknown), later pages cannot hold ours.
        """
        found: dict[str, GenerationStatus] = {}
        known = [w.last.created_at for w in watches.values() if w.last is not None]
        oldest = min(known) if len(known) == len(watches) else None
        # A generation last seen processing cannot be pending again: when that holds for
        # every watched id, the pending list has nothing to tell.
        statuses = (
            _IN_FLIGHT
            if any(w.last_status is not GenerationStatus.PROCESSING for w in watches.values())
            else (GenerationStatus.PROCESSING,)
        )
        for status in statuses:
            cursor: str | None = None
            while True:
                page = await self._client.generations.list(status=status, limit=100, cursor=cursor)
                for summary in page.data:
                    if summary.generation_id in watches:
                        found[summary.generation_id] = summary.status
                        self._note(summary)
                if not page.has_more or page.next_cursor is None or page.next_cursor == cursor:
                    break
                if oldest is not None and page.data and page.data[-1].created_at < oldest:
                    break
                cursor = page.next_cursor
        return found

    # -- status right now -------------------------------------------------------------------

    async def statuses(
        self, refs: Iterable[GenerationRef], *, return_exceptions: bool
    ) -> dict[str, GenerationStatus | Exception]:
        """The current status of every id, from list pages, GETting only what they miss.

        In-flight lists first, then the failed and completed lists newest first, a bounded
        number of pages each (enough to cover the ids still missing, plus one); the ids
        none of them showed are fetched one by one. Statuses only move forward, and the
        lists are read in that order, so an id moving while we read shows up in a later list.
        """
        _, ids = distinct_ids(refs)
        remaining = set(ids)
        found: dict[str, GenerationStatus | Exception] = {}
        generations = self._client.generations
        for status in _IN_FLIGHT:
            async for summary in generations.iterate(status=status, page_size=100):
                if summary.generation_id in remaining:
                    found[summary.generation_id] = summary.status
                    remaining.discard(summary.generation_id)
        for status in (GenerationStatus.FAILED, GenerationStatus.COMPLETED):
            cursor: str | None = None
            for _ in range(-(-len(remaining) // 100) + 1 if remaining else 0):
                page = await generations.list(status=status, limit=100, cursor=cursor)
                for summary in page.data:
                    if summary.generation_id in remaining:
                        found[summary.generation_id] = summary.status
                        remaining.discard(summary.generation_id)
                if not remaining or not page.has_more or page.next_cursor is None:
                    break
                cursor = page.next_cursor
        if remaining:
            missing = [i for i in ids if i in remaining]
            results = await generations.get_many(missing, return_exceptions=True)
            for generation_id, result in zip(missing, results, strict=True):
                if isinstance(result, Generation):
                    found[generation_id] = result.status
                elif return_exceptions:
                    found[generation_id] = result
                else:
                    raise result
        return {i: found[i] for i in ids}

    # -- waiting ----------------------------------------------------------------------------

    async def wait(
        self,
        ref: GenerationRef,
        *,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
    ) -> Generation:
        generation_id = generation_id_of(ref)
        _check_wait_args(timeout, interval, max_interval, strategy)
        clock = self._client._clock
        deadline = None if timeout is None else clock() + timeout
        watch = self._hold(generation_id, strategy)
        try:
            self._maybe_start_sweeper(interval)
            if strategy == "poll" or (strategy == "auto" and not self.sweeping):
                generation = await self._poll(
                    generation_id, watch, deadline, interval, max_interval, strategy
                )
            else:
                generation = await self._await_future(watch.future, deadline)
        except _Deadline:
            raise WaitTimeoutError(
                f"generation {generation_id} did not finish within {timeout} s "
                f"(last seen: {watch.last_status or 'never'})",
                timeout=timeout or 0.0,
                pending_ids=[generation_id],
                generation=watch.last_generation,
            ) from None
        finally:
            self._release(generation_id, watch, strategy)
        if generation.status is GenerationStatus.FAILED:
            raise GenerationFailedError(generation)
        return generation

    async def _poll(
        self,
        generation_id: str,
        watch: _Watch,
        deadline: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
    ) -> Generation:
        """Poll one id with tenacity until it is terminal, resolved elsewhere, or swept."""
        clock = self._client._clock

        async def attempt() -> Generation | None:
            if watch.future.done():
                return watch.future.result()
            if strategy == "auto" and self.sweeping:
                return await self._await_future(watch.future, deadline)
            generation = await self._client.generations.get(generation_id)
            watch.last = generation
            if generation.status.is_terminal:
                self.resolve(generation)
                return generation
            return None

        def stop(state: _t.RetryCallState) -> bool:
            return deadline is not None and clock() >= deadline

        async def sleep(seconds: float) -> None:
            if deadline is not None:
                seconds = min(seconds, max(0.0, deadline - clock()))
            await self._sleep_or_resolved(watch.future, seconds)

        retrying = _t.AsyncRetrying(
            retry=_t.retry_if_result(lambda result: result is None)
            | _t.retry_if_exception(_is_transient),
            wait=_poll_backoff(interval, max_interval),
            stop=stop,
            sleep=sleep,
            reraise=True,
        )
        try:
            result: Generation | None = await retrying(attempt)
        except _t.RetryError:
            raise _Deadline() from None
        except APIError as error:
            if _is_transient(error):  # the last attempt, at the deadline, failed
                raise _Deadline() from error
            raise
        if result is None:  # pragma: no cover - tenacity only returns accepted results
            raise _Deadline()
        return result

    async def _sleep_or_resolved(self, future: asyncio.Future[Generation], seconds: float) -> None:
        """Sleep (the client's sleep, so virtual time works), waking early if resolved."""
        if future.done() or seconds <= 0:
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self._client._sleep(seconds))
        racers: set[asyncio.Future[Any]] = {sleeper, future}
        try:
            await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not sleeper.done():
                sleeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sleeper

    async def _await_future(self, future: asyncio.Future[T], deadline: float | None) -> T:
        """Await ``future`` until ``deadline`` on the client's clock; raise _Deadline after."""
        clock = self._client._clock
        while not future.done():
            if deadline is None:
                await asyncio.wait({future})
                break
            remaining = deadline - clock()
            if remaining <= 0:
                raise _Deadline()
            await self._sleep_or_resolved(future, remaining)  # type: ignore[arg-type]
        return future.result()

    def as_completed(
        self,
        refs: Iterable[GenerationRef],
        *,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        on_progress: ProgressCallback | None,
    ) -> AsyncGenerator[Generation, None]:
        _, ids = distinct_ids(refs)
        _check_wait_args(timeout, interval, max_interval, strategy)
        return self._yield_generations(
            self._outcomes(ids, timeout, interval, max_interval, strategy, on_progress)
        )

    @staticmethod
    async def _yield_generations(
        outcomes: AsyncGenerator[tuple[str, Generation | Exception], None],
    ) -> AsyncGenerator[Generation, None]:
        # Per-id errors (an unknown id) must not hold the others back: they are raised
        # once every other id has been yielded.
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
        refs: Iterable[GenerationRef],
        *,
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        on_progress: ProgressCallback | None,
        return_exceptions: bool,
    ) -> list[Generation | Exception]:
        ids, distinct = distinct_ids(refs)
        _check_wait_args(timeout, interval, max_interval, strategy)
        results: dict[str, Generation | Exception] = {}
        outcomes = self._outcomes(distinct, timeout, interval, max_interval, strategy, on_progress)
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

    async def _outcomes(
        self,
        ids: list[str],
        timeout: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
        on_progress: ProgressCallback | None,
    ) -> AsyncGenerator[tuple[str, Generation | Exception], None]:
        """Yield ``(id, terminal Generation or per-id error)`` as each id finishes."""
        if not ids:
            return
        clock = self._client._clock
        deadline = None if timeout is None else clock() + timeout
        watches: dict[str, _Watch] = {}
        finished: asyncio.Queue[str] = asyncio.Queue()
        pollers: list[asyncio.Task[None]] = []
        progress = _Progress(watches, on_progress)

        def on_done(generation_id: str) -> Callable[[asyncio.Future[Generation]], None]:
            def done(_: asyncio.Future[Generation]) -> None:
                finished.put_nowait(generation_id)
                progress.changed(generation_id)

            return done

        try:
            for generation_id in ids:
                watch = watches[generation_id] = self._hold(generation_id, strategy)
                watch.future.add_done_callback(on_done(generation_id))
                progress.observe(generation_id, watch)
            self._maybe_start_sweeper(interval)
            if strategy == "poll" or (strategy == "auto" and not self.sweeping):
                pollers = [
                    asyncio.ensure_future(
                        self._poll_quietly(i, w, deadline, interval, max_interval, strategy)
                    )
                    for i, w in watches.items()
                ]
            progress.report()
            for remaining in range(len(ids) - 1, -1, -1):
                generation_id = await self._next_finished(finished, deadline)
                future = watches[generation_id].future
                outcome: Generation | Exception
                if future.cancelled():
                    outcome = PowerPostError(f"the wait for {generation_id} was cancelled")
                else:
                    error = future.exception()
                    if error is not None and not isinstance(error, Exception):
                        raise error
                    outcome = error if error is not None else future.result()
                if not remaining:
                    progress.report()  # the final count, before the last result
                yield generation_id, outcome
        except _Deadline:
            pending = [i for i, w in watches.items() if not w.future.done()]
            raise WaitTimeoutError(
                f"{len(pending)} of {len(ids)} generations did not finish within {timeout} s: "
                + ", ".join(pending[:10])
                + (", ..." if len(pending) > 10 else ""),
                timeout=timeout or 0.0,
                pending_ids=pending,
            ) from None
        finally:
            progress.close()
            for task in pollers:
                task.cancel()
            if pollers:
                await asyncio.gather(*pollers, return_exceptions=True)
            for generation_id, watch in watches.items():
                self._release(generation_id, watch, strategy)

    async def _poll_quietly(
        self,
        generation_id: str,
        watch: _Watch,
        deadline: float | None,
        interval: float,
        max_interval: float,
        strategy: Strategy,
    ) -> None:
        """A poller task for a multi-id wait: its outcome goes into the shared future."""
        try:
            await self._poll(generation_id, watch, deadline, interval, max_interval, strategy)
        except _Deadline:
            pass  # the caller's own deadline reports it
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a per-id error (e.g. not found) belongs to that id
            _fail(watch.future, error)

    async def _next_finished(self, finished: asyncio.Queue[str], deadline: float | None) -> str:
        if not finished.empty():
            return finished.get_nowait()
        if deadline is None:
            return await finished.get()
        clock = self._client._clock
        while True:
            remaining = deadline - clock()
            if remaining <= 0:
                raise _Deadline()
            getter = asyncio.ensure_future(finished.get())
            sleeper = asyncio.ensure_future(self._client._sleep(remaining))
            try:
                await asyncio.wait({getter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (getter, sleeper):
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
            if getter.done() and not getter.cancelled():
                return getter.result()


def _poll_backoff(interval: float, max_interval: float) -> Callable[[_t.RetryCallState], float]:
    """``interval`` x 1.5 per poll, plus up to half an interval of jitter, capped."""

    def wait(state: _t.RetryCallState) -> float:
        grown = interval * 1.5 ** (state.attempt_number - 1)
        return min(max_interval, grown + random.uniform(0, interval / 2))

    return wait


class _Deadline(Exception):
    """Internal: a wait's deadline passed (turned into WaitTimeoutError by the caller)."""


def _is_transient(error: BaseException) -> bool:
    """Worth trying again later: network trouble, rate limits, server errors."""
    if isinstance(error, (APIConnectionError, RateLimitError, MalformedResponseError)):
        return True
    return isinstance(error, APIStatusError) and error.status_code >= 500


def _fail(future: asyncio.Future[Generation], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
        future.exception()  # mark retrieved: no "exception never retrieved" if nobody awaits


class _Progress:
    """Counts of one multi-id wait, kept up to date id by id, reported once per loop pass.

    Recounting every id on every change would cost O(n) per change, O(n²) per wait:
    only the ids that changed are recounted, and changes within one pass of the event
    loop (a sweep tick resolves many ids at once) make one report.
    """

    def __init__(self, watches: dict[str, _Watch], callback: ProgressCallback | None) -> None:
        self._watches = watches
        self._callback = callback
        self._category: dict[str, str] = {}
        categories = ("pending", "processing", "completed", "failed", "unknown")
        self._counts: dict[str, int] = dict.fromkeys(categories, 0)
        self._dirty: set[str] = set()
        self._scheduled: asyncio.Handle | None = None
        self._last: WaitProgress | None = None
        self._observing: list[tuple[_Watch, Callable[[], None]]] = []

    def observe(self, generation_id: str, watch: _Watch) -> None:
        if self._callback is None or generation_id in self._category:
            return
        category = watch.category
        self._category[generation_id] = category
        self._counts[category] += 1

        def observer() -> None:
            self.changed(generation_id)

        watch.observers.append(observer)
        self._observing.append((watch, observer))

    def changed(self, generation_id: str) -> None:
        if self._callback is None:
            return
        self._dirty.add(generation_id)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.report)

    def report(self) -> None:
        """Recount what changed and call back if the counts moved."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._callback is None:
            return
        for generation_id in self._dirty:
            category = self._watches[generation_id].category
            before = self._category[generation_id]
            if category != before:
                self._counts[before] -= 1
                self._counts[category] += 1
                self._category[generation_id] = category
        self._dirty.clear()
        progress = WaitProgress(total=len(self._watches), **self._counts)
        if progress != self._last:
            self._last = progress
            self._callback(progress)

    def close(self) -> None:
        """Stop observing (the wait is over)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        for watch, observer in self._observing:
            watch.observers.remove(observer)
        self._observing.clear()
        self._callback = None


def _check_wait_args(
    timeout: float | None, interval: float, max_interval: float, strategy: str
) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    if isinstance(interval, bool) or not interval > 0:
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    if isinstance(max_interval, bool) or not max_interval >= interval:
        raise ValueError(
            f"max_interval must be a number >= interval ({interval}), got {max_interval!r}"
        )
    if strategy not in ("auto", "poll", "sweep"):
        raise ValueError(f"strategy must be 'auto', 'poll' or 'sweep', got {strategy!r}")


# -- bulk reads ---------------------------------------------------------------------------


@overload
async def run_bounded(
    items: Sequence[str],
    fetch: Callable[[str], Awaitable[T]],
    concurrency: int,
    return_exceptions: Literal[False],
) -> list[T]: ...
@overload
async def run_bounded(
    items: Sequence[str],
    fetch: Callable[[str], Awaitable[T]],
    concurrency: int,
    return_exceptions: bool,
) -> list[T | Exception]: ...
async def run_bounded(
    items: Sequence[str],
    fetch: Callable[[str], Awaitable[T]],
    concurrency: int,
    return_exceptions: bool,
) -> list[T] | list[T | Exception]:
    """``fetch`` every item with at most ``concurrency`` at once, results in input order.

    Uses ``concurrency`` worker tasks (not one task per item), so 10,000 ids cost 100
    tasks. Without ``return_exceptions`` the first error cancels the rest and is raised.
    """
    results: list[T | Exception | None] = [None] * len(items)
    position = iter(range(len(items)))

    async def worker() -> None:
        for index in position:
            try:
                results[index] = await fetch(items[index])
            except Exception as error:  # collected per item; cancellation propagates
                if not return_exceptions:
                    raise
                results[index] = error

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return results  # type: ignore[return-value]
