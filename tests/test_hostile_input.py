"""Hostile input, both ways: what the API sends back, and what callers pass in.

From the server: mutated payloads (wrong types, missing fields, nulls, huge strings,
deep nesting, unknown enums, NaN/inf, big ints, non-dict outputs) end as a model or a
``ResponseValidationError``; arbitrary bodies under any status end as a model, a
``ResponseValidationError`` or an ``APIStatusError`` subclass, never a bare exception;
hostile pagination stops after a bounded number of requests with a clear error; a body
larger than the cap is refused without being read whole.

From callers: hostile ids and header values are refused (``ValueError``/``TypeError``)
before any request, or percent-encoded so that they cannot alter the path, the query or
the headers, as checked in what reaches the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import attrs
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from powerpost_async import (
    AiohttpTransport,
    APIStatusError,
    CreatedGeneration,
    Credits,
    Generation,
    GenerationStatus,
    GenerationSummary,
    InternalServerError,
    MockTransport,
    NotFoundError,
    Page,
    PowerPost,
    RateLimitError,
    Request,
    Response,
    ResponseValidationError,
    YouTubeOutput,
)
from powerpost_async._converter import structure
from powerpost_async.testing import FakePowerPost

from .conftest import API_KEY, WORKSPACE, load_sample

HYPOTHESIS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- hostile values -----------------------------------------------------------------------------

HUGE = "x" * 1_000_000


def nested(depth: int, kind: str) -> Any:
    """A list or object nested ``depth`` levels deep (deeper than repr can print)."""
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


EDGE_STRINGS = [
    "",
    " ",
    "null",
    "NaN",
    "Infinity",
    "processing ",
    "COMPLETED",
    "done",
    "\x00",
    "\u202e",
    "\ud800",  # a lone surrogate: not even encodable as UTF-8
    "2026-13-45T25:61:00Z",
    "2026-01-10T18:30:00+99:99",
    "9999-12-31T23:59:59.999999-23:59",
    "0000-01-01T00:00:00Z",
    "2026-01-10",
    "2026-01-10T18:30:00.123456789Z",
    "2026-01-10 18:30",
    "Z",
    HUGE,
]
EDGE_NUMBERS = [
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    2**1000,
    1.5,
    10.0,
    -0.0,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(EDGE_STRINGS),
    st.sampled_from(EDGE_NUMBERS),
)
# Ints past Python's int/str conversion limit (4,300 digits) cannot come off the wire:
# both JSON parsers refuse them. They are sent as raw bodies below (EDGE_BODIES).
hostile = st.one_of(
    st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    ),
    st.builds(nested, st.sampled_from([10, 1_000, 20_000]), st.sampled_from(["list", "dict"])),
)


# Every unknown status string read becomes a GenerationStatus pseudo-member, and the
# first few are cached for the life of the process. A handful of fixed ones is plenty to
# test with; thousands of random ones would fill that cache for every later test (the
# cache's own behaviour is tested in a separate process, below).
hostile_statuses = st.one_of(
    st.sampled_from([None, "", 3, 1.5, True, [], {}, ["completed"], {"status": "completed"}]),
    st.sampled_from(["COMPLETED", "done", "processing "]),
)


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with fields dropped, nulled, replaced by hostile values, or added."""

    def mutate(value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                action = draw(st.sampled_from(["keep", "keep", "drop", "null", "hostile", "deep"]))
                if key == "status" and action in ("hostile", "deep"):
                    out[key] = draw(hostile_statuses)
                elif action == "keep":
                    out[key] = item
                elif action == "null":
                    out[key] = None
                elif action == "hostile":
                    out[key] = draw(hostile)
                elif action == "deep":
                    out[key] = mutate(item)
            for _ in range(draw(st.integers(0, 2))):
                out[draw(st.text(max_size=12))] = draw(hostile)
            return out
        if isinstance(value, list):
            items = [mutate(item) if draw(st.booleans()) else item for item in value]
            return items + draw(st.lists(hostile, max_size=2))
        return draw(hostile) if draw(st.booleans()) else value

    if draw(st.integers(0, 9)) == 0:
        return draw(hostile)  # not even an object
    return mutate(base)


# -- "a model" means a well-typed model ------------------------------------------------------------


def assert_well_typed(value: Any, tp: Any, where: str = "$") -> None:
    """Check ``value`` against the annotation ``tp`` (the few kinds the models use)."""
    origin = get_origin(tp)
    if origin in (Union, UnionType):
        arms = get_args(tp)
        errors = []
        for arm in arms:
            try:
                assert_well_typed(value, arm, where)
                return
            except AssertionError as error:
                errors.append(str(error))
        raise AssertionError(f"{where}: {value!r:.80} matches none of {arms}: {errors}")
    if tp is type(None):
        assert value is None, f"{where}: expected None, got {value!r:.80}"
    elif tp is bool:
        assert type(value) is bool, f"{where}: expected bool, got {value!r:.80}"
    elif tp is int:
        assert type(value) is int, f"{where}: expected int, got {value!r:.80}"
    elif tp is str:
        assert type(value) is str, f"{where}: expected str, got {value!r:.80}"
    elif tp is datetime:
        assert isinstance(value, datetime), f"{where}: expected datetime, got {value!r:.80}"
        assert value.tzinfo is not None, f"{where}: a naive datetime"
    elif tp is GenerationStatus:
        assert isinstance(value, GenerationStatus), f"{where}: {value!r:.80}"
    elif origin is tuple:
        assert type(value) is tuple, f"{where}: expected tuple, got {value!r:.80}"
        (item_type, _) = get_args(tp)
        for n, item in enumerate(value):
            assert_well_typed(item, item_type, f"{where}[{n}]")
    elif origin is Mapping:
        assert isinstance(value, Mapping), f"{where}: expected a mapping, got {value!r:.80}"
        key_type, item_type = get_args(tp)
        for key, item in value.items():
            assert_well_typed(key, key_type, f"{where}.keys")
            assert_well_typed(item, item_type, f"{where}[{key!r:.20}]")
    elif attrs.has(tp):
        assert type(value) is tp, f"{where}: expected {tp.__name__}, got {value!r:.80}"
        for field in attrs.fields(attrs.resolve_types(tp)):
            assert_well_typed(getattr(value, field.name), field.type, f"{where}.{field.name}")
    else:  # pragma: no cover - a new kind of annotation: teach this function
        raise AssertionError(f"{where}: cannot check {tp!r}")


def assert_model(result: Any, cls: Any) -> None:
    if get_origin(cls) is Page:
        (item_type,) = get_args(cls)
        assert type(result) is Page
        assert_well_typed(result.next_cursor, str | None, "$.next_cursor")
        assert_well_typed(result.has_more, bool, "$.has_more")
        assert_well_typed(result.data, tuple[item_type, ...], "$.data")  # type: ignore[valid-type]
    else:
        assert_well_typed(result, cls)
    repr(result)  # printing a model never fails either


def assert_explains_itself(error: ResponseValidationError) -> None:
    assert error.errors or error.message
    assert str(error)
    repr(error)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)


