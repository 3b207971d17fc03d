"""A virtual clock, so that tests wait in virtual time instead of real time."""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import math

__all__ = ["VirtualClock"]

# Loop passes with nothing else ready and no new sleeper before the clock jumps to the next
# deadline: tasks woken by the last jump (and their in-memory requests) run to their next
# sleep first.
_IDLE_PASSES = 8

_Sleeper = tuple[float, int, "asyncio.Future[None]"]


def _busy(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether other callbacks are ready to run on ``loop`` besides the clock's own.

    asyncio has no public way to ask; CPython's loops keep the ready queue in ``_ready``.
    Where it is missing (another loop implementation), count idle passes only.
    """
    ready = getattr(loop, "_ready", None)
    return bool(ready) if isinstance(ready, collections.deque) else False


class VirtualClock:
    """A clock whose time moves only when told to, or when every task is asleep on it.

    Pass it as both clock and sleep to the code under test, e.g.
    ``PowerPost(clock=clock, sleep=clock.sleep)`` and ``FakePowerPost(clock=clock)``:
    a poll every 2 s for a minute then takes a few milliseconds.

    While tasks sleep on it, the clock *auto-advances*: once the event loop has had a few
    passes with nothing else ready to run and no new sleep (so that busy tasks, such as
    chains of in-memory requests, finish first), it jumps to the earliest deadline and
    wakes the sleepers due then, in deadline order. Real sockets look idle while they
    wait: use it with in-memory transports. It never goes backwards. Nothing runs in the background:
    the jumps are ``loop.call_soon`` callbacks, cancelled when the last sleeper leaves.

    Example:
        ```python
        clock = VirtualClock()
        await clock.sleep(30)   # returns at once, with clock() == 30.0
        ```

    Args:
        start: The time to start at, in seconds.
        auto_advance: ``False`` leaves time alone until `advance()` is called, for
            tests that move it step by step.
    """

    def __init__(self, start: float = 0.0, *, auto_advance: bool = True) -> None:
        if not math.isfinite(start):
            raise ValueError(f"start must be a finite number of seconds, got {start!r}")
        self._now = float(start)
        self._auto_advance = auto_advance
        self._sleepers: list[_Sleeper] = []  # a heap, earliest deadline first
        self._order = itertools.count()
        self._idle_passes = 0
        self._handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.sleeps: list[float] = []
        """Every duration passed to `sleep()`, in call order (for assertions)."""

    def __call__(self) -> float:
        """The current virtual time, in seconds."""
        return self._now

    @property
    def now(self) -> float:
        """The current virtual time, in seconds (same as calling the clock)."""
        return self._now

    @property
    def waiting(self) -> int:
        """How many sleeps are pending."""
        return len(self._sleepers)

    def __repr__(self) -> str:
        return f"<VirtualClock now={self._now!r} waiting={len(self._sleepers)}>"

    def advance(self, seconds: float) -> None:
        """Move time forward and wake the sleepers whose deadline has come.

        Raises:
            ValueError: ``seconds`` is negative or not a number.
        """
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
        self._now += seconds
        self._wake_due()
        if not self._sleepers:
            self._cancel_jump()

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock reaches ``now + seconds``; ``sleep(0)`` just yields."""
        self.sleeps.append(seconds)
        if not seconds > 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        sleeper: _Sleeper = (self._now + seconds, next(self._order), future)
        heapq.heappush(self._sleepers, sleeper)
        self._schedule_jump(loop)
        try:
            await future
        finally:
            if future.cancelled():
                self._forget(sleeper)

    # -- auto-advance ---------------------------------------------------------------------

    def _schedule_jump(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._auto_advance:
            return
        # A new sleeper means tasks are still busy: wait for a quiet stretch again.
        self._idle_passes = _IDLE_PASSES
        if self._handle is not None and self._loop is loop:
            return
        self._cancel_jump()
        self._loop = loop
        self._handle = loop.call_soon(self._tick)

    def _tick(self) -> None:
        self._handle = None
        loop = self._loop
        if not self._sleepers or loop is None:
            return
        if _busy(loop):
            # Other callbacks are ready: tasks are still working (say, through a chain of
            # in-memory requests). Time must not move under them.
            self._idle_passes = _IDLE_PASSES
            self._handle = loop.call_soon(self._tick)
            return
        if self._idle_passes > 0:
            self._idle_passes -= 1
            self._handle = loop.call_soon(self._tick)
            return
        deadline = self._sleepers[0][0]
        if math.isinf(deadline):
            return  # everyone sleeps forever: nothing to jump to until a new sleep
        self._now = max(self._now, deadline)
        self._wake_due()
        if self._sleepers:
            self._idle_passes = _IDLE_PASSES
            self._handle = loop.call_soon(self._tick)

    def _wake_due(self) -> None:
        # Waking in heap order makes the tasks resume in deadline order.
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def _forget(self, sleeper: _Sleeper) -> None:
        try:
            self._sleepers.remove(sleeper)
        except ValueError:
            pass  # already popped by a wake-up that raced with the cancellation
        else:
            heapq.heapify(self._sleepers)
        if not self._sleepers:
            self._cancel_jump()

    def _cancel_jump(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
