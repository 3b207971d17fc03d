"""FakePowerPost's quirks: legal but unusual server behaviours, switched on by tests.

Each quirk is driven through the public SDK client: ``pp.generations.list()`` page by
page shows the raw pages (cursors, ``has_more``), ``pp.generations.get()`` the ids.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest

from powerpost_async import (
    GenerationSummary,
    NotFoundError,
    Page,
    PowerPost,
    Request,
    ResponseValidationError,
)
from powerpost_async.testing import FakePowerPost, Quirks, VirtualClock

KEY = "pp_live_sk_test"
WS = "ws_test"
GENERATIONS = "https://powerpost.test/api/v1/content/generations"

Status = Literal["pending", "processing", "completed", "failed"]


@pytest.fixture
def server() -> FakePowerPost:
    return FakePowerPost(clock=VirtualClock())


@pytest.fixture
async def pp(server: FakePowerPost) -> AsyncIterator[PowerPost]:
    async with server.client() as client:
        yield client


def seed(server: FakePowerPost, count: int, **kwargs: Any) -> list[str]:
    """``count`` generations, each a second after the last; their ids, oldest first."""
    ids: list[str] = []
    for _ in range(count):
        ids += server.seed_generations(1, **kwargs)
        server.advance(1)
    return ids


async def walk(
    pp: PowerPost, *, status: Status | None = None, limit: int = 5, most: int = 100
) -> list[Page[GenerationSummary]]:
    """The pages a client gets following ``next_cursor`` (at most ``most`` of them)."""
    pages = [await pp.generations.list(status=status, limit=limit)]
    while pages[-1].has_more and len(pages) < most:
        cursor = pages[-1].next_cursor
        pages.append(await pp.generations.list(status=status, limit=limit, cursor=cursor))
    return pages


async def collect(pp: PowerPost, into: list[str]) -> None:
    """``pp.generations.iterate(page_size=5)``, each id appended as it comes."""
    async for summary in pp.generations.iterate(page_size=5):
        into.append(summary.generation_id)


def ids_of(*pages: Page[GenerationSummary]) -> list[str]:
    return [g.generation_id for page in pages for g in page]


# -- the object -----------------------------------------------------------------------------


def test_every_quirk_is_off_by_default() -> None:
    quirks = Quirks()
    assert quirks.order == "newest_first"
    assert quirks.cursor_cycle == 0
    assert quirks.empty_pages == 0
    assert quirks.empty_cursor is False
    assert quirks.canonical_ids is False
    assert FakePowerPost().quirks == quirks


def test_the_server_uses_the_quirks_it_is_given() -> None:
    quirks = Quirks(order="oldest_first", empty_pages=2)
    server = FakePowerPost(quirks=quirks)
    assert server.quirks is quirks
    server.quirks.canonical_ids = True
    assert quirks.canonical_ids


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order", "newest"),
        ("order", ""),
        ("order", None),
        ("cursor_cycle", -1),
        ("cursor_cycle", 1.5),
        ("cursor_cycle", True),
        ("cursor_cycle", "2"),
        ("empty_pages", -3),
        ("empty_pages", None),
        ("empty_cursor", 1),
        ("empty_cursor", "yes"),
        ("canonical_ids", None),
        ("canonical_ids", 0),
    ],
)
def test_invalid_values_are_refused(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        Quirks(**{field: value})
    server = FakePowerPost()
    before = getattr(server.quirks, field)
    with pytest.raises(ValueError, match=field):
        setattr(server.quirks, field, value)
    assert getattr(server.quirks, field) == before
    assert server.quirks == Quirks()


def test_quirks_must_be_a_quirks_object() -> None:
    with pytest.raises(TypeError, match="Quirks"):
        FakePowerPost(quirks={"order": "oldest_first"})  # type: ignore[arg-type]


def test_a_misspelt_quirk_is_an_error() -> None:
    with pytest.raises(AttributeError):
        FakePowerPost().quirks.ordr = "oldest_first"  # type: ignore[attr-defined]


# -- off means off --------------------------------------------------------------------------


async def test_with_every_quirk_off_the_answers_are_the_same_bytes() -> None:
    """Quirks switched on and back off leave no trace in the answers."""

    async def answers(server: FakePowerPost, ids: list[str]) -> list[tuple[int, bytes]]:
        transport = server.transport()
        headers = {"x-api-key": KEY, "X-Workspace-Id": WS}
        seen: list[tuple[int, bytes]] = []

        async def get(target: str) -> Any:
            response = await transport.send(Request("GET", target, headers))
            seen.append((response.status_code, response.content))
            return response.json()

        first = await get(f"{GENERATIONS}?limit=5")
        await get(f"{GENERATIONS}?limit=5&cursor={first['next_cursor']}")
        await get(f"{GENERATIONS}?limit=3&status=completed")
        await get(f"{GENERATIONS}/{ids[0]}")
        await get(f"{GENERATIONS}/{ids[0].upper()}")
        return seen

    runs: list[list[tuple[int, bytes]]] = []
    for toggle in (False, True):
        server = FakePowerPost(clock=VirtualClock())
        ids = seed(server, 6, status="completed") + seed(server, 6)
        if toggle:
            server.quirks.order = "oldest_first"
            server.quirks.cursor_cycle = 2
            server.quirks.empty_pages = 3
            server.quirks.empty_cursor = True
            server.quirks.canonical_ids = True
            await answers(server, ids)
            server.quirks.order = "newest_first"
            server.quirks.cursor_cycle = 0
            server.quirks.empty_pages = 0
            server.quirks.empty_cursor = False
            server.quirks.canonical_ids = False
            assert server.quirks == Quirks()
        runs.append(await answers(server, ids))
    assert runs[0] == runs[1]
    assert [status for status, _ in runs[0]] == [200, 200, 200, 200, 404]


# -- order ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, "completed"])
async def test_oldest_first_lists_every_generation_once(
    server: FakePowerPost, pp: PowerPost, status: Status | None
) -> None:
    wanted: list[str] = []
    for _ in range(9):
        wanted += seed(server, 1, status="completed")
        ids = seed(server, 1, status="failed")
        if status is None:
            wanted += ids
    server.quirks.order = "oldest_first"
    pages = await walk(pp, status=status, limit=4)
    assert ids_of(*pages) == wanted
    assert len(pages) == -(-len(wanted) // 4)
    assert all(p.has_more for p in pages[:-1])
    assert pages[-1].next_cursor is None
    assert not pages[-1].has_more
    # Newest first, the same generations come the other way round.
    server.quirks.order = "newest_first"
    assert ids_of(*await walk(pp, status=status, limit=4)) == wanted[::-1]


async def test_oldest_first_pages_stay_stable_while_generations_are_created(
    server: FakePowerPost, pp: PowerPost
) -> None:
    old = seed(server, 12)
    server.quirks.order = "oldest_first"
    page = await pp.generations.list(limit=5)
    seen = ids_of(page)
    new: list[str] = []
    while page.has_more:
        # New generations are the newest: they come after everything served so far.
        for n in range(2):
            created = await pp.generations.create(prompt=f"new {n}", post_types=["x-post"])
            new.append(created.generation_id)
        page = await pp.generations.list(limit=5, cursor=page.next_cursor)
        seen += ids_of(page)
        if len(new) > 20:
            break
    assert seen[:12] == old  # nothing shifted, nothing repeated
    assert seen == old + new  # and the new ones on later pages, in order, each once
    assert len(seen) == len(set(seen))


async def test_oldest_first_with_many_generations_in_the_same_millisecond(
    server: FakePowerPost, pp: PowerPost
) -> None:
    ids = server.seed_generations(23)  # all created at the same instant
    server.quirks.order = "oldest_first"
    assert ids_of(*await walk(pp, limit=5)) == ids
    assert [g.generation_id async for g in pp.generations.iterate(page_size=6)] == ids


# -- cursor_cycle ---------------------------------------------------------------------------


@pytest.mark.parametrize("cycle", [1, 2, 3])
async def test_cursors_cycle_back_to_the_first_after_n_pages(
    server: FakePowerPost, pp: PowerPost, cycle: int
) -> None:
    ids = seed(server, 30)
    honest = await walk(pp, limit=5)  # newest first, six pages
    server.quirks.cursor_cycle = cycle
    pages = await walk(pp, limit=5, most=3 * cycle + 1)
    assert len(pages) == 3 * cycle + 1  # it never ends
    cursors = [p.next_cursor for p in pages]
    # The walk goes A -> B -> ... -> A: a round of `cycle` pages, again and again.
    round_ = cursors[:cycle]
    assert len(set(round_)) == cycle
    assert cursors == (round_ * 4)[: len(cursors)]
    assert all(p.has_more for p in pages)
    # Each page holds the data its cursor really points at.
    for n, page in enumerate(pages):
        assert ids_of(page) == ids_of(honest[0 if n == 0 else (n - 1) % cycle + 1])
    assert set(ids_of(*pages)) <= set(ids)


async def test_a_cycle_keeps_saying_has_more_past_the_real_end(
    server: FakePowerPost, pp: PowerPost
) -> None:
    ids = seed(server, 12, status="completed")
    seed(server, 5, status="pending")
    server.quirks.cursor_cycle = 2
    page1 = await pp.generations.list(status="completed", limit=5)
    a = await pp.generations.list(status="completed", limit=5, cursor=page1.next_cursor)
    b = await pp.generations.list(status="completed", limit=5, cursor=a.next_cursor)
    assert ids_of(page1, a, b) == ids[::-1]
    assert len(b) == 2  # the real last page...
    assert b.has_more  # ...promises more,
    assert b.next_cursor == page1.next_cursor  # and leads back to A
    again = await pp.generations.list(status="completed", limit=5, cursor=b.next_cursor)
    assert again == a


async def test_cycling_cursors_are_the_same_for_every_client(server: FakePowerPost) -> None:
    seed(server, 40)
    server.quirks.cursor_cycle = 3

    async def cursors() -> list[str | None]:
        async with server.client() as pp:
            return [p.next_cursor for p in await walk(pp, limit=4, most=10)]

    walks = await asyncio.gather(*(cursors() for _ in range(5)))
    assert all(w == walks[0] for w in walks)
    assert walks[0][1:4] == walks[0][4:7]


async def test_iterate_refuses_a_cycle(server: FakePowerPost, pp: PowerPost) -> None:
    ids = seed(server, 30)
    server.quirks.cursor_cycle = 2
    seen: list[str] = []
    with pytest.raises(ResponseValidationError):
        await collect(pp, seen)
    assert seen == ids[::-1][: len(seen)]


# -- empty_pages ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, "failed"])
async def test_empty_pages_come_before_every_real_page_after_the_first(
    server: FakePowerPost, pp: PowerPost, status: Status | None
) -> None:
    everything: list[str] = []
    failed: list[str] = []
    for _ in range(12):
        failed += seed(server, 1, status="failed")
        everything += failed[-1:] + seed(server, 1, status="completed")
    wanted = failed if status is not None else everything
    server.quirks.empty_pages = 3
    pages = await walk(pp, status=status, limit=5)
    real = -(-len(wanted) // 5)
    assert len(pages) == real + 3 * (real - 1)
    assert [len(p) > 0 for p in pages] == [True] + [False, False, False, True] * (real - 1)
    for page in pages[:-1]:
        assert page.has_more
        assert page.next_cursor
    assert not pages[-1].has_more
    assert pages[-1].next_cursor is None
    cursors = [p.next_cursor for p in pages[:-1]]
    assert len(set(cursors)) == len(cursors)  # a fresh cursor every time
    assert ids_of(*pages) == wanted[::-1]  # and every generation exactly once


async def test_a_billion_empty_pages_cost_nothing_each(
    server: FakePowerPost, pp: PowerPost
) -> None:
    ids = seed(server, 10)
    server.quirks.empty_pages = 10**9
    started = time.perf_counter()
    pages = await walk(pp, limit=5, most=200)
    elapsed = time.perf_counter() - started
    assert elapsed < 10  # 200 requests in memory; nothing proportional to 10**9
    assert ids_of(pages[0]) == ids[::-1][:5]
    assert all(len(p) == 0 and p.has_more for p in pages[1:])
    cursors = [p.next_cursor for p in pages]
    assert len(set(cursors)) == 200
    assert max(len(c or "") for c in cursors) < 100  # cursors do not grow with the count


async def test_iterate_refuses_empty_pages_forever(server: FakePowerPost, pp: PowerPost) -> None:
    ids = seed(server, 10)
    server.quirks.empty_pages = 10**9
    seen: list[str] = []
    with pytest.raises(ResponseValidationError):
        await collect(pp, seen)
    assert seen == ids[::-1][:5]


async def test_empty_pages_and_oldest_first_together(server: FakePowerPost, pp: PowerPost) -> None:
    ids = seed(server, 11)
    server.quirks.order = "oldest_first"
    server.quirks.empty_pages = 1
    pages = await walk(pp, limit=5)
    assert [len(p) for p in pages] == [5, 0, 5, 0, 1]
    assert ids_of(*pages) == ids


# -- empty_cursor ---------------------------------------------------------------------------


async def test_empty_cursor(server: FakePowerPost, pp: PowerPost) -> None:
    ids = seed(server, 7, status="processing")
    server.quirks.empty_cursor = True
    page = await pp.generations.list(limit=5)
    assert ids_of(page) == ids[::-1][:5]
    assert page.has_more
    assert page.next_cursor == ""
    filtered = await pp.generations.list(status="processing", limit=5)
    assert filtered.has_more
    assert filtered.next_cursor == ""
    # The last page says there is no more, as usual.
    last = await pp.generations.list(limit=10)
    assert not last.has_more
    assert last.next_cursor is None


# -- canonical_ids --------------------------------------------------------------------------


async def test_canonical_ids(server: FakePowerPost, pp: PowerPost) -> None:
    created = await pp.generations.create(prompt="Dark mode", post_types=["x-post"])
    generation_id = created.generation_id
    assert generation_id == generation_id.lower()
    upper = generation_id.upper()
    with pytest.raises(NotFoundError):
        await pp.generations.get(upper)  # no quirk: ids are case-sensitive
    server.quirks.canonical_ids = True
    found = await pp.generations.get(upper)
    assert found.generation_id == generation_id  # uppercase in, lowercase out
    mixed = generation_id[:8].upper() + generation_id[8:]
    assert (await pp.generations.get(mixed)).generation_id == generation_id
    assert (await pp.generations.get(generation_id)).generation_id == generation_id
    assert server.generation(upper).generation_id == generation_id
    page = await pp.generations.list()
    assert ids_of(page) == [generation_id]
    with pytest.raises(NotFoundError):
        await pp.generations.get("0BADC0DE-0000-4000-8000-000000000000")
    server.quirks.canonical_ids = False
    with pytest.raises(NotFoundError):
        await pp.generations.get(upper)


async def test_canonical_ids_stay_within_the_workspace() -> None:
    server = FakePowerPost(clock=VirtualClock(), keys={KEY: ["ws_a", "ws_b"]})
    server.quirks.canonical_ids = True
    (other,) = server.seed_generations(1, workspace_id="ws_b")
    async with server.client(workspace_id="ws_a") as pp:
        with pytest.raises(NotFoundError):
            await pp.generations.get(other.upper())
    async with server.client(workspace_id="ws_b") as pp:
        assert (await pp.generations.get(other.upper())).generation_id == other


# -- switching mid-run ----------------------------------------------------------------------


async def test_switching_a_quirk_mid_walk_takes_effect_on_the_next_request(
    server: FakePowerPost, pp: PowerPost
) -> None:
    ids = seed(server, 20)
    newest = ids[::-1]
    page1 = await pp.generations.list(limit=5)  # an ordinary cursor
    server.quirks.empty_pages = 2
    empty1 = await pp.generations.list(limit=5, cursor=page1.next_cursor)
    empty2 = await pp.generations.list(limit=5, cursor=empty1.next_cursor)
    assert (len(empty1), len(empty2)) == (0, 0)
    server.quirks.empty_pages = 0
    page2 = await pp.generations.list(limit=5, cursor=empty2.next_cursor)
    assert ids_of(page1, page2) == newest[:10]  # on from where the walk was: nothing lost
    # The other way from the same position: the five generations just newer than it.
    server.quirks.order = "oldest_first"
    page3 = await pp.generations.list(limit=5, cursor=page2.next_cursor)
    assert ids_of(page3) == ids[11:16]
    server.quirks.order = "newest_first"
    # A round of one page, starting from the cursor it was given.
    server.quirks.cursor_cycle = 1
    page4 = await pp.generations.list(limit=5, cursor=page2.next_cursor)
    assert ids_of(page4) == newest[10:15]
    again = await pp.generations.list(limit=5, cursor=page4.next_cursor)
    assert again == page4
    assert again.next_cursor == page4.next_cursor
    server.quirks.cursor_cycle = 0
    server.quirks.empty_cursor = True
    assert (await pp.generations.list(limit=5, cursor=page4.next_cursor)).next_cursor == ""
    server.quirks.empty_cursor = False
    rest = await pp.generations.list(limit=5, cursor=page4.next_cursor)
    last = await pp.generations.list(limit=5, cursor=rest.next_cursor)
    assert ids_of(rest, last) == newest[10:]
    assert not last.has_more
    server.quirks.canonical_ids = True
    assert (await pp.generations.get(ids[0].upper())).generation_id == ids[0]
    server.quirks.canonical_ids = False
    with pytest.raises(NotFoundError):
        await pp.generations.get(ids[0].upper())


# -- over a socket --------------------------------------------------------------------------


async def test_quirks_over_a_socket() -> None:
    async with FakePowerPost(quirks=Quirks(order="oldest_first", empty_pages=2)) as server:
        ids = server.seed_generations(12, status="completed")
        async with server.client(use_socket=True) as pp:
            pages = await walk(pp, limit=5)
            assert [len(p) for p in pages] == [5, 0, 0, 5, 0, 0, 2]
            assert ids_of(*pages) == ids
            server.quirks.canonical_ids = True
            found = await pp.generations.get(ids[3].upper())
            assert found.generation_id == ids[3]
            server.quirks.empty_pages = 0
            server.quirks.cursor_cycle = 1
            page1 = await pp.generations.list(limit=5)
            a = await pp.generations.list(limit=5, cursor=page1.next_cursor)
            assert a.next_cursor == page1.next_cursor
            assert ids_of(a) == ids[5:10]
            server.quirks.empty_cursor = True
            assert (await pp.generations.list(limit=5)).next_cursor == ""
