"""Uploads (issue 13): what ``pp.media.upload(path)`` of a 500 MiB video costs the client.

**Setup.** A 500 MiB MP4 (an ``ftyp`` header, then a hole: a sparse file in a temporary
directory, so no disk space or disk time is spent) is uploaded to a server in another
process: this module run as ``python -m benchmarks.bench_upload serve``, an aiohttp.web
app on 127.0.0.1 that parses the multipart body with aiohttp's streaming reader, counts
the file part's bytes and answers a media (``file_size`` = bytes received, checked).

**The client is a fresh process per round** (``python -m benchmarks.bench_upload
client``), as in ``bench_waiting``: memory freed by earlier rounds stays resident in the
benchmark's own process and would hide what an upload adds. It imports everything,
collects garbage, resets VmHWM (``/proc/self/clear_refs``), then uploads while a task
samples VmRSS every 20 ms; *peak RSS added* is the peak (VmHWM included) minus VmRSS
just before. Two variants alternate:

* ``SDK media.upload(path)``: the default aiohttp transport, ``timeout=None``;
* ``raw aiohttp FormData(open(path))``: what one writes by hand with aiohttp (its file
  payload streams the file too): the baseline for time and memory.

Target: peak RSS added <= 32 MiB for the 500 MiB upload. The time of one upload is
reported beside it (seconds, lower is better; 500 MiB over it is the throughput).
``--quick``: a 20 MiB file, one round.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ._core import Context, Measured, Result, Target, Variant, alternate
from ._fake_process import _read_line
from ._server import _schedstat_seconds, reap
from ._wait_client import _Probe, has_proc

NAME = "upload"
TITLE = "upload: a 500 MiB video from a path"
ORDER = 80
NEEDS_SERVER = False

MIB = 1024 * 1024
SIZE_MIB = 500
QUICK_SIZE_MIB = 20
ROUNDS = 3
MEMORY_BOUND = 32.0  # MiB
UPLOAD_TIMEOUT = 600.0
_STARTUP_TIMEOUT = 60.0
_ROOT = Path(__file__).resolve().parent.parent
_MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"

SDK = "SDK media.upload(path)"
RAW = "raw aiohttp FormData(open(path))"


async def run(ctx: Context) -> list[Result]:
    size_mib = QUICK_SIZE_MIB if ctx.quick else SIZE_MIB
    memory = f"upload of a {size_mib} MiB MP4: peak client RSS added"
    timing = f"upload of a {size_mib} MiB MP4: seconds per upload"
    setup = (
        f"a sparse {size_mib} MiB MP4 in a temporary directory, uploaded over 127.0.0.1 to "
        "an aiohttp.web server in another process that parses the multipart body as it "
        "streams (benchmarks/bench_upload.py); the client is a fresh process per round; "
        "rounds: min(--rounds, 3), 1 with --quick; Client CPU is the client process's "
        "during the upload"
    )
    rss_note = (
        "peak VmRSS during the upload (sampled every 20 ms, and VmHWM reset just before) "
        "minus VmRSS just before it, everything imported"
    )
    results = {
        "sdk_rss": Result(
            memory,
            SDK,
            "count",
            "MiB",
            sdk=True,
            baseline=RAW,
            note=rss_note,
            target=Target(
                f"{size_mib} MiB upload: peak client memory growth <= 32 MiB",
                MEMORY_BOUND,
                "value",
            ),
        ),
        "raw_rss": Result(memory, RAW, "count", "MiB"),
        "sdk_time": Result(timing, SDK, "count", "s", sdk=True, baseline=RAW, note=setup),
        "raw_time": Result(timing, RAW, "count", "s"),
    }
    if not has_proc():
        why = "needs Linux's /proc/self to read memory"
        return [replace(r, skipped=why, note="") for r in results.values()]
    rounds = 1 if ctx.quick else min(ctx.rounds, ROUNDS)
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as folder, UploadServer() as server:
        path = Path(folder) / "video.mp4"
        with path.open("wb") as file:
            file.write(_MP4_HEAD)
            file.truncate(size_mib * MIB)

        def one(mode: str) -> Measured:
            outcome = upload_in_child(server.url, path, mode)
            if outcome.received != size_mib * MIB:
                raise RuntimeError(f"{mode}: the server received {outcome.received} bytes")
            ctx.log(
                f"  [{NAME}] {mode}: {size_mib / outcome.wall:.0f} MiB/s, "
                f"peak RSS added {outcome.rss_added_mib:.1f} MiB"
            )
            return Measured(
                ops=1,
                value=outcome.rss_added_mib,
                also={"time": outcome.wall},
                helper_cpu=outcome.cpu,
            )

        return await alternate(
            replace(ctx, rounds=rounds, server=server),
            [
                Variant(
                    results["sdk_rss"],
                    run=lambda: one("sdk"),
                    also={"time": results["sdk_time"]},
                ),
                Variant(
                    results["raw_rss"],
                    run=lambda: one("raw"),
                    also={"time": results["raw_time"]},
                ),
            ],
        )


# -- the server process ------------------------------------------------------------------------


async def _serve() -> None:
    from aiohttp import BodyPartReader, web

    async def upload(request: web.Request) -> web.StreamResponse:
        reader = await request.multipart()
        fields: dict[str, str] = {}
        received = 0
        file_name = mime = None
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):  # pragma: no cover - nested
                raise web.HTTPBadRequest(text="nested multipart")
            if part.name == "file":
                file_name, mime = part.filename, part.headers.get("Content-Type")
                while chunk := await part.read_chunk(MIB):
                    received += len(chunk)
            else:
                fields[str(part.name)] = (await part.read()).decode()
        answer = {
            "media_id": "00000000-0000-4000-8000-000000000000",
            "type": fields.get("type"),
            "file_name": file_name,
            "file_size": received,
            "mime_type": mime,
            "created_at": "2026-01-01T00:00:00Z",
        }
        return web.json_response(answer)

    app = web.Application(client_max_size=1024**4)
    app.router.add_post("/api/v1/media/upload", upload)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(json.dumps({"url": f"http://127.0.0.1:{port}"}) + "\n")
    sys.stdout.flush()
    try:
        # Until the parent closes our stdin (or dies).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        await runner.cleanup()


class UploadServer:
    """The server process; the harness's ``Server`` (``url``, ``pid``, ``cpu_seconds()``)."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.bench_upload", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_ROOT,
        )
        self.pid = self._proc.pid
        line = _read_line(self._proc, _STARTUP_TIMEOUT)
        if not line.startswith("{"):
            self.stop()
            raise RuntimeError(f"upload server did not start (said {line!r})")
        self.url = str(json.loads(line)["url"])

    def __enter__(self) -> UploadServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float | None:
        try:
            return _schedstat_seconds(self.pid)
        except OSError:
            return None

    def stop(self) -> None:
        """EOF on its stdin, then SIGTERM, then SIGKILL. Safe to call twice."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        reap(self._proc)


# -- the client process ------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadOutcome:
    """What one upload measured, in the client process."""

    wall: float
    cpu: float
    rss_added_mib: float
    received: int


async def _upload(url: str, path: Path, mode: str) -> UploadOutcome:
    import aiohttp

    from powerpost_async import PowerPost

    gc.collect()
    async with (
        PowerPost("pp_live_sk_bench", "bench-workspace", base_url=url) as pp,
        aiohttp.ClientSession() as session,
    ):
        probe = _Probe()
        sampler = asyncio.ensure_future(probe.run(0.02, UPLOAD_TIMEOUT))
        cpu_before = time.process_time()
        started = time.perf_counter()
        try:
            if mode == "sdk":
                media = await pp.media.upload(path, timeout=None)
                received = media.file_size or 0
            else:
                with path.open("rb") as file:
                    form = aiohttp.FormData()
                    form.add_field("type", "video")
                    form.add_field("file", file, filename=path.name, content_type="video/mp4")
                    async with session.post(f"{url}/api/v1/media/upload", data=form) as resp:
                        received = int((await resp.json())["file_size"])
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_before
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        probe.sample()
    return UploadOutcome(wall, cpu, probe.rss_added_mib, received)


def upload_in_child(url: str, path: Path, mode: str) -> UploadOutcome:
    """Upload ``path`` from a fresh process; what it measured."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_upload", "client", url, str(path), mode],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        cwd=_ROOT,
    )
    try:
        line = _read_line(proc, _STARTUP_TIMEOUT + UPLOAD_TIMEOUT)
    finally:
        reap(proc)
    if not line.startswith("{"):
        raise RuntimeError(f"upload client failed (exit code {proc.returncode}, said {line!r})")
    return UploadOutcome(**json.loads(line))


def main(argv: Sequence[str] | None = None) -> None:
    """``serve``, or ``client URL PATH sdk|raw`` (prints one JSON line)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_upload")
    sub = parser.add_subparsers(dest="role", required=True)
    sub.add_parser("serve")
    client = sub.add_parser("client")
    client.add_argument("url")
    client.add_argument("path", type=Path)
    client.add_argument("mode", choices=["sdk", "raw"])
    args = parser.parse_args(argv)
    if args.role == "serve":
        asyncio.run(_serve())
        return
    outcome = asyncio.run(_upload(args.url, args.path, args.mode))
    sys.stdout.write(json.dumps(asdict(outcome)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
