"""The ``powerpost`` command line: arguments, configuration, dispatch and exit codes.

argparse (stdlib) parses, so the command works without the ``cli`` extra; rich only
changes how things look. Every failure ends here as one
:class:`~powerpost_async.cli._output.ErrorReport` (an ``error:`` line on stderr, or one
JSON object on stdout under ``--json``) and a documented exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import re
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import date, datetime
from typing import Any, NoReturn, TextIO

import attrs

from powerpost_async import (
    KNOWN_POST_TYPES,
    JobFailedError,
    PowerPostError,
    WaitTimeoutError,
    __version__,
)
from powerpost_async._limits import (
    CALENDAR_PLATFORMS,
    IMAGE_MODELS,
    IMAGE_SIZES,
    MAX_QUANTITY,
    MEDIA_TYPES,
    VIDEO_MODELS,
    VIDEO_SIZES,
)

from ._commands import STATUS_ORDER, cmd_create, cmd_credits, cmd_get, cmd_list, cmd_sweep, cmd_wait
from ._content import (
    cmd_analytics,
    cmd_calendar_create,
    cmd_calendar_delete,
    cmd_calendar_get,
    cmd_calendar_list,
    cmd_images_generate,
    cmd_images_get,
    cmd_media_upload,
    cmd_posts_cancel,
    cmd_posts_create,
    cmd_posts_get,
    cmd_posts_publish,
    cmd_posts_schedule,
    cmd_videos_generate,
    cmd_videos_get,
)
from ._context import (
    EXIT_API,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    Context,
    Settings,
    hints_for,
)
from ._output import UI, USAGE_ERROR, ErrorReport, PlainUI, RichUI, UIMode, rich_available

__all__ = ["build_parser", "main"]

# What a shell reports for a process killed by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 141

Handler = Callable[[argparse.Namespace, Context], Coroutine[Any, Any, int]]

DESCRIPTION = """\
Command line for the PowerPost API v1: AI-written social-media posts.
Create caption generations and await them (many at once), upload media, generate
images and videos, create, publish and schedule posts, read their analytics, plan the
content calendar, check credits.
Try it without an account: `powerpost demo`, or `powerpost --fake generations list`."""

EPILOG = """\
commands:
  generations list     list generations (a table, or JSON lines with --json)
  generations get      one generation, with its caption per platform
  generations create   start a generation (--wait to await it and print the captions)
  generations wait     await generations, a line per generation as it finishes
  sweep                counts by status: of the whole workspace, or of the given ids
  credits              the account's credit balance
  media upload         upload an image or a video (a progress bar on a terminal)
  images generate      start an image generation (--wait to await its images)
  images get           one image generation, with its images
  videos generate      start a video generation (--wait to await the video)
  videos get           one video generation
  posts create         a draft post: --item TYPE[=CONTENT] per platform
  posts get            one post, with every item's status
  posts publish        publish a post now (--wait to await every item's outcome)
  posts schedule       publish a post later: --at 2026-05-01T09:00:00+02:00
  posts cancel         turn a scheduled post back into a draft
  analytics            the numbers of one post item
  calendar list        the calendar entries between two days
  calendar create      plan a calendar entry (get and delete one too)
  serve-fake           run the embedded fake API in the foreground
  demo                 create and await many generations against the embedded fake API
                       (--pipeline: upload, caption, image, post, publish, analytics)

environment:
  POWERPOST_API_KEY        your API key, pp_live_sk_... (--api-key wins)
  POWERPOST_WORKSPACE_ID   the workspace (every command but credits; --workspace-id wins)
  POWERPOST_BASE_URL       the API's base URL (--base-url wins)
  POWERPOST_DEBUG          set to 1 for a traceback on an unexpected error

exit codes:
  0    success
  1    a generation (image, video) or a post's item failed, or a wait timed out
  2    usage or configuration error (bad arguments, no API key, ...)
  3    API or network error (an error status from the API, no connection, ...)
  130  interrupted (Ctrl-C)

errors:
  one line on stderr ("error: ..."), with hints below it; with --json, one JSON
  object on stdout instead: {"error": {"type": "NotFoundError", "message": "...",
  ...}}, with the fields a program may act on (status_code, code, request_id,
  retry_after, pending_ids, scope, ...); "type" is "UsageError" for the arguments or the
  configuration, else the name of the SDK's exception

`powerpost COMMAND --help` tells more about each command."""


# -- argument types -----------------------------------------------------------------------


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _duration(text: str) -> float | tuple[float, float]:
    """``S`` or ``LOW-HIGH`` seconds (a dash after a digit splits: ``1e-3`` stays whole)."""
    parts = re.split(r"(?<=[0-9.])-", text.strip())
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"expected S or LOW-HIGH seconds, got {text!r}")
    values = [_number(part) for part in parts]
    if any(value < 0 for value in values):
        raise argparse.ArgumentTypeError(f"must be seconds >= 0, got {text}")
    if len(values) == 1:
        return values[0]
    low, high = values
    if low > high:
        raise argparse.ArgumentTypeError(f"LOW must not exceed HIGH, got {text}")
    return (low, high)


def _rate_limit(text: str) -> tuple[int, float]:
    """``N/S``: N requests per S seconds."""
    count, slash, per = text.partition("/")
    if not slash:
        raise argparse.ArgumentTypeError(
            f"expected REQUESTS/SECONDS, e.g. 60/60 for 60 requests a minute, got {text!r}"
        )
    try:
        limit = int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of requests: {count!r}") from None
    if limit < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 request per window, got {limit}")
    seconds = _number(per)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"needs a window of seconds > 0, got {per}")
    return (limit, seconds)


def _fault_kinds(text: str) -> tuple[str, ...]:
    from ._fake import fault_named  # the fake loads only when used

    names = tuple(dict.fromkeys(name.strip().lower() for name in text.split(",")))
    for name in names:
        try:
            fault_named(name)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return names


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _int_between(low: int, high: int | None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def _post_type_key(text: str, flag: str) -> tuple[str, str | None]:
    """``TYPE`` or ``TYPE=VALUE`` (split at the first ``=``); ``VALUE`` must not be empty."""
    post_type, equals, value = text.partition("=")
    post_type = post_type.strip()
    if not post_type:
        raise argparse.ArgumentTypeError(f"expected TYPE or TYPE=..., got {text!r}")
    if equals and not value.strip():
        raise argparse.ArgumentTypeError(
            f"{post_type}= has nothing after the '=': leave it out, or write {flag} "
            f"{post_type}='...'"
        )
    return post_type, value if equals else None


def _item(text: str) -> tuple[str, str | None]:
    """``--item TYPE[=CONTENT]``."""
    return _post_type_key(text, "--item")


def _title(text: str) -> tuple[str, str]:
    """``--title TYPE=TITLE``."""
    post_type, value = _post_type_key(text, "--title")
    if value is None:
        raise argparse.ArgumentTypeError(f"expected TYPE=TITLE, got {text!r}")
    return post_type, value


def _media(text: str) -> tuple[str | None, str]:
    """``--media [TYPE=]ID``: one item's, or (without ``TYPE=``) every item's."""
    if "=" in text:
        post_type, value = _post_type_key(text, "--media")
        assert value is not None
        return post_type, value.strip()
    if text in KNOWN_POST_TYPES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is a post type, not a media id: write {text}=MEDIA_ID"
        )
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a media id")
    return None, text.strip()


def _aware_datetime(text: str) -> datetime:
    """An ISO 8601 timestamp with its UTC offset (``Z`` stands for ``+00:00``)."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 timestamp: {text!r} (e.g. 2026-05-01T09:00:00+02:00)"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: add one, e.g. {value}+02:00 or {value}Z"
        )
    return moment


