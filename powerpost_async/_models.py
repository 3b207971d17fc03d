"""The attrs classes every API payload is structured into (see ``_converter.py``).

All are frozen and slotted. They are forward compatible: unknown fields are ignored,
unknown platforms and research modes are kept as they came, and an unknown status is
kept as a [`GenerationStatus`][powerpost_async.GenerationStatus] pseudo-member that is never
terminal.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from typing import Any, Final, Generic, Literal, TypeVar, get_args

import attrs

__all__ = [
    "IN_FLIGHT",
    "KNOWN_PLATFORMS",
    "KNOWN_POST_TYPES",
    "KNOWN_RESEARCH_MODES",
    "CalendarEntry",
    "CreatedGeneration",
    "CreatedImageGeneration",
    "CreatedVideoGeneration",
    "Credits",
    "GeneratedImage",
    "GeneratedVideo",
    "Generation",
    "GenerationError",
    "GenerationStatus",
    "GenerationSummary",
    "ImageGeneration",
    "ItemAnalytics",
    "Media",
    "Metrics",
    "Output",
    "Page",
    "Post",
    "PostAction",
    "PostItem",
    "PostItemStatus",
    "PostStatus",
    "PostType",
    "ResearchMode",
    "VideoGeneration",
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


class _OpenStatus(str, enum.Enum):
    """A status enum that keeps values it does not know (see `GenerationStatus`)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
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
            return cached.setdefault(value, pseudo)
        return pseudo

    @property
    def is_known(self) -> bool:
        """``False`` for a status this version of the SDK does not know."""
        return self._name_ in type(self).__members__

    def __str__(self) -> str:
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self._name_}: {self._value_!r}>"


class GenerationStatus(_OpenStatus):
    """Where a generation is in its life: ``pending -> processing -> completed | failed``.

    Image and video generations go through the same statuses.

    A status the SDK does not know yet (the API added one) is kept as a pseudo-member
    with that value; it compares equal to its string and is never terminal.
    """

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """``True`` for ``completed`` and ``failed``: the generation will not change again."""
        return self is GenerationStatus.COMPLETED or self is GenerationStatus.FAILED


class PostStatus(_OpenStatus):
    """Where a post is: ``draft -> [scheduled ->] publishing -> published | failed``.

    ``cancel_publish`` turns a scheduled (or not yet started) post back into a draft.
    Unknown statuses are kept, as for `GenerationStatus`, and are never terminal.
    """

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """``True`` for ``published`` and ``failed``."""
        return self is PostStatus.PUBLISHED or self is PostStatus.FAILED


class PostItemStatus(_OpenStatus):
    """Where one item of a post (one platform) is: ``draft -> posting -> posted | failed``."""

    DRAFT = "draft"
    POSTING = "posting"
    POSTED = "posted"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        """``True`` for ``posted`` and ``failed``."""
        return self is PostItemStatus.POSTED or self is PostItemStatus.FAILED


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


# -- media, images, videos, posts, analytics, calendar ----------------------------------------
#
# These endpoints are documented only in part (see docs/concepts/api.md): every model below
# keeps the fields it does not know in ``extra``, as received, and fields the pages did not
# show are optional.


@attrs.frozen
class Media:
    """An uploaded (or generated) image or video of the workspace.

    Attributes:
        media_id: Its id: pass it in ``media_ids``, ``style_images`` or ``source_image``.
        type: ``"image"`` or ``"video"``.
        file_name: The uploaded file's name.
        file_size: Its size in bytes.
        mime_type: E.g. ``"image/jpeg"``.
        created_at: When it was uploaded.
        extra: Fields of the answer this SDK does not know, as received.
    """

    media_id: str
    type: str
    file_name: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    created_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class CreatedImageGeneration:
    """What ``images.generate`` returns: the new job's id and what it cost.

    Attributes:
        image_generation_id: Pass it to ``images.wait`` or ``images.get``.
        status: Its status when created (usually ``processing``).
        credits_used: Credits charged (partly refunded for images that fail).
        remaining_credits: The balance left after the charge.
        status_url: The API path to poll it at.
        extra: Fields this SDK does not know, as received.
    """

    image_generation_id: str
    status: GenerationStatus
    credits_used: int = 0
    remaining_credits: int | None = None
    status_url: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class GeneratedImage:
    """One image made by an image generation.

    Attributes:
        media_id: The image as media of the workspace: use it in posts (never the URL).
        url: A preview URL, valid for 7 days.
        thumbnail_url: A smaller preview.
        width: Pixels.
        height: Pixels.
    """

    media_id: str
    url: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None


