"""One process of a fleet, for the fleet tests and benchmark: ``python -m tests.fleet_worker``.

Started, it says ``started`` on stdout (imports done) and reads one JSON line on stdin,
``{"base_url", "api_key", "workspace_id", "ids"}`` (``ids``: a file of ids, one per
line), so that it can be started before the server seeds the generations (their
schedule starts then). It opens a client
with a RedisCoordinator (or none, with ``--redis none``), waits for ``go`` on stdin,
then awaits the ids and prints one JSON line per event: ``ready`` (with its process id
in Redis), ``lead`` / ``follow`` (when it
takes or loses the lease), ``done`` (an id finished: its status), ``finished`` (all
done, or the error that ended the wait). With ``--feed`` it awaits nothing: after
``go`` it reads ids on stdin, one per line until ``end``, and feeds each to its client as
a webhook handler would, printing ``fed`` first.

Every event carries ``t`` (``time.time()``) and ``m`` (``time.monotonic()``: one clock
for every process of the machine, so the benchmark can compare events of different
processes with the fake server's timelines).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from powerpost_async import PowerPost, WaitTimeoutError
from powerpost_async.redis import RedisCoordinator


def say(event: str, **fields: object) -> None:
    print(
        json.dumps({"event": event, "t": time.time(), "m": time.monotonic(), **fields}),
        flush=True,
    )


async def watch_the_lease(coordinator: RedisCoordinator) -> None:
    leading = False
    connected = coordinator.connected
    while True:
        if coordinator.leading != leading:
            leading = coordinator.leading
            say("lead" if leading else "follow")
        if coordinator.connected != connected:  # Redis out of reach: waiting on its own
            connected = coordinator.connected
            say("connected" if connected else "disconnected")
        await asyncio.sleep(0.01)


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def await_them(pp: PowerPost, ids: list[str], args: argparse.Namespace) -> None:
    pacing: dict[str, Any] = {}
    if args.interval is not None:
        pacing = {"interval": args.interval, "max_interval": args.interval}
    try:
        async for generation in pp.generations.as_completed(ids, timeout=args.timeout, **pacing):
            say("done", id=generation.generation_id, status=str(generation.status))
        say("finished", ok=True)
    except WaitTimeoutError as error:
        say("finished", ok=False, pending=list(error.pending_ids))


async def feed_them(pp: PowerPost) -> None:
    """Feed each id read on stdin (one per line) as a webhook handler would; ``end`` ends."""
    while (line := (await read_line()).strip()) not in ("end", ""):
        say("fed", id=line)
        await pp.generations.feed(line)
    say("finished", ok=True)


async def main(args: argparse.Namespace) -> None:
    say("started")
    config = json.loads(await read_line())
    ids = Path(config["ids"]).read_text().split()  # noqa: ASYNC240 - before anything runs
    coordinator = (
        None
        if args.redis == "none"
        else RedisCoordinator(args.redis, namespace=args.namespace, lease_ttl=args.lease_ttl)
    )
    async with PowerPost(
        base_url=config["base_url"],
        api_key=config["api_key"],
        workspace_id=config["workspace_id"],
        coordinator=coordinator,
        timeout=args.request_timeout,
    ) as pp:
        lease = asyncio.ensure_future(
            watch_the_lease(coordinator) if coordinator is not None else asyncio.sleep(0)
        )
        say("ready", proc=coordinator.process_id if coordinator else None, ids=len(ids))
        await read_line()  # "go"
        if args.feed:
            await feed_them(pp)
        else:
            await await_them(pp, ids, args)
        if args.linger:
            await read_line()
        lease.cancel()
        await asyncio.gather(lease, return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", required=True, help="a redis:// URL, or none")
    parser.add_argument("--namespace", default="powerpost")
    parser.add_argument("--lease-ttl", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--interval", type=float, default=None, help="default: the SDK's")
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--linger", action="store_true", help="after the waits, wait for a line")
    parser.add_argument("--feed", action="store_true", help="feed ids read on stdin after go")
    arguments = parser.parse_args()
    asyncio.run(main(arguments))
