"""A 429's hints against the client-wide gate: one test per defect found in review.

Each drives a real client through a MockTransport on a VirtualClock and checks the
virtual time the calls took. The server's wall clock (``Date``, ``X-RateLimit-Reset``,
an HTTP-date ``Retry-After``) is built from ``time.time()``, which the client reads too:
real time barely moves while the virtual clock runs.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest

from powerpost_async import GenerationStatus, MockTransport, PowerPost, Request, Response
from powerpost_async.testing import VirtualClock

from .conftest import load_sample

MAX_PAUSE = 900.0  # the longest retries.md lets anything silence the client


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


def client(handler: Callable[[Request], Response], clock: VirtualClock, **kwargs: Any) -> PowerPost:
    transport = MockTransport(handler)
    return PowerPost(
        "pp_live_sk_x", "ws", transport=transport, clock=clock, sleep=clock.sleep, **kwargs
    )


def limited(headers: dict[str, str], **error: object) -> Response:
    body = {"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "slow down", **error}}
    return Response.from_json(429, body, headers=headers)


def generation(request: Request, headers: dict[str, str] | None = None) -> Response:
    """A processing generation, with the id the request asked for."""
    body = load_sample("generation_processing")
    body["generation_id"] = request.url.rsplit("/", 1)[-1]
    return Response.from_json(200, body, headers=headers)


def figures(remaining: int, reset_in: float, limit: int | None = None) -> dict[str, str]:
    """A ``Date`` and rate-limit headers: ``remaining`` left until ``reset_in`` s from now."""
    now = int(time.time())
    headers = {
        "Date": formatdate(now, usegmt=True),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(now + reset_in),
    }
    if limit is not None:
        headers["X-RateLimit-Limit"] = str(limit)
    return headers


@pytest.mark.parametrize(
    "hint",
    [{"headers": {"Retry-After": "1"}}, {"retryAfter": 1}],
    ids=["header", "body"],
)
async def test_an_explicit_hint_is_not_stretched_to_the_windows_reset(
    clock: VirtualClock, hint: dict[str, Any]
) -> None:
    """Defect 12: ``Retry-After: 1`` with Remaining 0 and a Reset 60 s away (a sliding
    window: one slot frees in a second) held the client until the Reset, so a default
    get() failed at once with RateLimitError (60 s is past its max_retry_after). The
    hint says when the next request may go: it goes then."""
    extra = hint.get("headers", {})
    error = {k: v for k, v in hint.items() if k != "headers"}

    def handler(request: Request) -> Response:
        if len(pp.transport.requests) == 1:  # type: ignore[attr-defined]
            return limited({**figures(0, 60, limit=20), **extra}, **error)
        return generation(request, figures(0, 59, limit=20))

    async with client(handler, clock) as pp:
        got = await pp.generations.get("g")
    assert got.generation_id == "g"
    assert clock() == pytest.approx(1.0)


async def test_a_limit_of_zero_never_silences_the_client(clock: VirtualClock) -> None:
    """Defect 13: after a 429, ``X-RateLimit-Limit: 0`` opened every pacing window with
    no request to let through, so the client never asked again (a wait hung until its
    deadline, or for ever). Each window now lets one go: over three virtual hours the
    wait keeps polling, never silent for more than 15 minutes, and sees the result."""
    sent: list[float] = []
    done_at = 3 * 3600.0

    def handler(request: Request) -> Response:
        sent.append(clock())
        headers = figures(0, 30, limit=0)
        if len(sent) == 1:
            return limited(headers, retryAfter=1)
        if clock() >= done_at:
            return Response.from_json(200, load_sample("generation_completed"), headers=headers)
        return generation(request, headers)

    async with client(handler, clock) as pp:
        completed = load_sample("generation_completed")["generation_id"]
        result = await pp.generations.wait(completed, timeout=done_at + 3600)
    assert result.status is GenerationStatus.COMPLETED
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert max(gaps) <= MAX_PAUSE
    assert clock() <= done_at + MAX_PAUSE


@pytest.mark.parametrize("hint", ["retry-after", "reset"])
async def test_dates_are_read_against_the_servers_date_header(
    clock: VirtualClock, hint: str
) -> None:
    """Defect 14: an HTTP-date ``Retry-After`` and ``X-RateLimit-Reset`` were read
    against the local wall clock, so a server 10 minutes ahead turned a 5 s hint into
    605 s (here: RateLimitError at once, past max_retry_after). Both are read against
    the response's ``Date``."""
    server_now = int(time.time()) + 600
    headers = {"Date": formatdate(server_now, usegmt=True)}
    if hint == "retry-after":
        headers["Retry-After"] = formatdate(server_now + 5, usegmt=True)
    else:
        headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(server_now + 5)}

    def handler(request: Request) -> Response:
        if len(pp.transport.requests) == 1:  # type: ignore[attr-defined]
            return limited(headers)
        return generation(request)

    async with client(handler, clock) as pp:
        await pp.generations.get("g")
    assert clock() == pytest.approx(5.0)


@pytest.mark.parametrize(
    "hint",
    [
        {"headers": {"Retry-After": "0"}},
        {"headers": {"Retry-After": "-3"}},
        {"retryAfter": 0},
        {"retryAfter": 0, "headers": figures(5, 60, limit=20)},
    ],
    ids=["zero", "negative", "body", "with-figures"],
)
async def test_a_hint_of_zero_means_go_now(clock: VirtualClock, hint: dict[str, Any]) -> None:
    """Defect 15: ``Retry-After: 0`` started slow-start pacing (1, 2, 4... requests a
    second), so 200 gets behind it took 7.2 s instead of a moment. "Go now" pauses
    nothing and paces nothing: only the retried get waits, its own backoff (<= 0.5 s)."""
    extra = hint.get("headers", {})
    error = {k: v for k, v in hint.items() if k != "headers"}

    def handler(request: Request) -> Response:
        if len(pp.transport.requests) == 1:  # type: ignore[attr-defined]
            return limited(extra, **error)
        return generation(request)

    async with client(handler, clock) as pp:
        got = await pp.generations.get_many([f"g{i}" for i in range(200)])
        assert len(pp.transport.requests) == 201  # type: ignore[attr-defined]
    assert [g.generation_id for g in got] == [f"g{i}" for i in range(200)]
    assert clock() <= 0.5


async def test_a_hint_of_zero_with_nothing_left_paces_by_the_figures(clock: VirtualClock) -> None:
    """Defect 15, its exception: "go now" with Remaining 0 until a Reset 3 s away lets
    one request go at once and holds the rest for the Reset, not for slow start."""
    sent: list[float] = []

    def handler(request: Request) -> Response:
        sent.append(clock())
        if len(sent) == 1:
            return limited(figures(0, 3, limit=20), retryAfter=0)
        if clock() < 3:
            return generation(request, figures(0, 3 - clock(), limit=20))
        return generation(request, figures(20 - len(sent), 63 - clock(), limit=20))

    async with client(handler, clock) as pp:
        await pp.generations.get("first")  # gets the 429, goes again at once
        await asyncio.gather(*(pp.generations.get(f"g{i}") for i in range(5)))
    assert sent[1] <= 0.5
    assert sent[2:] == [pytest.approx(3.0)] * 5
