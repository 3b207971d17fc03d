"""Posts and publishing: ``pp.posts``.

A post is created as a draft (one item per post type), then published now or
scheduled; publishing runs in the background, item by item. Awaiting a post goes
through the client's one waiting engine (``_awaiting.py``): polled per id, until every
item is ``posted`` or ``failed``; a fed ``post.*`` webhook ends the wait at once.

``create``, ``publish``, ``schedule`` and ``cancel_publish`` change state and may cost
credits: each is resent only when it surely never reached the server.
"""

from __future__ import annotations

import builtins
import warnings
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict, overload

from ._awaiting import JobResource, check_extra_body
from ._converter import unstructure
from ._creative import MediaRef, media_ids_of
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._engine._engine import FEED_TIMEOUT, ProgressCallback, job_id_of
from ._engine._kinds import POSTS, JobKind
from ._exceptions import PowerPostWarning
from ._http import QueryValue, path_segment
from ._limits import MAX_POST_ITEMS, POSTS_PATH, TITLED_POST_TYPES
from ._models import (
    KNOWN_POST_TYPES,
    CreatedGeneration,
    Generation,
    GenerationSummary,
    Post,
    PostAction,
    PostType,
)
from ._response import with_response

if TYPE_CHECKING:
    from .webhooks import WebhookEvent

__all__ = ["PostItemParam", "PostRef", "Posts", "PostsWithResponse"]

#: What post waits and actions accept: the id, or an object carrying it.
PostRef = str | Post | PostAction

POST_EVENTS: Final = frozenset({"post.published", "post.failed"})


class _PostItemRequired(TypedDict):
    post_type: PostType | str


class PostItemParam(_PostItemRequired, total=False):
    """One item of ``posts.create``: a plain dict with these keys.

    Attributes:
        post_type: Where it goes, e.g. ``"instagram-feed"``.
        content: The caption (filled from the generation when ``generation_id`` is
            given; yours overrides it).
        title: The title, needed for ``youtube-video`` and ``youtube-short`` (taken
            from the generation's YouTube title when ``generation_id`` is given).
        media_ids: Media to attach: ids, or `Media` / `GeneratedImage` / `GeneratedVideo`.
    """

    content: str
    title: str
    media_ids: Sequence[MediaRef]


_ITEM_KEYS = frozenset({"post_type", "content", "title", "media_ids"})


def build_post_body(
    items: Sequence[PostItemParam | Mapping[str, Any]], generation_id: object
) -> dict[str, Any]:
    """The JSON body of ``posts.create``, every item checked (nothing sent yet)."""
    body: dict[str, Any] = {}
    if generation_id is not None:
        body["generation_id"] = job_id_of(generation_id)
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise TypeError("items must be a list of items (dicts with a post_type)")
    if not 1 <= len(items) <= MAX_POST_ITEMS:
        raise ValueError(f"a post has 1 to {MAX_POST_ITEMS} items, got {len(items)}")
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, Mapping):
            raise TypeError(f"{where} must be a dict, got {type(item).__name__}")
        unknown = set(item) - _ITEM_KEYS
        if unknown:
            raise ValueError(
                f"{where} has unknown keys {sorted(unknown)}; an item takes "
                f"{', '.join(sorted(_ITEM_KEYS))} (use extra_body for fields the SDK "
                "does not know yet)"
            )
        post_type = item.get("post_type")
        if not isinstance(post_type, str) or not post_type:
            raise ValueError(f"{where} needs a post_type, e.g. 'instagram-feed'")
        if post_type in seen:
            raise ValueError(f"{where}: post type {post_type!r} appears twice; one item per type")
        seen.add(post_type)
        if post_type not in KNOWN_POST_TYPES:
            warnings.warn(
                f"{where}: post type {post_type!r} is not one this SDK knows; sending it as is",
                PowerPostWarning,
                stacklevel=4,
            )
        entry: dict[str, Any] = {"post_type": post_type}
        for key in ("content", "title"):
            value = item.get(key)
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError(f"{where}.{key} must be a string, got {type(value).__name__}")
            entry[key] = value
        if generation_id is None:
            if not entry.get("content", "").strip():
                raise ValueError(f"{where} needs content (or pass generation_id to fill it)")
            if post_type in TITLED_POST_TYPES and not entry.get("title", "").strip():
                raise ValueError(f"{where}: a {post_type} item needs a title")
        media = item.get("media_ids")
        if media is not None:
            entry["media_ids"] = media_ids_of(media, f"{where}.media_ids")
        out.append(entry)
    body["items"] = out
    return body


