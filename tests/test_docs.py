"""The documentation's code, run: every Python sample in docs/ is a snippet tested here.

Each ``docs/snippets/*.py`` is a real program (``async def main()``, configured from the
environment). Its ``main()`` runs against a FakePowerPost served on 127.0.0.1 whose
generations finish at once; the functions a snippet offers that take a client run again
in virtual time (in memory, on a VirtualClock) with realistic durations and faults.
``test_*.py`` snippets are pytest modules, run by pytest in a subprocess.

The pages themselves are checked too: no Python block in the Markdown that is not an
included snippet, every included path exists, every snippet is included somewhere, every
page is in the nav, and the API reference names every exported object.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

import powerpost_async
import powerpost_async.testing
import powerpost_async.webhooks
from powerpost_async import (
    APIConnectionError,
    InsufficientCreditsError,
    InternalServerError,
    MockTransport,
    PowerPost,
    Request,
    Response,
    Transport,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
WEBHOOK_TOKEN = "s3cret-token-of-the-docs"

F = TypeVar("F", bound=Callable[..., Any])
COVERED: set[str] = set()


def covers(*names: str) -> Callable[[F], F]:
    """Mark a test as the one that runs these snippets (see test_every_snippet_is_tested)."""
    COVERED.update(names)
    return lambda test: test


def load(name: str) -> ModuleType:
    """Import docs/snippets/<name>.py as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"docs_snippet_{name}", SNIPPETS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run_main(name: str) -> ModuleType:
    module = load(name)
    await module.main()
    return module


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePowerPost]:
    """A FakePowerPost on a socket, configured in the environment as a user would."""
    async with FakePowerPost(pending=0, processing=0) as server:
        monkeypatch.setenv("POWERPOST_API_KEY", server.api_key)
        monkeypatch.setenv("POWERPOST_WORKSPACE_ID", server.workspace_id)
        monkeypatch.setenv("POWERPOST_BASE_URL", server.base_url)
        monkeypatch.setenv("WEBHOOK_TOKEN", WEBHOOK_TOKEN)
        yield server


def virtual(**kwargs: Any) -> FakePowerPost:
    """An in-memory FakePowerPost on a fresh VirtualClock (use ``server.client()``)."""
    kwargs.setdefault("clock", VirtualClock())
    return FakePowerPost(**kwargs)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def shown_on(page: str, output: list[str]) -> bool:
    """Whether ``output`` appears on the page (in a text block, wrapped or not)."""
    text = " ".join((DOCS / page).read_text(encoding="utf-8").split())
    return " ".join(" ".join(output).split()) in text


# -- index and getting started -------------------------------------------------------------


