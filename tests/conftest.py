"""Shared fixtures: documented payloads, a recording sleep, and leak checks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from powerpost_async import MockTransport, PowerPost, Request, Response

SAMPLES = Path(__file__).parent / "samples"
API_KEY = "pp_live_sk_SECRET_test_key_0123456789"
WORKSPACE = "0b5c9a9e-6f0e-4c1b-9d55-5b6a1c2d3e4f"


def load_sample(name: str) -> Any:
    """A documented example payload from tests/samples/."""
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suite must not pick up a developer's real key or workspace.
    for name in ("POWERPOST_API_KEY", "POWERPOST_WORKSPACE_ID", "POWERPOST_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves a task running behind it."""
    yield
    for _ in range(3):  # let tasks that are finishing finish
        await asyncio.sleep(0)
    current = asyncio.current_task()
    leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in leaked:
        task.cancel()
    assert not leaked, f"test leaked tasks: {leaked}"


class RecordingSleep:
    """An async sleep that records what it was asked and returns at once.

    It also keeps a clock (``.clock()``) that each sleep moves forward, so code that
    measures time against its own sleeps sees them pass.
    """

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


Handler = Callable[[Request], Response]


@pytest.fixture
def make_client(sleep: RecordingSleep) -> Iterator[Callable[..., PowerPost]]:
    """Build clients on a MockTransport; they are closed after the test if still open."""
    clients: list[PowerPost] = []

    def factory(handler: Handler, **kwargs: Any) -> PowerPost:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("workspace_id", WORKSPACE)
        kwargs.setdefault("sleep", sleep)
        kwargs.setdefault("clock", sleep.clock)
        client = PowerPost(transport=MockTransport(handler), **kwargs)
        clients.append(client)
        return client

    yield factory
    leftover = [c for c in clients if not c.is_closed]
    assert not leftover, "a test forgot to close its PowerPost client"
