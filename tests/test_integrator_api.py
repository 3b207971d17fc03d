"""What integrators reach for: response metadata, options, escape hatches, serialisation."""

from __future__ import annotations

import asyncio
import json
import typing
from datetime import datetime, timezone

import pytest

from powerpost_async import (
    KNOWN_POST_TYPES,
    KNOWN_RESEARCH_MODES,
    APIResponse,
    Generation,
    GenerationStatus,
    InternalServerError,
    MockTransport,
    NotFoundError,
    Page,
    PostType,
    PowerPost,
    PowerPostError,
    RateLimit,
    ResearchMode,
    Response,
    to_dict,
    to_json,
)
from powerpost_async._converter import structure
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

MISSING = "00000000-0000-4000-8000-000000000000"


def virtual(**kwargs: typing.Any) -> FakePowerPost:
    kwargs.setdefault("clock", VirtualClock())
    kwargs.setdefault("processing", (5, 20))
    return FakePowerPost(**kwargs)


# -- response metadata ------------------------------------------------------------------------


async def test_with_response_get_carries_the_response() -> None:
    server = virtual()
    (generation_id,) = server.seed_generations(1)
    async with server.client() as pp:
        answer = await pp.generations.with_response.get(generation_id)
        plain = await pp.generations.get(generation_id)
    assert isinstance(answer, APIResponse)
    assert answer.parsed == plain
    assert answer.status_code == 200
    assert answer.request_id is not None
    assert answer.request_id.startswith("req_")
    assert answer.headers["x-request-id"] == answer.request_id  # case-insensitive
    assert isinstance(answer.rate_limit, RateLimit)
    assert answer.rate_limit.limit is not None
    assert answer.rate_limit.remaining >= 0
    assert answer.rate_limit.reset.tzinfo is timezone.utc
    assert answer.attempts == 1
    assert answer.elapsed >= 0


async def test_with_response_counts_retries_and_reports_the_final_response() -> None:
    server = virtual()
    (generation_id,) = server.seed_generations(1)
    server.faults.script(Fault.server_error(503), on="get")
    async with server.client() as pp:
        answer = await pp.generations.with_response.get(generation_id)
    assert answer.attempts == 2
    assert answer.status_code == 200
    assert answer.elapsed > 0  # the backoff, on the virtual clock


async def test_with_response_list_create_and_credits() -> None:
    server = virtual()
    async with server.client() as pp:
        created = await pp.generations.with_response.create(prompt="hi", post_types=["x-post"])
        page = await pp.generations.with_response.list(limit=5)
        credits = await pp.account.with_response.credits()
    assert created.parsed.generation_id
    assert isinstance(page.parsed, Page)
    assert page.parsed.data[0].generation_id == created.parsed.generation_id
    assert credits.parsed.balance == server.balance()
    assert len({created.request_id, page.request_id, credits.request_id}) == 3


async def test_with_response_raises_like_the_plain_call() -> None:
    async with virtual().client() as pp:
        with pytest.raises(NotFoundError):
            await pp.generations.with_response.get(MISSING)


async def test_concurrent_with_response_calls_keep_their_own_responses() -> None:
    server = virtual()
    ids = server.seed_generations(20)
    async with server.client() as pp:
        answers = await asyncio.gather(*(pp.generations.with_response.get(i) for i in ids))
    assert [a.parsed.generation_id for a in answers] == ids
    assert len({a.request_id for a in answers}) == 20


async def test_rate_limit_is_the_latest_snapshot() -> None:
    server = virtual(rate_limit=(50, 60.0))
    (generation_id,) = server.seed_generations(1)
    async with server.client() as pp:
        nothing = pp.rate_limit  # nothing seen yet
        await pp.generations.get(generation_id)
        first = pp.rate_limit
        await pp.generations.get(generation_id)
        second = pp.rate_limit
        assert pp.with_options(timeout=5).rate_limit == second  # the key's, shared
    assert nothing is None
    assert first is not None
    assert second is not None
    assert first.limit == 50
    assert second.remaining == first.remaining - 1


