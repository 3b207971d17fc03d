"""Polling one id: one task per awaited id, however many callers await it.

The poller GETs the job (a generation, an image or video generation, a post) at once,
then after ``interval`` seconds, each pause 1.5 times the last (jittered, capped at
``max_interval``, the exponent capped before it is computed), until the job is terminal,
the id fails for good (e.g. not found), or the latest deadline among its holders passes.
Its settings follow the holders present now: the shortest interval any of them asked
for. Transient failures (no answer, 429, 5xx, a garbled body) are retried on the same
schedule; the client's gates (429 pause, circuit breaker) hold it back within that
deadline.

It resolves the watch (every holder wakes) and leaves; the engine cancels it when the
watch is resolved another way (the sweeper, a webhook) or nobody holds the id any more.
"""

from __future__ import annotations

import asyncio
from typing import Any

import tenacity as _t

from powerpost_async._policy import is_transient, poll_backoff

from ._registry import Tools, Watch

__all__ = ["poll"]


async def poll(watch: Watch, tools: Tools) -> None:
    """Poll ``watch`` until it finishes or its holders' deadline passes.

    When the next GET goes is the watch's `Pace`'s to say (``_pacing.py``): tenacity
    drives the attempts and their stop, and each pause sleeps until the pace's due
    instant, waking when a caller joins or leaves and the plan changes.

    Args:
        watch: The id to poll; its holders say how often and until when.
        tools: Where to read it, the clock and sleep, and whom to tell.
    """
    clock, sleep, pace = tools.clock, tools.sleep, watch.pace

    def latest_deadline() -> float | None:
        return watch.deadline if watch.holders else clock()

    def past_deadline(_: _t.RetryCallState) -> bool:
        deadline = latest_deadline()
        return deadline is not None and clock() >= deadline

    def plan(_: _t.RetryCallState) -> float:
        if watch.holders:
            pace.looked(clock(), poll_backoff(watch.interval, watch.max_interval).delay(pace.quiet))
        return max(0.0, pace.due - clock())

    async def pause(_: float) -> None:
        await pace.sleep_until_due(clock, sleep, latest_deadline)

    terminal = tools.kind.terminal

    async def attempt() -> Any:
        pace.begin(clock())
        if not tools.may_poll(watch):
            return None  # a fence: not ours to ask about now; look again at the next turn
        job = await tools.source(watch).fetch(watch.id, deadline=watch.deadline)
        tools.seen(watch, job)
        return job

    retrying = _t.AsyncRetrying(
        retry=_t.retry_if_result(lambda job: job is None or not terminal(job))
        | _t.retry_if_exception(is_transient),
        wait=plan,
        stop=past_deadline,
        sleep=pause,
        reraise=True,
    )
    try:
        await retrying(attempt)
    except _t.RetryError:
        pass  # the deadline passed, still in flight: each holder reports its own timeout
    except Exception as error:  # cancellation propagates
        if not is_transient(error):
            tools.fail(watch, error)  # e.g. not found: every holder of this id gets it
        # else: the last try, at the deadline, failed on the way: the holders time out
    finally:
        # Not only in the task's done callback, which runs a loop pass later: a caller
        # joining in between must see that this id has no poller and start one.
        if watch.poller is asyncio.current_task():
            watch.poller = None
