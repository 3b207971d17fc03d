"""The bodies the benchmark server serves, shared with the in-process benchmarks.

Everything is deterministic (no randomness, no clock), so two runs structure exactly the
same bytes and the in-process structuring benchmark measures what the HTTP ones fetch.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Final

__all__ = [
    "API_KEY",
    "GENERATION",
    "GENERATIONS_PATH",
    "GENERATION_ID",
    "PAGE_SIZE",
    "TOTAL_PAGES",
    "WORKSPACE_ID",
    "dump",
    "generation_body",
    "page",
    "page_body",
]

GENERATIONS_PATH: Final = "/api/v1/content/generations"
GENERATION_ID: Final = "550e8400-e29b-41d4-a716-446655440000"
API_KEY: Final = "pp_live_sk_benchmark0000000000000000"
WORKSPACE_ID: Final = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

#: Summaries per list page, and pages in the full chain (100 x 1,000 = 100,000 records).
PAGE_SIZE: Final = 100
TOTAL_PAGES: Final = 1_000

#: A completed generation as GET /content/generations/{id} returns it: the documented
#: example (emoji included, so decoding exercises non-ASCII UTF-8) plus a YouTube
#: output, so the converter's title/description branch runs too. 781 bytes encoded.
GENERATION: Final[dict[str, Any]] = {
    "generation_id": GENERATION_ID,
    "status": "completed",
    "prompt": "We just shipped dark mode",
    "platforms": ["tiktok", "instagram", "youtube"],
    "research_mode": "regular",
    "credits_used": 10,
    "created_at": "2026-01-10T18:30:00Z",
    "outputs": {
        "tiktok": (
            "🌙 Dark mode activated! POV: your eyes at 2am finally getting some relief... "
            "#darkmode #tech #appupdate"
        ),
        "instagram": (
            "✨ Dark mode is here!\n\nYour late-night scrolling just got easier on the "
            "eyes... #DarkMode #ProductUpdate"
        ),
        "youtube": {
            "title": "We Just Shipped Dark Mode",
            "description": (
                "Dark mode is finally here across all our apps. We walk through the new "
                "look, how to switch it on, and why your battery will thank you tonight. "
                "Tap the moon icon in Settings to give it a go today. "
                "#darkmode #productupdate #tech"
            ),
        },
    },
}

_STATUSES: Final = ("completed", "completed", "completed", "failed", "processing")
_PLATFORM_SETS: Final = (
    ["tiktok", "instagram"],
    ["x", "facebook"],
    ["linkedin"],
    ["youtube", "instagram", "x"],
)
_PROMPTS: Final = (
    "We just shipped dark mode",
    "New feature: AI-powered search",
    "Behind the scenes of our spring launch",
    "Five tips for writing better release notes",
)
_EPOCH: Final = datetime(2026, 1, 10, 18, 30, tzinfo=timezone.utc)


def dump(obj: Any) -> bytes:
    """Compact UTF-8 JSON, as an API server would send it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def generation_body() -> bytes:
    """The encoded :data:`GENERATION`."""
    return dump(GENERATION)


def _summary(index: int) -> dict[str, Any]:
    # Newest first, like the API: record 0 is the most recent.
    created = _EPOCH - timedelta(minutes=7 * index)
    return {
        "generation_id": f"{index:08x}-e29b-41d4-a716-446655440000",
        "status": _STATUSES[index % len(_STATUSES)],
        "prompt": _PROMPTS[index % len(_PROMPTS)],
        "platforms": _PLATFORM_SETS[index % len(_PLATFORM_SETS)],
        "research_mode": "deep" if index % 3 == 0 else "regular",
        "credits_used": 15 if index % 3 == 0 else 10,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def page(number: int, pages: int = TOTAL_PAGES, size: int = PAGE_SIZE) -> dict[str, Any]:
    """List page ``number`` (0-based) of a chain of ``pages``; its cursor is the page number.

    The first page is what a request without a cursor gets; page ``n`` points at ``n + 1``
    through ``next_cursor`` until the last, which has ``next_cursor: null``.
    """
    last = number >= pages - 1
    first_index = number * size
    return {
        "data": [_summary(first_index + i) for i in range(size)],
        "next_cursor": None if last else str(number + 1),
        "has_more": not last,
    }


def page_body(number: int, pages: int = TOTAL_PAGES, size: int = PAGE_SIZE) -> bytes:
    """The encoded :func:`page`."""
    return dump(page(number, pages, size))
