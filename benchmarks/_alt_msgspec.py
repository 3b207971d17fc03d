"""The API's shapes as msgspec Structs, to compare our converter with msgspec's decoder.

Field for field the same as the SDK's attrs models; ``status`` stays a plain string
because the SDK keeps unknown statuses, which a msgspec ``Enum`` would reject.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

__all__ = ["MsGeneration", "MsPage", "generation_decoder", "page_decoder"]


class MsYouTube(msgspec.Struct, frozen=True):
    """YouTube's title and description."""

    title: str
    description: str


class MsError(msgspec.Struct, frozen=True):
    """Why a generation failed."""

    code: str
    message: str


class MsGeneration(msgspec.Struct, frozen=True):
    """One generation."""

    generation_id: str
    status: str
    created_at: datetime
    prompt: str | None = None
    platforms: tuple[str, ...] = ()
    research_mode: str | None = None
    credits_used: int = 0
    outputs: dict[str, str | MsYouTube] | None = None
    error: MsError | None = None


class MsSummary(msgspec.Struct, frozen=True):
    """One list item."""

    generation_id: str
    status: str
    created_at: datetime
    prompt: str | None = None
    platforms: tuple[str, ...] = ()
    research_mode: str | None = None
    credits_used: int = 0


class MsPage(msgspec.Struct, frozen=True):
    """One list page."""

    data: tuple[MsSummary, ...]
    next_cursor: str | None = None
    has_more: bool = False


# Decoders built once, as an application using msgspec would keep them.
generation_decoder = msgspec.json.Decoder(MsGeneration)
page_decoder = msgspec.json.Decoder(MsPage)
