"""The resources hanging off the client: ``pp.generations`` and ``pp.account``."""

from __future__ import annotations

import builtins
import warnings
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from ._awaiting import JobResource
from ._bulk import run_bounded, statuses
from ._converter import dumps, structure
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._engine._engine import (
    FEED_TIMEOUT,
    GenerationRef,
    ProgressCallback,
    Strategy,
    distinct_ids,
)
from ._engine._kinds import GENERATIONS, JobKind
from ._exceptions import PowerPostWarning
from ._http import QueryValue, merge_headers, path_segment, query_string, with_query
from ._limits import (
    CREDITS_PATH,
    GENERATE_PATH,
    GENERATIONS_PATH,
    MAX_CTA_TEXT,
    MAX_MEDIA_IDS,
    MAX_PAGE_SIZE,
    MAX_PROMPT,
    MAX_SOURCE_URLS,
)
from ._models import (
    KNOWN_POST_TYPES,
    KNOWN_RESEARCH_MODES,
    CreatedGeneration,
    Credits,
    Generation,
    GenerationStatus,
    GenerationSummary,
    Page,
    PostType,
    ResearchMode,
)
from ._pagination import walk_pages
from ._response import with_response
from .webhooks import WebhookEvent

if TYPE_CHECKING:
    from ._client import PowerPost
    from ._requester import Requester
    from ._transport import Response

__all__ = ["Account", "AccountWithResponse", "Generations", "GenerationsWithResponse"]


StatusArg = GenerationStatus | Literal["pending", "processing", "completed", "failed"]

#: The webhook events of caption generations.
GENERATION_EVENTS: Final = frozenset({"generation.completed", "generation.failed"})


