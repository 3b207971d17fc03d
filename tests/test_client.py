"""The client: configuration, headers, lifecycle, and every endpoint's request shape."""

from __future__ import annotations

import contextlib
import json
import platform
import re
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest

from powerpost_async import (
    CreatedGeneration,
    Credits,
    GenerationStatus,
    MockTransport,
    Page,
    PowerPost,
    PowerPostError,
    Request,
    Response,
    __version__,
)

from .conftest import API_KEY, WORKSPACE, load_sample

ClientFactory = Callable[..., PowerPost]


def answer(name: str) -> Callable[[Request], Response]:
    return lambda request: Response.from_json(200, load_sample(name))


def test_no_key_anywhere_names_the_variable() -> None:
    with pytest.raises(PowerPostError, match="POWERPOST_API_KEY"):
        PowerPost(transport=MockTransport(answer("credits")))


async def test_key_workspace_and_base_url_from_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERPOST_API_KEY", "pp_live_sk_from_env")
    monkeypatch.setenv("POWERPOST_WORKSPACE_ID", "ws-from-env")
    monkeypatch.setenv("POWERPOST_BASE_URL", "https://api.example.test/")
    transport = MockTransport(answer("generation_processing"))
    async with PowerPost(transport=transport) as pp:
        assert pp.base_url == "https://api.example.test"
        assert pp.workspace_id == "ws-from-env"
        await pp.generations.get("abc")
    request = transport.requests[0]
    assert request.url == "https://api.example.test/api/v1/content/generations/abc"
    assert request.headers["x-api-key"] == "pp_live_sk_from_env"
    assert request.headers["X-Workspace-Id"] == "ws-from-env"


async def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERPOST_API_KEY", "pp_live_sk_from_env")
    monkeypatch.setenv("POWERPOST_WORKSPACE_ID", "ws-from-env")
    transport = MockTransport(answer("generation_processing"))
    async with PowerPost("pp_live_sk_arg", "ws-arg", transport=transport) as pp:
        await pp.generations.get("abc")
    assert transport.requests[0].headers["x-api-key"] == "pp_live_sk_arg"
    assert transport.requests[0].headers["X-Workspace-Id"] == "ws-arg"
    assert transport.requests[0].url.startswith("https://powerpost.ai/api/v1/")


async def test_every_request_carries_the_documented_headers(make_client: ClientFactory) -> None:
    def handler(request: Request) -> Response:
        if request.url.endswith("/account/credits"):
            return Response.from_json(200, load_sample("credits"))
        if request.method == "POST":
            return Response.from_json(200, load_sample("create_generation"))
        if request.url.split("?")[0].endswith("/generations"):
            return Response.from_json(200, load_sample("list_generations"))
        return Response.from_json(200, load_sample("generation_processing"))

    async with make_client(handler) as pp:
        await pp.generations.list()
        await pp.generations.get("abc")
        await pp.generations.create(prompt="hello there", post_types=["x-post"])
        await pp.account.credits()
        requests = pp.transport.requests  # type: ignore[attr-defined]
    agent = re.compile(
        rf"^powerpost-async/{re.escape(__version__)} "
        rf"{platform.python_implementation()}/{re.escape(platform.python_version())}$"
    )
    for request in requests:
        assert request.headers["x-api-key"] == API_KEY
        assert request.headers["Accept"] == "application/json"
        assert agent.match(request.headers["User-Agent"]), request.headers["User-Agent"]
    *content_requests, credits_request = requests
    for request in content_requests:
        assert request.headers["X-Workspace-Id"] == WORKSPACE
    assert "X-Workspace-Id" not in credits_request.headers
    assert requests[2].headers["Content-Type"] == "application/json"


async def test_credits_need_no_workspace_but_generations_do() -> None:
    transport = MockTransport(answer("credits"))
    async with PowerPost(API_KEY, transport=transport) as pp:
        assert await pp.account.credits() == Credits(balance=47)
        with pytest.raises(PowerPostError, match="POWERPOST_WORKSPACE_ID"):
            await pp.generations.get("abc")
    assert len(transport.requests) == 1


async def test_list_builds_the_query(make_client: ClientFactory) -> None:
    async with make_client(answer("list_generations")) as pp:
        page = await pp.generations.list(status="completed", limit=10, cursor="c/1 +x")
        await pp.generations.list()
        await pp.generations.list(status=GenerationStatus.PENDING)
        urls = [r.url for r in pp.transport.requests]  # type: ignore[attr-defined]
    assert isinstance(page, Page)
    assert urls == [
        "https://powerpost.ai/api/v1/content/generations?status=completed&limit=10&cursor=c%2F1+%2Bx",
        "https://powerpost.ai/api/v1/content/generations",
        "https://powerpost.ai/api/v1/content/generations?status=pending",
    ]


