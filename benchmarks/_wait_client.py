"""A fresh client process that awaits many generations and measures itself, for scale runs.

``bench_waiting`` measures how much memory one ``wait_many`` over thousands of ids adds.
In the benchmark's own process that figure would be wrong: memory freed by earlier rounds
and benchmarks stays resident (CPython's allocator keeps its arenas), so a later wait
reuses it and seems to add nothing. So every such round runs its client here, in a
process that has done nothing else. Run as ``python -m benchmarks._wait_client
[--trace]``, it:

1. imports the SDK and prints ``{"ready": true}``;
2. reads one JSON line from stdin: ``{"base_url", "api_key", "workspace_id", "ids"}``
   (as ``_fake_process`` prints it);
3. collects garbage, reads its baseline (VmRSS, sockets open), resets VmHWM, starts
   ``tracemalloc`` with ``--trace``, then runs ``pp.generations.wait_many(ids)`` over the
   default aiohttp transport while a task samples VmRSS and the sockets every 50 ms;
4. prints one JSON line with what it measured (see :class:`WaitOutcome`) and exits.

It exits at once if stdin reaches EOF first (the parent is gone), and the wait itself
has a timeout. :class:`WaitClient` runs it from the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from ._fake_process import Seeded, _read_line
from ._server import reap

__all__ = ["WaitClient", "WaitOutcome", "has_proc", "main"]

_ROOT = Path(__file__).resolve().parent.parent
_STARTUP_TIMEOUT = 60.0
_STATUS = "/proc/self/status"
_FDS = "/proc/self/fd"
_CLEAR_REFS = "/proc/self/clear_refs"


@dataclass(frozen=True)
class WaitOutcome:
    """What one wait measured, in the client process.

    Attributes:
        ops: Generations awaited.
        finished: How many came back terminal (should be ``ops``).
        wall: Seconds ``wait_many`` took.
        cpu: CPU seconds the process used from just before the wait to just after it.
        rss_added_mib: Peak RSS during the wait minus RSS just before it.
        sockets: Most sockets open at once during the wait (loop's self-pipe included).
        traced_mib: Peak of Python allocations made since just before the wait
            (``tracemalloc``); ``None`` without ``--trace``.
    """

    ops: int
    finished: int
    wall: float
    cpu: float
    rss_added_mib: float
    sockets: int
    traced_mib: float | None


def has_proc() -> bool:
    """Whether this system has the /proc files the measurements read (Linux)."""
    return os.path.exists(_STATUS) and os.path.isdir(_FDS)


class _Probe:
    """This process's peak RSS and sockets while a wait runs."""

    def __init__(self) -> None:
        self.baseline_kib = _status_kib("VmRSS")
        self.peak_kib = self.baseline_kib
        self.sockets = _sockets_open()
        # VmHWM, the kernel's own high-water mark, catches a peak between two samples:
        # writing 5 to clear_refs resets it (Linux >= 4.0), where allowed.
        try:
            with open(_CLEAR_REFS, "w", encoding="ascii") as clear_refs:
                clear_refs.write("5")
        except OSError:
            self._hwm_reset = False
        else:
            self._hwm_reset = True

    def sample(self) -> None:
        """Read RSS and count sockets now; keep the highest seen."""
        self.peak_kib = max(self.peak_kib, _status_kib("VmRSS"))
        self.sockets = max(self.sockets, _sockets_open())

    async def run(self, every: float, longest: float) -> None:
        """Sample every ``every`` seconds, for ``longest`` seconds at most (or until cancelled)."""
        for _ in range(math.ceil(longest / every) + 1):
            self.sample()
            await asyncio.sleep(every)

    @property
    def rss_added_mib(self) -> float:
        """Peak RSS over the baseline, in MiB (VmHWM counted when it could be reset)."""
        peak = self.peak_kib
        if self._hwm_reset:
            peak = max(peak, _status_kib("VmHWM"))
        return (peak - self.baseline_kib) / 1024


def _status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status, e.g. ``VmRSS``."""
    with open(_STATUS, encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in {_STATUS}")


def _sockets_open() -> int:
    """How many of this process's file descriptors are sockets right now."""
    count = 0
    for fd in os.listdir(_FDS):
        try:
            if os.readlink(f"{_FDS}/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            continue  # closed since listed (or the listing's own descriptor)
    return count


async def _wait(seeded: Seeded, *, trace: bool, timeout: float, every: float) -> WaitOutcome:
    from powerpost_async import PowerPost

    ids = seeded.ids
    gc.collect()
    probe = _Probe()
    if trace:
        tracemalloc.start()
    cpu_before = time.process_time()
    sampler = asyncio.ensure_future(probe.run(every, timeout))
    try:
        async with PowerPost(seeded.api_key, seeded.workspace_id, base_url=seeded.base_url) as pp:
            started = time.perf_counter()
            done = await pp.generations.wait_many(ids, timeout=timeout)
            wall = time.perf_counter() - started
    finally:
        traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
        if trace:
            tracemalloc.stop()
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    probe.sample()
    return WaitOutcome(
        ops=len(ids),
        finished=sum(1 for g in done if g.status.is_terminal),
        wall=wall,
        cpu=time.process_time() - cpu_before,
        rss_added_mib=probe.rss_added_mib,
        sockets=probe.sockets,
        traced_mib=traced,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the client process."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._wait_client")
    parser.add_argument("--trace", action="store_true", help="also measure with tracemalloc")
    parser.add_argument("--timeout", type=float, default=120.0, help="wait_many's timeout")
    parser.add_argument("--sample-every", type=float, default=0.05, metavar="SECONDS")
    args = parser.parse_args(argv)
    if not has_proc():
        sys.exit("this needs Linux's /proc/self")
    import powerpost_async  # noqa: F401  (imported before "ready": not part of the wait)

    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line.strip():
        return  # EOF: the parent is gone, or changed its mind
    data = json.loads(line)
    seeded = Seeded(
        base_url=str(data["base_url"]),
        api_key=str(data["api_key"]),
        workspace_id=str(data["workspace_id"]),
        ids=[str(i) for i in data["ids"]],
    )
    del data, line
    outcome = asyncio.run(
        _wait(seeded, trace=args.trace, timeout=args.timeout, every=args.sample_every)
    )
    sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
    sys.stdout.flush()


class WaitClient:
    """Runs one :mod:`_wait_client` process: start it, hand it the ids, read what it found.

    Use as a context manager: the process is stopped on exit, whatever happened.
    """

    def __init__(self, *, trace: bool, timeout: float) -> None:
        self._timeout = timeout
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks._wait_client",
                *(["--trace"] if trace else []),
                "--timeout",
                str(timeout),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
        )
        try:
            line = _read_line(self._proc, _STARTUP_TIMEOUT)
            if line != json.dumps({"ready": True}):
                raise RuntimeError(
                    f"wait client did not start (exit code {self._proc.poll()}, said {line!r})"
                )
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> WaitClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self, seeded: Seeded) -> WaitOutcome:
        """Have the process await every id of ``seeded``; what it measured."""
        proc = self._proc
        assert proc.stdin is not None
        proc.stdin.write((json.dumps(asdict(seeded)) + "\n").encode())
        proc.stdin.flush()
        line = _read_line(proc, self._timeout + 30.0)
        if not line.startswith("{"):
            raise RuntimeError(f"wait client failed (exit code {proc.poll()}, said {line!r})")
        return WaitOutcome(**json.loads(line))

    def stop(self) -> None:
        """Stop the process: EOF, then SIGTERM, then SIGKILL. Safe to call twice."""
        proc = self._proc
        if proc.stdin is not None and not proc.stdin.closed:
            proc.stdin.close()
        reap(proc)


if __name__ == "__main__":
    main()
