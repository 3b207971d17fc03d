"""Webhooks: push instead of poll.

PowerPost can POST an event to your HTTPS endpoint when a caption or image generation
finishes, or a post is published (or fails). Parse the body with
[`parse_webhook()`][powerpost_async.webhooks.parse_webhook], then hand the event to the
client with `pp.feed(event)` (or the resource's own: `pp.generations.feed(event)`,
`pp.images.feed(event)`, `pp.posts.feed(event)`): any `wait`, `as_completed` or
`wait_many` on that id resolves at once, with polling and sweeping still running
underneath as the safety net (a webhook can be lost).

**Verification is yours.** PowerPost signs webhooks with a per-workspace secret, but the
signature header and scheme are not published.
[`parse_webhook()`][powerpost_async.webhooks.parse_webhook] therefore makes you
decide: pass ``verify=`` a function that checks the request (and returns ``False`` or
raises to reject it), or ``verify=None`` to state that you accept it unverified (e.g.
behind a secret URL path). Either way, `feed()` treats an event only as a *hint*: it
re-reads the generation from the API before resolving anything, so a forged event can
at most cost one GET, never inject outputs.

Example (any framework):

```python
from powerpost_async.webhooks import parse_webhook

async def powerpost_webhook(body: bytes, headers: Mapping[str, str]) -> None:
    event = parse_webhook(body, headers=headers, verify=my_verifier)
    await pp.feed(event)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Protocol

import attrs

from ._converter import loads, parse_datetime, structure, structure_outputs
from ._exceptions import PowerPostError, ResponseValidationError
from ._models import (
    GeneratedImage,
    GenerationError,
    GenerationStatus,
    Output,
    PostItem,
    PostStatus,
)

__all__ = [
    "GenerationCompletedEvent",
    "GenerationFailedEvent",
    "ImageGenerationCompletedEvent",
    "ImageGenerationFailedEvent",
    "InvalidWebhookError",
    "PostFailedEvent",
    "PostPublishedEvent",
    "Verifier",
    "WebhookEvent",
    "WebhookVerificationError",
    "parse_webhook",
]


class InvalidWebhookError(PowerPostError, ValueError):
    """A webhook body that is not a well-formed PowerPost event."""


class WebhookVerificationError(InvalidWebhookError):
    """Your ``verify`` function rejected the webhook."""


class Verifier(Protocol):
    """Checks a webhook request; return ``False`` (or raise) to reject it."""

    def __call__(self, body: bytes, headers: Mapping[str, str]) -> bool | None: ...


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """Any webhook event: the envelope, and its ``data`` as received.

    Events the SDK has no class for (ones added later) arrive as this class, so a
    handler never breaks on a new event type. Every event keeps its whole ``data`` as
    received, fields the SDK does not read included.

    Attributes:
        event: The event's name, e.g. ``"generation.completed"``.
        timestamp: When PowerPost sent it, if the envelope said (timezone-aware).
        workspace_id: The workspace it concerns, if the envelope said.
        data: The event's ``data`` object, as received.
    """

    event: str
    timestamp: datetime | None = None
    workspace_id: str | None = None
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class GenerationCompletedEvent(WebhookEvent):
    """``generation.completed``: the outputs, keyed by platform (as in ``Generation``).

    Attributes:
        generation_id: The generation that completed.
        status: Always ``completed``.
        outputs: One caption per platform; ``youtube`` is a ``YouTubeOutput``.
    """

    generation_id: str
    status: GenerationStatus = GenerationStatus.COMPLETED
    outputs: Mapping[str, Output] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class GenerationFailedEvent(WebhookEvent):
    """``generation.failed``; the flat ``error_code``/``error_message`` become ``error``.

    Attributes:
        generation_id: The generation that failed.
        status: Always ``failed``.
        error: Why, from the event's ``error_code`` and ``error_message``.
    """

    generation_id: str
    status: GenerationStatus = GenerationStatus.FAILED
    error: GenerationError


@attrs.frozen(kw_only=True)
class ImageGenerationCompletedEvent(WebhookEvent):
    """``image_generation.completed``.

    The docs show only the start of this payload (``image_generation_id``; an event
    without it arrives as a plain `WebhookEvent`): ``images`` is read when it is there
    and readable, else empty (``data`` keeps everything as sent).

    Attributes:
        image_generation_id: The image generation that completed.
        status: Always ``completed``.
        images: The images, when the event carries them.
    """

    image_generation_id: str
    status: GenerationStatus = GenerationStatus.COMPLETED
    images: tuple[GeneratedImage, ...] = ()


@attrs.frozen(kw_only=True)
class ImageGenerationFailedEvent(WebhookEvent):
    """``image_generation.failed`` (some images may have been made anyway).

    Attributes:
        image_generation_id: The image generation that failed.
        status: Always ``failed``.
        error: Why, from ``error_code``/``error_message`` (or an ``error`` object).
        images: The images that were made, when the event carries them.
    """

    image_generation_id: str
    status: GenerationStatus = GenerationStatus.FAILED
    error: GenerationError
    images: tuple[GeneratedImage, ...] = ()


@attrs.frozen(kw_only=True)
class PostPublishedEvent(WebhookEvent):
    """``post.published``. Its payload is not documented: an event without a string
    ``post_id`` arrives as a plain `WebhookEvent`; ``status`` and ``items`` are read when
    present and readable.

    Attributes:
        post_id: The post.
        status: Its status, ``published`` unless the event says otherwise.
        items: Its items, when the event carries them.
    """

    post_id: str
    status: PostStatus = PostStatus.PUBLISHED
    items: tuple[PostItem, ...] = ()


@attrs.frozen(kw_only=True)
class PostFailedEvent(WebhookEvent):
    """``post.failed`` (publishing failed, for some items or all). Payload read as
    for `PostPublishedEvent`.

    Attributes:
        post_id: The post.
        status: Its status, ``failed`` unless the event says otherwise.
        items: Its items, when the event carries them.
    """

    post_id: str
    status: PostStatus = PostStatus.FAILED
    items: tuple[PostItem, ...] = ()


def _maybe(data: Mapping[str, Any], name: str, cls: Any) -> Any:
    """``data[name]`` structured as ``cls``, or ``None`` if absent or unreadable (an
    undocumented payload is no reason to drop the event: ``data`` keeps it)."""
    value = data.get(name)
    if value is None:
        return None
    try:
        return structure(value, cls)
    except ResponseValidationError:
        return None


def _error_of(data: Mapping[str, Any], default_code: str) -> GenerationError:
    error = data.get("error")
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
    else:
        code, message = data.get("error_code"), data.get("error_message")
    return GenerationError(
        code=_optional_str(code) or default_code, message=_optional_str(message) or ""
    )


def parse_webhook(
    body: bytes | str,
    *,
    headers: Mapping[str, str] | None = None,
    verify: Verifier | None,
) -> WebhookEvent:
    """Parse (and, with ``verify``, check) one webhook request body.

    Args:
        body: The raw request body, exactly as received (verify before any re-encoding).
        headers: The request headers, handed to ``verify``.
        verify: Your check of the request, or ``None`` to accept it unverified. It is a
            required argument on purpose: the signing scheme is not published, so the
            SDK cannot verify for you, and must not look as if it did.

    Returns:
        A [`GenerationCompletedEvent`][powerpost_async.webhooks.GenerationCompletedEvent],
        [`GenerationFailedEvent`][powerpost_async.webhooks.GenerationFailedEvent],
        [`ImageGenerationCompletedEvent`][powerpost_async.webhooks.ImageGenerationCompletedEvent],
        [`ImageGenerationFailedEvent`][powerpost_async.webhooks.ImageGenerationFailedEvent],
        [`PostPublishedEvent`][powerpost_async.webhooks.PostPublishedEvent],
        [`PostFailedEvent`][powerpost_async.webhooks.PostFailedEvent], or a
        [`WebhookEvent`][powerpost_async.webhooks.WebhookEvent] for every other event.

    Raises:
        WebhookVerificationError: ``verify`` returned ``False`` or raised.
        InvalidWebhookError: The body is not a PowerPost event.
    """
    raw = body.encode() if isinstance(body, str) else bytes(body)
    if verify is not None:
        try:
            accepted = verify(raw, headers or {})
        except Exception as exc:  # the verifier's own reason, kept as the cause
            raise WebhookVerificationError(f"webhook rejected by verify: {exc}") from exc
        if accepted is False:
            raise WebhookVerificationError("webhook rejected by verify")
    try:
        envelope = loads(raw)
    except ValueError as exc:
        raise InvalidWebhookError("webhook body is not JSON") from exc
    if not isinstance(envelope, dict):
        raise InvalidWebhookError("webhook body is not a JSON object")
    event = envelope.get("event")
    if not isinstance(event, str) or not event:
        raise InvalidWebhookError("webhook body has no 'event' name")
    data = envelope.get("data")
    data = data if isinstance(data, dict) else {}
    try:
        common: dict[str, Any] = {
            "event": event,
            "timestamp": _optional_datetime(envelope.get("timestamp")),
            "workspace_id": _optional_str(envelope.get("workspace_id")),
            "data": data,
        }
        if event == "generation.completed":
            return GenerationCompletedEvent(
                **common,
                generation_id=_required_str(data, "generation_id"),
                outputs=structure_outputs(data.get("outputs") or {}, None) or {},
            )
        if event == "generation.failed":
            return GenerationFailedEvent(
                **common,
                generation_id=_required_str(data, "generation_id"),
                error=_error_of(data, "GENERATION_FAILED"),
            )
        if event in ("image_generation.completed", "image_generation.failed"):
            image_generation_id = data.get("image_generation_id")
            if not isinstance(image_generation_id, str) or not image_generation_id:
                return WebhookEvent(**common)  # an undocumented shape: kept, not refused
            images = _maybe(data, "images", tuple[GeneratedImage, ...]) or ()
            if event == "image_generation.completed":
                return ImageGenerationCompletedEvent(
                    **common, image_generation_id=image_generation_id, images=images
                )
            return ImageGenerationFailedEvent(
                **common,
                image_generation_id=image_generation_id,
                images=images,
                error=_error_of(data, "IMAGE_GENERATION_FAILED"),
            )
        if event in ("post.published", "post.failed"):
            post_id = data.get("post_id")
            if not isinstance(post_id, str) or not post_id:
                return WebhookEvent(**common)  # an undocumented shape: kept, not refused
            cls = PostPublishedEvent if event == "post.published" else PostFailedEvent
            fields: dict[str, Any] = {"post_id": post_id}
            status = _maybe(data, "status", PostStatus)
            if status is not None:
                fields["status"] = status
            fields["items"] = _maybe(data, "items", tuple[PostItem, ...]) or ()
            return cls(**common, **fields)
    except (TypeError, ValueError) as exc:
        raise InvalidWebhookError(f"malformed {event} event: {exc}") from exc
    return WebhookEvent(**common)


def _required_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"data.{name} must be a non-empty string, got {value!r}")
    return value


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _optional_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc)  # Unix seconds
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        return None  # an odd timestamp is no reason to drop the event
