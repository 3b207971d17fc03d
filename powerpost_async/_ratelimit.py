"""The client-wide rate-limit gate: a 429's pause, then a paced release.

A 429 slows the whole client, not just the request that got it: nothing is sent before
the hinted instant. When the pause ends, the requests it held are not all let out in
the same instant (200 held GETs against a limit of 20 per second would earn 180 more
429s): the gate releases them *paced*, a window at a time:

* from the server's own figures when it sends them: ``X-RateLimit-Limit`` requests per
  window, ``X-RateLimit-Remaining`` left in this one, until ``X-RateLimit-Reset`` (Unix
  seconds, read against the response's ``Date`` header, so that the two clocks agree);
* without them, by slow start: 1 request in the first window (as long as the pause
  was, at least a second), twice as many in each next one, half as many after a 429.

An explicit hint (``Retry-After``, ``error.retryAfter``) says when the *next* request
may go, and it does: the window that opens when the pause ends lets at least one
request through, even if ``Remaining`` is 0 until a later ``Reset`` (a sliding-window
server frees one slot long before its whole window resets). The figures pace what
follows. A hint of 0 means "go now": no pause and no pacing, unless the figures say
``Remaining`` 0 until a ``Reset`` still ahead.

Nothing silences the client for longer than `MAX_PAUSE`: no window lasts longer, and
every window the gate opens itself lets at least one request through, even after
``X-RateLimit-Limit: 0``.

Pacing ends at the first window that ends with requests to spare and nobody held, and
the client is back on its fast path, where the gate costs one attribute test.

Every wait here respects the caller's ``limit`` (the latest instant it may be held
until): a pause or a window that would hold it longer raises
[`RateLimitError`][powerpost_async.RateLimitError] at once, with ``retry_after`` set.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Final

from ._exceptions import RateLimitError
from ._timing import Clock, Sleep, sleep_until_done

__all__ = ["MAX_PAUSE", "RateLimitGate", "http_date", "integer_header", "number_header"]

logger = logging.getLogger("powerpost_async")

#: The longest a single hint can gate the client (a buggy ``retryAfter: 1e9`` must not
#: silence it for years): once it passes, one request asks again. Also the longest a
#: window of the paced release lasts.
MAX_PAUSE: Final = 900.0
#: The shortest window of the paced release.
MIN_WINDOW: Final = 0.1
#: Slow start never grows past this many requests per window.
MAX_SLOW_START: Final = 1 << 16


class RateLimitGate:
    """The 429 pause and the paced release after it (see the module docstring).

    Args:
        clock: Monotonic clock, in seconds.
        sleep: Async sleep (injectable for virtual time).
        ceiling: The longest pause a hint may impose.
        wall: Wall clock, in Unix seconds, when a response has no ``Date`` header.
    """

    def __init__(
        self, clock: Clock, sleep: Sleep, *, ceiling: float = MAX_PAUSE, wall: Clock = time.time
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._ceiling = ceiling
        #: Nothing goes before this instant (0.0: no pause). Read on the fast path.
        self.pause_until = 0.0
        #: ``True`` while requests are released paced. Read on the fast path.
        self.paced = False
        # The current window of the paced release: requests left, and when it ends.
        self._tokens = 0
        self._window_end = 0.0
        self._window = 1.0  # how long a window lasts, as last learnt
        self._limited_in_window = False
        # An explicit hint's pause is running: the window opening when it ends owes one
        # request, whatever the server's figures say.
        self._hint_owed = False
        self._slow_start = 1  # requests per window when the server gives no figures
        # The server's own figures, from the latest response that carried them.
        self._limit: int | None = None
        self._server_reset = 0.0  # monotonic
        self._server_remaining = 0
        self._held = 0  # callers inside admit() right now
        # How many requests the current window opened with, and what admit()'s sleepers
        # wait on besides the clock: a window that opened with figures that no longer
        # hold is widened by a fresher answer, a hint moves the window's end, and they
        # must hear of it at once.
        self._opened_with = 0
        self._widened: asyncio.Future[None] | None = None
        #: The headers of the latest response with rate-limit figures (for
        #: ``PowerPost.rate_limit``, parsed only when read).
        self.last_quota_headers: Mapping[str, str] | None = None

    @property
    def engaged(self) -> bool:
        """Whether a request must go through `admit()` (a pause, or pacing)."""
        return self.paced or self.pause_until > 0.0

    def remaining_pause(self) -> float:
        """Seconds before anything may be sent (0 when nothing holds requests back)."""
        if not self.engaged:
            return 0.0
        now = self._clock()
        until = self.pause_until
        if self.paced and self._tokens <= 0 and now < self._window_end:
            until = max(until, self._window_end)
        return max(0.0, until - now)

    # -- what the responses say -----------------------------------------------------------

    def rate_limited(self, retry_after: float | None, headers: Mapping[str, str]) -> float:
        """A 429 arrived: pause the client and pace what follows. Returns the pause set.

        ``retry_after`` is the 429's hint in seconds (``None``: it gave none). A 429
        that says neither how long to wait nor what the quota is gives nothing to pace
        by: the request that got it backs off on its own, as after any failure. Nor does
        a hint of 0 ("go now"), unless the figures say nothing is left until a later
        reset.
        """
        now = self._clock()
        quota = _quota(headers, now, self._wall)
        if retry_after is None and quota is None:
            return 0.0
        exhausted = quota is not None and quota[1] == 0 and quota[2] > now
        if retry_after is not None and retry_after <= 0.0 and not exhausted:
            # "Go now": slow start after it would turn 200 gets of 0.1 s into 7 s.
            return 0.0
        pause = min(retry_after if retry_after is not None else 0.0, self._ceiling)
        self.pause_until = max(self.pause_until, now + pause)
        if self.paced:
            self._slow_start = max(1, self._slow_start // 2)
        else:
            # A new episode: what earlier ones taught about windows may no longer hold.
            self.paced = True
            self._slow_start = 1
            self._window = min(max(pause, 1.0), 60.0)
            logger.info(
                "rate limited (429): holding every request back for %.1f s, then "
                "releasing them paced",
                pause,
            )
        self._limited_in_window = True
        if quota is not None:
            # The 429's own figures overrule what earlier answers said.
            limit, remaining, reset = quota
            if limit is not None:
                self._limit = limit
            self._server_reset, self._server_remaining = reset, remaining
            if reset > now:
                self._window = max(self._window, min(reset - now, MAX_PAUSE))
        # Nothing more until the pause ends.
        self._tokens = 0
        if retry_after is not None or self._hint_owed:
            # The hint names the instant the next request may go: a window opens then,
            # owing it one request, even if the server's reset is later.
            self._hint_owed = True
            self._window_end = self.pause_until
        else:
            # No hint: wait for the server's window to reset.
            reset_at = self._server_reset if self._server_reset > now else 0.0
            self._window_end = max(self.pause_until, reset_at, now + MIN_WINDOW)
        # Whoever sleeps for the window that was (a server's reset a minute away) wakes
        # and follows the new plan (a hint's second).
        self._wake()
        return pause

    def observe(self, headers: Mapping[str, str]) -> bool:
        """Take the server's figures (while pacing). Returns whether there were any."""
        now = self._clock()
        quota = _quota(headers, now, self._wall)
        if quota is None:
            return False
        limit, remaining, reset = quota
        if limit is not None:
            self._limit = limit
        if reset > now:
            # A window lasts at least as long as any wait for a reset we were told of.
            self._window = max(self._window, min(reset - now, MAX_PAUSE))
        if abs(reset - self._server_reset) <= _SAME_WINDOW:
            self._server_remaining = min(self._server_remaining, remaining)
        elif reset > self._server_reset:
            self._server_reset, self._server_remaining = reset, remaining
        if now < self._window_end and reset > now:
            if (
                remaining > self._opened_with
                and limit is not None
                and limit > self._opened_with
                and not self._limited_in_window
            ):
                # The window opened from figures that no longer hold (the tail of a
                # `Limit: 0` episode, slow start): a fresh answer says the server has
                # room now. Follow it until its reset, and wake whoever waits.
                self._tokens = max(self._tokens, remaining)
                self._opened_with = remaining
                self._window_end = min(self._window_end, reset)
                self._wake()
            else:
                # No more than the server allows until its reset. (If its window
                # outlasts ours, the next of ours starts from its figures: see
                # _next_window.)
                self._tokens = min(self._tokens, remaining)
        return True

    def _wake(self) -> None:
        widened, self._widened = self._widened, None
        if widened is not None and not widened.done():
            widened.set_result(None)

    # -- letting requests through ---------------------------------------------------------

    async def admit(self, limit: float) -> None:
        """Wait until a request may go; ``limit`` is the latest instant to wait until.

        Raises:
            RateLimitError: The pause (or the next window) ends after ``limit``.
        """
        self._held += 1
        try:
            # Bounded: every pass returns, raises, or sleeps until an instant strictly
            # later (the pause's end or the window's), and ``limit`` bounds those.
            while True:
                now = self._clock()
                until = self.pause_until
                if now < until:
                    _check_wait(until, now, limit, "the API asked to wait")
                    await self._sleep(until - now)
                    continue
                self.pause_until = 0.0
                if not self.paced:
                    return
                if now >= self._window_end and not self._next_window(now):
                    return  # pacing ended
                if self._tokens > 0:
                    self._tokens -= 1
                    return
                until = self._window_end
                _check_wait(until, now, limit, "requests are being released paced")
                # Until the window ends, or a fresher answer widens it (see observe).
                if self._widened is None:
                    self._widened = asyncio.get_running_loop().create_future()
                await sleep_until_done(self._widened, until - now, self._sleep)
        finally:
            self._held -= 1

    def _next_window(self, now: float) -> bool:
        """Open the next window; ``False`` if pacing ends instead."""
        if self._tokens > 0 and not self._limited_in_window and self._held <= 1:
            # The last window had requests to spare and nobody else waits: demand fits
            # within the limit again. Back to the fast path.
            self.paced = False
            self._tokens = 0
            self._hint_owed = False
            logger.info("rate limit: requests go out freely again")
            return False
        if self._limit is None and not self._limited_in_window:
            self._slow_start = min(MAX_SLOW_START, self._slow_start * 2)
        self._limited_in_window = False
        if self._server_reset > now + MIN_WINDOW:
            # The server already told us about the window we are in (it ends within
            # MAX_PAUSE: _quota caps every reset).
            self._window_end = self._server_reset
            self._tokens = self._server_remaining
        else:
            self._window_end = now + self._window
            # At least one: a window of none (``X-RateLimit-Limit: 0``) would open
            # another of none, and so on for ever, and nobody would ask the server again.
            self._tokens = max(1, self._limit if self._limit is not None else self._slow_start)
        if self._hint_owed:
            self._hint_owed = False
            self._tokens = max(1, self._tokens)
        self._opened_with = self._tokens
        return True