async def test_create_sends_only_given_fields(make_client: ClientFactory) -> None:
    async with make_client(answer("create_generation")) as pp:
        created = await pp.generations.create(
            prompt="We just shipped dark mode", post_types=["instagram-feed", "x-post"]
        )
        await pp.generations.create(
            "Launch day",
            post_types=["linkedin-post"],
            research_mode="deep",
            media_ids=["m1", "m2"],
            writing_style_id="style-1",
            cta_text="Try it now",
            source_urls=["https://example.com/post"],
        )
        bodies = [json.loads(r.content) for r in pp.transport.requests]  # type: ignore[attr-defined]
        urls = [r.url for r in pp.transport.requests]  # type: ignore[attr-defined]
    assert isinstance(created, CreatedGeneration)
    assert created.remaining_credits == 37
    assert urls == ["https://powerpost.ai/api/v1/content/generate"] * 2
    assert bodies == [
        {
            "prompt": "We just shipped dark mode",
            "post_types": ["instagram-feed", "x-post"],
            "research_mode": "regular",
        },
        {
            "prompt": "Launch day",
            "post_types": ["linkedin-post"],
            "research_mode": "deep",
            "media_ids": ["m1", "m2"],
            "writing_style_id": "style-1",
            "cta_text": "Try it now",
            "source_urls": ["https://example.com/post"],
        },
    ]


async def test_iterate_follows_next_cursor(make_client: ClientFactory) -> None:
    pages: dict[str | None, dict[str, Any]] = {}
    base = load_sample("generation_processing")
    for number in range(3):
        cursor = None if number == 0 else f"c{number}"
        pages[cursor] = {
            "data": [{**base, "generation_id": f"g{number}-{i}"} for i in range(2)],
            "next_cursor": f"c{number + 1}" if number < 2 else None,
            "has_more": number < 2,
        }

    def handler(request: Request) -> Response:
        match = re.search(r"cursor=([^&]+)", request.url)
        return Response.from_json(200, pages[match.group(1) if match else None])

    async with make_client(handler) as pp:
        ids = [s.generation_id async for s in pp.generations.iterate(status="processing")]
        urls = [r.url for r in pp.transport.requests]  # type: ignore[attr-defined]
    assert ids == ["g0-0", "g0-1", "g1-0", "g1-1", "g2-0", "g2-1"]
    assert urls[0].endswith("?status=processing&limit=100")
    assert urls[2].endswith("?status=processing&limit=100&cursor=c2")


async def test_iterate_refuses_a_cursor_loop(make_client: ClientFactory) -> None:
    loop_page = {**load_sample("list_generations"), "next_cursor": "same"}
    async with make_client(lambda r: Response.from_json(200, loop_page)) as pp:
        with pytest.raises(PowerPostError, match="cursor 'same' twice"):
            async for _ in pp.generations.iterate():
                pass
        assert len(pp.transport.requests) == 2  # type: ignore[attr-defined]


async def test_iterate_refuses_endless_empty_pages(make_client: ClientFactory) -> None:
    counter = iter(range(10**6))

    def handler(request: Request) -> Response:
        return Response.from_json(
            200, {"data": [], "next_cursor": f"c{next(counter)}", "has_more": True}
        )

    async with make_client(handler) as pp:
        with pytest.raises(PowerPostError, match="empty pages in a row"):
            async for _ in pp.generations.iterate():
                pass
        # ten empty pages, and the eleventh asked for ahead before the tenth was judged
        assert len(pp.transport.requests) <= 11  # type: ignore[attr-defined]


async def test_iterate_refuses_has_more_without_cursor(make_client: ClientFactory) -> None:
    page = {**load_sample("list_generations"), "next_cursor": None}
    async with make_client(lambda r: Response.from_json(200, page)) as pp:
        with pytest.raises(PowerPostError, match="next_cursor is null"):
            async for _ in pp.generations.iterate():
                pass


async def test_closed_client_refuses_requests(make_client: ClientFactory) -> None:
    pp = make_client(answer("credits"))
    async with pp:
        await pp.account.credits()
    assert pp.is_closed
    assert pp.transport.closed  # type: ignore[attr-defined]
    with pytest.raises(PowerPostError, match="closed"):
        await pp.account.credits()
    with pytest.raises(PowerPostError, match="closed"):
        async with pp:
            pass
    await pp.aclose()  # twice is fine


