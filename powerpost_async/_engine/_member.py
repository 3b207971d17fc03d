"""The fleet's reactions: a client as its coordinator sees it (the `FleetMember`).

The coordinator (``powerpost_async.redis``) tells the member what the fleet learnt and
decided; the member routes each message to the engine of the kind it concerns, in the
client's own workspace: outcomes another process learnt, ids to answer for while this
process leads, webhook hints, 429 pauses, and whether the fleet can be reached.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from powerpost_async._ratelimit import RateLimitGate

from ._engine import Engine
from ._engines import Engines
from ._kinds import GENERATIONS, KINDS

if TYPE_CHECKING:
    from powerpost_async._fleet import Outcome

__all__ = ["Member"]


class Member:
    """What a client's coordinator talks to (see the module docstring).

    Args:
        engines: The client's engines.
        workspace: The client's own workspace (the fleet's scope).
        base_url: The API's base URL (the scope too).
        api_key: The client's key: only a digest of it goes into the scope, so that
            processes with different keys never share a lease or outcomes.
        rate: The client's 429 gate (the rate limit is the key's, the fleet's).
    """

    __slots__ = ("_engines", "_rate", "_workspace", "scope")

    def __init__(
        self,
        engines: Engines,
        workspace: str | None,
        base_url: str,
        api_key: str,
        rate: RateLimitGate,
    ) -> None:
        self._engines = engines
        self._workspace = workspace
        self._rate = rate
        # A revoked key (401) or one without a scope (403) is one process's trouble:
        # a fleet is the processes of one key, so none can lead for another's.
        key_id = hashlib.sha256(b"powerpost-fleet-key:" + api_key.encode()).hexdigest()[:16]
        #: What the fleet shares: base URL, workspace and key (a digest: no secret).
        self.scope = f"{base_url} {workspace or ''} {key_id}"

    def _by_kind(self) -> dict[str, Engine]:
        return self._engines.of_workspace(self._workspace)

    @staticmethod
    def _split(fleet_ids: Iterable[str]) -> dict[str, list[str]]:
        """Fleet ids by kind, as each engine knows them (``images:<id>`` -> ``<id>``)."""
        by_kind: dict[str, list[str]] = {}
        for fleet_id in fleet_ids:
            prefix, colon, rest = fleet_id.partition(":")
            if colon and prefix in KINDS and prefix != GENERATIONS.key:
                by_kind.setdefault(prefix, []).append(rest)
            else:
                by_kind.setdefault(GENERATIONS.key, []).append(fleet_id)
        return by_kind

    def delivered(self, outcomes: Mapping[str, Outcome]) -> None:
        engines = self._by_kind()
        for kind, ids in self._split(outcomes).items():
            engine = engines.get(kind)
            if engine is not None:
                prefix = "" if kind == GENERATIONS.key else f"{kind}:"
                engine.delivered({i: outcomes[prefix + i] for i in ids})

    def lead(self, job_ids: Collection[str]) -> None:
        by_kind = self._split(job_ids)
        engines = self._by_kind()
        for kind in by_kind.keys() - engines.keys():  # awaited elsewhere only
            if not self._engines.closed:
                engines[kind] = self._engines.get(KINDS[kind], self._workspace)
        for kind, engine in engines.items():
            engine.lead(by_kind.get(kind, ()))  # nothing for a kind: stop leading it

    def fed(self, job_id: str) -> None:
        engines = self._by_kind()
        for kind, ids in self._split([job_id]).items():
            engine = engines.get(kind)
            if engine is not None:
                engine.fed(ids[0])

    def paused(self, seconds: float) -> None:
        # Another process got the 429: pause here too, without announcing it again.
        self._rate.rate_limited(seconds, {})

    def connection_changed(self, connected: bool) -> None:
        self._engines.fleet_connected = connected
        for engine in self._by_kind().values():
            engine.connection_changed(connected)
