"""Cancellation anywhere leaves nothing behind.

A caller may cancel at any await: mid-request, mid-retry-sleep, between or during list
pages, mid-wait (polling or during a shared sweep tick), mid-``get_many``. Each test
cancels at one such point and then checks that:

* the cancellation propagates (``CancelledError``; never swallowed or converted);
* no task is left running (besides the test's own), and no sleeper on the virtual clock;
* nothing fires later: after the clock moves far ahead, no further request is sent;
* the client is still usable: a follow-up call succeeds;
* over sockets: no connection is leaked (a borrowed session with a one-connection pool
  would block the follow-up call forever) and the process holds no extra sockets;
* no ResourceWarning, with asyncio's debug mode on.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest

from powerpost_async import AiohttpTransport, Generation, GenerationStatus, PowerPost
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_resource_warnings() -> Iterator[None]:
    """Debug mode on; fail on any ResourceWarning, including those raised by a collection."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


@pytest.fixture(autouse=True)
async def _debug_mode() -> None:
    asyncio.get_running_loop().set_debug(True)
    random.seed(11)  # the client's jitter: a backoff of exactly 0 would not sleep at all


def others() -> list[asyncio.Task[Any]]:
    """Tasks still running besides the current one."""
    current = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not current and not t.done()]


def client_side() -> list[asyncio.Task[Any]]:
    """:func:`others`, less the embedded server's own connection handlers (sockets)."""
    return [
        t
        for t in others()
        if not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler.")
    ]


async def settle(passes: int = 10) -> None:
    """Give finishing tasks (and async generator finalizers) a few loop passes."""
    for _ in range(passes):
        await asyncio.sleep(0)


async def until(condition: Callable[[], bool], *, passes: int = 10_000) -> None:
    """Spin the loop until ``condition()``; virtual time stands still while we spin."""
    for _ in range(passes):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never became true")


async def until_later(
    clock: VirtualClock, condition: Callable[[], bool], *, step: float = 0.25
) -> None:
    """Let virtual time pass in small steps until ``condition()``."""
    for _ in range(10_000):
        if condition():
            return
        await clock.sleep(step)
    raise AssertionError("the condition never became true")


async def eventually(condition: Callable[[], bool], *, seconds: float = 5.0) -> None:
    """Real-time variant of :func:`until`, for sockets."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the condition never became true")
        await asyncio.sleep(0.005)


async def cancel(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and check that the cancellation came out of it, unconverted."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def open_sockets() -> int:
    """Sockets this process holds open (Linux: /proc/self/fd), or -1 if unknown."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return -1
    count = 0
    for name in names:
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
    return count


async def nothing_fires_later(server: FakePowerPost, clock: VirtualClock) -> None:
    """Move virtual time far ahead: a leftover retry, poll or sweep would send something."""
    sent = len(server.requests)
    # Works with and without auto-advance: whoever moves the clock first, it gets there.
    ahead = asyncio.ensure_future(clock.sleep(3600))
    await settle()
    clock.advance(3600)
    await ahead
    await settle()
    assert len(server.requests) == sent, list(server.requests)[sent:]
    assert clock.waiting == 0


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakePowerPost]:
    fake = FakePowerPost(clock=clock, pending=0, processing=(5.0, 60.0), seed=5)
    yield fake
    await fake.aclose()


@pytest.fixture
async def pp(server: FakePowerPost) -> AsyncIterator[PowerPost]:
    async with server.client() as client:
        yield client


Action = Callable[[PowerPost, str], Awaitable[object]]

ACTIONS: dict[str, Action] = {
    "get": lambda pp, generation_id: pp.generations.get(generation_id),
    "list": lambda pp, _: pp.generations.list(limit=5),
    "create": lambda pp, _: pp.generations.create(prompt="cancel me", post_types=["x-post"]),
    "credits": lambda pp, _: pp.account.credits(),
}


# -- mid-request --------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", list(ACTIONS))
async def test_cancel_mid_request_in_memory(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock, endpoint: str
) -> None:
    (generation_id,) = server.seed_generations(1, status="processing")
    server.faults.script(Fault.slow(300), on=endpoint)  # type: ignore[arg-type]
    task = asyncio.ensure_future(ACTIONS[endpoint](pp, generation_id))
    await until(lambda: len(server.requests) == 1 and clock.waiting == 1)

    await cancel(task)

    assert clock.waiting == 0
    assert others() == []
    await nothing_fires_later(server, clock)
    assert await ACTIONS[endpoint](pp, generation_id) is not None  # still usable
    assert len(server.requests) == 2


