"""The retry policy: what is transient, what may be sent again, and how long to wait.

No I/O and nothing awaited: the client's retry loop, the poller, the sweeper and the
circuit breaker all ask these questions here, so they can never disagree.

* `is_transient`: a failure worth trying again later (no answer, a garbled answer,
  429, 500/502/503/504).
* `about_the_client`: an error about the client itself (its key, its scopes), which
  ends every wait of that client and nothing else.
* `may_resend`: whether a failed request may go again: transient, and either safe to
  repeat (a read) or surely not carried out (refused before it was sent, or a 429,
  which the API answers before doing any work). A create that may have reached the
  server is never sent twice.
* `Backoff`: one jittered exponential backoff whose exponent is capped *before* the
  power is computed, so the ten-thousandth attempt of a week-long wait costs the same
  arithmetic as the tenth, and can never overflow.
"""

from __future__ import annotations

import math
import random
from typing import Final

import attrs

from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    MalformedResponseError,
    RateLimitError,
)

__all__ = [
    "BREAKER_BACKOFF",
    "RETRYABLE_STATUS",
    "RETRY_BACKOFF",
    "Backoff",
    "about_the_client",
    "is_transient",
    "may_resend",
    "poll_backoff",
    "surely_not_received",
]

#: HTTP statuses after which a read is tried again.
RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    """Worth trying again later: network trouble, a garbled answer, 429, 500/502/503/504.

    Anything else (400, 401, 403, 404, 501, a body that is JSON but not our model...)
    would fail the same way again.
    """
    if isinstance(error, (APIConnectionError, MalformedResponseError)):
        return True
    return isinstance(error, APIStatusError) and error.status_code in RETRYABLE_STATUS


def about_the_client(error: BaseException) -> bool:
    """An error about the client itself (its key or its scopes: 401, 403), not about
    what it asked for: whatever this client asks will fail the same way."""
    return isinstance(error, APIStatusError) and error.status_code in (401, 403)


def surely_not_received(error: BaseException) -> bool:
    """The request surely did nothing: refused before it left, or answered 429."""
    if isinstance(error, RateLimitError):
        return True  # the API rejects before doing any work
    return isinstance(error, APIConnectionError) and not error.request_sent


def may_resend(error: BaseException, *, idempotent: bool) -> bool:
    """Whether a request that failed with ``error`` may be sent again.

    Args:
        error: What the last attempt raised.
        idempotent: Sending it twice does no harm (a GET). ``False`` for a create: it
            costs credits and the API has no idempotency key, so it goes again only if
            it `surely_not_received` anything.
    """
    if not is_transient(error):
        return False
    return idempotent or surely_not_received(error)


@attrs.frozen
class Backoff:
    """A jittered exponential backoff, capped.

    The pause before retry ``n`` (0 for the first) is
    ``min(maximum, initial * factor ** min(n, exponent_cap)) * uniform(*jitter)``,
    capped again at ``maximum``. ``exponent_cap`` is the first exponent at which the
    power reaches ``maximum``: the exponent is capped before the power is computed.

    Attributes:
        initial: The first pause, in seconds (before jitter).
        maximum: The longest pause.
        factor: Growth per attempt (>= 1).
        jitter: ``(low, high)`` multipliers the pause is drawn between, e.g. ``(0, 1)``
            for "full jitter", ``(0.8, 1.2)`` for +/-20 %.
    """

    initial: float
    maximum: float
    factor: float = 2.0
    jitter: tuple[float, float] = (1.0, 1.0)
    exponent_cap: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum) or math.isinf(self.maximum):
            raise ValueError(
                f"a backoff needs 0 < initial <= maximum < inf, got {self.initial}, {self.maximum}"
            )
        if not self.factor >= 1.0 or math.isinf(self.factor):
            raise ValueError(f"a backoff's factor must be finite and >= 1, got {self.factor}")
        low, high = self.jitter
        if not 0.0 <= low <= high or math.isinf(high):
            raise ValueError(f"jitter must be 0 <= low <= high < inf, got {self.jitter}")
        cap = 0
        if self.factor > 1.0:
            cap = max(0, math.ceil(math.log(self.maximum / self.initial, self.factor)))
        object.__setattr__(self, "exponent_cap", cap)

    def base(self, attempt: int) -> float:
        """The pause before retry ``attempt`` without jitter: never overflows."""
        exponent = min(max(attempt, 0), self.exponent_cap)
        return min(self.maximum, self.initial * self.factor**exponent)

    def delay(self, attempt: int) -> float:
        """The jittered pause before retry ``attempt`` (0 for the first retry).

        Jitter comes from the `random` module, so ``random.seed()`` makes runs repeat.
        """
        low, high = self.jitter
        draw = random.uniform(low, high) if high > low else low
        return min(self.maximum, self.base(attempt) * draw)


#: The client's retries: full jitter, 0.5 s doubling to 8 s.
RETRY_BACKOFF: Final = Backoff(0.5, 8.0, 2.0, (0.0, 1.0))
#: The circuit breaker's cool-down: 1 s doubling to 30 s, +/-20 % so clients don't sync.
BREAKER_BACKOFF: Final = Backoff(1.0, 30.0, 2.0, (0.8, 1.2))


def poll_backoff(interval: float, max_interval: float) -> Backoff:
    """Polling one id: ``interval`` x 1.5 per poll, up to +25 % jitter, capped."""
    return Backoff(interval, max_interval, 1.5, (1.0, 1.25))