class Generations(JobResource[Generation]):
    """Caption generations: ``pp.generations``."""

    _kind: JobKind[Generation] = GENERATIONS

    @property
    def with_response(self) -> GenerationsWithResponse:
        """The same calls, answering [`APIResponse`][powerpost_async.APIResponse]s:
        ``await pp.generations.with_response.get(id)``."""
        return GenerationsWithResponse(self)

    async def list(
        self,
        status: StatusArg | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> Page[GenerationSummary]:
        """One page of generations, newest first.

        Args:
            status: Only generations in this status.
            limit: Items per page, 1..100 (the API's default is 20).
            cursor: ``next_cursor`` of the previous page.
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.

        Raises:
            ValueError: ``status``, ``limit`` or ``cursor`` is not acceptable (nothing sent).
        """
        query = query_string(
            {
                "status": check_status(status),
                "limit": check_page_size(limit, "limit"),
                "cursor": check_cursor(cursor),
            }
        )
        return await self._requester.get(
            GENERATIONS_PATH + query,
            Page[GenerationSummary],
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    def iterate(
        self,
        status: StatusArg | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        prefetch: bool = True,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> AsyncGenerator[GenerationSummary, None]:
        """Every generation, newest first, following ``next_cursor`` page by page.

        Use as ``async for summary in pp.generations.iterate(): ...``. Arguments are
        checked now, before any request; pages are fetched as you iterate.

        Args:
            status: Only generations in this status.
            page_size: Items per request, 1..100.
            prefetch: Request the next page while you work through the current one, so
                the network and your loop overlap (at most one page ahead; if you stop
                early, that one request was spent for nothing).
            extra_headers: Headers for every page's request (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet, on every page.

        Raises:
            ValueError: ``status`` or ``page_size`` is not acceptable.
            ResponseValidationError: while iterating, if the server's cursors go in a
                circle, or it keeps promising more with empty pages or no cursor (every
                item received before that is yielded first).
        """
        status_value = check_status(status)
        size = check_page_size(page_size, "page_size")
        if extra_headers:  # checked now, not at the first page
            merge_headers({}, extra_headers)
        if extra_query:
            with_query("", extra_query)
        return self._iterate(
            status_value,
            size,
            prefetch,
            timeout,
            max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def _iterate(
        self,
        status: str | None,
        page_size: int | None,
        prefetch: bool,
        timeout: float | UseClientDefault | None,
        max_retries: int | UseClientDefault,
        max_pages: int | None = None,
        *,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> AsyncGenerator[GenerationSummary, None]:
        def fetch(cursor: str | None) -> Any:
            query = query_string({"status": status, "limit": page_size, "cursor": cursor})
            return self._requester.get_json(
                GENERATIONS_PATH + query,
                timeout=timeout,
                max_retries=max_retries,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )

        pages = walk_pages(fetch, _raw, prefetch=prefetch, max_pages=max_pages)
        try:
            async for response, data in pages:
                for summary in structure(data, Page[GenerationSummary], body=response.content).data:
                    yield summary
        finally:
            await pages.aclose()

    async def get(
        self,
        generation_id: str,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> Generation:
        """One generation: its status, and its outputs once completed.

        Args:
            generation_id: The generation's id.
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.

        Raises:
            ValueError: ``generation_id`` is empty or could alter the URL (nothing sent).
            NotFoundError: No such generation in this workspace.
        """
        path = f"{GENERATIONS_PATH}/{path_segment(generation_id)}"
        return await self._requester.get(
            path,
            Generation,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def create(
        self,
        prompt: str | None = None,
        *,
        post_types: Sequence[PostType | str],
        research_mode: ResearchMode | str = "regular",
        media_ids: Sequence[str] | None = None,
        writing_style_id: str | None = None,
        cta_text: str | None = None,
        source_urls: Sequence[str] | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CreatedGeneration:
        """Start a generation (costs credits). Await it with `wait()`.

        The API has no idempotency key, so a create is retried only when it surely never
        reached the server (connection refused) or was rate limited (429); never after
        a 5xx, a timeout or a dropped connection, where it may have been received.

        Args:
            prompt: What to write about. ``prompt`` or ``media_ids`` (or both) is needed.
            post_types: Where it will be posted, e.g. ``["instagram-feed", "x-post"]``.
            research_mode: ``"regular"`` or ``"deep"`` (deeper, costs more).
            media_ids: Uploaded media to write about (up to 10 images, or one video).
            writing_style_id: A saved writing style.
            cta_text: A call to action to include (at most 100 characters).
            source_urls: Pages to draw from (at most 10).
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key or workspace).
            extra_query: Query parameters the SDK does not know yet.
            extra_body: Fields the SDK does not know yet, laid over the body it builds
                (a field given both ways takes this value).

        Raises:
            ValueError: An argument is not acceptable (nothing was sent).
            InsufficientCreditsError: Not enough credits.
        """
        body = build_create_body(
            prompt=prompt,
            post_types=post_types,
            research_mode=research_mode,
            media_ids=media_ids,
            writing_style_id=writing_style_id,
            cta_text=cta_text,
            source_urls=source_urls,
        )
        if extra_body is not None:
            if not isinstance(extra_body, Mapping) or not all(
                isinstance(k, str) for k in extra_body
            ):
                raise TypeError("extra_body must be a mapping of field names to JSON values")
            body = {**body, **extra_body}
        return await self._requester.post(
            GENERATE_PATH,
            dumps(body),
            CreatedGeneration,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    # -- awaiting many generations ---------------------------------------------------------

    async def wait(
        self,
        generation_id: GenerationRef,
        *,
        timeout: float | None = 600.0,
        interval: float = 2.0,
        max_interval: float = 10.0,
        strategy: Strategy = "auto",
    ) -> Generation:
        """Wait until a generation finishes, and return it completed.

        Polls with tenacity: at once, then every ``interval`` seconds growing towards
        ``max_interval``, jittered. When many ids are awaited on this client at once, a
        shared sweep answers instead (see `wait_many()`). Network errors, 429s and
        5xx along the way are retried until the deadline; the deadline is measured on
        the client's monotonic clock.

        Args:
            generation_id: The id (or a ``CreatedGeneration``/``Generation`` carrying it).
            timeout: Seconds before giving up (``None``: no deadline).
            interval: First pause between polls.
            max_interval: Longest pause between polls.
            strategy: ``"auto"``, ``"poll"`` (always poll this id) or ``"sweep"``.

        Raises:
            GenerationFailedError: It failed (``.generation.error`` has the code).
            WaitTimeoutError: The deadline passed (``.generation`` is the last state seen).
            NotFoundError: No such generation.
        """
        return await self._wait(generation_id, timeout, interval, max_interval, strategy)

    def as_completed(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        timeout: float | None = 600.0,
        interval: float = 2.0,
        max_interval: float = 10.0,
        strategy: Strategy = "auto",
        on_progress: ProgressCallback | None = None,
    ) -> AsyncGenerator[Generation, None]:
        """Yield each distinct generation once, as soon as it is seen finished.

        Failed generations are yielded too (status ``FAILED``), not raised. An id that
        cannot be awaited (e.g. ``NotFoundError``) does not hold the others back: its
        error is raised after every other id has been yielded. Stop early with
        ``contextlib.aclosing(...)`` to release the waits at once.

        Args:
            generation_ids: The ids (or objects carrying them); duplicates count once.
            timeout: Seconds before giving up on the ids not finished (``None``: never).
            interval: First pause between polls (or the sweep's period).
            max_interval: Longest pause between polls.
            strategy: ``"auto"``, ``"poll"`` or ``"sweep"`` (see ``wait_many``).
            on_progress: Called with a [`WaitProgress`][powerpost_async.WaitProgress]
                whenever the counts change.

        Raises:
            WaitTimeoutError: At the deadline, naming the ids still pending.
        """
        return self._as_completed(
            generation_ids, timeout, interval, max_interval, on_progress, strategy
        )

    @overload
    async def wait_many(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        timeout: float | None = ...,
        interval: float = ...,
        max_interval: float = ...,
        strategy: Strategy = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Generation]: ...
    @overload
    async def wait_many(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        timeout: float | None = ...,
        interval: float = ...,
        max_interval: float = ...,
        strategy: Strategy = ...,
        on_progress: ProgressCallback | None = ...,
        return_exceptions: bool,
    ) -> builtins.list[Generation | Exception]: ...
    async def wait_many(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        timeout: float | None = 600.0,
        interval: float = 2.0,
        max_interval: float = 10.0,
        strategy: Strategy = "auto",
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
    ) -> builtins.list[Generation] | builtins.list[Generation | Exception]:
        """Wait for every generation; one result per input, in input order.

        Duplicated ids are awaited once. Failed generations are returned as they are.
        With ``strategy="auto"`` and more than a few ids, one shared sweep per tick
        (two list pages per 100 generations in flight, plus one GET per finished id)
        answers for every wait on this client.

        Args:
            generation_ids: The ids (or objects carrying them); duplicates are awaited
                once and appear in the result at each of their places.
            timeout: Seconds before giving up (``None``: never).
            interval: First pause between polls (or the sweep's period).
            max_interval: Longest pause between polls.
            strategy: ``"auto"`` polls while fewer than 4 ids are awaited on the client
                and sweeps from then on; ``"poll"`` or ``"sweep"`` force one.
            on_progress: Called with a [`WaitProgress`][powerpost_async.WaitProgress]
                whenever the counts change.
            return_exceptions: Put a per-id error (e.g. ``NotFoundError``) in that id's
                place instead of raising it once the others are done.

        Raises:
            WaitTimeoutError: At the deadline, naming the ids still pending.
        """
        return await self._wait_many(
            generation_ids,
            timeout,
            interval,
            max_interval,
            on_progress,
            return_exceptions,
            strategy,
        )

    @overload
    async def get_many(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        concurrency: int | None = ...,
        return_exceptions: Literal[False] = ...,
    ) -> builtins.list[Generation]: ...
    @overload
    async def get_many(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        concurrency: int | None = ...,
        return_exceptions: bool,
    ) -> builtins.list[Generation | Exception]: ...
    async def get_many(
        self,
        generation_ids: Iterable[GenerationRef],
        *,
        concurrency: int | None = None,
        return_exceptions: bool = False,
    ) -> builtins.list[Generation] | builtins.list[Generation | Exception]:
        """Fetch many generations at once; results in input order (duplicates fetched once).

        Args:
            concurrency: Most requests in flight (default: the transport's connection
                limit, 100 for the default transport).
            return_exceptions: Put a per-id error in that id's place instead of raising
                the first one (which cancels the rest).

        Raises:
            ValueError: An id is malformed (checked for all ids before any request).
        """
        ids, distinct = distinct_ids(generation_ids)
        if concurrency is None:
            concurrency = getattr(self._client.transport, "connection_limit", None) or 100
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive integer, got {concurrency!r}")
        fetched = await run_bounded(distinct, self.get, concurrency, return_exceptions)
        by_id = dict(zip(distinct, fetched, strict=True))
        return [by_id[i] for i in ids]

    @overload
    async def sweep(
        self, generation_ids: Iterable[GenerationRef], *, return_exceptions: Literal[False] = ...
    ) -> dict[str, GenerationStatus]: ...
    @overload
    async def sweep(
        self, generation_ids: Iterable[GenerationRef], *, return_exceptions: bool
    ) -> dict[str, GenerationStatus | Exception]: ...
    async def sweep(
        self, generation_ids: Iterable[GenerationRef], *, return_exceptions: bool = False
    ) -> dict[str, GenerationStatus] | dict[str, GenerationStatus | Exception]:
        """The status of every id right now, from list pages plus GETs only where needed.

        Never one GET per id when the lists can answer: the in-flight lists are read
        whole, the failed and completed lists newest first as far as needed, and only
        ids none of them showed are fetched.

        Args:
            generation_ids: The ids (or objects carrying them).
            return_exceptions: Put a per-id error (e.g. ``NotFoundError``) in that id's
                place instead of raising it.

        Returns:
            Each distinct id's status, in input order.

        Raises:
            NotFoundError: An id is unknown (unless ``return_exceptions``).
        """
        _, ids = distinct_ids(generation_ids)
        found = await statuses(ids, self._walk_status, self._get_each)
        if not return_exceptions:
            for generation_id in ids:
                outcome = found[generation_id]
                if isinstance(outcome, Exception):
                    raise outcome
        return {i: found[i] for i in ids}

    def _walk_status(
        self, status: GenerationStatus, max_pages: int | None
    ) -> AsyncGenerator[GenerationSummary, None]:
        return self._iterate(
            status.value,
            MAX_PAGE_SIZE,
            False,
            USE_CLIENT_DEFAULT,
            USE_CLIENT_DEFAULT,
            max_pages=max_pages,
        )

    async def _get_each(self, ids: builtins.list[str]) -> builtins.list[Generation | Exception]:
        return await self.get_many(ids, return_exceptions=True)

    async def feed(
        self, event: WebhookEvent | str, *, timeout: float | None = FEED_TIMEOUT
    ) -> bool:
        """Tell the client a generation finished (from a webhook): its waits resolve now.

        Pass a parsed [`WebhookEvent`][powerpost_async.webhooks.WebhookEvent] (or a generation
        id). If any ``wait``/``as_completed``/``wait_many`` on this client awaits that id,
        the generation is read from the API (one GET) and those waits return. Events of
        other kinds or other workspaces, and ids nobody awaits, cost nothing.

        The event is a hint, not a source of truth: what waits receive comes from the API,
        so an unverified or forged event cannot inject outputs.

        Args:
            event: The event, or a generation id.
            timeout: Seconds the GET may take, retries included (default 5: a webhook
                receiver must answer quickly; if the API is slow meanwhile, polling or
                sweeping still finds the generation). ``None``: the client's own limits.

        Returns:
            Whether the event concerned a generation being awaited.
        """
        return await self._feed(event, GENERATION_EVENTS, timeout)


def _raw(page: tuple[Response, Any]) -> Any:
    return page[1]


class Account:
    """The account: ``pp.account``."""

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        self._requester: Requester = client._requester

    @property
    def with_response(self) -> AccountWithResponse:
        """The same calls, answering [`APIResponse`][powerpost_async.APIResponse]s:
        ``await pp.account.with_response.credits()``."""
        return AccountWithResponse(self)

    async def credits(
        self,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> Credits:
        """The account's credit balance (needs no workspace).

        Args:
            timeout: Per-call override of the client's timeout.
            max_retries: Per-call override of the client's retries.
            extra_headers: Headers for this call only (never the key).
            extra_query: Query parameters the SDK does not know yet.
        """
        return await self._requester.get(
            CREDITS_PATH,
            Credits,
            workspace=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )


class GenerationsWithResponse:
    """``pp.generations.with_response``: `list`, `get` and `create`, each answering an
    [`APIResponse`][powerpost_async.APIResponse] around what the plain call returns
    (same arguments)."""

    def __init__(self, generations: Generations) -> None:
        clock = generations._requester.clock
        self.list = with_response(generations.list, clock)
        self.get = with_response(generations.get, clock)
        self.create = with_response(generations.create, clock)


class AccountWithResponse:
    """``pp.account.with_response``: `credits`, answering an
    [`APIResponse`][powerpost_async.APIResponse]."""

    def __init__(self, account: Account) -> None:
        self.credits = with_response(account.credits, account._requester.clock)


# -- input checks (pure; they run before any request) ------------------------------------

_STATUS_VALUES = frozenset(s.value for s in GenerationStatus)


def check_status(status: object) -> str | None:
    """The status as the API spells it, or ``ValueError`` naming the choices."""
    if status is None:
        return None
    if isinstance(status, GenerationStatus):
        status = status.value
    if not isinstance(status, str) or status not in _STATUS_VALUES:
        raise ValueError(
            f"status must be one of {', '.join(sorted(_STATUS_VALUES))}, got {status!r}"
        )
    return status


def check_page_size(value: object, name: str) -> int | None:
    """``value`` if it is an int in 1..100 (or ``None``), else ``ValueError`` naming ``name``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be between 1 and {MAX_PAGE_SIZE}, got {value}")
    return value


def check_cursor(cursor: object) -> str | None:
    """A cursor as given by ``next_cursor``; ``ValueError`` if empty or not a string."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not cursor:
        raise ValueError(f"cursor must be a non-empty string from next_cursor, got {cursor!r}")
    return cursor


def _strings(value: object, name: str, *, most: int) -> builtins.list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(value).__name__}")
    items = builtins.list(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name} must hold non-empty strings, got {item!r}")
    if len(items) > most:
        raise ValueError(f"{name} may hold at most {most} items, got {len(items)}")
    return items


def build_create_body(
    *,
    prompt: str | None,
    post_types: Sequence[str],
    research_mode: str,
    media_ids: Sequence[str] | None,
    writing_style_id: str | None,
    cta_text: str | None,
    source_urls: Sequence[str] | None,
) -> dict[str, object]:
    """The JSON body of ``POST /content/generate``, after checking every argument."""
    body: dict[str, object] = {}
    if prompt is not None:
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
        if not prompt.strip():
            raise ValueError("prompt must not be empty or blank")
        if len(prompt) > MAX_PROMPT:
            raise ValueError(f"prompt may be at most {MAX_PROMPT} characters, got {len(prompt)}")
        body["prompt"] = prompt
    types = _strings(post_types, "post_types", most=len(KNOWN_POST_TYPES) * 4)
    if not types:
        raise ValueError(
            f"post_types must name at least one post type, e.g. {KNOWN_POST_TYPES[0]!r}"
        )
    unknown = [t for t in types if t not in KNOWN_POST_TYPES]
    if unknown:
        warnings.warn(
            f"unknown post type(s) {', '.join(map(repr, unknown))}: sent as given; "
            f"known types are {', '.join(KNOWN_POST_TYPES)}",
            PowerPostWarning,
            stacklevel=3,
        )
    body["post_types"] = types
    if not isinstance(research_mode, str) or not research_mode.strip():
        raise ValueError(
            f"research_mode must be one of {', '.join(map(repr, KNOWN_RESEARCH_MODES))}, "
            f"got {research_mode!r}"
        )
    if research_mode not in KNOWN_RESEARCH_MODES:
        warnings.warn(
            f"unknown research_mode {research_mode!r}: sent as given; known modes are "
            f"{', '.join(KNOWN_RESEARCH_MODES)}",
            PowerPostWarning,
            stacklevel=3,
        )
    body["research_mode"] = research_mode
    if media_ids is not None:
        body["media_ids"] = _strings(media_ids, "media_ids", most=MAX_MEDIA_IDS)
    if prompt is None and not body.get("media_ids"):
        raise ValueError(
            "give a prompt, media_ids, or both: the API needs something to write about"
        )
    if writing_style_id is not None:
        if not isinstance(writing_style_id, str) or not writing_style_id.strip():
            raise ValueError(
                f"writing_style_id must be a non-empty string, got {writing_style_id!r}"
            )
        body["writing_style_id"] = writing_style_id
    if cta_text is not None:
        if not isinstance(cta_text, str):
            raise TypeError(f"cta_text must be a string, got {type(cta_text).__name__}")
        if len(cta_text) > MAX_CTA_TEXT:
            raise ValueError(
                f"cta_text may be at most {MAX_CTA_TEXT} characters, got {len(cta_text)}"
            )
        body["cta_text"] = cta_text
    if source_urls is not None:
        urls = _strings(source_urls, "source_urls", most=MAX_SOURCE_URLS)
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"source_urls must be http(s) URLs, got {url!r}")
        body["source_urls"] = urls
    return body
