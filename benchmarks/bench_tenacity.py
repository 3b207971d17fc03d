"""What one pass through ``tenacity.AsyncRetrying`` costs when nothing fails.

Context for the client's design: ``PowerPost._send`` sends once and only builds a
tenacity loop after a retryable failure, so a successful request never pays this. The
numbers say what it would cost if it did. In process, no server:

* a plain ``await`` of a trivial coroutine (the floor);
* ``AsyncRetrying`` built per call, configured like the SDK's retry loop (stop after 3
  attempts, a wait callback, a retry predicate, ``reraise``), one successful attempt;
* the same with one ``AsyncRetrying`` reused across calls (saves the construction).
"""

from __future__ import annotations

import tenacity

from ._core import Context, Result, Variant, alternate

NAME = "tenacity"
TITLE = "tenacity overhead, no failure"
ORDER = 50
NEEDS_SERVER = False

PLAIN = "plain await"


async def _work() -> int:
    return 1


def _wait(state: tenacity.RetryCallState) -> float:
    return 0.0


def _retrying() -> tenacity.AsyncRetrying:
    return tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(3),
        wait=_wait,
        retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, ConnectionError)),
        reraise=True,
    )


async def run(ctx: Context) -> list[Result]:
    """``ctx.records / 5`` calls per round of each variant, alternating."""
    calls = max(1, ctx.records // 5)  # tens of µs a pass: a fifth keeps rounds short

    async def plain() -> int:
        done = 0
        for _ in range(calls):
            done += await _work()
        return done

    async def per_call() -> int:
        done = 0
        for _ in range(calls):
            async for attempt in _retrying():
                with attempt:
                    done += await _work()
        return done

    shared = _retrying()

    async def reused() -> int:
        done = 0
        for _ in range(calls):
            async for attempt in shared:
                with attempt:
                    done += await _work()
        return done

    def result(variant: str, baseline: str | None = None) -> Result:
        return Result(NAME, variant, "time", "µs/call", baseline=baseline)

    return await alternate(
        ctx,
        [
            Variant(result(PLAIN), plain),
            Variant(result("AsyncRetrying, built per call", baseline=PLAIN), per_call),
            Variant(result("AsyncRetrying, reused", baseline=PLAIN), reused),
        ],
    )
