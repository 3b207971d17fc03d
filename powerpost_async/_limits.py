"""What the PowerPost API v1 documents about its requests: paths and limits, in one place.

The SDK checks its arguments against these before sending, and the fake
(``powerpost_async.testing``) enforces the same figures when it answers, so the two
cannot drift apart. Nothing here does anything: plain constants, no imports.
"""

from __future__ import annotations

__all__ = [
    "API_PREFIX",
    "CREDITS_PATH",
    "DEFAULT_PAGE_SIZE",
    "GENERATE_PATH",
    "GENERATIONS_PATH",
    "MAX_CTA_TEXT",
    "MAX_MEDIA_IDS",
    "MAX_PAGE_SIZE",
    "MAX_PROMPT",
    "MAX_SOURCE_URLS",
]

#: Every endpoint of the API lives under this path.
API_PREFIX = "/api/v1"
#: ``GET``: a page of generations; ``GET {GENERATIONS_PATH}/{id}``: one generation.
GENERATIONS_PATH = f"{API_PREFIX}/content/generations"
#: ``POST``: start a generation.
GENERATE_PATH = f"{API_PREFIX}/content/generate"
#: ``GET``: the account's credit balance.
CREDITS_PATH = f"{API_PREFIX}/account/credits"

#: Generations per list page when ``limit`` is not given, and the most a page may hold.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: Characters in a prompt, and in a call to action.
MAX_PROMPT = 2000
MAX_CTA_TEXT = 100
#: Items in ``source_urls`` and in ``media_ids``.
MAX_SOURCE_URLS = 10
MAX_MEDIA_IDS = 10
