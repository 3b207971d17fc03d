"""Image and video generations: ``pp.images`` and ``pp.videos``.

Both are asynchronous jobs, awaited by the client's one waiting engine (see
``_awaiting.py``). The API documents no list of them, so they are polled per id:
one poller per id however many callers await it, backed off, within each caller's
deadline; webhooks (``image_generation.*``) resolve image waits at once when fed.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from ._awaiting import JobResource, check_extra_body
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._engine._engine import FEED_TIMEOUT, ProgressCallback, job_id_of
from ._engine._kinds import IMAGES, VIDEOS, JobKind
from ._exceptions import PowerPostWarning
from ._http import QueryValue, path_segment
from ._limits import (
    IMAGE_MODELS,
    IMAGE_SIZES,
    IMAGES_GENERATE_PATH,
    MAX_IMAGE_PROMPT,
    MAX_QUANTITY,
    MAX_STYLE_IMAGES,
    VIDEO_MODELS,
    VIDEO_SIZES,
    VIDEOS_GENERATE_PATH,
)
from ._models import (
    KNOWN_POST_TYPES,
    CreatedGeneration,
    CreatedImageGeneration,
    CreatedVideoGeneration,
    GeneratedImage,
    GeneratedVideo,
    Generation,
    GenerationSummary,
    ImageGeneration,
    Media,
    VideoGeneration,
)
from ._response import with_response

if TYPE_CHECKING:
    from .webhooks import WebhookEvent

__all__ = [
    "ImageRef",
    "Images",
    "ImagesWithResponse",
    "MediaRef",
    "VideoRef",
    "Videos",
    "VideosWithResponse",
    "media_id_of",
]

#: Anything that carries a media id: the id, an uploaded `Media`, a generated image or video.
MediaRef = str | Media | GeneratedImage | GeneratedVideo
#: What image waits accept: the id, or an object carrying it.
ImageRef = str | CreatedImageGeneration | ImageGeneration
#: What video waits accept.
VideoRef = str | CreatedVideoGeneration | VideoGeneration

IMAGE_EVENTS: Final = frozenset({"image_generation.completed", "image_generation.failed"})
#: None is listed today; a future ``video_generation.*`` event is accepted.
VIDEO_EVENTS: Final = frozenset({"video_generation.completed", "video_generation.failed"})


def media_id_of(ref: object, name: str = "media_id") -> str:
    """The media id of a reference, checked the way ids are."""
    if isinstance(ref, (Media, GeneratedImage, GeneratedVideo)):
        ref = ref.media_id
    path_segment(ref, name)  # the rules of every id, though it goes in a body
    return ref  # type: ignore[return-value]


def media_ids_of(refs: object, name: str, *, most: int | None = None) -> list[str]:
    """A list of media ids (from ids or objects carrying them), checked."""
    if isinstance(refs, (str, bytes)) or not isinstance(refs, Iterable):
        raise TypeError(f"{name} must be a list of media ids, got {type(refs).__name__}")
    ids = [media_id_of(ref, name) for ref in refs]
    if most is not None and len(ids) > most:
        raise ValueError(f"{name} takes at most {most} media ids, got {len(ids)}")
    return ids


def _text(value: object, name: str, *, most: int, required: bool = True) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty")
    if len(value) > most:
        raise ValueError(f"{name} is {len(value)} characters long; the API takes at most {most}")
    return value


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _choice(value: object, name: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _known_model(model: object, known: Mapping[str, object], what: str) -> str:
    if not isinstance(model, str) or not model:
        raise TypeError(f"model must be a non-empty string, got {model!r}")
    if model not in known:
        warnings.warn(
            f"{what} model {model!r} is not one this SDK knows ({', '.join(known)}); "
            "sending it as is (the API decides)",
            PowerPostWarning,
            stacklevel=4,
        )
    return model


def build_image_body(
    *,
    prompt: str | None,
    size: str | None,
    quantity: int | None,
    model: str | None,
    enhance_prompt: bool | None,
    style_images: Sequence[MediaRef] | None,
    generation_id: str | CreatedGeneration | Generation | GenerationSummary | None,
    source_post_type: str | None,
) -> dict[str, Any]:
    """The JSON body of ``images.generate``, every argument checked (nothing sent yet)."""
    body: dict[str, Any] = {}
    if generation_id is not None:
        body["generation_id"] = job_id_of(generation_id)
    if prompt is not None:
        body["prompt"] = _text(prompt, "prompt", most=MAX_IMAGE_PROMPT)
    elif generation_id is None:
        raise ValueError(
            "images.generate needs a prompt (text or reference mode) or a generation_id "
            "(post mode: the prompt is then derived from its captions)"
        )
    if model is not None:
        body["model"] = _known_model(model, IMAGE_MODELS, "image")
    if size is not None:
        body["size"] = _choice(size, "size", IMAGE_SIZES)
        sizes = IMAGE_MODELS.get(body.get("model", "flux2-flex"))
        if sizes is not None and size not in sizes:
            raise ValueError(
                f"model {body.get('model', 'flux2-flex')!r} makes no {size!r} images; "
                f"its sizes are {', '.join(sizes)}"
            )
    if quantity is not None:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise TypeError(f"quantity must be an integer, got {quantity!r}")
        if not 1 <= quantity <= MAX_QUANTITY:
            raise ValueError(f"quantity must be between 1 and {MAX_QUANTITY}, got {quantity}")
        body["quantity"] = quantity
    if enhance_prompt is not None:
        body["enhance_prompt"] = _flag(enhance_prompt, "enhance_prompt")
    if style_images is not None:
        body["style_images"] = media_ids_of(style_images, "style_images", most=MAX_STYLE_IMAGES)
    if source_post_type is not None:
        if generation_id is None:
            raise ValueError("source_post_type picks a caption of a generation: pass generation_id")
        if not isinstance(source_post_type, str) or not source_post_type:
            raise TypeError(f"source_post_type must be a post type, got {source_post_type!r}")
        if source_post_type not in KNOWN_POST_TYPES:
            warnings.warn(
                f"source_post_type {source_post_type!r} is not a post type this SDK knows; "
                "sending it as is",
                PowerPostWarning,
                stacklevel=3,
            )
        body["source_post_type"] = source_post_type
    return body


def build_video_body(
    *,
    prompt: str,
    duration: int,
    model: str | None,
    size: str | None,
    has_audio: bool | None,
    enhance_prompt: bool | None,
    source_image: MediaRef | None,
) -> dict[str, Any]:
    """The JSON body of ``videos.generate``, every argument checked (nothing sent yet)."""
    name = "kling-3.0-pro" if model is None else _known_model(model, VIDEO_MODELS, "video")
    limits = VIDEO_MODELS.get(name)
    most = max(m.max_prompt for m in VIDEO_MODELS.values()) if limits is None else limits.max_prompt
    body: dict[str, Any] = {"prompt": _text(prompt, "prompt", most=most)}
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise TypeError(f"duration must be a whole number of seconds, got {duration!r}")
    if limits is not None and duration not in limits.durations:
        raise ValueError(
            f"model {name!r} makes videos of {' or '.join(map(str, limits.durations))} "
            f"seconds, not {duration}"
        )
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    body["duration"] = duration
    if model is not None:
        body["model"] = name
    if size is not None:
        body["size"] = _choice(size, "size", VIDEO_SIZES)
    if has_audio is not None:
        body["has_audio"] = _flag(has_audio, "has_audio")
        if has_audio and limits is not None and not limits.audio:
            raise ValueError(f"model {name!r} makes no audio: leave has_audio unset or False")
    if enhance_prompt is not None:
        body["enhance_prompt"] = _flag(enhance_prompt, "enhance_prompt")
    if source_image is not None:
        body["source_image"] = media_id_of(source_image, "source_image")
    return body


class Images(JobResource[ImageGeneration]):
    """Image generations: ``pp.images``."""

    _kind: JobKind[ImageGeneration] = IMAGES

    @property
    def with_response(self) -> ImagesWithResponse:
        """`generate` and `get`, answering [`APIResponse`][powerpost_async.APIResponse]s:
        ``await pp.images.with_response.get(id)``."""
        return ImagesWithResponse(self)

    async def generate(
        self,
        prompt: str | None = None,
        *,
        size: str | None = None,
        quantity: int | None = None,
        model: str | None = None,
        enhance_prompt: bool | None = None,
        style_images: Sequence[MediaRef] | None = None,
        generation_id: str | CreatedGeneration | Generation | GenerationSummary | None = None,
        source_post_type: str | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CreatedImageGeneration:
        """Start an image generation (costs credits per image). Await it with `wait()`.

        The mode follows from the arguments: **text** (``prompt``), **reference**
        (``prompt`` and ``style_images``), **post** (``generation_id``: the prompt may
        be left out and is then derived from that generation's captions). Like every
        call that costs credits, it is resent only when it surely never reached the
        server.

        Args:
            prompt: What to draw (at most 2,000 characters).
            size: ``square`` (default), ``feed`` (4:5), ``portrait`` (9:16) or
                ``landscape`` (16:9).
            quantity: Images to make, 1 to 4 (default 1).
            model: ``flux2-flex`` (default), ``ideogram-3``, ``nano-banana-2`` or
                ``gpt-image-2`` (no ``feed`` size); another name is sent with a warning.
            enhance_prompt: Let the service rewrite the prompt.
            style_images: Up to 4 reference images (media ids, or `Media` /
                `GeneratedImage` objects).
            generation_id: A caption generation to illustrate (post mode).
            source_post_type: Which of its captions to use, e.g. ``"instagram-feed"``.
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.
            extra_body: Fields the SDK does not know yet, laid over the body it builds.

        Raises:
            ValueError: An argument is not acceptable (nothing was sent).
            InsufficientCreditsError: Not enough credits.
            InsufficientScopeError: The key lacks ``images:generate``.
        """
        body = build_image_body(
            prompt=prompt,
            size=size,
            quantity=quantity,
            model=model,
            enhance_prompt=enhance_prompt,
            style_images=style_images,
            generation_id=generation_id,
            source_post_type=source_post_type,
        )
        return await self._requester.call(  # type: ignore[no-any-return]
            "POST",
            IMAGES_GENERATE_PATH,
            CreatedImageGeneration,
            body=check_extra_body(body, extra_body),
            idempotent=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def get(
        self,
        image_generation_id: ImageRef,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> ImageGeneration:
        """One image generation: its status, and the images made so far.

        Raises:
            ValueError: The id is empty or could alter the URL (nothing sent).
            NotFoundError: No such image generation in this workspace.
        """
        return await self._get_job(
            image_generation_id,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def wait(
        self,
        image_generation_id: ImageRef,
        *,
        timeout: float | None = 600.0,
        interval: float | None = None,
        max_interval: float | None = None,
    ) -> ImageGeneration:
        """Wait until an image generation finishes, and return it completed.

        Polled (at once, then every ``interval`` seconds growing towards
        ``max_interval``, jittered), one poller per id however many callers await it;
        a fed ``image_generation.*`` webhook ends the wait at once.

        Args:
            image_generation_id: The id (or an object carrying it).
            timeout: Seconds before giving up (``None``: no deadline).
            interval: First pause between polls (default 2 s).
            max_interval: Longest pause between polls (default 10 s).

        Raises:
            ImageGenerationFailedError: It failed; the images that were made anyway are
                in ``.image_generation.images``.
            WaitTimeoutError: The deadline passed (``.last_seen`` is the last state seen).
            NotFoundError: No such image generation.
        """
        return await self._wait(image_generation_id, timeout, interval, max_interval)

    def as_completed(
        self,
        image_generation_ids: Iterable[ImageRef],
        *,
        timeout: float | None = 600.0,
        interval: float | None = None,
        max_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[ImageGeneration, None]:
        """Yield each distinct image generation once, as soon as it is seen finished
        (failed ones too, with their partial images). See ``generations.as_completed``."""
        return self._as_completed(
            image_generation_ids, timeout, interval, max_interval, on_progress
        )

    @overload
    async def wait_many(
        self,
        image_generation_ids: Iterable[ImageRef],
        *,
        timeout: float | None = ...,
        interval: float | None = ...,
        max_interval: float | None = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[ImageGeneration]: ...
    @overload
    async def wait_many(
        self,
        image_generation_ids: Iterable[ImageRef],
        *,
        timeout: float | None = ...,
        interval: float | None = ...,
        max_interval: float | None = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: bool,
    ) -> builtins.list[ImageGeneration | Exception]: ...
    async def wait_many(
        self,
        image_generation_ids: Iterable[ImageRef],
        *,
        timeout: float | None = 600.0,
        interval: float | None = None,
        max_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
    ) -> builtins.list[ImageGeneration] | builtins.list[ImageGeneration | Exception]:
        """Wait for every image generation; one result per input, in input order.

        Failed ones are returned as they are (with the images that were made).

        Raises:
            WaitTimeoutError: At the deadline, naming the ids still pending (what
                finished is in ``.finished``).
        """
        return await self._wait_many(
            image_generation_ids, timeout, interval, max_interval, on_progress, return_exceptions
        )

    async def feed(
        self, event: WebhookEvent | str, *, timeout: float | None = FEED_TIMEOUT
    ) -> bool:
        """Tell the client an image generation finished (an ``image_generation.*``
        webhook, or its id): its waits resolve now, from one GET. Other events cost
        nothing. Returns whether it was awaited."""
        return await self._feed(event, IMAGE_EVENTS, timeout)


class Videos(JobResource[VideoGeneration]):
    """Video generations: ``pp.videos``."""

    _kind: JobKind[VideoGeneration] = VIDEOS

    @property
    def with_response(self) -> VideosWithResponse:
        """`generate` and `get`, answering [`APIResponse`][powerpost_async.APIResponse]s."""
        return VideosWithResponse(self)

    async def generate(
        self,
        prompt: str,
        *,
        duration: int,
        model: str | None = None,
        size: str | None = None,
        has_audio: bool | None = None,
        enhance_prompt: bool | None = None,
        source_image: MediaRef | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CreatedVideoGeneration:
        """Start a video generation (costs credits by model, duration and audio).

        Args:
            prompt: What to film (``kling-3.0-pro`` 2,500 characters at most,
                ``veo-3.1`` 3,000, ``runway-gen-4.5`` 1,000).
            duration: Seconds, one the model makes (kling and runway: 5 or 10; veo: 4 or 8).
            model: ``kling-3.0-pro`` (default), ``veo-3.1`` or ``runway-gen-4.5``; another
                name is sent with a warning.
            size: ``landscape`` (default) or ``portrait``.
            has_audio: Sound (not with ``runway-gen-4.5``).
            enhance_prompt: Let the service rewrite the prompt.
            source_image: An image to animate (image-to-video): a media id or object.
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.
            extra_body: Fields the SDK does not know yet, laid over the body it builds.

        Raises:
            ValueError: An argument is not acceptable (nothing was sent).
            InsufficientCreditsError: Not enough credits.
        """
        body = build_video_body(
            prompt=prompt,
            duration=duration,
            model=model,
            size=size,
            has_audio=has_audio,
            enhance_prompt=enhance_prompt,
            source_image=source_image,
        )
        return await self._requester.call(  # type: ignore[no-any-return]
            "POST",
            VIDEOS_GENERATE_PATH,
            CreatedVideoGeneration,
            body=check_extra_body(body, extra_body),
            idempotent=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def get(
        self,
        video_generation_id: VideoRef,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> VideoGeneration:
        """One video generation: its status, and its video once completed.

        Raises:
            ValueError: The id is empty or could alter the URL (nothing sent).
            NotFoundError: No such video generation in this workspace.
        """
        return await self._get_job(
            video_generation_id,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def wait(
        self,
        video_generation_id: VideoRef,
        *,
        timeout: float | None = 1800.0,
        interval: float | None = None,
        max_interval: float | None = None,
    ) -> VideoGeneration:
        """Wait until a video generation finishes (minutes), and return it completed.

        Polled per id (first pause 5 s, growing to 20 s by default); the API lists no
        video webhook events.

        Raises:
            VideoGenerationFailedError: It failed (refunded); ``.video_generation.error``.
            WaitTimeoutError: The deadline passed (``.last_seen`` is the last state seen).
            NotFoundError: No such video generation.
        """
        return await self._wait(video_generation_id, timeout, interval, max_interval)

    def as_completed(
        self,
        video_generation_ids: Iterable[VideoRef],
        *,
        timeout: float | None = 1800.0,
        interval: float | None = None,
        max_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[VideoGeneration, None]:
        """Yield each distinct video generation once, as soon as it is seen finished."""
        return self._as_completed(
            video_generation_ids, timeout, interval, max_interval, on_progress
        )

    @overload
    async def wait_many(
        self,
        video_generation_ids: Iterable[VideoRef],
        *,
        timeout: float | None = ...,
        interval: float | None = ...,
        max_interval: float | None = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[VideoGeneration]: ...
    @overload
    async def wait_many(
        self,
        video_generation_ids: Iterable[VideoRef],
        *,
        timeout: float | None = ...,
        interval: float | None = ...,
        max_interval: float | None = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: bool,
    ) -> builtins.list[VideoGeneration | Exception]: ...
    async def wait_many(
        self,
        video_generation_ids: Iterable[VideoRef],
        *,
        timeout: float | None = 1800.0,
        interval: float | None = None,
        max_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
    ) -> builtins.list[VideoGeneration] | builtins.list[VideoGeneration | Exception]:
        """Wait for every video generation; one result per input, in input order."""
        return await self._wait_many(
            video_generation_ids, timeout, interval, max_interval, on_progress, return_exceptions
        )

    async def feed(
        self, event: WebhookEvent | str, *, timeout: float | None = FEED_TIMEOUT
    ) -> bool:
        """Tell the client a video generation finished (by id: the API lists no video
        webhook events today; a future ``video_generation.*`` event is accepted too)."""
        return await self._feed(event, VIDEO_EVENTS, timeout)


class ImagesWithResponse:
    """``pp.images.with_response``: `generate` and `get`, each answering an
    [`APIResponse`][powerpost_async.APIResponse] around what the plain call returns."""

    def __init__(self, images: Images) -> None:
        clock = images._requester.clock
        self.generate = with_response(images.generate, clock)
        self.get = with_response(images.get, clock)


class VideosWithResponse:
    """``pp.videos.with_response``: `generate` and `get`, each answering an
    [`APIResponse`][powerpost_async.APIResponse] around what the plain call returns."""

    def __init__(self, videos: Videos) -> None:
        clock = videos._requester.clock
        self.generate = with_response(videos.generate, clock)
        self.get = with_response(videos.get, clock)
