"""``iterate``: walk the whole list chain (``ctx.pages`` pages of 100 summaries).

One request at a time, as a cursor chain has to be walked:

* the SDK: ``async for s in pp.generations.iterate(page_size=100)``, each summary
  structured into a ``GenerationSummary``; its target: >= 0.90x the next variant;
* raw aiohttp + ``resp.json()``: a loop following ``next_cursor`` with ``page = await
  resp.json()`` (the standard library's ``json.loads``), touching each record's id (dict
  access only): the cursor loop users write by hand, the baseline of every ratio here;
* raw aiohttp + ``orjson.loads``: the same loop decoding ``await resp.read()`` with
  orjson, as the SDK does when orjson is installed (the ``bench`` session installs it);
* raw aiohttp + ``orjson.loads`` + the SDK's ``structure(page, Page[GenerationSummary])``:
  the floor of any client on the required stack (cattrs into frozen attrs models), with
  none of the SDK's request path around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from powerpost_async import GenerationSummary, Page, PowerPost
from powerpost_async._converter import structure

from ._core import Context, Result, Target, Variant, alternate
from ._payloads import API_KEY, GENERATIONS_PATH, PAGE_SIZE, WORKSPACE_ID
from .bench_get import HEADERS

NAME = "iterate"
TITLE = "iterate over every summary, pages of 100"
ORDER = 20
NEEDS_SERVER = True

RAW = "raw aiohttp + resp.json() loop"


async def raw_walk(
    session: aiohttp.ClientSession,
    url: str,
    loads: Callable[[bytes], Any] | None,
    max_pages: int,
    structured: bool = False,
) -> int:
    """Follow ``next_cursor`` from the first page; return how many records were seen.

    ``loads=None`` decodes with ``await resp.json()``, as users write it by hand.
    """
    records = 0
    cursor: str | None = None
    for _ in range(max_pages):  # bounded: a broken chain cannot loop forever
        query = f"?limit={PAGE_SIZE}" if cursor is None else f"?limit={PAGE_SIZE}&cursor={cursor}"
        async with session.get(url + query, headers=HEADERS) as resp:
            page = await resp.json() if loads is None else loads(await resp.read())
        if structured:
            models = structure(page, Page[GenerationSummary])
            records += sum(1 for summary in models if summary.generation_id)
            if not models.has_more:
                return records
            cursor = models.next_cursor
            continue
        for item in page["data"]:
            if item["generation_id"]:
                records += 1
        if not page["has_more"]:
            return records
        cursor = page["next_cursor"]
    raise RuntimeError(f"the list chain did not end within {max_pages} pages")


async def run(ctx: Context) -> list[Result]:
    """Measure the SDK's iterator and the raw loops in alternation."""
    server = ctx.need_server()
    url = server.url + GENERATIONS_PATH
    expected = ctx.pages * PAGE_SIZE

    async with (
        PowerPost(API_KEY, WORKSPACE_ID, base_url=server.url) as pp,
        aiohttp.ClientSession() as json_session,
        aiohttp.ClientSession() as orjson_session,
        aiohttp.ClientSession() as model_session,
    ):

        async def sdk() -> int:
            records = 0
            async for summary in pp.generations.iterate(page_size=PAGE_SIZE):
                if summary.generation_id:
                    records += 1
            return _checked(records, expected)

        async def raw_resp_json() -> int:
            return _checked(await raw_walk(json_session, url, None, ctx.pages), expected)

        async def raw_orjson() -> int:
            return _checked(await raw_walk(orjson_session, url, orjson.loads, ctx.pages), expected)

        async def raw_structured() -> int:
            walked = await raw_walk(model_session, url, orjson.loads, ctx.pages, structured=True)
            return _checked(walked, expected)

        return await alternate(
            ctx,
            [
                Variant(
                    Result(
                        NAME,
                        "SDK generations.iterate",
                        "rate",
                        "records/s",
                        sdk=True,
                        baseline=RAW,
                        target=Target("iterate >= 0.90x raw aiohttp + resp.json() loop", 0.90),
                    ),
                    sdk,
                ),
                Variant(Result(NAME, RAW, "rate", "records/s"), raw_resp_json),
                Variant(
                    Result(NAME, "raw aiohttp + orjson loop", "rate", "records/s", baseline=RAW),
                    raw_orjson,
                ),
                Variant(
                    Result(
                        NAME,
                        "raw aiohttp + orjson + SDK structure loop",
                        "rate",
                        "records/s",
                        baseline=RAW,
                    ),
                    raw_structured,
                ),
            ],
        )


def _checked(records: int, expected: int) -> int:
    # A variant that silently stopped early would look fast: refuse to report it.
    if records != expected:
        raise RuntimeError(f"walked {records} records, expected {expected}")
    return records