def test_repr_hides_the_key() -> None:
    pp = PowerPost(API_KEY, WORKSPACE, transport=MockTransport(answer("credits")))
    assert API_KEY not in repr(pp)
    assert WORKSPACE in repr(pp)
    request = Request("GET", "https://x", {"x-api-key": API_KEY, "Authorization": API_KEY})
    assert API_KEY not in repr(request)
    assert "<redacted>" in repr(request)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_key": "pp_live_sk_x\r\nX-Evil: 1"}, "api_key must not contain CR, LF"),
        ({"api_key": "pp_live_sk_x\n"}, "api_key"),
        ({"api_key": ""}, "POWERPOST_API_KEY"),
        ({"workspace_id": "ws\nX-Evil: 1"}, "workspace_id must not contain CR, LF"),
        ({"workspace_id": "wš"}, "workspace_id must contain only printable ASCII"),
        ({"base_url": "ftp://powerpost.ai"}, "base_url must be an http"),
        ({"base_url": "https://powerpost.ai/?x=1"}, "must not carry a query"),
        ({"base_url": "https://user:pw@powerpost.ai"}, "credentials"),
        ({"base_url": "http://powerpost.ai"}, "refusing to send the API key in clear text"),
        ({"base_url": "http://10.0.0.8:8080"}, "allow_insecure_http=True"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": -1.0}, "timeout"),
        ({"max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retry_after": -1}, "max_retry_after"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("api_key", API_KEY)
    with pytest.raises((ValueError, PowerPostError), match=re.escape(message)):
        PowerPost(transport=MockTransport(answer("credits")), **kwargs)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8080", "http://localhost:9000", "http://[::1]:8000", "http://127.5.5.5"],
)
def test_plain_http_allowed_to_loopback(base_url: str) -> None:
    pp = PowerPost(API_KEY, base_url=base_url, transport=MockTransport(answer("credits")))
    assert pp.base_url == base_url


def test_plain_http_elsewhere_needs_explicit_opt_in() -> None:
    pp = PowerPost(
        API_KEY,
        base_url="http://gateway.internal",
        allow_insecure_http=True,
        transport=MockTransport(answer("credits")),
    )
    assert pp.base_url == "http://gateway.internal"


async def test_per_call_timeout_override(make_client: ClientFactory) -> None:
    async with make_client(answer("generation_processing"), timeout=12.0) as pp:
        await pp.generations.get("a")
        await pp.generations.get("a", timeout=3)
        await pp.generations.get("a", timeout=None)
        with pytest.raises(ValueError, match="timeout"):
            await pp.generations.get("a", timeout=0)
        timeouts = [r.timeout for r in pp.transport.requests]  # type: ignore[attr-defined]
    assert timeouts == [12.0, 3.0, None]


async def test_mock_transport_accepts_async_handlers() -> None:
    async def handler(request: Request) -> Response:
        return Response.from_json(200, {"balance": 5})

    async with PowerPost(API_KEY, transport=MockTransport(handler)) as pp:
        assert (await pp.account.credits()).balance == 5


async def test_mock_transport_rejects_non_responses() -> None:
    transport = MockTransport(lambda r: {"balance": 5})  # type: ignore[arg-type,return-value]
    async with PowerPost(API_KEY, transport=transport) as pp:
        with pytest.raises(TypeError, match="returned dict, not Response"):
            await pp.account.credits()


def test_response_headers_are_case_insensitive() -> None:
    response = Response(200, {"X-Request-Id": "r1"}, b"{}")
    assert response.headers["x-request-id"] == "r1"
    assert response.json() == {}


async def test_iterate_prefetches_one_page_ahead_and_cleans_up_on_break() -> None:
    from powerpost_async.testing import FakePowerPost

    async def take(pages: AsyncGenerator[object, None], count: int) -> None:
        async with contextlib.aclosing(pages):  # stop early, releasing the prefetch now
            taken = 0
            async for _ in pages:
                taken += 1
                if taken == count:
                    return

    async with FakePowerPost() as server, server.client() as pp:
        server.seed_generations(250)
        server.requests.clear()
        everything = [s.generation_id async for s in pp.generations.iterate(page_size=100)]
        assert len(everything) == len(set(everything)) == 250
        assert server.requests.count(endpoint="list") == 3

        server.requests.clear()
        await take(pp.generations.iterate(page_size=100), 120)
        # page 2 was being read; page 3 had been requested ahead, then discarded
        assert server.requests.count(endpoint="list") <= 3

        server.requests.clear()
        await take(pp.generations.iterate(page_size=100, prefetch=False), 30)
        assert server.requests.count(endpoint="list") == 1


async def test_iterate_yields_every_item_before_a_pagination_error(
    make_client: ClientFactory,
) -> None:
    page = {**load_sample("list_generations"), "next_cursor": None}
    async with make_client(lambda r: Response.from_json(200, page)) as pp:
        received: list[str] = []

        async def consume() -> None:
            async for summary in pp.generations.iterate():
                received.append(summary.generation_id)

        with pytest.raises(PowerPostError, match="next_cursor is null"):
            await consume()
    assert len(received) == 2
