"""The attrs classes every API payload is structured into (see ``_converter.py``).

All are frozen and slotted. They are forward compatible: unknown fields are ignored,
unknown platforms and research modes are kept as they came, and an unknown status is
kept as a [`GenerationStatus`][powerpost_async.GenerationStatus] pseudo-member that is never
terminal.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Final, Generic, Literal, TypeVar, get_args

import attrs

__all__ = [
    "IN_FLIGHT",
    "KNOWN_PLATFORMS",
    "KNOWN_POST_TYPES",
    "KNOWN_RESEARCH_MODES",
    "CreatedGeneration",
    "Credits",
    "Generation",
    "GenerationError",
    "GenerationStatus",
    "GenerationSummary",
    "Output",
    "Page",
    "PostType",
    "ResearchMode",
    "YouTubeOutput",
]

T = TypeVar("T")

#: Platforms documented today. Others may appear and are kept as they come.
KNOWN_PLATFORMS = frozenset({"instagram", "tiktok", "youtube", "x", "facebook", "linkedin"})

#: A post type ``create`` accepts today (editors complete them; ``create`` also takes
#: a type added since, with a warning).
PostType = Literal[
    "instagram-feed",
    "instagram-reel",
    "instagram-story",
    "tiktok-video",
    "tiktok-photos",
    "youtube-video",
    "youtube-short",
    "x-post",
    "facebook-post",
    "facebook-reel",
    "facebook-story",
    "linkedin-post",
]

#: Every post type documented today, in the documentation's order.
KNOWN_POST_TYPES: tuple[str, ...] = get_args(PostType)

#: How deep ``create`` researches: ``"deep"`` takes longer and costs more.
ResearchMode = Literal["regular", "deep"]

#: Every research mode documented today.
KNOWN_RESEARCH_MODES: tuple[str, ...] = get_args(ResearchMode)


# Unknown status values remembered as pseudo-members (see GenerationStatus._missing_).
_MAX_UNKNOWN_STATUSES = 32
_MAX_CACHED_STATUS_LENGTH = 64


class GenerationStatus(str, enum.Enum):
    """Where a generation is in its life: ``pending -> processing -> completed | failed``.

    A status the SDK does not know yet (the API added one) is kept as a pseudo-member
    with that value; it compares equal to its string and is never terminal.
    """

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @classmethod
    def _missing_(cls, value: object) -> GenerationStatus | None:
        if not isinstance(value, str):
            return None
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value.upper()
        pseudo._value_ = value
        # Cache a few, so that GenerationStatus("x") is GenerationStatus("x"); not without
        # bound: statuses may come from untrusted input (a web app's query string).
        cached = cls._value2member_map_
        room = len(cached) < len(cls.__members__) + _MAX_UNKNOWN_STATUSES
        if room and len(value) <= _MAX_CACHED_STATUS_LENGTH:
            return cached.setdefault(value, pseudo)  # type: ignore[return-value]
        return pseudo

    @property
    def is_terminal(self) -> bool:
        """``True`` for ``completed`` and ``failed``: the generation will not change again."""
        return self is GenerationStatus.COMPLETED or self is GenerationStatus.FAILED

    @property
    def is_known(self) -> bool:
        """``False`` for a status this version of the SDK does not know."""
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return self._value_

    def __repr__(self) -> str:
        return f"<GenerationStatus.{self._name_}: {self._value_!r}>"


#: The statuses of a generation the API is still working on, in the order it goes through.
IN_FLIGHT: Final = (GenerationStatus.PENDING, GenerationStatus.PROCESSING)


@attrs.frozen
class YouTubeOutput:
    """The caption for YouTube, which has a title and a description.

    Attributes:
        title: The video title.
        description: The video description, hashtags included.
    """

    title: str
    description: str


#: What one platform's output is: a caption string, or a title + description.
Output = str | YouTubeOutput


@attrs.frozen
class GenerationError:
    """Why a generation failed.

    Attributes:
        code: A machine-readable code, e.g. ``"GENERATION_FAILED"``.
        message: A human-readable explanation.
    """

    code: str
    message: str


@attrs.frozen
class GenerationSummary:
    """A generation as the list endpoint returns it: no outputs, no error.

    Attributes:
        generation_id: The generation's id (a UUID string).
        status: Where it is: ``pending``, ``processing``, ``completed`` or ``failed``.
        created_at: When it was created (timezone-aware).
        prompt: The prompt it was created from (``None`` if made from media only).
        platforms: The platforms it writes for, e.g. ``("instagram", "x")``.
        research_mode: ``"regular"`` or ``"deep"`` (or a mode added since).
        credits_used: Credits charged; 0 once failed (failures are refunded).
    """

    generation_id: str
    status: GenerationStatus
    created_at: datetime
    prompt: str | None = None
    platforms: tuple[str, ...] = ()
    research_mode: str | None = None
    credits_used: int = 0


@attrs.frozen
class Generation:
    """One generation with its outputs (when completed) or error (when failed).

    Attributes:
        generation_id: The generation's id (a UUID string).
        status: Where it is: ``pending``, ``processing``, ``completed`` or ``failed``.
        created_at: When it was created (timezone-aware).
        prompt: The prompt it was created from (``None`` if made from media only).
        platforms: The platforms it writes for, e.g. ``("instagram", "x")``.
        research_mode: ``"regular"`` or ``"deep"`` (or a mode added since).
        credits_used: Credits charged; 0 once failed (failures are refunded).
        outputs: ``None`` unless the API sent outputs; otherwise one entry per platform:
            a caption ``str``, except ``youtube`` which is a
            [`YouTubeOutput`][powerpost_async.YouTubeOutput].
        error: ``None`` unless the generation failed.
    """

    generation_id: str
    status: GenerationStatus
    created_at: datetime
    prompt: str | None = None
    platforms: tuple[str, ...] = ()
    research_mode: str | None = None
    credits_used: int = 0
    outputs: Mapping[str, Output] | None = None
    error: GenerationError | None = None

    @property
    def is_terminal(self) -> bool:
        """``True`` once the generation is ``completed`` or ``failed``."""
        return self.status.is_terminal


@attrs.frozen
class CreatedGeneration:
    """What ``create`` returns: the new generation's id and what it cost.

    Attributes:
        generation_id: The new generation's id: pass it to ``wait`` or ``get``.
        status: Its status when created (usually ``processing``).
        credits_used: Credits charged for it (refunded if it fails).
        remaining_credits: The balance left after the charge.
        status_url: The API path to poll it at.
    """

    generation_id: str
    status: GenerationStatus
    credits_used: int
    remaining_credits: int | None = None
    status_url: str | None = None


@attrs.frozen
class Credits:
    """The account's credit balance.

    Attributes:
        balance: Credits left.
    """

    balance: int


@attrs.frozen
class Page(Generic[T]):
    """One page of a list: the items, and the cursor of the next page if there is one.

    Iterable, sized and indexable like its ``data``.

    Attributes:
        data: The items of this page, newest first.
        next_cursor: Pass it as ``cursor`` to get the next page (``None`` on the last).
        has_more: Whether there is a next page.
    """

    data: tuple[T, ...]
    next_cursor: str | None = None
    has_more: bool = False

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> T:
        return self.data[index]