_SAME_WINDOW: Final = 0.5


def _check_wait(until: float, now: float, limit: float, why: str) -> None:
    if until > limit:
        wait = until - now
        raise RateLimitError(
            f"the client is rate limited: {why}, {wait:.1f} s more, longer than this "
            "call may wait (its timeout, or max_retry_after)",
            code="RATE_LIMIT_EXCEEDED",
            retry_after=wait,
        )


def _quota(
    headers: Mapping[str, str], now: float, wall: Clock
) -> tuple[int | None, int, float] | None:
    """(limit, remaining, reset on the monotonic clock) from the rate-limit headers."""
    remaining = integer_header(headers.get("x-ratelimit-remaining"))
    reset = number_header(headers.get("x-ratelimit-reset"))
    if remaining is None or reset is None:
        return None
    server_now = http_date(headers.get("date"))
    if server_now is None:
        server_now = wall()
    # Date is whole seconds, rounded down: this over-estimates the wait, never under.
    until = max(0.0, reset - server_now)
    return integer_header(headers.get("x-ratelimit-limit")), remaining, now + min(until, MAX_PAUSE)


def integer_header(value: str | None) -> int | None:
    """A header's non-negative integer (at most 12 digits), or ``None``."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def number_header(value: str | None) -> float | None:
    """A header's finite non-negative number, or ``None``."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def http_date(value: str | None) -> float | None:
    """An HTTP-date header (``Date``, ``Retry-After``) in Unix seconds, or ``None``."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return when.timestamp()
