"""The client-wide circuit breaker: an outage costs one probe per cool-down, not a flood."""

from __future__ import annotations

import asyncio
import collections
import logging

import pytest

from powerpost_async import (
    APIConnectionError,
    APIStatusError,
    CircuitOpenError,
    InternalServerError,
    MockTransport,
    PowerPost,
    Request,
    Response,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

OK = {"generation_id": "g", "status": "processing", "created_at": "2026-01-10T18:30:00Z"}


async def outage(clock: VirtualClock, *, breaker: bool) -> tuple[int, int, float]:
    """200 pollers through a 120 s total outage: (requests during it, after, recovery s)."""
    server = FakePowerPost(clock=clock, pending=0, processing=(5, 20), seed=3)
    async with server, server.client(circuit_breaker=breaker) as pp:
        ids = server.seed_generations(200, status="processing")
        server.faults.random(Fault.server_error(503), 1.0)
        waiting = asyncio.ensure_future(
            pp.generations.wait_many(ids, strategy="poll", timeout=None)
        )
        await clock.sleep(120)
        during = len(server.requests)
        server.faults.clear()
        server.complete_all()
        ended = clock()
        generations = await waiting
        assert len(generations) == 200
        assert all(g.status.is_terminal for g in generations)
        return during, len(server.requests) - during, clock() - ended


async def test_the_request_rate_stays_bounded_during_an_outage_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="powerpost_async")
    clock = VirtualClock()
    with_breaker, after, recovery = await outage(clock, breaker=True)
    without, _, _ = await outage(VirtualClock(), breaker=False)
    # 200 requests are in flight when the outage starts; after that, one probe per
    # cool-down (1 s doubling to 30 s): a handful in two minutes, whatever the callers.
    assert with_breaker <= 200 + 15
    assert without > 20 * with_breaker
    assert recovery <= 40.0  # the next probe finds the API up; everyone resumes
    assert after >= 200
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("circuit open after") for m in messages)
    assert any(m.startswith("circuit closed") for m in messages)


def failing(status: int = 503) -> MockTransport:
    return MockTransport(
        lambda r: Response.from_json(status, {"error": {"code": "X", "message": "down"}})
    )


async def test_opens_after_ten_consecutive_failures_and_holds_requests_back() -> None:
    clock = VirtualClock()
    transport = failing()
    async with PowerPost(
        "pp_live_sk_x", "ws", transport=transport, clock=clock, max_retries=0
    ) as pp:
        for _ in range(10):
            with pytest.raises(InternalServerError):
                await pp.generations.get("g")
        with pytest.raises(CircuitOpenError) as info:
            await pp.generations.get("g")
        assert len(transport.requests) == 10  # refused without sending
        error = info.value
        assert isinstance(error, APIConnectionError)
        assert error.request_sent is False
        assert 0.7 <= error.retry_after <= 1.3
        clock.advance(2.0)
        with pytest.raises(InternalServerError):  # the probe goes out, and fails
            await pp.generations.get("g")
        with pytest.raises(CircuitOpenError) as again:
            await pp.generations.get("g")
        assert 1.5 <= again.value.retry_after <= 2.5  # doubled


async def test_a_success_closes_it() -> None:
    clock = VirtualClock()
    answers = iter([*([503] * 10), 200, 503])

    def handler(request: Request) -> Response:
        status = next(answers)
        if status == 200:
            return Response.from_json(200, OK)
        return Response.from_json(status, {"error": {"code": "X", "message": "down"}})

    async with PowerPost(
        "pp_live_sk_x", "ws", transport=MockTransport(handler), clock=clock, max_retries=0
    ) as pp:
        for _ in range(10):
            with pytest.raises(InternalServerError):
                await pp.generations.get("g")
        clock.advance(5.0)
        assert (await pp.generations.get("g")).generation_id == "g"  # the probe succeeds
        with pytest.raises(InternalServerError):  # closed again: one failure is one failure
            await pp.generations.get("g")


async def test_only_one_probe_at_a_time_and_a_cancelled_probe_frees_the_slot() -> None:
    clock = VirtualClock()
    release = asyncio.Event()
    calls = collections.Counter[str]()

    async def handler(request: Request) -> Response:
        calls["sent"] += 1
        if calls["sent"] <= 10:
            return Response.from_json(503, {"error": {"code": "X", "message": "down"}})
        await release.wait()
        return Response.from_json(200, OK)

    async with PowerPost(
        "pp_live_sk_x", "ws", transport=MockTransport(handler), clock=clock, max_retries=0
    ) as pp:
        for _ in range(10):
            with pytest.raises(InternalServerError):
                await pp.generations.get("g")
        clock.advance(2.0)
        probe = asyncio.ensure_future(pp.generations.get("g"))
        await asyncio.sleep(0)
        with pytest.raises(CircuitOpenError):  # a probe is out: others wait
            await pp.generations.get("g")
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
        second = asyncio.ensure_future(pp.generations.get("g"))  # may probe now
        await asyncio.sleep(0)
        release.set()
        assert (await second).generation_id == "g"
        assert (await pp.generations.get("g")).generation_id == "g"


async def test_retries_wait_for_the_probe_window_and_creates_may_retry_safely() -> None:
    clock = VirtualClock()
    transport = failing(502)
    async with PowerPost(
        "pp_live_sk_x", "ws", transport=transport, clock=clock, sleep=clock.sleep, max_retries=0
    ) as pp:
        for _ in range(10):
            with pytest.raises(InternalServerError):
                await pp.generations.get("g")
        sent = len(transport.requests)
        # A create refused by the open circuit was never sent, so it can be retried: the
        # retry sleeps until the probe window and becomes the probe.
        with pytest.raises(InternalServerError):
            await pp.generations.create(prompt="hi", post_types=["x-post"], max_retries=1)
        assert len(transport.requests) == sent + 1
        assert clock() >= 0.8


async def test_4xx_and_429_do_not_count_as_failures() -> None:
    statuses = iter([404, 429] * 20)

    def handler(request: Request) -> Response:
        return Response.from_json(next(statuses), {"error": {"code": "X", "message": "no"}})

    async with PowerPost(
        "pp_live_sk_x", "ws", transport=MockTransport(handler), max_retries=0
    ) as pp:
        for _ in range(40):
            with pytest.raises(APIStatusError):  # never CircuitOpenError
                await pp.generations.get("g")


async def test_it_can_be_turned_off() -> None:
    transport = failing()
    async with PowerPost(
        "pp_live_sk_x", "ws", transport=transport, max_retries=0, circuit_breaker=False
    ) as pp:
        for _ in range(30):
            with pytest.raises(InternalServerError):
                await pp.generations.get("g")
    assert len(transport.requests) == 30
