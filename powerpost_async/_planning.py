"""Analytics and the content calendar: ``pp.analytics`` and ``pp.calendar``.

Both are plain reads and writes (no jobs to await). The calendar holds planning
entries (a title, a day, a time, platforms): it is not linked to posts.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, Final

from ._awaiting import check_extra_body
from ._converter import structure
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._exceptions import ResponseValidationError
from ._http import QueryValue, path_segment, query_string
from ._limits import (
    CALENDAR_ENTRIES_PATH,
    CALENDAR_PLATFORMS,
    MAX_CALENDAR_RANGE_DAYS,
    MAX_ENTRY_DESCRIPTION,
    MAX_ENTRY_TITLE,
    POST_ITEMS_PATH,
)
from ._models import CalendarEntry, ItemAnalytics, PostItem
from ._response import with_response

if TYPE_CHECKING:
    from ._client import PowerPost
    from ._requester import Requester

__all__ = [
    "UNSET",
    "Analytics",
    "AnalyticsWithResponse",
    "Calendar",
    "CalendarWithResponse",
    "Unset",
]


class Unset:
    """The type of `UNSET`: "leave this field as it is" in ``calendar.update``."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: Leave a field as it is (``calendar.update``); ``None`` clears the fields that may be empty.
UNSET: Final = Unset()


