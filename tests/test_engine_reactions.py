"""The waiting engine reacts: callers that join are heard at once, answers are filed as
they arrive, a failure ends only what it concerns, copies keep their own settings.

One test per defect of the issue "The waiting engine reacts", each through the public
API in virtual time (the in-memory FakePowerPost, or a MockTransport, on a VirtualClock).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import tracemalloc
from typing import Any

import pytest

from powerpost_async import (
    AuthenticationError,
    GenerationStatus,
    MockTransport,
    PowerPost,
    PowerPostError,
    Request,
    Response,
    WaitTimeoutError,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def fake(clock: VirtualClock, **kwargs: Any) -> FakePowerPost:
    kwargs.setdefault("pending", 0)
    kwargs.setdefault("processing", (20.0, 60.0))
    kwargs.setdefault("seed", 3)
    kwargs.setdefault("credits", 10**7)
    return FakePowerPost(clock=clock, **kwargs)


def generation(generation_id: str, status: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "generation_id": generation_id,
        "status": status,
        "created_at": "2026-01-10T10:00:00Z",
    }
    if status == "completed":
        body["completed_at"] = "2026-01-10T10:01:00Z"
        body["outputs"] = {"x": "hi"}
    return body


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"data": items, "pagination": {"has_more": False, "next_cursor": None}}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(status, {"content-type": "application/json"}, json.dumps(body).encode())


def mock_client(handler: Any, clock: VirtualClock, **kwargs: Any) -> PowerPost:
    return PowerPost(
        "pp_live_sk_x",
        "ws",
        transport=MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )


def gets(server: FakePowerPost) -> int:
    return server.requests.count(endpoint="get")


# -- callers that join are heard ---------------------------------------------------------


async def test_a_hurried_caller_beside_a_slow_poller_is_answered_at_once(
    clock: VirtualClock,
) -> None:
    """Catches: a caller joining an id polled slowly waited for the poller's current
    pause to end (WaitTimeoutError, 'last seen: processing', on a finished job)."""
    server = fake(clock)
    async with server.client() as pp:
        (g,) = server.seed_generations(1, status="processing")
        slow = asyncio.ensure_future(
            pp.generations.wait(g, timeout=None, interval=600, max_interval=3600)
        )
        await clock.sleep(100)  # the slow caller's poller looked at 0 and sleeps till 600
        server.complete(g)
        await clock.sleep(0.3)
        start = clock()
        done = await pp.generations.wait(g, timeout=5)
        assert done.status is GenerationStatus.COMPLETED
        assert clock() - start < 1.0  # alone it returns at once; beside the slow one too
        assert (await slow).status is GenerationStatus.COMPLETED


async def test_a_hurried_caller_joining_a_sleeping_sweeper_is_answered_in_time(
    clock: VirtualClock,
) -> None:
    """Catches: a caller joining while the sweeper slept (quiet ticks grown to
    max_interval) waited the whole pause, with no list request meanwhile."""
    server = fake(clock)
    async with server.client() as pp:
        first, *others = server.seed_generations(6, status="processing")
        slow = asyncio.ensure_future(
            pp.generations.wait_many(others, timeout=None, max_interval=3600)
        )
        await clock.sleep(3 * 3600)  # hours of quiet ticks: the sweeper sleeps long now
        server.complete(first)
        await clock.sleep(0.5)
        start = clock()
        done = await pp.generations.wait(first, timeout=5)
        assert done.status is GenerationStatus.COMPLETED
        assert clock() - start <= 2.5  # by the first look it would get alone (2 s)
        server.complete(*others)
        assert len(await slow) == 5


async def test_each_answer_of_a_tick_is_filed_as_it_arrives(clock: VirtualClock) -> None:
    """Catches: a tick filed its GET answers only after its slowest came back, so the
    first result of as_completed (and a short wait beside it) waited for the slowest."""
    slow_ids = {f"slow-{i}" for i in range(8)}  # fewer than the 16 GETs a tick runs

    async def handler(request: Request) -> Response:
        path = request.url.split("?")[0]
        if path.endswith("/generations"):
            return json_response(page([]))  # nothing in flight: every id is GET
        generation_id = path.rsplit("/", 1)[1]
        if generation_id in slow_ids:
            await clock.sleep(30)
        return json_response(generation(generation_id, "completed"))

    ids = [*sorted(slow_ids), *(f"fast-{i}" for i in range(20))]
    async with mock_client(handler, clock, timeout=120) as pp:
        start = clock()
        arrived: list[float] = []
        async with contextlib.aclosing(
            pp.generations.as_completed(ids, strategy="sweep", timeout=100)
        ) as results:
            async for _ in results:
                arrived.append(clock() - start)
    assert len(arrived) == len(ids)
    assert arrived[0] < 1.0  # not after the 30 s of the slow ones
    assert sum(t < 1.0 for t in arrived) == 20


async def test_a_caller_joining_as_another_times_out_gets_a_poller(clock: VirtualClock) -> None:
    """Catches: the poller that ended at a deadline stayed recorded for one loop pass,
    so a caller joining then got no poller and (timeout=None) waited forever."""
    server = fake(clock)
    async with server.client() as pp:
        (g,) = server.seed_generations(1, status="processing")
        for offset in (0.0, 1e-9):
            first = asyncio.ensure_future(pp.generations.wait(g, timeout=10))

            async def join_at_its_deadline(g: str = g, offset: float = offset) -> Any:
                await clock.sleep(10 + offset)
                return await pp.generations.wait(g, timeout=None)

            second = asyncio.ensure_future(join_at_its_deadline())
            with pytest.raises(WaitTimeoutError):
                await first
            await clock.sleep(30)
            assert not second.done()
            server.complete(g)
            done = await asyncio.wait_for(second, timeout=5)  # real seconds: never hangs
            assert done.status is GenerationStatus.COMPLETED
            (g,) = server.seed_generations(1, status="processing")


# -- one failure ends only what it concerns -----------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 422])
async def test_a_refused_list_page_ends_that_walk_not_the_waits(
    clock: VirtualClock, status: int
) -> None:
    """Catches: one 400/404/422 on a list page failed every swept wait in the process
    and stopped sweeping; the ids the walk did not reach are now checked by GET."""
    seen: list[str] = []

    def handler(request: Request) -> Response:
        path = request.url.split("?")[0]
        seen.append(path)
        if path.endswith("/generations"):
            return json_response({"error": {"code": "INVALID_CURSOR", "message": "no"}}, status)
        return json_response(generation(path.rsplit("/", 1)[1], "completed"))

    ids = [f"g-{i}" for i in range(6)]
    async with mock_client(handler, clock) as pp:
        results = await pp.generations.wait_many(ids, strategy="sweep", timeout=60)
    assert [r.generation_id for r in results] == ids
    assert all(r.status is GenerationStatus.COMPLETED for r in results)


async def test_an_error_about_the_client_on_the_list_ends_every_swept_wait(
    clock: VirtualClock,
) -> None:
    """The other side of the rule: a 401 on the list is about the client itself."""

    def handler(request: Request) -> Response:
        body = {"error": {"code": "INVALID_API_KEY", "message": "revoked"}}
        return json_response(body, 401)

    async with mock_client(handler, clock) as pp:
        with pytest.raises(AuthenticationError):
            await pp.generations.wait_many([f"g-{i}" for i in range(6)], strategy="sweep")


async def test_feed_is_bounded_by_its_timeout(clock: VirtualClock) -> None:
    """Catches: during an outage a webhook handler's feed() took minutes (the receiver
    must answer within 10 s): it now gives up on the GET after its timeout (5 s)."""
    server = fake(clock)
    async with server.client(timeout=600) as pp:
        (g,) = server.seed_generations(1, status="processing")
        waiting = asyncio.ensure_future(pp.generations.wait(g, timeout=None))
        await clock.sleep(1)
        server.faults.random(Fault.slow(3600), 1.0, on="get")  # an API that hangs
        start = clock()
        assert await pp.generations.feed(g) is True  # awaited: polling goes on
        assert clock() - start <= 5.0 + 1e-6
        start = clock()
        assert await pp.generations.feed(g, timeout=1) is True
        assert clock() - start <= 1.0 + 1e-6
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting


async def test_a_cancelled_aclose_still_completes(clock: VirtualClock) -> None:
    """Catches: a cancelled aclose() left the waits stuck forever, and a second
    aclose() returned at once without finishing the job."""
    server = fake(clock)
    pp = server.client()
    (g,) = server.seed_generations(1, status="processing")
    waiting = asyncio.ensure_future(pp.generations.wait(g, timeout=None))
    await clock.sleep(1)
    closing = asyncio.ensure_future(pp.aclose())
    await asyncio.sleep(0)
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing
    with pytest.raises(PowerPostError, match="closed"):
        await asyncio.wait_for(waiting, timeout=5)
    await pp.aclose()  # completes what was interrupted
    assert pp.is_closed


async def test_a_closed_copy_refuses_every_call_and_ends_its_waits(clock: VirtualClock) -> None:
    """Catches: a closed with_options copy still waited and sent requests."""
    server = fake(clock)
    async with server.client() as pp:
        (g,) = server.seed_generations(1, status="processing")
        copy = pp.with_options(timeout=30)
        waiting = asyncio.ensure_future(copy.generations.wait(g, timeout=None))
        await clock.sleep(5)
        await copy.aclose()
        with pytest.raises(PowerPostError, match="closed"):
            await waiting
        before = len(server.requests)
        for call in (
            lambda: copy.generations.wait(g),
            lambda: copy.generations.wait_many([g]),
            lambda: copy.images.wait("img"),
            lambda: copy.generations.get(g),
        ):
            with pytest.raises(PowerPostError, match="closed"):
                await call()
        assert len(server.requests) == before
        # The original and its other copies are untouched.
        server.complete(g)
        assert (await pp.generations.wait(g)).status is GenerationStatus.COMPLETED


@pytest.mark.parametrize("where", ["client", "call"])
async def test_an_infinite_timeout_means_no_deadline(clock: VirtualClock, where: str) -> None:
    """Catches: timeout=inf raised a bare OverflowError from get, credits and wait."""
    server = fake(clock)
    kwargs = {"timeout": math.inf} if where == "client" else {}
    per_call = {"timeout": math.inf} if where == "call" else {}
    async with server.client(**kwargs) as pp:
        (g,) = server.seed_generations(1)
        assert (await pp.generations.get(g, **per_call)).generation_id == g
        assert (await pp.account.credits(**per_call)).balance > 0
        done = await pp.generations.wait(g, timeout=math.inf)
        assert done.status is GenerationStatus.COMPLETED
        assert pp.with_options(timeout=math.inf).timeout is None
    with pytest.raises(ValueError, match="timeout"):
        PowerPost("pp_live_sk_x", timeout=math.nan)


async def test_an_id_the_lists_show_in_flight_forever_is_checked_directly(
    clock: VirtualClock,
) -> None:
    """Catches: an id a stale list index kept showing in flight, while GET said it had
    finished, was never checked directly: the wait never ended."""

    def handler(request: Request) -> Response:
        path, _, query = request.url.partition("?")
        if path.endswith("/generations"):
            stuck = [generation(f"g-{i}", "processing") for i in range(6)]
            return json_response(page(stuck if "processing" in query else []))
        return json_response(generation(path.rsplit("/", 1)[1], "completed"))

    ids = [f"g-{i}" for i in range(6)]
    async with mock_client(handler, clock) as pp:
        start = clock()
        results = await pp.generations.wait_many(ids, strategy="sweep", timeout=None)
        elapsed = clock() - start
    assert all(r.status is GenerationStatus.COMPLETED for r in results)
    assert elapsed <= 900 + 120  # STALE_AFTER, then the next tick


# -- copies and workspaces ----------------------------------------------------------------


async def test_a_wait_uses_the_settings_of_the_client_it_was_called_on(
    clock: VirtualClock,
) -> None:
    """Catches: the engine of a (kind, workspace) stayed bound to the first copy that
    made it: a later plain copy's waits sent that copy's X-Trace header and timeout."""
    seen: list[Request] = []
    finished = asyncio.Event()

    def handler(request: Request) -> Response:
        seen.append(request)
        status = "completed" if finished.is_set() else "processing"
        return json_response(generation("g", status))

    async with mock_client(handler, clock) as pp:
        traced = pp.with_options(timeout=1, default_headers={"X-Trace": "first"})
        with pytest.raises(WaitTimeoutError):
            await traced.generations.wait("g", timeout=3)
        seen.clear()
        plain = pp.with_options()
        waiting = asyncio.ensure_future(plain.generations.wait("g", timeout=None))
        await clock.sleep(10)
        finished.set()
        await waiting
    assert seen
    assert all("X-Trace" not in r.headers for r in seen)
    assert all(r.timeout == 60.0 for r in seen)


async def test_one_off_copies_for_many_workspaces_leave_no_engines(clock: VirtualClock) -> None:
    """Catches: every copy made an engine per kind at once, never freed: 2,000 one-off
    copies for 2,000 workspaces kept 8,000 engines (+22 MB)."""

    def handler(request: Request) -> Response:
        return json_response(generation(request.url.rsplit("/", 1)[1], "completed"))

    async with mock_client(handler, clock) as pp:

        async def one_off(n: int) -> None:
            for i in range(n):
                tenant = pp.with_options(workspace_id=f"ws-{i}")
                await tenant.generations.wait(f"g-{i}", timeout=10)
                await tenant.aclose()

        await one_off(50)  # warm up
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await one_off(500)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    # Before: ~11 kB per copy (four engines with their registries and sweepers).
    assert grown < 500 * 1_000, grown
