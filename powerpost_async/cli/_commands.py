"""The API commands: ``generations list|get|create|wait``, ``sweep`` and ``credits``.

Each is a thin layer over the public SDK: parse nothing (argparse did), call
``pp.generations`` / ``pp.account``, and render the models either for people (through
the :class:`~powerpost_async.cli._output.UI`) or as JSON. Errors are not handled here:
``main`` reports them (a line, or JSON under ``--json``) with an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence

from powerpost_async import (
    KNOWN_POST_TYPES,
    CreatedGeneration,
    Generation,
    GenerationStatus,
    GenerationSummary,
    NotFoundError,
    Page,
    PowerPostError,
    WaitTimeoutError,
    YouTubeOutput,
)

from ._context import EXIT_API, EXIT_FAILED, EXIT_OK, CLIError, Context
from ._output import Column, ErrorReport, shorten, when

__all__ = [
    "check_post_types",
    "cmd_create",
    "cmd_credits",
    "cmd_get",
    "cmd_list",
    "cmd_sweep",
    "cmd_wait",
    "finish_line",
    "render_generation",
    "sdk_warnings",
]

STATUS_ORDER = ("pending", "processing", "completed", "failed")
PROMPT_WIDTH = 48
LIST_COLUMNS = (
    Column("ID"),
    Column("STATUS", status=True),
    Column("MODE"),
    Column("CREDITS", right=True),
    Column("CREATED (UTC)"),
    Column("PROMPT", shrink=True),
)


# -- rendering ------------------------------------------------------------------------------


def _row(summary: GenerationSummary | Generation) -> list[str]:
    return [
        summary.generation_id,
        str(summary.status),
        summary.research_mode or "-",
        str(summary.credits_used),
        when(summary.created_at),
        shorten(summary.prompt, PROMPT_WIDTH),
    ]


def render_generation(ctx: Context, generation: Generation) -> None:
    """A generation for people: its fields, then one block per platform's output."""
    ui = ctx.ui
    rows = [
        ("id", generation.generation_id),
        ("status", str(generation.status)),
        ("research mode", generation.research_mode or "-"),
        ("credits used", str(generation.credits_used)),
        ("created", when(generation.created_at) + " UTC"),
        ("platforms", ", ".join(generation.platforms) or "-"),
        ("prompt", generation.prompt or "-"),
    ]
    if generation.error is not None:
        rows.append(("error", f"{generation.error.code}: {generation.error.message}"))
    ui.fields(rows)
    if generation.outputs:
        for platform, output in generation.outputs.items():
            ui.line()
            if isinstance(output, YouTubeOutput):
                ui.block(platform, f"title: {output.title}\ndescription: {output.description}")
            else:
                ui.block(platform, output)
    elif not generation.is_terminal:
        ui.line()
        ui.line(
            f"no outputs yet ({generation.status}): "
            f"powerpost generations wait {generation.generation_id}"
        )


def finish_line(generation: Generation) -> str:
    """One line for a finished generation: status, id, and platforms or the error."""
    if generation.error is not None:
        detail = f"{generation.error.code}: {generation.error.message}"
    else:
        detail = f"{', '.join(generation.platforms) or '-'}; {generation.credits_used} credits"
    return f"{generation.status!s:<10} {generation.generation_id}  {detail}"


def _some(ids: Sequence[str], most: int = 10) -> str:
    """Ids for an error line: all of them, or the first ``most`` and how many more."""
    shown = ", ".join(ids[:most])
    return shown if len(ids) <= most else f"{shown} and {len(ids) - most} more"


def _exit_for(generations: Iterable[Generation]) -> int:
    failed = any(g.status is GenerationStatus.FAILED for g in generations)
    return EXIT_FAILED if failed else EXIT_OK


async def _items(page: Page[GenerationSummary]) -> AsyncIterator[GenerationSummary]:
    for summary in page:
        yield summary


# -- generations list / get ---------------------------------------------------------------


def _status(args: argparse.Namespace) -> GenerationStatus | None:
    # argparse already held --status to the known choices.
    return None if args.status is None else GenerationStatus(args.status)


