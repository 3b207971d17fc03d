"""Image generations, video generations and posts awaited over virtual days, through
outages, dropped connections and 429 storms.

One client, one in-memory FakePowerPost, one VirtualClock. Each cycle starts waves of
jobs of every kind (lasting seconds to hours, some failing, some posts with failed
items) and callers over them (``wait`` with and without short deadlines, ``wait_many``,
``as_completed`` stopped early, callers cancelled midway, webhooks fed late), while the
weather turns: outages (every request 503) of seconds to hours, dropped connections,
429 storms. Checked for every caller: it ended by its deadline (plus 10 ms) with a
result or a documented error; once every job has ended and the API answers again,
every caller without a deadline got its answer. Checked at each cycle's end: no task
left behind; the memory the SDK holds does not grow from the first cycle's end to the
last's; and the GETs per job stay bounded (polls back off).

Size: ``POWERPOST_JOBS_CYCLES`` cycles (default 2) of ``POWERPOST_JOBS_HOURS`` hours
(default 8); ``nox -s soak`` runs more.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import math
import os
import random
import tracemalloc
from typing import Any

from powerpost_async import (
    APIError,
    JobFailedError,
    PowerPost,
    WaitTimeoutError,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock
from powerpost_async.webhooks import parse_webhook

CYCLES = int(os.environ.get("POWERPOST_JOBS_CYCLES", "2"))
HOURS = float(os.environ.get("POWERPOST_JOBS_HOURS", "8"))
SEED = int(os.environ.get("POWERPOST_JOBS_SEED", "5"))
HOUR = 3600.0
TOLERANCE = 0.01


async def weather(
    server: FakePowerPost, clock: VirtualClock, rng: random.Random, until: float
) -> list[tuple[str, float, float]]:
    """Calm spells and storms until ``until``; returns (calm again) the spells."""
    spells: list[tuple[str, float, float]] = []
    while clock() < until:
        await clock.sleep(rng.uniform(600, 2 * HOUR))
        kind = rng.choice(["outage", "drops", "storm"])
        if kind == "outage":
            length = math.exp(rng.uniform(math.log(5.0), math.log(4 * HOUR)))
            server.faults.random(Fault.server_error(503), 1.0)
        elif kind == "drops":
            length = rng.uniform(60, 1800)
            server.faults.random(Fault.drop(), 0.3)
        else:
            length = rng.uniform(60, 1200)
            server.faults.random(Fault.rate_limit(retry_after=rng.choice([1, 30, 120])), 0.5)
        start = clock()
        await clock.sleep(length)
        server.faults.clear()
        spells.append((kind, start, clock()))
    return spells


async def calmly(clock: VirtualClock, make: Any) -> Any:
    """``make()`` once the weather lets it through. The fake's faults here never carry
    a request out, so trying again is safe (the SDK itself never resends these)."""
    for _ in range(1000):
        try:
            return await make()
        except APIError:
            await clock.sleep(60)
    raise AssertionError("the weather never let a create through")


async def start_jobs(
    pp: PowerPost, server: FakePowerPost, clock: VirtualClock, rng: random.Random
) -> dict[str, list[Any]]:
    """A wave of images, videos and posts being published."""
    server.processing = (rng.uniform(5, 60), rng.uniform(60, 3 * HOUR))
    jobs: dict[str, list[Any]] = {"images": [], "videos": [], "posts": []}
    for i in range(6):
        prompt = f"wave {i} [partial]" if i % 4 == 0 else f"wave {i}"
        quantity = rng.randint(1, 4)
        jobs["images"].append(
            await calmly(clock, lambda p=prompt, q=quantity: pp.images.generate(p, quantity=q))
        )
    for i in range(3):
        jobs["videos"].append(
            await calmly(clock, lambda i=i: pp.videos.generate(f"clip {i}", duration=5))
        )
    for i in range(4):
        items = [
            {"post_type": "x-post", "content": "[fail] no luck" if i == 0 else f"post {i}"},
            {"post_type": "linkedin-post", "content": f"also {i}"},
        ]
        post = await calmly(clock, lambda items=items: pp.posts.create(items))
        await calmly(clock, lambda post=post: pp.posts.publish(post))
        jobs["posts"].append(post)
    return jobs


class Run:
    """The callers of a run, and how each ended: (outcome, when, its deadline)."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.tasks: list[asyncio.Task[None]] = []
        self.log: list[tuple[str, float, float | None]] = []

    def start(self, call: Any, timeout: float | None) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._caller(call, timeout))
        self.tasks.append(task)
        return task

    async def _caller(self, call: Any, timeout: float | None) -> None:
        started = self.clock()
        deadline = None if timeout is None else started + timeout
        try:
            await call
            outcome = "ok"
        except WaitTimeoutError:
            outcome = "timeout"
        except JobFailedError:
            outcome = "failed"  # documented: the job (or items of the post) failed
        except asyncio.CancelledError:
            self.log.append(("cancelled", self.clock(), deadline))
            raise
        self.log.append((outcome, self.clock(), deadline))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def wave(pp: PowerPost, server: FakePowerPost, run: Run, rng: random.Random) -> None:
    """Start a wave of jobs and callers over them; feed some webhooks, late."""
    clock = run.clock
    jobs = await start_jobs(pp, server, clock, rng)
    for resource, refs in jobs.items():
        api = getattr(pp, resource)
        for ref in refs:
            for timeout in (None, rng.uniform(30, 2 * HOUR)):
                run.start(api.wait(ref, timeout=timeout), timeout)
        run.start(api.wait_many(refs, timeout=None, return_exceptions=True), None)
        run.start(_first(api.as_completed(refs, timeout=HOUR)), HOUR)
    doomed = run.start(pp.images.wait(jobs["images"][0], timeout=None), None)
    await clock.sleep(rng.uniform(60, 600))
    doomed.cancel()
    await clock.sleep(rng.uniform(HOUR, 2 * HOUR))
    for post in jobs["posts"]:  # webhooks, late (polling may have answered already)
        with contextlib.suppress(ValueError):  # not finished yet: no event
            event = parse_webhook(server.webhook_event(post.post_id), verify=None)
            with contextlib.suppress(APIError):
                await pp.feed(event)


