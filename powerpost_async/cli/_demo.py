"""``powerpost demo``: many generations created and awaited through the SDK, end to end.

It starts the embedded fake API on a real socket and the real clock, creates N
generations concurrently, awaits them all with one ``wait_many`` (which sweeps the list
endpoint instead of polling every id), and reports what it cost in HTTP requests, read
from the fake server's own request log.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import attrs

from powerpost_async import CreatedGeneration, GenerationStatus, PowerPost
from powerpost_async.testing import FakePowerPost

from ._context import EXIT_OK, Context
from ._fake import QUICK_PENDING, QUICK_PROCESSING, new_fake
from ._output import Column, seconds

__all__ = ["DemoPlan", "run_demo"]

#: Creates in flight at once: enough to be quick, few enough to be a polite client.
CREATE_CONCURRENCY = 50
FAILURE_RATE = 0.05
# The SDK's default first polling interval and its cap, scaled by --pace like the fake's
# durations, so a fast test run is the same story in miniature.
INTERVAL = 2.0
MAX_INTERVAL = 10.0

_TOPICS = (
    "We just shipped dark mode",
    "New feature: AI-powered search",
    "Behind the scenes of our launch week",
    "Our spring collection drops on Friday",
    "Five tips for calmer remote meetings",
    "Customer story: support time cut in half",
    "Weekend sale: 20% off everything",
    "Meet the team behind the mobile app",
    "How we cut our cloud bill by 40%",
    "Join our live Q&A on Thursday",
)
_MIXES: tuple[tuple[str, ...], ...] = (
    ("instagram-feed", "x-post"),
    ("linkedin-post",),
    ("tiktok-video", "instagram-reel"),
    ("youtube-video", "linkedin-post"),
    ("facebook-post", "x-post", "linkedin-post"),
    ("youtube-short", "tiktok-video"),
    ("instagram-story", "facebook-story"),
)


@attrs.frozen
class DemoPlan:
    """What one demo generation asks for."""

    prompt: str
    post_types: tuple[str, ...]
    research_mode: Literal["regular", "deep"]


def plan(count: int) -> list[DemoPlan]:
    """``count`` generations: topics and post-type mixes in turn, every 4th one deep."""
    return [
        DemoPlan(
            prompt=f"{_TOPICS[i % len(_TOPICS)]} (#{i + 1})",
            post_types=_MIXES[i % len(_MIXES)],
            research_mode="deep" if i % 4 == 3 else "regular",
        )
        for i in range(count)
    ]


async def _create_all(pp: PowerPost, plans: Sequence[DemoPlan]) -> list[CreatedGeneration]:
    """Create every planned generation, at most CREATE_CONCURRENCY at once, in order."""
    results: list[CreatedGeneration | None] = [None] * len(plans)
    queue = iter(range(len(plans)))

    async def worker() -> None:
        for index in queue:  # a shared iterator: each index is taken by one worker
            spec = plans[index]
            results[index] = await pp.generations.create(
                spec.prompt,
                post_types=spec.post_types,
                research_mode=spec.research_mode,
            )

    workers = [asyncio.ensure_future(worker()) for _ in range(min(CREATE_CONCURRENCY, len(plans)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:  # one failed: stop the others before reporting it
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return [r for r in results if r is not None]


def _naive_polls(server: FakePowerPost, created: Sequence[CreatedGeneration], every: float) -> int:
    """GETs a loop polling each id at once and then every ``every`` s would have needed."""
    total = 0
    for generation in created:
        timeline = server.timeline(generation.generation_id)
        if timeline.finished is None:
            continue
        total += math.ceil(max(0.0, timeline.finished - timeline.created) / every) + 1
    return total


async def run_demo(ctx: Context, *, count: int, pace: float, seed: int) -> int:
    """Run the demo and print its summary (see the module docstring)."""
    ui = ctx.ui
    pending = (QUICK_PENDING[0] * pace, QUICK_PENDING[1] * pace)
    processing = (QUICK_PROCESSING[0] * pace, QUICK_PROCESSING[1] * pace)
    interval = max(0.01, INTERVAL * pace)
    starting_balance = max(10_000, count * 20)
    plans = plan(count)
    server = new_fake(
        seed=seed,
        pending=pending,
        processing=processing,
        failure_rate=FAILURE_RATE,
        credits=starting_balance,
        history=False,
    )
    async with server:
        if not ctx.json_output:
            ui.line(f"PowerPost demo: {count} generations against an embedded fake API")
            ui.line(
                f"(fake durations: pending {pending[0]:g}-{pending[1]:g} s, processing "
                f"{processing[0]:g}-{processing[1]:g} s, {FAILURE_RATE:.0%} fail; seed {seed})"
            )
            ui.line()
        async with server.client(use_socket=True) as pp:
            started = time.perf_counter()
            created = await _create_all(pp, plans)
            created_at = time.perf_counter()
            if not ctx.json_output:
                ui.line(
                    f"created {len(created)} generations in {seconds(created_at - started)} "
                    f"(at most {CREATE_CONCURRENCY} at a time)"
                )
                ui.line("awaiting them all with pp.generations.wait_many(...)")
            # Milestone lines only for people: --json prints one document and nothing else.
            with ui.progress(count, "generations", milestones=not ctx.json_output) as bar:
                results = await pp.generations.wait_many(
                    created,
                    interval=interval,
                    max_interval=max(interval, MAX_INTERVAL * pace),
                    on_progress=bar.update,
                )
            finished = time.perf_counter()
            balance = (await pp.account.credits()).balance
    statuses = Counter(g.status for g in results)
    modes = Counter(p.research_mode for p in plans)
    by_endpoint = Counter(record.endpoint or "other" for record in server.requests)
    non_200 = sum(1 for record in server.requests if record.status != 200)
    total_requests = len(server.requests)
    naive = _naive_polls(server, created, interval)
    summary = {
        "generations": count,
        "regular": modes["regular"],
        "deep": modes["deep"],
        "completed": statuses[GenerationStatus.COMPLETED],
        "failed": statuses[GenerationStatus.FAILED],
        "credits_used": sum(g.credits_used for g in results),
        "starting_balance": starting_balance,
        "balance": balance,
        "wall_time_s": round(finished - started, 3),
        "create_time_s": round(created_at - started, 3),
        "wait_time_s": round(finished - created_at, 3),
        "requests": {
            "total": total_requests,
            "per_generation": round(total_requests / count, 3),
            "by_endpoint": dict(sorted(by_endpoint.items())),
            "not_200": non_200,
            "naive_polling_gets": naive,
        },
        "pace": pace,
        "seed": seed,
    }
    if ctx.json_output:
        ctx.emit(summary)
        return EXIT_OK
    ui.line()
    rows = [
        ["generations", str(count), f"{modes['regular']} regular, {modes['deep']} deep"],
        ["completed", str(summary["completed"]), ""],
        ["failed", str(summary["failed"]), "refunded: a failed generation costs nothing"],
        ["credits used", str(summary["credits_used"]), ""],
        ["remaining balance", str(balance), f"started at {starting_balance}"],
        [
            "wall time",
            seconds(finished - started),
            f"create {seconds(created_at - started)}, wait {seconds(finished - created_at)}",
        ],
        ["HTTP requests", str(total_requests), f"{total_requests / count:.2f} per generation"],
    ]
    for endpoint, n in sorted(by_endpoint.items(), key=lambda item: -item[1]):
        rows.append([f"  {endpoint}", str(n), f"{n / count:.2f} per generation"])
    if non_200:
        rows.append(["  not 200", str(non_200), "answered with an error status, retried"])
    rows.append(
        [
            "vs naive polling",
            str(naive),
            f"GETs to poll each id every {seconds(interval)} ({naive / count:.2f} per generation)",
        ]
    )
    ui.table([Column(""), Column("", right=True), Column("")], rows, title="Summary", header=False)
    return EXIT_OK
