"""The waiting engine against unusual-but-legal servers, long outages, long horizons.

One test (or a few) per defect found in review, each through the public API, each in
virtual time (an in-memory FakePowerPost on a VirtualClock) unless it needs a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import pickle
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from powerpost_async import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    CircuitOpenError,
    ConflictError,
    Generation,
    GenerationFailedError,
    GenerationStatus,
    InternalServerError,
    MalformedResponseError,
    MockTransport,
    NotFoundError,
    PowerPost,
    RateLimitError,
    Request,
    Response,
    ResponseValidationError,
    WaitTimeoutError,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def fake(clock: VirtualClock, **kwargs: Any) -> FakePowerPost:
    kwargs.setdefault("pending", 0)
    kwargs.setdefault("processing", (20.0, 60.0))
    kwargs.setdefault("seed", 3)
    kwargs.setdefault("credits", 10**7)
    return FakePowerPost(clock=clock, **kwargs)


async def create_many(pp: PowerPost, count: int) -> list[str]:
    created = await asyncio.gather(
        *(pp.generations.create(prompt=f"post {i}", post_types=["x-post"]) for i in range(count))
    )
    return [c.generation_id for c in created]


def mock_client(
    handler: Callable[[Request], Response] | MockTransport, clock: VirtualClock, **kwargs: Any
) -> PowerPost:
    """A client on a MockTransport, in the clock's virtual time."""
    transport = handler if isinstance(handler, MockTransport) else MockTransport(handler)
    return PowerPost(
        "pp_live_sk_x", "ws", transport=transport, clock=clock, sleep=clock.sleep, **kwargs
    )


async def collect(items: AsyncIterator[Any], into: list[str]) -> None:
    async for item in items:
        into.append(item.generation_id)


def lists(server: FakePowerPost) -> int:
    return server.requests.count(endpoint="list")


def gets(server: FakePowerPost) -> int:
    return server.requests.count(endpoint="get")


# -- 1, 2: the sweeper and broken pagination ------------------------------------------------


@pytest.mark.parametrize(
    "quirk",
    [
        {"cursor_cycle": 1},  # A -> A ...
        {"cursor_cycle": 3},  # A -> B -> C -> A ...
        {"empty_pages": 10**9},  # empty pages promising more, forever
        {"empty_cursor": True},  # has_more with next_cursor ""
    ],
    ids=["cycle-1", "cycle-3", "empty-pages-forever", "empty-cursor"],
)
@pytest.mark.parametrize("timeout", [None, 600.0], ids=["no-deadline", "deadline"])
async def test_the_sweeper_survives_pagination_that_never_ends(
    clock: VirtualClock, quirk: dict[str, Any], timeout: float | None
) -> None:
    server = fake(clock)
    # Enough other generations in flight for six pages of the processing list.
    server.seed_generations(550, status="processing")
    for name, value in quirk.items():
        setattr(server.quirks, name, value)
    async with server.client() as pp:
        ids = await create_many(pp, 20)
        server.requests.clear()
        start = clock()
        generations = await pp.generations.wait_many(ids, timeout=timeout)
        elapsed = clock() - start
    assert [g.generation_id for g in generations] == ids
    assert all(g.status.is_terminal for g in generations)
    # Every id finished within 60 s: the wait ends a tick or two later, not at a deadline.
    assert elapsed <= 60.0 + 10.0
    ticks = elapsed / 2.0 + 2
    # Each tick walks at most two lists, each stopped by a guard within 10 pages.
    assert lists(server) <= ticks * 2 * 10
    assert gets(server) <= 20 * 3


async def test_iterate_and_the_sweeper_agree_on_an_empty_cursor(clock: VirtualClock) -> None:
    server = fake(clock)
    server.seed_generations(150, status="processing")
    server.quirks.empty_cursor = True
    async with server.client() as pp:
        seen: list[str] = []
        with pytest.raises(ResponseValidationError, match="next_cursor is empty"):
            await collect(pp.generations.iterate(page_size=100), seen)
        assert len(seen) == 100  # the first page, then the refusal: no ValueError
        statuses = await pp.generations.sweep(server.seed_generations(3, status="completed"))
        assert set(statuses.values()) == {GenerationStatus.COMPLETED}


# -- 3: polling overflow ------------------------------------------------------------------------


