"""Legal but unusual server behaviours the fake can be switched into, for tests."""

from __future__ import annotations

from typing import Any, Literal

import attrs

__all__ = ["ORDERS", "Quirks"]

#: The orders ``GET /content/generations`` can list generations in.
ORDERS = ("newest_first", "oldest_first")
Order = Literal["newest_first", "oldest_first"]
_NEWEST_FIRST: Order = "newest_first"


def _check_order(instance: Quirks, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or value not in ORDERS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(ORDERS)}, got {value!r}")


def _check_count(instance: Quirks, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an integer >= 0 (0: off), got {value!r}")


def _check_switch(instance: Quirks, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{attribute.name} must be True or False, got {value!r}")


@attrs.define(on_setattr=attrs.setters.validate)
class Quirks:
    """Legal but unusual behaviours of a
    [`FakePowerPost`][powerpost_async.testing.FakePowerPost]: ``server.quirks``.

    A real server may do any of these without breaking the API's contract; switch them
    on to check that your code (or the SDK) copes. All are off by default, and the fake
    then answers exactly as without them. Change them at any time, even in the middle
    of a test: the next request obeys them. Every value is checked when it is set
    (``ValueError`` naming the field).

    Cursors carry the state of a walk through the pages (its position, how many pages
    deep it is, how many empty pages it has been served since the last real one), so
    the quirks hold for any number of clients walking at once, and a cursor means the
    same page however often it is followed.

    Example:
        ```python
        server = FakePowerPost(quirks=Quirks(order="oldest_first"))
        server.quirks.empty_pages = 3      # from the next request on
        ```

    Attributes:
        order: The order ``GET /content/generations`` lists generations in, with or
            without a ``status`` filter: ``"newest_first"`` (as documented) or
            ``"oldest_first"``. A cursor marks the last generation served, and the
            next page continues from it in the current order: oldest first,
            generations created after a page was served come on later pages.
        cursor_cycle: Cursors that go in a circle: with ``N >= 1``, once a walk has
            been served ``N`` pages, the next page's ``next_cursor`` is the one page 1
            returned again, so following cursors goes ``A -> B -> ... -> A`` forever
            (``N`` pages to a round). Those pages say ``has_more: true`` and hold the
            data their cursor points at. ``0``: off.
        empty_pages: Empty pages before every real page after the first: with
            ``N >= 1``, a cursor leads to ``N`` pages of ``data: []`` and
            ``has_more: true``, each with a new cursor, before the page it points at.
            A huge ``N`` (``10**9``) is as good as forever, at no cost. ``0``: off.
        empty_cursor: Pages with more after them say ``has_more: true`` with
            ``next_cursor: ""``, a cursor nobody can follow.
        canonical_ids: Ids are canonicalised: ``GET /content/generations/{id}`` finds
            a generation whatever the case of the id it is given, and answers with the
            canonical, lowercase id (unknown ids are still 404). The fake's ids are
            lowercase UUIDs.
    """

    order: Order = attrs.field(default=_NEWEST_FIRST, validator=_check_order)
    cursor_cycle: int = attrs.field(default=0, validator=_check_count)
    empty_pages: int = attrs.field(default=0, validator=_check_count)
    empty_cursor: bool = attrs.field(default=False, validator=_check_switch)
    canonical_ids: bool = attrs.field(default=False, validator=_check_switch)
