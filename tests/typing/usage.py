"""Users' code, type-checked (mypy --strict and pyright in `nox -s lint`), never run.

If a change to the SDK breaks how these lines type-check, users' code breaks the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from typing_extensions import assert_type

from powerpost_async import (
    APIResponse,
    APIStatusError,
    CreatedGeneration,
    Credits,
    Generation,
    GenerationFailedError,
    GenerationStatus,
    GenerationSummary,
    NotFoundError,
    Output,
    Page,
    PowerPost,
    RateLimit,
    RateLimitError,
    WaitProgress,
    WaitTimeoutError,
    YouTubeOutput,
    to_dict,
    to_json,
)
from powerpost_async.webhooks import GenerationCompletedEvent, WebhookEvent, parse_webhook


async def typical_service(pp: PowerPost) -> None:
    page = await pp.generations.list(status="completed", limit=10)
    assert_type(page, Page[GenerationSummary])
    for summary in page:
        assert_type(summary, GenerationSummary)
        assert_type(summary.status, GenerationStatus)
    assert_type(page.next_cursor, str | None)

    summaries = pp.generations.iterate(status=GenerationStatus.PROCESSING)
    assert_type(summaries, AsyncGenerator[GenerationSummary, None])
    async for summary in summaries:
        assert_type(summary.generation_id, str)

    created = await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
    assert_type(created, CreatedGeneration)
    try:
        generation = await pp.generations.wait(created, timeout=120)
    except GenerationFailedError as failed:
        assert_type(failed.generation, Generation)
        return
    except WaitTimeoutError as timed_out:
        assert_type(timed_out.generation, Generation | None)
        return
    assert_type(generation, Generation)
    if generation.outputs is not None:
        for platform, output in generation.outputs.items():
            assert_type(platform, str)
            assert_type(output, Output)
            if isinstance(output, YouTubeOutput):
                assert_type(output.title, str)

    def show(progress: WaitProgress) -> None:
        print(progress.done, progress.total)

    many = await pp.generations.wait_many([created.generation_id], on_progress=show)
    assert_type(many, list[Generation])
    mixed = await pp.generations.wait_many([created.generation_id], return_exceptions=True)
    assert_type(mixed, list[Generation | Exception])
    fetched = await pp.generations.get_many(["a", "b"], concurrency=10)
    assert_type(fetched, list[Generation])
    statuses = await pp.generations.sweep(["a", "b"])
    assert_type(statuses, dict[str, GenerationStatus])
    async for done in pp.generations.as_completed(["a", "b"]):
        assert_type(done, Generation)

    credits = await pp.account.credits()
    assert_type(credits, Credits)
    assert_type(credits.balance, int)


async def errors(pp: PowerPost) -> None:
    try:
        await pp.generations.get("gen_1")
    except NotFoundError as missing:
        assert_type(missing.status_code, int)
        assert_type(missing.request_id, str | None)
    except RateLimitError as limited:
        assert_type(limited.retry_after, float | None)
    except APIStatusError as error:
        assert_type(error.code, str | None)


async def webhooks(pp: PowerPost, body: bytes) -> None:
    event = parse_webhook(body, verify=None)
    assert_type(event, WebhookEvent)
    if isinstance(event, GenerationCompletedEvent):
        assert_type(event.generation_id, str)
    fed = await pp.generations.feed(event)
    assert_type(fed, bool)


async def lifecycle() -> None:
    async with PowerPost("pp_live_sk_x", "ws") as pp:
        assert_type(pp, PowerPost)


async def integrators(pp: PowerPost) -> None:
    answer = await pp.generations.with_response.get("gen_1", timeout=5)
    assert_type(answer, APIResponse[Generation])
    assert_type(answer.parsed, Generation)
    assert_type(answer.request_id, str | None)
    assert_type(answer.rate_limit, RateLimit | None)
    page = await pp.generations.with_response.list(limit=5, extra_query={"q": "x"})
    assert_type(page.parsed, Page[GenerationSummary])
    created = await pp.generations.with_response.create(
        prompt="hi", post_types=["x-post", "a-type-added-since"], extra_body={"tone": "fun"}
    )
    assert_type(created, APIResponse[CreatedGeneration])
    credits = await pp.account.with_response.credits()
    assert_type(credits.parsed.balance, int)
    tenant = pp.with_options(workspace_id="ws_2", timeout=10, default_headers={"X-T": "1"})
    assert_type(tenant, PowerPost)
    raw = await pp.request("GET", "/api/v1/content/generations", query={"limit": 1})
    assert_type(raw.status_code, int)
    assert_type(pp.rate_limit, RateLimit | None)
    assert_type(to_json(answer.parsed), str)
    to_dict(answer.parsed)