async def test_polling_for_hours_never_overflows(clock: VirtualClock) -> None:
    # Before: interval * 1.5 ** attempt overflowed after ~1,750 polls.
    server = fake(clock, processing=3 * 3600.0)
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        generation = await pp.generations.wait(
            generation_id, strategy="poll", interval=1.0, max_interval=2.0, timeout=None
        )
    assert generation.status is GenerationStatus.COMPLETED
    assert gets(server) > 3 * 3600 / 2.5  # thousands of polls, still on schedule


# -- 4: long outages ---------------------------------------------------------------------------


@pytest.mark.parametrize("breaker", [True, False], ids=["breaker", "no-breaker"])
async def test_a_ten_hour_outage_then_everything_resolves(
    clock: VirtualClock, breaker: bool
) -> None:
    server = fake(clock, processing=(5.0, 30.0))
    async with server.client(circuit_breaker=breaker) as pp:
        ids = await create_many(pp, 12)
        server.requests.clear()
        server.faults.random(Fault.server_error(503), 1.0)
        waiting = asyncio.ensure_future(pp.generations.wait_many(ids, timeout=None))
        await clock.sleep(10 * 3600)
        during = len(server.requests)
        assert not waiting.done()
        server.faults.clear()
        back = clock()
        generations = await waiting
        recovery = clock() - back
    transport = pp.transport
    assert transport.closed  # type: ignore[attr-defined]
    assert all(g.status.is_terminal for g in generations)
    # One probe per cool-down (30 s at most) with the breaker; the sweeper's own capped
    # backoff (30 s, 3 attempts per tick) without it.
    assert during <= (10 * 3600 / 24 + 20 if breaker else 10 * 3600 / 30 * 3 * 1.1)
    assert during >= 10 * 3600 / 40  # it kept trying all along: the sweeper did not die
    assert recovery <= 30.0 * 1.25 + 2.0 + 1.0  # within one cool-down and one tick
    assert min(clock.sleeps) >= 0  # no negative sleep anywhere


async def test_closing_after_a_long_outage_closes_the_transport(clock: VirtualClock) -> None:
    server = fake(clock)
    pp = server.client()
    ids = await create_many(pp, 8)
    server.faults.random(Fault.server_error(503), 1.0)
    waiting = asyncio.ensure_future(pp.generations.wait_many(ids, timeout=None))
    await clock.sleep(9 * 3600)
    await pp.aclose()  # no error of the sweeper surfaces here
    assert pp.transport.closed  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="closed"):
        await waiting


# -- 5: the breaker's half-open queue -----------------------------------------------------------


async def test_calls_held_by_the_breaker_go_once_the_probe_succeeds(clock: VirtualClock) -> None:
    server = fake(clock)
    ids = server.seed_generations(50, status="processing")
    # The first 50 GETs fail: the breaker opens after 10 of them; then the API is back.
    server.faults.script(*[Fault.server_error(503)] * 50, on="get")
    async with server.client() as pp:
        generations = await pp.generations.get_many(ids, return_exceptions=True)
    errors = [g for g in generations if not isinstance(g, Generation)]
    assert errors == []  # before: 49 of 50 CircuitOpenError, as the probe succeeded
    assert gets(server) == 50 + 50  # each once in the outage, once after: no storm


async def test_a_failed_probe_sends_the_queue_back_to_wait(clock: VirtualClock) -> None:
    server = fake(clock)
    ids = server.seed_generations(30, status="processing")
    server.faults.script(*[Fault.server_error(503)] * 31, on="get")  # the probe fails too
    async with server.client(max_retries=3) as pp:
        results = await pp.generations.get_many(ids, return_exceptions=True)
    assert all(isinstance(r, Generation) for r in results)
    assert gets(server) == 30 + 1 + 30


# -- 6: every pause respects the caller's deadline ---------------------------------------------


async def test_a_429_pause_never_holds_a_call_past_its_deadline(clock: VirtualClock) -> None:
    server = fake(clock, processing=1000.0)
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        server.faults.script(Fault.rate_limit(retry_after=60), on="credits")
        with pytest.raises(RateLimitError):
            await pp.account.credits(max_retries=0)  # the client is paused for 60 s
        start = clock()
        with pytest.raises(RateLimitError) as info:
            await pp.generations.get(generation_id, timeout=2)
        assert clock() == start  # at once, not after 60 s
        assert info.value.retry_after == pytest.approx(60.0)
        with pytest.raises(WaitTimeoutError):
            await pp.generations.wait(generation_id, timeout=5)
        assert clock() - start == pytest.approx(5.0)
        # A wait whose deadline allows it rides the pause out.
        server.complete_all()
        generation = await pp.generations.wait(generation_id, timeout=120)
        assert generation.status.is_terminal
        assert clock() - start == pytest.approx(60.0, abs=0.1)


