"""Models and the converter: documented payloads field by field, tolerance, round trips."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from powerpost_async import (
    CreatedGeneration,
    Credits,
    Generation,
    GenerationError,
    GenerationStatus,
    GenerationSummary,
    Page,
    ResponseValidationError,
    YouTubeOutput,
)
from powerpost_async._converter import structure, unstructure

from .conftest import load_sample

UTC = timezone.utc


def test_list_example_is_structured_field_by_field() -> None:
    page = structure(load_sample("list_generations"), Page[GenerationSummary])
    assert page.next_cursor == "gen_cursor_abc123"
    assert page.has_more is True
    assert len(page) == 2
    first, second = page
    assert first.generation_id == "550e8400-e29b-41d4-a716-446655440000"
    assert first.status is GenerationStatus.COMPLETED
    assert first.prompt == "We just shipped dark mode"
    assert first.platforms == ("tiktok", "instagram")
    assert first.research_mode == "regular"
    assert first.credits_used == 10
    assert first.created_at == datetime(2026, 1, 10, 18, 30, tzinfo=UTC)
    assert second.generation_id == "661f9511-f3ac-52e5-b827-557766551111"
    assert second.platforms == ("x", "facebook")
    assert second.research_mode == "deep"
    assert second.credits_used == 15
    assert second.created_at == datetime(2026, 1, 9, 12, 0, tzinfo=UTC)
    assert page[1] is second


def test_processing_example() -> None:
    generation = structure(load_sample("generation_processing"), Generation)
    assert generation.status is GenerationStatus.PROCESSING
    assert not generation.is_terminal
    assert generation.outputs is None
    assert generation.error is None
    assert generation.credits_used == 10
    assert generation.created_at.tzinfo is not None


def test_completed_example_with_youtube() -> None:
    payload = load_sample("generation_completed")
    payload["outputs"].update(load_sample("youtube_output"))
    generation = structure(payload, Generation)
    assert generation.status is GenerationStatus.COMPLETED
    assert generation.is_terminal
    assert generation.error is None
    assert generation.outputs is not None
    assert generation.outputs["tiktok"].startswith("🌙 Dark mode activated!")
    assert generation.outputs["instagram"] == (
        "✨ Dark mode is here!\n\nYour late-night scrolling just got easier on the eyes... "
        "#DarkMode #ProductUpdate"
    )
    assert generation.outputs["youtube"] == YouTubeOutput(
        title="We Just Shipped Dark Mode",
        description="Dark mode is finally here across all our apps... #darkmode",
    )


def test_failed_example() -> None:
    generation = structure(load_sample("generation_failed"), Generation)
    assert generation.status is GenerationStatus.FAILED
    assert generation.is_terminal
    assert generation.credits_used == 0
    assert generation.outputs is None
    assert generation.error == GenerationError(
        code="GENERATION_FAILED", message="Failed to generate content. Please try again."
    )


def test_create_and_credits_examples() -> None:
    created = structure(load_sample("create_generation"), CreatedGeneration)
    assert created == CreatedGeneration(
        generation_id="550e8400-e29b-41d4-a716-446655440000",
        status=GenerationStatus.PROCESSING,
        credits_used=10,
        remaining_credits=37,
        status_url="/api/v1/content/generations/550e8400-e29b-41d4-a716-446655440000",
    )
    assert structure(load_sample("credits"), Credits) == Credits(balance=47)


def test_models_are_frozen_and_slotted() -> None:
    generation = structure(load_sample("generation_failed"), Generation)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        generation.status = GenerationStatus.COMPLETED  # type: ignore[misc]
    for cls in (Generation, GenerationSummary, CreatedGeneration, Credits, Page, YouTubeOutput):
        assert "__slots__" in cls.__dict__, cls


def test_unknown_fields_are_ignored() -> None:
    payload = {**load_sample("generation_processing"), "brand_new_field": {"x": [1, 2]}}
    assert structure(payload, Generation) == structure(
        load_sample("generation_processing"), Generation
    )


def test_unknown_platform_is_kept_as_string() -> None:
    payload = load_sample("generation_completed")
    payload["platforms"].append("threads")
    payload["outputs"]["threads"] = "New on Threads"
    generation = structure(payload, Generation)
    assert "threads" in generation.platforms
    assert generation.outputs is not None
    assert generation.outputs["threads"] == "New on Threads"


def test_unknown_status_and_research_mode_are_kept_and_never_terminal() -> None:
    payload = {**load_sample("generation_processing"), "status": "queued_for_review"}
    payload["research_mode"] = "ultra"
    generation = structure(payload, Generation)
    assert generation.status == "queued_for_review"
    assert isinstance(generation.status, GenerationStatus)
    assert not generation.status.is_known
    assert not generation.is_terminal
    assert generation.research_mode == "ultra"
    assert GenerationStatus("queued_for_review") == generation.status
    assert str(generation.status) == "queued_for_review"


def test_naive_and_offset_timestamps() -> None:
    base = load_sample("generation_processing")
    naive = structure({**base, "created_at": "2026-01-10T18:30:00"}, Generation)
    assert naive.created_at == datetime(2026, 1, 10, 18, 30, tzinfo=UTC)
    offset = structure({**base, "created_at": "2026-01-10T19:30:00.5+01:00"}, Generation)
    assert offset.created_at == datetime(2026, 1, 10, 18, 30, 0, 500000, tzinfo=UTC)
    nanos = structure({**base, "created_at": "2026-01-10T18:30:00.123456789Z"}, Generation)
    assert nanos.created_at == datetime(2026, 1, 10, 18, 30, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": None}, "$.status"),
        ({"credits_used": "10"}, "$.credits_used"),
        ({"credits_used": 10.5}, "$.credits_used"),
        ({"created_at": "yesterday"}, "$.created_at"),
        ({"platforms": "tiktok"}, "$.platforms"),
        ({"outputs": {"tiktok": 3}}, "$.outputs"),
        ({"outputs": {"youtube": {"title": "no description"}}}, "$.outputs"),
        ({"error": {"code": 1, "message": "m"}}, "$.error.code"),
        ({"generation_id": None}, "$.generation_id"),
    ],
)
def test_bad_payloads_raise_response_validation_error(change: dict[str, Any], problem: str) -> None:
    payload = {**load_sample("generation_completed"), **change}
    body = json.dumps(payload).encode()
    with pytest.raises(ResponseValidationError) as info:
        structure(payload, Generation, body=body)
    assert info.value.body == body
    assert any(problem in line for line in info.value.errors), info.value.errors
    assert problem in str(info.value)


def test_missing_fields_and_wrong_top_level_type() -> None:
    with pytest.raises(ResponseValidationError, match=r"required field missing @ \$\.status"):
        structure({"generation_id": "x", "created_at": "2026-01-10T18:30:00Z"}, Generation)
    with pytest.raises(ResponseValidationError, match="expected a JSON object, got list"):
        structure([], Generation)
    with pytest.raises(ResponseValidationError, match="'data'"):
        structure({"data": None}, Page[GenerationSummary])


def test_errors_pickle() -> None:
    error = ResponseValidationError("bad", body=b"{}", errors=["x @ $.y"])
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.message, clone.body, clone.errors) == ("bad", b"{}", ("x @ $.y",))


# -- round trips (hypothesis) --------------------------------------------------------------

text = st.text(max_size=40)
statuses = st.sampled_from(list(GenerationStatus)) | st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
stamps = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
) | st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.builds(
        lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-720, 720)
    ),
)
outputs = st.none() | st.dictionaries(
    st.text(min_size=1, max_size=12),
    text | st.builds(YouTubeOutput, title=text, description=text),
    max_size=6,
)
generations = st.builds(
    Generation,
    generation_id=st.uuids().map(str),
    status=statuses.map(GenerationStatus),
    created_at=stamps,
    prompt=st.none() | text,
    platforms=st.lists(st.text(min_size=1, max_size=10), max_size=5).map(tuple),
    research_mode=st.none() | st.sampled_from(["regular", "deep", "future"]),
    credits_used=st.integers(0, 10**6),
    outputs=outputs,
    error=st.none() | st.builds(GenerationError, code=text, message=text),
)


@given(generations)
def test_generation_round_trips_through_json(generation: Generation) -> None:
    wire = json.loads(json.dumps(unstructure(generation)))
    assert structure(wire, Generation) == generation


@given(st.lists(generations, max_size=5), st.none() | st.text(min_size=1), st.booleans())
def test_page_round_trips(items: list[Generation], cursor: str | None, more: bool) -> None:
    summaries = [
        GenerationSummary(
            generation_id=g.generation_id,
            status=g.status,
            created_at=g.created_at,
            prompt=g.prompt,
            platforms=g.platforms,
            research_mode=g.research_mode,
            credits_used=g.credits_used,
        )
        for g in items
    ]
    page = Page(data=tuple(summaries), next_cursor=cursor, has_more=more)
    wire = json.loads(json.dumps(unstructure(page)))
    assert structure(wire, Page[GenerationSummary]) == page


def test_unknown_statuses_are_not_remembered_without_bound() -> None:
    values = [f"future_status_{i}" for i in range(500)]
    statuses = [GenerationStatus(v) for v in values]
    assert [str(s) for s in statuses] == values
    assert all(not s.is_terminal and not s.is_known for s in statuses)
    assert len(GenerationStatus._value2member_map_) < 100
    assert GenerationStatus("future_status_499") == "future_status_499"
