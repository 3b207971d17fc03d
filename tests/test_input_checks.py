"""Bad input is refused with a message naming the problem, before any request is sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from powerpost_async import PowerPost, PowerPostWarning, Request, Response

from .conftest import load_sample

ClientFactory = Callable[..., PowerPost]


def never(request: Request) -> Response:
    raise AssertionError(f"nothing should have been sent, but {request!r} was")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"limit": 0}, ValueError, "limit must be between 1 and 100, got 0"),
        ({"limit": 101}, ValueError, "limit must be between 1 and 100, got 101"),
        ({"limit": "10"}, TypeError, "limit must be an integer"),
        ({"limit": True}, TypeError, "limit must be an integer"),
        ({"status": "done"}, ValueError, "status must be one of completed, failed, pending"),
        ({"status": "COMPLETED"}, ValueError, "status must be one of"),
        ({"cursor": ""}, ValueError, "cursor must be a non-empty string"),
        ({"cursor": 5}, ValueError, "cursor must be a non-empty string"),
    ],
)
async def test_list_checks(
    make_client: ClientFactory, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with make_client(never) as pp:
        with pytest.raises(error, match=re.escape(message)):
            await pp.generations.list(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"page_size": 0}, ValueError, "page_size must be between 1 and 100"),
        ({"page_size": 500}, ValueError, "page_size must be between 1 and 100"),
        ({"status": "nope"}, ValueError, "status must be one of"),
    ],
)
async def test_iterate_checks_at_call_time(
    make_client: ClientFactory, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with make_client(never) as pp:
        with pytest.raises(error, match=re.escape(message)):
            pp.generations.iterate(**kwargs)


@pytest.mark.parametrize(
    ("generation_id", "error", "message"),
    [
        ("", ValueError, "generation_id must not be empty"),
        (None, TypeError, "generation_id must be a string"),
        (42, TypeError, "generation_id must be a string"),
        ("abc/def", ValueError, "is not a valid id"),
        ("../credits", ValueError, "is not a valid id"),
        ("..", ValueError, "is not a valid id"),
        ("abc?status=failed", ValueError, "is not a valid id"),
        ("abc#frag", ValueError, "is not a valid id"),
        ("abc def", ValueError, "is not a valid id"),
        ("abc\tdef", ValueError, "is not a valid id"),
        ("abc\r\nX-Evil: 1", ValueError, "is not a valid id"),
        ("%2e%2e", ValueError, "is not a valid id"),
        ("abc\\..\\x", ValueError, "is not a valid id"),
        ("abc\x00", ValueError, "control characters"),
    ],
)
async def test_get_refuses_ids_that_could_alter_the_url(
    make_client: ClientFactory, generation_id: Any, error: type[Exception], message: str
) -> None:
    async with make_client(never) as pp:
        with pytest.raises(error, match=re.escape(message)):
            await pp.generations.get(generation_id)


async def test_unusual_but_harmless_ids_are_percent_encoded(make_client: ClientFactory) -> None:
    answer = Response.from_json(200, load_sample("generation_processing"))
    async with make_client(lambda r: answer) as pp:
        await pp.generations.get("gen_ü:1@x;y=z")
        url = pp.transport.requests[0].url  # type: ignore[attr-defined]
    assert url.endswith("/api/v1/content/generations/gen_%C3%BC%3A1%40x%3By%3Dz")


GOOD = {"prompt": "We shipped dark mode", "post_types": ["x-post"]}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"post_types": []}, ValueError, "post_types must name at least one post type"),
        ({"post_types": "x-post"}, TypeError, "post_types must be a list of strings"),
        ({"post_types": [""]}, ValueError, "post_types must hold non-empty strings"),
        ({"post_types": [3]}, ValueError, "post_types must hold non-empty strings"),
        ({"research_mode": ""}, ValueError, "research_mode must be one of 'regular', 'deep'"),
        ({"research_mode": 3}, ValueError, "research_mode must be one of 'regular', 'deep'"),
        ({"prompt": None}, ValueError, "give a prompt, media_ids, or both"),
        ({"prompt": None, "media_ids": []}, ValueError, "give a prompt, media_ids, or both"),
        ({"prompt": "   "}, ValueError, "prompt must not be empty or blank"),
        ({"prompt": 5}, TypeError, "prompt must be a string"),
        ({"prompt": "x" * 2001}, ValueError, "prompt may be at most 2000 characters, got 2001"),
        ({"cta_text": "x" * 101}, ValueError, "cta_text may be at most 100 characters, got 101"),
        ({"cta_text": 3}, TypeError, "cta_text must be a string"),
        (
            {"source_urls": [f"https://e.com/{i}" for i in range(11)]},
            ValueError,
            "source_urls may hold at most 10 items, got 11",
        ),
        ({"source_urls": ["ftp://e.com"]}, ValueError, "source_urls must be http(s) URLs"),
        ({"source_urls": "https://e.com"}, TypeError, "source_urls must be a list of strings"),
        ({"media_ids": [f"m{i}" for i in range(11)]}, ValueError, "media_ids may hold at most 10"),
        ({"writing_style_id": ""}, ValueError, "writing_style_id must be a non-empty string"),
    ],
)
async def test_create_checks(
    make_client: ClientFactory, change: dict[str, Any], error: type[Exception], message: str
) -> None:
    async with make_client(never) as pp:
        with pytest.raises(error, match=re.escape(message)):
            await pp.generations.create(**{**GOOD, **change})


async def test_create_boundaries_are_accepted(make_client: ClientFactory) -> None:
    answer = Response.from_json(200, load_sample("create_generation"))
    async with make_client(lambda r: answer) as pp:
        await pp.generations.create(
            media_ids=["m1"],
            post_types=["instagram-feed"],
            cta_text="x" * 100,
            source_urls=[f"https://e.com/{i}" for i in range(10)],
        )
        await pp.generations.create(prompt="x" * 2000, post_types=["x-post"])
        assert len(pp.transport.requests) == 2  # type: ignore[attr-defined]


async def test_unknown_post_type_warns_but_is_sent(make_client: ClientFactory) -> None:
    answer = Response.from_json(200, load_sample("create_generation"))
    async with make_client(lambda r: answer) as pp:
        with pytest.warns(PowerPostWarning, match="unknown post type.*'threads-post'") as record:
            await pp.generations.create(prompt="hi there", post_types=["x-post", "threads-post"])
        assert record[0].filename == __file__  # the warning points at the caller's line
        assert b"threads-post" in pp.transport.requests[0].content  # type: ignore[attr-defined]


async def test_unknown_research_mode_warns_but_is_sent(make_client: ClientFactory) -> None:
    answer = Response.from_json(200, load_sample("create_generation"))
    async with make_client(lambda r: answer) as pp:
        with pytest.warns(PowerPostWarning, match="unknown research_mode 'fast'") as record:
            await pp.generations.create(
                prompt="hi there", post_types=["x-post"], research_mode="fast"
            )
        assert record[0].filename == __file__
        assert b'"research_mode":"fast"' in pp.transport.requests[0].content  # type: ignore[attr-defined]


def test_header_values_with_line_breaks_are_refused() -> None:
    from powerpost_async import MockTransport

    for bad in ("key\r\n", "key\nInjected: yes", "a\rb", "key\x00"):
        with pytest.raises(ValueError, match=r"must not contain CR, LF or NUL|surrounding"):
            PowerPost(bad, transport=MockTransport(never))
        with pytest.raises(ValueError, match=r"must not contain CR, LF or NUL|surrounding"):
            PowerPost("pp_live_sk_ok", workspace_id=bad, transport=MockTransport(never))
