"""The commands beyond captions: ``media``, ``images``, ``videos``, ``posts``,
``analytics`` and ``calendar``.

Like ``_commands.py``, each is a thin layer over the public SDK: argparse parsed the
arguments, the checks that need several of them together happen here (before anything
is sent), then one or two SDK calls, rendered for people through the
:class:`~powerpost_async.cli._output.UI` or as JSON. Errors are left to ``main``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from powerpost_async import (
    CalendarEntry,
    CreatedImageGeneration,
    CreatedVideoGeneration,
    GenerationStatus,
    ImageGeneration,
    ItemAnalytics,
    Media,
    Post,
    PostAction,
    PostStatus,
    VideoGeneration,
    WaitTimeoutError,
)
from powerpost_async._limits import MAX_CALENDAR_RANGE_DAYS, TITLED_POST_TYPES

from ._commands import check_post_types, sdk_warnings
from ._context import EXIT_FAILED, EXIT_OK, CLIError, Context
from ._output import Column, shorten, when

__all__ = [
    "cmd_analytics",
    "cmd_calendar_create",
    "cmd_calendar_delete",
    "cmd_calendar_get",
    "cmd_calendar_list",
    "cmd_images_generate",
    "cmd_images_get",
    "cmd_media_upload",
    "cmd_posts_cancel",
    "cmd_posts_create",
    "cmd_posts_get",
    "cmd_posts_publish",
    "cmd_posts_schedule",
    "cmd_videos_generate",
    "cmd_videos_get",
    "parse_items",
    "post_exit",
]

T = TypeVar("T")
CONTENT_WIDTH = 48


def _size(count: int | None) -> str:
    """``245000`` as ``239.3 KiB (245000 bytes)``."""
    if count is None:
        return "-"
    if count < 1024:
        return f"{count} bytes"
    value, unit = count / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit} ({count} bytes)"


def _maybe(moment: Any) -> str:
    return "-" if moment is None else when(moment) + " UTC"


def _error_text(error: Any) -> str:
    return f"{error.code}: {error.message}"


async def _await_one(
    ctx: Context,
    wait_many: Callable[..., Awaitable[list[T]]],
    ref: object,
    *,
    timeout: float,
    what: str,
    hint: str,
) -> T:
    """Await one job with a progress display; failed ones come back as they are."""
    with ctx.ui.progress(1, "waiting") as bar:
        try:
            (done,) = await wait_many([ref], timeout=timeout, on_progress=bar.update)
        except WaitTimeoutError as error:
            raise CLIError(
                f"{what} did not finish within {timeout:g} s",
                code=EXIT_FAILED,
                hints=[hint],
                error=error,
            ) from None
    return done


# -- media upload --------------------------------------------------------------------------


async def cmd_media_upload(args: argparse.Namespace, ctx: Context) -> int:
    """``media upload PATH``: a bar on a terminal (rich), nothing otherwise."""
    path: str = args.path
    async with ctx.client() as pp:
        with ctx.ui.transfer(os.path.basename(path)) as report:
            media = await pp.media.upload(path, type=args.type, on_progress=report)
    if ctx.json_output:
        ctx.emit(media)
    else:
        ctx.ui.fields(_media_rows(media))
    return EXIT_OK


def _media_rows(media: Media) -> list[tuple[str, str]]:
    return [
        ("media id", media.media_id),
        ("type", media.type),
        ("file name", media.file_name or "-"),
        ("size", _size(media.file_size)),
        ("mime type", media.mime_type or "-"),
        ("created", _maybe(media.created_at)),
    ]


# -- images ----------------------------------------------------------------------------------


def _created_rows(
    created: CreatedImageGeneration | CreatedVideoGeneration, job_id: str
) -> list[tuple[str, str]]:
    rows = [
        ("created", job_id),
        ("status", str(created.status)),
        ("credits used", str(created.credits_used)),
    ]
    if created.remaining_credits is not None:
        rows.append(("remaining", str(created.remaining_credits)))
    return rows


def _job_exit(status: GenerationStatus) -> int:
    return EXIT_FAILED if status is GenerationStatus.FAILED else EXIT_OK


def render_image_generation(ctx: Context, job: ImageGeneration) -> None:
    """An image generation: its fields, then a row per image made."""
    rows = [
        ("id", job.image_generation_id),
        ("status", str(job.status)),
        ("model", job.model or "-"),
        ("size", job.size or "-"),
        ("quantity", "-" if job.quantity is None else str(job.quantity)),
        ("credits used", "-" if job.credits_used is None else str(job.credits_used)),
        ("created", _maybe(job.created_at)),
    ]
    if job.generation_id:
        rows.append(("generation", job.generation_id))
    rows.append(("prompt", job.prompt or "-"))
    if job.error is not None:
        rows.append(("error", _error_text(job.error)))
    ctx.ui.fields(rows)
    if job.images:
        ctx.ui.line()
        ctx.ui.table(
            [Column("MEDIA ID"), Column("PIXELS", right=True), Column("URL", shrink=True)],
            [
                [
                    image.media_id,
                    f"{image.width or '?'}x{image.height or '?'}",
                    image.url or "-",
                ]
                for image in job.images
            ],
        )
        if job.status is GenerationStatus.FAILED:
            ctx.ui.line(f"{len(job.images)} image(s) were made and kept; only they cost credits")
    elif not job.is_terminal:
        ctx.ui.line()
        ctx.ui.line(f"no images yet ({job.status}): powerpost images get {job.image_generation_id}")


async def cmd_images_generate(args: argparse.Namespace, ctx: Context) -> int:
    """``images generate [PROMPT]``: the new id and its cost; with ``--wait``, the images."""
    if args.prompt is None and args.generation_id is None:
        raise CLIError(
            "images generate needs a PROMPT, or --generation-id to draw from its captions",
            hints=['e.g. powerpost images generate "a cat on a skateboard"'],
        )
    if args.source_post_type is not None and args.generation_id is None:
        raise CLIError("--source-post-type picks a caption of --generation-id: give both")
    async with ctx.client() as pp:
        with sdk_warnings(ctx):
            created = await pp.images.generate(
                args.prompt,
                size=args.size,
                quantity=args.quantity,
                model=args.model,
                enhance_prompt=args.enhance_prompt or None,
                style_images=args.style_images,
                generation_id=args.generation_id,
                source_post_type=args.source_post_type,
            )
        job_id = created.image_generation_id
        if not args.wait:
            if ctx.json_output:
                ctx.emit(created)
            else:
                ctx.ui.fields(_created_rows(created, job_id))
            return EXIT_OK
        if not ctx.json_output:
            ctx.ui.fields(_created_rows(created, job_id))
            ctx.ui.line()
        job = await _await_one(
            ctx,
            pp.images.wait_many,
            created,
            timeout=args.wait_timeout,
            what=f"image generation {job_id}",
            hint=f"check on it: powerpost images get {job_id}",
        )
    if ctx.json_output:
        ctx.emit(job)
    else:
        render_image_generation(ctx, job)
    return _job_exit(job.status)


async def cmd_images_get(args: argparse.Namespace, ctx: Context) -> int:
    """``images get ID``: exit 1 if it failed (its partial images are shown)."""
    async with ctx.client() as pp:
        job = await pp.images.get(args.id)
    if ctx.json_output:
        ctx.emit(job)
    else:
        render_image_generation(ctx, job)
    return _job_exit(job.status)


# -- videos ----------------------------------------------------------------------------------


def render_video_generation(ctx: Context, job: VideoGeneration) -> None:
    """A video generation: its fields, its video once made."""
    rows = [
        ("id", job.video_generation_id),
        ("status", str(job.status)),
        ("model", job.model or "-"),
        ("size", job.size or "-"),
        ("duration", "-" if job.duration is None else f"{job.duration} s"),
        ("audio", "-" if job.has_audio is None else ("yes" if job.has_audio else "no")),
        ("credits used", "-" if job.credits_used is None else str(job.credits_used)),
        ("created", _maybe(job.created_at)),
        ("prompt", job.prompt or "-"),
    ]
    if job.video is not None:
        rows.append(("media id", job.video.media_id))
        rows.append(("url", job.video.url or "-"))
    if job.error is not None:
        rows.append(("error", _error_text(job.error)))
    ctx.ui.fields(rows)
    if job.video is None and not job.is_terminal:
        ctx.ui.line()
        ctx.ui.line(f"no video yet ({job.status}): powerpost videos get {job.video_generation_id}")


async def cmd_videos_generate(args: argparse.Namespace, ctx: Context) -> int:
    """``videos generate PROMPT --duration N``; with ``--wait``, the video."""
    async with ctx.client() as pp:
        with sdk_warnings(ctx):
            created = await pp.videos.generate(
                args.prompt,
                duration=args.duration,
                model=args.model,
                size=args.size,
                has_audio=args.audio or None,
                enhance_prompt=args.enhance_prompt or None,
                source_image=args.source_image,
            )
        job_id = created.video_generation_id
        if not args.wait:
            if ctx.json_output:
                ctx.emit(created)
            else:
                ctx.ui.fields(_created_rows(created, job_id))
            return EXIT_OK
        if not ctx.json_output:
            ctx.ui.fields(_created_rows(created, job_id))
            ctx.ui.line()
        job = await _await_one(
            ctx,
            pp.videos.wait_many,
            created,
            timeout=args.wait_timeout,
            what=f"video generation {job_id}",
            hint=f"check on it: powerpost videos get {job_id}",
        )
    if ctx.json_output:
        ctx.emit(job)
    else:
        render_video_generation(ctx, job)
    return _job_exit(job.status)


async def cmd_videos_get(args: argparse.Namespace, ctx: Context) -> int:
    """``videos get ID``: exit 1 if it failed."""
    async with ctx.client() as pp:
        job = await pp.videos.get(args.id)
    if ctx.json_output:
        ctx.emit(job)
    else:
        render_video_generation(ctx, job)
    return _job_exit(job.status)


# -- posts -----------------------------------------------------------------------------------


def parse_items(
    items: Sequence[tuple[str, str | None]],
    titles: Sequence[tuple[str, str]],
    media: Sequence[tuple[str | None, str]],
    *,
    generation_id: str | None,
) -> list[dict[str, Any]]:
    """The ``items`` of ``posts.create`` from ``--item``, ``--title`` and ``--media``.

    Raises:
        CLIError: A type twice, a title or media for a type with no ``--item``, an item
            with no content (or a YouTube item with no title) and no ``--generation-id``
            to fill it.
    """
    built: dict[str, dict[str, Any]] = {}
    for post_type, content in items:
        if post_type in built:
            raise CLIError(f"--item {post_type} is given twice: a post has one item per type")
        item: dict[str, Any] = {"post_type": post_type}
        if content is not None:
            item["content"] = content
        built[post_type] = item

    def item_for(flag: str, post_type: str) -> dict[str, Any]:
        if post_type not in built:
            raise CLIError(
                f"{flag} {post_type}=...: there is no --item {post_type}",
                hints=[f"the items are: {', '.join(built)}"],
            )
        return built[post_type]

    for post_type, title in titles:
        item = item_for("--title", post_type)
        if "title" in item:
            raise CLIError(f"--title {post_type}=... is given twice")
        item["title"] = title
    for target, media_id in media:
        for item in [item_for("--media", target)] if target else built.values():
            item.setdefault("media_ids", []).append(media_id)
    if generation_id is None:
        for post_type, item in built.items():
            if "content" not in item:
                raise CLIError(
                    f"--item {post_type} has no content",
                    hints=[
                        f"write it: --item {post_type}='Your caption'",
                        "or pass --generation-id ID to fill every item from a generation",
                    ],
                )
            if post_type in TITLED_POST_TYPES and "title" not in item:
                raise CLIError(
                    f"a {post_type} item needs a title: --title {post_type}='Your title'",
                    hints=["or pass --generation-id ID to take it from a generation"],
                )
    return list(built.values())


def post_exit(post: Post) -> int:
    """1 if the post failed or any of its items did, else 0."""
    failed = post.status is PostStatus.FAILED or bool(post.failed_items)
    return EXIT_FAILED if failed else EXIT_OK


def render_post(ctx: Context, post: Post) -> None:
    """A post: its fields, then a row per item."""
    rows = [
        ("id", post.post_id),
        ("status", str(post.status)),
        ("created", _maybe(post.created_at)),
    ]
    if post.generation_id:
        rows.append(("generation", post.generation_id))
    if post.scheduled_at is not None:
        rows.append(("scheduled", _maybe(post.scheduled_at)))
    ctx.ui.fields(rows)
    ctx.ui.line()
    item_rows = []
    for item in post.items:
        if item.error is not None:
            detail = _error_text(item.error)
        elif item.platform_post_id:
            detail = item.platform_post_id
        else:
            detail = "-"
        item_rows.append(
            [
                item.item_id,
                item.post_type,
                str(item.status),
                shorten(detail, 60),
                shorten(item.content, CONTENT_WIDTH),
            ]
        )
    ctx.ui.table(
        [
            Column("ITEM ID"),
            Column("TYPE"),
            Column("STATUS", status=True),
            Column("POSTED AS / ERROR"),
            Column("CONTENT", shrink=True),
        ],
        item_rows,
    )
    if post.failed_items:
        ctx.ui.line(
            f"{len(post.failed_items)} of {len(post.items)} items failed, "
            f"{len(post.posted_items)} posted"
        )


async def cmd_posts_create(args: argparse.Namespace, ctx: Context) -> int:
    """``posts create --item TYPE[=CONTENT]...``: a draft post."""
    items = parse_items(
        args.items, args.titles or (), args.media or (), generation_id=args.generation_id
    )
    check_post_types([item["post_type"] for item in items], args.allow_unknown_post_types)
    async with ctx.client() as pp:
        with sdk_warnings(ctx):
            post = await pp.posts.create(items, generation_id=args.generation_id)
    if ctx.json_output:
        ctx.emit(post)
    else:
        render_post(ctx, post)
        ctx.ui.line()
        ctx.ui.line(f"a draft: publish it with  powerpost posts publish {post.post_id}")
    return EXIT_OK


async def cmd_posts_get(args: argparse.Namespace, ctx: Context) -> int:
    """``posts get ID``: exit 1 if it failed or any item did."""
    async with ctx.client() as pp:
        post = await pp.posts.get(args.id)
    if ctx.json_output:
        ctx.emit(post)
    else:
        render_post(ctx, post)
    return post_exit(post)


def _action_rows(action: PostAction) -> list[tuple[str, str]]:
    rows = [("post", action.post_id), ("status", str(action.status))]
    if action.scheduled_at is not None:
        rows.append(("scheduled", _maybe(action.scheduled_at)))
    return rows


async def cmd_posts_publish(args: argparse.Namespace, ctx: Context) -> int:
    """``posts publish ID``; with ``--wait``, every item's outcome (exit 1 if one failed)."""
    async with ctx.client() as pp:
        action = await pp.posts.publish(args.id)
        if not args.wait:
            if ctx.json_output:
                ctx.emit(action)
            else:
                ctx.ui.fields(_action_rows(action))
            return EXIT_OK
        if not ctx.json_output:
            ctx.ui.fields(_action_rows(action))
            ctx.ui.line()
        post = await _await_one(
            ctx,
            pp.posts.wait_many,
            action,
            timeout=args.wait_timeout,
            what=f"publishing post {action.post_id}",
            hint=f"check on it: powerpost posts get {action.post_id}",
        )
    if ctx.json_output:
        ctx.emit(post)
    else:
        render_post(ctx, post)
    return post_exit(post)