# -- the converter ------------------------------------------------------------------------------

MODELS: list[tuple[Any, list[Any]]] = [
    (
        Generation,
        [
            load_sample(name)
            for name in (
                "generation_completed",
                "generation_failed",
                "generation_processing",
                "youtube_output",
            )
        ],
    ),
    (GenerationSummary, load_sample("list_generations")["data"]),
    (Page[GenerationSummary], [load_sample("list_generations")]),
    (CreatedGeneration, [load_sample("create_generation")]),
    (Credits, [load_sample("credits")]),
]


@pytest.mark.parametrize(("cls", "samples"), MODELS, ids=lambda v: getattr(v, "__name__", ""))
@HYPOTHESIS
@given(data=st.data())
def test_converter_ends_in_a_model_or_a_validation_error(
    cls: Any, samples: list[Any], data: st.DataObject
) -> None:
    payload = data.draw(mutated(data.draw(st.sampled_from(samples))))
    outcome: Any
    try:
        outcome = structure(payload, cls, body=b"<the raw body>")
    except ResponseValidationError as error:  # anything else fails the test
        outcome = error
    if isinstance(outcome, ResponseValidationError):
        assert outcome.body == b"<the raw body>"
        assert_explains_itself(outcome)
    else:
        assert_model(outcome, cls)


