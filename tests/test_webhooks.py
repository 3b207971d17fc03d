"""Webhook events: parsing, the verification hook, and feeding them to waits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pytest

from powerpost_async import GenerationStatus, PostStatus, YouTubeOutput
from powerpost_async.testing import FakePowerPost, VirtualClock
from powerpost_async.webhooks import (
    GenerationCompletedEvent,
    GenerationFailedEvent,
    ImageGenerationFailedEvent,
    InvalidWebhookError,
    PostFailedEvent,
    WebhookEvent,
    WebhookVerificationError,
    parse_webhook,
)

COMPLETED = {
    "event": "generation.completed",
    "timestamp": "2026-01-10T18:31:00Z",
    "workspace_id": "ws_test",
    "data": {
        "generation_id": "550e8400-e29b-41d4-a716-446655440000",
        "status": "completed",
        "outputs": {
            "tiktok": "🌙 Dark mode activated! #darkmode",
            "youtube": {"title": "We Just Shipped Dark Mode", "description": "Dark mode..."},
        },
    },
}
FAILED = {
    "event": "generation.failed",
    "timestamp": "2026-01-10T18:31:00Z",
    "workspace_id": "ws_test",
    "data": {
        "generation_id": "550e8400-e29b-41d4-a716-446655440000",
        "status": "failed",
        "error_code": "GENERATION_FAILED",
        "error_message": "Failed to generate content. Please try again.",
    },
}


def body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_completed_event() -> None:
    event = parse_webhook(body(COMPLETED), verify=None)
    assert isinstance(event, GenerationCompletedEvent)
    assert event.generation_id == "550e8400-e29b-41d4-a716-446655440000"
    assert event.status is GenerationStatus.COMPLETED
    assert event.workspace_id == "ws_test"
    assert event.timestamp == datetime(2026, 1, 10, 18, 31, tzinfo=timezone.utc)
    assert event.outputs["tiktok"] == "🌙 Dark mode activated! #darkmode"
    assert event.outputs["youtube"] == YouTubeOutput(
        title="We Just Shipped Dark Mode", description="Dark mode..."
    )


def test_failed_event_turns_flat_fields_into_an_error() -> None:
    event = parse_webhook(json.dumps(FAILED), verify=None)
    assert isinstance(event, GenerationFailedEvent)
    assert event.status is GenerationStatus.FAILED
    assert event.error.code == "GENERATION_FAILED"
    assert event.error.message == "Failed to generate content. Please try again."


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("brand.new", {"post_id": "p1"}),
        ("video_generation.completed", {"video_generation_id": "v1"}),
        # Undocumented payloads without the id the SDK reads: kept, never refused.
        ("post.published", {"id": "p1"}),
        ("image_generation.completed", {"image_generation": {"id": "i1"}}),
    ],
)
def test_other_events_are_generic(name: str, data: dict[str, object]) -> None:
    payload = {"event": name, "data": {**data, "new_field": [1, 2]}, "extra": True}
    event = parse_webhook(body(payload), verify=None)
    assert type(event) is WebhookEvent
    assert event.event == name
    assert event.data == {**data, "new_field": [1, 2]}
    assert event.timestamp is None


def test_image_and_post_events_are_typed_and_keep_their_data() -> None:
    image = parse_webhook(
        body(
            {
                "event": "image_generation.failed",
                "workspace_id": "ws_1",
                "data": {
                    "image_generation_id": "i1",
                    "error": {"code": "IMAGE_GENERATION_FAILED", "message": "no"},
                    "images": [{"media_id": "m1", "url": "https://x/1.webp"}],
                    "later": 1,
                },
            }
        ),
        verify=None,
    )
    assert isinstance(image, ImageGenerationFailedEvent)
    assert image.image_generation_id == "i1"
    assert image.error.code == "IMAGE_GENERATION_FAILED"
    assert [i.media_id for i in image.images] == ["m1"]
    assert image.data["later"] == 1
    post = parse_webhook(
        body({"event": "post.failed", "data": {"post_id": "p1", "items": "odd", "status": 7}}),
        verify=None,
    )
    assert isinstance(post, PostFailedEvent)
    assert post.status is PostStatus.FAILED  # an unreadable status: the event's own
    assert post.items == ()  # unreadable items: left out, still in data
    assert post.data["items"] == "odd"


def test_unknown_fields_and_odd_timestamps_are_tolerated() -> None:
    payload = {**COMPLETED, "timestamp": 1768069860, "version": 2}
    payload["data"] = {**COMPLETED["data"], "credits_used": 10, "new": {}}  # type: ignore[dict-item]
    event = parse_webhook(body(payload), verify=None)
    assert isinstance(event, GenerationCompletedEvent)
    assert event.timestamp == datetime.fromtimestamp(1768069860, tz=timezone.utc)
    assert parse_webhook(body({**COMPLETED, "timestamp": "soon"}), verify=None).timestamp is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (b'{"data": {}}', "no 'event' name"),
        (body({"event": "generation.completed", "data": {}}), "data.generation_id"),
        (
            body({"event": "generation.completed", "data": {"generation_id": "g", "outputs": 3}}),
            "malformed generation.completed event",
        ),
    ],
)
def test_malformed_bodies(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidWebhookError, match=message):
        parse_webhook(raw, verify=None)


def test_verify_is_a_required_decision() -> None:
    with pytest.raises(TypeError):
        parse_webhook(body(COMPLETED))  # type: ignore[call-arg]


def test_verify_gets_the_raw_body_and_headers_and_can_reject() -> None:
    seen: list[tuple[bytes, Mapping[str, str]]] = []

    def accept(raw: bytes, headers: Mapping[str, str]) -> bool:
        seen.append((raw, headers))
        return True

    raw = body(COMPLETED)
    parse_webhook(raw, headers={"X-Signature": "abc"}, verify=accept)
    assert seen == [(raw, {"X-Signature": "abc"})]

    with pytest.raises(WebhookVerificationError, match="rejected by verify"):
        parse_webhook(raw, verify=lambda raw, headers: False)

    def explode(raw: bytes, headers: Mapping[str, str]) -> bool:
        raise ValueError("bad signature")

    with pytest.raises(WebhookVerificationError, match="bad signature"):
        parse_webhook(raw, verify=explode)


# -- feeding events to waits ------------------------------------------------------------------


def event_for(generation_id: str, workspace_id: str = "ws_test") -> GenerationCompletedEvent:
    payload = {**COMPLETED, "workspace_id": workspace_id}
    payload["data"] = {**COMPLETED["data"], "generation_id": generation_id}  # type: ignore[dict-item]
    event = parse_webhook(body(payload), verify=None)
    assert isinstance(event, GenerationCompletedEvent)
    return event


async def test_a_fed_event_resolves_waits_at_once() -> None:
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, pending=0, processing=600.0)
    async with server, server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        single = asyncio.ensure_future(pp.generations.wait(created.generation_id))
        many = asyncio.ensure_future(pp.generations.wait_many([created.generation_id]))
        await clock.sleep(3)
        server.complete_all()  # it finished; the webhook arrives before the next poll
        before = clock()
        assert await pp.generations.feed(event_for(created.generation_id)) is True
        generation = await single
        assert (await many)[0] == generation
        assert generation.status is GenerationStatus.COMPLETED
        assert clock() - before < 0.001  # no waiting for the next poll


async def test_a_forged_event_cannot_resolve_anything() -> None:
    clock = VirtualClock()
    server = FakePowerPost(clock=clock, pending=0, processing=(30.0, 30.0))
    async with server, server.client() as pp:
        created = await pp.generations.create(prompt="dark mode", post_types=["x-post"])
        waiting = asyncio.ensure_future(pp.generations.wait(created.generation_id))
        await clock.sleep(1)
        assert await pp.generations.feed(event_for(created.generation_id)) is True
        await asyncio.sleep(0)
        assert not waiting.done()  # the API still says processing: the wait goes on
        generation = await waiting
        assert clock() >= 30.0
        assert generation.outputs is not None
        assert generation.outputs != event_for(created.generation_id).outputs


async def test_events_nobody_awaits_cost_nothing() -> None:
    server = FakePowerPost(clock=VirtualClock())
    async with server, server.client() as pp:
        (generation_id,) = server.seed_generations(1, status="processing")
        assert await pp.generations.feed(event_for(generation_id)) is False
        other = parse_webhook(
            body({"event": "post.published", "data": {"post_id": "p"}}), verify=None
        )
        assert await pp.generations.feed(other) is False
        waiting = asyncio.ensure_future(pp.generations.wait(generation_id))
        await asyncio.sleep(0)
        server.requests.clear()
        foreign = event_for(generation_id, workspace_id="ws_someone_else")
        assert await pp.generations.feed(foreign) is False
        assert len(server.requests) == 0
        server.complete_all()
        assert await pp.generations.feed(generation_id) is True  # a bare id works too
        assert (await waiting).status.is_terminal