async def cmd_posts_schedule(args: argparse.Namespace, ctx: Context) -> int:
    """``posts schedule ID --at WHEN``."""
    async with ctx.client() as pp:
        action = await pp.posts.schedule(args.id, at=args.at)
    if ctx.json_output:
        ctx.emit(action)
    else:
        ctx.ui.fields(_action_rows(action))
    return EXIT_OK


async def cmd_posts_cancel(args: argparse.Namespace, ctx: Context) -> int:
    """``posts cancel ID``: back to a draft."""
    async with ctx.client() as pp:
        action = await pp.posts.cancel_publish(args.id)
    if ctx.json_output:
        ctx.emit(action)
    else:
        ctx.ui.fields(_action_rows(action))
    return EXIT_OK


# -- analytics -------------------------------------------------------------------------------


def analytics_rows(analytics: ItemAnalytics) -> list[tuple[str, str]]:
    """An item's numbers, as label/value rows."""
    rows = [
        ("item", analytics.post_item_id),
        ("post type", analytics.post_type or "-"),
        ("platform", analytics.platform or "-"),
        ("status", str(analytics.status)),
    ]
    metrics = analytics.metrics
    if metrics is None:
        rows.append(("metrics", "none yet: measured once the item is posted"))
    else:
        rows += [
            ("views", str(metrics.views)),
            ("likes", str(metrics.likes)),
            ("comments", str(metrics.comments)),
            ("fetched", _maybe(metrics.fetched_at)),
        ]
    return rows


