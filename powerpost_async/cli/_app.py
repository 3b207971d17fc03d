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
from typing import Any, NoReturn, TextIO

import attrs

from powerpost_async import (
    KNOWN_POST_TYPES,
    GenerationFailedError,
    PowerPostError,
    WaitTimeoutError,
    __version__,
)

from ._commands import STATUS_ORDER, cmd_create, cmd_credits, cmd_get, cmd_list, cmd_sweep, cmd_wait
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
Command line for the PowerPost API v1: AI-written social-media captions.
Create generations, await them (many at once), list and sweep them, check credits.
Try it without an account: `powerpost demo`, or `powerpost --fake generations list`."""

EPILOG = """\
commands:
  generations list     list generations (a table, or JSON lines with --json)
  generations get      one generation, with its caption per platform
  generations create   start a generation (--wait to await it and print the captions)
  generations wait     await generations, a line per generation as it finishes
  sweep                counts by status: of the whole workspace, or of the given ids
  credits              the account's credit balance
  serve-fake           run the embedded fake API in the foreground
  demo                 create and await many generations against the embedded fake API

environment:
  POWERPOST_API_KEY        your API key, pp_live_sk_... (--api-key wins)
  POWERPOST_WORKSPACE_ID   the workspace for generations commands (--workspace-id wins)
  POWERPOST_BASE_URL       the API's base URL (--base-url wins)
  POWERPOST_DEBUG          set to 1 for a traceback on an unexpected error

exit codes:
  0    success
  1    a generation failed, or a wait timed out
  2    usage or configuration error (bad arguments, no API key, ...)
  3    API or network error (an error status from the API, no connection, ...)
  130  interrupted (Ctrl-C)

errors:
  one line on stderr ("error: ..."), with hints below it; with --json, one JSON
  object on stdout instead: {"error": {"type": "NotFoundError", "message": "...",
  ...}}, with the fields a program may act on (status_code, code, request_id,
  retry_after, pending_ids, ...); "type" is "UsageError" for the arguments or the
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
        "progress bar, then summarise: outcomes, credits, wall time, HTTP requests used.",
    )
    demo.add_argument(
        "--count", type=_int_between(1, 100_000), default=200, help="generations (default 200)"
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
    from ._demo import run_demo  # the demo and the fake server load only when used

    return await run_demo(ctx, count=args.count, pace=args.pace, seed=args.seed)


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
    except (GenerationFailedError, WaitTimeoutError) as error:
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
