"""A client-wide circuit breaker: during an outage, one probe instead of a flood.

Retries with backoff protect one call. They do not protect the API from thousands of
concurrent calls (waiters, sweeps, a service's own traffic), each retrying on its own
schedule: together they multiply an outage into a request storm. The breaker counts
consecutive failures across the whole client (5xx, connection errors, timeouts, garbled
bodies). Past a threshold it *opens*: requests fail at once with
[`CircuitOpenError`][powerpost_async.CircuitOpenError] (never sent, so safe for any caller to retry
later) until a cool-down passes. Then exactly one request goes through as a *probe*:
its success closes the breaker, its failure re-opens it for twice as long (up to a cap).

So while the API answers 503 to everything, the client sends about one request per
cool-down, whatever the number of callers; when it recovers, traffic resumes at once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from ._exceptions import CircuitOpenError

__all__ = ["CircuitBreaker"]

logger = logging.getLogger("powerpost_async")


class CircuitBreaker:
    """Consecutive-failure circuit breaker with a single half-open probe.

    Args:
        clock: Monotonic clock in seconds.
        threshold: Consecutive failures that open the breaker.
        cooldown: Seconds the first opening lasts; each failed probe doubles it.
        max_cooldown: Longest cool-down.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        threshold: int = 10,
        cooldown: float = 1.0,
        max_cooldown: float = 30.0,
    ) -> None:
        self._clock = clock
        self._threshold = threshold
        self._cooldown = cooldown
        self._max_cooldown = max_cooldown
        self._failures = 0
        self._openings = 0
        self._probing = False
        #: Until when requests are refused; 0.0 while closed (the fast path tests only this).
        self.open_until = 0.0

    def admit(self) -> bool:
        """Let a request through, or raise [`CircuitOpenError`][powerpost_async.CircuitOpenError].

        Returns:
            ``True`` if this request is the probe: it must then end in `success()`,
            `failure()` or `abandon()`.
        """
        if not self.open_until:
            return False
        wait = self.open_until - self._clock()
        if wait > 0 or self._probing:
            raise CircuitOpenError(
                f"the API failed {self._failures} times in a row; the client is holding "
                f"requests back for {max(wait, 0.0):.1f} s more (one probe will then test it)",
                retry_after=max(wait, 0.0),
            )
        self._probing = True
        return True

    def success(self) -> None:
        """The API answered (any status that shows it is up): close the breaker."""
        if self._failures or self.open_until:
            if self.open_until:
                logger.info("circuit closed: the API answers again")
            self._failures = 0
            self._openings = 0
            self._probing = False
            self.open_until = 0.0

    def failure(self) -> None:
        """The API failed (5xx, no answer, garbled answer)."""
        self._failures += 1
        if self._probing or (not self.open_until and self._failures >= self._threshold):
            self._probing = False
            cooldown = self._cooldown * 2**self._openings * random.uniform(0.8, 1.2)
            cooldown = min(self._max_cooldown, cooldown)  # jittered so clients don't sync up
            self._openings += 1
            self.open_until = self._clock() + cooldown
            logger.warning(
                "circuit open after %d consecutive failures: holding requests back for %.1f s",
                self._failures,
                cooldown,
            )

    def abandon(self) -> None:
        """The probe ended without a verdict (cancelled): let another request probe."""
        self._probing = False
