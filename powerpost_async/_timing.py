"""Deadlines and interruptible sleeps, on the client's injectable clock and sleep."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Clock", "Sleep", "deadline_after", "seconds_left", "sleep_until_done"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def deadline_after(clock: Clock, timeout: float | None) -> float | None:
    """The instant ``timeout`` seconds from now on ``clock`` (``None``: no deadline)."""
    return None if timeout is None else clock() + timeout


def seconds_left(clock: Clock, deadline: float | None) -> float:
    """Seconds until ``deadline`` (``inf`` without one; negative once it passed)."""
    return math.inf if deadline is None else deadline - clock()


async def sleep_until_done(future: asyncio.Future[Any], seconds: float, sleep: Sleep) -> None:
    """Sleep ``seconds`` with ``sleep`` (virtual time works), waking early once ``future``
    is done. ``seconds`` may be ``inf``: then only the future ends it.

    Nothing is left behind: the sleeper is cancelled and awaited, and the callback
    `asyncio.wait` put on ``future`` is removed when it returns.
    """
    if future.done():
        return
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    if math.isinf(seconds):
        await asyncio.wait({future})
        return
    sleeper = asyncio.ensure_future(sleep(seconds))
    try:
        await asyncio.wait({sleeper, future}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not sleeper.done():
            sleeper.cancel()
            # asyncio.wait, not `await sleeper`: a cancellation of our own caller arriving
            # now must propagate, not be mistaken for the sleeper's and swallowed.
            await asyncio.wait({sleeper})
