"""Profile the SDK's ``get`` loop against the benchmark server with pyinstrument.

``python -m benchmarks.profile_get [--raw] [--requests N] [--top K] [--html PATH]``
prints the client's self time (where its CPU actually goes) by package and by function,
in µs per request and in percent, then pyinstrument's call tree. ``--raw`` profiles the
raw aiohttp baseline of ``bench_get`` instead, to compare the two package by package.
Needs ``pip install pyinstrument``.
Not a benchmark module (its name does not start with ``bench_``): the runner skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from powerpost_async import AiohttpTransport, PowerPost

from ._core import drive
from ._payloads import API_KEY, GENERATION_ID, GENERATIONS_PATH, WORKSPACE_ID
from ._server import ServerProcess
from .bench_get import HEADERS, raw_session


async def _loop(url: str, requests: int, concurrency: int, raw: bool, profiler: Any) -> None:
    transport = AiohttpTransport(connection_limit=concurrency)
    async with (
        PowerPost(API_KEY, WORKSPACE_ID, base_url=url, transport=transport) as pp,
        raw_session(concurrency) as session,
    ):
        item_url = f"{url}{GENERATIONS_PATH}/{GENERATION_ID}"

        async def sdk_get() -> object:
            return await pp.generations.get(GENERATION_ID)

        async def raw_get() -> object:
            async with session.get(item_url, headers=HEADERS) as resp:
                return await resp.read()

        get = raw_get if raw else sdk_get
        await drive(max(concurrency, requests // 10), concurrency, get)  # warm the pool up
        profiler.start()
        try:
            await drive(requests, concurrency, get)
        finally:
            profiler.stop()


def _frames(root: Any) -> Iterator[Any]:
    """Every real (not synthetic) frame of a pyinstrument tree."""
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if not frame.is_synthetic:
            yield frame


def _package(path: str) -> str:
    # "aiohttp/client.py" -> "aiohttp"; C functions and generated code get their own rows.
    if path.startswith("<cattrs generated"):
        return "cattrs-generated structure hooks"
    if path.startswith("<attrs generated"):
        return "attrs-generated methods (__init__ of Request, Response, models)"
    if path.startswith("<"):
        return "C functions (socket send/recv, orjson.loads, ...)"
    return path.split("/", 1)[0].removesuffix(".py")


def main(argv: list[str] | None = None) -> int:
    """Run the profile and print it."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_get")
    parser.add_argument("--raw", action="store_true", help="profile raw aiohttp instead")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--top", type=int, default=25, help="functions listed by self time")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    args = parser.parse_args(argv)
    try:
        from pyinstrument import Profiler
        from pyinstrument.renderers import ConsoleRenderer
    except ImportError:
        print("pyinstrument is not installed: pip install pyinstrument", file=sys.stderr)
        return 2

    # async_mode="disabled": sample the thread as it is, event loop included, since the
    # question is where the CPU goes, not which coroutine is waiting.
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    with ServerProcess(pages=1) as server:
        asyncio.run(_loop(server.url, args.requests, args.concurrency, args.raw, profiler))

    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None or not root.time:
        print("nothing was sampled", file=sys.stderr)
        return 1
    functions: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for frame in _frames(root):
        where = frame.file_path_short or "?"
        functions[f"{frame.function}  {where}:{frame.line_no}"] += frame.total_self_time
        packages[_package(where)] += frame.total_self_time
    total = root.time
    per_request = 1e6 / args.requests
    what = "raw aiohttp" if args.raw else "SDK"
    print(f"{args.requests:,} {what} gets, {total:.2f} s sampled (profiler overhead included)")
    print("\nSelf time by package (µs per request, share):")
    for name, seconds in packages.most_common():
        print(f"  {seconds * per_request:6.1f}  {seconds / total:6.1%}  {name}")
    print(f"\nTop {args.top} functions by self time (µs per request, share):")
    for name, seconds in functions.most_common(args.top):
        print(f"  {seconds * per_request:6.1f}  {seconds / total:6.1%}  {name}")
    print()
    print(profiler.output(ConsoleRenderer(unicode=True, color=False, time="percent_of_total")))
    if args.html is not None:
        args.html.write_text(profiler.output_html(), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