async def test_jobs_over_virtual_days() -> None:
    rng = random.Random(SEED)
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, seed=SEED, credits=10**9, failure_rate=0.1)
    run = Run(clock)
    baseline = len(asyncio.all_tasks())
    memory: list[int] = []
    storms: asyncio.Task[list[tuple[str, float, float]]] | None = None
    tracemalloc.start()
    try:
        async with server.client() as pp:
            for _cycle in range(CYCLES):
                end = clock() + HOURS * HOUR
                storms = asyncio.ensure_future(weather(server, clock, rng, end - 4 * HOUR))
                while clock() < end - 5 * HOUR:
                    await wave(pp, server, run, rng)
                assert await storms, "the weather never turned"
                storms = None
                await asyncio.gather(*run.tasks, return_exceptions=True)
                await clock.sleep(max(0.0, end - clock()))  # the cycle's last, quiet hours
                await asyncio.sleep(0)
                gc.collect()
                assert len(asyncio.all_tasks()) == baseline, "tasks left behind"
                memory.append(_sdk_memory())
    finally:
        tracemalloc.stop()
        if storms is not None:
            storms.cancel()
            await asyncio.gather(storms, return_exceptions=True)
        await run.stop()
    outcomes = collections.Counter(outcome for outcome, _, _ in run.log)
    for outcome, ended, deadline in run.log:
        assert outcome in ("ok", "failed", "timeout", "cancelled"), outcome
        if deadline is not None:
            assert ended <= deadline + TOLERANCE, (outcome, ended, deadline)
        else:
            assert outcome != "timeout"  # a wait without a deadline got its answer
    assert min(outcomes["ok"], outcomes["failed"], outcomes["cancelled"]) > 0, outcomes
    jobs = len([r for r in server.requests if r.method == "POST" and "publish" not in r.path])
    gets = len([r for r in server.requests if r.method == "GET"])
    # Polls back off to 10-20 s: GETs are bounded per job and hour, whatever the callers.
    assert gets <= jobs * 4 * 3600 / 8, (gets, jobs)
    assert len(memory) == CYCLES
    assert memory[-1] <= memory[0] + 256 * 1024, memory  # no growth from cycle to cycle
    assert clock() >= CYCLES * HOURS * HOUR


async def _first(iterator: Any) -> None:
    async with contextlib.aclosing(iterator) as jobs:
        async for _ in jobs:
            return  # stop early: the rest of its waits are released at once


def _sdk_memory() -> int:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(True, "*powerpost_async/*"),
            tracemalloc.Filter(False, "*powerpost_async/testing/*"),  # the fake keeps all
        ]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))
