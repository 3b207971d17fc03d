"""The fake API beyond captions: media, images, videos, posts, analytics, calendar, scopes.

`More` holds that state and answers those endpoints for `Core`, which routes to it
(`route()`), checks every request's scope through it (`More.authorize`) and settles
its clock-driven work at the start of every request and peek (`More.settle`).

As with caption generations, nothing works in the background: an image or video
generation's schedule and outcome are drawn when it is made and read off the clock;
a post's publishing run is laid out when it starts (each item ``post_duration``
seconds, one after another, after the server's ``pending`` delay) and its credits are
charged, and scheduled posts started, by `More.settle` in time order.

Where the API documentation is silent the fake follows ``contract13.md``; further
choices of its own are marked "fake's choice" below and listed in
``docs/recipes/testing.md``.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from powerpost_async import KNOWN_POST_TYPES, YouTubeOutput
from powerpost_async._limits import (
    CALENDAR_PLATFORMS,
    IMAGE_FORMATS,
    IMAGE_GENERATIONS_PATH,
    IMAGE_MODELS,
    IMAGE_SIZES,
    MAX_CALENDAR_RANGE_DAYS,
    MAX_ENTRY_DESCRIPTION,
    MAX_ENTRY_TITLE,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PROMPT,
    MAX_POST_ITEMS,
    MAX_QUANTITY,
    MAX_SCHEDULE_DAYS,
    MAX_SCHEDULED_POSTS,
    MAX_STYLE_IMAGES,
    MAX_VIDEO_BYTES,
    MEDIA_EXTENSIONS,
    MEDIA_FORMATS,
    MEDIA_TYPE_ALIASES,
    MEDIA_TYPES,
    POSTS_PATH,
    SCOPES,
    TITLED_POST_TYPES,
    VIDEO_FORMATS,
    VIDEO_GENERATIONS_PATH,
    VIDEO_MODELS,
    VIDEO_SIZES,
    describe_format,
    identify_format,
)
from powerpost_async.testing._core import (
    _ApiError,
    _draw,
    _Generation,
    _iso,
    _outputs,
    loads,
)
from powerpost_async.testing._multipart import Upload
from powerpost_async.testing._routes import ENDPOINT_SCOPES

if TYPE_CHECKING:
    from powerpost_async.testing._core import Core

__all__ = ["IMAGE_COSTS", "VIDEO_COSTS", "More"]

#: Credits per image, by model; per second of video, by model (audio: +25%, rounded up).
IMAGE_COSTS: Mapping[str, int] = {
    "flux2-flex": 5,
    "ideogram-3": 6,
    "nano-banana-2": 6,
    "gpt-image-2": 14,
    "gpt-image-1.5": 14,
}
VIDEO_COSTS: Mapping[str, int] = {"kling-3.0-pro": 4, "veo-3.1": 8, "runway-gen-4.5": 3}
#: Publishing: per publish action, and on top for an X item (charged as items post).
PUBLISH_COST = 1
X_SURCHARGE = 3
DEFAULT_IMAGE_MODEL = "flux2-flex"
DEFAULT_VIDEO_MODEL = "kling-3.0-pro"
DEFAULT_STORAGE_QUOTA = 10 * 1024**3
DEFAULT_POST_DURATION = 3.0

# The fake's choices: pixel sizes, a CDN host that cannot resolve, trigger words.
_IMAGE_PIXELS = {
    "square": (1024, 1024),
    "feed": (1080, 1350),
    "portrait": (1080, 1920),
    "landscape": (1920, 1080),
}
_VIDEO_PIXELS = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
_CDN = "https://cdn.powerpost.invalid"
FAIL_WORD = "[fail]"
PARTIAL_WORD = "[partial]"
_IMAGE_FAILURE = "IMAGE_GENERATION_FAILED"
_VIDEO_FAILURE = "VIDEO_GENERATION_FAILED"
_STATUSES = ("pending", "processing", "completed", "failed")
POST_STATUSES = ("draft", "scheduled", "publishing", "published", "failed")
_MAX_ANALYTICS_DAYS = 90
_DAY = 86400.0

# -- state ---------------------------------------------------------------------------------


@attrs.define(eq=False)
class _ImageJob:
    image_generation_id: str
    workspace_id: str
    account: str
    prompt: str
    size: str
    quantity: int
    model: str
    generation_id: str | None
    created_at: str
    price: int  # per image
    starts: float
    ends: float
    fails: list[bool]  # per image
    media_ids: list[str]
    refunded: bool = False

    @property
    def cost(self) -> int:
        return self.price * self.quantity

    def status(self, now: float) -> str:
        if now < self.starts:
            return "pending"
        if now < self.ends:
            return "processing"
        return "failed" if any(self.fails) else "completed"

    def credits_used(self, now: float) -> int:
        if now < self.ends:
            return self.cost
        return self.price * self.fails.count(False)


@attrs.define(eq=False)
class _VideoJob:
    video_generation_id: str
    workspace_id: str
    account: str
    prompt: str
    size: str
    duration: int
    has_audio: bool
    model: str
    created_at: str
    cost: int
    starts: float
    ends: float
    fails: bool
    media_id: str
    refunded: bool = False

    def status(self, now: float) -> str:
        if now < self.starts:
            return "pending"
        if now < self.ends:
            return "processing"
        return "failed" if self.fails else "completed"

    def credits_used(self, now: float) -> int:
        return 0 if self.status(now) == "failed" else self.cost


@attrs.define(eq=False)
class _Media:
    media_id: str
    workspace_id: str
    type: str  # image | video
    file_name: str
    file_size: int
    mime_type: str
    created: float  # server clock (generated media: when its job ends)
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    image_job: _ImageJob | None = None
    index: int = 0  # which image of image_job
    video_job: _VideoJob | None = None

    @property
    def uploaded(self) -> bool:
        return self.image_job is None and self.video_job is None

    def ready_at(self) -> float:
        if self.image_job is not None:
            return self.image_job.ends
        if self.video_job is not None:
            return self.video_job.ends
        return self.created

    def available(self, now: float) -> bool:
        """Whether it exists by ``now`` (a generated one: once its job made it)."""
        if self.image_job is not None:
            job = self.image_job
            return now >= job.ends and not job.fails[self.index]
        if self.video_job is not None:
            return self.video_job.status(now) == "completed"
        return True


@attrs.define(eq=False)
class _Item:
    item_id: str
    post_type: str
    platform: str
    content: str
    title: str | None
    media_ids: list[str]


@attrs.define(eq=False)
class _Run:
    """One publishing run of a post: when its items post, and how each ends."""

    start: float  # the first item starts posting
    duration: float  # seconds per item
    errors: list[dict[str, str] | None]  # per item: None posts, else its error
    platform_post_ids: list[str]
    account: str
    charged: int = 0
    charged_base: bool = False

    @property
    def end(self) -> float:
        return self.start + self.duration * len(self.errors)

    def item_status(self, index: int, now: float) -> str:
        begins = self.start + self.duration * index
        if now < begins:
            return "draft"
        if now < begins + self.duration:
            return "posting"
        return "failed" if self.errors[index] is not None else "posted"

    def posted_at(self, index: int) -> float:
        return self.start + self.duration * (index + 1)


@attrs.define(eq=False)
class _Post:
    post_id: str
    workspace_id: str
    generation_id: str | None
    created_at: str
    items: list[_Item]
    state: str = "draft"  # draft | scheduled | run
    scheduled: float | None = None  # server clock
    scheduled_at: str | None = None
    run: _Run | None = None
    epoch: int = 0  # bumped when a schedule or run is cancelled: its events go stale

    def status(self, now: float) -> str:
        if self.run is None:
            return self.state
        if now < self.run.end:
            return "publishing"
        return "published" if None in self.run.errors else "failed"


@attrs.define(eq=False)
class _Entry:
    entry_id: str
    workspace_id: str
    title: str
    description: str | None
    scheduled_date: str
    scheduled_time: str | None
    platforms: list[str]
    created_at: str
    updated_at: str
    seq: int


# (time, seq, epoch of the post when pushed, post, "start" or "item", item index, key)
_Event = tuple[float, int, int, _Post, str, int, str]


def _image_error(failed: int, quantity: int) -> dict[str, str]:
    if failed == quantity:
        message = "Failed to generate the images. Your credits have been refunded."
    else:
        message = (
            f"{failed} of {quantity} images failed to generate; their credits have been refunded."
        )
    return {"code": _IMAGE_FAILURE, "message": message}


_VIDEO_ERROR = {
    "code": _VIDEO_FAILURE,
    "message": "Failed to generate the video. Your credits have been refunded.",
}


class More:
    """The state and handlers of every endpoint beyond captions (see the module doc)."""

    def __init__(
        self,
        core: Core,
        *,
        seed: int,
        scopes: Mapping[str, Iterable[str]] | None,
        storage_quota: int,
        image_failure_rate: float,
        post_duration: float,
        connected_platforms: Mapping[str, Iterable[str]] | None,
    ) -> None:
        self._core = core
        self.scopes = _check_scopes(scopes, core.workspaces)
        if isinstance(storage_quota, bool) or not isinstance(storage_quota, int):
            raise TypeError(f"storage_quota must be an int of bytes, got {storage_quota!r}")
        if storage_quota < 0:
            raise ValueError(f"storage_quota must be >= 0 bytes, got {storage_quota!r}")
        self.storage_quota = storage_quota
        if not 0.0 <= image_failure_rate <= 1.0:
            raise ValueError(
                f"image_failure_rate must be between 0 and 1, got {image_failure_rate!r}"
            )
        self.image_failure_rate = image_failure_rate
        if not 0 <= post_duration < math.inf:
            raise ValueError(f"post_duration must be seconds >= 0, got {post_duration!r}")
        self.post_duration = float(post_duration)
        self._connected: dict[str, set[str]] = {}
        for workspace, platforms in (connected_platforms or {}).items():
            self._connected[workspace] = set(_check_platforms(platforms))
        # Streams of their own, so that the caption generations' ids never shift.
        self._media_ids = random.Random(f"{seed}/media")
        self._images = random.Random(f"{seed}/images")
        self._videos = random.Random(f"{seed}/videos")
        self._posts_random = random.Random(f"{seed}/posts")
        self._calendar_ids = random.Random(f"{seed}/calendar")
        self._seed = seed
        self.media: dict[str, _Media] = {}
        self.image_jobs: dict[str, _ImageJob] = {}
        self.video_jobs: dict[str, _VideoJob] = {}
        self.posts: dict[str, _Post] = {}
        self._items: dict[str, tuple[_Post, int]] = {}
        self.entries: dict[str, _Entry] = {}
        self._stored: Counter[str] = Counter()  # bytes uploaded, per workspace
        self._unrefunded: list[_ImageJob | _VideoJob] = []
        self._events: list[_Event] = []
        self._seq = 0  # orders events of the same time, and calendar entries

    # -- scopes and connections -----------------------------------------------------------

    def authorize(self, key: str, endpoint: str) -> None:
        """Raise 403 INSUFFICIENT_SCOPE if ``key`` lacks the scope ``endpoint`` needs."""
        scope = ENDPOINT_SCOPES[endpoint]
        held = self.scopes.get(key)
        if held is not None and scope not in held:
            raise _api_error(
                403,
                "INSUFFICIENT_SCOPE",
                f"This API key is missing the required scope: {scope}",
                required_scope=scope,
            )

    def connected(self, workspace: str) -> frozenset[str]:
        """The platforms connected in ``workspace``."""
        platforms = self._connected.get(workspace)
        return frozenset(CALENDAR_PLATFORMS) if platforms is None else frozenset(platforms)

    def set_connected(self, workspace: str, platforms: Iterable[str], connected: bool) -> None:
        """Connect (or disconnect) platforms in a workspace, from now on."""
        names = _check_platforms(platforms)
        self.settle(self._core._clock())
        current = self._connected.setdefault(workspace, set(CALENDAR_PLATFORMS))
        if connected:
            current.update(names)
        else:
            current.difference_update(names)

    # -- dispatch -------------------------------------------------------------------------

    def upload_limit(self, workspace: str | None, media_type: str | None) -> int:
        """File bytes worth reading for an upload of ``media_type`` into ``workspace``."""
        if media_type is not None and media_type not in MEDIA_TYPES:
            return 0
        most = MAX_IMAGE_BYTES if media_type == "image" else MAX_VIDEO_BYTES
        if workspace is None:
            return most
        return max(0, min(most, self.storage_quota - self._stored[workspace]))

    def execute(
        self,
        endpoint: str,
        target: str | None,
        key: str,
        workspace: str,
        query: Mapping[str, str],
        body: bytes | Upload,
        now: float,
    ) -> tuple[int, Any, str | None]:
        """Answer one request: ``(status, payload, id of the object made or read)``."""
        if endpoint == "upload":
            assert isinstance(body, Upload)
            payload = self._upload(workspace, body, now)
            return 200, payload, payload["media_id"]
        raw = body if isinstance(body, bytes) else b""
        if endpoint == "image_create":
            payload = self._image_create(key, workspace, raw, now)
            return 200, payload, payload["image_generation_id"]
        if endpoint == "image_get":
            job = self.image_jobs.get(target or "")
            if job is None or job.workspace_id != workspace:
                raise _not_found("Image generation not found")
            return 200, self._image_detail(job, now), target
        if endpoint == "video_create":
            payload = self._video_create(key, workspace, raw, now)
            return 200, payload, payload["video_generation_id"]
        if endpoint == "video_get":
            video = self.video_jobs.get(target or "")
            if video is None or video.workspace_id != workspace:
                raise _not_found("Video generation not found")
            return 200, self._video_detail(video, now), target
        if endpoint == "post_create":
            payload = self._post_create(workspace, raw, now)
            return 201, payload, payload["post_id"]
        if endpoint in ("post_get", "publish", "schedule", "cancel_publish"):
            post = self.posts.get(target or "")
            if post is None or post.workspace_id != workspace:
                raise _not_found("Post not found")
            if endpoint == "post_get":
                return 200, self._post_detail(post, now), target
            if endpoint == "publish":
                return 200, self._publish(key, post, now), target
            if endpoint == "schedule":
                return 200, self._schedule(key, post, raw, now), target
            return 200, self._cancel(post, now), target
        if endpoint == "analytics":
            return 200, self._analytics(workspace, target or "", now), target
        if endpoint == "calendar_list":
            return 200, self._calendar_list(workspace, query), None
        if endpoint == "calendar_create":
            made = self._calendar_create(workspace, raw, now)
            return 201, _entry(made), made.entry_id
        entry = self.entries.get(target or "")
        if entry is None or entry.workspace_id != workspace:
            raise _not_found("Calendar entry not found")
        if endpoint == "calendar_get":
            return 200, _entry(entry), target
        if endpoint == "calendar_update":
            return 200, _entry(self._calendar_update(entry, raw, now)), target
        del self.entries[entry.entry_id]
        return 200, {"success": True}, target

    # -- media ----------------------------------------------------------------------------

    def _upload(self, workspace: str, upload: Upload, now: float) -> dict[str, Any]:
        if upload.problem is not None:
            raise _invalid(f"Request body must be multipart/form-data: {upload.problem}")
        if upload.type is None:
            raise _invalid("type is required (image or video)")
        media_type = upload.type.strip()
        if media_type not in MEDIA_TYPES:
            raise _invalid(f"type must be one of {', '.join(MEDIA_TYPES)}")
        if not upload.has_file:
            raise _invalid("file is required")
        most = MAX_IMAGE_BYTES if media_type == "image" else MAX_VIDEO_BYTES
        if upload.size > most:
            raise _api_error(
                413,
                "FILE_TOO_LARGE",
                f"File too large: {media_type}s may be at most {most // 1024**2} MB ({most} bytes)",
            )
        stored = self._stored[workspace]
        if not upload.complete or stored + upload.size > self.storage_quota:
            raise _api_error(
                413,
                "STORAGE_QUOTA_EXCEEDED",
                "Storage quota exceeded: delete unused media to free space",
            )
        if upload.size == 0:
            raise _invalid("file is empty")
        # The content decides, as the SDK's own check does: a format the API does not
        # list (a HEIC, a GIF) is refused whatever the part's content type claims.
        found = identify_format(upload.head)
        mime = found or _declared(upload.content_type, upload.file_name)
        accepted = IMAGE_FORMATS if media_type == "image" else VIDEO_FORMATS
        if mime is None or mime not in accepted:
            names = ", ".join(MEDIA_FORMATS[m][1] for m in accepted)
            seen = "" if found is None else f" ({describe_format(found)})"
            raise _invalid(f"Unsupported {media_type} format{seen}: accepted are {names}")
        media_id = self._new_media_id()
        file_name = upload.file_name or f"upload{MEDIA_FORMATS[mime][2]}"
        media = _Media(
            media_id=media_id,
            workspace_id=workspace,
            type=media_type,
            file_name=file_name,
            file_size=upload.size,
            mime_type=mime,
            created=now,
        )
        self.media[media_id] = media
        self._stored[workspace] += upload.size
        return {
            "media_id": media_id,
            "type": media_type,
            "file_name": file_name,
            "file_size": upload.size,
            "mime_type": mime,
            "created_at": self._iso(now),
        }

    def _new_media_id(self) -> str:
        return str(uuid.UUID(int=self._media_ids.getrandbits(128), version=4))

    def _media_in(self, workspace: str, media_id: str, now: float) -> _Media | None:
        media = self.media.get(media_id)
        if media is None or media.workspace_id != workspace or not media.available(now):
            return None
        return media

    def media_dict(self, media: _Media) -> dict[str, Any]:
        """Everything the fake knows of one media (for ``FakePowerPost.media``)."""
        if media.image_job is not None:
            source, job_id = "image_generation", media.image_job.image_generation_id
        elif media.video_job is not None:
            source, job_id = "video_generation", media.video_job.video_generation_id
        else:
            source, job_id = "upload", None
        return {
            "media_id": media.media_id,
            "workspace_id": media.workspace_id,
            "type": media.type,
            "file_name": media.file_name,
            "file_size": media.file_size,
            "mime_type": media.mime_type,
            "created_at": self._iso(media.ready_at()),
            "source": source,
            "generation_id": job_id,
            "width": media.width,
            "height": media.height,
            "duration": media.duration,
        }

    # -- images ---------------------------------------------------------------------------

    def _image_create(self, key: str, workspace: str, body: bytes, now: float) -> dict[str, Any]:
        data = _json_object(body)
        prompt = _optional_text(data, "prompt", MAX_IMAGE_PROMPT)
        size = _choice(data, "size", IMAGE_SIZES, "square")
        model = _choice(data, "model", tuple(IMAGE_MODELS), DEFAULT_IMAGE_MODEL)
        if size not in IMAGE_MODELS[model]:
            raise _invalid(
                f"size {size} is not available with {model}: "
                f"use one of {', '.join(IMAGE_MODELS[model])}"
            )
        quantity = _integer(data, "quantity", 1, MAX_QUANTITY, 1)
        _boolean(data, "enhance_prompt")
        style_images = _ids(data, "style_images", MAX_STYLE_IMAGES)
        for media_id in style_images:
            media = self._media_in(workspace, media_id, now)
            if media is None or media.type != "image":
                raise _invalid(f"style_images: {media_id} is not an image in this workspace")
        generation_id = _optional_id(data, "generation_id")
        source_post_type = _optional_id(data, "source_post_type")
        if source_post_type is not None:
            if generation_id is None:
                raise _invalid("source_post_type needs generation_id")
            if source_post_type not in KNOWN_POST_TYPES:
                raise _invalid(f"Unknown post type: {source_post_type}")
        if generation_id is not None:
            generation = self._completed_generation(workspace, generation_id, now)
            if prompt is None:
                prompt = _caption_prompt(generation, source_post_type)
        if prompt is None:
            raise _invalid("prompt is required unless generation_id is given")
        price = IMAGE_COSTS[model]
        self._charge(key, price * quantity, "this image generation")
        rng = self._images
        # Always the same draws per job, so one's settings never shift the next's.
        pending = _draw(self._core.pending, rng.random())
        processing = _draw(self._core.processing, rng.random())
        whole = rng.random() < self._core._failure_rate
        per_image = [rng.random() < self.image_failure_rate for _ in range(MAX_QUANTITY)]
        fails = [whole or failed for failed in per_image[:quantity]]
        lowered = prompt.lower()
        if FAIL_WORD in lowered:
            fails = [True] * quantity
        elif PARTIAL_WORD in lowered:
            broken = max(1, quantity // 2)
            fails = [index >= quantity - broken for index in range(quantity)]
        job = _ImageJob(
            image_generation_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            workspace_id=workspace,
            account=key,
            prompt=prompt,
            size=size,
            quantity=quantity,
            model=model,
            generation_id=generation_id,
            created_at=self._iso(now),
            price=price,
            starts=now + pending,
            ends=now + pending + processing,
            fails=fails,
            media_ids=[self._new_media_id() for _ in range(quantity)],
        )
        width, height = _IMAGE_PIXELS[size]
        for index, media_id in enumerate(job.media_ids):
            self.media[media_id] = _Media(
                media_id=media_id,
                workspace_id=workspace,
                type="image",
                file_name=f"{media_id}.webp",
                file_size=width * height // 8,
                mime_type="image/webp",
                created=job.ends,
                width=width,
                height=height,
                image_job=job,
                index=index,
            )
        self.image_jobs[job.image_generation_id] = job
        if any(fails):
            self._unrefunded.append(job)
        return {
            "image_generation_id": job.image_generation_id,
            "status": job.status(now),
            "credits_used": job.cost,
            "remaining_credits": self._core._balances[key],
            "status_url": f"{IMAGE_GENERATIONS_PATH}/{job.image_generation_id}",
        }

    def _image_detail(self, job: _ImageJob, now: float) -> dict[str, Any]:
        status = job.status(now)
        images: list[dict[str, Any]] = []
        error = None
        if status in ("completed", "failed"):
            width, height = _IMAGE_PIXELS[job.size]
            for media_id, failed in zip(job.media_ids, job.fails, strict=True):
                if not failed:
                    images.append(
                        {
                            "media_id": media_id,
                            "url": f"{_CDN}/{job.workspace_id}/{media_id}.webp",
                            "thumbnail_url": f"{_CDN}/{job.workspace_id}/{media_id}-thumb.jpg",
                            "width": width,
                            "height": height,
                        }
                    )
            if status == "failed":
                error = _image_error(job.fails.count(True), job.quantity)
        return {
            "image_generation_id": job.image_generation_id,
            "status": status,
            "prompt": job.prompt,
            "size": job.size,
            "quantity": job.quantity,
            "model": job.model,
            "generation_id": job.generation_id,
            "created_at": job.created_at,
            "credits_used": job.credits_used(now),
            "images": images,
            "error": error,
        }

    def _completed_generation(self, workspace: str, generation_id: str, now: float) -> _Generation:
        generation = self._core._lookup(generation_id)
        if generation is None or generation.workspace_id != workspace:
            raise _invalid(f"generation_id: no generation {generation_id} in this workspace")
        status = generation.status(now)
        if status != "completed":
            raise _invalid(f"generation_id: generation {generation_id} is {status}, not completed")
        return generation

    # -- videos ---------------------------------------------------------------------------

    def _video_create(self, key: str, workspace: str, body: bytes, now: float) -> dict[str, Any]:
        data = _json_object(body)
        model = _choice(data, "model", tuple(VIDEO_MODELS), DEFAULT_VIDEO_MODEL)
        spec = VIDEO_MODELS[model]
        prompt = _optional_text(data, "prompt", spec.max_prompt, what=f"with {model}")
        if prompt is None:
            raise _invalid("prompt is required")
        size = _choice(data, "size", VIDEO_SIZES, "landscape")
        if "duration" not in data or data["duration"] is None:
            raise _invalid("duration is required")
        duration = data["duration"]
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise _invalid("duration must be an integer number of seconds")
        if duration not in spec.durations:
            raise _invalid(
                f"duration must be one of {', '.join(map(str, spec.durations))} with {model}"
            )
        has_audio = _boolean(data, "has_audio")
        if has_audio and not spec.audio:
            raise _invalid(f"{model} does not support audio")
        _boolean(data, "enhance_prompt")
        source_image = _optional_id(data, "source_image")
        if source_image is not None:
            media = self._media_in(workspace, source_image, now)
            if media is None or media.type != "image":
                raise _invalid(f"source_image: {source_image} is not an image in this workspace")
        cost = VIDEO_COSTS[model] * duration
        if has_audio:
            cost = (cost * 5 + 3) // 4  # +25%, rounded up
        self._charge(key, cost, "this video generation")
        rng = self._videos
        pending = _draw(self._core.pending, rng.random())
        processing = _draw(self._core.processing, rng.random())
        fails = rng.random() < self._core._failure_rate or FAIL_WORD in prompt.lower()
        video = _VideoJob(
            video_generation_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            workspace_id=workspace,
            account=key,
            prompt=prompt,
            size=size,
            duration=duration,
            has_audio=has_audio,
            model=model,
            created_at=self._iso(now),
            cost=cost,
            starts=now + pending,
            ends=now + pending + processing,
            fails=fails,
            media_id=self._new_media_id(),
        )
        width, height = _VIDEO_PIXELS[size]
        self.media[video.media_id] = _Media(
            media_id=video.media_id,
            workspace_id=workspace,
            type="video",
            file_name=f"{video.media_id}.mp4",
            file_size=duration * 1_000_000,
            mime_type="video/mp4",
            created=video.ends,
            width=width,
            height=height,
            duration=duration,
            video_job=video,
        )
        self.video_jobs[video.video_generation_id] = video
        if fails:
            self._unrefunded.append(video)
        return {
            "video_generation_id": video.video_generation_id,
            "status": video.status(now),
            "credits_used": cost,
            "remaining_credits": self._core._balances[key],
            "status_url": f"{VIDEO_GENERATIONS_PATH}/{video.video_generation_id}",
        }

    def _video_detail(self, video: _VideoJob, now: float) -> dict[str, Any]:
        status = video.status(now)
        made = None
        if status == "completed":
            width, height = _VIDEO_PIXELS[video.size]
            where = f"{_CDN}/{video.workspace_id}/{video.media_id}"
            made = {
                "media_id": video.media_id,
                "url": f"{where}.mp4",
                "thumbnail_url": f"{where}-thumb.jpg",
                "width": width,
                "height": height,
                "duration": video.duration,
            }
        return {
            "video_generation_id": video.video_generation_id,
            "status": status,
            "prompt": video.prompt,
            "size": video.size,
            "duration": video.duration,
            "has_audio": video.has_audio,
            "model": video.model,
            "created_at": video.created_at,
            "credits_used": video.credits_used(now),
            "video": made,
            "error": dict(_VIDEO_ERROR) if status == "failed" else None,
        }

    # -- posts ----------------------------------------------------------------------------

    def _post_create(self, workspace: str, body: bytes, now: float) -> dict[str, Any]:
        data = _json_object(body)
        generation_id = _optional_id(data, "generation_id")
        outputs: Mapping[str, Any] = {}
        if generation_id is not None:
            outputs = _outputs(self._completed_generation(workspace, generation_id, now))
        raw_items = data.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise _invalid("items must be a non-empty array")
        if len(raw_items) > MAX_POST_ITEMS:
            raise _invalid(f"items must have at most {MAX_POST_ITEMS} entries")
        items: list[_Item] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_items):
            where = f"items[{index}]"
            if not isinstance(raw, dict):
                raise _invalid(f"{where} must be an object")
            post_type = raw.get("post_type")
            if not isinstance(post_type, str) or not post_type:
                raise _invalid(f"{where}.post_type is required")
            if post_type not in KNOWN_POST_TYPES:
                raise _invalid(
                    f"{where}.post_type: unknown post type {post_type}; "
                    f"valid types are {', '.join(KNOWN_POST_TYPES)}"
                )
            if post_type in seen:
                raise _invalid(f"{where}.post_type: {post_type} appears twice")
            seen.add(post_type)
            platform = post_type.partition("-")[0]
            output = outputs.get(platform)
            content = raw.get("content")
            if content is not None and (not isinstance(content, str) or not content.strip()):
                raise _invalid(f"{where}.content must be a non-empty string")
            if content is None:
                if generation_id is None:
                    raise _invalid(f"{where}.content is required unless generation_id is given")
                if output is None:
                    raise _invalid(
                        f"{where}.content is required: generation {generation_id} "
                        f"has no caption for {platform}"
                    )
                content = output.description if isinstance(output, YouTubeOutput) else output
            title = raw.get("title")
            if title is not None and (not isinstance(title, str) or not title.strip()):
                raise _invalid(f"{where}.title must be a non-empty string")
            if title is None and isinstance(output, YouTubeOutput):
                title = output.title
            if title is None and post_type in TITLED_POST_TYPES:
                raise _invalid(f"{where}.title is required for {post_type}")
            media_ids = _ids(raw, "media_ids", None, where=f"{where}.media_ids")
            for media_id in media_ids:
                if self._media_in(workspace, media_id, now) is None:
                    raise _invalid(f"{where}.media_ids: no media {media_id} in this workspace")
            items.append(
                _Item(
                    item_id=str(uuid.UUID(int=self._posts_random.getrandbits(128), version=4)),
                    post_type=post_type,
                    platform=platform,
                    content=str(content),
                    title=title,
                    media_ids=list(media_ids),
                )
            )
        post_uuid = uuid.UUID(int=self._posts_random.getrandbits(128), version=4)
        post = _Post(
            post_id=f"post-{post_uuid}",
            workspace_id=workspace,
            generation_id=generation_id,
            created_at=self._iso(now),
            items=items,
        )
        self.posts[post.post_id] = post
        for index, item in enumerate(items):
            self._items[item.item_id] = (post, index)
        return self._post_detail(post, now)

    def _post_detail(self, post: _Post, now: float) -> dict[str, Any]:
        run = post.run
        items = []
        for index, item in enumerate(post.items):
            status = "draft" if run is None else run.item_status(index, now)
            data: dict[str, Any] = {
                "item_id": item.item_id,
                "post_type": item.post_type,
                "platform": item.platform,
                "content": item.content,
                "title": item.title,
                "media_ids": list(item.media_ids),
                "status": status,
                "platform_post_id": None,
                "error": None,
            }
            if run is not None and status == "posted":
                data["platform_post_id"] = run.platform_post_ids[index]
                data["posted_at"] = self._iso(run.posted_at(index))
            elif run is not None and status == "failed":
                data["error"] = dict(run.errors[index] or {})
            items.append(data)
        return {
            "post_id": post.post_id,
            "status": post.status(now),
            "generation_id": post.generation_id,
            "created_at": post.created_at,
            "scheduled_at": post.scheduled_at,
            "items": items,
        }

    def _publish(self, key: str, post: _Post, now: float) -> dict[str, Any]:
        if post.state not in ("draft", "scheduled") or post.run is not None:
            raise _api_error(
                409,
                "ALREADY_PUBLISHED",
                f"Post is already {post.status(now)}: only a draft or scheduled post "
                "can be published",
            )
        self._check_connected(post)
        self._check_publish_credits(key, post)
        self._start(post, key, now)
        return {
            "post_id": post.post_id,
            "status": post.status(now),
            "status_url": f"{POSTS_PATH}/{post.post_id}",
        }

    def _schedule(self, key: str, post: _Post, body: bytes, now: float) -> dict[str, Any]:
        data = _json_object(body)
        value = data.get("scheduled_at")
        if value is None:
            raise _invalid("scheduled_at is required")
        moment = _timestamp(value)
        if moment is None:
            raise _invalid("scheduled_at must be an ISO 8601 timestamp with a UTC offset")
        current = self._core._at(now)
        if moment <= current:
            raise _invalid("scheduled_at must be in the future")
        if moment - current > timedelta(days=MAX_SCHEDULE_DAYS):
            raise _invalid(f"scheduled_at must be at most {MAX_SCHEDULE_DAYS} days ahead")
        if post.state not in ("draft", "scheduled") or post.run is not None:
            raise _api_error(
                409,
                "ALREADY_PUBLISHED",
                f"Post is already {post.status(now)}: only a draft can be scheduled",
            )
        if post.state != "scheduled":
            scheduled = sum(
                1
                for p in self.posts.values()
                if p.workspace_id == post.workspace_id and p.state == "scheduled"
            )
            if scheduled >= MAX_SCHEDULED_POSTS:
                raise _api_error(
                    422,
                    "SCHEDULE_LIMIT_REACHED",
                    f"A workspace may have at most {MAX_SCHEDULED_POSTS} scheduled posts",
                )
        self._check_connected(post)
        post.epoch += 1  # a reschedule: the earlier start goes stale
        post.state = "scheduled"
        post.scheduled = self._core._origin + (moment - self._core._epoch).total_seconds()
        post.scheduled_at = self._iso(post.scheduled)
        self._push(post.scheduled, post, "start", 0, key)
        return {"post_id": post.post_id, "status": "scheduled", "scheduled_at": post.scheduled_at}

    def _cancel(self, post: _Post, now: float) -> dict[str, Any]:
        run = post.run
        cancellable = post.state == "scheduled" or (run is not None and now < run.start)
        if not cancellable:
            raise _api_error(
                409,
                "CANNOT_CANCEL",
                f"Post is {post.status(now)}: only a scheduled post, or one publishing "
                "before any item has started posting, can be cancelled",
            )
        post.epoch += 1
        post.state, post.run = "draft", None
        post.scheduled = post.scheduled_at = None
        return {"post_id": post.post_id, "status": "draft"}

    def _check_connected(self, post: _Post) -> None:
        connected = self.connected(post.workspace_id)
        missing = list(dict.fromkeys(i.platform for i in post.items if i.platform not in connected))
        if missing:
            raise _api_error(
                422,
                "PLATFORM_NOT_CONNECTED",
                f"Not connected in this workspace: {', '.join(missing)}",
                platforms=missing,
            )

    def _publish_cost(self, post: _Post) -> int:
        return PUBLISH_COST + (X_SURCHARGE if any(i.platform == "x" for i in post.items) else 0)

    def _check_publish_credits(self, key: str, post: _Post) -> None:
        cost, balance = self._publish_cost(post), self._core._balances[key]
        if balance < cost:
            raise _api_error(
                402,
                "INSUFFICIENT_CREDITS",
                f"Insufficient credits: publishing this post needs {cost}, the balance "
                f"is {balance}",
            )

    def _start(
        self,
        post: _Post,
        key: str,
        at: float,
        *,
        refused: Mapping[str, str] | None = None,
        connected: frozenset[str] | None = None,
    ) -> None:
        """Start publishing ``post`` at ``at`` (server clock).

        ``refused``: every item fails at once with this error. ``connected``: items of
        other platforms fail, in their turn.
        """
        rng = self._posts_random
        pending = _draw(self._core.pending, rng.random())
        ids = [f"{item.platform}_{rng.getrandbits(56):017d}" for item in post.items]
        if refused is not None:
            run = _Run(at, 0.0, [dict(refused) for _ in post.items], ids, key)
        else:
            errors = [_item_error(item, connected) for item in post.items]
            run = _Run(at + pending, self.post_duration, errors, ids, key)
        post.epoch += 1
        post.state, post.run = "run", run
        for index in range(len(post.items)):
            self._push(run.posted_at(index), post, "item", index, key)

    def _push(self, at: float, post: _Post, kind: str, index: int, key: str) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, post.epoch, post, kind, index, key))

    # -- analytics ------------------------------------------------------------------------

    def _analytics(self, workspace: str, item_id: str, now: float) -> dict[str, Any]:
        found = self._items.get(item_id)
        if found is None or found[0].workspace_id != workspace:
            raise _not_found("Post item not found")
        post, index = found
        item = post.items[index]
        run = post.run
        status = "draft" if run is None else run.item_status(index, now)
        metrics = None
        if run is not None and status == "posted":
            posted = run.posted_at(index)
            day = min(_MAX_ANALYTICS_DAYS, math.floor((now - posted) / _DAY))
            rng = random.Random(f"{self._seed}/analytics/{item_id}")
            views, like_rate, comment_rate = (
                rng.randint(200, 5000),
                rng.uniform(0.02, 0.08),
                rng.uniform(0.002, 0.01),
            )
            views = views * (10 + day) // 10  # a little more every day it is refreshed
            metrics = {
                "views": views,
                "likes": round(views * like_rate),
                "comments": round(views * comment_rate),
                "fetched_at": self._iso(posted + day * _DAY),
            }
        return {
            "post_item_id": item.item_id,
            "post_type": item.post_type,
            "platform": item.platform,
            "status": status,
            "metrics": metrics,
        }

    # -- calendar -------------------------------------------------------------------------

    def _calendar_list(self, workspace: str, query: Mapping[str, str]) -> dict[str, Any]:
        start = _date_param(query, "start_date")
        end = _date_param(query, "end_date")
        if start > end:
            raise _invalid("start_date must not be after end_date")
        if (end - start).days > MAX_CALENDAR_RANGE_DAYS:
            raise _invalid(f"The range may span at most {MAX_CALENDAR_RANGE_DAYS} days")
        low, high = start.isoformat(), end.isoformat()
        found = [
            e
            for e in self.entries.values()
            if e.workspace_id == workspace and low <= e.scheduled_date <= high
        ]
        # By date, then time (entries without a time first), then creation order.
        found.sort(key=lambda e: (e.scheduled_date, e.scheduled_time or "", e.seq))
        return {"entries": [_entry(e) for e in found]}

    def _calendar_create(self, workspace: str, body: bytes, now: float) -> _Entry:
        data = _json_object(body)
        if data.get("title") is None:
            raise _invalid("title is required")
        if data.get("scheduled_date") is None:
            raise _invalid("scheduled_date is required")
        stamp = self._iso(now)
        self._seq += 1
        entry = _Entry(
            entry_id=str(uuid.UUID(int=self._calendar_ids.getrandbits(128), version=4)),
            workspace_id=workspace,
            title=_entry_title(data["title"]),
            description=_entry_description(data.get("description")),
            scheduled_date=_entry_date(data["scheduled_date"]),
            scheduled_time=_entry_time(data.get("scheduled_time")),
            platforms=_entry_platforms(data.get("platforms", [])),
            created_at=stamp,
            updated_at=stamp,
            seq=self._seq,
        )
        self.entries[entry.entry_id] = entry
        return entry

    def _calendar_update(self, entry: _Entry, body: bytes, now: float) -> _Entry:
        data = _json_object(body)
        fields = ("title", "description", "scheduled_date", "scheduled_time", "platforms")
        if not any(name in data for name in fields):
            raise _invalid(f"Give at least one field to update: {', '.join(fields)}")
        changes: dict[str, Any] = {}
        if "title" in data:
            changes["title"] = _entry_title(data["title"])
        if "description" in data:
            changes["description"] = _entry_description(data["description"])
        if "scheduled_date" in data:
            changes["scheduled_date"] = _entry_date(data["scheduled_date"])
        if "scheduled_time" in data:
            changes["scheduled_time"] = _entry_time(data["scheduled_time"])
        if "platforms" in data:
            changes["platforms"] = _entry_platforms(data["platforms"])
        for name, value in changes.items():
            setattr(entry, name, value)
        entry.updated_at = self._iso(now)
        return entry

    # -- the clock's work -----------------------------------------------------------------

    def settle(self, now: float) -> None:
        """Refund failed jobs, start scheduled posts and charge posted items, up to ``now``."""
        if self._unrefunded and any(job.ends <= now for job in self._unrefunded):
            for job in self._unrefunded:
                if job.ends <= now:
                    refund = job.cost - job.credits_used(now)
                    self._core._balances[job.account] += refund
                    job.refunded = True
            self._unrefunded = [job for job in self._unrefunded if not job.refunded]
        # Every start adds at most MAX_POST_ITEMS events, and an item event none.
        for _ in range((len(self._events) + 1) * (MAX_POST_ITEMS + 1)):
            if not self._events or self._events[0][0] > now:
                break
            at, _, epoch, post, kind, index, key = heapq.heappop(self._events)
            if epoch != post.epoch:
                continue  # cancelled or rescheduled since
            if kind == "start":
                self._begin_scheduled(post, key, at)
            else:
                self._charge_item(post, index)

    def _begin_scheduled(self, post: _Post, key: str, at: float) -> None:
        """A scheduled post's time came: publish it (items of platforms disconnected
        since fail), or fail it at once if the balance cannot pay for it."""
        cost, balance = self._publish_cost(post), self._core._balances[key]
        if balance < cost:
            refused = {
                "code": "INSUFFICIENT_CREDITS",
                "message": f"Publishing needed {cost} credits; the balance was {balance}",
            }
            self._start(post, key, at, refused=refused)
        else:
            self._start(post, key, at, connected=self.connected(post.workspace_id))

    def _charge_item(self, post: _Post, index: int) -> None:
        run = post.run
        if run is None or run.errors[index] is not None:
            return
        cost = X_SURCHARGE if post.items[index].platform == "x" else 0
        if not run.charged_base:
            run.charged_base = True
            cost += PUBLISH_COST
        balance = self._core._balances[run.account]
        taken = min(cost, max(0, balance))  # the fake's choice: never below zero
        self._core._balances[run.account] = balance - taken
        run.charged += taken

    def _charge(self, key: str, cost: int, what: str) -> None:
        balance = self._core._balances[key]
        if balance < cost:
            raise _api_error(
                402,
                "INSUFFICIENT_CREDITS",
                f"Insufficient credits: {what} needs {cost}, the balance is {balance}",
            )
        self._core._balances[key] = balance - cost

    def complete(self, object_id: str, now: float) -> bool:
        """End an image or video generation now; ``False`` if no job has this id."""
        job: _ImageJob | _VideoJob | None = self.image_jobs.get(object_id)
        if job is None:
            job = self.video_jobs.get(object_id)
        if job is None:
            return False
        if job.ends > now:
            job.starts = min(job.starts, now)
            job.ends = now
        return True

    def has(self, object_id: str) -> bool:
        """Whether an image or video generation has this id."""
        return object_id in self.image_jobs or object_id in self.video_jobs

    # -- peeks and webhooks ---------------------------------------------------------------

    def peek(self, kind: str, object_id: str, now: float) -> dict[str, Any]:
        """What the API would answer for one object now, in any workspace (KeyError if none)."""
        if kind == "image":
            return self._image_detail(self.image_jobs[object_id], now)
        if kind == "video":
            return self._video_detail(self.video_jobs[object_id], now)
        if kind == "post":
            return self._post_detail(self.posts[object_id], now)
        if kind == "entry":
            return _entry(self.entries[object_id])
        media = self.media[object_id]
        if not media.available(now):
            raise KeyError(object_id)
        return self.media_dict(media)

    def webhook(self, object_id: str, now: float) -> dict[str, Any] | None:
        """The webhook envelope for a finished image generation or post (None: not ours).

        Raises:
            ValueError: It has not finished yet.
        """
        job = self.image_jobs.get(object_id)
        if job is not None:
            status = job.status(now)
            if status not in ("completed", "failed"):
                raise ValueError(f"image generation {object_id} is still {status}")
            detail = self._image_detail(job, now)
            data: dict[str, Any] = {"image_generation_id": object_id, "status": status}
            if status == "failed":
                data["error_code"] = detail["error"]["code"]
                data["error_message"] = detail["error"]["message"]
            data["images"] = detail["images"]
            return self._envelope(f"image_generation.{status}", job.workspace_id, job.ends, data)
        post = self.posts.get(object_id)
        if post is not None:
            status = post.status(now)
            if status not in ("published", "failed") or post.run is None:
                raise ValueError(f"post {object_id} is {status}, not published or failed")
            items = self._post_detail(post, now)["items"]
            data = {"post_id": object_id, "status": status, "items": items}
            event = "post.published" if status == "published" else "post.failed"
            return self._envelope(event, post.workspace_id, post.run.end, data)
        return None

    def _envelope(
        self, event: str, workspace: str, at: float, data: dict[str, Any]
    ) -> dict[str, Any]:
        return {"event": event, "timestamp": self._iso(at), "workspace_id": workspace, "data": data}

    def stats(self, now: float) -> dict[str, Any]:
        """Counters of everything beyond captions (part of ``Core.stats``)."""
        images = Counter(job.status(now) for job in self.image_jobs.values())
        videos = Counter(job.status(now) for job in self.video_jobs.values())
        posts = Counter(post.status(now) for post in self.posts.values())
        available = [m for m in self.media.values() if m.available(now)]
        return {
            "media": {
                "total": len(available),
                "uploaded": sum(1 for m in available if m.uploaded),
                "generated": sum(1 for m in available if not m.uploaded),
                "uploaded_bytes": sum(self._stored.values()),
            },
            "image_generations": {"total": len(self.image_jobs)}
            | {s: images[s] for s in _STATUSES},
            "video_generations": {"total": len(self.video_jobs)}
            | {s: videos[s] for s in _STATUSES},
            "posts": {"total": len(self.posts)} | {s: posts[s] for s in POST_STATUSES},
            "calendar_entries": len(self.entries),
        }

    def used(self, now: float) -> int:
        """Credits spent on images, videos and publishing, less refunds."""
        return (
            sum(job.credits_used(now) for job in self.image_jobs.values())
            + sum(job.credits_used(now) for job in self.video_jobs.values())
            + sum(p.run.charged for p in self.posts.values() if p.run is not None)
        )

    def _iso(self, at: float) -> str:
        return _iso(self._core._at(at))


# -- pure helpers --------------------------------------------------------------------------


def _item_error(item: _Item, connected: frozenset[str] | None) -> dict[str, str] | None:
    """How an item's posting ends: ``None`` (posted), or its error."""
    if connected is not None and item.platform not in connected:
        return {
            "code": "PLATFORM_NOT_CONNECTED",
            "message": f"{item.platform} is not connected in this workspace",
        }
    if FAIL_WORD in item.content.lower():
        return {"code": "PUBLISH_FAILED", "message": f"{item.platform} rejected the post"}
    return None