def post_id_of(ref: object) -> str:
    """The id of a post reference, checked."""
    return job_id_of(ref, POSTS)


class Posts(JobResource[Post]):
    """Posts: ``pp.posts``."""

    _kind: JobKind[Post] = POSTS

    @property
    def with_response(self) -> PostsWithResponse:
        """`create`, `get`, `publish`, `schedule` and `cancel_publish`, answering
        [`APIResponse`][powerpost_async.APIResponse]s."""
        return PostsWithResponse(self)

    async def create(
        self,
        items: Sequence[PostItemParam | Mapping[str, Any]],
        *,
        generation_id: str | CreatedGeneration | Generation | GenerationSummary | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Post:
        """Create a draft post, one item per post type. Publish it with `publish()`.

        Example:
            ```python
            post = await pp.posts.create(
                [{"post_type": "instagram-feed", "media_ids": [image.media_id]}],
                generation_id=generation.generation_id,
            )
            ```

        Args:
            items: 1 to 12 items (see [`PostItemParam`][powerpost_async.PostItemParam]).
            generation_id: A caption generation: fills each item's content (and YouTube
                titles) from its outputs.
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.
            extra_body: Fields the SDK does not know yet, laid over the body it builds.

        Raises:
            ValueError: An item is not acceptable (nothing was sent).
            InsufficientScopeError: The key lacks ``posts:write``.
        """
        body = build_post_body(items, generation_id)
        return await self._requester.call(  # type: ignore[no-any-return]
            "POST",
            POSTS_PATH,
            Post,
            body=check_extra_body(body, extra_body),
            idempotent=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def get(
        self,
        post_id: PostRef,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> Post:
        """One post, with every item's status.

        Raises:
            ValueError: The id is empty or could alter the URL (nothing sent).
            NotFoundError: No such post in this workspace.
        """
        return await self._get_job(
            post_id,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def _act(
        self,
        post_id: object,
        action: str,
        body: dict[str, Any] | None,
        timeout: float | UseClientDefault | None,
        extra_headers: Mapping[str, str] | None,
    ) -> PostAction:
        path = f"{POSTS_PATH}/{path_segment(post_id_of(post_id), 'post_id')}/{action}"
        return await self._requester.call(  # type: ignore[no-any-return]
            "POST",
            path,
            PostAction,
            body=body,
            idempotent=False,  # never twice: it may already have landed
            timeout=timeout,
            extra_headers=extra_headers,
        )

    async def publish(
        self,
        post_id: PostRef,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> PostAction:
        """Publish a draft (or scheduled) post now. Await it with `wait()`.

        Credits are charged in the background, per item that posts. Resent only when
        it surely never reached the server.

        Raises:
            AlreadyPublishedError: It is publishing, published or failed already.
            PlatformNotConnectedError: A platform of it is not connected to the
                workspace (``.platforms`` names them, when the API does).
            InsufficientScopeError: The key lacks ``posts:publish`` (``.scope``).
            InsufficientCreditsError: Not enough credits.
        """
        return await self._act(post_id, "publish", None, timeout, extra_headers)

    async def schedule(
        self,
        post_id: PostRef,
        *,
        at: datetime,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> PostAction:
        """Queue a draft post to publish by itself at ``at`` (at most 60 days ahead;
        at most 100 scheduled posts per workspace).

        Args:
            post_id: The post (or an object carrying its id).
            at: When, timezone-aware (sent as ISO 8601 in UTC as ``scheduled_at``).

        Raises:
            ValueError: ``at`` is not a timezone-aware datetime (nothing was sent).
            AlreadyPublishedError: It is not a draft any more.
            BadRequestError: The API refused the time (past, or too far ahead).
        """
        if not isinstance(at, datetime):
            raise TypeError(f"at must be a datetime, got {type(at).__name__}")
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(
                "at must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)): a "
                "naive time would be read in an unknown time zone"
            )
        body = {"scheduled_at": unstructure(at.astimezone(timezone.utc))}
        return await self._act(post_id, "schedule", body, timeout, extra_headers)

    async def cancel_publish(
        self,
        post_id: PostRef,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> PostAction:
        """Turn a scheduled (or not yet started) publish back into a draft.

        Raises:
            ConflictError: Too late: an item has started posting.
        """
        return await self._act(post_id, "cancel-publish", None, timeout, extra_headers)

    # -- awaiting publication -----------------------------------------------------------

    async def wait(
        self,
        post_id: PostRef,
        *,
        timeout: float | None = 600.0,
        interval: float | None = None,
        max_interval: float | None = None,
    ) -> Post:
        """Wait until publishing is over (every item ``posted`` or ``failed``).

        Polled per id (first pause 3 s, growing to 15 s by default); a fed ``post.*``
        webhook ends the wait at once. A draft nobody publishes (or a scheduled post)
        is not over: give a ``timeout``.

        Raises:
            PostFailedError: Items failed (``.post`` has every item: the posted ones
                with their ``platform_post_id``).
            WaitTimeoutError: The deadline passed (``.last_seen`` is the last state seen).
            NotFoundError: No such post.
        """
        return await self._wait(post_id, timeout, interval, max_interval)

    def as_completed(
        self,
        post_ids: Iterable[PostRef],
        *,
        timeout: float | None = 600.0,
        interval: float | None = None,
        max_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[Post, None]:
        """Yield each distinct post once, as soon as its publishing is over (posts with
        failed items too, not raised)."""
        return self._as_completed(post_ids, timeout, interval, max_interval, on_progress)

    @overload
    async def wait_many(
        self,
        post_ids: Iterable[PostRef],
        *,
        timeout: float | None = ...,
        interval: float | None = ...,
        max_interval: float | None = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Post]: ...
    @overload
    async def wait_many(
        self,
        post_ids: Iterable[PostRef],
        *,
        timeout: float | None = ...,
        interval: float | None = ...,
        max_interval: float | None = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: bool,
    ) -> builtins.list[Post | Exception]: ...
    async def wait_many(
        self,
        post_ids: Iterable[PostRef],
        *,
        timeout: float | None = 600.0,
        interval: float | None = None,
        max_interval: float | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
    ) -> builtins.list[Post] | builtins.list[Post | Exception]:
        """Wait until publishing is over for every post; one result per input, in input
        order. Posts with failed items are returned as they are (check
        ``post.failed_items``)."""
        return await self._wait_many(
            post_ids, timeout, interval, max_interval, on_progress, return_exceptions
        )

    async def feed(
        self, event: WebhookEvent | str, *, timeout: float | None = FEED_TIMEOUT
    ) -> bool:
        """Tell the client a post's publishing ended (a ``post.*`` webhook, or its id):
        its waits resolve now, from one GET. Returns whether it was awaited."""
        return await self._feed(event, POST_EVENTS, timeout)


class PostsWithResponse:
    """``pp.posts.with_response``: `create`, `get`, `publish`, `schedule` and
    `cancel_publish`, each answering an [`APIResponse`][powerpost_async.APIResponse]
    around what the plain call returns."""

    def __init__(self, posts: Posts) -> None:
        clock = posts._requester.clock
        self.create = with_response(posts.create, clock)
        self.get = with_response(posts.get, clock)
        self.publish = with_response(posts.publish, clock)
        self.schedule = with_response(posts.schedule, clock)
        self.cancel_publish = with_response(posts.cancel_publish, clock)
