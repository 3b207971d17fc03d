"""When an awaited id is looked at next: the one place that decides it. No I/O but a sleep.

A poller (one id) and the sweeper (every swept id) each keep a `Pace`: when they last
looked, how many looks in a row found nothing new, and when the next look is *due*. The
due instant is recomputed whenever one of its inputs changes, and the loop sleeping for
it wakes then:

* **after a look**: the backoff of the callers present (their shortest ``interval``,
  growing 1.5x per quiet look up to their shortest ``max_interval``);
* **a caller joins**: it gets the look it would get alone, soon (`first_look`): at once
  if the id was never looked at, else one ``interval`` after the last look, and never
  later than halfway to its deadline; the backoff starts over;
* **a caller leaves**: the plan is recomputed from the callers that remain;
* **deadlines**: a loop never sleeps past the latest deadline of its callers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from powerpost_async._timing import Clock, Sleep, sleep_until_done

__all__ = ["Pace", "first_look"]


def first_look(now: float, last: float | None, interval: float, deadline: float | None) -> float:
    """When a caller joining at ``now`` wants its first look (see the module docstring).

    A look that started less than ``interval`` ago counts as its first, as long as its
    deadline leaves room: its second would come one interval later anyway.
    """
    if last is None:
        return now
    due = last + interval
    if deadline is not None:
        due = min(due, now + max(0.0, deadline - now) / 2)
    return max(now, due)


class Pace:
    """The plan of one looking loop: when the next look is due (see the module docstring).

    Attributes:
        last: When the last look started (``None``: never).
        quiet: Looks since the backoff last started over.
        due: When the next look is due (clock time).
    """

    __slots__ = ("_asked", "_waiter", "due", "last", "quiet")

    def __init__(self, due: float = -math.inf) -> None:
        self.last: float | None = None
        self.quiet = 0
        self.due = due
        # The earliest look asked for (by callers joining) since the current look began:
        # the look under way may not have covered them.
        self._asked = math.inf
        self._waiter: asyncio.Future[None] | None = None

    def begin(self, now: float) -> None:
        """A look starts now."""
        self.last = now
        self._asked = math.inf

    def looked(self, now: float, pause: float) -> None:
        """The look is over: the next is due ``pause`` from now, or sooner if a caller
        that joined meanwhile asked for it."""
        self.due = min(now + pause, self._asked)
        self._asked = math.inf
        self.quiet += 1

    def restart(self) -> None:
        """Start the backoff over (a caller joined, a look found something)."""
        self.quiet = 0

    def bring_forward(self, due: float) -> None:
        """Make the next look due no later than ``due``, and wake the loop to see it."""
        self._asked = min(self._asked, due)
        if due < self.due:
            self.due = due
            self.wake()

    def replan(self, due: float) -> None:
        """Make the next look due at ``due`` (earlier or later), and wake the loop."""
        if due != self.due:
            self.due = due
            self.wake()

    def wake(self) -> None:
        """Wake the loop sleeping for this plan: it recomputes what to do."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def sleep_until_due(
        self, clock: Clock, sleep: Sleep, limit: Callable[[], float | None]
    ) -> None:
        """Sleep until the look is due or ``limit()`` (the latest deadline) passes,
        following the plan and the deadline as they change meanwhile."""
        while True:
            latest = limit()
            until = self.due if latest is None else min(self.due, latest)
            left = until - clock()
            if left <= 0:
                return
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await sleep_until_done(waiter, left, sleep)
            finally:
                self._waiter = None
