"""A client-wide circuit breaker: during an outage, one probe instead of a flood.

Retries with backoff protect one call. They do not protect the API from thousands of
concurrent calls (waiters, sweeps, a service's own traffic), each retrying on its own
schedule: together they multiply an outage into a request storm. The breaker counts
consecutive failures across the whole client (5xx, connection errors, timeouts, garbled
bodies). Past a threshold it *opens*: requests are held back, sent nowhere, until a
cool-down passes. Then exactly one request goes through as a *probe*: its success
closes the breaker and every request held behind it goes at once; its failure re-opens
the breaker for twice as long (up to a cap; the exponent is capped before it is
computed, so a week-long outage is no different from a minute-long one).

Callers that may retry wait in line: for the cool-down, then behind the probe, each
within its own deadline; a call that would have to wait past its deadline (or that may
not retry) fails at once with [`CircuitOpenError`][powerpost_async.CircuitOpenError],
which is safe to retry later since nothing was sent.
"""

from __future__ import annotations

import asyncio
import logging

from ._exceptions import CircuitOpenError
from ._policy import BREAKER_BACKOFF, Backoff
from ._timing import Clock, Sleep, sleep_until_done

__all__ = ["CircuitBreaker"]

logger = logging.getLogger("powerpost_async")


class CircuitBreaker:
    """Consecutive-failure circuit breaker with a single half-open probe.

    Args:
        clock: Monotonic clock in seconds.
        sleep: Async sleep (injectable for virtual time).
        threshold: Consecutive failures that open the breaker.
        backoff: The cool-down after each opening (the first, then after each failed
            probe).
    """

    def __init__(
        self,
        clock: Clock,
        sleep: Sleep,
        *,
        threshold: int = 10,
        backoff: Backoff = BREAKER_BACKOFF,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._threshold = threshold
        self._backoff = backoff
        self._failures = 0
        self._openings = 0
        self._probing = False
        # Resolved when the probe ends, however it ends: those waiting behind it look again.
        self._verdict: asyncio.Future[None] | None = None
        #: Until when requests are held back; 0.0 while closed (the fast path tests only this).
        self.open_until = 0.0

    def remaining_cooldown(self) -> float:
        """Seconds before a probe may go (0 while closed, or once the cool-down ended)."""
        if not self.open_until:
            return 0.0
        return max(0.0, self.open_until - self._clock())

    async def admit(self, limit: float, *, may_wait: bool) -> bool:
        """Let a request through, waiting in line if allowed.

        Args:
            limit: The latest instant the caller may be held until (``inf``: no limit).
            may_wait: Whether to wait at all; if not, an open breaker refuses at once.

        Returns:
            ``True`` if this request is the probe: it must then end in `success()`,
            `failure()` or `abandon()`.

        Raises:
            CircuitOpenError: Open, and the caller may not wait (that long).
        """
        # Bounded: each pass returns, raises, or waits for a later instant (the end of
        # the cool-down) or for the probe's verdict; ``limit`` bounds both waits.
        while self.open_until:
            now = self._clock()
            if not self._probing and now >= self.open_until:
                self._probing = True
                self._verdict = asyncio.get_running_loop().create_future()
                return True
            if self._probing:
                verdict = self._verdict
                if not may_wait or now >= limit or verdict is None:
                    raise self._refusal(0.0, "a probe is testing the API")
                await sleep_until_done(verdict, limit - now, self._sleep)
                continue
            wait = self.open_until - now
            if not may_wait or self.open_until > limit:
                raise self._refusal(wait, "one probe will then test it")
            await self._sleep(wait)
        return False

    def _refusal(self, wait: float, then: str) -> CircuitOpenError:
        return CircuitOpenError(
            f"the API failed {self._failures} times in a row; the client is holding "
            f"requests back for {wait:.1f} s more ({then})",
            retry_after=wait,
        )

    def success(self) -> None:
        """The API answered (any status that shows it is up): close the breaker."""
        if self._failures or self.open_until:
            if self.open_until:
                logger.info("circuit closed: the API answers again")
            self._failures = 0
            self._openings = 0
            self._probing = False
            self.open_until = 0.0
            self._settle()

    def failure(self) -> None:
        """The API failed (5xx, no answer, garbled answer)."""
        self._failures += 1
        if self._probing or (not self.open_until and self._failures >= self._threshold):
            self._probing = False
            cooldown = self._backoff.delay(self._openings)
            if not self._openings:
                logger.warning(
                    "circuit open after %d consecutive failures: holding requests back "
                    "for %.1f s, then one probe tests the API",
                    self._failures,
                    cooldown,
                )
            else:
                logger.debug("probe failed: holding requests back for %.1f s more", cooldown)
            self._openings += 1
            self.open_until = self._clock() + cooldown
            self._settle()

    def abandon(self) -> None:
        """The probe ended without a verdict (cancelled): let another request probe."""
        self._probing = False
        self._settle()

    def _settle(self) -> None:
        verdict, self._verdict = self._verdict, None
        if verdict is not None and not verdict.done():
            verdict.set_result(None)
