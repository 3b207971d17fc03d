"""Bulk reads: many GETs at once with bounded concurrency, and statuses from the lists."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Final, Literal, TypeVar, overload

from ._exceptions import ResponseValidationError
from ._models import IN_FLIGHT, Generation, GenerationStatus, GenerationSummary

__all__ = ["STATUS_MAX_PAGES", "run_bounded", "statuses"]

T = TypeVar("T")
K = TypeVar("K")

#: Pages `statuses` reads per in-flight status at most.
STATUS_MAX_PAGES: Final = 500


@overload
async def run_bounded(
    items: Sequence[K],
    fetch: Callable[[K], Awaitable[T]],
    concurrency: int,
    return_exceptions: Literal[False],
) -> list[T]: ...
@overload
async def run_bounded(
    items: Sequence[K],
    fetch: Callable[[K], Awaitable[T]],
    concurrency: int,
    return_exceptions: bool,
) -> list[T | Exception]: ...
async def run_bounded(
    items: Sequence[K],
    fetch: Callable[[K], Awaitable[T]],
    concurrency: int,
    return_exceptions: bool,
) -> list[T] | list[T | Exception]:
    """``fetch`` every item with at most ``concurrency`` at once, results in input order.

    Uses ``concurrency`` worker tasks (not one task per item), so 10,000 ids cost 100
    tasks. Without ``return_exceptions`` the first error cancels the rest and is raised.
    """
    results: list[T | Exception | None] = [None] * len(items)
    position = iter(range(len(items)))

    async def worker() -> None:
        for index in position:
            try:
                results[index] = await fetch(items[index])
            except Exception as error:  # collected per item; cancellation propagates
                if not return_exceptions:
                    raise
                results[index] = error

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(items)))]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return results  # type: ignore[return-value]


#: Walks the list of one status, at most that many pages, yielding its summaries.
ListWalk = Callable[[GenerationStatus, int | None], AsyncGenerator[GenerationSummary, None]]


async def statuses(
    ids: list[str],
    summaries: ListWalk,
    fetch_many: Callable[[list[str]], Awaitable[Sequence[Generation | Exception]]],
) -> dict[str, GenerationStatus | Exception]:
    """The current status of every id, from list pages, GETting only what they miss.

    In-flight lists first (whole, within a page budget), then the failed and completed
    lists newest first, a bounded number of pages each (enough to cover the ids still
    missing, plus one); the ids none of them showed are fetched one by one. Statuses
    only move forward, and the lists are read in that order, so an id moving while we
    read shows up in a later list. A list whose pagination breaks just ends early: what
    it did not show is fetched.

    Args:
        ids: Distinct ids.
        summaries: Walks the list of a status, at most that many pages, yielding
            summaries.
        fetch_many: GETs ids, a result or an exception per id, in order.
    """
    remaining = set(ids)
    found: dict[str, GenerationStatus | Exception] = {}
    for status in (*IN_FLIGHT, GenerationStatus.FAILED, GenerationStatus.COMPLETED):
        if not remaining:
            break
        budget = STATUS_MAX_PAGES if status in IN_FLIGHT else -(-len(remaining) // 100) + 1
        walk = summaries(status, budget)
        # A list that ends early (broken pagination, the budget) leaves its ids to GETs.
        with contextlib.suppress(ResponseValidationError):
            async with contextlib.aclosing(walk):
                async for summary in walk:
                    if summary.generation_id in remaining:
                        found[summary.generation_id] = summary.status
                        remaining.discard(summary.generation_id)
                        if not remaining:
                            break
    if remaining:
        missing = [i for i in ids if i in remaining]
        results = await fetch_many(missing)
        for generation_id, result in zip(missing, results, strict=True):
            found[generation_id] = result if isinstance(result, Exception) else result.status
    return found