def _api_error(status: int, code: str, message: str, **extra: Any) -> _ApiError:
    return _ApiError(status, code, message, extra=extra or None)


def _invalid(message: str) -> _ApiError:
    return _api_error(400, "VALIDATION_ERROR", message)


def _not_found(message: str) -> _ApiError:
    return _api_error(404, "NOT_FOUND", message)


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = loads(body)
    except ValueError:
        raise _invalid("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise _invalid("Request body must be a JSON object")
    return data


def _optional_text(data: Mapping[str, Any], name: str, most: int, *, what: str = "") -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{name} must be a non-empty string")
    if len(value) > most:
        raise _invalid(f"{name} must be at most {most} characters{' ' + what if what else ''}")
    return value


def _optional_id(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _invalid(f"{name} must be a non-empty string")
    return value


def _choice(data: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or value not in allowed:
        raise _invalid(f"{name} must be one of {', '.join(allowed)}")
    return value


def _integer(data: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"{name} must be an integer between {low} and {high}")
    return value


def _boolean(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be true or false")
    return value


def _ids(
    data: Mapping[str, Any], name: str, most: int | None, *, where: str | None = None
) -> list[str]:
    label = where or name
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _invalid(f"{label} must be an array of media ids")
    if most is not None and len(value) > most:
        raise _invalid(f"{label} must have at most {most} items")
    return value


def _caption_prompt(generation: _Generation, post_type: str | None) -> str:
    outputs = _outputs(generation)
    if post_type is not None:
        platform = post_type.partition("-")[0]
        if platform not in outputs:
            raise _invalid(f"source_post_type: the generation has no caption for {platform}")
        output = outputs[platform]
    else:
        output = next(iter(outputs.values()))
    text = output.description if isinstance(output, YouTubeOutput) else output
    return str(text)[:MAX_IMAGE_PROMPT]


def _declared(content_type: str | None, file_name: str | None) -> str | None:
    """The format the part's content type, or else its file name's extension, claims."""
    if content_type:
        mime = content_type.partition(";")[0].strip().lower()
        mime = MEDIA_TYPE_ALIASES.get(mime, mime)
        if mime in MEDIA_FORMATS:
            return mime
    if file_name and "." in file_name:
        return MEDIA_EXTENSIONS.get("." + file_name.rpartition(".")[2].lower())
    return None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _date_param(query: Mapping[str, str], name: str) -> date:
    value = query.get(name)
    if value is None or not value:
        raise _invalid(f"{name} is required (YYYY-MM-DD)")
    return _parse_date(value, name)


def _parse_date(value: object, name: str) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise _invalid(f"{name} must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _invalid(f"{name} must be a date, YYYY-MM-DD") from None


def _entry_title(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid("title must be a non-empty string")
    if len(value) > MAX_ENTRY_TITLE:
        raise _invalid(f"title must be at most {MAX_ENTRY_TITLE} characters")
    return value


def _entry_description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid("description must be a string")
    if len(value) > MAX_ENTRY_DESCRIPTION:
        raise _invalid(f"description must be at most {MAX_ENTRY_DESCRIPTION} characters")
    return value


def _entry_date(value: object) -> str:
    return _parse_date(value, "scheduled_date").isoformat()


def _entry_time(value: object) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) != 5
        or value[2] != ":"
        or not (value[:2] + value[3:]).isdigit()
        or not (int(value[:2]) < 24 and int(value[3:]) < 60)
    ):
        raise _invalid("scheduled_time must be HH:MM, 24-hour")
    return value


def _entry_platforms(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise _invalid("platforms must be an array of platform names")
    unknown = [p for p in value if p not in CALENDAR_PLATFORMS]
    if unknown:
        raise _invalid(
            f"Unknown platform(s): {', '.join(unknown)}; "
            f"valid platforms are {', '.join(CALENDAR_PLATFORMS)}"
        )
    if len(set(value)) != len(value):
        raise _invalid("platforms must not repeat a platform")
    return list(value)


def _entry(entry: _Entry) -> dict[str, Any]:
    return {
        "entry_id": entry.entry_id,
        "title": entry.title,
        "description": entry.description,
        "scheduled_date": entry.scheduled_date,
        "scheduled_time": entry.scheduled_time,
        "platforms": list(entry.platforms),
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }


def _check_platforms(platforms: Iterable[str]) -> list[str]:
    if isinstance(platforms, str):
        raise TypeError("platforms must be a collection of platform names, not a string")
    names = list(platforms)
    unknown = [p for p in names if p not in CALENDAR_PLATFORMS]
    if unknown:
        raise ValueError(
            f"unknown platform(s) {', '.join(map(repr, unknown))}; "
            f"known are {', '.join(CALENDAR_PLATFORMS)}"
        )
    return names


def _check_scopes(
    scopes: Mapping[str, Iterable[str]] | None, keys: Mapping[str, object]
) -> dict[str, frozenset[str]]:
    checked: dict[str, frozenset[str]] = {}
    for key, held in (scopes or {}).items():
        if key not in keys:
            raise ValueError(f"scopes names a key that is not configured in keys: {key[:12]}...")
        if isinstance(held, str):
            raise TypeError("the scopes of a key must be a collection of scopes, not a string")
        names = frozenset(held)
        unknown = sorted(names - set(SCOPES))
        if unknown:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown)}; known are {', '.join(SCOPES)}"
            )
        checked[key] = names
    return checked