@attrs.frozen
class ImageGeneration:
    """An image generation, with the images made so far.

    A generation where some images failed ends ``failed`` yet keeps the images that
    were made in ``images`` (and only those were charged).

    Attributes:
        image_generation_id: Its id.
        status: ``pending``, ``processing``, ``completed`` or ``failed``.
        created_at: When it was created.
        prompt: The prompt (derived from the captions in post mode).
        size: ``square``, ``feed``, ``portrait`` or ``landscape``.
        quantity: Images asked for.
        model: The model, e.g. ``"flux2-flex"``.
        generation_id: The caption generation it was made from (post mode).
        credits_used: Credits charged, when the API says.
        images: The images made.
        error: Why it failed, when it did.
        extra: Fields this SDK does not know, as received.
    """

    image_generation_id: str
    status: GenerationStatus
    created_at: datetime | None = None
    prompt: str | None = None
    size: str | None = None
    quantity: int | None = None
    model: str | None = None
    generation_id: str | None = None
    credits_used: int | None = None
    images: tuple[GeneratedImage, ...] = ()
    error: GenerationError | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def is_terminal(self) -> bool:
        """``True`` once ``completed`` or ``failed``."""
        return self.status.is_terminal

    @property
    def media_ids(self) -> tuple[str, ...]:
        """The ``media_id`` of every image made, in order."""
        return tuple(image.media_id for image in self.images)


@attrs.frozen
class CreatedVideoGeneration:
    """What ``videos.generate`` returns: the new job's id and what it cost.

    Attributes:
        video_generation_id: Pass it to ``videos.wait`` or ``videos.get``.
        status: Its status when created (usually ``processing``).
        credits_used: Credits charged (refunded if it fails).
        remaining_credits: The balance left after the charge.
        status_url: The API path to poll it at.
        extra: Fields this SDK does not know, as received.
    """

    video_generation_id: str
    status: GenerationStatus
    credits_used: int = 0
    remaining_credits: int | None = None
    status_url: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class GeneratedVideo:
    """The video made by a video generation.

    Attributes:
        media_id: The video as media of the workspace: use it in posts.
        url: A preview URL, valid for 7 days.
        thumbnail_url: A still preview.
        width: Pixels.
        height: Pixels.
        duration: Seconds.
    """

    media_id: str
    url: str | None = None
    thumbnail_url: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None


@attrs.frozen
class VideoGeneration:
    """A video generation, with its video once completed.

    Attributes:
        video_generation_id: Its id.
        status: ``pending``, ``processing``, ``completed`` or ``failed``.
        created_at: When it was created.
        prompt: The prompt.
        size: ``landscape`` or ``portrait``.
        duration: Seconds asked for.
        has_audio: Whether it has sound.
        model: The model, e.g. ``"kling-3.0-pro"``.
        credits_used: Credits charged, when the API says (refunded if it failed).
        video: The video, once completed.
        error: Why it failed, e.g. ``VIDEO_GENERATION_FAILED``.
        extra: Fields this SDK does not know, as received.
    """

    video_generation_id: str
    status: GenerationStatus
    created_at: datetime | None = None
    prompt: str | None = None
    size: str | None = None
    duration: int | None = None
    has_audio: bool | None = None
    model: str | None = None
    credits_used: int | None = None
    video: GeneratedVideo | None = None
    error: GenerationError | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def is_terminal(self) -> bool:
        """``True`` once ``completed`` or ``failed``."""
        return self.status.is_terminal