async def cmd_analytics(args: argparse.Namespace, ctx: Context) -> int:
    """``analytics ITEM_ID``."""
    async with ctx.client() as pp:
        analytics = await pp.analytics.item(args.item_id)
    if ctx.json_output:
        ctx.emit(analytics)
    else:
        ctx.ui.fields(analytics_rows(analytics))
    return EXIT_OK


# -- calendar --------------------------------------------------------------------------------


def _entry_rows(entry: CalendarEntry) -> list[tuple[str, str]]:
    return [
        ("id", entry.entry_id),
        ("title", entry.title),
        ("date", entry.scheduled_date.isoformat()),
        ("time", "-" if entry.scheduled_time is None else entry.scheduled_time.strftime("%H:%M")),
        ("platforms", ", ".join(entry.platforms) or "-"),
        ("description", entry.description or "-"),
    ]


async def cmd_calendar_list(args: argparse.Namespace, ctx: Context) -> int:
    """``calendar list --from DAY --to DAY``: a table, or JSON lines."""
    start, end = args.start, args.end
    days = (end - start).days + 1
    if days < 1:
        raise CLIError(f"--to {end} is before --from {start}")
    if days > MAX_CALENDAR_RANGE_DAYS:
        raise CLIError(
            f"--from {start} --to {end} spans {days} days: the API lists at most "
            f"{MAX_CALENDAR_RANGE_DAYS} at a time"
        )
    async with ctx.client() as pp:
        entries = await pp.calendar.list(start, end)
    if ctx.json_output:
        for entry in entries:
            ctx.emit(entry)
        return EXIT_OK
    if entries:
        ctx.ui.table(
            [
                Column("ID"),
                Column("DATE"),
                Column("TIME"),
                Column("PLATFORMS"),
                Column("TITLE", shrink=True),
            ],
            [
                [
                    e.entry_id,
                    e.scheduled_date.isoformat(),
                    "-" if e.scheduled_time is None else e.scheduled_time.strftime("%H:%M"),
                    ",".join(e.platforms) or "-",
                    shorten(e.title, CONTENT_WIDTH),
                ]
                for e in entries
            ],
        )
    ctx.ui.line(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} from {start} to {end}")
    return EXIT_OK


