"""Progress of a multi-id wait: the counts passed to ``on_progress``, kept id by id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import attrs

from ._registry import Watch

__all__ = ["Progress", "ProgressCallback", "WaitProgress"]


@attrs.frozen
class WaitProgress:
    """How far a multi-id wait has got, passed to ``on_progress`` callbacks.

    Attributes:
        total: Distinct ids awaited by this call.
        pending: Last seen ``pending``.
        processing: Last seen ``processing``.
        completed: Finished ``completed``.
        failed: Finished ``failed``, or ended in an error for that id (e.g. not found).
        unknown: Not seen yet.
    """

    total: int
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    unknown: int = 0

    @property
    def done(self) -> int:
        """Ids that will not change any more (completed + failed)."""
        return self.completed + self.failed


ProgressCallback = Callable[[WaitProgress], object]


class Progress:
    """Counts of one multi-id wait, kept up to date id by id, reported once per loop pass.

    Recounting every id on every change would cost O(n) per change, O(n²) per wait:
    only the ids that changed are recounted, and changes within one pass of the event
    loop (a sweep tick resolves many ids at once) make one report.
    """

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._category: dict[Watch, str] = {}
        categories = ("pending", "processing", "completed", "failed", "unknown")
        self._counts: dict[str, int] = dict.fromkeys(categories, 0)
        self._dirty: set[Watch] = set()
        self._scheduled: asyncio.Handle | None = None
        self._last: WaitProgress | None = None

    def observe(self, watches: list[Watch]) -> None:
        if self._callback is None:
            return
        for watch in watches:
            category = watch.category
            self._category[watch] = category
            self._counts[category] += 1

    def changed(self, watch: Watch) -> None:
        if self._callback is None or watch not in self._category:
            return
        self._dirty.add(watch)
        if self._scheduled is None:
            self._scheduled = asyncio.get_running_loop().call_soon(self.report)

    def report(self) -> None:
        """Recount what changed and call back if the counts moved."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._callback is None:
            return
        for watch in self._dirty:
            category = watch.category
            before = self._category[watch]
            if category != before:
                self._counts[before] -= 1
                self._counts[category] += 1
                self._category[watch] = category
        self._dirty.clear()
        progress = WaitProgress(total=len(self._category), **self._counts)
        if progress != self._last:
            self._last = progress
            self._callback(progress)

    def close(self) -> None:
        """Stop reporting (the wait is over)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._callback = None
        self._dirty.clear()
