"""VirtualClock: virtual time for sleeps, auto-advancing when every task sleeps."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from powerpost_async.testing import VirtualClock


async def _passes(n: int) -> None:
    """Let the event loop run ``n`` passes."""
    for _ in range(n):
        await asyncio.sleep(0)


def test_starts_at_start_and_reads_like_a_clock() -> None:
    assert VirtualClock()() == 0.0
    clock = VirtualClock(start=100.5)
    assert clock() == clock.now == 100.5
    assert clock.waiting == 0
    assert clock.sleeps == []
    assert "now=100.5" in repr(clock)


@pytest.mark.parametrize("start", [math.inf, math.nan])
def test_start_must_be_finite(start: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        VirtualClock(start=start)


async def test_sleep_auto_advances_to_the_deadline() -> None:
    clock = VirtualClock()
    await clock.sleep(30)
    assert clock() == 30.0
    await clock.sleep(2.5)
    assert clock() == 32.5
    assert clock.sleeps == [30, 2.5]
    assert clock.waiting == 0


@pytest.mark.parametrize("seconds", [0, 0.0, -1.0])
async def test_sleep_zero_or_negative_only_yields(seconds: float) -> None:
    clock = VirtualClock(start=7.0)
    other_ran = []

    async def other() -> None:
        other_ran.append(True)

    task = asyncio.create_task(other())
    await clock.sleep(seconds)
    assert other_ran == [True]  # the sleep let the other task run
    assert clock() == 7.0
    assert clock.sleeps == [seconds]
    await task


async def test_concurrent_sleepers_wake_in_deadline_order() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock()))

    await asyncio.gather(sleeper("c", 3), sleeper("a", 1), sleeper("b", 2))
    assert woke == [("a", 1.0), ("b", 2.0), ("c", 3.0)]


async def test_equal_deadlines_wake_in_call_order() -> None:
    clock = VirtualClock()
    woke: list[int] = []

    async def sleeper(n: int) -> None:
        await clock.sleep(5)
        woke.append(n)

    await asyncio.gather(*(sleeper(n) for n in range(10)))
    assert woke == list(range(10))
    assert clock() == 5.0


async def test_many_random_sleepers_wake_sorted_and_time_never_goes_back() -> None:
    clock = VirtualClock()
    rng = random.Random(7)
    durations = [rng.uniform(0.001, 100) for _ in range(300)]
    seen: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        seen.append(clock())

    await asyncio.gather(*(sleeper(d) for d in durations))
    assert seen == sorted(seen)
    assert seen == sorted(durations)
    assert clock() == max(durations)


async def test_each_sleeper_sees_exactly_its_deadline_when_chained() -> None:
    clock = VirtualClock()
    stamps: list[float] = []

    async def poller() -> None:
        for _ in range(5):
            await clock.sleep(2)
            stamps.append(clock())

    await poller()
    assert stamps == [2.0, 4.0, 6.0, 8.0, 10.0]


async def test_ready_tasks_run_before_the_clock_jumps() -> None:
    """A task busy for a few loop passes gets to register its sleep before the jump."""
    clock = VirtualClock()
    woke: list[str] = []

    async def long_sleeper() -> None:
        await clock.sleep(10)
        woke.append("long")

    async def busy_then_short() -> None:
        await _passes(4)  # like an in-memory request or two
        await clock.sleep(1)
        woke.append("short")

    await asyncio.gather(long_sleeper(), busy_then_short())
    assert woke == ["short", "long"]
    assert clock() == 10.0


async def test_advance_moves_time_and_wakes_due_sleepers() -> None:
    clock = VirtualClock(auto_advance=False)
    task = asyncio.create_task(clock.sleep(5))
    await _passes(20)
    assert not task.done()  # no auto-advance: time waits for us
    assert clock.waiting == 1

    clock.advance(3)
    await _passes(2)
    assert not task.done()
    assert clock() == 3.0

    clock.advance(2)
    await task
    assert clock() == 5.0
    assert clock.waiting == 0


async def test_advance_past_several_deadlines_wakes_them_in_order() -> None:
    clock = VirtualClock(auto_advance=False)
    woke: list[float] = []

    async def sleeper(seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(seconds)

    tasks = [asyncio.create_task(sleeper(s)) for s in (4, 1, 3, 2, 9)]
    await _passes(2)
    clock.advance(5)
    await _passes(3)
    assert woke == [1, 2, 3, 4]
    assert clock.waiting == 1
    clock.advance(4)
    await asyncio.gather(*tasks)
    assert woke == [1, 2, 3, 4, 9]


def test_advance_refuses_to_go_backwards() -> None:
    clock = VirtualClock(start=10)
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="seconds"):
            clock.advance(bad)
    assert clock() == 10.0
    clock.advance(0)
    assert clock() == 10.0


async def test_manual_advance_works_with_auto_advance_on() -> None:
    clock = VirtualClock()
    clock.advance(100)
    await clock.sleep(1)
    assert clock() == 101.0


async def test_cancelling_a_sleeper_removes_it() -> None:
    clock = VirtualClock()
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    doomed = asyncio.create_task(sleeper("doomed", 1))
    survivor = asyncio.create_task(sleeper("survivor", 2))
    await asyncio.sleep(0)
    assert clock.waiting == 2
    doomed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert clock.waiting == 1
    await survivor
    assert woke == ["survivor"]
    assert clock() == 2.0  # the cancelled deadline was never jumped to
    assert clock.waiting == 0


async def test_cancelling_the_only_sleeper_leaves_nothing_scheduled() -> None:
    clock = VirtualClock()
    task = asyncio.create_task(clock.sleep(50))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.waiting == 0
    await _passes(20)
    assert clock() == 0.0  # no jump left pending behind the cancelled sleep


async def test_cancel_racing_with_the_wake_up_is_harmless() -> None:
    clock = VirtualClock(auto_advance=False)
    task = asyncio.create_task(clock.sleep(1))
    await asyncio.sleep(0)
    clock.advance(1)  # the sleeper's future is resolved ...
    task.cancel()  # ... and the task cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.waiting == 0


async def test_wait_for_timeout_on_a_virtual_sleep_cancels_cleanly() -> None:
    clock = VirtualClock(auto_advance=False)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(clock.sleep(60), timeout=0.001)
    assert clock.waiting == 0


async def test_an_endless_sleep_does_not_stall_or_spin_the_clock() -> None:
    clock = VirtualClock()
    forever = asyncio.create_task(clock.sleep(math.inf))
    await clock.sleep(3)  # finite sleepers still wake
    assert clock() == 3.0
    await _passes(50)
    assert clock() == 3.0  # never jumped to infinity
    forever.cancel()
    with pytest.raises(asyncio.CancelledError):
        await forever
    assert clock.waiting == 0


async def test_same_scenario_same_timeline() -> None:
    async def scenario() -> list[tuple[int, float]]:
        clock = VirtualClock()
        log: list[tuple[int, float]] = []

        async def worker(n: int) -> None:
            for step in range(3):
                await clock.sleep(n * 0.7 + step)
                log.append((n, clock()))

        await asyncio.gather(*(worker(n) for n in range(5)))
        return log

    assert await scenario() == await scenario()


def test_one_clock_serves_successive_event_loops() -> None:
    clock = VirtualClock()
    asyncio.run(clock.sleep(1))
    asyncio.run(clock.sleep(2))
    assert clock() == 3.0
    assert clock.sleeps == [1, 2]