class Analytics:
    """Post analytics: ``pp.analytics``."""

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        self._requester: Requester = client._requester

    @property
    def with_response(self) -> AnalyticsWithResponse:
        """`item`, answering an [`APIResponse`][powerpost_async.APIResponse]."""
        return AnalyticsWithResponse(self)

    async def item(
        self,
        post_item_id: str | PostItem,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> ItemAnalytics:
        """The numbers of one post item (views, likes, comments).

        ``metrics`` is ``None`` until the item is posted and first measured; the API
        refreshes them once a day for 90 days after posting (no refresh on demand).

        Args:
            post_item_id: The item's id (or the [`PostItem`][powerpost_async.PostItem]).

        Raises:
            NotFoundError: No such item in this workspace.
            InsufficientScopeError: The key lacks ``analytics:read``.
        """
        if isinstance(post_item_id, PostItem):
            post_item_id = post_item_id.item_id
        segment = path_segment(post_item_id, "post_item_id")
        return await self._requester.get(
            f"{POST_ITEMS_PATH}/{segment}/analytics",
            ItemAnalytics,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )


def _day(value: object, name: str) -> str:
    """A ``YYYY-MM-DD`` day from a date or that string."""
    if isinstance(value, datetime):
        raise TypeError(f"{name} must be a date (a day), not a datetime: use .date()")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
        raise ValueError(f"{name} must be a YYYY-MM-DD day, got {value!r}")
    raise TypeError(f"{name} must be a date or a 'YYYY-MM-DD' string, got {type(value).__name__}")


def _clock_time(value: object, name: str) -> str:
    """An ``HH:MM`` (24 h) time from a time or that string."""
    if isinstance(value, time):
        if value.tzinfo is not None:
            raise ValueError(f"{name} is a time of day without a time zone")
        if value.second or value.microsecond:
            raise ValueError(f"{name} is to the minute (HH:MM), got {value.isoformat()}")
        return value.strftime("%H:%M")
    if isinstance(value, str):
        parts = value.split(":")
        if (
            len(parts) == 2
            and all(len(p) == 2 and p.isdigit() for p in parts)
            and int(parts[0]) < 24
            and int(parts[1]) < 60
        ):
            return value
        raise ValueError(f"{name} must be HH:MM on a 24-hour clock, got {value!r}")
    raise TypeError(f"{name} must be a time or an 'HH:MM' string, got {type(value).__name__}")


def _title(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"title must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError("title must not be empty")
    if len(value) > MAX_ENTRY_TITLE:
        raise ValueError(f"title is {len(value)} characters; at most {MAX_ENTRY_TITLE}")
    return value


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"description must be a string or None, got {type(value).__name__}")
    if len(value) > MAX_ENTRY_DESCRIPTION:
        raise ValueError(f"description is {len(value)} characters; at most {MAX_ENTRY_DESCRIPTION}")
    return value


def _platforms(value: object) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError("platforms must be a list of platforms, e.g. ['instagram', 'x']")
    platforms = list(value)
    for platform in platforms:
        if platform not in CALENDAR_PLATFORMS:
            raise ValueError(f"platform {platform!r} is not one of {', '.join(CALENDAR_PLATFORMS)}")
    if len(set(platforms)) != len(platforms):
        raise ValueError(f"platforms lists a platform twice: {platforms}")
    return platforms


def _entry_id(entry_id: object) -> str:
    if isinstance(entry_id, CalendarEntry):
        entry_id = entry_id.entry_id
    return path_segment(entry_id, "entry_id")


class Calendar:
    """The content calendar: ``pp.calendar``."""

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        self._requester: Requester = client._requester

    @property
    def with_response(self) -> CalendarWithResponse:
        """`list`, `create`, `get`, `update` and `delete`, answering
        [`APIResponse`][powerpost_async.APIResponse]s."""
        return CalendarWithResponse(self)

    async def list(
        self,
        start: date | str,
        end: date | str,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> builtins.list[CalendarEntry]:
        """The entries planned from ``start`` to ``end`` (both days included; at most
        366 days). The API pages nothing here: one call returns them all.

        Raises:
            ValueError: A day is malformed, ``end`` is before ``start``, or the range
                is longer than 366 days (nothing sent).
        """
        first, last = _day(start, "start"), _day(end, "end")
        span = (date.fromisoformat(last) - date.fromisoformat(first)).days
        if span < 0:
            raise ValueError(f"end ({last}) is before start ({first})")
        if span + 1 > MAX_CALENDAR_RANGE_DAYS:
            raise ValueError(
                f"the range {first}..{last} is {span + 1} days; the API takes at most "
                f"{MAX_CALENDAR_RANGE_DAYS}"
            )
        query = query_string({"start_date": first, "end_date": last})
        data = await self._requester.call(
            "GET",
            CALENDAR_ENTRIES_PATH + query,
            None,
            idempotent=True,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        entries = data.get("entries") if isinstance(data, dict) else data
        if not isinstance(entries, builtins.list):
            raise ResponseValidationError(
                "could not read the calendar: expected {'entries': [...]}",
                errors=["expected a list in 'entries'"],
            )
        return [structure(entry, CalendarEntry) for entry in entries]

    async def create(
        self,
        title: str,
        scheduled_date: date | str,
        *,
        scheduled_time: time | str | None = None,
        description: str | None = None,
        platforms: Sequence[str] | None = None,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> CalendarEntry:
        """Plan an entry. Resent only when it surely never reached the server (no
        duplicate entries).

        Args:
            title: At most 500 characters.
            scheduled_date: The day.
            scheduled_time: The time of day, ``HH:MM`` (24 h, no time zone).
            description: Notes, at most 5,000 characters.
            platforms: Some of instagram, tiktok, youtube, x, facebook, linkedin.

        Raises:
            ValueError: An argument is not acceptable (nothing sent).
        """
        body: dict[str, Any] = {
            "title": _title(title),
            "scheduled_date": _day(scheduled_date, "scheduled_date"),
        }
        if scheduled_time is not None:
            body["scheduled_time"] = _clock_time(scheduled_time, "scheduled_time")
        if description is not None:
            body["description"] = _description(description)
        if platforms is not None:
            body["platforms"] = _platforms(platforms)
        return await self._requester.call(  # type: ignore[no-any-return]
            "POST",
            CALENDAR_ENTRIES_PATH,
            CalendarEntry,
            body=check_extra_body(body, extra_body),
            idempotent=False,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )

    async def get(
        self,
        entry_id: str | CalendarEntry,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> CalendarEntry:
        """One entry.

        Raises:
            NotFoundError: No such entry.
        """
        return await self._requester.get(
            f"{CALENDAR_ENTRIES_PATH}/{_entry_id(entry_id)}",
            CalendarEntry,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )

    async def update(
        self,
        entry_id: str | CalendarEntry,
        *,
        title: str | Unset = UNSET,
        scheduled_date: date | str | Unset = UNSET,
        scheduled_time: time | str | Unset | None = UNSET,
        description: str | Unset | None = UNSET,
        platforms: Sequence[str] | Unset = UNSET,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> CalendarEntry:
        """Change some fields of an entry; the others stay as they are.

        ``description=None`` and ``scheduled_time=None`` clear them; ``platforms``
        replaces the whole list. Setting fields to values is safe to repeat, so it is
        retried like a read.

        Raises:
            ValueError: No field given, or one is not acceptable (nothing sent).
            NotFoundError: No such entry.
        """
        body: dict[str, Any] = {}
        if not isinstance(title, Unset):
            body["title"] = _title(title)
        if not isinstance(scheduled_date, Unset):
            body["scheduled_date"] = _day(scheduled_date, "scheduled_date")
        if not isinstance(scheduled_time, Unset):
            body["scheduled_time"] = (
                None if scheduled_time is None else _clock_time(scheduled_time, "scheduled_time")
            )
        if not isinstance(description, Unset):
            body["description"] = None if description is None else _description(description)
        if not isinstance(platforms, Unset):
            body["platforms"] = _platforms(platforms)
        if not body:
            raise ValueError(
                "update needs at least one field: title, scheduled_date, scheduled_time, "
                "description or platforms"
            )
        return await self._requester.call(  # type: ignore[no-any-return]
            "PATCH",
            f"{CALENDAR_ENTRIES_PATH}/{_entry_id(entry_id)}",
            CalendarEntry,
            body=body,
            idempotent=True,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
        )

    async def delete(
        self,
        entry_id: str | CalendarEntry,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        """Delete an entry. Resent only when it surely never reached the server (a
        repeat after it landed would answer 404 for an entry deleted by this call).

        Raises:
            NotFoundError: No such entry.
        """
        await self._requester.call(
            "DELETE",
            f"{CALENDAR_ENTRIES_PATH}/{_entry_id(entry_id)}",
            None,
            idempotent=False,
            timeout=timeout,
            extra_headers=extra_headers,
        )


class AnalyticsWithResponse:
    """``pp.analytics.with_response``: `item`, answering an
    [`APIResponse`][powerpost_async.APIResponse] around the
    [`ItemAnalytics`][powerpost_async.ItemAnalytics]."""

    def __init__(self, analytics: Analytics) -> None:
        self.item = with_response(analytics.item, analytics._requester.clock)


class CalendarWithResponse:
    """``pp.calendar.with_response``: `list`, `create`, `get`, `update` and `delete`,
    each answering an [`APIResponse`][powerpost_async.APIResponse] around what the plain
    call returns."""

    def __init__(self, calendar: Calendar) -> None:
        clock = calendar._requester.clock
        self.list = with_response(calendar.list, clock)
        self.create = with_response(calendar.create, clock)
        self.get = with_response(calendar.get, clock)
        self.update = with_response(calendar.update, clock)
        self.delete = with_response(calendar.delete, clock)