@attrs.frozen
class PostItem:
    """One platform's part of a post.

    Attributes:
        item_id: Its id: pass it to ``analytics.item``.
        post_type: E.g. ``"instagram-feed"``.
        status: ``draft``, ``posting``, ``posted`` or ``failed``.
        platform: The platform, derived from the post type.
        content: The caption.
        title: The title (YouTube), when the API echoes it.
        media_ids: The media attached.
        platform_post_id: The platform's own id of the post, once posted.
        posted_at: When it went out, when the API says.
        error: Why it failed, when it did and the API says.
        extra: Fields this SDK does not know, as received.
    """

    item_id: str
    post_type: str
    status: PostItemStatus
    platform: str | None = None
    content: str | None = None
    title: str | None = None
    media_ids: tuple[str, ...] = ()
    platform_post_id: str | None = None
    posted_at: datetime | None = None
    error: GenerationError | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class Post:
    """A post: one item per post type, created as a draft, then published or scheduled.

    Attributes:
        post_id: Its id.
        status: ``draft``, ``scheduled``, ``publishing``, ``published`` or ``failed``.
        created_at: When it was created.
        generation_id: The caption generation its captions came from, if any.
        scheduled_at: When it is scheduled to publish, if it is.
        items: Its items, each with its own status.
        extra: Fields this SDK does not know, as received.
    """

    post_id: str
    status: PostStatus
    created_at: datetime | None = None
    generation_id: str | None = None
    scheduled_at: datetime | None = None
    items: tuple[PostItem, ...] = ()
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def is_terminal(self) -> bool:
        """``True`` once publishing is over: every item ``posted`` or ``failed`` (or the
        post itself ``failed``). A draft or a scheduled post is not terminal."""
        if self.status is PostStatus.FAILED:
            return True
        if self.items:
            return all(item.status.is_terminal for item in self.items)
        return self.status.is_terminal

    @property
    def failed_items(self) -> tuple[PostItem, ...]:
        """The items that failed."""
        return tuple(item for item in self.items if item.status is PostItemStatus.FAILED)

    @property
    def posted_items(self) -> tuple[PostItem, ...]:
        """The items that went out."""
        return tuple(item for item in self.items if item.status is PostItemStatus.POSTED)


@attrs.frozen
class PostAction:
    """What ``publish``, ``schedule`` and ``cancel_publish`` return.

    Attributes:
        post_id: The post.
        status: Its status now: ``publishing``, ``scheduled`` or ``draft``.
        status_url: The API path to poll it at, when the API says.
        scheduled_at: When it will publish (``schedule``), when the API says.
        credits_used: Older API versions charged on ``publish`` and said so here;
            today the charge is per posted item, in the background (``None``).
        extra: Fields this SDK does not know, as received.
    """

    post_id: str
    status: PostStatus
    status_url: str | None = None
    scheduled_at: datetime | None = None
    credits_used: int | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class Metrics:
    """A posted item's numbers, refreshed once a day for 90 days after posting.

    Attributes:
        views: Views or impressions (0 if the platform does not report them).
        likes: Likes or reactions.
        comments: Comments.
        fetched_at: When they were read from the platform.
        extra: Metrics this SDK does not know, as received.
    """

    views: int = 0
    likes: int = 0
    comments: int = 0
    fetched_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class ItemAnalytics:
    """The analytics of one post item.

    Attributes:
        post_item_id: The item.
        status: The item's status.
        post_type: Its post type.
        platform: Its platform.
        metrics: ``None`` until the item is posted and its numbers first read.
        extra: Fields this SDK does not know, as received.
    """

    post_item_id: str
    status: PostItemStatus
    post_type: str | None = None
    platform: str | None = None
    metrics: Metrics | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen
class CalendarEntry:
    """A planning entry of the content calendar (not a post).

    Attributes:
        entry_id: Its id.
        title: Its title.
        scheduled_date: The day it is planned for.
        description: Notes, if any.
        scheduled_time: The time of day (24 h, no time zone), if any.
        platforms: The platforms it is planned for.
        created_at: When it was created.
        updated_at: When it was last changed.
        extra: Fields this SDK does not know, as received.
    """

    entry_id: str
    title: str
    scheduled_date: date
    description: str | None = None
    scheduled_time: time | None = None
    platforms: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