async def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    """``generations list``: one page, or every page with ``--all``."""
    status = _status(args)
    limit: int | None = args.limit
    async with ctx.client() as pp:
        more = False
        items: AsyncIterator[GenerationSummary]
        if args.all:
            items = pp.generations.iterate(status, page_size=limit or 100)
        else:
            page = await pp.generations.list(status, limit)
            more = page.has_more
            items = _items(page)
        if ctx.json_output:
            async for summary in items:  # streamed: --all over many pages starts at once
                ctx.emit(summary)
            return EXIT_OK
        rows = [_row(summary) async for summary in items]
    if rows:
        ctx.ui.table(LIST_COLUMNS, rows)
    count = f"{len(rows)} generation{'' if len(rows) == 1 else 's'}"
    ctx.ui.line(count + ("; more on the next pages: add --all" if more else ""))
    return EXIT_OK


async def cmd_get(args: argparse.Namespace, ctx: Context) -> int:
    """``generations get ID``: exit 1 if the generation failed."""
    async with ctx.client() as pp:
        generation = await pp.generations.get(args.id)
    if ctx.json_output:
        ctx.emit(generation)
    else:
        render_generation(ctx, generation)
    return _exit_for([generation])


# -- generations create / wait ------------------------------------------------------------


@contextlib.contextmanager
def sdk_warnings(ctx: Context) -> Iterator[None]:
    """The SDK's warnings in the block (a post type or model it does not know, sent
    anyway) as ``warning:`` lines on stderr, not Python warnings with a source location;
    shown even when the API then refuses the request, since they say why."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                ctx.note(f"warning: {warning.message}")


def check_post_types(post_types: Sequence[str], allow_unknown: bool) -> None:
    """Refuse, before anything is sent, a post type this version does not know.

    A typo would otherwise cost a round trip and a 400 (or, should the API accept it, a
    generation for the wrong platform); a type the API added since this release still
    goes through with ``--allow-unknown-post-types``.
    """
    unknown = [t for t in dict.fromkeys(post_types) if t not in KNOWN_POST_TYPES]
    if not unknown or allow_unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name.lower(), KNOWN_POST_TYPES, n=1)
        if close:
            hints.append(f"{name!r}: did you mean {close[0]!r}?")
    hints += [
        f"known post types: {', '.join(KNOWN_POST_TYPES)}",
        "to send it anyway (a type the API added since this version): "
        "add --allow-unknown-post-types",
    ]
    raise CLIError(
        f"unknown post type{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
        hints=hints,
        details={"unknown_post_types": unknown},
    )


async def cmd_create(args: argparse.Namespace, ctx: Context) -> int:
    """``generations create``: print the new id and its cost; with ``--wait``, the result."""
    check_post_types(args.post_types, args.allow_unknown_post_types)
    async with ctx.client() as pp:
        with sdk_warnings(ctx):
            created = await pp.generations.create(
                args.prompt,
                post_types=args.post_types,
                research_mode=args.research_mode,
                media_ids=args.media_ids,
                writing_style_id=args.writing_style_id,
                cta_text=args.cta_text,
                source_urls=args.source_urls,
            )
        if not args.wait:
            if ctx.json_output:
                ctx.emit(created)
            else:
                ctx.ui.fields(_created_rows(created))
            return EXIT_OK
        if not ctx.json_output:
            ctx.ui.fields(_created_rows(created))
            ctx.ui.line()
        with ctx.ui.progress(1, "waiting") as bar:
            try:
                (generation,) = await pp.generations.wait_many(
                    [created], timeout=args.wait_timeout, on_progress=bar.update
                )
            except WaitTimeoutError as error:
                raise CLIError(
                    f"generation {created.generation_id} did not finish within "
                    f"{args.wait_timeout:g} s",
                    code=EXIT_FAILED,
                    hints=[f"keep waiting: powerpost generations wait {created.generation_id}"],
                    error=error,
                ) from None
    if ctx.json_output:
        ctx.emit(generation)
    else:
        render_generation(ctx, generation)
    return _exit_for([generation])


def _created_rows(created: CreatedGeneration) -> list[tuple[str, str]]:
    rows = [
        ("created", created.generation_id),
        ("status", str(created.status)),
        ("credits used", str(created.credits_used)),
    ]
    if created.remaining_credits is not None:
        rows.append(("remaining", str(created.remaining_credits)))
    return rows


async def cmd_wait(args: argparse.Namespace, ctx: Context) -> int:
    """``generations wait ID...``: a line per generation as it finishes; exit 1 if any failed."""
    ids: list[str] = list(dict.fromkeys(args.ids))
    finished: list[Generation] = []
    async with ctx.client() as pp:
        with ctx.ui.progress(len(ids), "generations") as bar:
            try:
                async for generation in pp.generations.as_completed(
                    ids, timeout=args.wait_timeout, on_progress=bar.update
                ):
                    finished.append(generation)
                    if ctx.json_output:
                        ctx.emit(generation)
                    else:
                        bar.log(finish_line(generation))
            except WaitTimeoutError as error:
                raise CLIError(
                    f"{len(error.pending_ids)} of {len(ids)} generations did not finish "
                    f"within {args.wait_timeout:g} s: {_some(error.pending_ids)}",
                    code=EXIT_FAILED,
                    error=error,
                ) from None
            except PowerPostError as error:
                # as_completed raises a per-id error (e.g. not found) only after every
                # other id was yielded: the ids not yielded are the ones it is about.
                done = {g.generation_id for g in finished}
                missing = [i for i in ids if i not in done]
                if len(missing) == len(ids) > 1:  # not about some ids: about all of them
                    raise
                raise CLIError(
                    f"{_some(missing)}: {error}",
                    code=EXIT_API,
                    error=error,
                    details={"generation_ids": missing},
                ) from None
    if not ctx.json_output and len(ids) > 1:
        counts = Counter(str(g.status) for g in finished)
        ctx.ui.line(
            f"{len(finished)} generations: {counts['completed']} completed, "
            f"{counts['failed']} failed"
        )
    return _exit_for(finished)


# -- sweep and credits ----------------------------------------------------------------------


def _ordered(counts: Counter[str]) -> list[tuple[str, int]]:
    known = [(s, counts[s]) for s in STATUS_ORDER]
    return known + sorted((s, n) for s, n in counts.items() if s not in STATUS_ORDER)


async def cmd_sweep(args: argparse.Namespace, ctx: Context) -> int:
    """``sweep``: counts by status, of the whole workspace or of the given ids."""
    status = _status(args)
    ids: list[str] = list(dict.fromkeys(args.ids))
    async with ctx.client() as pp:
        if not ids:
            counts: Counter[str] = Counter()
            credits = 0
            async for summary in pp.generations.iterate(status):
                counts[str(summary.status)] += 1
                credits += summary.credits_used
            total = sum(counts.values())
            if ctx.json_output:
                ctx.emit(
                    {"counts": dict(_ordered(counts)), "total": total, "credits_used": credits}
                )
            else:
                rows = [[s, str(n)] for s, n in _ordered(counts)]
                rows += [["total", str(total)], ["credits used", str(credits)]]
                ctx.ui.table([Column("STATUS", status=True), Column("COUNT", right=True)], rows)
            return EXIT_OK
        statuses = await pp.generations.sweep(ids, return_exceptions=True)
    found = {i: str(s) for i, s in statuses.items() if isinstance(s, GenerationStatus)}
    errors = {i: e for i, e in statuses.items() if not isinstance(e, GenerationStatus)}
    shown = {i: s for i, s in found.items() if status is None or s == status}
    counts = Counter(found.values())
    if ctx.json_output:
        document: dict[str, object] = {
            "counts": dict(_ordered(counts)),
            "total": len(ids),
            "statuses": shown,
        }
        if errors:  # each in the shape of every JSON error of the CLI
            document["errors"] = {i: ErrorReport.of(e).as_json() for i, e in errors.items()}
        ctx.emit(document)
        return EXIT_API if errors else EXIT_OK
    rows = [[s, str(n)] for s, n in _ordered(counts)]
    if errors:
        label = "not found" if _all_not_found(errors.values()) else "errors"
        rows.append([label, str(len(errors))])
    rows.append(["total", str(len(ids))])
    ctx.ui.table([Column("STATUS", status=True), Column("COUNT", right=True)], rows)
    if status is not None:
        ctx.ui.line()
        ctx.ui.line(f"{status}: {len(shown)}")
        for generation_id in shown:
            ctx.ui.line(generation_id)
    for generation_id, error in errors.items():
        ctx.note(f"error: {generation_id}: {error}")
    return EXIT_API if errors else EXIT_OK


def _all_not_found(errors: Iterable[object]) -> bool:
    return all(isinstance(e, NotFoundError) for e in errors)


async def cmd_credits(args: argparse.Namespace, ctx: Context) -> int:
    """``credits``: the account's balance (needs no workspace)."""
    async with ctx.client(workspace=False) as pp:
        credits = await pp.account.credits()
    if ctx.json_output:
        ctx.emit(credits)
    else:
        ctx.ui.line(f"{credits.balance} credits")
    return EXIT_OK
