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
from typing import Literal

from powerpost_async.testing import FakePowerPost

from ._context import EXIT_OK, EXIT_USAGE, CLIError

__all__ = [
    "FAKE_CREDITS",
    "QUICK_PENDING",
    "QUICK_PROCESSING",
    "SERVE_PENDING",
    "SERVE_PROCESSING",
    "new_fake",
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
    pending: tuple[float, float] = QUICK_PENDING,
    processing: tuple[float, float] = QUICK_PROCESSING,
    failure_rate: float = 0.0,
    credits: int = FAKE_CREDITS,
    history: bool = True,
) -> FakePowerPost:
    """A FakePowerPost on the real clock, with the small sample history unless told not."""
    server = FakePowerPost(
        pending=pending,
        processing=processing,
        failure_rate=failure_rate,
        seed=seed,
        credits=credits,
    )
    if history:
        for prompt, post_types, mode, status in _HISTORY:
            server.seed_generations(
                1, status=status, prompt=prompt, post_types=post_types, research_mode=mode
            )
    return server


# -- serve-fake -------------------------------------------------------------------------------


async def serve_fake(host: str, port: int, seed: int, out: Callable[[str], None]) -> int:
    """Serve a fake API on ``host:port`` until SIGINT or SIGTERM; exit code 0 then."""
    server = new_fake(seed=seed, pending=SERVE_PENDING, processing=SERVE_PROCESSING)
    try:
        await server.start(host=host, port=port)
    except OSError as error:
        raise CLIError(
            f"cannot serve on {host}:{port}: {error.strerror or error}",
            hints=["pick another port with --port (0: any free port)"],
            code=EXIT_USAGE,
        ) from None
    try:
        for text in _banner(server.base_url, server, seed, host):
            out(text)
        with _stop_signals() as stopped:
            await stopped.wait()
    finally:
        await server.aclose()
    by_endpoint = Counter(record.endpoint or "other" for record in server.requests)
    detail = ", ".join(f"{name} {count}" for name, count in sorted(by_endpoint.items()))
    out(f"stopped after {len(server.requests)} requests" + (f" ({detail})" if detail else ""))
    return EXIT_OK


def _banner(base_url: str, server: FakePowerPost, seed: int, host: str) -> list[str]:
    pending, processing = SERVE_PENDING, SERVE_PROCESSING
    lines = [
        f"PowerPost fake API serving at {base_url}  (Ctrl-C to stop)",
        f"generations take {pending[0]:g}-{pending[1]:g} s pending, then "
        f"{processing[0]:g}-{processing[1]:g} s processing; seed {seed}; "
        f"{len(server.generations())} sample generations; {server.balance()} credits",
        "",
        f"  base URL   {base_url}",
        f"  API key    {server.api_key}",
        f"  workspace  {server.workspace_id}",
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
            "fake API (and the SDK refuses plain http to a host other than loopback)"
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