@pytest.mark.parametrize(("cls", "samples"), MODELS, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "a string",
        42,
        math.nan,
        nested(50_000, "list"),
        nested(50_000, "dict"),
        {"data": nested(50_000, "list")},
        {"outputs": nested(50_000, "dict")},
    ],
    ids=["null", "list", "str", "int", "nan", "deep-list", "deep-dict", "deep-data", "deep-out"],
)
def test_converter_survives_the_worst_shapes(cls: Any, samples: list[Any], payload: Any) -> None:
    """Structures no JSON parser would even produce (50,000 levels deep) still end cleanly."""
    for sample in samples[:1]:
        merged = {**sample, **payload} if isinstance(payload, dict) else payload
        try:
            result = structure(merged, cls, body=b"")
        except ResponseValidationError as error:
            assert_explains_itself(error)
        else:
            assert_model(result, cls)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"credits_used": True}, "integer"),
        ({"credits_used": math.nan}, "integer"),
        ({"credits_used": math.inf}, "integer"),
        ({"credits_used": "10"}, "integer"),
        ({"credits_used": 10.5}, "integer"),
        ({"platforms": "instagram"}, "list of strings"),
        ({"platforms": [1]}, "list of strings"),
        ({"status": ""}, "status"),
        ({"status": 3}, "status"),
        ({"created_at": "yesterday"}, "ISO 8601"),
        ({"created_at": 1736533800}, "ISO 8601"),
        ({"outputs": ["a caption"]}, "outputs"),
        ({"outputs": "a caption"}, "outputs"),
        ({"outputs": {"youtube": {"title": "t"}}}, "string"),
        ({"outputs": {"x": 5}}, "caption string"),
        ({"error": "GENERATION_FAILED"}, "error"),
        ({"generation_id": None}, "string"),
    ],
)
def test_wrong_types_are_named_in_the_error(change: dict[str, Any], expected: str) -> None:
    payload = {**load_sample("generation_completed"), **change}
    with pytest.raises(ResponseValidationError) as info:
        structure(payload, Generation, body=b"{}")
    assert expected in str(info.value)


def test_tolerated_surprises_still_make_well_typed_models() -> None:
    """Unknown statuses, platforms and fields, big ints and integral floats are fine."""
    payload = {
        **load_sample("generation_completed"),
        "status": "archived",
        "credits_used": 2**70,
        "research_mode": "ultra",
        "platforms": ["threads", "bluesky"],
        "outputs": {"threads": "hi", "bluesky": {"title": "t", "description": "d"}},
        "new_field": {"anything": [1, 2, 3]},
    }
    generation = structure(payload, Generation)
    assert_model(generation, Generation)
    assert generation.status == "archived"
    assert not generation.status.is_known
    assert not generation.is_terminal
    assert generation.outputs == {
        "threads": "hi",
        "bluesky": YouTubeOutput(title="t", description="d"),
    }
    assert structure({"balance": 47.0}, Credits).balance == 47


def run_isolated(script: str) -> str:
    """Run ``script`` in a fresh interpreter: what it caches cannot leak into this one."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


RETAINED_BY_UNKNOWN_STATUSES = """
    import gc, tracemalloc
    from powerpost_async import Generation
    from powerpost_async._converter import structure

    base = {"generation_id": "g", "status": "x", "created_at": "2026-01-10T18:30:00Z"}
    tracemalloc.start()
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(COUNT):
        status = f"weird-{n}-" + "s" * SIZE  # never seen before
        generation = structure({**base, "status": status}, Generation)
        assert not generation.status.is_known
    del generation
    gc.collect()
    print(tracemalloc.get_traced_memory()[0] - before)
"""


def test_unknown_statuses_from_the_server_are_not_kept_forever() -> None:
    """A server sending ever-new status strings must not grow the process's memory."""
    script = RETAINED_BY_UNKNOWN_STATUSES.replace("COUNT", "2_000").replace("SIZE", "1_000")
    retained = int(run_isolated(script))
    # 2,000 one-kilobyte statuses were read and dropped: (almost) nothing of them stays.
    assert retained < 500_000, f"{retained / 1e6:.1f} MB kept after the models were dropped"


def test_unknown_statuses_cannot_pin_large_strings() -> None:
    script = RETAINED_BY_UNKNOWN_STATUSES.replace("COUNT", "40").replace("SIZE", "1_000_000")
    retained = int(run_isolated(script))
    # 40 MB of statuses were read and dropped; a few kB of bookkeeping may stay, not MBs.
    assert retained < 2_000_000, f"{retained / 1e6:.1f} MB kept after the models were dropped"


