"""The embedded fake API as the CLI uses it: ``--fake``, ``serve-fake`` and ``demo``.

Everything here runs on the real clock: these servers are for people trying the CLI or
the SDK, so a generation takes seconds to finish, as it would against the real API.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

import attrs

from powerpost_async.testing import FakePowerPost, Fault, RequestRecord

from ._context import EXIT_OK, EXIT_USAGE, CLIError

__all__ = [
    "DEFAULT_FAULTS",
    "FAKE_CREDITS",
    "QUICK_PENDING",
    "QUICK_PROCESSING",
    "SERVE_PENDING",
    "SERVE_PROCESSING",
    "ServeOptions",
    "fault_named",
    "new_fake",
    "request_line",
    "serve_fake",
]

#: ``serve-fake``: close to real generations (seconds in each state), on the real clock.
SERVE_PENDING = (0.5, 2.0)
SERVE_PROCESSING = (3.0, 12.0)
#: ``--fake`` and ``demo``: a little quicker, so that trying a command is not a chore.
QUICK_PENDING = (0.2, 1.0)
QUICK_PROCESSING = (2.0, 10.0)
#: Enough for a few demos' worth of generations (10-15 credits each).
FAKE_CREDITS = 10_000
#: ``--fault-rate`` without ``--fault-kinds``: the transient faults a client must ride out.
DEFAULT_FAULTS = ("500", "503", "429", "drop")

Duration = float | tuple[float, float]


def fault_named(name: str) -> Fault:
    """The fault a ``--fault-kinds`` name stands for: a 5xx status, ``429``, ``drop`` or
    ``malformed``; each hits before the work is done (except ``malformed``, by nature).

    Raises:
        ValueError: Not one of those.
    """
    if name == "drop":
        return Fault.drop()
    if name == "malformed":
        return Fault.malformed()
    if name == "429":
        return Fault.rate_limit(retry_after=1)
    if name.isascii() and name.isdigit() and 500 <= int(name) <= 599:
        return Fault.server_error(int(name))
    raise ValueError(f"unknown fault {name!r}: a 5xx status, 429, drop or malformed")


@attrs.frozen
class ServeOptions:
    """How ``serve-fake`` configures its server (each a flag; see ``serve-fake --help``)."""

    seed: int = 0
    #: ``None``: `SERVE_PENDING` / `SERVE_PROCESSING`, close to real generations.
    pending: Duration | None = None
    processing: Duration | None = None
    failure_rate: float = 0.0
    rate_limit: tuple[int, float] | None = None
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = DEFAULT_FAULTS
    verbose: bool = False


_Status = Literal["pending", "processing", "completed", "failed"]

# A small, fixed history, so that `list`, `get` and `sweep` have something to show on a
# fresh server. The fake draws ids from its seed, so with the same seed these ids are
# the same on every start: an id listed by one `--fake` command works in the next.
# ``None`` follows the usual schedule from the server's start (pending, then processing).
_HISTORY: tuple[tuple[str, tuple[str, ...], Literal["regular", "deep"], _Status | None], ...] = (
    ("We just shipped dark mode", ("instagram-feed", "x-post"), "regular", "completed"),
    ("New feature: AI-powered search", ("x-post", "linkedin-post"), "deep", "completed"),
    ("Behind the scenes of launch week", ("youtube-video", "tiktok-video"), "regular", "completed"),
    ("Spring collection drops Friday", ("instagram-reel", "facebook-post"), "regular", "failed"),
    ("Five tips for calmer remote meetings", ("linkedin-post",), "deep", "completed"),
    ("Customer story: support time halved", ("linkedin-post", "x-post"), "deep", None),
    ("Weekend sale: 20% off everything", ("instagram-story", "facebook-story"), "regular", None),
    ("Meet the team behind the app", ("youtube-short", "instagram-reel"), "regular", "completed"),
)


def new_fake(
    *,
    seed: int = 0,
    pending: Duration = QUICK_PENDING,
    processing: Duration = QUICK_PROCESSING,
    failure_rate: float = 0.0,
    credits: int = FAKE_CREDITS,
    history: bool = True,
    rate_limit: tuple[int, float] | None = None,
    on_request: Callable[[RequestRecord], object] | None = None,
    post_duration: float | None = None,
) -> FakePowerPost:
    """A FakePowerPost on the real clock, with the small sample history unless told not.

    ``post_duration``: seconds each post item takes to post (``None``: the fake's default).
    """
    more: dict[str, Any] = {} if post_duration is None else {"post_duration": post_duration}
    server = FakePowerPost(
        pending=pending,
        processing=processing,
        failure_rate=failure_rate,
        seed=seed,
        credits=credits,
        rate_limit=rate_limit,
        on_request=on_request,
        **more,
    )
    if history:
        for prompt, post_types, mode, status in _HISTORY:
            server.seed_generations(
                1, status=status, prompt=prompt, post_types=post_types, research_mode=mode
            )
    return server


# -- serve-fake -------------------------------------------------------------------------------


async def serve_fake(
    host: str, port: int, options: ServeOptions, out: Callable[[str], None]
) -> int:
    """Serve a fake API on ``host:port`` until SIGINT or SIGTERM; exit code 0 then."""
    log = (lambda record: out(request_line(record))) if options.verbose else None
    server = new_fake(
        seed=options.seed,
        pending=SERVE_PENDING if options.pending is None else options.pending,
        processing=SERVE_PROCESSING if options.processing is None else options.processing,
        failure_rate=options.failure_rate,
        rate_limit=options.rate_limit,
        on_request=log,
    )
    if options.fault_rate:
        server.faults.random([fault_named(k) for k in options.fault_kinds], options.fault_rate)
    try:
        await server.start(host=host, port=port)
    except OSError as error:
        raise CLIError(
            f"cannot serve on {host}:{port}: {error.strerror or error}",
            hints=["pick another port with --port (0: any free port)"],
            code=EXIT_USAGE,
        ) from None
    try:
        for text in _banner(server, options, host):
            out(text)
        with _stop_signals() as stopped:
            await stopped.wait()
    finally:
        await server.aclose()
    by_endpoint = Counter(record.endpoint or "other" for record in server.requests)
    detail = ", ".join(f"{name} {count}" for name, count in sorted(by_endpoint.items()))
    out(f"stopped after {len(server.requests)} requests" + (f" ({detail})" if detail else ""))
    return EXIT_OK


def request_line(record: RequestRecord) -> str:
    """One request, as ``serve-fake -v`` logs it: time, id, method, target, status, fault."""
    target = record.path + (f"?{urlencode(record.query)}" if record.query else "")
    status = "dropped" if record.status is None else str(record.status)
    line = (
        f"{datetime.now().strftime('%H:%M:%S.%f')[:-3]}  {record.request_id}  "
        f"{record.method} {target} -> {status}"
    )
    if record.fault is not None:
        line += f"  [injected {record.fault}" + (", after the work]" if record.executed else "]")
    return line


def _seconds(duration: Duration) -> str:
    if isinstance(duration, tuple):
        return f"{duration[0]:g}-{duration[1]:g} s"
    return f"{duration:g} s"


def _settings(server: FakePowerPost, options: ServeOptions) -> list[str]:
    """What this server does, in a few words, for the banner."""
    parts = [
        f"generations take {_seconds(server.pending)} pending, then "
        f"{_seconds(server.processing)} processing",
        f"{options.failure_rate:.0%} of them fail" if options.failure_rate else "",
        f"seed {options.seed}",
        f"{len(server.generations())} sample generations",
        f"{server.balance()} credits",
    ]
    lines = ["; ".join(part for part in parts if part)]
    if options.rate_limit is not None:
        limit, per = options.rate_limit
        lines.append(f"rate limit: {limit} requests per {per:g} s per key (then 429)")
    if options.fault_rate:
        lines.append(
            f"random faults: {options.fault_rate:.1%} of requests get one of "
            f"{', '.join(options.fault_kinds)} (the same ones each run with this seed)"
        )
    if options.verbose:
        lines.append("logging each request (-v)")
    return lines


def _banner(server: FakePowerPost, options: ServeOptions, host: str) -> list[str]:
    base_url = server.base_url
    lines = [
        f"PowerPost fake API serving at {base_url}  (Ctrl-C to stop)",
        *_settings(server, options),
        "",
        f"  base URL   {base_url}",
        f"  API key    {server.api_key}",
        f"  workspace  {server.workspace_id}",
        f"  stats      {server.stats_url}  (live counters, JSON)",
        "",
        "The key is the fake server's built-in test key, not a secret: it works nowhere else.",
        "To use it from the SDK or this CLI, in another shell:",
        "",
        f"  export POWERPOST_BASE_URL={base_url}",
        f"  export POWERPOST_API_KEY={server.api_key}",
        f"  export POWERPOST_WORKSPACE_ID={server.workspace_id}",
        "  powerpost generations list",
        "",
    ]
    if host not in ("127.0.0.1", "localhost", "::1"):
        lines[1:1] = [
            f"warning: listening on {host}: anyone who can reach this machine can use this "
            "fake API (and the SDK refuses plain http to a host other than loopback: "
            "pass --allow-insecure-http to this CLI)"
        ]
    return lines


@contextlib.contextmanager
def _stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM, for a clean shutdown instead of an interrupt."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stopped.set)
        except (NotImplementedError, RuntimeError, ValueError):
            # Windows, or not the main thread: Ctrl-C then arrives as KeyboardInterrupt,
            # which main() also turns into a clean exit for this command.
            continue
        installed.append(signum)
    try:
        yield stopped
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
