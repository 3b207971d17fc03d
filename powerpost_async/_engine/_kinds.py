"""Job kinds: what the one waiting engine needs to know about each kind of job.

Caption generations, image generations, video generations and posts being published
are all jobs the API works on for a while: created, then read until they end. The
waiting engine (``_engine.py``), its registry, pollers, webhook feeding and fleet mode
are written once; a `JobKind` tells them how to read one kind: its id, whether it has
ended, how to count it in a progress report, and what error a wait raises when it
ended badly. Only caption generations have a list endpoint, so only they are swept;
the other kinds are polled per id (one poller per id, however many callers await it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Generic, TypeVar

import attrs

from powerpost_async._exceptions import (
    GenerationFailedError,
    ImageGenerationFailedError,
    PostFailedError,
    VideoGenerationFailedError,
)
from powerpost_async._limits import (
    GENERATIONS_PATH,
    IMAGE_GENERATIONS_PATH,
    POSTS_PATH,
    VIDEO_GENERATIONS_PATH,
)
from powerpost_async._models import (
    CreatedGeneration,
    CreatedImageGeneration,
    CreatedVideoGeneration,
    Generation,
    GenerationStatus,
    GenerationSummary,
    ImageGeneration,
    Post,
    PostAction,
    PostStatus,
    VideoGeneration,
)

__all__ = [
    "GENERATIONS",
    "IMAGES",
    "KINDS",
    "POSTS",
    "VIDEOS",
    "JobKind",
    "kind_of",
]

J = TypeVar("J")


@attrs.frozen(eq=False)
class JobKind(Generic[J]):
    """How the waiting engine reads one kind of job.

    Attributes:
        key: Short name: ``generations``, ``images``, ``videos``, ``posts`` (the fleet's
            namespace of its ids, the resource's attribute on the client).
        noun: In messages: ``"generation"``, ``"image generation"``...
        path: Where one is read (``GET {path}/{id}``), and listed for the kinds that
            sweep (``GET {path}?status=...``).
        model: The class a GET structures into.
        id_field: The attribute (and JSON field) holding the id.
        refs: Classes a caller may pass instead of an id (each has ``id_field``).
        sweeps: Whether it has a list endpoint the sweeper walks (only captions do).
        interval: Default first pause between polls, seconds.
        max_interval: Default longest pause between polls, seconds.
        category: Where a *finished* job counts in a progress report:
            ``"completed"`` or ``"failed"``.
        phase: Where an unfinished job counts: ``"pending"``, ``"processing"`` or
            ``"unknown"``.
        failure: The error a single ``wait`` raises for a finished job, or ``None``.
        terminal: Whether a job read has ended.
    """

    key: str
    noun: str
    path: str
    model: type[J]
    id_field: str
    refs: tuple[type, ...]
    sweeps: bool
    interval: float
    max_interval: float
    terminal: Callable[[Any], bool]
    category: Callable[[Any], str]
    phase: Callable[[Any], str]
    failure: Callable[[Any], Exception | None]

    @property
    def plural(self) -> str:
        return self.noun + "s"

    def id_of(self, job: Any) -> str:
        """The id of a job (or of anything of ``refs``)."""
        return getattr(job, self.id_field)  # type: ignore[no-any-return]

    def fleet_id(self, job_id: str) -> str:
        """The id as the fleet's coordinator knows it: other kinds' ids never clash
        with caption generation ids (which keep their bare form)."""
        return job_id if self.key == "generations" else f"{self.key}:{job_id}"


def _generation_phase(job: Any) -> str:
    status = job.status
    if status is GenerationStatus.PENDING:
        return "pending"
    if status is GenerationStatus.PROCESSING:
        return "processing"
    return "unknown"


def _completed_if(status: Any) -> Callable[[Any], str]:
    return lambda job: "completed" if job.status is status else "failed"


def _raises_if_failed(error: Callable[[Any], Exception]) -> Callable[[Any], Exception | None]:
    """The ``failure`` of a generation kind: ``error(job)`` once the job is ``failed``."""
    return lambda job: error(job) if job.status is GenerationStatus.FAILED else None


def _post_failed(post: Post) -> bool:
    return post.status is PostStatus.FAILED or bool(post.failed_items)


def _post_failure(post: Post) -> Exception | None:
    return PostFailedError(post) if _post_failed(post) else None


def _post_category(post: Post) -> str:
    return "failed" if _post_failed(post) else "completed"


def _post_phase(post: Post) -> str:
    status = post.status
    if status is PostStatus.DRAFT or status is PostStatus.SCHEDULED:
        return "pending"
    if status is PostStatus.PUBLISHING or status is PostStatus.PUBLISHED:
        return "processing"
    return "unknown"


#: Caption generations: swept through their list, polled when few are awaited.
GENERATIONS: Final[JobKind[Generation]] = JobKind(
    key="generations",
    path=GENERATIONS_PATH,
    noun="generation",
    model=Generation,
    id_field="generation_id",
    refs=(CreatedGeneration, Generation, GenerationSummary),
    sweeps=True,
    interval=2.0,
    max_interval=10.0,
    terminal=lambda job: job.status.is_terminal,
    category=_completed_if(GenerationStatus.COMPLETED),
    phase=_generation_phase,
    failure=_raises_if_failed(GenerationFailedError),
)

#: Image generations: no list endpoint; polled per id (the docs advise every 2-3 s).
IMAGES: Final[JobKind[ImageGeneration]] = JobKind(
    key="images",
    path=IMAGE_GENERATIONS_PATH,
    noun="image generation",
    model=ImageGeneration,
    id_field="image_generation_id",
    refs=(CreatedImageGeneration, ImageGeneration),
    sweeps=False,
    interval=2.0,
    max_interval=10.0,
    terminal=lambda job: job.status.is_terminal,
    category=_completed_if(GenerationStatus.COMPLETED),
    phase=_generation_phase,
    failure=_raises_if_failed(ImageGenerationFailedError),
)

#: Video generations: minutes long; polled per id, less often (the docs: every 10 s).
VIDEOS: Final[JobKind[VideoGeneration]] = JobKind(
    key="videos",
    path=VIDEO_GENERATIONS_PATH,
    noun="video generation",
    model=VideoGeneration,
    id_field="video_generation_id",
    refs=(CreatedVideoGeneration, VideoGeneration),
    sweeps=False,
    interval=5.0,
    max_interval=20.0,
    terminal=lambda job: job.status.is_terminal,
    category=_completed_if(GenerationStatus.COMPLETED),
    phase=_generation_phase,
    failure=_raises_if_failed(VideoGenerationFailedError),
)

#: Posts being published: polled per id until every item is posted or failed.
POSTS: Final[JobKind[Post]] = JobKind(
    key="posts",
    path=POSTS_PATH,
    noun="post",
    model=Post,
    id_field="post_id",
    refs=(Post, PostAction),
    sweeps=False,
    interval=3.0,
    max_interval=15.0,
    terminal=lambda post: post.is_terminal,
    category=_post_category,
    phase=_post_phase,
    failure=_post_failure,
)

#: Every kind, by key.
KINDS: Final[dict[str, JobKind[Any]]] = {
    kind.key: kind for kind in (GENERATIONS, IMAGES, VIDEOS, POSTS)
}

_BY_MODEL: Final[dict[type, JobKind[Any]]] = {kind.model: kind for kind in KINDS.values()}


def kind_of(job: object) -> JobKind[Any] | None:
    """The kind of a job read from the API (``None``: not a job)."""
    return _BY_MODEL.get(type(job))
