"""The pytest plugin of powerpost-async: fixtures for testing code that uses the SDK.

Registered through the ``pytest11`` entry point, so it loads wherever the package is
installed. It imports nothing heavy until a fixture is used, and works without
pytest-asyncio (its async fixtures are then plain ones, for another async plugin).

Fixtures:
    powerpost_clock: A fresh [`VirtualClock`][powerpost_async.testing.VirtualClock].
    powerpost_fake: A [`FakePowerPost`][powerpost_async.testing.FakePowerPost] on that clock,
        in memory (``await powerpost_fake.start()`` serves it over a socket too; it is
        closed after the test). Override this fixture to configure the server.
    powerpost_client: A [`PowerPost`][powerpost_async.PowerPost] wired to ``powerpost_fake``
        in memory, in virtual time, closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from powerpost_async import PowerPost
    from powerpost_async.testing._clock import VirtualClock
    from powerpost_async.testing._fake import FakePowerPost

    async_fixture = pytest.fixture
else:
    try:
        from pytest_asyncio import fixture as async_fixture
    except ImportError:  # without pytest-asyncio, leave async fixtures to another plugin
        async_fixture = pytest.fixture


@pytest.fixture
def powerpost_clock() -> VirtualClock:
    """A fresh virtual clock, shared by ``powerpost_fake`` and ``powerpost_client``."""
    from powerpost_async.testing._clock import VirtualClock

    return VirtualClock()


@async_fixture
async def powerpost_fake(powerpost_clock: VirtualClock) -> AsyncIterator[FakePowerPost]:
    """An in-memory FakePowerPost on ``powerpost_clock``, closed after the test."""
    from powerpost_async.testing._fake import FakePowerPost

    server = FakePowerPost(clock=powerpost_clock)
    try:
        yield server
    finally:
        await server.aclose()


@async_fixture
async def powerpost_client(powerpost_fake: FakePowerPost) -> AsyncIterator[PowerPost]:
    """A PowerPost client wired to ``powerpost_fake`` in memory, closed after the test."""
    async with powerpost_fake.client() as client:
        yield client
