"""The SDK's own fake API (``FakePowerPost``) served from a separate process, for scale runs.

``bench_waiting`` awaits thousands of generations over real sockets and measures the
client's memory and sockets; the server must not be in the same process, or its state
(every generation, every request logged) would be counted as the client's. Run as::

    python -m benchmarks._fake_process --seed-generations 10000 --processing 2 8

it starts a ``FakePowerPost`` on 127.0.0.1 (a free port, real time: generations go
pending -> processing -> completed on the wall clock), seeds the generations, and prints
one JSON line on stdout: ``{"base_url", "api_key", "workspace_id", "ids"}``. When its
stdin reaches EOF (the parent closed it, or died) it prints a second line with the
requests it received, ``{"requests", "list", "get", "other", "errors"}``, and exits. It
also stops on SIGTERM/SIGINT, and after ``--max-seconds`` at the latest.

:class:`FakeProcess` runs it from the benchmark, one process per round, and keeps the
CPU time all of them used, so the harness can tell the server's CPU from other
processes' (see ``_core.alternate``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from ._server import _schedstat_seconds, reap

__all__ = ["FakeProcess", "Seeded", "main"]

_ROOT = Path(__file__).resolve().parent.parent
_STARTUP_TIMEOUT = 60.0
_STATS_TIMEOUT = 10.0
_DEFAULT_MAX_SECONDS = 900.0


async def _serve(args: argparse.Namespace) -> None:
    from powerpost_async.testing import FakePowerPost

    low, high = args.processing
    server = FakePowerPost(pending=args.pending, processing=(low, high), seed=args.seed)
    await server.start()
    try:
        ids = server.seed_generations(args.seed_generations)
        ready = {
            "base_url": server.base_url,
            "api_key": server.api_key,
            "workspace_id": server.workspace_id,
            "ids": ids,
        }
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        def wait_for_eof() -> None:
            sys.stdin.buffer.read()  # returns when the parent closes our stdin, or exits
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()
        try:
            await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
        except asyncio.TimeoutError:
            print("fake API process: --max-seconds reached, stopping", file=sys.stderr)
        log = server.requests
        listed, got = log.count(endpoint="list"), log.count(endpoint="get")
        stats = {
            "requests": len(log),
            "list": listed,
            "get": got,
            "other": len(log) - listed - got,
            "errors": len(log) - log.count(status=200),
        }
        if args.timelines:
            # When each generation finished, on time.monotonic() (one clock for every
            # process of the machine): what a client saw can be compared with it.
            finished = {i: server.timeline(i).finished for i in ids}
            Path(args.timelines).write_text(json.dumps(finished))  # noqa: ASYNC240 - at exit
        sys.stdout.write(json.dumps(stats) + "\n")
        sys.stdout.flush()
    finally:
        await server.aclose()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the process."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fake_process")
    parser.add_argument("--seed-generations", type=int, required=True, metavar="N")
    parser.add_argument(
        "--processing", type=float, nargs=2, default=(2.0, 8.0), metavar=("LOW", "HIGH")
    )
    parser.add_argument("--pending", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=_DEFAULT_MAX_SECONDS)
    parser.add_argument(
        "--timelines", metavar="PATH", help="on exit, write {id: finish time} here (JSON)"
    )
    args = parser.parse_args(argv)
    if args.seed_generations < 1:
        parser.error("--seed-generations must be at least 1")
    try:
        import uvloop  # as the benchmark server does: keeps the server further from the limit
    except ImportError:
        asyncio.run(_serve(args))
    else:
        uvloop.run(_serve(args))


@dataclass(frozen=True)
class Seeded:
    """What a started process serves: where, as whom, and the ids it seeded (oldest first)."""

    base_url: str
    api_key: str
    workspace_id: str
    ids: list[str]


class FakeProcess:
    """Runs the fake API process, one at a time, and adds up the CPU time they used.

    It satisfies the harness's ``Server`` protocol (``url``, ``pid``, ``cpu_seconds()``),
    so rounds that start and stop a process are charged its CPU time. Use it as a
    context manager: a process still running on exit is stopped, whatever happened.
    """

    def __init__(self, max_seconds: float = _DEFAULT_MAX_SECONDS) -> None:
        self._max_seconds = max_seconds
        self._proc: subprocess.Popen[bytes] | None = None
        self._spent = 0.0  # CPU seconds of the processes already stopped
        self.url = ""
        self.pid = 0

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(
        self,
        count: int,
        processing: tuple[float, float],
        *,
        seed: int = 0,
        pending: float = 0.0,
        timelines: Path | None = None,
    ) -> Seeded:
        """Start a process serving ``count`` fresh generations; returns once they exist.

        With ``timelines``, the process writes there, when it stops, the time each
        generation finished (``time.monotonic()``, comparable across processes).
        """
        if self._proc is not None:
            raise RuntimeError("a fake API process is already running: stop() it first")
        command = [
            sys.executable,
            "-m",
            "benchmarks._fake_process",
            "--seed-generations",
            str(count),
            "--processing",
            str(processing[0]),
            str(processing[1]),
            "--pending",
            str(pending),
            "--seed",
            str(seed),
            "--max-seconds",
            str(self._max_seconds),
        ]
        if timelines is not None:
            command += ["--timelines", str(timelines)]
        proc = self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=_ROOT
        )
        self.pid = proc.pid
        try:
            line = _read_line(proc, _STARTUP_TIMEOUT)
            data = json.loads(line) if line.startswith("{") else None
            if not isinstance(data, dict) or "ids" not in data:
                raise RuntimeError(
                    f"fake API process did not start (exit code {proc.poll()}, said {line[:200]!r})"
                )
            seeded = Seeded(
                base_url=str(data["base_url"]),
                api_key=str(data["api_key"]),
                workspace_id=str(data["workspace_id"]),
                ids=[str(i) for i in data["ids"]],
            )
        except BaseException:
            self.stop()
            raise
        if len(seeded.ids) != count or not seeded.base_url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"fake API process answered unexpectedly: {seeded.base_url}")
        self.url = seeded.base_url
        return seeded

    def stop(self) -> dict[str, int]:
        """Stop the process (EOF, then SIGTERM, then SIGKILL); the requests it received.

        Returns ``{}`` if no process was running or it did not report. Safe to call twice.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return {}
        self._spent += self._live_cpu(proc.pid) or 0.0
        stats: dict[str, int] = {}
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # the polite way: it reports and stops on EOF
            line = _read_line(proc, _STATS_TIMEOUT)
            if line.startswith("{"):
                stats = {str(k): int(v) for k, v in json.loads(line).items()}
        finally:
            reap(proc)
        return stats

    def cpu_seconds(self) -> float | None:
        """CPU seconds every process started here has used so far (the running one too)."""
        proc = self._proc
        live = self._live_cpu(proc.pid) if proc is not None else 0.0
        return None if live is None else self._spent + live

    @staticmethod
    def _live_cpu(pid: int) -> float | None:
        try:
            return _schedstat_seconds(pid)
        except (OSError, ValueError, IndexError):
            return None


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """One line of the process's stdout, or ``""`` if none came within ``timeout``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().decode().strip() if ready else ""


if __name__ == "__main__":
    main()