async def test_the_breaker_never_holds_a_call_past_its_deadline(clock: VirtualClock) -> None:
    server = fake(clock, processing=1000.0)
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        server.faults.random(Fault.server_error(503), 1.0)
        for _ in range(4):  # open it, and fail probes until the cool-down is long
            with contextlib.suppress(APIStatusError, CircuitOpenError):
                await pp.generations.get(generation_id, max_retries=20, timeout=None)
        start = clock()
        with pytest.raises(CircuitOpenError) as info:
            await pp.generations.get(generation_id, timeout=2)
        assert clock() == start
        assert info.value.retry_after > 2
        with pytest.raises(WaitTimeoutError):
            await pp.generations.wait(generation_id, timeout=3)
        assert clock() - start == pytest.approx(3.0)


# -- 8: the paced release after a 429 -----------------------------------------------------------


async def test_requests_held_by_a_429_are_released_paced(clock: VirtualClock) -> None:
    server = fake(clock, rate_limit=(20, 1.0))
    ids = server.seed_generations(1, status="processing")
    async with server.client(max_retries=50, timeout=None) as pp:
        await asyncio.gather(
            *(pp.account.credits() for _ in range(25))
        )  # the window's 20, + 5 429s
        server.requests.clear()
        results = await asyncio.gather(*(pp.generations.get(ids[0]) for _ in range(200)))
    assert len(results) == 200
    limited = server.requests.count(status=429)
    # Before: all 200 left when the pause ended, earning 380 more 429s. Paced by the
    # server's X-RateLimit-* figures, a few at most (its windows and ours may differ).
    assert limited <= 20
    assert clock() <= 200 / 20 * 2 + 5  # and not much slower than the limit allows


