"""Finding the ``bench_*`` modules, running them, and writing what they found.

A benchmark is any module ``benchmarks/bench_<name>.py`` with::

    NAME = "<name>"             # for --only (default: the file name without bench_)
    TITLE = "what it measures"  # heading in the report (default: NAME)
    ORDER = 60                  # position in the run (default: 100)
    NEEDS_SERVER = True         # start the local server for it (default: True)

    async def run(ctx: Context) -> list[Result]: ...

Dropping such a file in the folder is all it takes to have it run (see README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import pkgutil
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ._core import DISTURBED_CORES, Context, Result, machine_busy_seconds
from ._payloads import TOTAL_PAGES
from ._report import Report, machine_info, update_docs, write_chart
from ._server import ServerProcess

__all__ = ["BenchModule", "discover", "main"]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
CHART = ROOT / "docs" / "img" / "performance.png"

# Full run: sized to finish in well under 10 minutes on a 2-core machine.
DEFAULTS = {"rounds": 5, "requests": 20_000, "pages": TOTAL_PAGES, "records": 100_000}
# --quick: a smoke run that exercises every code path in seconds.
QUICK = {"rounds": 2, "requests": 1_000, "pages": 20, "records": 1_000}
CONCURRENCY = 100


@dataclass(frozen=True)
class BenchModule:
    """A discovered benchmark module."""

    name: str
    title: str
    order: int
    needs_server: bool
    run: Callable[[Context], Awaitable[list[Result]]] | None
    skipped: str | None = None  # why it cannot run (a dependency is missing)


def discover() -> list[BenchModule]:
    """Every ``bench_*.py`` module beside this file, in ``ORDER``.

    A module whose import fails for want of a package is kept, marked skipped, so the
    report says so instead of the run dying; any other import error propagates.
    """
    found = []
    package = __name__.rpartition(".")[0]
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not info.name.startswith("bench_"):
            continue
        default_name = info.name[len("bench_") :]
        try:
            module = importlib.import_module(f"{package}.{info.name}")
        except ImportError as exc:
            found.append(BenchModule(default_name, default_name, 100, False, None, str(exc)))
            continue
        run = getattr(module, "run", None)
        if not inspect.iscoroutinefunction(run):
            raise TypeError(f"{module.__name__} must define `async def run(ctx) -> list[Result]`")
        name = getattr(module, "NAME", default_name)
        found.append(
            BenchModule(
                name=name,
                title=getattr(module, "TITLE", name),
                order=getattr(module, "ORDER", 100),
                needs_server=getattr(module, "NEEDS_SERVER", True),
                run=run,
            )
        )
    return sorted(found, key=lambda m: (m.order, m.name))


def _parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark powerpost-async against raw aiohttp and friends (see "
        "benchmarks/README.md). Writes docs/performance.md and docs/img/performance.png.",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"measured rounds per variant (default {DEFAULTS['rounds']}, quick {QUICK['rounds']})",
    )
    parser.add_argument(
        "--requests",
        type=int,
        help=f"GETs per `get` round (default {DEFAULTS['requests']:,}, "
        f"quick {QUICK['requests']:,})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny sizes, two rounds; docs are not written unless --docs",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only this benchmark (repeatable, or comma-separated): {', '.join(names)}",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results as JSON")
    docs = parser.add_mutually_exclusive_group()
    docs.add_argument(
        "--no-docs", action="store_true", help="do not write docs/performance.md or the chart"
    )
    docs.add_argument("--docs", action="store_true", help="write the docs even with --quick")
    return parser


def _select(
    modules: list[BenchModule], only: list[str] | None, parser: argparse.ArgumentParser
) -> list[BenchModule]:
    if not only:
        return modules
    wanted = {name.strip() for entry in only for name in entry.split(",") if name.strip()}
    unknown = wanted - {m.name for m in modules}
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(m.name for m in modules)}"
        )
    return [m for m in modules if m.name in wanted]


async def _run_all(ctx: Context, modules: list[BenchModule]) -> list[Result]:
    results: list[Result] = []
    for module in modules:
        if module.run is None:
            ctx.log(f"[{module.name}] skipped: {module.skipped}")
            results.append(
                Result(module.name, "(whole benchmark)", "rate", "", skipped=module.skipped)
            )
            continue
        ctx.log(f"[{module.name}] {module.title}")
        started = time.perf_counter()
        # In-process benchmarks get no server, so they report no server CPU for it.
        results += await module.run(ctx if module.needs_server else replace(ctx, server=None))
        ctx.log(f"[{module.name}] done in {time.perf_counter() - started:.1f} s")
    return results


def _context(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Context:
    sizes = dict(QUICK if args.quick else DEFAULTS)
    for key in ("rounds", "requests"):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                parser.error(f"--{key} must be at least 1")
            sizes[key] = value
    return Context(
        rounds=sizes["rounds"],
        requests=sizes["requests"],
        concurrency=CONCURRENCY,
        pages=sizes["pages"],
        records=sizes["records"],
        quick=args.quick,
    )


def _others_load(ctx: Context, seconds: float = 1.0) -> float | None:
    """Cores other processes keep busy right now (``None`` without /proc/stat).

    Measured for a second before anything starts, so a busy machine is flagged up front.
    """
    busy_before, cpu_before = machine_busy_seconds(), time.process_time()
    time.sleep(seconds)
    busy_after, cpu = machine_busy_seconds(), time.process_time() - cpu_before
    if busy_before is None or busy_after is None:
        return None
    others = max(0.0, busy_after - busy_before - cpu) / seconds
    if others > DISTURBED_CORES:
        ctx.log(f"warning: other processes keep {others:.2f} cores busy; results will be noisy")
    return others


def _write(report: Report, args: argparse.Namespace) -> list[Path]:
    """Print the section; write docs, chart and JSON as asked. Returns what was written."""
    written: list[Path] = []
    write_docs = not args.no_docs and (args.docs or not args.quick)
    chart = None
    if write_docs and write_chart(report, CHART):
        written.append(CHART)
        chart = CHART.relative_to(DOCS.parent).as_posix()
    section = report.markdown(chart)
    if write_docs:
        update_docs(DOCS, section)
        written.append(DOCS)
    if args.json is not None:
        report.write_json(args.json)
        written.append(args.json)
    print(section)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Run the selected benchmarks and report; returns the process exit code."""
    modules = discover()
    parser = _parser([m.name for m in modules])
    args = parser.parse_args(argv)
    selected = _select(modules, args.only, parser)
    ctx = _context(args, parser)

    others_before = _others_load(ctx)
    started = time.perf_counter()
    server_loop = None
    try:
        with contextlib.ExitStack() as stack:
            if any(m.needs_server and m.run is not None for m in selected):
                # A `with`: the server is stopped on success, error and Ctrl-C alike.
                server = ctx.server = stack.enter_context(ServerProcess(pages=ctx.pages))
                server_loop = server.loop
                ctx.log(f"server: {server.url} (pid {server.pid}, {server_loop})")
            results = asyncio.run(_run_all(ctx, selected))
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - started

    settings = {
        "rounds": ctx.rounds,
        "requests": ctx.requests,
        "concurrency": ctx.concurrency,
        "pages": ctx.pages,
        "records": ctx.records,
        "quick": ctx.quick,
        "server_loop": server_loop,
        "others_before": others_before,
        "seconds": round(elapsed, 1),
    }
    titles = {m.name: m.title for m in selected}
    report = Report(machine_info(ROOT), settings, results, titles)
    written = _write(report, args)
    where = ", ".join(
        str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in written
    )
    print(f"finished in {elapsed:.0f} s" + (f"; wrote {where}" if where else ""), file=sys.stderr)
    return 0