async def test_rate_limit_ignores_unreadable_headers() -> None:
    headers = {"X-RateLimit-Remaining": "many", "X-RateLimit-Reset": "soon"}
    answer = Response.from_json(200, {"balance": 5}, headers=headers)
    async with PowerPost("pp_live_sk_x", transport=MockTransport(lambda r: answer)) as pp:
        response = await pp.account.with_response.credits()
    assert response.rate_limit is None
    assert response.request_id is None


# -- options ----------------------------------------------------------------------------------


def recording(answer: Response) -> MockTransport:
    return MockTransport(lambda request: answer)


async def test_with_options_changes_settings_and_shares_the_rest() -> None:
    answer = Response.from_json(200, {"balance": 5})
    transport = recording(answer)
    async with PowerPost("pp_live_sk_x", "ws_a", transport=transport) as pp:
        other = pp.with_options(
            workspace_id="ws_b", timeout=5, max_retries=0, default_headers={"X-Tenant": "b"}
        )
        assert other.transport is pp.transport
        assert (other.workspace_id, other.timeout, other.max_retries) == ("ws_b", 5.0, 0)
        assert (pp.workspace_id, pp.timeout, pp.max_retries) == ("ws_a", 60.0, 2)
        await other.request("GET", "/api/v1/anything")
        await pp.request("GET", "/api/v1/anything")
        await other.aclose()  # closes the copy only
        assert other.is_closed
        assert not pp.is_closed
        with pytest.raises(PowerPostError, match="closed"):
            await other.account.credits()
        await pp.account.credits()  # the transport still works
    first, second = transport.requests[:2]
    assert first.headers["X-Workspace-Id"] == "ws_b"
    assert first.headers["X-Tenant"] == "b"
    assert second.headers["X-Workspace-Id"] == "ws_a"
    assert "X-Tenant" not in second.headers
    assert first.timeout == 5.0


async def test_closing_the_client_closes_its_copies() -> None:
    pp = PowerPost("pp_live_sk_x", "ws", transport=recording(Response.from_json(200, {})))
    copy = pp.with_options(timeout=1)
    await pp.aclose()
    assert copy.is_closed
    with pytest.raises(PowerPostError, match="closed"):
        pp.with_options(timeout=2)


@pytest.mark.parametrize("name", ["x-api-key", "X-Workspace-Id", "X-API-KEY"])
async def test_the_key_and_workspace_headers_cannot_be_overridden(name: str) -> None:
    transport = recording(Response.from_json(200, {"balance": 1}))
    with pytest.raises(ValueError, match=f"must not set {name}"):
        PowerPost("pp_live_sk_x", transport=transport, default_headers={name: "v"})
    async with PowerPost("pp_live_sk_x", "ws", transport=transport) as pp:
        with pytest.raises(ValueError, match=f"must not set {name}"):
            pp.with_options(default_headers={name: "v"})
        with pytest.raises(ValueError, match=f"must not set {name}"):
            await pp.account.credits(extra_headers={name: "v"})
        with pytest.raises(ValueError, match=f"must not set {name}"):
            await pp.request("GET", "/api/v1/x", headers={name: "v"})
    assert transport.requests == []  # nothing was sent


async def test_copies_of_one_workspace_share_one_sweeper() -> None:
    server = virtual()
    ids = server.seed_generations(40)
    async with server.client() as pp:
        copies = [pp.with_options(timeout=30) for _ in range(4)]
        results = await asyncio.gather(
            *(c.generations.wait_many(ids[i::4], timeout=600) for i, c in enumerate(copies))
        )
    assert {g.status for r in results for g in r} == {GenerationStatus.COMPLETED}
    # One sweeper: about one GET per generation and a few list pages, not 4x the pages.
    lists = server.requests.count(endpoint="list")
    assert server.requests.count(endpoint="get") <= 44
    alone = virtual()
    alone_ids = alone.seed_generations(40)
    async with alone.client() as single:
        await single.generations.wait_many(alone_ids, timeout=600)
    assert lists <= alone.requests.count(endpoint="list") + 2