def _day(text: str) -> date:
    """A ``YYYY-MM-DD`` day."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}")


def _clock_time(text: str) -> str:
    """``HH:MM`` on a 24-hour clock."""
    hours, colon, minutes = text.partition(":")
    if (
        colon
        and len(hours) == len(minutes) == 2
        and hours.isdigit()
        and minutes.isdigit()
        and int(hours) < 24
        and int(minutes) < 60
    ):
        return text
    raise argparse.ArgumentTypeError(f"expected HH:MM on a 24-hour clock, got {text!r}")


# -- the parser ---------------------------------------------------------------------------


class UsageError(Exception):
    """What argparse found wrong with the arguments, and the (sub)command it was about."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises its usage errors, so that ``main`` may print them
    as argparse does, or as JSON under ``--json``. (Its subcommands' parsers are of this
    class too: argparse makes them of their parent's.)"""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what}")


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (``powerpost --help`` shows it)."""
    parser = _Parser(
        prog="powerpost",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(json=False)
    options = parser.add_argument_group("global options (before the command)")
    options.add_argument(
        "--api-key",
        metavar="KEY",
        help="API key (default: $POWERPOST_API_KEY; prefer the variable: "
        "a flag shows in the process list)",
    )
    options.add_argument(
        "--workspace-id", metavar="ID", help="workspace id (default: $POWERPOST_WORKSPACE_ID)"
    )
    options.add_argument(
        "--base-url",
        metavar="URL",
        help="API base URL (default: $POWERPOST_BASE_URL, then https://powerpost.ai)",
    )
    options.add_argument(
        "--fake",
        action="store_true",
        help="run the command against a fresh embedded fake API with a few sample "
        "generations (no account needed; nothing leaves this machine)",
    )
    options.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="let the key travel over plain http:// to a host other than this machine "
        "(in clear text: only on a network you trust)",
    )
    options.add_argument(
        "--timeout",
        dest="http_timeout",
        type=_positive_float,
        metavar="S",
        help="seconds one HTTP request may take (default: 30)",
    )
    options.add_argument(
        "--ui",
        choices=("auto", "rich", "plain"),
        default="auto",
        help="rich tables and live progress bars, or plain text (default: auto, rich "
        "when it is installed and stdout is a terminal)",
    )
    options.add_argument("--version", action="version", version=f"powerpost {__version__}")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_generations(commands)

    sweep = commands.add_parser(
        "sweep",
        help="counts by status, of the workspace or of the given ids",
        description="Without ids: count every generation of the workspace by status "
        "(following every page) and total the credits used. With ids: the status of each "
        "id right now, from list pages, fetching one by one only the ids they miss.",
    )
    sweep.add_argument(
        "--status",
        choices=STATUS_ORDER,
        help="without ids: count only this status; with ids: also list the ids in it",
    )
    sweep.add_argument("ids", nargs="*", metavar="ID", help="generation ids")
    _json_flag(sweep, "one JSON document (with ids: per-id statuses too)")
    sweep.set_defaults(handler=cmd_sweep)

    credits = commands.add_parser("credits", help="the account's credit balance")
    _json_flag(credits, "one JSON document")
    credits.set_defaults(handler=cmd_credits)
    _add_media(commands)
    _add_images(commands)
    _add_videos(commands)
    _add_posts(commands)
    _add_analytics(commands)
    _add_calendar(commands)

    serve = commands.add_parser(
        "serve-fake",
        help="run the embedded fake API in the foreground",
        description="Serve the embedded fake PowerPost API on the real clock until Ctrl-C "
        "or SIGTERM, and print how to point the SDK or this CLI at it. Its key is a "
        "built-in test key, not a secret. GET /_fake/stats (outside the API's paths) "
        "answers live counters as JSON: requests by endpoint and status, injected "
        "faults, generations by status, credits.",
    )
    serve.add_argument(
        "--port",
        type=_int_between(0, 65535),
        default=8765,
        help="port (default: 8765; 0: any free port)",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only)",
    )
    serve.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of every random draw: ids, durations, failures, random faults (the "
        "same seed and the same requests give the same answers)",
    )
    serve.add_argument(
        "--pending",
        type=_duration,
        metavar="S",
        help="seconds a new generation stays pending: S, or LOW-HIGH for a range drawn "
        "per generation (default: 0.5-2)",
    )
    serve.add_argument(
        "--processing",
        type=_duration,
        metavar="S",
        help="seconds it then stays processing: S or LOW-HIGH (default: 3-12)",
    )
    serve.add_argument(
        "--failure-rate",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="the chance, 0-1, that a generation ends failed (and is refunded; default 0)",
    )
    serve.add_argument(
        "--rate-limit",
        type=_rate_limit,
        metavar="N/S",
        help="allow N requests per S seconds per key; more get 429 with a retry hint "
        "(e.g. 60/60; default: no limit)",
    )
    serve.add_argument(
        "--fault-rate",
        type=_fraction,
        default=0.0,
        metavar="P",
        help="inject a transient fault into each API request with chance P, 0-1 (e.g. "
        "0.05; default 0)",
    )
    serve.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        metavar="K,K",
        help="with --fault-rate: the faults drawn from, evenly (default: 500,503,429,drop): "
        "5xx statuses, 429, drop (the connection closes unanswered), malformed (a "
        "truncated body)",
    )
    serve.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each request as it is answered: time, request id, method, path, status, "
        "injected fault",
    )
    serve.set_defaults(handler=_serve_fake)

    demo = commands.add_parser(
        "demo",
        help="create and await many generations against the embedded fake API",
        description="Start the embedded fake API, create COUNT generations through the "
        "SDK (50 at a time), await them all with pp.generations.wait_many and a live "
        "progress bar, then summarise: outcomes, credits, wall time, HTTP requests used. "
        "With --pipeline, take N posts through every step from upload to analytics, all "
        "at once, on a quicker fake (seconds in all at pace 1).",
    )
    demo.add_argument("--count", type=_int_between(1, 100_000), help="generations (default 200)")
    demo.add_argument(
        "--pipeline",
        action="store_true",
        help="run the whole publishing pipeline instead, for --posts posts at once: upload "
        "a photo, caption it, draw an image from the captions, create a post with it, "
        "publish, await every item, read each item's analytics; then report each step's "
        "requests, credits and time",
    )
    demo.add_argument(
        "--posts",
        type=_int_between(1, 1000),
        metavar="N",
        help="with --pipeline: posts to take through it (default 20)",
    )
    demo.add_argument(
        "--pace",
        type=_positive_float,
        default=1.0,
        metavar="FACTOR",
        help="scale the fake's durations and the polling interval (default 1.0; "
        "0.02 runs the same story 50 times faster)",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    _json_flag(demo, "the summary as one JSON document")
    demo.set_defaults(handler=_demo)
    return parser


def _add_generations(commands: argparse._SubParsersAction[_Parser]) -> None:
    group = commands.add_parser(
        "generations",
        help="list, get, create and await generations",
        description="Caption generations: list, get, create and await them.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list",
        help="list generations, newest first",
        description="List generations, newest first: one page, or every page with --all.",
    )
    listing.add_argument("--status", choices=STATUS_ORDER, help="only this status")
    listing.add_argument(
        "--limit",
        type=_int_between(1, 100),
        metavar="N",
        help="generations per page, 1-100 (default: the API's, 20; with --all: 100)",
    )
    listing.add_argument("--all", action="store_true", help="follow the cursors through every page")
    _json_flag(listing, "JSON lines, one object per generation")
    listing.set_defaults(handler=cmd_list)

    get = actions.add_parser(
        "get",
        help="one generation, with its captions",
        description="One generation: its status, its caption per platform once completed "
        "(YouTube as title and description), its error if it failed (then exit 1).",
    )
    get.add_argument("id", metavar="ID", help="the generation id")
    _json_flag(get, "one JSON document")
    get.set_defaults(handler=cmd_get)

    create = actions.add_parser(
        "create",
        help="start a generation (costs credits)",
        description="Start a generation; print its id and cost. With --wait, await it and "
        "print its captions (exit 1 if it failed). Give a prompt, media ids, or both.",
    )
    create.add_argument("--prompt", help="what to write about")
    create.add_argument(
        "--post-type",
        dest="post_types",
        action="append",
        required=True,
        metavar="TYPE",
        help="where it will be posted; repeat for several: " + ", ".join(KNOWN_POST_TYPES),
    )
    create.add_argument(
        "--research-mode",
        choices=("regular", "deep"),
        default="regular",
        help="deep research costs more (default: regular)",
    )
    create.add_argument(
        "--media-id",
        dest="media_ids",
        action="append",
        metavar="ID",
        help="uploaded media to write about (repeatable)",
    )
    create.add_argument("--cta-text", metavar="TEXT", help="a call to action (max 100 chars)")
    create.add_argument(
        "--source-url",
        dest="source_urls",
        action="append",
        metavar="URL",
        help="a page to draw from (repeatable, max 10)",
    )
    create.add_argument("--writing-style-id", metavar="ID", help="a saved writing style")
    create.add_argument(
        "--allow-unknown-post-types",
        action="store_true",
        help="send post types this version does not know (the API may have added them); "
        "without it they are refused before anything is sent",
    )
    create.add_argument("--wait", action="store_true", help="await it and print the captions")
    create.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="with --wait: seconds to wait at most (default 600)",
    )
    _json_flag(create, "one JSON document (with --wait: the finished generation)")
    create.set_defaults(handler=cmd_create)

    wait = actions.add_parser(
        "wait",
        help="await generations",
        description="Await generations (many at once: one shared sweep, not a poll per "
        "id), with a progress bar on a terminal; print a line per generation as it "
        "finishes. Exit 1 if any failed or the deadline passed.",
    )
    wait.add_argument("ids", nargs="+", metavar="ID", help="generation ids")
    wait.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=_positive_float,
        default=600.0,
        metavar="S",
        help="seconds to wait at most (default 600)",
    )
    _json_flag(wait, "JSON lines, one finished generation per line, as they finish")
    wait.set_defaults(handler=cmd_wait)


def _wait_flags(parser: argparse.ArgumentParser, what: str, default: float) -> None:
    parser.add_argument("--wait", action="store_true", help=f"await it and print {what}")
    parser.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=_positive_float,
        default=default,
        metavar="S",
        help=f"with --wait: seconds to wait at most (default {default:g})",
    )


def _add_media(commands: argparse._SubParsersAction[_Parser]) -> None:
    group = commands.add_parser(
        "media", help="upload images and videos", description="Media of the workspace."
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    upload = actions.add_parser(
        "upload",
        help="upload an image or a video",
        description="Upload a file (streamed, never read whole into memory) and print its "
        "media id, to pass on to --media, --style-image or --source-image. Images: JPEG, "
        "PNG or WebP, at most 10 MiB; videos: MP4, MOV or WebM, at most 500 MiB. The "
        "format is read from the file's first bytes and checked before anything is sent. "
        "A progress bar on a terminal; nothing while it runs otherwise.",
    )
    upload.add_argument("path", metavar="PATH", help="the file")
    upload.add_argument(
        "--type", choices=MEDIA_TYPES, help="image or video (default: what the file is)"
    )
    _json_flag(upload, "one JSON document")
    upload.set_defaults(handler=cmd_media_upload)


def _add_images(commands: argparse._SubParsersAction[_Parser]) -> None:
    group = commands.add_parser(
        "images",
        help="generate images and get them",
        description="Image generations: start one, get one.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="start an image generation (costs credits per image)",
        description="Start an image generation; print its id and cost. With --wait, await "
        "it and print its images (exit 1 if it failed; images made before a partial "
        "failure are kept and shown). Give a PROMPT, or --generation-id to draw from that "
        "caption generation (then PROMPT is optional).",
    )
    generate.add_argument("prompt", nargs="?", metavar="PROMPT", help="what to draw")
    generate.add_argument("--size", choices=IMAGE_SIZES, help="default: square")
    generate.add_argument(
        "--quantity",
        type=_int_between(1, MAX_QUANTITY),
        metavar="N",
        help=f"images to make, 1-{MAX_QUANTITY} (default 1)",
    )
    generate.add_argument(
        "--model",
        metavar="MODEL",
        help=f"one of {', '.join(IMAGE_MODELS)} (default: flux2-flex); another name is "
        "sent with a warning",
    )
    generate.add_argument(
        "--enhance-prompt", action="store_true", help="let the service rewrite the prompt"
    )
    generate.add_argument(
        "--style-image",
        dest="style_images",
        action="append",
        metavar="ID",
        help="a reference image's media id (repeatable, at most 4)",
    )
    generate.add_argument(
        "--generation-id", metavar="ID", help="a completed caption generation to illustrate"
    )
    generate.add_argument(
        "--source-post-type",
        metavar="TYPE",
        help="with --generation-id: which of its captions to draw from",
    )
    _wait_flags(generate, "its images", 600.0)
    _json_flag(generate, "one JSON document (with --wait: the finished generation)")
    generate.set_defaults(handler=cmd_images_generate)

    get = actions.add_parser(
        "get",
        help="one image generation, with its images",
        description="One image generation: its status and the images made (exit 1 if it "
        "failed: the images made anyway are listed).",
    )
    get.add_argument("id", metavar="ID", help="the image generation id")
    _json_flag(get, "one JSON document")
    get.set_defaults(handler=cmd_images_get)


def _add_videos(commands: argparse._SubParsersAction[_Parser]) -> None:
    group = commands.add_parser(
        "videos",
        help="generate videos and get them",
        description="Video generations: start one, get one.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="start a video generation (costs credits per second)",
        description="Start a video generation; print its id and cost. With --wait, await "
        "it (minutes, on the real API) and print the video (exit 1 if it failed: then it "
        "is refunded).",
    )
    generate.add_argument("prompt", metavar="PROMPT", help="what to film")
    durations = "; ".join(
        f"{name}: {' or '.join(map(str, spec.durations))}" for name, spec in VIDEO_MODELS.items()
    )
    generate.add_argument(
        "--duration",
        type=_int_between(1, None),
        required=True,
        metavar="N",
        help=f"seconds, one the model makes ({durations})",
    )
    generate.add_argument(
        "--model",
        metavar="MODEL",
        help=f"one of {', '.join(VIDEO_MODELS)} (default: kling-3.0-pro); another name is "
        "sent with a warning",
    )
    generate.add_argument("--size", choices=VIDEO_SIZES, help="default: landscape")
    generate.add_argument(
        "--audio", action="store_true", help="with sound (not with runway-gen-4.5)"
    )
    generate.add_argument(
        "--enhance-prompt", action="store_true", help="let the service rewrite the prompt"
    )
    generate.add_argument(
        "--source-image", metavar="ID", help="an image's media id to animate (image to video)"
    )
    _wait_flags(generate, "the video", 1800.0)
    _json_flag(generate, "one JSON document (with --wait: the finished generation)")
    generate.set_defaults(handler=cmd_videos_generate)

    get = actions.add_parser(
        "get",
        help="one video generation",
        description="One video generation: its status and its video once made (exit 1 if "
        "it failed).",
    )
    get.add_argument("id", metavar="ID", help="the video generation id")
    _json_flag(get, "one JSON document")
    get.set_defaults(handler=cmd_videos_get)


def _add_posts(commands: argparse._SubParsersAction[_Parser]) -> None:
    group = commands.add_parser(
        "posts",
        help="create, publish, schedule and cancel posts",
        description="Posts: one item per post type, created as a draft, then published "
        "now or scheduled.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="create a draft post",
        description="Create a draft post, one --item per post type. An item's content "
        "follows its type\nafter '=' (quote it for the shell); with --generation-id, items "
        "may leave it out\nand get that generation's caption for their platform (and "
        "YouTube titles). Print\nthe post; publish it with `posts publish`.",
        epilog="examples:\n"
        "  powerpost posts create --item x-post='Dark mode is here' \\\n"
        "      --item linkedin-post='We shipped dark mode' --media IMAGE_ID\n"
        "  powerpost posts create --generation-id GEN_ID --item instagram-feed \\\n"
        "      --item youtube-short --title youtube-short='Dark mode in 30 s' \\\n"
        "      --media instagram-feed=IMAGE_ID --media youtube-short=VIDEO_ID",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument(
        "--item",
        dest="items",
        type=_item,
        action="append",
        required=True,
        metavar="TYPE[=CONTENT]",
        help="an item: its post type, then '=' and its caption (repeat for each "
        "platform, at most 12): " + ", ".join(KNOWN_POST_TYPES),
    )
    create.add_argument(
        "--title",
        dest="titles",
        type=_title,
        action="append",
        metavar="TYPE=TITLE",
        help="the title of the TYPE item (youtube-video and youtube-short need one)",
    )
    create.add_argument(
        "--media",
        type=_media,
        action="append",
        metavar="[TYPE=]ID",
        help="attach a media id to the TYPE item, or without TYPE= to every item (repeatable)",
    )
    create.add_argument(
        "--generation-id",
        metavar="ID",
        help="a completed caption generation: fills the content (and titles) left out",
    )
    create.add_argument(
        "--allow-unknown-post-types",
        action="store_true",
        help="send post types this version does not know; without it they are refused "
        "before anything is sent",
    )
    _json_flag(create, "one JSON document")
    create.set_defaults(handler=cmd_posts_create)

    get = actions.add_parser(
        "get",
        help="one post, with every item's status",
        description="One post: its status and every item's (posted ones with the "
        "platform's id, failed ones with their error). Exit 1 if it or an item failed.",
    )
    get.add_argument("id", metavar="ID", help="the post id")
    _json_flag(get, "one JSON document")
    get.set_defaults(handler=cmd_posts_get)

    publish = actions.add_parser(
        "publish",
        help="publish a draft or scheduled post now",
        description="Publish a post now; the items post in the background (credits are "
        "charged per item posted). With --wait, await every item and print the post "
        "(exit 1 if an item failed; the posted ones are shown too).",
    )
    publish.add_argument("id", metavar="ID", help="the post id")
    _wait_flags(publish, "every item's outcome", 600.0)
    _json_flag(publish, "one JSON document (with --wait: the post once publishing ended)")
    publish.set_defaults(handler=cmd_posts_publish)

    schedule = actions.add_parser(
        "schedule",
        help="publish a draft post at a given time",
        description="Schedule a draft (or reschedule a scheduled) post: it publishes by "
        "itself at --at (at most 60 days ahead).",
    )
    schedule.add_argument("id", metavar="ID", help="the post id")
    schedule.add_argument(
        "--at",
        type=_aware_datetime,
        required=True,
        metavar="WHEN",
        help="ISO 8601 with its UTC offset, e.g. 2026-05-01T09:00:00+02:00 or 2026-05-01T07:00:00Z",
    )
    _json_flag(schedule, "one JSON document")
    schedule.set_defaults(handler=cmd_posts_schedule)

    cancel = actions.add_parser(
        "cancel",
        help="turn a scheduled post back into a draft",
        description="Cancel a scheduled publish (or one whose items have not started "
        "posting): the post is a draft again.",
    )
    cancel.add_argument("id", metavar="ID", help="the post id")
    _json_flag(cancel, "one JSON document")
    cancel.set_defaults(handler=cmd_posts_cancel)


def _add_analytics(commands: argparse._SubParsersAction[_Parser]) -> None:
    analytics = commands.add_parser(
        "analytics",
        help="the numbers of one post item",
        description="Views, likes and comments of one post item (the item ids are in "
        "`posts get`); none until it is posted, then refreshed daily by the API.",
    )
    analytics.add_argument("item_id", metavar="ITEM_ID", help="the post item id")
    _json_flag(analytics, "one JSON document")
    analytics.set_defaults(handler=cmd_analytics)


def _add_calendar(commands: argparse._SubParsersAction[_Parser]) -> None:
    group = commands.add_parser(
        "calendar",
        help="plan content calendar entries",
        description="The content calendar: planning entries (a title, a day, a time, "
        "platforms), not linked to posts.",
    )
    actions = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="the entries between two days",
        description="The entries from --from to --to (both included, at most 366 days), "
        "by date and time.",
    )
    listing.add_argument(
        "--from", dest="start", type=_day, required=True, metavar="DAY", help="YYYY-MM-DD"
    )
    listing.add_argument(
        "--to", dest="end", type=_day, required=True, metavar="DAY", help="YYYY-MM-DD"
    )
    _json_flag(listing, "JSON lines, one object per entry")
    listing.set_defaults(handler=cmd_calendar_list)

    create = actions.add_parser(
        "create", help="plan an entry", description="Plan a calendar entry; print it."
    )
    create.add_argument("title", metavar="TITLE", help="at most 500 characters")
    create.add_argument(
        "--date", type=_day, required=True, metavar="DAY", help="the day, YYYY-MM-DD"
    )
    create.add_argument(
        "--time", type=_clock_time, metavar="HH:MM", help="the time of day (24-hour clock)"
    )
    create.add_argument("--description", metavar="TEXT", help="notes, at most 5000 characters")
    create.add_argument(
        "--platform",
        dest="platforms",
        choices=CALENDAR_PLATFORMS,
        action="append",
        help="a platform it is for (repeatable)",
    )
    _json_flag(create, "one JSON document")
    create.set_defaults(handler=cmd_calendar_create)

    get = actions.add_parser("get", help="one entry", description="One calendar entry.")
    get.add_argument("id", metavar="ID", help="the entry id")
    _json_flag(get, "one JSON document")
    get.set_defaults(handler=cmd_calendar_get)

    delete = actions.add_parser(
        "delete", help="delete an entry", description="Delete a calendar entry."
    )
    delete.add_argument("id", metavar="ID", help="the entry id")
    _json_flag(delete, 'one JSON document: {"entry_id": ID, "deleted": true}')
    delete.set_defaults(handler=cmd_calendar_delete)


# -- running ------------------------------------------------------------------------------


def _make_ui(mode: UIMode, json_output: bool, stdout: TextIO) -> UI:
    if mode == "rich" and not rich_available():
        raise CLIError("--ui rich needs rich", hints=["pip install 'powerpost-async[cli]'"])
    if json_output or mode == "plain":
        return PlainUI(stdout)
    if mode == "rich" or (rich_available() and stdout.isatty()):
        return RichUI(stdout)
    return PlainUI(stdout)


async def _demo(args: argparse.Namespace, ctx: Context) -> int:
    # The demos and the fake server load only when used.
    if args.pipeline:
        if args.count is not None:
            raise CLIError("--count is for the generations demo: with --pipeline, use --posts")
        from ._pipeline import DEFAULT_POSTS, run_pipeline

        posts = DEFAULT_POSTS if args.posts is None else args.posts
        return await run_pipeline(ctx, posts=posts, pace=args.pace, seed=args.seed)
    if args.posts is not None:
        raise CLIError(
            "--posts goes with --pipeline", hints=["powerpost demo --pipeline --posts N"]
        )
    from ._demo import run_demo

    count = 200 if args.count is None else args.count
    return await run_demo(ctx, count=count, pace=args.pace, seed=args.seed)


async def _serve_fake(args: argparse.Namespace, ctx: Context) -> int:
    from ._fake import DEFAULT_FAULTS, ServeOptions, serve_fake

    if args.fault_kinds is not None and not args.fault_rate:
        raise CLIError(
            "--fault-kinds needs --fault-rate: how often to inject them",
            hints=["e.g. --fault-rate 0.05 --fault-kinds 503,drop"],
        )
    options = ServeOptions(
        seed=args.seed,
        pending=args.pending,
        processing=args.processing,
        failure_rate=args.failure_rate,
        rate_limit=args.rate_limit,
        fault_rate=args.fault_rate,
        fault_kinds=args.fault_kinds or DEFAULT_FAULTS,
        verbose=args.verbose,
    )
    return await serve_fake(args.host, args.port, options, ctx.ui.line)


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` was asked for, when argparse could not say (a usage error)."""
    options = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in options


def _tolerate_unencodable(stream: TextIO) -> None:
    # Captions carry emoji; a console that cannot show them should get a replacement
    # character, not a UnicodeEncodeError halfway through a table.
    if isinstance(stream, io.TextIOWrapper) and (stream.encoding or "").lower() not in (
        "utf-8",
        "utf8",
    ):
        stream.reconfigure(errors="replace")


def _run(main: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(main)``, with Ctrl-C cancelling ``main`` on every Python.

    Python 3.11's ``asyncio.run`` does so itself. On 3.10 SIGINT raises
    ``KeyboardInterrupt`` wherever the loop happens to be (between creating a coroutine
    and starting its task, inside a file open...), which leaves "Exception ignored" noise
    on stderr; here it cancels the main task instead, then raises ``KeyboardInterrupt``.
    """
    import signal
    import threading

    if (
        sys.version_info >= (3, 11)
        or sys.platform == "win32"
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):  # the conditions under which 3.11's asyncio.Runner takes over SIGINT
        return asyncio.run(main)

    async def cancellable() -> int:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        interrupted = False

        def interrupt() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        loop.add_signal_handler(signal.SIGINT, interrupt)
        try:
            return await main
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
        finally:
            loop.remove_signal_handler(signal.SIGINT)

    return asyncio.run(cancellable())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``powerpost`` command; return its exit code (see ``powerpost --help``).

    Args:
        argv: The arguments, without the program name (default: ``sys.argv[1:]``).
    """
    stdout, stderr = sys.stdout, sys.stderr
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except UsageError as usage:
        if _wants_json(arguments):
            hint = f"{usage.parser.prog} --help tells more"
            report = ErrorReport(USAGE_ERROR, usage.message, (hint,))
            report.show(json_output=True, stdout=stdout, stderr=stderr)
        else:  # as argparse itself would
            usage.parser.print_usage(stderr)
            stderr.write(f"{usage.parser.prog}: error: {usage.message}\n")
            stderr.flush()
        return EXIT_USAGE
    except SystemExit as exit:  # --help or --version (0)
        return exit.code if isinstance(exit.code, int) else EXIT_USAGE
    _tolerate_unencodable(stdout)
    json_output: bool = args.json
    settings: Settings | None = None

    def fail(report: ErrorReport, code: int, error: BaseException | None = None) -> int:
        if error is not None and settings is not None:
            report = attrs.evolve(report, hints=(*report.hints, *hints_for(error, settings)))
        report.show(json_output=json_output, stdout=stdout, stderr=stderr)
        return code

    try:
        settings = Settings.resolve(
            api_key=args.api_key,
            workspace_id=args.workspace_id,
            base_url=args.base_url,
            fake=args.fake,
            http_timeout=args.http_timeout,
            allow_insecure_http=args.allow_insecure_http,
        )
        ui = _make_ui(args.ui, json_output, stdout)
        ctx = Context(settings, ui, json_output=json_output, stdout=stdout, stderr=stderr)
        handler: Handler = args.handler
        return _run(handler(args, ctx))
    except CLIError as error:
        return fail(error.report(), error.code, error.error)
    except (JobFailedError, WaitTimeoutError) as error:
        return fail(ErrorReport.of(error), EXIT_FAILED)
    except PowerPostError as error:
        # Status errors read "404 NOT_FOUND: Generation not found (request id ...)";
        # the SDK never puts the key in a message.
        return fail(ErrorReport.of(error), EXIT_API, error)
    except ValueError as error:  # the SDK's input checks: nothing was sent
        return fail(ErrorReport(USAGE_ERROR, str(error)), EXIT_USAGE)
    except KeyboardInterrupt:
        if args.command == "serve-fake":  # where signal handlers could not be installed
            return EXIT_OK
        if json_output:
            return fail(ErrorReport("KeyboardInterrupt", "interrupted"), EXIT_INTERRUPTED)
        print("interrupted", file=stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `powerpost generations list --all | head`): stop
        # quietly, and keep Python from complaining again when it flushes stdout at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE
    except Exception as error:
        if os.environ.get("POWERPOST_DEBUG"):
            raise
        message = (
            f"unexpected {type(error).__name__}: {error} (a bug in powerpost-async: "
            "please report it; POWERPOST_DEBUG=1 shows the traceback)"
        )
        return fail(ErrorReport(type(error).__name__, message), EXIT_API)
