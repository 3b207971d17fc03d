"""The waiting engine behind ``wait``, ``wait_many``, ``as_completed`` and ``feed``.

`Engine` is the `EngineCore` (``_core.py``: the registry, pollers, sweeper, fleet and
webhooks) with the waiting calls on top: each holds its ids for its duration (a
`Holder`), awaits their futures against its own deadline, reports progress, and
releases them in its ``finally``, whatever happens.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from powerpost_async._exceptions import PowerPostError, WaitTimeoutError
from powerpost_async._timing import sleep_until_done

from ._core import FEED_TIMEOUT, SWEEP_THRESHOLD, EngineCore
from ._ids import GenerationRef, check_wait_args, distinct_ids, job_id_of
from ._progress import Progress, ProgressCallback, WaitProgress
from ._registry import Holder, Source, Strategy, Watch

__all__ = [
    "FEED_TIMEOUT",
    "SWEEP_THRESHOLD",
    "Engine",
    "GenerationRef",
    "ProgressCallback",
    "Strategy",
    "WaitProgress",
    "distinct_ids",
    "job_id_of",
]


class _Deadline(Exception):
    """Internal: a wait's deadline passed (turned into WaitTimeoutError by the caller)."""


class Engine(EngineCore):
    """Every wait of one client on one kind of job (see the module docstring)."""

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
        job_id = job_id_of(ref, kind)
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
            async for job_id, outcome in outcomes:
                results[job_id] = outcome
        finally:
            await outcomes.aclose()
        if not return_exceptions:
            for job_id in ids:  # the first failing id in input order
                outcome = results[job_id]
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

    async def _alarm(self, deadline: float, wake: list[asyncio.Future[None] | None]) -> None:
        """Sleep until ``deadline`` on the clock, then wake the waiting call."""
        while (left := deadline - self._clock()) > 0:
            await self._sleep(left)
        _wake(wake)

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
        progress = Progress(on_progress)

        def on_finished(watch: Watch | None) -> None:
            if watch is not None:  # None: the call must end (holder.error)
                finished.append(watch)
                progress.changed(watch)
            _wake(wake)

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
        alarm: asyncio.Future[None] | None = None
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
                    if deadline is not None and alarm is None:
                        # One sleeper for the whole call, not one per wake-up: answers
                        # are filed one by one as they arrive.
                        alarm = asyncio.ensure_future(self._alarm(deadline, wake))
                    waiter = wake[0] = asyncio.get_running_loop().create_future()
                    try:
                        await waiter
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
            if alarm is not None and not alarm.done():
                alarm.cancel()
                # asyncio.wait, not `await alarm`: our own cancellation must propagate.
                await asyncio.wait({alarm})
            await self._release(holder, watches)


def _wake(wake: list[asyncio.Future[None] | None]) -> None:
    waiter = wake[0]
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


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
