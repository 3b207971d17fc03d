"""Images, videos, posts, analytics and the calendar, through the public API, against the
fake in virtual time; and the one waiting engine generalised to every kind of job."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, time, timedelta, timezone

import pytest

from powerpost_async import (
    UNSET,
    AlreadyPublishedError,
    APIError,
    BadRequestError,
    ConflictError,
    GenerationStatus,
    ImageGeneration,
    ImageGenerationFailedError,
    InsufficientScopeError,
    NotFoundError,
    PlatformNotConnectedError,
    Post,
    PostFailedError,
    PostItemStatus,
    PostStatus,
    PowerPost,
    PowerPostWarning,
    VideoGenerationFailedError,
    WaitProgress,
    WaitTimeoutError,
    to_dict,
)
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock
from powerpost_async.webhooks import (
    ImageGenerationCompletedEvent,
    PostFailedEvent,
    PostPublishedEvent,
    parse_webhook,
)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
async def server(clock: VirtualClock) -> AsyncIterator[FakePowerPost]:
    async with FakePowerPost(clock=clock, processing=(5.0, 20.0), seed=3, credits=10**6) as fake:
        yield fake


def paths(server: FakePowerPost, prefix: str) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith(prefix)]


# -- images ---------------------------------------------------------------------------------


async def test_image_generation_is_awaited_and_its_images_are_media(
    server: FakePowerPost,
) -> None:
    async with server.client() as pp:
        created = await pp.images.generate("a red fox", quantity=3, size="feed")
        assert created.status is GenerationStatus.PROCESSING
        assert created.credits_used == 15
        images = await pp.images.wait(created)
        again = await pp.images.get(created.image_generation_id)
    assert images.status is GenerationStatus.COMPLETED
    assert len(images.images) == 3 == len(images.media_ids)
    assert images == again
    for media_id in images.media_ids:
        assert server.media(media_id)["type"] == "image"


async def test_partial_image_failure_keeps_the_images_that_were_made(
    server: FakePowerPost,
) -> None:
    async with server.client() as pp:
        created = await pp.images.generate("[partial] four foxes", quantity=4)
        with pytest.raises(ImageGenerationFailedError) as info:
            await pp.images.wait(created)
        many = await pp.images.wait_many([created], return_exceptions=True)
    failed = info.value.image_generation
    assert failed.status is GenerationStatus.FAILED
    assert failed.error is not None
    assert 0 < len(failed.images) < 4  # visible, not lost
    assert "image(s) were made and kept" in str(info.value)
    assert isinstance(many[0], ImageGeneration)
    assert many[0].images == failed.images
    clone = pickle.loads(pickle.dumps(info.value))
    assert clone.image_generation == failed


async def test_many_image_waits_share_one_poller_per_id(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    async with server.client() as pp:
        created = [await pp.images.generate(f"fox {i}") for i in range(5)]
        ids = [c.image_generation_id for c in created]
        progress: list[WaitProgress] = []
        callers = [pp.images.wait(c) for c in created for _ in range(3)]
        results, many = await asyncio.gather(
            asyncio.gather(*callers), pp.images.wait_many(ids * 2, on_progress=progress.append)
        )
    assert all(r.status is GenerationStatus.COMPLETED for r in results)
    assert [m.image_generation_id for m in many] == ids * 2
    assert progress[-1].completed == 5
    assert progress[-1].total == 5
    gets = paths(server, "/api/v1/images/generations/")
    # 15 + 10 waits on 5 ids: GETs grow with the ids and the time, not the callers.
    assert len(gets) <= 5 * (2 + clock() / 2)
    for image_id in ids:
        polls = [p for p in gets if p.endswith(image_id)]
        assert 1 <= len(polls) <= 2 + clock() / 2


async def test_image_wait_times_out_with_the_last_state_seen(server: FakePowerPost) -> None:
    server.processing = 500.0
    async with server.client() as pp:
        created = await pp.images.generate("slow fox")
        with pytest.raises(WaitTimeoutError) as info:
            await pp.images.wait(created, timeout=30)
    error = info.value
    assert error.pending_ids == (created.image_generation_id,)
    assert isinstance(error.last_seen, ImageGeneration)
    assert error.generation is None  # not a caption generation
    assert "image generation" in str(error)


async def test_image_polling_backs_off_over_an_hour(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    server.processing = 10_000.0
    async with server.client() as pp:
        created = await pp.images.generate("very slow fox")
        with pytest.raises(WaitTimeoutError):
            await pp.images.wait(created, timeout=3600)
    polls = paths(server, "/api/v1/images/generations/")
    assert clock() >= 3600
    # Backed off to max_interval (10 s, jittered): about 360 polls an hour, not 1,800.
    assert 300 <= len(polls) <= 420


async def test_images_from_a_caption_generation_and_style_references(
    server: FakePowerPost,
) -> None:
    async with server.client() as pp:
        caption = await pp.generations.create(prompt="Spring sale", post_types=["instagram-feed"])
        generation = await pp.generations.wait(caption)
        first = await pp.images.wait(await pp.images.generate(generation_id=generation))
        styled = await pp.images.generate(
            "in the same style", style_images=first.images, model="ideogram-3"
        )
        assert (await pp.images.wait(styled)).status is GenerationStatus.COMPLETED
    assert first.generation_id == generation.generation_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "needs a prompt"),
        ({"prompt": ""}, "must not be empty"),
        ({"prompt": "x" * 2001}, "at most 2000"),
        ({"prompt": "x", "size": "huge"}, "size must be one of"),
        ({"prompt": "x", "size": "feed", "model": "gpt-image-2"}, "makes no 'feed'"),
        ({"prompt": "x", "quantity": 5}, "between 1 and 4"),
        ({"prompt": "x", "style_images": ["a", "b", "c", "d", "e"]}, "at most 4"),
        ({"prompt": "x", "style_images": ["../up"]}, "not a valid id"),
        ({"prompt": "x", "source_post_type": "x-post"}, "pass generation_id"),
    ],
)
async def test_image_arguments_are_checked_before_sending(
    server: FakePowerPost, kwargs: dict[str, object], message: str
) -> None:
    async with server.client() as pp:
        with pytest.raises(ValueError, match=message):
            await pp.images.generate(**kwargs)  # type: ignore[arg-type]
    assert not paths(server, "/api/v1/images")


async def test_an_unknown_image_model_is_sent_with_a_warning(server: FakePowerPost) -> None:
    async with server.client() as pp:
        with (
            pytest.warns(PowerPostWarning, match="not one this SDK knows"),
            pytest.raises(BadRequestError, match="model"),  # the API decides: the fake refuses
        ):
            await pp.images.generate("x", model="flux-9")
    assert paths(server, "/api/v1/images/generate")


# -- videos ---------------------------------------------------------------------------------


async def test_video_generation_is_awaited(server: FakePowerPost) -> None:
    async with server.client() as pp:
        created = await pp.videos.generate("a fox runs", duration=5, has_audio=True)
        video = await pp.videos.wait(created)
    assert video.status is GenerationStatus.COMPLETED
    assert video.video is not None
    assert video.video.media_id
    assert video.duration == 5
    assert video.has_audio is True


async def test_a_failed_video_raises_with_its_error(clock: VirtualClock) -> None:
    async with FakePowerPost(clock=clock, failure_rate=1.0) as fake, fake.client() as pp:
        created = await pp.videos.generate("doomed", duration=4, model="veo-3.1")
        with pytest.raises(VideoGenerationFailedError) as info:
            await pp.videos.wait(created)
    assert info.value.video_generation.error is not None
    assert info.value.video_generation.error.code == "VIDEO_GENERATION_FAILED"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": "x", "duration": 6}, "5 or 10 seconds"),
        ({"prompt": "x", "duration": 5, "model": "veo-3.1"}, "4 or 8 seconds"),
        ({"prompt": "x", "duration": 5, "model": "runway-gen-4.5", "has_audio": True}, "no audio"),
        ({"prompt": "x" * 1001, "duration": 5, "model": "runway-gen-4.5"}, "at most 1000"),
        ({"prompt": "x", "duration": 5, "size": "square"}, "size must be one of"),
        ({"prompt": " ", "duration": 5}, "must not be empty"),
    ],
)
async def test_video_arguments_are_checked_before_sending(
    server: FakePowerPost, kwargs: dict[str, object], message: str
) -> None:
    async with server.client() as pp:
        with pytest.raises(ValueError, match=message):
            await pp.videos.generate(**kwargs)  # type: ignore[arg-type]
    assert not paths(server, "/api/v1/videos")


# -- posts ----------------------------------------------------------------------------------


async def test_create_publish_and_await_a_post(server: FakePowerPost) -> None:
    async with server.client() as pp:
        caption = await pp.generations.create(
            prompt="Launch", post_types=["instagram-feed", "x-post", "youtube-short"]
        )
        generation = await pp.generations.wait(caption)
        image = await pp.images.wait(await pp.images.generate(generation_id=generation))
        post = await pp.posts.create(
            [
                {"post_type": "instagram-feed", "media_ids": image.images},
                {"post_type": "x-post", "content": "Our own words"},
                {"post_type": "youtube-short", "media_ids": [image.images[0].media_id]},
            ],
            generation_id=generation,
        )
        assert post.status is PostStatus.DRAFT
        assert [i.status for i in post.items] == [PostItemStatus.DRAFT] * 3
        assert post.items[1].content == "Our own words"
        assert post.items[0].content == generation.outputs["instagram"]  # type: ignore[index]
        before = server.balance()
        action = await pp.posts.publish(post)
        assert action.status is PostStatus.PUBLISHING
        published = await pp.posts.wait(action)
        with pytest.raises(AlreadyPublishedError):
            await pp.posts.publish(post)
    assert published.status is PostStatus.PUBLISHED
    assert all(i.status is PostItemStatus.POSTED for i in published.items)
    assert all(i.platform_post_id for i in published.items)
    assert published.posted_items == published.items
    assert server.balance() == before - 1 - 3  # 1 per publish action, +3 for X
    publishes = [r for r in server.requests if r.path.endswith("/publish")]
    assert len(publishes) == 2  # never resent


async def test_a_post_with_failed_items_raises_and_keeps_the_posted_ones(
    server: FakePowerPost,
) -> None:
    async with server.client() as pp:
        post = await pp.posts.create(
            [
                {"post_type": "x-post", "content": "fine"},
                {"post_type": "linkedin-post", "content": "[fail] this one"},
            ]
        )
        await pp.posts.publish(post.post_id)
        with pytest.raises(PostFailedError) as info:
            await pp.posts.wait(post)
        [finished] = await pp.posts.wait_many([post])  # returned, not raised
    error = info.value
    assert [i.post_type for i in error.failed_items] == ["linkedin-post"]
    assert [i.post_type for i in error.post.posted_items] == ["x-post"]
    assert finished.failed_items == error.failed_items
    assert "1 of 2 item(s) failed, 1 posted" in str(error)


async def test_publishing_to_an_unconnected_platform_is_a_typed_error(
    server: FakePowerPost,
) -> None:
    server.disconnect_platforms("tiktok")
    async with server.client() as pp:
        post = await pp.posts.create([{"post_type": "tiktok-video", "content": "dance"}])
        with pytest.raises(PlatformNotConnectedError) as info:
            await pp.posts.publish(post)
    assert info.value.platforms == ("tiktok",)
    assert server.post(post.post_id)["status"] == "draft"


async def test_a_missing_scope_is_named(clock: VirtualClock) -> None:
    key = "pp_live_sk_draft"
    scopes = {key: ["posts:read", "posts:write", "content:read", "content:generate"]}
    fake = FakePowerPost(clock=clock, keys={key: ["ws_draft"]}, scopes=scopes)
    async with fake, fake.client() as pp:
        post = await pp.posts.create([{"post_type": "x-post", "content": "hello"}])
        with pytest.raises(InsufficientScopeError) as info:
            await pp.posts.publish(post)
        with pytest.raises(InsufficientScopeError) as credits:
            await pp.account.credits()
    assert info.value.scope == "posts:publish"
    assert credits.value.scope == "account:read"


async def test_schedule_publishes_on_time_and_cancel_returns_a_draft(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    async with server.client() as pp:
        first = await pp.posts.create([{"post_type": "x-post", "content": "later"}])
        second = await pp.posts.create([{"post_type": "x-post", "content": "never"}])
        now = datetime.fromisoformat("2026-01-10T18:30:00+00:00") + timedelta(seconds=clock())
        at = now + timedelta(hours=2)
        scheduled = await pp.posts.schedule(first, at=at)
        assert scheduled.status is PostStatus.SCHEDULED
        assert scheduled.scheduled_at == at
        await pp.posts.schedule(second, at=at.astimezone(timezone(timedelta(hours=5))))
        cancelled = await pp.posts.cancel_publish(second)
        assert cancelled.status is PostStatus.DRAFT
        started = clock()
        published = await pp.posts.wait(first, timeout=3 * 3600)
        with pytest.raises(WaitTimeoutError) as info:
            await pp.posts.wait(second, timeout=60)  # a draft nobody publishes
    assert published.status is PostStatus.PUBLISHED
    assert clock() - started >= 2 * 3600 - 60
    assert isinstance(info.value.last_seen, Post)
    assert info.value.last_seen.status is PostStatus.DRAFT


async def test_cancel_after_items_started_is_a_conflict(server: FakePowerPost) -> None:
    async with server.client() as pp:
        post = await pp.posts.create([{"post_type": "x-post", "content": "now"}])
        await pp.posts.publish(post)
        await pp.posts.wait(post)
        with pytest.raises(ConflictError):
            await pp.posts.cancel_publish(post)


@pytest.mark.parametrize(
    ("items", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, "1 to 12 items"),
        ({"post_type": "x-post"}, {}, TypeError, "must be a list"),
        ([{"content": "x"}], {}, ValueError, "needs a post_type"),
        ([{"post_type": "x-post"}], {}, ValueError, "needs content"),
        ([{"post_type": "youtube-short", "content": "x"}], {}, ValueError, "needs a title"),
        (
            [{"post_type": "x-post", "content": "a"}, {"post_type": "x-post", "content": "b"}],
            {},
            ValueError,
            "appears twice",
        ),
        ([{"post_type": "x-post", "content": "a", "colour": 1}], {}, ValueError, "unknown keys"),
        ([{"post_type": "x-post", "content": "a", "media_ids": "m"}], {}, TypeError, "a list"),
        ([{"post_type": "x-post"}], {"generation_id": "a/b"}, ValueError, "not a valid id"),
    ],
)
async def test_post_items_are_checked_before_sending(
    server: FakePowerPost,
    items: object,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    async with server.client() as pp:
        with pytest.raises(error, match=message):
            await pp.posts.create(items, **kwargs)  # type: ignore[arg-type]
    assert not paths(server, "/api/v1/posts")


async def test_schedule_needs_an_aware_time(server: FakePowerPost) -> None:
    async with server.client() as pp:
        with pytest.raises(ValueError, match="timezone-aware"):
            await pp.posts.schedule("post-1", at=datetime(2026, 1, 11, 9, 0))
    assert not paths(server, "/api/v1/posts")


# -- analytics and calendar -----------------------------------------------------------------


async def test_item_analytics_appear_once_posted(server: FakePowerPost) -> None:
    async with server.client() as pp:
        post = await pp.posts.create([{"post_type": "linkedin-post", "content": "numbers"}])
        before = await pp.analytics.item(post.items[0])
        await pp.posts.publish(post)
        published = await pp.posts.wait(post)
        after = await pp.analytics.item(published.items[0].item_id)
        with pytest.raises(NotFoundError):
            await pp.analytics.item("item-missing")
    assert before.metrics is None
    assert before.status is PostItemStatus.DRAFT
    assert after.status is PostItemStatus.POSTED
    assert after.metrics is not None
    assert after.metrics.fetched_at is not None
    assert after.platform == "linkedin"


async def test_calendar_entries_round_trip(server: FakePowerPost) -> None:
    async with server.client() as pp:
        entry = await pp.calendar.create(
            "Spring launch",
            date(2026, 3, 1),
            scheduled_time="09:30",
            description="teaser first",
            platforms=["instagram", "x"],
        )
        other = await pp.calendar.create("Later", "2026-04-01")
        assert entry.scheduled_time == time(9, 30)
        listed = await pp.calendar.list(date(2026, 2, 1), "2026-03-31")
        assert [e.entry_id for e in listed] == [entry.entry_id]
        changed = await pp.calendar.update(entry, scheduled_time=None, platforms=["tiktok"])
        assert changed.scheduled_time is None
        assert changed.platforms == ("tiktok",)
        assert changed.description == "teaser first"  # UNSET: left as it was
        assert (await pp.calendar.get(entry.entry_id)) == changed
        await pp.calendar.delete(other)
        with pytest.raises(NotFoundError):
            await pp.calendar.get(other.entry_id)
    assert to_dict(changed)["scheduled_date"] == "2026-03-01"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda pp: pp.calendar.list("2026-03-02", "2026-03-01"), "before start"),
        (lambda pp: pp.calendar.list("2026-01-01", "2027-01-02"), "at most 366"),
        (lambda pp: pp.calendar.list("2026-1-1", "2026-01-02"), "YYYY-MM-DD"),
        (lambda pp: pp.calendar.create("", "2026-01-01"), "must not be empty"),
        (lambda pp: pp.calendar.create("t" * 501, "2026-01-01"), "at most 500"),
        (lambda pp: pp.calendar.create("t", "2026-01-01", scheduled_time="25:00"), "HH:MM"),
        (lambda pp: pp.calendar.create("t", "2026-01-01", platforms=["myspace"]), "not one of"),
        (lambda pp: pp.calendar.update("e1"), "at least one field"),
        (lambda pp: pp.calendar.update("e1", title=UNSET), "at least one field"),
    ],
)
async def test_calendar_arguments_are_checked_before_sending(
    server: FakePowerPost, call: object, message: str
) -> None:
    async with server.client() as pp:
        with pytest.raises(ValueError, match=message):
            await call(pp)  # type: ignore[operator]
    assert not paths(server, "/api/v1/calendar")


# -- webhooks -------------------------------------------------------------------------------


async def test_webhooks_resolve_image_and_post_waits_at_once(
    server: FakePowerPost, clock: VirtualClock
) -> None:
    server.processing = 300.0
    async with server.client() as pp:
        created = await pp.images.generate("fed fox")
        post = await pp.posts.create([{"post_type": "x-post", "content": "[fail] fed"}])
        await pp.posts.publish(post)
        waiting = asyncio.ensure_future(pp.images.wait(created, interval=120, max_interval=120))
        post_wait = asyncio.ensure_future(pp.posts.wait_many([post], interval=120))
        await asyncio.sleep(0)
        server.complete(created.image_generation_id)
        clock.advance(10)  # publishing ends (items take a few seconds)
        image_event = parse_webhook(server.webhook_event(created.image_generation_id), verify=None)
        post_event = parse_webhook(server.webhook_event(post.post_id), verify=None)
        assert isinstance(image_event, ImageGenerationCompletedEvent)
        assert isinstance(post_event, (PostFailedEvent, PostPublishedEvent))
        started = clock()
        assert await pp.feed(image_event) is True
        assert await pp.feed(post_event) is True
        image, [finished] = await asyncio.gather(waiting, post_wait)
        assert clock() - started < 1
        assert await pp.feed(image_event) is False  # nobody awaits it any more
        assert await pp.generations.feed(image_event) is False  # not a caption event
    assert image.status is GenerationStatus.COMPLETED
    assert finished.failed_items


# -- nothing that may have landed is sent twice -----------------------------------------------


async def _prepare(pp: PowerPost, endpoint: str) -> Callable[[], Awaitable[object]]:
    """The call of ``endpoint``, ready to be made (its post already exists)."""
    post = await pp.posts.create([{"post_type": "x-post", "content": "once"}])
    at = datetime(2026, 1, 11, 9, 0, tzinfo=timezone.utc)
    if endpoint == "cancel_publish":
        await pp.posts.schedule(post, at=at)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "image_create": lambda: pp.images.generate("once"),
        "video_create": lambda: pp.videos.generate("once", duration=5),
        "post_create": lambda: pp.posts.create([{"post_type": "x-post", "content": "once"}]),
        "publish": lambda: pp.posts.publish(post),
        "schedule": lambda: pp.posts.schedule(post, at=at),
        "cancel_publish": lambda: pp.posts.cancel_publish(post),
        "calendar_create": lambda: pp.calendar.create("once", "2026-02-01"),
    }
    return calls[endpoint]


WRITES = [
    "image_create",
    "video_create",
    "post_create",
    "publish",
    "schedule",
    "cancel_publish",
    "calendar_create",
]


@pytest.mark.parametrize("endpoint", WRITES)
@pytest.mark.parametrize(
    "fault", [Fault.server_error(503, executed=True), Fault.drop(executed=True)], ids=str
)
async def test_a_write_that_may_have_landed_is_not_sent_again(
    server: FakePowerPost, endpoint: str, fault: Fault
) -> None:
    async with server.client(max_retries=5) as pp:
        call = await _prepare(pp, endpoint)
        server.requests.clear()
        server.faults.script(fault, on=endpoint)
        with pytest.raises(APIError):
            await call()
    assert server.requests.count(endpoint=endpoint) == 1


@pytest.mark.parametrize("endpoint", WRITES)
async def test_a_write_refused_before_any_work_is_sent_again(
    server: FakePowerPost, endpoint: str
) -> None:
    async with server.client(max_retries=5) as pp:
        call = await _prepare(pp, endpoint)
        server.requests.clear()
        server.faults.script(Fault.rate_limit(retry_after=1), on=endpoint)
        await call()
    assert server.requests.count(endpoint=endpoint) == 2  # the 429, then the one that worked


async def test_every_new_call_has_a_with_response_twin(server: FakePowerPost) -> None:
    async with server.client() as pp:
        image = await pp.images.with_response.generate("a twin")
        video = await pp.videos.with_response.generate("a twin", duration=5)
        post = await pp.posts.with_response.create([{"post_type": "x-post", "content": "t"}])
        got = await pp.posts.with_response.get(post.parsed)
        published = await pp.posts.with_response.publish(post.parsed)
        item = await pp.analytics.with_response.item(post.parsed.items[0])
        entry = await pp.calendar.with_response.create("twin", "2026-02-01")
        listed = await pp.calendar.with_response.list("2026-02-01", "2026-02-01")
        deleted = await pp.calendar.with_response.delete(entry.parsed)
        images = await pp.images.with_response.get(image.parsed)
        videos = await pp.videos.with_response.get(video.parsed.video_generation_id)
    answers = [image, video, post, got, published, item, entry, listed, deleted, images, videos]
    assert all(a.status_code in (200, 201) for a in answers)
    assert all(a.request_id and a.request_id.startswith("req_") for a in answers)
    assert all(a.attempts == 1 for a in answers)
    assert published.parsed.status is PostStatus.PUBLISHING
    assert [e.entry_id for e in listed.parsed] == [entry.parsed.entry_id]
    assert deleted.parsed is None
