"""Structuring, in process (no server): our cattrs converter against the alternatives.

Two shapes, the bodies the server serves: one completed ``Generation`` (781 bytes), and
one list page of 100 ``GenerationSummary`` items (reported per record, i.e. the page's
time / 100). For each:

* ``json.loads`` / ``orjson.loads`` + dict access: decoding alone, what any client pays;
* the SDK's ``structure`` (what the client runs: the converter's generated hook, looked
  up once per class) from an already decoded dict (the issue's target, <= 3.5 µs per
  generation) and the SDK's full ``structure(loads(body))`` from bytes;
* msgspec (``Struct`` decoded straight from the JSON bytes, and ``msgspec.convert``
  from a dict) and pydantic v2 (``model_validate_json`` and ``model_validate``), for
  context. Either is skipped with a note if it is not installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from powerpost_async import Generation, GenerationSummary, Page
from powerpost_async._converter import loads, structure

from ._core import Context, Result, Target, Variant, alternate
from ._payloads import PAGE_SIZE, generation_body, page_body

NAME = "structure"
TITLE = "structuring, in process"
ORDER = 30
NEEDS_SERVER = False

ONE = "structure: one Generation (781 bytes)"
PAGE = "structure: list page of 100 summaries, per record"

_FIELDS = ("generation_id", "status", "created_at", "prompt", "platforms", "credits_used")


def _touch_generation(data: dict[str, Any]) -> object:
    # The least a dict-based client does with a generation: read its fields.
    for key in _FIELDS:
        data.get(key)
    return data.get("outputs")


def _touch_page(data: dict[str, Any]) -> object:
    for item in data["data"]:
        for key in _FIELDS:
            item.get(key)
    return data.get("next_cursor")


def _repeat(count: int, function: Callable[[Any], object], argument: Any) -> Callable[[], int]:
    def loop() -> int:
        for _ in range(count):
            function(argument)
        return count

    return loop


def _variants(
    bench: str, body: bytes, cls: Any, touch: Callable[[dict[str, Any]], object], count: int
) -> list[tuple[Result, Callable[[], int]]]:
    """The contenders for one shape; ``count`` calls per round."""
    decoded = orjson.loads(body)
    unit = "µs/record"
    orjson_dict = "orjson.loads + dict access"

    def sdk_full(raw: bytes) -> object:
        return structure(loads(raw), cls, body=raw)

    def time_result(variant: str, **kwargs: Any) -> Result:
        return Result(bench, variant, "time", unit, **kwargs)

    target = (
        Target("structuring <= 3.5 µs per generation", 3.5, on="value")
        if cls is Generation
        else None
    )
    found: list[tuple[Result, Callable[[], int]]] = [
        (
            time_result("SDK structure (dict)", sdk=True, target=target),
            _repeat(count, lambda d: structure(d, cls), decoded),
        ),
        (
            time_result("SDK loads + structure (bytes)", sdk=True, baseline=orjson_dict),
            _repeat(count, sdk_full, body),
        ),
        (
            time_result("json.loads + dict access"),
            _repeat(count, lambda raw: touch(json.loads(raw)), body),
        ),
        (time_result(orjson_dict), _repeat(count, lambda raw: touch(orjson.loads(raw)), body)),
    ]
    found += _msgspec_variants(bench, body, decoded, cls is Generation, count)
    found += _pydantic_variants(bench, body, decoded, cls is Generation, count)
    return found


def _msgspec_variants(
    bench: str, body: bytes, decoded: Any, one: bool, count: int
) -> list[tuple[Result, Callable[[], int]]]:
    try:
        import msgspec

        from ._alt_msgspec import MsGeneration, MsPage, generation_decoder, page_decoder
    except ImportError:
        return [(_skipped(bench, "msgspec", "msgspec is not installed"), lambda: 0)]
    decoder = generation_decoder if one else page_decoder
    model = MsGeneration if one else MsPage
    return [
        (
            Result(bench, "msgspec Struct decode (bytes)", "time", "µs/record"),
            _repeat(count, decoder.decode, body),
        ),
        (
            Result(bench, "msgspec.convert (dict)", "time", "µs/record"),
            _repeat(count, lambda d: msgspec.convert(d, model), decoded),
        ),
    ]


def _pydantic_variants(
    bench: str, body: bytes, decoded: Any, one: bool, count: int
) -> list[tuple[Result, Callable[[], int]]]:
    try:
        from ._alt_pydantic import PdGeneration, PdPage
    except ImportError:
        return [(_skipped(bench, "pydantic", "pydantic is not installed"), lambda: 0)]
    model = PdGeneration if one else PdPage
    return [
        (
            Result(bench, "pydantic model_validate_json (bytes)", "time", "µs/record"),
            _repeat(count, model.model_validate_json, body),
        ),
        (
            Result(bench, "pydantic model_validate (dict)", "time", "µs/record"),
            _repeat(count, model.model_validate, decoded),
        ),
    ]


def _skipped(bench: str, variant: str, why: str) -> Result:
    return Result(bench, variant, "time", "µs/record", skipped=why)


def _per_record(loop: Callable[[], int], records_per_call: int) -> Callable[[], int]:
    # A page call structures 100 records: count records, so the unit stays µs/record.
    def counted() -> int:
        return loop() * records_per_call

    return counted


async def run(ctx: Context) -> list[Result]:
    """Structure ``ctx.records`` records per round with every contender, alternating."""
    results: list[Result] = []
    pages = max(1, ctx.records // PAGE_SIZE)
    shapes = (
        (ONE, generation_body(), Generation, _touch_generation, ctx.records, 1),
        (PAGE, page_body(0), Page[GenerationSummary], _touch_page, pages, PAGE_SIZE),
    )
    for bench, body, cls, touch, count, per_call in shapes:
        variants: list[Variant] = []
        for result, loop in _variants(bench, body, cls, touch, count):
            if result.skipped:
                results.append(result)
                continue
            # The default warm-up (one unmeasured round) builds every library's lazy caches.
            variants.append(Variant(result, run=_per_record(loop, per_call)))
        results += await alternate(ctx, variants)
    return results