# -- through the whole client -------------------------------------------------------------------

STATUSES = [200, 201, 204, 299, 100, 301, 302, 304, 400, 401, 402, 403, 404, 409, 413]
STATUSES += [418, 422, 429, 500, 502, 503, 504, 599, 999]

EDGE_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b'"a string"',
    b'{"error": null}',
    b'{"error": {"code": 5, "message": []}}',
    b'{"error": {"message": "slow down", "retryAfter": "1e400"}}',
    b'{"error": {"message": "slow down", "retryAfter": -5}}',
    b'{"error": {"message": "slow down", "retryAfter": 1e308}}',
    b'{"message": "not the envelope"}',
    b"[" * 5_000 + b"]" * 5_000,
    b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
    b'{"balance": NaN}',
    b'{"balance": Infinity}',
    b'{"balance": 1' + b"0" * 5_000 + b"}",
    b'{"balance": 18446744073709551616}',
    b"\xff\xfe\x00\x01",
    b'\xef\xbb\xbf{"balance": 47}',
    b'{"balance": 47',
    b'{"balance": 47}{"balance": 48}',
    b"<html><body>502 Bad Gateway</body></html>",
    b"\x00" * 64,
]
HEADER_VALUES = [
    "1",
    "0",
    "-1",
    "nan",
    "inf",
    "1e400",
    "99999999999999999999",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Sat, 99 Foo 9999 99:99:99 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "",
    "\u202e",
]

ENDPOINTS: dict[str, tuple[Any, Callable[[PowerPost], Awaitable[Any]]]] = {
    "get": (Generation, lambda pp: pp.generations.get("550e8400")),
    "list": (Page[GenerationSummary], lambda pp: pp.generations.list()),
    "create": (
        CreatedGeneration,
        lambda pp: pp.generations.create(prompt="hello", post_types=["x-post"]),
    ),
    "credits": (Credits, lambda pp: pp.account.credits()),
    "iterate": (list, lambda pp: _take(pp.generations.iterate(), 300)),
}
ENDPOINT_SAMPLE = {
    "get": "generation_completed",
    "list": "list_generations",
    "create": "create_generation",
    "credits": "credits",
    "iterate": "list_generations",
}


async def _take(items: AsyncIterator[Any], most: int) -> list[Any]:
    taken = []
    async for item in items:
        taken.append(item)
        if len(taken) >= most:
            break
    return taken