async def cmd_calendar_create(args: argparse.Namespace, ctx: Context) -> int:
    """``calendar create TITLE --date DAY``."""
    platforms: list[str] | None = args.platforms
    if platforms is not None and len(set(platforms)) != len(platforms):
        raise CLIError(f"--platform lists a platform twice: {', '.join(platforms)}")
    async with ctx.client() as pp:
        entry = await pp.calendar.create(
            args.title,
            args.date,
            scheduled_time=args.time,
            description=args.description,
            platforms=platforms,
        )
    if ctx.json_output:
        ctx.emit(entry)
    else:
        ctx.ui.fields(_entry_rows(entry))
    return EXIT_OK


async def cmd_calendar_get(args: argparse.Namespace, ctx: Context) -> int:
    """``calendar get ID``."""
    async with ctx.client() as pp:
        entry = await pp.calendar.get(args.id)
    if ctx.json_output:
        ctx.emit(entry)
    else:
        ctx.ui.fields(_entry_rows(entry))
    return EXIT_OK


async def cmd_calendar_delete(args: argparse.Namespace, ctx: Context) -> int:
    """``calendar delete ID``."""
    async with ctx.client() as pp:
        await pp.calendar.delete(args.id)
    if ctx.json_output:
        ctx.emit({"entry_id": args.id, "deleted": True})
    else:
        ctx.ui.line(f"deleted {args.id}")
    return EXIT_OK
