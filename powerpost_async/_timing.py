"""Deadlines and interruptible sleeps, on the client's injectable clock and sleep."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Clock", "Sleep", "sleep_until_done"]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


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