async def test_a_copy_in_another_workspace_waits_in_that_workspace() -> None:
    server = virtual(keys={"pp_live_sk_test": ["ws_a", "ws_b"]})
    in_b = server.seed_generations(3, workspace_id="ws_b")
    async with server.client(workspace_id="ws_a") as pp:
        tenant = pp.with_options(workspace_id="ws_b")
        done = await tenant.generations.wait_many(in_b, timeout=600)
        await tenant.aclose()
        assert not pp.is_closed
    assert [g.generation_id for g in done] == in_b


# -- escape hatches -------------------------------------------------------------------------------


async def test_extra_headers_query_and_body_reach_the_request() -> None:
    created = {"generation_id": "g1", "status": "pending", "credits_used": 10}
    transport = recording(Response.from_json(200, created))
    async with PowerPost("pp_live_sk_x", "ws", transport=transport) as pp:
        await pp.generations.create(
            prompt="hi",
            post_types=["x-post"],
            extra_headers={"X-Trace": "t1"},
            extra_query={"beta": True, "skip": None, "n": 2},
            extra_body={"tone": "playful", "research_mode": "deep"},
        )
    (request,) = transport.requests
    assert request.headers["X-Trace"] == "t1"
    assert request.headers["x-api-key"] == "pp_live_sk_x"
    assert request.url.endswith("/api/v1/content/generate?beta=true&n=2")
    body = json.loads(request.content or b"")
    assert body["tone"] == "playful"
    assert body["research_mode"] == "deep"
    assert body["post_types"] == ["x-post"]


async def test_extra_query_is_appended_after_the_sdk_query() -> None:
    page = {"data": [], "has_more": False, "next_cursor": None}
    transport = recording(Response.from_json(200, page))
    async with PowerPost("pp_live_sk_x", "ws", transport=transport) as pp:
        await pp.generations.list(limit=5, extra_query={"q": "a b"})
        async for _ in pp.generations.iterate(extra_query={"q": "c"}):
            pass
    assert transport.requests[0].url.endswith("?limit=5&q=a+b")
    assert transport.requests[1].url.endswith("?limit=100&q=c")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"extra_query": {"n": [1]}}, TypeError, "extra_query['n'] must be a string, number"),
        ({"extra_query": ["n"]}, TypeError, "extra_query must be a mapping"),
        ({"extra_headers": {"Bad Name": "v"}}, ValueError, "not a valid header name"),
        ({"extra_headers": {"X-A": "v\r\nX-B: w"}}, ValueError, "CR, LF or NUL"),
    ],
)
async def test_bad_extras_are_refused_before_sending(
    kwargs: dict[str, typing.Any], error: type[Exception], message: str
) -> None:
    transport = recording(Response.from_json(200, {}))
    async with PowerPost("pp_live_sk_x", "ws", transport=transport) as pp:
        with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")):
            await pp.generations.get("g1", **kwargs)
        with pytest.raises(error):
            pp.generations.iterate(**kwargs)  # checked when called, not at the first page
    assert transport.requests == []


async def test_extra_body_must_be_a_mapping() -> None:
    async with PowerPost("pp_live_sk_x", "ws", transport=recording(Response(200))) as pp:
        with pytest.raises(TypeError, match="extra_body must be a mapping"):
            await pp.generations.create(prompt="hi", post_types=["x-post"], extra_body=["x"])  # type: ignore[arg-type]


# -- the generic request ---------------------------------------------------------------------------


