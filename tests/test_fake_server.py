"""FakePowerPost: the in-process PowerPost API v1, in memory and over a socket.

Most behaviour is checked through the public SDK client; what the SDK refuses to send
(a bad limit, a missing header, Bearer auth...) is sent raw through the SDK's own
transports. Tests marked by the ``mode`` fixture run both in memory and over the socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import powerpost_async.testing
from powerpost_async import (
    AiohttpTransport,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    GenerationStatus,
    InsufficientCreditsError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    PowerPost,
    PowerPostError,
    RateLimitError,
    Request,
    Response,
    ResponseValidationError,
    YouTubeOutput,
)
from powerpost_async._converter import dumps
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

KEY = "pp_live_sk_test"
WS = "ws_test"
HEADERS = {"x-api-key": KEY, "X-Workspace-Id": WS}
EPOCH = datetime(2026, 1, 10, 18, 30, tzinfo=timezone.utc)
GENERATIONS = "/api/v1/content/generations"
GENERATE = "/api/v1/content/generate"
CREDITS = "/api/v1/account/credits"
BODY = {"prompt": "We just shipped dark mode", "post_types": ["x-post"], "research_mode": "regular"}


class Raw:
    """Sends raw requests to a fake, through the SDK's transports (no client checks)."""

    def __init__(self, server: FakePowerPost, transport: Any, base_url: str) -> None:
        self.server = server
        self.transport = transport
        self.base_url = base_url

    async def __call__(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        body: bytes | None = None,
    ) -> Response:
        content = dumps(json) if json is not None else body
        request = Request(method, self.base_url + path, HEADERS if headers is None else headers)
        request = Request(request.method, request.url, request.headers, content)
        response: Response = await self.transport.send(request)
        return response


def error_of(response: Response) -> dict[str, Any]:
    """The documented error envelope's inner object (and check it is the envelope)."""
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def server(clock: VirtualClock) -> FakePowerPost:
    return FakePowerPost(clock=clock)


