"""Awaiting generations: wait, as_completed, wait_many, get_many, sweep — in virtual time."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator

import pytest

from powerpost_async import (
    Generation,
    GenerationFailedError,
    GenerationStatus,
    MockTransport,
    NotFoundError,
    PowerPost,
    PowerPostError,
    Request,
    Response,
    Transport,
    WaitProgress,
    WaitTimeoutError,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def make_server(clock: VirtualClock, **kwargs: object) -> FakePowerPost:
    kwargs.setdefault("pending", (0.5, 2.0))
    kwargs.setdefault("processing", (2.0, 30.0))
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("credits", 10**6)
    return FakePowerPost(clock=clock, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakePowerPost]:
    async with make_server(clock) as fake:
        yield fake


async def create_many(pp: PowerPost, count: int) -> list[str]:
    created = await asyncio.gather(
        *(
            pp.generations.create(prompt=f"launch {i}", post_types=["x-post", "youtube-video"])
            for i in range(count)
        )
    )
    return [c.generation_id for c in created]


async def drain(generations: AsyncIterator[Generation], into: list[str]) -> None:
    """Collect the ids an async iterator yields until it ends (or raises)."""
    async for generation in generations:
        into.append(generation.generation_id)


# -- wait ----------------------------------------------------------------------------------


async def test_wait_returns_the_completed_generation(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    async with server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["youtube-video"])
        generation = await pp.generations.wait(created)  # a CreatedGeneration works too
    assert generation.status is GenerationStatus.COMPLETED
    assert generation.outputs is not None
    assert set(generation.outputs) == {"youtube"}
    assert clock() < 60


async def test_wait_polls_at_once_then_backs_off_to_max_interval(clock: VirtualClock) -> None:
    async with make_server(clock, pending=0, processing=100.0) as server, server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        server.requests.clear()
        start = clock()
        await pp.generations.wait(created.generation_id, interval=2.0, max_interval=10.0)
        gets = [r.time - start for r in server.requests if r.endpoint == "get"]
    assert gets[0] == 0  # the first poll is immediate
    gaps = [b - a for a, b in itertools.pairwise(gets)]
    assert 2.0 <= gaps[0] <= 3.0
    assert all(g <= 10.0 + 1e-9 for g in gaps)
    assert max(gaps) == pytest.approx(10.0)
    assert gaps[:4] == sorted(gaps[:4])  # growing
    assert len(gets) < 100 / 2  # far fewer than fixed 2 s polling


async def test_wait_raises_generation_failed(clock: VirtualClock) -> None:
    async with make_server(clock, failure_rate=1.0) as server, server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        with pytest.raises(GenerationFailedError) as info:
            await pp.generations.wait(created.generation_id)
    generation = info.value.generation
    assert generation.status is GenerationStatus.FAILED
    assert generation.error is not None
    assert generation.error.code == "GENERATION_FAILED"
    assert generation.credits_used == 0
    assert created.generation_id in str(info.value)


async def test_wait_deadline_on_the_monotonic_clock(clock: VirtualClock) -> None:
    async with make_server(clock, pending=0, processing=1000.0) as server, server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        start = clock()
        with pytest.raises(WaitTimeoutError) as info:
            await pp.generations.wait(created.generation_id, timeout=45.0)
        elapsed = clock() - start
    error = info.value
    assert isinstance(error, TimeoutError)
    assert isinstance(error, PowerPostError)
    assert elapsed == pytest.approx(45.0)
    assert error.timeout == 45.0
    assert error.pending_ids == (created.generation_id,)
    assert error.generation is not None
    assert error.generation.status is GenerationStatus.PROCESSING


async def test_wait_deadline_counts_time_spent_in_requests(clock: VirtualClock) -> None:
    # Each answer takes 8 s: adding up sleeps alone would overshoot the deadline badly.
    async with make_server(clock, pending=0, processing=1000.0) as server, server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        server.faults.random(Fault.slow(8.0), 1.0, on="get")
        start = clock()
        with pytest.raises(WaitTimeoutError):
            await pp.generations.wait(created.generation_id, timeout=30.0, max_interval=2.0)
        assert clock() - start < 30.0 + 8.0 + 1e-6


async def test_wait_unknown_id_is_not_found(server: FakePowerPost) -> None:
    async with server.client() as pp:
        with pytest.raises(NotFoundError):
            await pp.generations.wait(MISSING)


async def test_wait_rides_out_transient_failures(server: FakePowerPost) -> None:
    async with server.client(max_retries=0) as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        server.faults.script(
            Fault.server_error(503), Fault.drop(), Fault.rate_limit(3), Fault.malformed(), on="get"
        )
        generation = await pp.generations.wait(created.generation_id)
    assert generation.status is GenerationStatus.COMPLETED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"interval": 0}, "interval must be a positive number"),
        ({"interval": 5, "max_interval": 1}, "max_interval must be a finite number >= interval"),
        ({"strategy": "fast"}, "strategy must be 'auto', 'poll' or 'sweep'"),
    ],
)
async def test_wait_checks_its_arguments(
    server: FakePowerPost, kwargs: dict[str, object], message: str
) -> None:
    async with server.client() as pp:
        with pytest.raises(ValueError, match=message):
            await pp.generations.wait(MISSING, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="is not a valid id"):
            await pp.generations.wait("../x")
    assert len(server.requests) == 0


# -- as_completed / wait_many ------------------------------------------------------------------


async def test_as_completed_yields_each_id_once_as_it_finishes(clock: VirtualClock) -> None:
    async with make_server(clock, failure_rate=0.3) as server, server.client() as pp:
        ids = await create_many(pp, 30)
        seen: list[Generation] = []
        finished_at: list[float] = []
        async for generation in pp.generations.as_completed(ids + ids[:5]):
            seen.append(generation)
            finished_at.append(clock())
    assert sorted(g.generation_id for g in seen) == sorted(ids)
    assert all(g.is_terminal for g in seen)
    failed = [g for g in seen if g.status is GenerationStatus.FAILED]
    assert failed  # failed ones are yielded, not raised
    assert all(g.error is not None for g in failed)
    assert finished_at == sorted(finished_at)
    truth = {g.generation_id: server.generation(g.generation_id).status for g in seen}
    assert all(truth[g.generation_id] == g.status for g in seen)


async def test_as_completed_deadline_names_the_pending_ids(clock: VirtualClock) -> None:
    server = make_server(clock, pending=0, processing=(1.0, 1.0))
    async with server, server.client() as pp:
        quick = await create_many(pp, 3)
        slow_ids = server.seed_generations(2, status="processing")
        yielded: list[str] = []
        with pytest.raises(WaitTimeoutError) as info:
            await drain(pp.generations.as_completed(quick + slow_ids, timeout=60), yielded)
    assert sorted(yielded) == sorted(quick)
    assert sorted(info.value.pending_ids) == sorted(slow_ids)
    assert all(i in str(info.value) for i in slow_ids)


async def test_wait_many_keeps_input_order_and_duplicates(clock: VirtualClock) -> None:
    async with make_server(clock, failure_rate=0.2) as server, server.client() as pp:
        ids = await create_many(pp, 12)
        wanted = [ids[3], ids[0], ids[3], *ids]
        generations = await pp.generations.wait_many(wanted)
    assert [g.generation_id for g in generations] == wanted
    assert generations[0] is generations[2]
    assert {g.status for g in generations} <= {GenerationStatus.COMPLETED, GenerationStatus.FAILED}


async def test_unknown_id_does_not_stall_the_others(clock: VirtualClock) -> None:
    async with make_server(clock) as server, server.client() as pp:
        ids = await create_many(pp, 10)
        results = await pp.generations.wait_many([*ids, MISSING], return_exceptions=True)
        assert all(isinstance(r, Generation) for r in results[:-1])
        assert isinstance(results[-1], NotFoundError)

        yielded: list[str] = []
        with pytest.raises(NotFoundError):
            await drain(pp.generations.as_completed([MISSING, *ids]), yielded)
        assert sorted(yielded) == sorted(ids)  # every other id came through first

        with pytest.raises(NotFoundError):
            await pp.generations.wait_many([MISSING, *ids])


async def test_progress_reports_counts_until_done(clock: VirtualClock) -> None:
    updates: list[WaitProgress] = []
    async with make_server(clock, failure_rate=0.25) as server, server.client() as pp:
        ids = await create_many(pp, 40)
        generations = await pp.generations.wait_many(ids, on_progress=updates.append)
    assert updates[0].total == 40
    assert updates[0].done == 0
    done = [u.done for u in updates]
    assert done == sorted(done)
    final = updates[-1]
    assert final.done == 40
    assert final.completed == sum(g.status is GenerationStatus.COMPLETED for g in generations)
    assert final.failed == sum(g.status is GenerationStatus.FAILED for g in generations)
    assert any(u.processing for u in updates)
    assert all(
        u.pending + u.processing + u.completed + u.failed + u.unknown == u.total for u in updates
    )


# -- request economy -------------------------------------------------------------------------


async def test_wait_many_sweeps_instead_of_polling_each_id(clock: VirtualClock) -> None:
    async with make_server(clock, seed=11) as server, server.client() as pp:
        ids = await create_many(pp, 300)
        server.requests.clear()
        generations = await pp.generations.wait_many(ids)
        gets = server.requests.count(endpoint="get")
        lists = server.requests.count(endpoint="list")
    assert len(generations) == 300
    assert gets <= 300 + 10  # one GET per id for its outputs (+ a few that moved lists)
    assert (gets + lists) / 300 <= 1.2
    assert all(g.is_terminal for g in generations)


async def test_ten_callers_share_one_sweeper(clock: VirtualClock) -> None:
    async def run(groups: int) -> int:
        async with make_server(clock, seed=5) as server, server.client() as pp:
            ids = await create_many(pp, 200)
            server.requests.clear()
            size = len(ids) // groups
            await asyncio.gather(
                *(pp.generations.wait_many(ids[i * size : (i + 1) * size]) for i in range(groups))
            )
            return len(server.requests)

    one_caller = await run(1)
    ten_callers = await run(10)
    assert ten_callers <= one_caller * 1.15 + 5


async def test_forced_strategies(clock: VirtualClock) -> None:
    async with make_server(clock) as server, server.client() as pp:
        ids = await create_many(pp, 8)
        server.requests.clear()
        await pp.generations.wait_many(ids, strategy="poll")
        assert server.requests.count(endpoint="list") == 0
        one = await create_many(pp, 1)
        server.requests.clear()
        await pp.generations.wait(one[0], strategy="sweep")
        assert server.requests.count(endpoint="list") >= 1
        assert server.requests.count(endpoint="get") == 1


async def test_a_single_auto_wait_only_polls(server: FakePowerPost) -> None:
    async with server.client() as pp:
        ids = await create_many(pp, 1)
        await pp.generations.wait(ids[0])
    assert server.requests.count(endpoint="list") == 0


class DropFromFirstLists:
    """A transport that hides one id from the first in-flight list pages it relays."""

    def __init__(self, inner: Transport, hidden: str, times: int) -> None:
        self.inner = inner
        self.hidden = hidden
        self.times = times

    async def send(self, request: Request) -> Response:
        response = await self.inner.send(request)
        if self.times and "/generations?" in request.url and "status=" in request.url:
            self.times -= 1
            data = response.json()
            data["data"] = [d for d in data["data"] if d["generation_id"] != self.hidden]
            return Response.from_json(response.status_code, data, headers=response.headers)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_get_that_finds_it_still_in_flight_puts_it_back(clock: VirtualClock) -> None:
    async with make_server(clock, pending=0, processing=(20.0, 20.0)) as server:
        async with server.client() as setup:
            ids = await create_many(setup, 6)
        transport = DropFromFirstLists(server.transport(), ids[0], times=2)
        async with server.client(transport=transport) as pp:
            generations = await pp.generations.wait_many(ids)
    assert [g.generation_id for g in generations] == ids
    assert all(g.status.is_terminal for g in generations)
    # ids[0] was fetched while still processing, kept, then fetched again once done
    gets_of_hidden = [r for r in server.requests if r.endpoint == "get" and ids[0] in r.path]
    assert len(gets_of_hidden) == 2


async def test_429_slows_every_waiter(clock: VirtualClock) -> None:
    async with make_server(clock, rate_limit=(5, 10.0)) as server, server.client() as pp:
        ids = await create_many(pp, 5)  # uses the window up
        server.requests.clear()
        generations = await pp.generations.wait_many(ids, strategy="poll", timeout=None)
        statuses = [(r.time, r.status) for r in server.requests]
    assert len(generations) == 5
    limited = [t for t, s in statuses if s == 429]
    assert limited, "the test should have hit the rate limit"
    # After each 429, the whole client waits: at most one more 429 per window.
    assert len(limited) <= math.ceil((statuses[-1][0] - statuses[0][0]) / 10.0) * 2 + 2


# -- get_many / sweep -------------------------------------------------------------------------


async def test_get_many_in_order_duplicates_once_and_bounded() -> None:
    in_flight = 0
    most = 0

    async def handler(request: Request) -> Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        generation_id = request.url.rsplit("/", 1)[1]
        if generation_id == "missing":
            return Response.from_json(404, {"error": {"code": "NOT_FOUND", "message": "no"}})
        return Response.from_json(
            200,
            {"generation_id": generation_id, "status": "processing", "created_at": "2026-01-01"},
        )

    transport = MockTransport(handler)
    async with PowerPost("pp_live_sk_x", "ws", transport=transport) as pp:
        ids = [f"g{i}" for i in range(50)]
        generations = await pp.generations.get_many([*ids, "g3"], concurrency=7)
        assert [g.generation_id for g in generations] == [*ids, "g3"]
        assert len(transport.requests) == 50
        assert most == 7
        mixed = await pp.generations.get_many(["g1", "missing", "g2"], return_exceptions=True)
        assert isinstance(mixed[1], NotFoundError)
        assert isinstance(mixed[0], Generation)
        with pytest.raises(NotFoundError):
            await pp.generations.get_many(["g1", "missing", "g2"])
        with pytest.raises(ValueError, match="concurrency"):
            await pp.generations.get_many(["g1"], concurrency=0)
        with pytest.raises(TypeError, match="not a single string"):
            await pp.generations.get_many("g1")
        sent = len(transport.requests)
        with pytest.raises(ValueError, match="is not a valid id"):
            await pp.generations.get_many(["g1", "a/b"])
        assert len(transport.requests) == sent  # checked before anything was sent


async def test_get_many_defaults_to_the_transport_connection_limit(server: FakePowerPost) -> None:
    async with server.client() as pp:
        ids = await create_many(pp, 3)
        assert len(await pp.generations.get_many(ids)) == 3


async def test_sweep_answers_from_the_lists(clock: VirtualClock) -> None:
    async with make_server(clock, failure_rate=0.3) as server, server.client() as pp:
        ids = await create_many(pp, 60)
        await clock.sleep(12)
        server.requests.clear()
        statuses = await pp.generations.sweep(ids)
        truth = {i: server.generation(i).status for i in ids}
        assert statuses == truth
        assert list(statuses) == ids
        assert len(set(truth.values())) >= 3  # a real mix: pending/processing/done
        assert server.requests.count(endpoint="get") == 0
        assert server.requests.count(endpoint="list") <= 6


async def test_sweep_unknown_ids(server: FakePowerPost) -> None:
    async with server.client() as pp:
        ids = await create_many(pp, 3)
        mixed = await pp.generations.sweep([*ids, MISSING], return_exceptions=True)
        assert isinstance(mixed[MISSING], NotFoundError)
        assert all(isinstance(mixed[i], GenerationStatus) for i in ids)
        with pytest.raises(NotFoundError):
            await pp.generations.sweep([MISSING, *ids])


# -- cancellation and shutdown --------------------------------------------------------------


async def test_cancelling_a_wait_leaves_nothing_behind(clock: VirtualClock) -> None:
    async with make_server(clock, pending=0, processing=500.0) as server, server.client() as pp:
        ids = await create_many(pp, 20)
        task = asyncio.ensure_future(pp.generations.wait_many(ids))
        await clock.sleep(9)  # the sweeper is running now
        assert server.requests.count(endpoint="list") > 0
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        before = len(server.requests)
        await clock.sleep(60)
        assert len(server.requests) == before  # no sweeper, no poller left
        assert (await pp.account.credits()).balance > 0  # the client is still usable
        single = asyncio.ensure_future(pp.generations.wait(ids[0]))
        await clock.sleep(5)
        single.cancel()
        with pytest.raises(asyncio.CancelledError):
            await single


async def test_closing_the_client_ends_waits_with_a_clear_error(clock: VirtualClock) -> None:
    server = make_server(clock, pending=0, processing=500.0)
    pp = server.client()
    ids = await create_many(pp, 10)
    task = asyncio.ensure_future(pp.generations.wait_many(ids))
    await clock.sleep(5)
    await pp.aclose()
    with pytest.raises(PowerPostError):
        await task
    with pytest.raises(PowerPostError, match="closed"):
        await pp.generations.wait(ids[0])
    await server.aclose()


async def test_a_sweep_answers_finished_generations_at_once(clock: VirtualClock) -> None:
    async with make_server(clock) as server, server.client() as pp:
        ids = server.seed_generations(12, status="completed")
        start = clock()
        generations = await pp.generations.wait_many(ids)
        assert clock() == start  # no tick interval waited
        assert all(g.status is GenerationStatus.COMPLETED for g in generations)
        assert server.requests.count(endpoint="get") == 12


async def test_progress_is_reported_once_per_change_not_once_per_id(clock: VirtualClock) -> None:
    # Changes within one pass of the event loop make one report, not one per id. A
    # tick's GETs are filed as each arrives (16 at a time), so a tick that finishes 500
    # ids reports about once per 16 of them.
    updates: list[WaitProgress] = []
    server = make_server(clock, pending=0, processing=(5.0, 5.0))
    async with server, server.client() as pp:
        ids = server.seed_generations(500)
        await pp.generations.wait_many(ids, on_progress=updates.append)
    assert updates[-1].completed + updates[-1].failed == 500
    assert len(updates) <= 500 / 16 + 10  # a few list pages, then one per answer batch
    assert all(a != b for a, b in itertools.pairwise(updates))  # each report says something new
