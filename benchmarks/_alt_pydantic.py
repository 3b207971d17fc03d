"""The API's shapes as pydantic v2 models, for context next to our converter.

Field for field the same as the SDK's attrs models, in pydantic's default (lax) mode:
its strict mode would refuse an ISO timestamp string handed over in a dict.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["PdGeneration", "PdPage"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PdYouTube(_Frozen):
    """YouTube's title and description."""

    title: str
    description: str


class PdError(_Frozen):
    """Why a generation failed."""

    code: str
    message: str


class PdGeneration(_Frozen):
    """One generation."""

    generation_id: str
    status: str
    created_at: datetime
    prompt: str | None = None
    platforms: tuple[str, ...] = ()
    research_mode: str | None = None
    credits_used: int = 0
    outputs: dict[str, str | PdYouTube] | None = None
    error: PdError | None = None


class PdSummary(_Frozen):
    """One list item."""

    generation_id: str
    status: str
    created_at: datetime
    prompt: str | None = None
    platforms: tuple[str, ...] = ()
    research_mode: str | None = None
    credits_used: int = 0


class PdPage(_Frozen):
    """One list page."""

    data: tuple[PdSummary, ...]
    next_cursor: str | None = None
    has_more: bool = False