async def test_request_reads_any_endpoint_with_auth_and_errors() -> None:
    server = virtual()
    ids = server.seed_generations(3)
    async with server.client() as pp:
        answer = await pp.request("GET", "/api/v1/content/generations", query={"limit": 2})
        credits = await pp.request("get", "/api/v1/account/credits", workspace=False)
        with pytest.raises(NotFoundError):
            await pp.request("GET", f"/api/v1/content/generations/{MISSING}")
    assert answer.status_code == 200
    assert [g["generation_id"] for g in answer.parsed["data"]] == ids[::-1][:2]
    assert credits.parsed == {"balance": server.balance()}


async def test_request_retries_reads_but_never_resends_a_write() -> None:
    server = virtual()
    (generation_id,) = server.seed_generations(1)
    async with server.client() as pp:
        server.faults.script(Fault.server_error(503), on="get")
        read = await pp.request("GET", f"/api/v1/content/generations/{generation_id}")
        assert read.attempts == 2
        server.faults.script(Fault.server_error(503, executed=True), on="create")
        with pytest.raises(InternalServerError):
            await pp.request(
                "POST", "/api/v1/content/generate", json={"prompt": "x", "post_types": ["x-post"]}
            )
    assert server.requests.count(endpoint="create") == 1  # not sent twice


async def test_request_with_an_empty_body() -> None:
    async with PowerPost("pp_live_sk_x", "ws", transport=recording(Response(204))) as pp:
        answer = await pp.request("DELETE", "/api/v1/things/1")
    assert answer.status_code == 204
    assert answer.parsed is None


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("FETCH", "/api/v1/x", "method must be one of"),
        ("GET", "api/v1/x", "path must start with /api/"),
        ("GET", "https://evil.example/api/v1/x", "path must start with /api/"),
        ("GET", "//evil.example/api/x", "path must start with /api/"),
        ("GET", "/api/v1/x?y=1", "must not hold"),
        ("GET", "/api/v1/../../x", "must not hold"),
        ("GET", "/api/v1/x y", "without whitespace"),
    ],
)
async def test_request_refuses_what_could_leave_the_api(
    method: str, path: str, message: str
) -> None:
    transport = recording(Response(200))
    async with PowerPost("pp_live_sk_x", "ws", transport=transport) as pp:
        with pytest.raises(ValueError, match=message):
            await pp.request(method, path)
    assert transport.requests == []


# -- types and serialisation -----------------------------------------------------------------------


def test_the_literal_types_match_the_known_names() -> None:
    assert typing.get_args(PostType) == KNOWN_POST_TYPES
    assert "x-post" in KNOWN_POST_TYPES
    assert typing.get_args(ResearchMode) == KNOWN_RESEARCH_MODES == ("regular", "deep")


async def test_to_dict_gives_the_api_shape_back() -> None:
    server = virtual()
    async with server.client() as pp:
        created = await pp.generations.create(prompt="hi", post_types=["x-post", "youtube-video"])
        generation = await pp.generations.wait(created, timeout=600)
        page = await pp.generations.list()
    data = to_dict(generation)
    assert data["status"] == "completed"
    assert data["created_at"].endswith("Z")
    assert set(data["outputs"]) == {"x", "youtube"}
    assert isinstance(data["outputs"]["youtube"], dict)
    assert structure(data, Generation) == generation  # round trip
    assert json.loads(to_json(generation)) == data
    assert to_json(generation, indent=2).startswith("{\n  ")
    assert to_dict([generation]) == [data]
    listed = to_dict(page)
    assert listed["data"][0]["generation_id"] == generation.generation_id
    assert (
        datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")) == generation.created_at
    )


@pytest.mark.parametrize("value", [{"a": 1}, "text", 3, None, object()])
def test_to_dict_takes_only_models(value: object) -> None:
    with pytest.raises(TypeError, match="to_dict takes one of the SDK's models"):
        to_dict(value)
    with pytest.raises(TypeError, match="to_dict takes one of the SDK's models"):
        to_json(value)
