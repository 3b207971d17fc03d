"""The benchmark server: a separate process serving pre-rendered bodies on 127.0.0.1.

Run by :class:`ServerProcess` as ``python -m benchmarks._server``. It binds a free port
on the loopback interface, prints ``PORT <n> <event loop>`` on stdout, and serves:

* ``GET /api/v1/content/generations/{id}``: the fixed 781-byte completed generation;
* ``GET /api/v1/content/generations?limit=100[&cursor=N]``: list page ``N`` (no cursor:
  page 0) of a chain of ``--pages`` pages of 100 summaries, ``next_cursor`` = ``N + 1``.

Every body is rendered once at start-up, so a request costs the server only HTTP
parsing and one write: the server must not be what limits the client being measured.
It uses aiohttp's low-level :class:`aiohttp.web.Server` (no router, no middleware) and
uvloop when installed, for the same reason.

The process stops by itself when its stdin reaches EOF (the parent closed it, or died),
on SIGTERM/SIGINT, or after ``--max-seconds`` at the latest, so it can never outlive a
benchmark run for long.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

from aiohttp import web

from ._payloads import GENERATIONS_PATH, TOTAL_PAGES, dump, generation_body, page_body

__all__ = ["ServerProcess", "main"]

_ROOT = Path(__file__).resolve().parent.parent
_STARTUP_TIMEOUT = 60.0
_DEFAULT_MAX_SECONDS = 3600.0


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return _json(status, dump({"error": {"message": message, "code": code}}))


async def _serve(pages: int, max_seconds: float, loop_name: str) -> None:
    generation = generation_body()
    # Keyed by the raw cursor string exactly as it appears in the query; None = page 0.
    page_bodies: dict[str | None, bytes] = {
        (str(n) if n else None): page_body(n, pages) for n in range(pages)
    }
    item_prefix = GENERATIONS_PATH + "/"

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        if request.method != "GET":
            return _error(405, "VALIDATION_ERROR", "only GET is served here")
        path = request.path
        if path == GENERATIONS_PATH:
            body = page_bodies.get(request.query.get("cursor"))
            if body is None:
                return _error(400, "VALIDATION_ERROR", "unknown cursor")
            return _json(200, body)
        if path.startswith(item_prefix):
            return _json(200, generation)
        return _error(404, "NOT_FOUND", "no such route")

    runner = web.ServerRunner(web.Server(handle, access_log=None), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    host_port = runner.addresses[0]
    print(f"PORT {host_port[1]} {loop_name}", flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def wait_for_eof() -> None:
        # Blocks until the parent closes our stdin or exits (its end of the pipe closes).
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()
    try:
        await asyncio.wait_for(stop.wait(), timeout=max_seconds)
    except asyncio.TimeoutError:
        print("benchmark server: --max-seconds reached, stopping", file=sys.stderr)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the server process."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._server")
    parser.add_argument("--pages", type=int, default=TOTAL_PAGES)
    parser.add_argument("--max-seconds", type=float, default=_DEFAULT_MAX_SECONDS)
    args = parser.parse_args(argv)
    if args.pages < 1:
        parser.error("--pages must be at least 1")
    try:
        # uvloop roughly halves the server's CPU per request, keeping it further from
        # being the bottleneck. The client always runs on the standard asyncio loop.
        import uvloop
    except ImportError:
        asyncio.run(_serve(args.pages, args.max_seconds, "asyncio"))
    else:
        uvloop.run(_serve(args.pages, args.max_seconds, "uvloop"))


class ServerProcess:
    """Starts the server process and stops it, whatever happens, on exit.

    Use as a (synchronous) context manager around ``asyncio.run(...)``::

        with ServerProcess(pages=1000) as server:
            asyncio.run(bench(server.url))

    Attributes:
        url: ``http://127.0.0.1:<port>`` once started.
        pid: The server's process id.
        loop: The server's event loop, ``"uvloop"`` or ``"asyncio"``.
    """

    def __init__(self, *, pages: int = TOTAL_PAGES, max_seconds: float = _DEFAULT_MAX_SECONDS):
        self._args = ["--pages", str(pages), "--max-seconds", str(max_seconds)]
        self._proc: subprocess.Popen[bytes] | None = None
        self._ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.url = ""
        self.pid = 0
        self.loop = ""

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the process and wait for it to say which port it listens on."""
        proc = self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._server", *self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
        )
        self.pid = proc.pid
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], _STARTUP_TIMEOUT)
            line = proc.stdout.readline().decode().strip() if ready else ""
            if not line.startswith("PORT "):
                raise RuntimeError(
                    f"benchmark server did not start (exit code {proc.poll()}, said {line!r})"
                )
            words = line.split()
            self.url = f"http://127.0.0.1:{int(words[1])}"
            self.loop = words[2] if len(words) > 2 else "asyncio"
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the process: EOF on stdin, then SIGTERM, then SIGKILL. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the polite way: the server stops on EOF
        reap(proc)

    def cpu_seconds(self) -> float | None:
        """CPU time the server has used so far (all its threads), ``None`` without /proc.

        Read from /proc rather than psutil: a file read or two, no dependency. Each
        thread's ``schedstat`` counts nanoseconds; ``stat`` (10 ms ticks, too coarse for a
        short round) is the fallback where schedstat is not compiled in.
        """
        if not self.pid:
            return None
        try:
            return _schedstat_seconds(self.pid)
        except (OSError, ValueError, IndexError):
            pass
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                raw = stat.read()
        except OSError:
            return None
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = raw[raw.rindex(b")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc_pid_stat(5)
        return (utime + stime) / self._ticks


def _schedstat_seconds(pid: int) -> float:
    # Field 1 of /proc/<pid>/task/<tid>/schedstat: nanoseconds spent on a CPU.
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as schedstat:
            total += int(schedstat.read().split()[0])
    return total / 1e9


def reap(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Make sure a child process is gone: wait ``grace`` s, then SIGTERM, then SIGKILL.

    Every benchmark child stops by itself on EOF on its stdin; this is what happens when
    it does not, so that no run ever leaves a process behind.
    """
    if not _exited(proc, grace):
        proc.terminate()
        if not _exited(proc, grace):
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def _exited(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


if __name__ == "__main__":
    main()
