"""httpx against aiohttp: the SDK's transports, and the raw libraries for context.

The same ``get`` workload as ``bench_get`` (concurrency ``ctx.concurrency``), on a tenth
of the requests: httpx is far slower at this concurrency (httpcore's pool re-checks every
pooled connection, polling idle sockets, whenever a request starts or ends, so its cost
grows with the pool), and this is context, not a goal:

* SDK with ``HttpxTransport`` against SDK with ``AiohttpTransport`` (the default), if
  ``powerpost_async.HttpxTransport`` exists; skipped with a note until it does;
* raw ``httpx.AsyncClient`` against raw ``aiohttp.ClientSession`` (both body only).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import powerpost_async
from powerpost_async import AiohttpTransport, PowerPost

from ._core import Context, Result, Variant, alternate, drive
from ._payloads import API_KEY, GENERATION_ID, GENERATIONS_PATH, WORKSPACE_ID
from .bench_get import HEADERS, raw_session

NAME = "httpx"
TITLE = "httpx vs aiohttp, GET at concurrency 100"
ORDER = 40
NEEDS_SERVER = True

SDK_AIOHTTP = "SDK + AiohttpTransport"
SDK_HTTPX = "SDK + HttpxTransport"
RAW_AIOHTTP = "raw aiohttp (body only)"
RAW_HTTPX = "raw httpx (body only)"


async def run(ctx: Context) -> list[Result]:
    """Raw httpx vs raw aiohttp, and the SDK's two transports when both exist."""
    try:
        import httpx
    except ImportError:
        return [_skipped(RAW_HTTPX, "httpx is not installed")]
    server = ctx.need_server()
    url = f"{server.url}{GENERATIONS_PATH}/{GENERATION_ID}"
    total = max(ctx.concurrency, ctx.requests // 10)
    concurrency = ctx.concurrency
    variants: list[Variant] = []

    def add(variant: str, operation: Callable[[], Awaitable[object]], **options: Any) -> None:
        result = Result(NAME, variant, "rate", "req/s", pegged=True, **options)
        variants.append(
            Variant(
                result,
                run=lambda: drive(total, concurrency, operation),
                warmup=lambda: drive(max(concurrency, total // 10), concurrency, operation),
            )
        )

    skipped: list[Result] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with contextlib.AsyncExitStack() as stack:
        httpx_transport = getattr(powerpost_async, "HttpxTransport", None)
        if httpx_transport is not None:
            pp_httpx = await stack.enter_async_context(
                _client(server.url, httpx_transport, concurrency)
            )
            pp_aiohttp = await stack.enter_async_context(
                _client(server.url, AiohttpTransport, concurrency)
            )
            add(
                SDK_HTTPX,
                lambda: pp_httpx.generations.get(GENERATION_ID),
                sdk=True,
                baseline=SDK_AIOHTTP,
            )
            add(SDK_AIOHTTP, lambda: pp_aiohttp.generations.get(GENERATION_ID), sdk=True)
        else:
            skipped.append(_skipped(SDK_HTTPX, "powerpost_async.HttpxTransport does not exist yet"))

        httpx_client = await stack.enter_async_context(httpx.AsyncClient(limits=limits))
        aiohttp_session = await stack.enter_async_context(raw_session(concurrency))

        async def raw_httpx() -> object:
            return (await httpx_client.get(url, headers=HEADERS)).content

        async def raw_aiohttp() -> object:
            async with aiohttp_session.get(url, headers=HEADERS) as resp:
                return await resp.read()

        add(
            RAW_HTTPX,
            raw_httpx,
            baseline=RAW_AIOHTTP,
            note="httpcore's pool re-checks every pooled connection (polling idle sockets, "
            "counting idle ones per connection) whenever a request starts or ends, so its "
            f"CPU per request grows with the pool ({concurrency} connections here)",
        )
        add(RAW_AIOHTTP, raw_aiohttp)
        return skipped + await alternate(ctx, variants)


def _client(base_url: str, transport: Callable[..., Any], limit: int) -> PowerPost:
    return PowerPost(API_KEY, WORKSPACE_ID, base_url=base_url, transport=_sized(transport, limit))


def _sized(transport: Callable[..., Any], limit: int) -> Any:
    """``transport(connection_limit=limit)`` if it takes a size, else ``transport()``."""
    parameters = inspect.signature(transport).parameters
    return transport(connection_limit=limit) if "connection_limit" in parameters else transport()


def _skipped(variant: str, why: str) -> Result:
    return Result(NAME, variant, "rate", "req/s", sdk=variant.startswith("SDK"), skipped=why)