@covers("quickstart")
async def test_quickstart(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("quickstart")
    out = lines(capsys)
    assert out[0] == "x: We just shipped dark mode #Just #Shipped #Dark"
    assert out[1].startswith("linkedin: We just shipped dark mode.")
    assert api.balance() == 990
    assert api.requests.counts() == {("create", 200): 1, ("get", 200): 1}


async def test_quickstart_runs_as_a_script(api: FakePowerPost) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SNIPPETS / "quickstart.py"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert out.decode().startswith("x: We just shipped dark mode")


@covers("configure")
async def test_configure(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("configure")
    assert lines(capsys) == ["workspace ws_test: 1000 credits", "timeout 10.0 s, 4 retries"]


@covers("first_generation")
async def test_first_generation(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("first_generation")
    out = capsys.readouterr().out
    (generation,) = api.generations()
    assert f"{generation.generation_id}: 10 credits used, 990 left" in out
    # Two Instagram post types, one Instagram caption; YouTube has title and description.
    assert out.count("instagram: ") == 1
    assert "youtube: Our spring collection drops on Friday | Our spring" in out
    assert "x: Our spring collection drops on Friday Shop the drop" in out


# -- lifecycle -------------------------------------------------------------------------------


@covers("lifecycle")
async def test_lifecycle(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("lifecycle")
    assert lines(capsys) == [
        "'We just shipped dark mode': completed",
        "'New feature: AI-powered search': completed",
        "'Join our live Q&A on Thursday': completed",
        "970 credits left",
    ]


async def test_lifecycle_service_refuses_use_before_start() -> None:
    service = load("lifecycle").CaptionService()
    with pytest.raises(RuntimeError, match="start"):
        service.pp  # noqa: B018
    await service.stop()  # stopping a service that never started is fine


@covers("other_loop")
async def test_other_loop(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("other_loop")
    out = lines(capsys)
    assert out[0] == "this loop: 1000 credits"
    assert out[1].startswith(
        "another loop: this PowerPost client was first used in another event loop"
    )
    assert out[2] == "another loop, own client: 1000 credits"
    assert shown_on("concepts/lifecycle.md", out)
    assert api.requests.count(endpoint="credits") == 2  # the refused call sent nothing


# -- transports ------------------------------------------------------------------------------


@covers("transport_aiohttp")
async def test_transport_aiohttp(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("transport_aiohttp")
    assert lines(capsys) == [
        "own pool of 20: 1000 credits",
        "borrowed pool: 1000 credits",
        "session still open: True",
    ]


@covers("transport_httpx")
async def test_transport_httpx(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("transport_httpx")
    assert lines(capsys) == [
        "over httpx: 1000 credits",
        "over a borrowed httpx client: 1000 credits",
    ]


@covers("transport_mock")
async def test_transport_mock(capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("transport_mock")  # no server, no environment: the mock answers
    assert lines(capsys) == [
        "balance: 47",
        "not found: NOT_FOUND, request id req_123",
        "sent GET https://powerpost.ai/api/v1/account/credits",
        "sent GET https://powerpost.ai/api/v1/content/generations/gen_missing",
    ]


@covers("transport_custom")
async def test_transport_custom(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("transport_custom")
    out = lines(capsys)
    assert len(out) == 2
    assert re.fullmatch(r"GET /api/v1/account/credits -> 200 in \d+\.\d ms", out[0])
    assert re.fullmatch(r"GET /api/v1/content/generations -> 200 in \d+\.\d ms", out[1])


async def test_custom_transport_keeps_the_contract() -> None:
    def refuse(request: Request) -> Response:
        raise APIConnectionError("connection refused", request_sent=False)

    timing = load("transport_custom").TimingTransport(MockTransport(refuse))
    as_object: object = timing
    assert isinstance(as_object, Transport)  # a Protocol: no base class needed
    assert timing.connection_limit == 100
    async with PowerPost("pp_live_sk_test", "ws_test", transport=timing, max_retries=0) as pp:
        with pytest.raises(APIConnectionError):
            await pp.account.credits()
    ((what, status, seconds),) = timing.timings
    assert (what, status) == ("GET /api/v1/account/credits", None)
    assert seconds >= 0


# -- pagination ------------------------------------------------------------------------------


@covers("pagination")
async def test_pagination(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    api.seed_generations(25, status="completed")
    api.seed_generations(5, status="processing")
    await run_main("pagination")
    newest = [g.generation_id for g in api.generations()[:3]]
    assert lines(capsys) == [
        "page 1: 10 generations, has_more=True",
        "page 2: 10 generations, has_more=True",
        "25 completed generations used 250 credits",
        f"newest 3: {', '.join(newest)}",
    ]


# -- responses, options, escape hatches -------------------------------------------------------


@covers("responses")
async def test_responses(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("responses")
    assert (
        lines(capsys)
        == [
            "200 10 credits",
            "request id: True",
            "requests left: 999999",  # the fake's default: 10**6 a minute
            "newest: completed",
            '{"generation_id":"' + api.generations()[0].generation_id[:12],
        ]
    )


@covers("observability")
async def test_observability(
    api: FakePowerPost, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("powerpost_async")
    level, root_handlers = logger.level, list(logging.getLogger().handlers)
    try:
        await run_main("observability")
        assert logger.level == logging.INFO
    finally:  # leave logging as the other tests expect it
        logger.setLevel(level)
        logging.getLogger().handlers[:] = root_handlers
    (line,) = lines(capsys)
    assert line.startswith("1000 credits (request req_")


# -- fleet mode ------------------------------------------------------------------------------


@covers("fleet")
async def test_fleet(
    api: FakePowerPost, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("redis")
    from powerpost_async.testing import RedisServer
    from powerpost_async.testing._redis import find_redis_server

    if find_redis_server() is None:  # pragma: no cover - CI has one
        pytest.skip("no redis-server")
    with RedisServer() as redis:
        monkeypatch.setenv("POWERPOST_REDIS_URL", redis.url)
        await run_main("fleet")
    assert lines(capsys) == ["completed; this process leads"]


# -- waiting -------------------------------------------------------------------------------


@covers("wait_one")
async def test_wait_one(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("wait_one")
    assert capsys.readouterr().out.startswith("Meet the team behind the mobile app.")


async def test_wait_one_when_the_generation_fails() -> None:
    server = virtual(processing=(20, 60), failure_rate=1.0)
    async with server.client() as pp:
        said = await load("wait_one").linkedin_caption(pp, "Dark mode")
    assert said == "failed (GENERATION_FAILED), 0 credits charged"
    assert server.balance() == 1000


async def test_wait_one_when_the_deadline_passes() -> None:
    server = virtual(processing=3600)
    async with server.client() as pp:
        said = await load("wait_one").linkedin_caption(pp, "Dark mode", timeout=120)
    (generation,) = server.generations()
    assert said == f"not ready after 120 s (last seen: processing): {generation.generation_id}"


@covers("wait_many")
async def test_wait_many(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("wait_many")
    out = lines(capsys)
    assert out[0] == "0/8 done: 0 completed, 0 failed, 8 to go"
    assert "8/8 done: 8 completed, 0 failed, 0 to go" in out
    assert out[-8] == "completed: We just shipped dark mode #Just #Shipped #Dark"
    assert all(line.startswith("completed: ") for line in out[-8:])


async def test_wait_many_sweeps_a_large_batch(capsys: pytest.CaptureFixture[str]) -> None:
    server = virtual(
        pending=(0.5, 2.0), processing=(2.0, 30.0), failure_rate=0.1, credits=10**6, seed=3
    )
    prompts = [f"Launch post {n}" for n in range(200)]
    async with server.client() as pp:
        generations = await load("wait_many").caption_batch(pp, prompts)
    assert [g.prompt for g in generations] == prompts  # in input order
    assert all(g.is_terminal for g in generations)
    waiting = server.requests.count(endpoint="list") + server.requests.count(endpoint="get")
    assert waiting / len(prompts) <= 1.2  # polling each id would cost several each
    out = lines(capsys)
    failed = sum(g.status == "failed" for g in generations)
    assert out[-1] == f"200/200 done: {200 - failed} completed, {failed} failed, 0 to go"


@covers("as_completed")
async def test_as_completed(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("as_completed")
    out = capsys.readouterr().out
    assert out.count("ready: ✨ ") == 3
    assert "ready: ✨ Join our live Q&A on Thursday" in out


async def test_as_completed_reports_failures_and_publishes_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = virtual(processing=(10, 300), failure_rate=0.4, seed=1)
    prompts = [f"Launch post {n}" for n in range(10)]  # enough to be swept
    async with server.client() as pp:
        await load("as_completed").publish_as_ready(pp, prompts)
    out = lines(capsys)
    failed = {g.generation_id for g in server.generations() if g.status == "failed"}
    assert 0 < len(failed) < 10  # this seed fails some
    assert sorted(line for line in out if line.startswith("failed: ")) == sorted(
        f"failed: {i}" for i in failed
    )
    ready = [line for line in out if line.startswith("ready: ")]
    assert len(ready) == 10 - len(failed)


@covers("sweep")
async def test_sweep(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("sweep")
    out = lines(capsys)
    assert out[0] == "2 completed"
    assert len(out) == 1 + 2 * 3  # two captions of three lines each


async def test_sweep_costs_a_few_list_pages(capsys: pytest.CaptureFixture[str]) -> None:
    server = virtual()
    ids = [
        *server.seed_generations(100, status="completed"),
        *server.seed_generations(50, status="processing"),
        *server.seed_generations(20, status="failed"),
    ]
    async with server.client() as pp:
        statuses = await pp.generations.sweep(ids)
        sweep_requests = len(server.requests)
        server.requests.clear()
        finished = await load("sweep").reconcile(pp, ids)
    assert len(statuses) == 170
    assert sweep_requests <= 5  # not 170 GETs
    assert lines(capsys) == ["100 completed, 20 failed, 50 processing"]
    assert len(finished) == 120
    assert server.requests.count(endpoint="get") == 120


# -- retries and errors ----------------------------------------------------------------------


@covers("retries")
async def test_retries(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("retries")
    assert lines(capsys) == ["completed"]


async def test_status_badge_says_why() -> None:
    badge = load("retries").status_badge
    clock = VirtualClock()
    server = virtual(processing=60, clock=clock)
    async with server.client() as pp:
        created = await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
        generation_id = created.generation_id
        assert await badge(pp, generation_id) == "processing"
        assert await badge(pp, "gen_missing") == "error 404 NOT_FOUND (request id req_000003)"
        server.faults.script(Fault.rate_limit(retry_after=5), on="get")
        assert await badge(pp, generation_id) == "busy: try again in 5 s"
        sent = len(server.requests)
        # The client is paused for 5 s: longer than the badge's 2 s, so it says so at once.
        assert await badge(pp, generation_id) == "busy: try again in 5 s"
        assert len(server.requests) == sent
        await clock.sleep(5)
        server.faults.script(Fault.drop(), on="get")
        assert (await badge(pp, generation_id)).startswith("PowerPost unreachable: ")
        # Nine more failures in a row (the drop was the first): the breaker opens.
        server.faults.script(*[Fault.server_error(503)] * 9, on="get")
        for _ in range(9):
            assert (await badge(pp, generation_id)).startswith("error 503 INTERNAL_ERROR")
        sent = len(server.requests)
        assert await badge(pp, generation_id) == "PowerPost is failing: next probe in 1 s"
        assert len(server.requests) == sent  # held back: nothing was sent


async def test_a_long_retry_hint_fails_at_once() -> None:
    server = virtual()
    server.faults.script(Fault.rate_limit(retry_after=120), on="credits")
    async with server.client(max_retry_after=30.0) as pp:
        with pytest.raises(powerpost_async.RateLimitError) as caught:
            await pp.account.credits()
    assert caught.value.retry_after == 120
    assert server.requests.count(endpoint="credits") == 1


@covers("create_once")
async def test_create_once(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("create_once")
    (generation,) = api.generations()
    assert lines(capsys) == [f"{generation.generation_id}: completed"]


@pytest.mark.parametrize(
    "fault", [Fault.server_error(500, executed=True), Fault.drop(executed=True)]
)
async def test_create_once_finds_a_generation_made_despite_the_error(fault: Fault) -> None:
    server = virtual(epoch=datetime.now(timezone.utc))
    server.faults.script(fault, on="create")
    async with server.client() as pp:
        generation_id = await load("create_once").create_once(pp, "Dark mode", ["x-post"])
    (made,) = server.generations()
    assert generation_id == made.generation_id
    assert server.requests.count(endpoint="create") == 1
    assert server.balance() == 990  # charged once


async def test_create_once_reraises_when_nothing_was_made() -> None:
    server = virtual(epoch=datetime.now(timezone.utc))
    server.faults.script(Fault.server_error(500), on="create")
    async with server.client() as pp:
        with pytest.raises(InternalServerError):
            await load("create_once").create_once(pp, "Dark mode", ["x-post"])
    assert server.generations() == []


async def test_create_once_does_not_look_when_the_request_never_left() -> None:
    def refuse(request: Request) -> Response:
        raise APIConnectionError("connection refused", request_sent=False)

    transport = MockTransport(refuse)
    async with PowerPost("pp_live_sk_test", "ws_test", transport=transport, max_retries=0) as pp:
        with pytest.raises(APIConnectionError):
            await load("create_once").create_once(pp, "Dark mode", ["x-post"])
    assert [r.method for r in transport.requests] == ["POST"]  # no list: nothing to find


@covers("errors")
async def test_errors(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("errors")
    out = lines(capsys)
    assert shown_on("concepts/errors.md", out)
    assert out == [
        "404 NOT_FOUND: Generation not found (request id req_000001)",
        "  -> no such generation in this workspace",
        "refused before sending: post_types must name at least one post type, "
        "e.g. 'instagram-feed'",
        "401 INVALID_API_KEY: Invalid or missing API key (request id req_000002)",
        "  -> the API key is wrong: fix the configuration",
    ]


async def test_errors_explain_more() -> None:
    explain = load("errors").explain
    server = virtual(credits=5)
    server.faults.script(Fault.rate_limit(retry_after=3), Fault.server_error(502), on="get")
    async with server.client(max_retries=0) as pp:
        with pytest.raises(InsufficientCreditsError) as no_credits:
            await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
        assert explain(no_credits.value) == "out of credits: top up, then try again"
        for expected in ("rate limited: wait 3.0 s", "API error 502 INTERNAL_ERROR: quote req_"):
            with pytest.raises(powerpost_async.APIError) as caught:
                await pp.generations.get("gen_1")
            assert explain(caught.value).startswith(expected)


# -- media ----------------------------------------------------------------------------------


@covers("upload")
async def test_upload(
    api: FakePowerPost,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    photo = tmp_path / "cat.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 600_000)  # a JPEG's first bytes
    monkeypatch.setenv("PHOTO", str(photo))
    await run_main("upload")
    out = lines(capsys)
    assert out[:4] == [
        "262144 of 600004 bytes sent",
        "524288 of 600004 bytes sent",
        "600004 of 600004 bytes sent",
        "cat.jpg: image/jpeg, 600004 bytes",
    ]
    assert out[4].startswith("generation ")
    assert api.requests.counts() == {("upload", 200): 1, ("create", 200): 1}


@covers("upload_stream")
async def test_upload_stream(
    api: FakePowerPost, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    video = b"\x00\x00\x00\x18ftypisom" + b"\x01" * 700_000
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(video)))
    await run_main("upload_stream")
    (line,) = lines(capsys)
    media_id, _, rest = line.partition(": ")
    assert rest == f"video, {len(video)} bytes"
    assert api.media(media_id)["file_name"] == "clip.mp4"


# -- webhooks -------------------------------------------------------------------------------


@covers("webhooks")
async def test_webhooks(api: FakePowerPost, capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("webhooks")
    assert lines(capsys) == ["with the token: 204", "without it: 401", "not an event: 400"]


async def test_a_webhook_ends_a_wait_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    clock = VirtualClock()
    server = virtual(clock=clock, processing=600)
    snippet = load("webhooks")
    async with server.client() as pp:
        created = await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
        waiting = asyncio.ensure_future(pp.generations.wait(created, timeout=None))
        await clock.sleep(30)  # polls at 0, ~2, ~5 ...: processing
        server.complete_all()  # PowerPost finishes, and posts its webhook
        body = (
            b'{"event": "generation.completed", "workspace_id": "ws_test", '
            b'"data": {"generation_id": "' + created.generation_id.encode() + b'"}}'
        )
        headers = {"X-Webhook-Token": WEBHOOK_TOKEN}
        assert await snippet.handle_webhook(pp, body, headers) == 204
        generation = await waiting
        assert clock() == 30  # not at the next poll: at once
    assert generation.status == "completed"
    assert generation.outputs  # read from the API, not from the event


# -- testing --------------------------------------------------------------------------------


@covers("testing_socket")
async def test_testing_socket(capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("testing_socket")
    out = lines(capsys)
    assert re.fullmatch(r"POWERPOST_BASE_URL=http://127\.0\.0\.1:\d+", out[0])
    assert out[1:3] == ["POWERPOST_API_KEY=pp_live_sk_test", "POWERPOST_WORKSPACE_ID=ws_test"]
    assert out[3] == "completed: Dark mode #Dark #Mode"
    assert out[4].startswith("requests: {('create', 200): 1, ('get', 200): ")


@covers("testing_virtual")
async def test_testing_virtual(capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("testing_virtual")
    out = lines(capsys)
    match = re.fullmatch(r"20 finished after (\d+) virtual seconds", out[0])
    assert match is not None
    assert int(match[1]) >= 31  # at least the shortest pending + processing
    real = re.fullmatch(r"that took (\d+\.\d\d) real seconds", out[1])
    assert real is not None
    assert float(real[1]) < int(match[1])
    assert out[2] == "outcomes: {'completed': 18, 'failed': 2}"
    assert out[3:] == ["faults injected: 2", "balance: 820 (failed ones are refunded)"]


@covers("test_captions")
def test_the_pytest_example_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(SNIPPETS / "test_captions.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


@covers("fastapi_test_client")
async def test_fastapi_test_client(capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("fastapi_test_client")
    out = lines(capsys)
    assert out[0] == "200: We just shipped dark mode #Just #Shipped #Dark"
    match = re.fullmatch(r"after (\d+) virtual seconds", out[1])
    assert match is not None
    assert 5 <= int(match[1]) <= 30  # within the app's 30 s wait


@covers("aiohttp_test_client")
async def test_aiohttp_test_client(capsys: pytest.CaptureFixture[str]) -> None:
    await run_main("aiohttp_test_client")
    out = lines(capsys)
    assert re.fullmatch(r"202 -> /captions/[0-9a-f-]{36}", out[0])
    assert out[1] == "200: processing"


# -- the pages -------------------------------------------------------------------------------

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n]*)$")
INCLUDE = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')
PYTHON_LANGUAGES = {"python", "py", "python3", "py3", "pycon", "ipython"}


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if SNIPPETS not in p.parents)


def fenced_blocks(text: str) -> list[tuple[str, list[str]]]:
    """(language, lines) of each fenced code block in a Markdown text."""
    blocks: list[tuple[str, list[str]]] = []
    opened: tuple[str, str, list[str]] | None = None
    for line in text.splitlines():
        match = FENCE.match(line)
        if opened is None:
            if match:
                info = match["info"].strip().lstrip("{").lstrip(".")
                language = re.split(r"[\s}]", info, maxsplit=1)[0].lower() if info else ""
                opened = (match["fence"], language, [])
        elif match and match["fence"].startswith(opened[0]) and not match["info"].strip():
            blocks.append((opened[1], opened[2]))
            opened = None
        else:
            opened[2].append(line)
    assert opened is None, "a fenced block is never closed"
    return blocks


def includes(text: str) -> list[str]:
    return [m["path"] for line in text.splitlines() if (m := INCLUDE.match(line))]


def test_no_python_in_the_pages_but_included_snippets() -> None:
    for page in pages():
        for language, body in fenced_blocks(page.read_text(encoding="utf-8")):
            if language not in PYTHON_LANGUAGES:
                continue
            code = [line for line in body if line.strip()]
            assert code, f"{page}: empty Python block"
            for line in code:
                match = INCLUDE.match(line)
                assert match, f"{page}: Python outside an included snippet: {line!r}"
                path = match["path"]
                assert path.startswith(("docs/snippets/", "examples/")), (page, path)


def test_every_include_exists() -> None:
    found = 0
    for page in pages():
        for path in includes(page.read_text(encoding="utf-8")):
            found += 1
            assert (ROOT / path.partition(":")[0]).is_file(), f"{page}: no {path}"
    assert found >= len(list(SNIPPETS.glob("*.py")))


def test_every_snippet_is_included_and_tested() -> None:
    snippets = {p.stem for p in SNIPPETS.glob("*.py")}
    included = {
        Path(path).stem
        for page in pages()
        for path in includes(page.read_text(encoding="utf-8"))
        if path.startswith("docs/snippets/")
    }
    assert snippets == included
    assert snippets == COVERED


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in SNIPPETS.glob("*.py") if not p.stem.startswith("test_"))
)
def test_every_snippet_is_a_program(name: str) -> None:
    source = (SNIPPETS / f"{name}.py").read_text(encoding="utf-8")
    assert source.endswith('if __name__ == "__main__":\n    asyncio.run(main())\n')
    assert inspect.iscoroutinefunction(load(name).main)


def test_the_nav_lists_every_page() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:") :]
    listed = set(re.findall(r"([\w/.-]+\.md)\s*$", nav, flags=re.MULTILINE))
    assert listed == {str(p.relative_to(DOCS)) for p in pages()}


def test_the_reference_names_every_export() -> None:
    reference = (DOCS / "reference.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: ([\w.]+)$", reference, flags=re.MULTILINE))
    modules = [powerpost_async, powerpost_async.testing, powerpost_async.webhooks]
    exported = {f"{m.__name__}.{name}" for m in modules for name in m.__all__}
    exported.discard("powerpost_async.__version__")
    exported.add("powerpost_async.HttpxTransport")  # lazily imported, outside __all__
    assert exported <= documented, sorted(exported - documented)


def test_the_cli_page_keeps_its_marker() -> None:
    assert "<!-- cli:commands -->" in (DOCS / "cli.md").read_text(encoding="utf-8")


def test_the_site_fetches_no_fonts_and_lets_wide_tables_scroll() -> None:
    # A static look at mkdocs.yml (the site is built by `nox -s docs`, not here): material
    # links Google Fonts unless `theme.font` is false, and the extra CSS that makes wide
    # tables (performance.md) scroll must be registered and present.
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    theme = re.search(r"^theme:\n((?:[ \t]+.*\n|\n)*)", config, flags=re.MULTILINE)
    assert theme is not None, "mkdocs.yml has no theme section"
    assert re.search(r"^  font: false\s*$", theme[1], flags=re.MULTILINE), "theme.font: false"
    extra = re.search(r"^extra_css:\n((?:[ \t]+- .*\n)+)", config, flags=re.MULTILINE)
    assert extra is not None, "mkdocs.yml registers no extra_css"
    sheets = re.findall(r"^[ \t]+- (\S+)\s*$", extra[1], flags=re.MULTILINE)
    assert sheets
    for sheet in sheets:
        assert (DOCS / sheet).is_file(), f"extra_css {sheet} is not in docs/"
    css = "\n".join((DOCS / sheet).read_text(encoding="utf-8") for sheet in sheets)
    scrollwrap = re.search(r"\.md-typeset__scrollwrap\s*\{([^}]*)\}", css)
    assert scrollwrap is not None
    assert re.search(r"overflow-x:\s*auto", scrollwrap[1])
    assert not re.search(r"@import|https?://", css), "the extra CSS fetches nothing"


# -- the whole pipeline ------------------------------------------------------------------------


@covers("pipeline")
async def test_pipeline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = virtual(processing=(5.0, 30.0), post_duration=3.0)
    photo = tmp_path / "team.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(4000))  # a JPEG, as far as sniffing goes
    module = load("pipeline")
    async with server.client() as pp:
        post, numbers = await module.publish_photo(pp, photo)
    assert post.status == "published"
    assert [item.post_type for item in post.posted_items] == module.POST_TYPES
    assert all(n.metrics is not None for n in numbers)
    (media_id,) = [m for m in post.items[0].media_ids if server.media(m)["type"] == "image"][:1]
    assert server.media(media_id)["file_name"] == "team.jpg"
    assert len(post.items[0].media_ids) == 2  # the photo and the generated image
    counts = server.requests.counts()
    for endpoint in ("upload", "create", "image_create", "post_create", "publish"):
        assert counts[(endpoint, 200)] == 1 or counts.get((endpoint, 201)) == 1, endpoint
    assert capsys.readouterr().err == ""
