"""``powerpost demo --pipeline``: N posts taken through every step at once, end to end.

Against the embedded fake API, on a real socket and the real clock like ``powerpost
demo``, each step runs for every post concurrently (at most `CONCURRENCY` calls in
flight), and each asynchronous job is awaited with one ``wait_many`` per step:

1. upload a photo (a small PNG made in memory, different for every post);
2. caption it: ``generations.create(media_ids=[...])``, then await the captions;
3. draw an image from the captions: ``images.generate(generation_id=...)``, await it;
4. create a post with that image, one item per platform;
5. publish it;
6. await publication with ``posts.wait_many``: the posts come back with every item's
   outcome, failed items included (every `FAIL_EVERY`-th post has one item whose
   content carries the fake's ``[fail]`` trigger word, to show that a failed item is
   reported, not lost);
7. read every item's analytics.

Each step is measured three ways: HTTP requests (sent by the SDK, counted by a
transport wrapped around the usual one, and received, from the fake server's own
log: the two agree when nothing is lost on the way), credits (from the fake's books,
before and after the step) and wall time.
"""

from __future__ import annotations

import asyncio
import struct
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import attrs

from powerpost_async import (
    AiohttpTransport,
    CreatedGeneration,
    CreatedImageGeneration,
    Generation,
    GenerationStatus,
    ImageGeneration,
    ItemAnalytics,
    Media,
    Post,
    PostStatus,
    PowerPost,
    Request,
    Response,
    Transport,
)
from powerpost_async.testing import FakePowerPost

from ._context import EXIT_OK, Context
from ._fake import new_fake
from ._output import Column, seconds

__all__ = ["DEFAULT_POSTS", "photo", "run_pipeline"]

A = TypeVar("A")
T = TypeVar("T")

DEFAULT_POSTS = 20
#: Calls in flight at once, per step.
CONCURRENCY = 50
#: Every FAIL_EVERY-th post has one item set to fail (the fake's trigger word).
FAIL_EVERY = 5
# The fake's durations and the polling intervals at --pace 1: quicker than `powerpost
# demo`'s, so that three jobs in a row still take seconds, not half a minute.
PENDING = (0.05, 0.2)
PROCESSING = (0.3, 1.0)
POST_DURATION = 0.1
INTERVAL = 0.25
MAX_INTERVAL = 1.0
FAIL_WORD = "[fail]"

STEPS = ("upload", "caption", "image", "post", "publish", "await", "analytics")
_STEP_DETAIL = {
    "upload": "media.upload",
    "caption": "generations.create + wait_many",
    "image": "images.generate + wait_many",
    "post": "posts.create",
    "publish": "posts.publish",
    "await": "posts.wait_many (publishing is charged as items post)",
    "analytics": "analytics.item",
}

_TOPICS = (
    "Our new espresso bar opens Monday",
    "The team's first hackathon, in pictures",
    "Spring collection: first look",
    "Behind the scenes at the photo shoot",
    "Meet Biscuit, our office dog",
    "Sunrise over the new warehouse",
    "Customer meetup in Lisbon",
)
# Image posts on the platforms that take a photo and a caption.
_MIXES: tuple[tuple[str, ...], ...] = (
    ("instagram-feed", "x-post"),
    ("linkedin-post", "facebook-post"),
    ("instagram-feed", "facebook-post", "x-post"),
    ("linkedin-post",),
    ("x-post", "linkedin-post", "instagram-feed"),
)


