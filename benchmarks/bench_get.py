"""``get`` throughput: ``pp.generations.get`` against raw aiohttp, at concurrency 100.

All variants send the same headers to the same URL for the same fixed 781-byte body,
each through its own connection pool of ``ctx.concurrency`` connections:

* the SDK: ``PowerPost(...).generations.get(id)`` with its default
  ``AiohttpTransport`` (connection limit 100), decoding and structuring into a
  ``Generation``; its targets: >= 0.90x the next variant, and >= 0.75x body-only;
* raw aiohttp + ``resp.json()``: ``async with session.get(url) as resp: data = await
  resp.json()``, what users write by hand (aiohttp decodes with the standard library's
  ``json.loads``), the baseline of the main target;
* raw aiohttp, body only: ``session.get(url)`` and ``await resp.read()``; the floor
  any aiohttp-based client stands on, the baseline of the second target;
* raw aiohttp + ``orjson.loads``: the floor plus decoding, to split the SDK's overhead
  into "decoding" and "everything else";
* raw aiohttp + ``orjson.loads`` + the SDK's ``structure(..., Generation)``: the floor of
  any client built on the required stack (aiohttp, cattrs, frozen attrs models), with
  none of the SDK's request path around it. The distance between it and the SDK is what
  the SDK's own code (headers, checks, errors, retries, the transport seam) costs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from powerpost_async import AiohttpTransport, Generation, PowerPost
from powerpost_async._converter import structure

from ._core import Context, Result, Target, Variant, alternate, drive
from ._payloads import API_KEY, GENERATION_ID, GENERATIONS_PATH, WORKSPACE_ID

NAME = "get"
TITLE = "GET one generation, concurrency 100"
ORDER = 10
NEEDS_SERVER = True

RAW = "raw aiohttp (body only)"
RAW_JSON = "raw aiohttp + resp.json()"

#: What the SDK sends on a generations call, so the raw client carries the same bytes.
HEADERS = {"x-api-key": API_KEY, "Accept": "application/json", "X-Workspace-Id": WORKSPACE_ID}


def raw_session(limit: int) -> aiohttp.ClientSession:
    """A plain session with the pool size the SDK's transport uses."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit, limit_per_host=0))


async def run(ctx: Context) -> list[Result]:
    """Measure the variants in alternation."""
    server = ctx.need_server()
    url = f"{server.url}{GENERATIONS_PATH}/{GENERATION_ID}"
    total, concurrency = ctx.requests, ctx.concurrency
    warmup = max(concurrency, total // 10)

    transport = AiohttpTransport(connection_limit=max(100, concurrency))
    async with (
        PowerPost(API_KEY, WORKSPACE_ID, base_url=server.url, transport=transport) as pp,
        raw_session(concurrency) as user_session,
        raw_session(concurrency) as body_session,
        raw_session(concurrency) as json_session,
        raw_session(concurrency) as model_session,
    ):

        async def sdk_get() -> object:
            return await pp.generations.get(GENERATION_ID)

        async def raw_resp_json() -> object:
            async with user_session.get(url, headers=HEADERS) as resp:
                return await resp.json()

        async def raw_body() -> object:
            async with body_session.get(url, headers=HEADERS) as resp:
                return await resp.read()

        async def raw_orjson() -> object:
            async with json_session.get(url, headers=HEADERS) as resp:
                return orjson.loads(await resp.read())

        async def raw_structured() -> object:
            async with model_session.get(url, headers=HEADERS) as resp:
                return structure(orjson.loads(await resp.read()), Generation)

        def variant(result: Result, operation: Callable[[], Awaitable[object]]) -> Variant:
            return Variant(
                result,
                run=lambda: drive(total, concurrency, operation),
                warmup=lambda: drive(warmup, concurrency, operation),
            )

        return await alternate(
            ctx,
            [
                variant(
                    Result(
                        NAME,
                        "SDK generations.get",
                        "rate",
                        "req/s",
                        sdk=True,
                        pegged=True,
                        baseline=RAW_JSON,
                        target=Target("get throughput >= 0.90x raw aiohttp + resp.json()", 0.90),
                        extra_targets=[
                            Target(
                                "get throughput >= 0.75x raw aiohttp body-only", 0.75, baseline=RAW
                            )
                        ],
                    ),
                    sdk_get,
                ),
                variant(
                    Result(NAME, RAW_JSON, "rate", "req/s", pegged=True, baseline=RAW),
                    raw_resp_json,
                ),
                variant(Result(NAME, RAW, "rate", "req/s", pegged=True), raw_body),
                variant(
                    Result(
                        NAME,
                        "raw aiohttp + orjson.loads",
                        "rate",
                        "req/s",
                        pegged=True,
                        baseline=RAW,
                    ),
                    raw_orjson,
                ),
                variant(
                    Result(
                        NAME,
                        "raw aiohttp + orjson + SDK structure",
                        "rate",
                        "req/s",
                        pegged=True,
                        baseline=RAW,
                    ),
                    raw_structured,
                ),
            ],
        )
