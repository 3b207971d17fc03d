"""The suite really runs with asyncio's debug mode on, and with warnings as errors."""

from __future__ import annotations

import asyncio
import warnings

import pytest


async def test_the_event_loop_is_in_debug_mode() -> None:
    # pytest-asyncio sets the flag on the loops it makes, whatever PYTHONASYNCIODEBUG says:
    # pyproject.toml's asyncio_debug = true is what turns it on.
    assert asyncio.get_running_loop().get_debug()


async def test_debug_mode_checks_are_active() -> None:
    # Not just the flag: only a loop in debug mode refuses call_soon from another thread.
    loop = asyncio.get_running_loop()

    def from_another_thread() -> None:
        with pytest.raises(RuntimeError, match="Non-thread-safe operation"):
            loop.call_soon(lambda: None)

    await asyncio.to_thread(from_another_thread)


def test_warnings_are_errors() -> None:
    with pytest.raises(ResourceWarning):
        warnings.warn("an unclosed session", ResourceWarning, stacklevel=1)