class LimitedWithoutHeaders:
    """20 requests per second, answered 429 beyond, with no rate-limit headers at all."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.windows: dict[int, int] = {}
        self.limited = 0

    def __call__(self, request: Request) -> Response:
        window = int(self.clock())
        self.windows[window] = self.windows.get(window, 0) + 1
        if self.windows[window] > 20:
            self.limited += 1
            body = {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow", "retryAfter": 1}}
            return Response.from_json(429, body)
        return Response.from_json(
            200, {"generation_id": "g", "status": "processing", "created_at": "2026-01-01"}
        )


async def test_without_rate_limit_headers_the_release_starts_slow(clock: VirtualClock) -> None:
    server = LimitedWithoutHeaders(clock)
    async with mock_client(server, clock, max_retries=50, timeout=None) as pp:
        results = await asyncio.gather(*(pp.generations.get("g") for _ in range(220)))
    assert len(results) == 220
    # 200 burst past the first window's 20 at once (nothing to go by yet); afterwards,
    # slow start keeps the extra 429s to a fraction of the 200 held requests.
    assert server.limited <= 200 + 60


# -- 9: canonicalised ids -------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 12], ids=["poll", "sweep"])
async def test_a_server_that_canonicalises_ids(clock: VirtualClock, count: int) -> None:
    server = fake(clock, processing=(5.0, 30.0))
    server.quirks.canonical_ids = True
    async with server.client() as pp:
        ids = [i.upper() for i in await create_many(pp, count)]
        server.requests.clear()
        generations = await pp.generations.wait_many(ids, timeout=300)
        done = [g async for g in pp.generations.as_completed(ids[:3], timeout=300)]
        again = await pp.generations.wait(ids[0], timeout=300)
    assert [g.generation_id for g in generations] == [i.lower() for i in ids]
    assert all(g.status.is_terminal for g in generations)
    assert len(done) == min(count, 3)
    assert again.generation_id == ids[0].lower()
    assert gets(server) <= count * 4 + 10  # no GET per id per tick


async def test_a_webhook_in_the_servers_spelling_resolves_the_wait(clock: VirtualClock) -> None:
    server = fake(clock, processing=1000.0)
    server.quirks.canonical_ids = True
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        waiting = asyncio.ensure_future(pp.generations.wait(generation_id.upper(), timeout=600))
        await clock.sleep(3)  # one poll has taught the client the server's spelling
        server.complete_all()
        assert await pp.generations.feed(generation_id)  # lowercase, as the server writes
        generation = await waiting
    assert generation.status is GenerationStatus.COMPLETED
    assert clock() < 10


# -- 10: per-id errors at the deadline -----------------------------------------------------------


async def test_the_deadline_error_carries_what_finished_and_what_failed(
    clock: VirtualClock,
) -> None:
    server = fake(clock, processing=1000.0)
    async with server.client() as pp:
        slow = await create_many(pp, 1)
        done = server.seed_generations(3, status="completed")
        refs = [*done, MISSING, *slow]
        yielded: list[str] = []
        with pytest.raises(WaitTimeoutError) as info:
            await collect(pp.generations.as_completed(refs, timeout=30), yielded)
        error = info.value
        assert yielded == done
        assert error.pending_ids == tuple(slow)
        assert isinstance(error.errors[MISSING], NotFoundError)  # before: reported nowhere
        assert MISSING in str(error)
        with pytest.raises(WaitTimeoutError) as again:
            await pp.generations.wait_many(refs, timeout=30)
        assert set(again.value.finished) == set(done)  # not lost with the timeout
        assert isinstance(again.value.errors[MISSING], NotFoundError)
        restored = pickle.loads(pickle.dumps(again.value))
        assert restored.finished == again.value.finished
        assert str(restored) == str(again.value)


# -- 11: no callback left behind on a shared id --------------------------------------------------


async def test_timed_out_waits_leave_nothing_on_an_id_others_still_await(
    clock: VirtualClock,
) -> None:
    server = fake(clock, processing=10**6)
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        keeper = asyncio.ensure_future(pp.generations.wait(generation_id, timeout=None))

        async def time_out(n: int) -> None:
            for _ in range(n):
                with pytest.raises(WaitTimeoutError):
                    await pp.generations.wait_many([generation_id], timeout=0.5)

        await time_out(100)  # warm up: caches, the first allocations
        # Each joiner gets a look of its own (at half its deadline): the fake's request
        # log and the clock's record of sleeps grow with them; the SDK must not.
        server.requests.clear()
        clock.sleeps.clear()
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await time_out(1000)
            server.requests.clear()
            clock.sleeps.clear()
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
    # Before: ~4.6 kB per timed-out call (4.6 MB for these 1,000).
    assert grown < 200_000, grown


# -- 12: the sweep interval follows the waiters present -----------------------------------------


async def test_a_short_interval_leaves_with_its_caller(clock: VirtualClock) -> None:
    server = fake(clock, processing=10**6)
    async with server.client() as pp:
        ids = await create_many(pp, 8)
        patient = asyncio.ensure_future(
            pp.generations.wait_many(ids[4:], interval=10, max_interval=10, timeout=None)
        )
        with pytest.raises(WaitTimeoutError):  # a hurried caller comes and goes
            await pp.generations.wait_many(ids[:4], interval=0.5, timeout=5)
        await clock.sleep(1)
        server.requests.clear()
        await clock.sleep(60)
        per_minute = lists(server)
        patient.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await patient
    assert per_minute <= 7  # one tick (one list) per 10 s; before: 121 a minute


# -- 13: one poll per id, however many await it -------------------------------------------------


async def test_a_hundred_waits_on_one_id_poll_it_once(clock: VirtualClock) -> None:
    server = fake(clock, processing=60.0)
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        server.requests.clear()
        generations = await asyncio.gather(
            *(pp.generations.wait(generation_id) for _ in range(100))
        )
    assert {g.status for g in generations} == {GenerationStatus.COMPLETED}
    assert gets(server) <= 16  # before: 1,501
    assert lists(server) == 0


# -- 14: early stop only on newest-first pages --------------------------------------------------


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
async def test_early_stops_only_when_the_pages_are_newest_first(
    clock: VirtualClock, order: str
) -> None:
    server = fake(clock, processing=(30.0, 60.0))
    server.seed_generations(300, status="processing")  # older, in flight all along
    server.quirks.order = order  # type: ignore[assignment]
    async with server.client() as pp:
        await clock.sleep(1)
        ids = await create_many(pp, 50)
        server.requests.clear()
        generations = await pp.generations.wait_many(ids)
    assert all(g.status.is_terminal for g in generations)
    assert gets(server) <= 50 + 5  # before, oldest first: 1,500
    ticks = clock() / 2 + 2
    if order == "newest_first":
        assert lists(server) <= ticks * 2  # one page per list: the early stop still works


# -- 15: the transports' timeout cache ----------------------------------------------------------


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_distinct_per_call_timeouts_do_not_accumulate(transport: str) -> None:
    # A service passing the time left before its own deadline makes every timeout new.
    if transport == "httpx":
        import httpx

        from powerpost_async import HttpxTransport

        kind: type = httpx.Timeout
        kwargs: dict[str, Any] = {"transport": HttpxTransport()}
    else:
        import aiohttp

        kind, kwargs = aiohttp.ClientTimeout, {}

    def alive() -> int:
        gc.collect()
        return sum(isinstance(o, kind) for o in gc.get_objects())

    async with FakePowerPost() as server, server.client(use_socket=True, **kwargs) as pp:
        for i in range(50):
            await pp.account.credits(timeout=30 + i / 1000)
        before = alive()
        for i in range(50, 1050):
            await pp.account.credits(timeout=30 + i / 1000)
        grown = alive() - before
    assert grown <= 2, grown  # before: one kept per distinct value, 1,000 here


# -- 16: smaller ones ---------------------------------------------------------------------------


def every_error() -> Iterator[Exception]:
    yield APIStatusError("x", status_code=418, code="TEAPOT", request_id="r1", body={"a": 1})
    yield NotFoundError("gone", status_code=404, code="NOT_FOUND", request_id="r2")
    yield ConflictError("conflict", status_code=409)
    yield AuthenticationError("nope", status_code=401, code="INVALID_API_KEY")
    yield InternalServerError("down", status_code=503, code="INTERNAL_ERROR")
    yield RateLimitError("slow down", code="RATE_LIMIT_EXCEEDED", retry_after=3.5)
    yield APIConnectionError("reset", request_sent=False)
    yield CircuitOpenError("open", retry_after=2.0)
    yield ResponseValidationError("bad", body=b"{}", errors=["x: missing"])
    yield MalformedResponseError("garbled", body=b"{", errors=["not JSON"])
    yield WaitTimeoutError(
        "late", timeout=3.0, pending_ids=["a"], errors={"b": NotFoundError("gone", status_code=404)}
    )


@pytest.mark.parametrize("error", list(every_error()), ids=lambda e: type(e).__name__)
def test_a_pickled_error_says_the_same(error: Exception) -> None:
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is type(error)
    assert str(restored) == str(error)  # before: rebuilt from message alone
    assert vars(restored).keys() == vars(error).keys()


def answering(status: int) -> Callable[[Request], Response]:
    def handler(request: Request) -> Response:
        return Response.from_json(status, {"error": {"code": "X", "message": "m"}})

    return handler


@pytest.mark.parametrize("status", [501, 505, 599])
async def test_a_wait_gives_up_on_the_statuses_the_client_would_not_retry(status: int) -> None:
    # Waits and the client now agree on what is transient: 500/502/503/504, not any 5xx.
    clock = VirtualClock()
    transport = MockTransport(answering(status))
    async with mock_client(transport, clock) as pp:
        with pytest.raises(InternalServerError):
            await pp.generations.wait("g", timeout=600)
    assert len(transport.requests) == 1
    assert clock() == 0


async def test_a_wait_rides_out_the_statuses_the_client_retries() -> None:
    clock = VirtualClock()
    answers = iter([503, 502, 504, 500])

    def handler(request: Request) -> Response:
        status = next(answers, 200)
        if status == 200:
            body = {"generation_id": "g", "status": "completed", "created_at": "2026-01-01"}
            return Response.from_json(200, body)
        return answering(status)(request)

    async with mock_client(handler, clock, max_retries=0) as pp:
        generation = await pp.generations.wait("g", timeout=600)
    assert generation.status is GenerationStatus.COMPLETED


async def test_a_failed_generation_still_raises_after_a_shared_wait(clock: VirtualClock) -> None:
    server = fake(clock, failure_rate=1.0, processing=10.0)
    async with server.client() as pp:
        (generation_id,) = await create_many(pp, 1)
        outcomes = await asyncio.gather(
            *(pp.generations.wait(generation_id) for _ in range(3)), return_exceptions=True
        )
    assert all(isinstance(o, GenerationFailedError) for o in outcomes)
