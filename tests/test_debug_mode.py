"""The suite really runs with asyncio's debug mode on, and with warnings as errors."""

from __future__ import annotations

import asyncio
import warnings

import pytest


async def test_the_event_loop_is_in_debug_mode() -> None:
    # pytest-asyncio sets the flag on the loops it makes, whatever PYTHONASYNCIODEBUG says:
    # pyproject.toml's asyncio_debug = true is what turns it on.
    assert asyncio.get_running_loop().get_debug()


def test_warnings_are_errors() -> None:
    with pytest.raises(ResourceWarning):
        warnings.warn("an unclosed session", ResourceWarning, stacklevel=1)
