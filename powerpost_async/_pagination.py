"""The one cursor walker: follows ``next_cursor`` page by page, with every guard.

`iterate()`, the sweeper and `sweep()` all walk list pages through `walk_pages`, so a
server whose pagination never ends is refused the same way everywhere:

* ``has_more: true`` with ``next_cursor`` missing, null, empty or not a string;
* a cursor already followed in this walk: a cycle of any length (A->B->A, or longer);
  the first `EXACT_CURSORS` cursors are remembered exactly, later ones through Brent's
  cycle detection, so memory stays bounded however long the walk;
* `MAX_EMPTY_PAGES` empty pages in a row that each claim ``has_more``;
* more than ``max_pages`` pages, when the caller sets a budget.

Each ends the walk with `ResponseValidationError` (`PageBudgetExceeded` for the
budget) raised *after* the page that showed it has been yielded, so nothing received
is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Final, TypeVar

from ._exceptions import ResponseValidationError

__all__ = [
    "EXACT_CURSORS",
    "MAX_EMPTY_PAGES",
    "CursorTrail",
    "PageBudgetExceeded",
    "walk_pages",
]

P = TypeVar("P")

#: has_more with an empty page is legal once in a while (a filtered page); this many in
#: a row is a server that will never stop.
MAX_EMPTY_PAGES: Final = 10
#: Cursors remembered exactly per walk; beyond, cycles are found with O(1) memory.
EXACT_CURSORS: Final = 10_000


class PageBudgetExceeded(ResponseValidationError):
    """A walk reached the number of pages its caller allowed (the server kept going)."""


class CursorTrail:
    """The guards of one walk, fed each raw page in turn. No I/O.

    Args:
        max_pages: Pages the walk may fetch in all; ``None`` for no budget.
    """

    def __init__(self, max_pages: int | None = None) -> None:
        self._max_pages = max_pages
        self._pages = 0
        self._empty = 0
        self._seen: set[str] = set()
        # Brent's cycle detection, past the exactly remembered cursors.
        self._checkpoint: str | None = None
        self._power = 1
        self._steps = 0

    @property
    def pages(self) -> int:
        """Pages seen so far."""
        return self._pages

    def follow(self, data: Any) -> str | None:
        """The cursor of the page after ``data`` (a decoded page), ``None`` after the last.

        Raises:
            ResponseValidationError: Following it would never end (see the module).
            PageBudgetExceeded: ``max_pages`` pages have been seen and more are promised.
        """
        self._pages += 1
        if type(data) is not dict or data.get("has_more") is not True:
            return None  # the last page (or not a page: structuring it will say so)
        cursor = data.get("next_cursor")
        if type(cursor) is not str or not cursor:
            # Not a dict lookup: the cursor may be unhashable (a list, an object).
            what = "null" if cursor is None else "empty" if cursor == "" else None
            what = what or f"not a string: {_short(repr(cursor))}"
            raise ResponseValidationError(
                f"inconsistent pagination: has_more is true but next_cursor is {what}; "
                "stopping here"
            )
        if self._repeats(cursor):
            raise ResponseValidationError(
                f"inconsistent pagination: the server returned cursor {_short(cursor)} twice "
                "(a cycle); stopping instead of looping forever"
            )
        items = data.get("data")
        self._empty = self._empty + 1 if isinstance(items, list) and not items else 0
        if self._empty >= MAX_EMPTY_PAGES:
            raise ResponseValidationError(
                f"inconsistent pagination: {self._empty} empty pages in a row, each "
                "claiming has_more; stopping instead of looping"
            )
        if self._max_pages is not None and self._pages >= self._max_pages:
            raise PageBudgetExceeded(
                f"stopped after {self._pages} pages: the server still promised more"
            )
        return cursor

    def _repeats(self, cursor: str) -> bool:
        if cursor in self._seen:
            return True
        if len(self._seen) < EXACT_CURSORS:
            self._seen.add(cursor)
            return False
        if cursor == self._checkpoint:
            return True
        self._steps += 1
        if self._steps >= self._power:
            self._checkpoint, self._power, self._steps = cursor, self._power * 2, 0
        return False


async def walk_pages(
    fetch: Callable[[str | None], Awaitable[P]],
    raw: Callable[[P], Any],
    *,
    prefetch: bool = False,
    max_pages: int | None = None,
) -> AsyncGenerator[P, None]:
    """Yield every page, following cursors with the guards of `CursorTrail`.

    Args:
        fetch: Fetches the page at a cursor (``None``: the first page).
        raw: The decoded JSON of a fetched page (where the cursor is read).
        prefetch: Ask for the next page before yielding this one, so the network and
            the consumer overlap (at most one page ahead; discarded if the walk stops).
        max_pages: A budget of pages; ``None`` for none.

    Raises:
        ResponseValidationError: After yielding the page that showed the problem.
    """
    trail = CursorTrail(max_pages)
    page = await fetch(None)
    ahead: asyncio.Future[P] | None = None
    try:
        while True:
            problem: ResponseValidationError | None = None
            try:
                cursor = trail.follow(raw(page))
            except ResponseValidationError as error:
                cursor, problem = None, error
            if prefetch and cursor is not None:
                ahead = asyncio.ensure_future(fetch(cursor))
                # Let it run up to its first wait, i.e. send the request, before the
                # consumer's work: a new task does not start until the loop gets a turn.
                await asyncio.sleep(0)
            yield page
            if problem is not None:
                raise problem
            if cursor is None:
                return
            if ahead is not None:
                page, ahead = await ahead, None
            else:
                page = await fetch(cursor)
    finally:
        if ahead is not None:
            await _discard(ahead)


async def _discard(future: asyncio.Future[Any]) -> None:
    """Cancel a prefetch nobody will use, wait for it to end, and drop its outcome."""
    future.cancel()
    await asyncio.wait({future})
    if not future.cancelled():
        future.exception()  # mark retrieved: a failure here concerns nobody


def _short(cursor: str) -> str:
    return repr(cursor if len(cursor) <= 40 else cursor[:37] + "...")