@pytest.mark.parametrize("endpoint", ["get", "create"])
async def test_cancel_mid_request_over_a_socket(endpoint: str) -> None:
    sockets_before = open_sockets()
    delay = 1.0  # long enough that the answer cannot beat the cancellation on a busy machine
    async with FakePowerPost(processing=60.0) as server:
        (generation_id,) = server.seed_generations(1, status="processing")
        # One connection in the pool: if the cancelled request kept its connection
        # acquired, the follow-up call below would wait for it forever.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))

        def closed() -> bool:  # read afresh each time (a plain attribute would be narrowed)
            return session.closed

        async with session:
            transport = AiohttpTransport(session)
            async with server.client(use_socket=True, transport=transport, timeout=None) as pp:
                server.faults.script(Fault.slow(delay), on=endpoint)  # type: ignore[arg-type]
                task = asyncio.ensure_future(ACTIONS[endpoint](pp, generation_id))
                await eventually(lambda: len(server.requests) == 1)

                await cancel(task)

                assert client_side() == []
                follow_up = ACTIONS[endpoint](pp, generation_id)
                assert await asyncio.wait_for(follow_up, timeout=5.0) is not None
                assert len(server.requests) == 2
            assert not closed()  # borrowed: the client leaves it open
            # The slow answer is still held back server-side: let it end before closing.
            await asyncio.sleep(delay + 0.1)
        assert closed()
    await settle()
    assert others() == []
    assert open_sockets() == sockets_before


# -- mid-retry-sleep --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "fault"),
    [
        ("get", Fault.server_error(503)),
        ("get", Fault.rate_limit(5)),
        ("create", Fault.rate_limit(5)),  # a create is retried after a 429: cancel that
        ("list", Fault.drop()),
    ],
    ids=["get-503", "get-429", "create-429", "list-drop"],
)
async def test_cancel_during_the_retry_backoff(endpoint: str, fault: Fault) -> None:
    clock = VirtualClock(auto_advance=False)  # time moves only when this test says so
    server = FakePowerPost(clock=clock, processing=60.0)
    async with server.client() as pp:
        (generation_id,) = server.seed_generations(1, status="processing")
        server.faults.script(fault, on=endpoint)  # type: ignore[arg-type]
        task = asyncio.ensure_future(ACTIONS[endpoint](pp, generation_id))
        await until(lambda: len(server.requests) == 1 and clock.waiting == 1)  # backing off

        await cancel(task)

        assert clock.waiting == 0
        assert others() == []
        await nothing_fires_later(server, clock)  # the retry never goes out
        assert len(server.requests) == 1
        assert await ACTIONS[endpoint](pp, generation_id) is not None
    assert server.requests.count(endpoint="create", executed=True) == (endpoint == "create")


# -- mid-page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [True, False], ids=["prefetch", "no-prefetch"])
@pytest.mark.parametrize("closing", [True, False], ids=["aclosing", "plain-async-for"])
async def test_cancel_between_pages(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock, closing: bool, prefetch: bool
) -> None:
    server.seed_generations(250)
    # With prefetch, the second page is requested while the caller reads the first, and
    # hangs: cancelling the caller must also end that request.
    server.faults.script(None, Fault.slow(300), on="list")
    first_page_read = asyncio.Event()
    seen: list[str] = []

    async def consume() -> None:
        pages = pp.generations.iterate(page_size=100, prefetch=prefetch)
        if closing:
            async with contextlib.aclosing(pages):  # type: ignore[type-var]
                await read(pages)
        else:
            await read(pages)

    async def read(pages: AsyncIterator[Any]) -> None:
        async for summary in pages:
            seen.append(summary.generation_id)
            if len(seen) == 100:
                first_page_read.set()
                await asyncio.Event().wait()  # the caller is busy: cancelled here

    task = asyncio.ensure_future(consume())
    await first_page_read.wait()
    await settle()  # the prefetch, if any, is on the wire now

    await cancel(task)
    del task  # its traceback holds the generator: a plain `async for` relies on that
    gc.collect()
    await settle()

    assert others() == []
    assert clock.waiting == 0  # the hanging prefetch was cancelled, not left to run
    assert len(server.requests) == (2 if prefetch else 1)
    await nothing_fires_later(server, clock)
    server.faults.clear()  # without prefetch, the hanging answer was never asked for
    everything = [s.generation_id async for s in pp.generations.iterate(page_size=100)]
    assert everything[:100] == seen
    assert len(everything) == 250