@pytest.fixture(params=["memory", "socket"])
def mode(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


Connect = Callable[..., Awaitable[PowerPost]]


@pytest.fixture
async def connect(mode: str) -> AsyncIterator[Connect]:
    """Connect a client to a fake, in memory or over its socket; all closed after."""
    clients: list[PowerPost] = []
    started: list[FakePowerPost] = []

    async def factory(fake: FakePowerPost, **kwargs: Any) -> PowerPost:
        if mode == "socket" and fake not in started:
            await fake.start()
            started.append(fake)
        client = fake.client(use_socket=mode == "socket", **kwargs)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
    for fake in started:
        await fake.aclose()


@pytest.fixture
async def pp(server: FakePowerPost, connect: Connect) -> PowerPost:
    return await connect(server)


@pytest.fixture
async def raw(server: FakePowerPost, mode: str) -> AsyncIterator[Raw]:
    if mode == "socket":
        await server.start()
        transport: Any = AiohttpTransport()
        base_url = server.base_url
    else:
        transport = server.transport()
        base_url = "https://powerpost.test"
    try:
        yield Raw(server, transport, base_url)
    finally:
        await transport.aclose()
        await server.aclose()


# -- surface --------------------------------------------------------------------------------


def test_exported_names() -> None:
    assert powerpost_async.testing.__all__ == [
        "Endpoint",
        "FakePowerPost",
        "FakeTransport",
        "Fault",
        "FaultKind",
        "Faults",
        "Quirks",
        "RedisServer",
        "RequestLog",
        "RequestRecord",
        "Timeline",
        "VirtualClock",
    ]
    for name in powerpost_async.testing.__all__:
        assert hasattr(powerpost_async.testing, name)


def test_defaults() -> None:
    server = FakePowerPost()
    assert server.api_key == KEY
    assert server.workspace_id == WS
    assert server.balance() == 1000
    assert len(server.requests) == 0
    assert "in memory" in repr(server)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"keys": {}}, "at least one API key"),
        ({"keys": {"": ["ws"]}}, "non-empty"),
        ({"keys": {KEY: []}}, "at least one workspace"),
        ({"credits": {"pp_live_sk_typo": 5}}, "not configured"),
        ({"pending": -1.0}, "pending"),
        ({"processing": (5.0, 1.0)}, "processing"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"rate_limit": (0, 60.0)}, "at least 1"),
        ({"rate_limit": (5, 0.0)}, "window"),
        ({"epoch": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_constructor_checks_its_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FakePowerPost(**kwargs)


def test_workspaces_must_be_a_list_not_a_string() -> None:
    with pytest.raises(TypeError, match="list of ids"):
        FakePowerPost(keys={KEY: "ws_test"})


# -- authentication and workspaces ----------------------------------------------------------


async def test_missing_api_key_is_401(raw: Raw) -> None:
    response = await raw("GET", CREDITS, headers={})
    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_API_KEY"


async def test_wrong_api_key_is_401(raw: Raw) -> None:
    response = await raw("GET", GENERATIONS, headers={**HEADERS, "x-api-key": "pp_live_sk_nope"})
    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_API_KEY"


async def test_bearer_authorization_is_accepted(raw: Raw) -> None:
    response = await raw("GET", CREDITS, headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200
    assert response.json() == {"balance": 1000}
    response = await raw(
        "GET", GENERATIONS, headers={"Authorization": f"bearer {KEY}", "X-Workspace-Id": WS}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("authorization", ["Bearer pp_live_sk_nope", f"Basic {KEY}", "Bearer"])
async def test_bad_authorization_is_401(raw: Raw, authorization: str) -> None:
    response = await raw("GET", CREDITS, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert error_of(response)["code"] == "INVALID_API_KEY"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", GENERATIONS), ("GET", f"{GENERATIONS}/x"), ("POST", GENERATE)]
)
async def test_missing_workspace_header_is_400_on_content(raw: Raw, method: str, path: str) -> None:
    response = await raw(method, path, headers={"x-api-key": KEY}, json=BODY)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert "X-Workspace-Id" in error["message"]


async def test_credits_need_no_workspace(raw: Raw) -> None:
    response = await raw("GET", CREDITS, headers={"x-api-key": KEY})
    assert response.status_code == 200


async def test_a_workspace_the_key_does_not_own_is_403(raw: Raw) -> None:
    response = await raw("GET", GENERATIONS, headers={"x-api-key": KEY, "X-Workspace-Id": "ws_x"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"


async def test_sdk_errors_for_auth_and_workspace(server: FakePowerPost, connect: Connect) -> None:
    wrong_key = await connect(server, api_key="pp_live_sk_wrong")
    with pytest.raises(AuthenticationError) as auth:
        await wrong_key.account.credits()
    assert auth.value.code == "INVALID_API_KEY"
    assert auth.value.request_id is not None

    foreign = await connect(server, workspace_id="ws_someone_else")
    with pytest.raises(PermissionDeniedError) as denied:
        await foreign.generations.list()
    assert denied.value.code == "FORBIDDEN"


async def test_workspaces_are_isolated(clock: VirtualClock, connect: Connect) -> None:
    server = FakePowerPost(
        clock=clock,
        keys={"pp_live_sk_a": ["ws_a", "ws_shared"], "pp_live_sk_b": ["ws_b", "ws_shared"]},
    )
    a = await connect(server, api_key="pp_live_sk_a", workspace_id="ws_a")
    b = await connect(server, api_key="pp_live_sk_b", workspace_id="ws_b")
    shared_a = await connect(server, api_key="pp_live_sk_a", workspace_id="ws_shared")
    shared_b = await connect(server, api_key="pp_live_sk_b", workspace_id="ws_shared")

    in_a = await a.generations.create(prompt="only in A", post_types=["x-post"])
    with pytest.raises(NotFoundError) as missing:
        await b.generations.get(in_a.generation_id)
    assert missing.value.code == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        await shared_a.generations.get(in_a.generation_id)
    assert len(await b.generations.list()) == 0

    in_shared = await shared_a.generations.create(prompt="team", post_types=["x-post"])
    assert (await shared_b.generations.get(in_shared.generation_id)).prompt == "team"
    assert [g.generation_id for g in await a.generations.list()] == [in_a.generation_id]
    # Credits belong to the key that paid, not to the workspace.
    assert server.balance("pp_live_sk_a") == 980
    assert server.balance("pp_live_sk_b") == 1000


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=",
        "limit=-1",
        "limit=2.5",
        "status=done",
        "status=",
        "cursor=garbage!",
        "cursor=",
        f"cursor={base64.urlsafe_b64encode(b'v9:1:2').decode()}",
    ],
)
async def test_bad_list_queries_are_400(raw: Raw, query: str) -> None:
    response = await raw("GET", f"{GENERATIONS}?{query}")
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("query", ["limit=1", "limit=100", "status=failed", "other=ignored"])
async def test_good_list_queries_are_200(raw: Raw, query: str) -> None:
    response = await raw("GET", f"{GENERATIONS}?{query}")
    assert response.status_code == 200
    assert response.json() == {"data": [], "next_cursor": None, "has_more": False}


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[1, 2]",
        dumps({"prompt": "x", "research_mode": "regular"}),
        dumps({**BODY, "post_types": []}),
        dumps({**BODY, "post_types": "x-post"}),
        dumps({**BODY, "post_types": ["x-post", "myspace-post"]}),
        dumps({"prompt": "x", "post_types": ["x-post"]}),
        dumps({**BODY, "research_mode": "shallow"}),
        dumps({"post_types": ["x-post"], "research_mode": "regular"}),
        dumps({"post_types": ["x-post"], "research_mode": "regular", "media_ids": []}),
        dumps({**BODY, "prompt": "   "}),
        dumps({**BODY, "prompt": 42}),
        dumps({**BODY, "prompt": "x" * 2001}),
        dumps({**BODY, "cta_text": "x" * 101}),
        dumps({**BODY, "source_urls": [f"https://example.com/{n}" for n in range(11)]}),
        dumps({**BODY, "source_urls": ["ftp://example.com"]}),
        dumps({**BODY, "media_ids": [f"m{n}" for n in range(11)]}),
        dumps({**BODY, "writing_style_id": ""}),
    ],
)
async def test_bad_create_bodies_are_400_and_cost_nothing(raw: Raw, body: bytes) -> None:
    response = await raw("POST", GENERATE, body=body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "VALIDATION_ERROR"
    assert raw.server.balance() == 1000
    assert raw.server.generations() == []


async def test_create_limits_are_inclusive(raw: Raw) -> None:
    body = {
        **BODY,
        "prompt": "x" * 2000,
        "cta_text": "c" * 100,
        "source_urls": [f"https://example.com/{n}" for n in range(10)],
        "media_ids": [f"m{n}" for n in range(10)],
        "writing_style_id": "style_1",
        "unknown_field": "ignored",
    }
    response = await raw("POST", GENERATE, json=body)
    assert response.status_code == 200


async def test_unknown_generation_route_and_method(raw: Raw) -> None:
    response = await raw("GET", f"{GENERATIONS}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"
    response = await raw("GET", "/api/v1/nothing/here")
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"
    response = await raw("POST", CREDITS, json={})
    assert response.status_code == 405
    assert error_of(response)["code"] == "METHOD_NOT_ALLOWED"


async def test_sdk_raises_bad_request_for_what_only_the_server_checks(
    server: FakePowerPost, pp: PowerPost
) -> None:
    # create() refuses a long prompt itself; the generic request lets the server see it.
    with pytest.raises(ValueError, match="at most 2000 characters"):
        await pp.generations.create(prompt="x" * 2001, post_types=["x-post"])
    with pytest.raises(BadRequestError) as error:
        await pp.request(
            "POST",
            "/api/v1/content/generate",
            json={"prompt": "x" * 2001, "post_types": ["x-post"]},
        )
    assert error.value.code == "VALIDATION_ERROR"
    assert "2000" in error.value.message
    assert server.balance() == 1000


async def test_sdk_raises_not_found(pp: PowerPost) -> None:
    with pytest.raises(NotFoundError) as error:
        await pp.generations.get("550e8400-e29b-41d4-a716-446655440000")
    assert error.value.status_code == 404


# -- create and credits ---------------------------------------------------------------------


async def test_create_charges_by_research_mode(pp: PowerPost, server: FakePowerPost) -> None:
    regular = await pp.generations.create(prompt="one", post_types=["x-post"])
    assert regular.credits_used == 10
    assert regular.remaining_credits == 990
    assert regular.status is GenerationStatus.PROCESSING
    assert regular.status_url == f"{GENERATIONS}/{regular.generation_id}"
    assert uuid.UUID(regular.generation_id).version == 4

    deep = await pp.generations.create(prompt="two", post_types=["x-post"], research_mode="deep")
    assert deep.credits_used == 15
    assert deep.remaining_credits == 975
    assert (await pp.account.credits()).balance == 975
    assert server.balance() == 975


async def test_not_enough_credits_is_402(clock: VirtualClock, connect: Connect) -> None:
    server = FakePowerPost(clock=clock, credits=24)
    pp = await connect(server)
    await pp.generations.create(prompt="fits", post_types=["x-post"])  # 14 left
    with pytest.raises(InsufficientCreditsError) as error:
        await pp.generations.create(prompt="too deep", post_types=["x-post"], research_mode="deep")
    assert error.value.code == "INSUFFICIENT_CREDITS"
    assert server.balance() == 14
    await pp.generations.create(prompt="still fits", post_types=["x-post"])
    assert (await pp.account.credits()).balance == 4
    assert len(server.generations()) == 2


def test_credits_per_key() -> None:
    server = FakePowerPost(
        keys={"pp_live_sk_a": ["ws_a"], "pp_live_sk_b": ["ws_b"]}, credits={"pp_live_sk_b": 7}
    )
    assert server.balance("pp_live_sk_a") == 1000
    assert server.balance("pp_live_sk_b") == 7
    assert server.api_key == "pp_live_sk_a"
    assert server.workspace_id == "ws_a"


async def test_ids_and_schedules_are_reproducible_for_a_seed() -> None:
    async def ids(seed: int) -> list[str]:
        server = FakePowerPost(clock=VirtualClock(), seed=seed, processing=(1.0, 9.0))
        async with server.client() as pp:
            return [
                (await pp.generations.create(prompt=f"p{n}", post_types=["x-post"])).generation_id
                for n in range(5)
            ]

    first = await ids(seed=1)
    assert first == await ids(seed=1)
    assert first != await ids(seed=2)
    assert len(set(first)) == 5
    assert all(uuid.UUID(i).version == 4 for i in first)


async def test_created_at_follows_the_clock_from_the_epoch(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    async with server.client() as pp:
        first = await pp.generations.create(prompt="first", post_types=["x-post"])
        clock.advance(90.5)
        second = await pp.generations.create(prompt="second", post_types=["x-post"])
        page = await pp.generations.list()
    assert [g.created_at for g in page] == [EPOCH + timedelta(seconds=90.5), EPOCH]
    assert server.generation(first.generation_id).created_at == EPOCH
    assert server.generation(second.generation_id).created_at == EPOCH + timedelta(seconds=90.5)


async def test_created_at_is_iso_8601_utc_on_the_wire(raw: Raw) -> None:
    raw.server.seed_generations(1)
    item = (await raw("GET", GENERATIONS)).json()["data"][0]
    assert item["created_at"] == "2026-01-10T18:30:00.000Z"


async def test_custom_epoch() -> None:
    epoch = datetime(2030, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    server = FakePowerPost(clock=VirtualClock(), epoch=epoch)
    (generation_id,) = server.seed_generations(1)
    assert server.generation(generation_id).created_at == epoch


# -- list and pagination --------------------------------------------------------------------


async def test_list_is_newest_first_paged_and_has_no_outputs(raw: Raw) -> None:
    ids = raw.server.seed_generations(25, status="completed")
    first = (await raw("GET", GENERATIONS)).json()
    assert len(first["data"]) == 20  # the default limit
    assert first["has_more"] is True
    assert isinstance(first["next_cursor"], str)
    assert [item["generation_id"] for item in first["data"]] == ids[::-1][:20]
    for item in first["data"]:
        assert set(item) == {
            "generation_id",
            "status",
            "prompt",
            "platforms",
            "research_mode",
            "credits_used",
            "created_at",
        }
    second = (await raw("GET", f"{GENERATIONS}?cursor={first['next_cursor']}")).json()
    assert [item["generation_id"] for item in second["data"]] == ids[::-1][20:]
    assert second == {**second, "next_cursor": None, "has_more": False}


async def test_pages_stay_stable_while_generations_are_created_between_them(
    server: FakePowerPost, pp: PowerPost
) -> None:
    old = server.seed_generations(25)
    seen: list[str] = []
    page = await pp.generations.list(limit=10)
    seen += [g.generation_id for g in page]
    while page.has_more:
        # New generations arrive at the top of the list while we page down it.
        for n in range(3):
            await pp.generations.create(prompt=f"new {n}", post_types=["x-post"])
        page = await pp.generations.list(limit=10, cursor=page.next_cursor)
        seen += [g.generation_id for g in page]
    assert seen == old[::-1]  # nothing skipped, nothing repeated, nothing new
    everything = [g.generation_id async for g in pp.generations.iterate(page_size=7)]
    assert len(everything) == len(set(everything)) == 25 + 6


async def test_iterate_sweeps_hundreds(server: FakePowerPost, pp: PowerPost) -> None:
    ids = server.seed_generations(250)
    swept = [g.generation_id async for g in pp.generations.iterate()]
    assert swept == ids[::-1]
    assert server.requests.count(endpoint="list") == 3


async def test_status_filter_uses_the_status_at_request_time(
    server: FakePowerPost, pp: PowerPost
) -> None:
    server.seed_generations(4, status="completed")
    server.seed_generations(3, status="processing")
    server.seed_generations(2, status="pending")
    server.seed_generations(1, status="failed")
    assert len(await pp.generations.list(status="processing")) == 3
    assert len(await pp.generations.list(status="pending")) == 2
    assert len(await pp.generations.list(status="failed")) == 1
    server.complete_all()
    assert len(await pp.generations.list(status="processing")) == 0
    assert len(await pp.generations.list(status="pending")) == 0
    assert len(await pp.generations.list(status="completed")) == 9
    assert len(await pp.generations.list(status="failed")) == 1


async def test_status_filter_pages_through_matches_only(
    server: FakePowerPost, pp: PowerPost
) -> None:
    wanted: list[str] = []
    for _ in range(6):
        server.seed_generations(2, status="completed")
        wanted += server.seed_generations(1, status="failed")
    page = await pp.generations.list(status="failed", limit=4)
    assert [g.generation_id for g in page] == wanted[::-1][:4]
    assert page.has_more
    rest = await pp.generations.list(status="failed", limit=4, cursor=page.next_cursor)
    assert [g.generation_id for g in rest] == wanted[::-1][4:]
    assert not rest.has_more
    assert rest.next_cursor is None


async def test_exactly_one_full_page_has_no_more(server: FakePowerPost, pp: PowerPost) -> None:
    server.seed_generations(5)
    page = await pp.generations.list(limit=5)
    assert len(page) == 5
    assert not page.has_more
    assert page.next_cursor is None


def test_seed_generations_checks_its_arguments(server: FakePowerPost) -> None:
    with pytest.raises(ValueError, match="workspace"):
        server.seed_generations(1, workspace_id="ws_unknown")
    with pytest.raises(ValueError, match="count"):
        server.seed_generations(-1)
    with pytest.raises(ValueError, match="status"):
        server.seed_generations(1, status="done")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="post type"):
        server.seed_generations(1, post_types=["myspace-post"])
    with pytest.raises(ValueError, match="research_mode"):
        server.seed_generations(1, research_mode="shallow")  # type: ignore[arg-type]
    assert server.generations() == []


def test_seeded_generations_cost_nothing(server: FakePowerPost) -> None:
    ids = server.seed_generations(3, prompt="history", research_mode="deep", status="failed")
    assert server.balance() == 1000
    generation = server.generation(ids[0])
    assert generation.prompt == "history"
    assert generation.status is GenerationStatus.FAILED
    assert generation.credits_used == 0


# -- lifecycle over virtual time ------------------------------------------------------------


async def test_lifecycle_follows_the_clock(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, pending=2.0, processing=3.0)
    async with server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        assert created.status is GenerationStatus.PENDING
        statuses = []
        for _ in range(6):
            generation = await pp.generations.get(created.generation_id)
            statuses.append((clock(), generation.status.value, generation.outputs is not None))
            await clock.sleep(1)
    assert statuses == [
        (0.0, "pending", False),
        (1.0, "pending", False),
        (2.0, "processing", False),
        (3.0, "processing", False),
        (4.0, "processing", False),
        (5.0, "completed", True),
    ]


async def test_durations_drawn_from_ranges_stay_in_them(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, pending=(1.0, 2.0), processing=(3.0, 4.0), seed=5)
    ids = server.seed_generations(30)
    clock.advance(0.99)
    assert {g.status for g in server.generations()} == {GenerationStatus.PENDING}
    clock.advance(2.0)  # 2.99: everyone started, nobody can have finished (>= 4 s)
    assert {g.status for g in server.generations()} == {GenerationStatus.PROCESSING}
    clock.advance(1.5)  # 4.49: a mix
    assert len({g.status for g in server.generations()}) == 2
    clock.advance(1.51)  # 6.0: everyone done
    assert {server.generation(i).status for i in ids} == {GenerationStatus.COMPLETED}


async def test_complete_all_finishes_everything_now() -> None:
    server = FakePowerPost(processing=3600.0)  # the real monotonic clock
    ids = server.seed_generations(3)
    server.seed_generations(2, status="pending")
    assert server.generation(ids[0]).status is GenerationStatus.PROCESSING
    server.complete_all()
    assert {g.status for g in server.generations()} == {GenerationStatus.COMPLETED}


def test_advance_needs_a_virtual_clock() -> None:
    with pytest.raises(TypeError, match="VirtualClock"):
        FakePowerPost().advance(1)
    server = FakePowerPost(clock=VirtualClock(), processing=5.0)
    (generation_id,) = server.seed_generations(1)
    server.advance(5)
    assert server.generation(generation_id).status is GenerationStatus.COMPLETED


def test_peeking_at_an_unknown_generation_is_a_key_error(server: FakePowerPost) -> None:
    with pytest.raises(KeyError):
        server.generation("nope")


def test_generations_peek_by_workspace() -> None:
    server = FakePowerPost(keys={KEY: ["ws_a", "ws_b"]})
    a = server.seed_generations(2, workspace_id="ws_a")
    b = server.seed_generations(1, workspace_id="ws_b")
    assert [g.generation_id for g in server.generations("ws_a")] == a[::-1]
    assert [g.generation_id for g in server.generations()] == (a + b)[::-1]


# -- outputs --------------------------------------------------------------------------------


async def test_one_output_per_platform_and_youtube_has_title_and_description(
    server: FakePowerPost, pp: PowerPost
) -> None:
    created = await pp.generations.create(
        prompt="We just shipped dark mode",
        post_types=[
            "instagram-feed",
            "instagram-reel",
            "instagram-story",
            "tiktok-video",
            "youtube-short",
            "youtube-video",
            "x-post",
            "facebook-reel",
            "linkedin-post",
        ],
        cta_text="Try it today",
    )
    server.complete_all()
    generation = await pp.generations.get(created.generation_id)
    assert generation.platforms == ("instagram", "tiktok", "youtube", "x", "facebook", "linkedin")
    assert generation.outputs is not None
    assert list(generation.outputs) == list(generation.platforms)
    youtube = generation.outputs["youtube"]
    assert isinstance(youtube, YouTubeOutput)
    assert youtube.title
    assert "Try it today" in youtube.description
    for platform in ("instagram", "tiktok", "x", "facebook", "linkedin"):
        caption = generation.outputs[platform]
        assert isinstance(caption, str)
        assert "dark mode" in caption
        assert "Try it today" in caption
        assert "#" in caption
    assert generation.error is None


async def test_media_only_generation(server: FakePowerPost, pp: PowerPost) -> None:
    created = await pp.generations.create(media_ids=["media_1"], post_types=["tiktok-photos"])
    server.complete_all()
    generation = await pp.generations.get(created.generation_id)
    assert generation.prompt is None
    assert generation.outputs is not None
    assert set(generation.outputs) == {"tiktok"}


# -- failures and refunds -------------------------------------------------------------------


async def test_a_failed_generation_is_refunded_when_its_failure_shows(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, failure_rate=1.0, processing=10.0)
    async with server.client() as pp:
        created = await pp.generations.create(prompt="doomed", post_types=["x-post"])
        clock.advance(9.99)
        assert (await pp.account.credits()).balance == 990
        running = await pp.generations.get(created.generation_id)
        assert running.status is GenerationStatus.PROCESSING
        assert running.credits_used == 10
        clock.advance(0.01)
        assert (await pp.account.credits()).balance == 1000
        failed = await pp.generations.get(created.generation_id)
        (summary,) = await pp.generations.list()
    assert failed.status is GenerationStatus.FAILED
    assert failed.credits_used == 0
    assert failed.outputs is None
    assert failed.error is not None
    assert failed.error.code == "GENERATION_FAILED"
    assert failed.error.message == "Failed to generate content. Please try again."
    assert summary.credits_used == 0


async def test_failed_generation_on_the_wire(raw: Raw) -> None:
    server = raw.server
    (generation_id,) = server.seed_generations(1, status="failed")
    body = (await raw("GET", f"{GENERATIONS}/{generation_id}")).json()
    assert body["error"] == {
        "code": "GENERATION_FAILED",
        "message": "Failed to generate content. Please try again.",
    }
    assert "outputs" not in body
    assert body["credits_used"] == 0


async def test_balance_matches_outcomes_with_a_failure_rate(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, failure_rate=0.5, seed=11)
    async with server.client() as pp:
        for n in range(20):
            await pp.generations.create(prompt=f"p{n}", post_types=["x-post"])
        assert (await pp.account.credits()).balance == 800
        server.complete_all()
        outcomes = Counter(g.status for g in server.generations())
        assert 0 < outcomes[GenerationStatus.FAILED] < 20
        assert (await pp.account.credits()).balance == (
            1000 - 10 * outcomes[GenerationStatus.COMPLETED]
        )


# -- rate limits ----------------------------------------------------------------------------


async def test_rate_limit_headers_and_429(clock: VirtualClock) -> None:
    server = FakePowerPost(clock=clock, rate_limit=(3, 60.0))
    raw = Raw(server, server.transport(), "https://powerpost.test")
    remaining = []
    for _ in range(3):
        response = await raw("GET", CREDITS)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    clock.advance(15)
    limited = await raw("GET", CREDITS)
    assert limited.status_code == 429
    error = error_of(limited)
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["retryAfter"] == 45
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == str(int(EPOCH.timestamp()) + 60)

    other = await raw("GET", CREDITS, headers={"Authorization": f"Bearer {KEY}"})
    assert other.status_code == 429  # the same key, however it is presented

    clock.advance(45)
    fresh = await raw("GET", CREDITS)
    assert fresh.status_code == 200
    assert fresh.headers["X-RateLimit-Remaining"] == "2"  # the 429s consumed nothing


async def test_rate_limits_are_per_key(clock: VirtualClock) -> None:
    server = FakePowerPost(
        clock=clock, rate_limit=(1, 10.0), keys={"pp_live_sk_a": ["ws"], "pp_live_sk_b": ["ws"]}
    )
    raw = Raw(server, server.transport(), "https://powerpost.test")
    assert (await raw("GET", CREDITS, headers={"x-api-key": "pp_live_sk_a"})).status_code == 200
    assert (await raw("GET", CREDITS, headers={"x-api-key": "pp_live_sk_a"})).status_code == 429
    assert (await raw("GET", CREDITS, headers={"x-api-key": "pp_live_sk_b"})).status_code == 200


async def test_sdk_sees_rate_limit_and_waits_it_out(clock: VirtualClock, connect: Connect) -> None:
    server = FakePowerPost(clock=clock, rate_limit=(2, 60.0))
    impatient = await connect(server, max_retries=0)
    await impatient.account.credits()
    await impatient.account.credits()
    with pytest.raises(RateLimitError) as error:
        await impatient.account.credits()
    assert error.value.retry_after == 60
    assert error.value.code == "RATE_LIMIT_EXCEEDED"

    patient = await connect(server, max_retries=1, timeout=120)  # time for the 60 s pause
    assert (await patient.account.credits()).balance == 1000
    assert clock() >= 60  # waited in virtual time
    assert server.requests.count(status=429) == 2


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", CREDITS, HEADERS),
        ("GET", CREDITS, {}),
        ("GET", GENERATIONS, {"x-api-key": KEY}),
        ("GET", GENERATIONS, {"x-api-key": KEY, "X-Workspace-Id": "ws_x"}),
        ("GET", f"{GENERATIONS}/missing", HEADERS),
        ("POST", GENERATE, HEADERS),
        ("GET", "/nowhere", HEADERS),
    ],
)
async def test_every_response_carries_request_id_and_rate_limit_headers(
    raw: Raw, method: str, path: str, headers: dict[str, str]
) -> None:
    response = await raw(method, path, headers=headers, json=BODY)
    assert response.headers["X-Request-ID"].startswith("req_")
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert int(response.headers["X-RateLimit-Remaining"]) >= 0
    assert int(response.headers["X-RateLimit-Reset"]) > EPOCH.timestamp()
    assert response.headers["Content-Type"].startswith("application/json")


# -- faults ---------------------------------------------------------------------------------


async def test_injected_429_is_honoured_and_the_create_happens_once(
    server: FakePowerPost, clock: VirtualClock, pp: PowerPost
) -> None:
    server.faults.script(Fault.rate_limit(retry_after=3), on="create")
    created = await pp.generations.create(prompt="once", post_types=["x-post"])
    assert clock() >= 3
    assert [g.generation_id for g in server.generations()] == [created.generation_id]
    assert server.balance() == 990
    assert server.requests.count(endpoint="create", fault="rate_limit", status=429) == 1
    assert server.requests.count(endpoint="create", status=200) == 1


async def test_injected_429_on_the_wire(raw: Raw) -> None:
    raw.server.faults.script(Fault.rate_limit(retry_after=7))
    response = await raw("GET", CREDITS)
    assert response.status_code == 429
    assert error_of(response) == {
        "message": "Rate limit exceeded, retry in 7 seconds",
        "code": "RATE_LIMIT_EXCEEDED",
        "retryAfter": 7,
    }
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.headers["X-RateLimit-Reset"] == str(int(EPOCH.timestamp()) + 7)
    (record,) = raw.server.requests
    assert record.fault == "rate_limit"
    assert not record.executed


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_on_get_are_retried_by_the_sdk(
    server: FakePowerPost, pp: PowerPost, status: int
) -> None:
    (generation_id,) = server.seed_generations(1)
    server.faults.script(Fault.server_error(status), on="get")
    generation = await pp.generations.get(generation_id)
    assert generation.generation_id == generation_id
    assert [r.status for r in server.requests] == [status, 200]


async def test_server_error_before_create_loses_nothing(
    server: FakePowerPost, pp: PowerPost
) -> None:
    server.faults.script(Fault.server_error(503), on="create")
    with pytest.raises(InternalServerError) as error:
        await pp.generations.create(prompt="x", post_types=["x-post"])
    assert error.value.status_code == 503
    assert error.value.code == "INTERNAL_ERROR"
    assert server.generations() == []
    assert server.balance() == 1000
    assert server.requests.count(endpoint="create", executed=False) == 1


async def test_server_error_after_create_keeps_the_generation(
    server: FakePowerPost, pp: PowerPost
) -> None:
    server.faults.script(Fault.server_error(500, executed=True), on="create")
    with pytest.raises(InternalServerError):
        await pp.generations.create(prompt="x", post_types=["x-post"])
    (record,) = server.requests
    assert record.executed
    assert record.status == 500
    assert [g.generation_id for g in server.generations()] == [record.generation_id]
    assert server.balance() == 990


@pytest.mark.parametrize("executed", [False, True])
async def test_dropped_create(server: FakePowerPost, pp: PowerPost, executed: bool) -> None:
    server.faults.script(Fault.drop(executed=executed), on="create")
    with pytest.raises(APIConnectionError) as error:
        await pp.generations.create(prompt="x", post_types=["x-post"])
    assert error.value.request_sent is True
    (record,) = server.requests  # never resent: it may have been received
    assert record.status is None
    assert record.fault == "drop"
    assert len(server.generations()) == (1 if executed else 0)
    assert server.balance() == (990 if executed else 1000)


async def test_dropped_get_is_retried(server: FakePowerPost, pp: PowerPost) -> None:
    (generation_id,) = server.seed_generations(1)
    server.faults.script(Fault.drop(), on="get")
    assert (await pp.generations.get(generation_id)).generation_id == generation_id
    assert server.requests.count(fault="drop") == 1
    assert server.requests.count(endpoint="get", status=200) == 1


async def test_dropped_get_on_the_wire(raw: Raw, mode: str) -> None:
    raw.server.faults.script(Fault.drop(), Fault.drop(), on="credits")
    with pytest.raises(APIConnectionError) as error:
        await raw("GET", CREDITS)
    assert error.value.request_sent
    # aiohttp's client quietly resends an idempotent request once on a dropped
    # keep-alive connection; in memory there is no such layer.
    assert raw.server.requests.count(fault="drop") == (2 if mode == "socket" else 1)


async def test_slow_answer_arrives_in_virtual_time(
    server: FakePowerPost, clock: VirtualClock, pp: PowerPost
) -> None:
    server.faults.script(Fault.slow(12.0), on="credits")
    assert (await pp.account.credits()).balance == 1000
    assert clock() == 12.0


async def test_slow_answer_past_the_timeout_times_out_in_memory(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    server.faults.script(Fault.slow(30.0), on="create")
    async with server.client(timeout=5.0) as pp:
        with pytest.raises(APITimeoutError) as error:
            await pp.generations.create(prompt="x", post_types=["x-post"])
    assert error.value.request_sent
    assert clock() == 5.0
    # The work was done although the client gave up: a reliability test can see it.
    (record,) = server.requests
    assert record.executed
    assert record.fault == "slow"
    assert [g.generation_id for g in server.generations()] == [record.generation_id]


async def test_malformed_body_on_a_read_is_read_again(server: FakePowerPost, pp: PowerPost) -> None:
    (generation_id,) = server.seed_generations(1)
    server.faults.script(Fault.malformed(), on="get")
    generation = await pp.generations.get(generation_id)
    assert generation.generation_id == generation_id
    assert server.requests.count(endpoint="get") == 2
    assert server.requests.count(fault="malformed") == 1


async def test_malformed_body_on_a_create_is_not_sent_again(
    server: FakePowerPost, pp: PowerPost
) -> None:
    server.faults.script(Fault.malformed(), on="create")
    with pytest.raises(MalformedResponseError) as error:
        await pp.generations.create(prompt="x", post_types=["x-post"])
    assert isinstance(error.value, ResponseValidationError)
    assert error.value.body
    assert server.requests.count(endpoint="create") == 1
    assert len(server.generations()) == 1  # it worked: the raw body is all the client has


async def test_malformed_body_on_the_wire(raw: Raw) -> None:
    raw.server.faults.script(Fault.malformed())
    response = await raw("GET", CREDITS)
    assert response.status_code == 200
    assert response.content == b'{"balanc'  # half of {"balance":1000}
    assert response.headers["Content-Length"] == "8"
    with pytest.raises(ValueError):  # noqa: PT011 - json and orjson raise different ones
        response.json()


async def test_faults_only_hit_the_endpoints_named(server: FakePowerPost, pp: PowerPost) -> None:
    server.faults.script(Fault.server_error(), on="get")
    await pp.account.credits()
    await pp.generations.list()
    assert server.faults.scripted == 1
    assert server.requests.count(fault="server_error") == 0
    server.faults.script(Fault.server_error(503), on=("list", "credits"))
    with pytest.raises(InternalServerError):
        await pp.account.credits(max_retries=0)
    assert server.faults.scripted == 1


async def test_a_script_can_let_requests_through(server: FakePowerPost, pp: PowerPost) -> None:
    server.faults.script(Fault.server_error(), None, Fault.server_error(), on="credits")
    outcomes = []
    for _ in range(4):
        try:
            await pp.account.credits(max_retries=0)
            outcomes.append("ok")
        except InternalServerError:
            outcomes.append("500")
    assert outcomes == ["500", "ok", "500", "ok"]
    assert server.faults.scripted == 0


async def test_clear_forgets_every_fault(server: FakePowerPost, pp: PowerPost) -> None:
    server.faults.script(Fault.server_error())
    server.faults.random(Fault.drop(), 1.0)
    server.faults.clear()
    assert server.faults.scripted == 0
    await pp.account.credits(max_retries=0)


async def test_random_faults_are_reproducible_for_a_seed() -> None:
    async def pattern(seed: int) -> list[int]:
        server = FakePowerPost(clock=VirtualClock(), seed=seed)
        server.faults.random(Fault.server_error(503), 0.5, on="credits")
        raw = Raw(server, server.transport(), "https://powerpost.test")
        return [(await raw("GET", CREDITS)).status_code for _ in range(40)]

    first = await pattern(seed=3)
    assert first == await pattern(seed=3)
    assert first != await pattern(seed=4)
    assert 5 < first.count(503) < 35


async def test_random_fault_probabilities_zero_and_one(raw: Raw) -> None:
    raw.server.faults.random(Fault.server_error(), 0.0)
    assert (await raw("GET", CREDITS)).status_code == 200
    raw.server.faults.random(Fault.server_error(502), 1.0, on="credits")
    assert (await raw("GET", CREDITS)).status_code == 502
    assert (await raw("GET", GENERATIONS)).status_code == 200


def test_fault_arguments_are_checked(server: FakePowerPost) -> None:
    with pytest.raises(ValueError, match="5xx"):
        Fault.server_error(404)
    with pytest.raises(ValueError, match="retry_after"):
        Fault.rate_limit(retry_after=-1)
    with pytest.raises(ValueError, match="delay"):
        Fault.slow(-1.0)
    with pytest.raises(ValueError, match="kind"):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="executed=True"):
        Fault("malformed", executed=False)
    with pytest.raises(ValueError, match="executed=False"):
        Fault("rate_limit", executed=True)
    with pytest.raises(ValueError, match="only a slow fault"):
        Fault("drop", delay=3.0)
    assert Fault("slow", executed=True, delay=2.0) == Fault.slow(2.0)
    with pytest.raises(ValueError, match="endpoints"):
        server.faults.script(Fault.drop(), on="delete")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="endpoints"):
        server.faults.script(Fault.drop(), on=())
    with pytest.raises(ValueError, match="probability"):
        server.faults.random(Fault.drop(), 1.5)
    assert server.faults.scripted == 0


async def test_nothing_is_lost_under_random_faults(clock: VirtualClock) -> None:
    """Every generation the server made is accounted for by the log, and vice versa."""
    server = FakePowerPost(clock=clock, failure_rate=0.2, processing=(1.0, 30.0), seed=21)
    for fault, probability in [
        (Fault.rate_limit(retry_after=2), 0.1),
        (Fault.server_error(503), 0.05),
        (Fault.server_error(500, executed=True), 0.05),
        (Fault.drop(), 0.05),
        (Fault.drop(executed=True), 0.05),
        (Fault.malformed(), 0.05),
    ]:
        server.faults.random(fault, probability, on="create")
    server.faults.random(Fault.server_error(502), 0.2, on=("get", "list"))

    async with server.client(max_retries=3) as pp:

        async def create(n: int) -> str | None:
            try:
                created = await pp.generations.create(prompt=f"post {n}", post_types=["x-post"])
            except (APIConnectionError, InternalServerError, ResponseValidationError):
                return None
            return created.generation_id

        answered = await asyncio.gather(*(create(n) for n in range(60)))
        confirmed = {i for i in answered if i is not None}
        clock.advance(30)
        swept = {g.generation_id async for g in pp.generations.iterate(page_size=9)}
        balance = (await pp.account.credits()).balance

    made = {g.generation_id for g in server.generations()}
    logged = {r.generation_id for r in server.requests if r.endpoint == "create" and r.executed}
    logged.discard(None)
    assert made == logged == swept
    assert confirmed <= made
    unconfirmed = made - confirmed
    assert unconfirmed  # the seed makes sure some executed creates were lost to faults
    for record in server.requests:
        if record.generation_id in unconfirmed:
            assert record.fault in {"server_error", "drop", "malformed"}
    completed = sum(1 for g in server.generations() if g.status is GenerationStatus.COMPLETED)
    assert balance == 1000 - 10 * completed


# -- request log ----------------------------------------------------------------------------


async def test_request_log_records_what_happened(raw: Raw) -> None:
    server = raw.server
    (generation_id,) = server.seed_generations(1)
    response = await raw("GET", f"{GENERATIONS}?limit=5&status=processing")
    await raw("GET", f"{GENERATIONS}/{generation_id}")
    await raw("GET", CREDITS, headers={"Authorization": f"Bearer {KEY}"})
    await raw("GET", CREDITS, headers={})

    listed, got, credits, unauthorized = server.requests
    assert listed.request_id == response.headers["X-Request-ID"]
    assert listed.method == "GET"
    assert listed.path == GENERATIONS
    assert listed.query == {"limit": "5", "status": "processing"}
    assert listed.endpoint == "list"
    assert listed.status == 200
    assert listed.workspace_id == WS
    assert listed.fault is None
    assert listed.executed
    assert got.generation_id == generation_id
    assert credits.workspace_id is None
    assert unauthorized.status == 401
    assert len({r.request_id for r in server.requests}) == 4


async def test_the_log_never_holds_the_api_key(raw: Raw) -> None:
    raw.server.faults.script(Fault.drop(executed=True), on="create")
    await raw("GET", CREDITS, headers={"Authorization": f"Bearer {KEY}"})
    await raw("GET", f"{GENERATIONS}?api_key={KEY[:3]}", headers={"x-api-key": KEY})
    with pytest.raises(APIConnectionError):
        await raw("POST", GENERATE, json=BODY)
    text = repr(list(raw.server.requests)) + repr(raw.server.requests) + repr(raw.server)
    assert KEY not in text


async def test_counters_and_reset(server: FakePowerPost, pp: PowerPost) -> None:
    (generation_id,) = server.seed_generations(1)
    await pp.generations.get(generation_id)
    await pp.generations.get(generation_id)
    with pytest.raises(NotFoundError):
        await pp.generations.get("missing")
    await pp.account.credits()
    server.faults.script(Fault.drop(), on="create")
    with pytest.raises(APIConnectionError):
        await pp.generations.create(prompt="x", post_types=["x-post"])

    assert server.requests.count(endpoint="get", status=200) == 2
    assert server.requests.count(endpoint="get") == 3
    assert server.requests.count(status=404) == 1
    assert server.requests.counts() == Counter(
        {("get", 200): 2, ("get", 404): 1, ("credits", 200): 1, ("create", None): 1}
    )
    assert len(server.requests) == 5
    assert server.requests[-1].fault == "drop"

    server.requests.clear()
    assert len(server.requests) == 0
    assert server.requests.counts() == Counter()
    assert len(server.generations()) == 1  # the state is untouched


# -- one core, two ways of serving ----------------------------------------------------------


async def test_in_memory_answers_exactly_what_the_socket_answers() -> None:
    script: list[tuple[str, str, dict[str, str], Any, Fault | None]] = [
        ("GET", CREDITS, HEADERS, None, None),
        ("POST", GENERATE, HEADERS, BODY, None),
        ("GET", f"{GENERATIONS}?limit=1", HEADERS, None, None),
        ("GET", f"{GENERATIONS}?limit=0", HEADERS, None, None),
        ("GET", CREDITS, {}, None, None),
        ("GET", GENERATIONS, {"x-api-key": KEY}, None, None),
        ("GET", f"{GENERATIONS}/nope", HEADERS, None, None),
        ("POST", GENERATE, HEADERS, {"post_types": []}, None),
        ("GET", CREDITS, HEADERS, None, Fault.rate_limit(retry_after=4)),
        ("GET", CREDITS, HEADERS, None, Fault.server_error(502)),
        ("GET", CREDITS, HEADERS, None, Fault.malformed()),
        ("GET", "/elsewhere", HEADERS, None, None),
    ]

    async def replay(raw: Raw) -> list[tuple[int, dict[str, str], bytes]]:
        answers = []
        for method, path, headers, body, fault in script:
            if fault is not None:
                raw.server.faults.script(fault)
            response = await raw(method, path, headers=headers, json=body)
            answers.append((response.status_code, dict(response.headers), response.content))
        return answers

    memory_server = FakePowerPost(clock=VirtualClock(), failure_rate=0.3)
    in_memory = await replay(Raw(memory_server, memory_server.transport(), "https://x.test"))
    async with FakePowerPost(clock=VirtualClock(), failure_rate=0.3) as socket_server:
        transport = AiohttpTransport()
        try:
            over_socket = await replay(Raw(socket_server, transport, socket_server.base_url))
        finally:
            await transport.aclose()
    assert in_memory == over_socket


async def test_socket_server_lifecycle() -> None:
    server = FakePowerPost(clock=VirtualClock())
    with pytest.raises(RuntimeError, match="not serving"):
        _ = server.base_url
    async with server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert int(server.base_url.rsplit(":", 1)[1]) > 0
        assert server.base_url in repr(server)
        with pytest.raises(RuntimeError, match="already serving"):
            await server.start()
        async with server.client(use_socket=True) as pp:
            assert (await pp.account.credits()).balance == 1000
            base_url = server.base_url
    with pytest.raises(RuntimeError, match="not serving"):
        _ = server.base_url
    await server.aclose()  # twice is fine

    async with PowerPost(KEY, WS, base_url=base_url, max_retries=0) as pp:
        with pytest.raises(APIConnectionError) as refused:
            await pp.account.credits()
    assert refused.value.request_sent is False

    async with server:  # it can serve again, and keeps its state
        assert len(server.requests) == 1


async def test_closing_the_server_under_an_open_client_is_clean() -> None:
    server = FakePowerPost(clock=VirtualClock())
    await server.start()
    pp = server.client(use_socket=True, max_retries=0)
    try:
        await pp.account.credits()  # leaves a keep-alive connection open
        await server.aclose()
        with pytest.raises(APIConnectionError):
            await pp.account.credits()
    finally:
        await pp.aclose()


async def test_client_helper_uses_the_servers_virtual_clock(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    server.faults.script(Fault.rate_limit(retry_after=20))
    async with server.client(max_retries=1) as pp:
        await pp.account.credits()
        assert pp.workspace_id == WS
    assert clock() >= 20
    assert 20 in clock.sleeps


async def test_a_closed_transport_refuses_to_send(server: FakePowerPost) -> None:
    transport = server.transport()
    await transport.aclose()
    assert transport.closed
    with pytest.raises(PowerPostError, match="closed"):
        await transport.send(Request("GET", "https://x.test" + CREDITS, HEADERS))
    assert len(server.requests) == 0


async def test_timeline_tells_what_really_happened() -> None:
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, pending=(1.0, 1.0), processing=(4.0, 4.0))
    async with server.client() as pp:
        await clock.sleep(10)
        created = await pp.generations.create(prompt="hello", post_types=["x-post"])
    timeline = server.timeline(created.generation_id)
    assert timeline.created == pytest.approx(10.0)
    assert timeline.started == pytest.approx(11.0)
    assert timeline.finished == pytest.approx(15.0)
    (held,) = server.seed_generations(1, status="pending")
    assert server.timeline(held).started is None
    assert server.timeline(held).finished is None
    with pytest.raises(KeyError):
        server.timeline("nope")


async def test_start_on_a_chosen_host_and_port() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = FakePowerPost()
    await server.start(host="127.0.0.1", port=port)
    try:
        assert server.base_url == f"http://127.0.0.1:{port}"
        async with server.client(use_socket=True) as pp:
            assert (await pp.account.credits()).balance > 0
    finally:
        await server.aclose()


async def test_complete_ends_only_the_generations_named() -> None:
    server = FakePowerPost(pending=0.0, processing=600.0)
    first, second = server.seed_generations(2)
    server.complete(first)
    assert server.generation(first).status is GenerationStatus.COMPLETED
    assert server.generation(second).status is GenerationStatus.PROCESSING
    server.complete(first)  # already finished: nothing changes
    assert server.generation(first).status is GenerationStatus.COMPLETED
    with pytest.raises(KeyError, match="no generation with id 'nope'"):
        server.complete(second, "nope")
    assert server.generation(second).status is GenerationStatus.PROCESSING  # none ended


# -- random faults drawn from several -------------------------------------------------------


async def test_a_random_rule_draws_one_of_several_faults_reproducibly() -> None:
    faults = [Fault.server_error(503), Fault.rate_limit(), Fault.drop()]

    async def pattern(seed: int) -> list[int | None]:
        server = FakePowerPost(clock=VirtualClock(), seed=seed)
        server.faults.random(faults, 0.6, on="credits")
        raw = Raw(server, server.transport(), "https://powerpost.test")
        for _ in range(90):
            with contextlib.suppress(APIConnectionError):  # the dropped ones
                await raw("GET", CREDITS)
        return [record.status for record in server.requests]

    first = await pattern(seed=5)
    assert first == await pattern(seed=5)
    assert first != await pattern(seed=6)
    counts = Counter(first)
    assert set(counts) == {200, 503, 429, None}
    for status in (503, 429, None):  # each about a third of 60% of 90: 18
        assert 5 < counts[status] < 35


async def test_a_random_rule_of_one_fault_draws_as_it_always_did() -> None:
    """A one-fault list is the fault alone: the same draws, so old seeds repeat."""

    async def pattern(fault: Fault | list[Fault]) -> list[int]:
        server = FakePowerPost(clock=VirtualClock(), seed=3)
        server.faults.random(fault, 0.5, on="credits")
        raw = Raw(server, server.transport(), "https://powerpost.test")
        return [(await raw("GET", CREDITS)).status_code for _ in range(30)]

    assert await pattern(Fault.server_error(503)) == await pattern([Fault.server_error(503)])


def test_a_random_rule_needs_faults(server: FakePowerPost) -> None:
    with pytest.raises(ValueError, match="at least one fault"):
        server.faults.random([], 0.5)
    with pytest.raises(TypeError, match="Fault instances"):
        server.faults.random([Fault.drop(), "drop"], 0.5)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="probability"):
        server.faults.random([Fault.drop()], -0.1)


# -- for integrators: live stats, a hook per request, peeks as the SDK reads them ------------


async def test_stats_count_requests_faults_generations_and_credits(raw: Raw, mode: str) -> None:
    server = raw.server
    server.seed_generations(2, status="completed")
    server.seed_generations(1, status="failed")
    created = (await raw("POST", GENERATE, json=BODY)).json()
    await raw("GET", f"{GENERATIONS}/{created['generation_id']}")
    await raw("GET", f"{GENERATIONS}/nope")
    await raw("GET", CREDITS, headers={})
    server.faults.script(Fault.server_error(503), on="list")
    await raw("GET", GENERATIONS)
    server.faults.script(Fault.drop(), on="create")  # a POST: aiohttp never sends it again
    with pytest.raises(APIConnectionError):
        await raw("POST", GENERATE, json=BODY)
    await raw("GET", "/elsewhere")

    stats = server.stats()
    assert stats["requests"] == {
        "total": 7,
        "by_endpoint": {
            "create": {"200": 1, "dropped": 1},
            "credits": {"401": 1},
            "get": {"200": 1, "404": 1},
            "list": {"503": 1},
            "other": {"404": 1},
        },
        "by_status": {"200": 2, "401": 1, "404": 2, "503": 1, "dropped": 1},
        "faults": {"drop": 1, "server_error": 1},
    }
    assert stats["generations"] == {
        "total": 4,
        "pending": 0,
        "processing": 1,  # the one created: 5 s of processing by default
        "completed": 2,
        "failed": 1,
    }
    assert stats["credits"] == {"used": 10, "balance": 990}
    assert stats["uptime_s"] >= 0

    # Over HTTP too: no key needed; never logged, faulted or rate-limited.
    server.faults.random(Fault.server_error(), 1.0)
    response = await raw("GET", "/_fake/stats", headers={})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    answered = response.json()
    assert answered["requests"] == stats["requests"]
    assert answered["generations"] == stats["generations"]
    assert len(server.requests) == 7
    refused = await raw("POST", "/_fake/stats", headers={})
    assert refused.status_code == 405
    assert error_of(refused)["code"] == "METHOD_NOT_ALLOWED"
    assert len(server.requests) == 7


async def test_stats_url_while_serving() -> None:
    server = FakePowerPost(clock=VirtualClock())
    with pytest.raises(RuntimeError, match="not serving"):
        _ = server.stats_url
    async with server:
        assert server.stats_url == server.base_url + "/_fake/stats"


async def test_on_request_hears_every_api_request_on_either_transport(connect: Connect) -> None:
    heard: list[powerpost_async.testing.RequestRecord] = []
    server = FakePowerPost(clock=VirtualClock(), on_request=heard.append)
    pp = await connect(server)
    created = await pp.generations.create(prompt="Hello", post_types=["x-post"])
    await pp.generations.get(created.generation_id)
    server.faults.script(Fault.server_error(503), on="credits")
    await pp.account.credits()  # retried once
    assert heard == list(server.requests)
    assert [r.endpoint for r in heard] == ["create", "get", "credits", "credits"]
    assert heard[2].fault == "server_error"
    transport = server.transport()
    await transport.send(Request("GET", "https://x.test/_fake/stats", {}))
    assert len(heard) == 4  # not the stats


async def test_peeks_are_what_the_sdk_reads_from_the_api(connect: Connect) -> None:
    # An epoch with microseconds: the wire (and so the peek) carries milliseconds.
    epoch = datetime(2026, 1, 10, 18, 30, 0, 123456, tzinfo=timezone.utc)
    server = FakePowerPost(clock=VirtualClock(), epoch=epoch, pending=(1.0, 9.0))
    youtube = ("youtube-video", "x-post", "linkedin-post")
    ids = [
        *server.seed_generations(1, status="completed", post_types=youtube, research_mode="deep"),
        *server.seed_generations(1, status="failed"),
        *server.seed_generations(1, status="processing", prompt="Still going"),
        *server.seed_generations(1, status="pending"),
    ]
    pp = await connect(server)
    created = await pp.generations.create(media_ids=["m1"], post_types=["tiktok-photos"])
    ids.append(created.generation_id)
    for generation_id in ids:
        assert server.generation(generation_id) == await pp.generations.get(generation_id)
    got = [await pp.generations.get(g.generation_id) for g in server.generations()]
    assert server.generations() == got
    assert server.generation(ids[0]).created_at.microsecond == 123000
