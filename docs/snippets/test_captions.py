"""Tests of your own code, with the pytest fixtures of powerpost-async."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from powerpost_async import (
    GenerationFailedError,
    InternalServerError,
    PowerPost,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

pytestmark = pytest.mark.asyncio  # not needed with asyncio_mode = "auto"


async def linkedin_caption(pp: PowerPost, prompt: str) -> str:
    """The code under test: in your project, it lives in your package."""
    created = await pp.generations.create(
        prompt=prompt, post_types=["linkedin-post"]
    )
    generation = await pp.generations.wait(created, timeout=600)
    return str((generation.outputs or {})["linkedin"])


@pytest_asyncio.fixture
async def powerpost_fake(
    powerpost_clock: VirtualClock,
) -> AsyncIterator[FakePowerPost]:
    """Overrides the plugin's fixture (here or in a conftest.py)."""
    server = FakePowerPost(
        clock=powerpost_clock, processing=(30, 300), credits=100
    )
    yield server
    await server.aclose()


async def test_caption(
    powerpost_client: PowerPost, powerpost_clock: VirtualClock
) -> None:
    caption = await linkedin_caption(powerpost_client, "We shipped dark mode")
    assert "dark mode" in caption
    assert powerpost_clock() >= 30  # minutes of polling, in virtual time


async def test_failed_generation_is_refunded(
    powerpost_clock: VirtualClock,
) -> None:
    server = FakePowerPost(clock=powerpost_clock, failure_rate=1.0)
    async with server.client() as pp:
        with pytest.raises(GenerationFailedError):
            await linkedin_caption(pp, "We shipped dark mode")
    assert server.balance() == 1000


async def test_create_is_never_sent_twice(
    powerpost_fake: FakePowerPost, powerpost_client: PowerPost
) -> None:
    # PowerPost did the work (and charged), then answered 502.
    powerpost_fake.faults.script(
        Fault.server_error(502, executed=True), on="create"
    )
    with pytest.raises(InternalServerError):
        await linkedin_caption(powerpost_client, "We shipped dark mode")
    assert powerpost_fake.requests.count(endpoint="create") == 1
    assert powerpost_fake.balance() == 90  # charged once