async def test_cancel_during_a_page_fetch(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    server.seed_generations(250)
    server.faults.script(None, Fault.slow(300), on="list")  # the second page hangs
    seen: list[str] = []

    async def consume() -> None:
        async for summary in pp.generations.iterate(page_size=100):
            seen.append(summary.generation_id)

    task = asyncio.ensure_future(consume())
    await until(lambda: len(server.requests) == 2 and clock.waiting == 1)
    assert len(seen) == 100

    await cancel(task)

    assert clock.waiting == 0
    assert others() == []
    await nothing_fires_later(server, clock)
    assert len([s async for s in pp.generations.iterate(page_size=100)]) == 250


# -- mid-wait -----------------------------------------------------------------------------------


async def test_cancel_a_polling_wait(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    (generation_id,) = server.seed_generations(1, status="processing")
    task = asyncio.ensure_future(pp.generations.wait(generation_id, strategy="poll"))
    # Between polls: the id's poller sleeps, and the wait sleeps until its deadline.
    await until(lambda: len(server.requests) == 1 and clock.waiting == 2)

    await cancel(task)

    assert others() == []
    await nothing_fires_later(server, clock)
    server.complete_all()
    generation = await pp.generations.wait(generation_id)
    assert generation.status is GenerationStatus.COMPLETED


async def test_cancel_one_of_two_waits_on_the_same_id_leaves_the_other_waiting(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    (generation_id,) = server.seed_generations(1, status="processing")
    first = asyncio.ensure_future(pp.generations.wait(generation_id, strategy="poll"))
    second = asyncio.ensure_future(pp.generations.wait(generation_id, strategy="poll"))
    # One poller for the id (one GET), two waits sleeping until their deadlines.
    await until(lambda: len(server.requests) == 1 and clock.waiting == 3)

    await cancel(first)

    assert not second.done()
    server.complete_all()
    generation = await second  # its own polling goes on, and sees the end
    assert generation.status is GenerationStatus.COMPLETED
    assert others() == []
    await nothing_fires_later(server, clock)


async def test_cancel_as_completed_midway(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    ids = server.seed_generations(20)  # processing 5..60 s each
    got: list[Generation] = []

    async def consume() -> None:
        async for generation in pp.generations.as_completed(ids, interval=1.0):
            got.append(generation)

    task = asyncio.ensure_future(consume())
    await until_later(clock, lambda: len(got) >= 3)
    await cancel(task)

    assert 3 <= len(got) < 20
    assert others() == []  # the shared sweeper stopped with its last waiter
    await nothing_fires_later(server, clock)
    rest = await pp.generations.wait_many(ids)
    assert {g.generation_id for g in rest} == set(ids)


async def test_break_out_of_as_completed_closes_it(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    ids = server.seed_generations(20)
    async with contextlib.aclosing(  # type: ignore[type-var]
        pp.generations.as_completed(ids, interval=1.0)
    ) as finished:
        async for _ in finished:
            break
    # The sweeper is cancelled as the last waiter leaves, and ends a loop pass later.
    await settle(3)
    assert others() == []
    await nothing_fires_later(server, clock)


async def test_cancel_wait_many_during_a_sweep_tick(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    ids = server.seed_generations(50, status="processing")
    server.faults.script(Fault.slow(300), on="list")  # the sweep tick's first list hangs
    task = asyncio.ensure_future(pp.generations.wait_many(ids, strategy="sweep"))
    await until_later(clock, lambda: server.requests.count(endpoint="list") == 1)
    assert clock.waiting >= 1
    assert server.requests[-1].fault == "slow"  # the sweeper is mid-tick

    await cancel(task)

    assert others() == []  # the sweeper is gone with the last waiter
    assert clock.waiting == 0
    await nothing_fires_later(server, clock)
    server.complete_all()
    done = await pp.generations.wait_many(ids, strategy="sweep")
    assert all(g.status.is_terminal for g in done)


# -- mid-get_many ---------------------------------------------------------------------------------


async def test_cancel_get_many_midway(
    server: FakePowerPost, pp: PowerPost, clock: VirtualClock
) -> None:
    ids = server.seed_generations(60, status="processing")
    server.faults.script(*[None] * 7, Fault.slow(300), Fault.slow(300), on="get")
    task = asyncio.ensure_future(pp.generations.get_many(ids, concurrency=4))
    await until(lambda: clock.waiting == 2 and len(server.requests) >= 9)

    await cancel(task)

    assert clock.waiting == 0
    assert others() == []  # the workers are gone too
    await nothing_fires_later(server, clock)
    again = await pp.generations.get_many(ids, concurrency=4)
    assert [g.generation_id for g in again] == ids
