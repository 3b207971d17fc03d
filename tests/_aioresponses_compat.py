"""aioresponses on aiohttp >= 3.14.

aiohttp 3.14 (a security release) added a required ``stream_writer`` argument to
``ClientResponse``, which aioresponses 0.7.x does not pass (pnuckowski/aioresponses#289).
aioresponses lets each mocked URL name its ``response_class``; this module supplies one
that fills the argument in, and an ``aioresponses`` whose ``add`` uses it by default.
Delete it once aioresponses ships the fix.
"""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import ClientResponse
from aioresponses import aioresponses as _aioresponses

NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(ClientResponse.__init__).parameters


class _FinishedWriter:
    """Stands for the writer of a request that was already sent (nothing more to write)."""

    output_size = 0


class CompatClientResponse(ClientResponse):
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        if NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", _FinishedWriter())
        super().__init__(method, url, **kwargs)


class aioresponses(_aioresponses):
    def add(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", CompatClientResponse)
        super().add(*args, **kwargs)