def to_wire(payload: Any) -> bytes:
    """JSON the way a sloppy server writes it: NaN tokens, lone surrogates and all."""
    try:
        text = json.dumps(payload, ensure_ascii=False, allow_nan=True)
    except (RecursionError, ValueError):  # too deep, or an int too long to print
        return b"[" * 3_000 + b"1"
    return text.encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn, endpoint: str) -> bytes:
    kind = draw(st.sampled_from(["bytes", "edge", "mutated", "truncated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "edge":
        return draw(st.sampled_from(EDGE_BODIES))
    sample = load_sample(ENDPOINT_SAMPLE[endpoint])
    payload = draw(mutated(sample)) if kind == "mutated" else sample
    body = to_wire(payload)
    if kind == "truncated":
        body = body[: draw(st.integers(0, max(0, len(body) - 1)))]
    return body


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@settings(HYPOTHESIS, max_examples=60)
@given(data=st.data())
async def test_any_response_ends_in_a_model_or_an_sdk_error(
    endpoint: str, data: st.DataObject
) -> None:
    status = data.draw(st.sampled_from(STATUSES), label="status")
    body = data.draw(bodies(endpoint), label="body")
    headers = data.draw(
        st.dictionaries(
            st.sampled_from(
                ["Retry-After", "X-RateLimit-Reset", "X-RateLimit-Remaining", "X-Request-Id"]
            ),
            st.sampled_from(HEADER_VALUES) | st.text(max_size=30),
            max_size=4,
        ),
        label="headers",
    )
    cls, call = ENDPOINTS[endpoint]

    def handler(request: Request) -> Response:
        return Response(
            status, headers={"Content-Type": "application/json", **headers}, content=body
        )

    transport = MockTransport(handler)
    async with PowerPost(
        API_KEY, WORKSPACE, transport=transport, max_retries=0, circuit_breaker=False
    ) as pp:
        outcome: Any
        try:
            outcome = await call(pp)
        except (APIStatusError, ResponseValidationError) as error:  # nothing else may escape
            outcome = error
    if isinstance(outcome, APIStatusError):
        assert not 200 <= status < 300
        assert outcome.status_code == status
        if status == 429:
            assert isinstance(outcome, RateLimitError)
            hint = outcome.retry_after
            assert hint is None or (math.isfinite(hint) and hint >= 0)
        if status >= 500:
            assert isinstance(outcome, InternalServerError)
        assert str(outcome)
        repr(outcome)
    elif isinstance(outcome, ResponseValidationError):
        assert 200 <= status < 300
        assert_explains_itself(outcome)
    elif cls is list:
        assert 200 <= status < 300
        for item in outcome:
            assert_model(item, GenerationSummary)
    else:
        assert 200 <= status < 300
        assert_model(outcome, cls)
    assert len(transport.requests) <= 12  # bounded, whatever came back


# -- hostile pagination -------------------------------------------------------------------------

SUMMARY = load_sample("list_generations")["data"][0]


def summaries(*ids: str) -> list[dict[str, Any]]:
    return [{**SUMMARY, "generation_id": i} for i in ids]


def paginate(pages: Mapping[str | None, dict[str, Any]]) -> Callable[[Request], Response]:
    """A handler answering each ``cursor`` (``None``: the first page) with its page."""

    def handler(request: Request) -> Response:
        cursor = parse_qs(urlsplit(request.url).query).get("cursor", [None])[0]
        return Response.from_json(200, pages[cursor])

    return handler


async def collect(pp: PowerPost, seen: list[str], *, prefetch: bool) -> None:
    async for summary in pp.generations.iterate(prefetch=prefetch):
        seen.append(summary.generation_id)


CYCLE = {
    None: {"data": summaries("a"), "next_cursor": "A", "has_more": True},
    "A": {"data": summaries("b"), "next_cursor": "B", "has_more": True},
    "B": {"data": summaries("c"), "next_cursor": "A", "has_more": True},
}
EMPTY_CURSOR = {
    None: {"data": summaries("a"), "next_cursor": "", "has_more": True},
    "": {"data": summaries("a"), "next_cursor": "", "has_more": True},
}
NULL_AFTER_ITEMS = {
    None: {"data": summaries("a", "b"), "next_cursor": "n", "has_more": True},
    "n": {"data": summaries("c"), "next_cursor": None, "has_more": True},
}
BAD_CURSOR_TYPE = {None: {"data": summaries("a"), "next_cursor": 7, "has_more": True}}
BAD_HAS_MORE = {None: {"data": summaries("a"), "next_cursor": "n", "has_more": "yes"}}


@pytest.mark.parametrize("prefetch", [True, False], ids=["prefetch", "no-prefetch"])
@pytest.mark.parametrize(
    ("pages", "yielded", "most_requests", "message"),
    [
        (CYCLE, ["a", "b", "c"], 3, "cursor 'A' twice"),
        (EMPTY_CURSOR, ["a"], 1, "next_cursor is empty"),
        (NULL_AFTER_ITEMS, ["a", "b", "c"], 2, "next_cursor is null"),
        (BAD_CURSOR_TYPE, [], 1, "next_cursor"),
        (BAD_HAS_MORE, [], 1, "boolean"),
    ],
    ids=["cycle-A-B-A", "empty-cursor", "null-cursor-after-items", "cursor-int", "has-more-str"],
)
async def test_hostile_pagination_stops_with_a_clear_error(
    make_client: Callable[..., PowerPost],
    pages: Mapping[str | None, dict[str, Any]],
    yielded: list[str],
    most_requests: int,
    message: str,
    prefetch: bool,
) -> None:
    seen: list[str] = []
    async with make_client(paginate(pages)) as pp:
        with pytest.raises(ResponseValidationError, match=message):
            await collect(pp, seen, prefetch=prefetch)
        sent = len(pp.transport.requests)  # type: ignore[attr-defined]
    assert seen == yielded  # what came before the problem was handed over first
    assert sent <= most_requests


async def test_empty_pages_with_fresh_cursors_stop_after_a_bounded_number(
    make_client: Callable[..., PowerPost],
) -> None:
    served = 0

    def handler(request: Request) -> Response:
        nonlocal served
        served += 1
        return Response.from_json(200, {"data": [], "next_cursor": f"c{served}", "has_more": True})

    async with make_client(handler) as pp:
        with pytest.raises(ResponseValidationError, match="empty pages in a row"):
            await collect(pp, [], prefetch=True)
    assert served <= 11  # ten empty pages, and at most one prefetched


HOSTILE_CURSORS = [
    "x&status=failed&limit=1",
    "x#fragment",
    "x?cursor=y",
    "../../account/credits",
    "%2e%2e%2f",
    "a b+c",
    "line\r\nX-Evil: 1",
    "nul\x00byte",
    "ünï℃ødé",
    "=",
    "c" * 4_000,
]


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS, ids=range(len(HOSTILE_CURSORS)))
async def test_a_hostile_next_cursor_cannot_alter_the_query(
    make_client: Callable[..., PowerPost], cursor: str
) -> None:
    """The server's cursor goes back as exactly one ``cursor`` parameter, whatever it holds."""
    pages: dict[str | None, dict[str, Any]] = {
        None: {"data": summaries("a"), "next_cursor": cursor, "has_more": True},
        cursor: {"data": summaries("b"), "next_cursor": None, "has_more": False},
    }
    async with make_client(paginate(pages)) as pp:
        ids = [s.generation_id async for s in pp.generations.iterate(status="completed")]
        second = pp.transport.requests[1].url  # type: ignore[attr-defined]
    assert ids == ["a", "b"]
    parts = urlsplit(second)
    assert parts.path == "/api/v1/content/generations"
    assert parts.fragment == ""
    assert parse_qs(parts.query) == {"status": ["completed"], "limit": ["100"], "cursor": [cursor]}
    assert "\r" not in second
    assert "\n" not in second


async def test_a_hostile_next_cursor_reaches_a_real_server_as_one_parameter() -> None:
    """The same over a socket: what the server parses is the cursor, and only it."""
    received: list[dict[str, list[str]]] = []
    cursor = "x&status=failed&limit=1#frag ../ ünï\r\nX-Evil: 1"

    async def handler(request: web.Request) -> web.StreamResponse:
        query = parse_qs(request.rel_url.raw_query_string, keep_blank_values=True)
        received.append(query)
        if "cursor" not in query:
            body = {"data": summaries("a"), "next_cursor": cursor, "has_more": True}
        else:
            body = {"data": summaries("b"), "next_cursor": None, "has_more": False}
        assert "X-Evil" not in request.headers
        return web.json_response(body)

    async with serving(handler) as base, PowerPost(API_KEY, WORKSPACE, base_url=base) as pp:
        ids = [s.generation_id async for s in pp.generations.iterate()]
    assert ids == ["a", "b"]
    assert received == [{"limit": ["100"]}, {"limit": ["100"], "cursor": [cursor]}]


# -- huge bodies ----------------------------------------------------------------------------------

MiB = 1024 * 1024


@asynccontextmanager
async def serving(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Serve ``handler`` for every path on 127.0.0.1; yields the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("framing", ["chunked", "content-length"])
async def test_a_100_mib_answer_is_refused_without_reading_it(framing: str) -> None:
    """The server would send 100 MiB; the client stops early, and its memory stays flat."""
    total = 100 * MiB
    chunk = b" " * (64 * 1024)
    written = 0
    finished = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal written
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if framing == "chunked":
            response.enable_chunked_encoding()
        else:
            response.content_length = total
        try:
            await response.prepare(request)
            await response.write(b'{"balance": 47')
            while written < total:
                await response.write(chunk)  # waits while the client reads no more
                written += len(chunk)
        except (OSError, asyncio.CancelledError):  # the client hung up: what we hoped for
            pass
        finally:
            finished.set()
        return response

    transport = AiohttpTransport(max_response_bytes=MiB)
    async with serving(handler) as base:
        tracemalloc.start()
        try:
            async with PowerPost(API_KEY, base_url=base, transport=transport, max_retries=0) as pp:
                with pytest.raises(ResponseValidationError, match="larger than"):
                    await pp.account.credits()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        await asyncio.wait_for(finished.wait(), timeout=10)
    # Loopback socket buffers hold a few MiB at most; the rest was never sent.
    print(f"{framing}: wrote {written / MiB:.2f} MiB, peak {peak / MiB:.2f} MiB")
    assert written < 20 * MiB, f"the server wrote {written / MiB:.1f} MiB"
    assert peak < 24 * MiB, f"memory peaked at {peak / MiB:.1f} MiB"


# -- hostile ids and header values ----------------------------------------------------------------

REFUSED = "refused"
ENCODED = "encoded"

HOSTILE_IDS: list[tuple[str, Any, str]] = [
    ("traversal", "../credits", REFUSED),
    ("traversal-deeper", "../../account/credits", REFUSED),
    ("dotdot", "..", REFUSED),
    ("encoded-dots", "%2e%2e", REFUSED),
    ("encoded-slash", "..%2fcredits", REFUSED),
    ("double-encoded", "%252e%252e", REFUSED),
    ("slash", "a/b", REFUSED),
    ("backslash", "a\\b", REFUSED),
    ("query", "a?status=failed", REFUSED),
    ("fragment", "a#frag", REFUSED),
    ("crlf", "a\r\nX-Evil: 1", REFUSED),
    ("lf", "a\nb", REFUSED),
    ("nul", "a\x00b", REFUSED),
    ("del", "a\x7fb", REFUSED),
    ("leading-space", " a", REFUSED),
    ("trailing-space", "a ", REFUSED),
    ("tab", "a\tb", REFUSED),
    ("nbsp", "a\u00a0b", REFUSED),
    ("line-separator", "a\u2028b", REFUSED),
    ("zero-width-space", "a\u200bb", REFUSED),
    ("rtl-override", "a\u202eb", REFUSED),
    ("bom", "\ufeffa", REFUSED),
    ("empty", "", REFUSED),
    ("not-a-string", 42, REFUSED),
    ("bytes", b"abc", REFUSED),
    ("fullwidth-dots", "\uff0e\uff0e", ENCODED),
    ("fullwidth-solidus", "\uff0fetc\uff0fpasswd", ENCODED),
    ("division-slash", "a\u2215b", ENCODED),
    ("one-dot-inside", "a.b", ENCODED),
    ("sub-delims", "a;b=c&d+e,f", ENCODED),
    ("at-colon", "user@host:80", ENCODED),
    ("tilde-star", "~*!$'()", ENCODED),
    ("quote-angle", "\"<a>'", ENCODED),
    ("unicode", "gén_✓_世界", ENCODED),
    ("long-2000", "g" * 2_000, ENCODED),
]


@pytest.mark.parametrize("mode", ["memory", "socket"])
@pytest.mark.parametrize(
    ("generation_id", "expected"),
    [(i, e) for _, i, e in HOSTILE_IDS],
    ids=[n for n, _, _ in HOSTILE_IDS],
)
async def test_hostile_ids_are_refused_or_stay_one_path_segment(
    generation_id: Any, expected: str, mode: str
) -> None:
    server = FakePowerPost()
    if mode == "socket":
        await server.start()
    try:
        async with server.client(use_socket=mode == "socket", max_retries=0) as pp:
            if expected == REFUSED:
                with pytest.raises((ValueError, TypeError)):
                    await pp.generations.get(generation_id)
                with pytest.raises((ValueError, TypeError)):
                    await pp.generations.wait(generation_id)
                with pytest.raises((ValueError, TypeError)):
                    await pp.generations.get_many(["ok", generation_id])
                assert len(server.requests) == 0  # refused before anything was sent
                return
            with pytest.raises(NotFoundError):
                await pp.generations.get(generation_id)
    finally:
        await server.aclose()
    (record,) = server.requests
    assert record.endpoint == "get"
    assert record.generation_id == generation_id  # one segment, exactly the id
    assert record.path == "/api/v1/content/generations/" + quote(generation_id, safe="")
    assert record.query == {}


async def test_a_dot_segment_id_is_refused(make_client: Callable[..., PowerPost]) -> None:
    sent: list[str] = []

    def handler(request: Request) -> Response:
        sent.append(request.url)
        return Response.from_json(200, load_sample("generation_processing"))

    async with make_client(handler) as pp:
        with contextlib.suppress(ValueError):
            await pp.generations.get(".")
    # Where the request would land once normalised the way any URL library does it:
    landed = [URL(url).path for url in sent]
    assert landed == [], f"sent, and normalised to {landed}"


HOSTILE_HEADER_VALUES: list[tuple[str, Any]] = [
    ("crlf-injection", "k\r\nX-Evil: 1"),
    ("lf", "k\nX-Evil: 1"),
    ("cr", "k\rX"),
    ("nul", "k\x00"),
    ("del", "k\x7f"),
    ("tab", "k\tk"),
    ("leading-space", " k"),
    ("trailing-space", "k "),
    ("empty", ""),
    ("non-ascii", "ké"),
    ("fullwidth", "\uff4b\uff45\uff59"),
    ("line-separator", "k\u2028k"),
    ("zero-width", "k\u200bk"),
    ("not-a-string", 12345),
    ("bytes", b"key"),
]


@pytest.mark.parametrize("where", ["api_key", "workspace_id"])
@pytest.mark.parametrize(
    "value", [v for _, v in HOSTILE_HEADER_VALUES], ids=[n for n, _ in HOSTILE_HEADER_VALUES]
)
def test_hostile_header_values_are_refused_at_construction(where: str, value: Any) -> None:
    def never(request: Request) -> Response:
        raise AssertionError("nothing may be sent")

    kwargs: dict[str, Any] = {"api_key": API_KEY, "workspace_id": WORKSPACE, where: value}
    if value == "":
        pytest.skip("empty means: read the environment variable (tested in test_client.py)")
    with pytest.raises((ValueError, TypeError)):
        PowerPost(transport=MockTransport(never), **kwargs)


@pytest.mark.parametrize(
    "workspace_id",
    ['ws:"quoted";, =', "ws_" + "w" * 4_000, "~!@#$%^&*()_+`-={}|[]:;'<>?,./"],
    ids=["punctuation", "long-4000", "every-ascii-symbol"],
)
async def test_odd_but_printable_header_values_reach_the_server_verbatim(
    workspace_id: str,
) -> None:
    """Printable ASCII goes through untouched, and as one header, over a real socket."""
    server = FakePowerPost(keys={API_KEY: [workspace_id]})
    async with server, server.client(use_socket=True, max_retries=0) as pp:
        page = await pp.generations.list()
    assert len(page) == 0
    (record,) = server.requests
    assert record.workspace_id == workspace_id
    assert record.status == 200


@HYPOTHESIS
@given(prompt=st.text(max_size=60) | st.sampled_from(EDGE_STRINGS[:-1]))
async def test_any_prompt_is_refused_or_reaches_the_server_exactly(prompt: str) -> None:
    """A prompt is JSON: quotes, newlines, NULs and RTL marks arrive as they were sent."""
    server = FakePowerPost()
    async with server.client(max_retries=0) as pp:
        try:
            await pp.generations.create(prompt=prompt, post_types=["x-post"])
        except (ValueError, TypeError):  # refused before sending (blank, unencodable)
            assert len(server.requests) == 0
            return
    (made,) = server.generations()
    assert made.prompt == prompt


async def test_a_huge_id_is_answered_not_crashed_over_a_socket() -> None:
    """100k characters fit no request line; the server's 4xx comes back as an SDK error."""
    async with FakePowerPost() as server, server.client(use_socket=True, max_retries=0) as pp:
        with pytest.raises(APIStatusError) as info:
            await pp.generations.get("g" * 100_000)
    assert 400 <= info.value.status_code < 500
    assert len(server.requests) == 0  # refused by the HTTP layer, never routed


async def test_a_borrowed_session_with_odd_defaults_cannot_redirect_requests() -> None:
    """Even a session that would follow redirects does not, for API calls."""
    hits: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        raise web.HTTPTemporaryRedirect("/api/v1/account/credits/elsewhere")

    async with (
        serving(handler) as base,
        aiohttp.ClientSession() as session,
        PowerPost(API_KEY, base_url=base, transport=AiohttpTransport(session), max_retries=0) as pp,
    ):
        with pytest.raises(APIStatusError) as info:
            await pp.account.credits()
    assert info.value.status_code == 307
    assert hits == ["/api/v1/account/credits"]