def photo(index: int, size: int = 8) -> bytes:
    """A valid ``size`` x ``size`` PNG of one colour, different for every ``index``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    red, green, blue = (index * 47) % 256, (index * 89 + 60) % 256, (index * 131 + 120) % 256
    row = b"\x00" + bytes((red, green, blue)) * size  # filter byte 0, then RGB pixels
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


class _CountingTransport:
    """The usual transport, counting the requests the SDK hands it."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner
        self.sent = 0

    async def send(self, request: Request) -> Response:
        self.sent += 1
        return await self._inner.send(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@attrs.define
class _Step:
    """What one step cost."""

    name: str
    requests: int = 0  # received, by the fake's log
    sent: int = 0  # sent, by the SDK's transport
    credits: int = 0
    time_s: float = 0.0
    by_endpoint: dict[str, int] = attrs.field(factory=dict)
    detail: str = ""


class _Meter:
    """Measures steps: requests (both ends), credits and time between two moments."""

    def __init__(self, server: FakePowerPost, transport: _CountingTransport) -> None:
        self._server = server
        self._transport = transport
        self.steps: list[_Step] = []

    def start(self) -> tuple[int, int, int, float]:
        server = self._server
        return len(server.requests), self._transport.sent, server.balance(), time.perf_counter()

    def stop(self, name: str, mark: tuple[int, int, int, float], detail: str) -> _Step:
        logged, sent, balance, started = mark
        records = list(self._server.requests)[logged:]
        step = _Step(
            name=name,
            requests=len(records),
            sent=self._transport.sent - sent,
            credits=balance - self._server.balance(),
            time_s=time.perf_counter() - started,
            by_endpoint=dict(sorted(Counter(r.endpoint or "other" for r in records).items())),
            detail=detail,
        )
        self.steps.append(step)
        return step


async def _each(items: Sequence[A], call: Callable[[A], Awaitable[T]]) -> list[T]:
    """``call`` each item, at most CONCURRENCY at once; the results in order."""
    results: list[T | None] = [None] * len(items)
    queue = iter(range(len(items)))

    async def worker() -> None:
        for index in queue:  # a shared iterator: each index is taken by one worker
            results[index] = await call(items[index])

    workers = [asyncio.ensure_future(worker()) for _ in range(min(CONCURRENCY, len(items)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:  # one failed: stop the others before reporting it
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return [r for r in results if r is not None]


@attrs.define
class _Run:
    """One post's way through the pipeline (``None``: not reached, or failed before)."""

    index: int
    post_types: tuple[str, ...]
    media: Media | None = None
    generation: Generation | None = None
    image: ImageGeneration | None = None
    post: Post | None = None

    @property
    def fails_an_item(self) -> bool:
        return self.index % FAIL_EVERY == FAIL_EVERY - 1


def _items(run: _Run) -> list[dict[str, Any]]:
    assert run.image is not None
    media_ids = [run.image.images[0].media_id]
    items: list[dict[str, Any]] = [{"post_type": t, "media_ids": media_ids} for t in run.post_types]
    if run.fails_an_item:  # the caption comes from the generation, but this one's is ours
        items[-1]["content"] = f"This item is set to fail, to show it is kept {FAIL_WORD}"
    return items


async def run_pipeline(ctx: Context, *, posts: int, pace: float, seed: int) -> int:
    """Run the pipeline demo and print its report (see the module docstring)."""
    ui = ctx.ui
    people = not ctx.json_output
    pending = (PENDING[0] * pace, PENDING[1] * pace)
    processing = (PROCESSING[0] * pace, PROCESSING[1] * pace)
    interval = max(0.01, INTERVAL * pace)
    waits: dict[str, Any] = {
        "interval": interval,
        "max_interval": max(interval, MAX_INTERVAL * pace),
    }
    starting_balance = max(10_000, posts * 60)
    runs = [_Run(i, _MIXES[i % len(_MIXES)]) for i in range(posts)]
    server = new_fake(
        seed=seed,
        pending=pending,
        processing=processing,
        credits=starting_balance,
        history=False,
        post_duration=POST_DURATION * pace,
    )

    def say(text: str = "") -> None:
        if people:
            ui.line(text)

    async with server:
        say(f"PowerPost pipeline demo: {posts} posts, every step at once, on an embedded fake API")
        say(
            f"(fake durations: jobs pending {pending[0]:g}-{pending[1]:g} s, processing "
            f"{processing[0]:g}-{processing[1]:g} s, {POST_DURATION * pace:g} s per item "
            f"posted; every {FAIL_EVERY}th post has an item set to fail; seed {seed})"
        )
        say()
        transport = _CountingTransport(AiohttpTransport())
        meter = _Meter(server, transport)
        async with server.client(use_socket=True, transport=transport) as pp:
            started = time.perf_counter()
            analytics = await _steps(pp, ctx, meter, runs, waits, say)
            wall = time.perf_counter() - started
    return _report(ctx, server, meter, runs, analytics, wall, starting_balance, pace, seed)


async def _steps(
    pp: PowerPost,
    ctx: Context,
    meter: _Meter,
    runs: list[_Run],
    waits: dict[str, Any],
    say: Callable[[str], None],
) -> list[ItemAnalytics]:
    """Take every run through the steps; return every item's analytics."""
    ui = ctx.ui

    def done(step: _Step, what: str) -> None:
        say(
            f"{STEPS.index(step.name) + 1}/{len(STEPS)} {step.name:<9} {what} in "
            f"{seconds(step.time_s)} ({step.requests} requests, {step.credits} credits)"
        )

    mark = meter.start()

    async def upload(run: _Run) -> Media:
        return await pp.media.upload(photo(run.index), file_name=f"photo-{run.index + 1}.png")

    uploaded = await _each(runs, upload)
    for run, media in zip(runs, uploaded, strict=True):
        run.media = media
    done(meter.stop("upload", mark, f"{len(uploaded)} photos"), f"{len(uploaded)} photos uploaded")

    mark = meter.start()

    async def caption(run: _Run) -> CreatedGeneration:
        assert run.media is not None
        return await pp.generations.create(
            _TOPICS[run.index % len(_TOPICS)],
            post_types=run.post_types,
            media_ids=[run.media.media_id],
        )

    created = await _each(runs, caption)
    with ui.progress(len(created), "captions") as bar:
        generations = await pp.generations.wait_many(created, on_progress=bar.update, **waits)
    for run, generation in zip(runs, generations, strict=True):
        if generation.status is GenerationStatus.COMPLETED:
            run.generation = generation
    captioned = [run for run in runs if run.generation is not None]
    failed = len(runs) - len(captioned)
    detail = f"{len(captioned)} captioned" + (f", {failed} failed" if failed else "")
    done(meter.stop("caption", mark, detail), detail)

    mark = meter.start()

    async def draw(run: _Run) -> CreatedImageGeneration:
        return await pp.images.generate(
            generation_id=run.generation, source_post_type=run.post_types[0]
        )

    started_images = await _each(captioned, draw)
    with ui.progress(len(started_images), "images") as bar:
        images = await pp.images.wait_many(started_images, on_progress=bar.update, **waits)
    for run, image in zip(captioned, images, strict=True):
        if image.images:  # a partial failure keeps the images made: one is enough
            run.image = image
    drawn = [run for run in captioned if run.image is not None]
    failed = len(captioned) - len(drawn)
    detail = f"{len(drawn)} images" + (f", {failed} failed" if failed else "")
    done(meter.stop("image", mark, detail), detail)

    mark = meter.start()

    async def create(run: _Run) -> Post:
        return await pp.posts.create(_items(run), generation_id=run.generation)

    made = await _each(drawn, create)
    for run, post in zip(drawn, made, strict=True):
        run.post = post
    items = sum(len(post.items) for post in made)
    detail = f"{len(made)} drafts, {items} items"
    done(meter.stop("post", mark, detail), detail)

    mark = meter.start()
    await _each(made, pp.posts.publish)
    done(meter.stop("publish", mark, f"{len(made)} published"), f"{len(made)} posts publishing")

    mark = meter.start()
    with ui.progress(len(made), "posts") as bar:
        finished = await pp.posts.wait_many(made, on_progress=bar.update, **waits)
    for run, post in zip(drawn, finished, strict=True):
        run.post = post  # with every item's outcome, failed ones included
    posted = sum(len(post.posted_items) for post in finished)
    failed = sum(len(post.failed_items) for post in finished)
    detail = f"{posted} items posted, {failed} failed"
    done(meter.stop("await", mark, detail), detail)

    mark = meter.start()
    every_item = [item for post in finished for item in post.items]
    read = await _each(every_item, pp.analytics.item)
    measured = sum(1 for a in read if a.metrics is not None)
    detail = f"{len(read)} items read, {measured} with metrics"
    done(meter.stop("analytics", mark, detail), detail)
    return read


def _report(
    ctx: Context,
    server: FakePowerPost,
    meter: _Meter,
    runs: Sequence[_Run],
    analytics: Sequence[ItemAnalytics],
    wall: float,
    starting_balance: int,
    pace: float,
    seed: int,
) -> int:
    steps = meter.steps
    posts = [run.post for run in runs if run.post is not None]
    failed_items = [
        {
            "post_id": post.post_id,
            "item_id": item.item_id,
            "post_type": item.post_type,
            "code": None if item.error is None else item.error.code,
            "message": None if item.error is None else item.error.message,
        }
        for post in posts
        for item in post.failed_items
    ]
    published = sum(1 for post in posts if post.status is PostStatus.PUBLISHED)
    metrics = [a.metrics for a in analytics if a.metrics is not None]
    total_requests = sum(step.requests for step in steps)
    total_sent = sum(step.sent for step in steps)
    credits = sum(step.credits for step in steps)
    summary: dict[str, Any] = {
        "posts": len(runs),
        "steps": [
            {
                "step": step.name,
                "calls": _STEP_DETAIL[step.name],
                "requests": step.requests,
                "requests_sent": step.sent,
                "by_endpoint": step.by_endpoint,
                "credits": step.credits,
                "time_s": round(step.time_s, 3),
                "result": step.detail,
            }
            for step in steps
        ],
        "total": {
            "requests": total_requests,
            "requests_sent": total_sent,
            "requests_logged": len(server.requests),
            "credits": credits,
            "time_s": round(wall, 3),
        },
        "outcome": {
            "captions_failed": sum(1 for run in runs if run.generation is None),
            "images_failed": sum(
                1 for run in runs if run.generation is not None and run.image is None
            ),
            "posts_created": len(posts),
            "posts_published": published,
            "posts_fully_published": sum(
                1 for post in posts if post.status is PostStatus.PUBLISHED and not post.failed_items
            ),
            "posts_failed": sum(1 for post in posts if post.status is PostStatus.FAILED),
            "items_posted": sum(len(post.posted_items) for post in posts),
            "items_failed": len(failed_items),
            "failed_items": failed_items,
        },
        "analytics": {
            "items": len(analytics),
            "with_metrics": len(metrics),
            "views": sum(m.views for m in metrics),
            "likes": sum(m.likes for m in metrics),
            "comments": sum(m.comments for m in metrics),
        },
        "balance": {"start": starting_balance, "end": server.balance()},
        "pace": pace,
        "seed": seed,
    }
    if ctx.json_output:
        ctx.emit(summary)
        return EXIT_OK
    ui = ctx.ui
    count = len(runs)
    rows = [
        [
            step.name,
            str(step.requests),
            f"{step.requests / count:.2f}",
            str(step.credits),
            seconds(step.time_s),
            _STEP_DETAIL[step.name],
        ]
        for step in steps
    ]
    rows.append(
        [
            "total",
            str(total_requests),
            f"{total_requests / count:.2f}",
            str(credits),
            seconds(wall),
            f"{total_sent} sent by the SDK, {len(server.requests)} in the fake's log",
        ]
    )
    ui.line()
    ui.table(
        [
            Column("STEP"),
            Column("REQUESTS", right=True),
            Column("PER POST", right=True),
            Column("CREDITS", right=True),
            Column("TIME", right=True),
            Column("CALLS", shrink=True),
        ],
        rows,
        title="Cost per step",
    )
    outcome = summary["outcome"]
    ui.line()
    ui.line(
        f"posts: {outcome['posts_published']} of {count} published "
        f"({outcome['posts_fully_published']} with every item), "
        f"{outcome['posts_failed']} failed"
    )
    ui.line(
        f"items: {outcome['items_posted']} posted, {outcome['items_failed']} failed (kept below)"
    )
    for item in failed_items:
        ui.line(f"  {item['post_id']}  {item['post_type']:<15} {item['code']}: {item['message']}")
    if outcome["captions_failed"] or outcome["images_failed"]:
        ui.line(
            f"dropped before posting: {outcome['captions_failed']} caption(s) and "
            f"{outcome['images_failed']} image(s) failed (refunded)"
        )
    numbers = summary["analytics"]
    ui.line(
        f"analytics: {numbers['with_metrics']} of {numbers['items']} items measured: "
        f"{numbers['views']} views, {numbers['likes']} likes, {numbers['comments']} comments"
    )
    ui.line(
        f"credits: {credits} spent ({starting_balance} -> {server.balance()}); wall time "
        f"{seconds(wall)} on the real clock"
    )
    return EXIT_OK
