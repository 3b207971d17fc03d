"""The waiting engines of a client and its copies: one per kind of job and workspace.

An engine is made when a wait (or the fleet) first needs it, and dropped once it holds
nothing and runs nothing: a multi-tenant service that makes a copy of its client per
request (``with_options(workspace_id=...)``) must not keep an engine per tenant for ever.
The engines of the original client's own workspace stay while it is in a fleet: the
coordinator hands them ids to answer for at any time.

An engine's own work (the sweeper, the fleet's lead) reads through the original client's
settings in that workspace, never those of the copy that happened to wait first; each
waiting call brings its own client's source for its ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from powerpost_async._exceptions import PowerPostError
from powerpost_async._fleet import Coordinator
from powerpost_async._requester import Requester

from ._core import EngineCore
from ._engine import Engine
from ._kinds import JobKind
from ._source import JobSource

__all__ = ["Engines"]


class Engines:
    """Every waiting engine of one client and its copies (see the module docstring).

    Args:
        root: The original client's request path (its workspace is the fleet's scope).
        coordinator: The fleet's coordinator, or ``None``.
        join: Joins the fleet (once), before the first wait in the root's workspace.
    """

    def __init__(
        self,
        root: Requester,
        coordinator: Coordinator | None,
        join: Callable[[], Awaitable[None]],
    ) -> None:
        self._root = root
        self._coordinator = coordinator
        self._join = join
        self._engines: dict[tuple[str, str | None], Engine] = {}
        # What each workspace's engines read through for their own work.
        self._owners: dict[str | None, Requester] = {}
        #: Whether the coordinator can be reached now (engines made later start so).
        self.fleet_connected = False

    @property
    def closed(self) -> bool:
        """Whether the original client is closed (no engine is made any more)."""
        return self._root.closed

    def get(self, kind: JobKind[Any], workspace: str | None) -> Engine:
        """The engine of ``kind`` in ``workspace``, made on first use."""
        key = (kind.key, workspace)
        engine = self._engines.get(key)
        if engine is None:
            root = self._root
            if root.closed:
                raise PowerPostError("this PowerPost client is closed; create a new one")
            # Fleet mode covers the original client's own workspace (its scope).
            fleet = self._coordinator is not None and workspace == root.workspace_id
            engine = self._engines[key] = Engine(
                JobSource(self._owner(workspace), kind),
                clock=root.clock,
                sleep=root.sleep,
                workspace_id=workspace,
                coordinator=self._coordinator if fleet else None,
                join=self._join if fleet else None,
                telemetry=root.telemetry,
                kind=kind,
                # The fleet's engines stay: the coordinator hands them ids to lead.
                idle=None if fleet else self._drop,
            )
            if fleet and self.fleet_connected:
                engine.connection_changed(True)
        return engine

    def of_workspace(self, workspace: str | None) -> dict[str, Engine]:
        """The engines of ``workspace`` that exist now, by kind."""
        return {kind: e for (kind, space), e in self._engines.items() if space == workspace}

    def stop_owner(self, owner: object, error: BaseException) -> None:
        """End every wait made on ``owner`` (a copy being closed) with ``error``."""
        for engine in list(self._engines.values()):
            engine.stop_owner(owner, error)

    async def aclose(self) -> None:
        """Close every engine (the client is closing): their waits fail, tasks stop."""
        for owner in self._owners.values():
            owner.closed = True
        for engine in list(self._engines.values()):
            await engine.aclose()

    def _drop(self, engine: EngineCore) -> None:
        """Forget an engine that holds nothing (the next wait makes a new one)."""
        key = (engine.kind.key, engine.workspace_id)
        if self._engines.get(key) is engine:
            del self._engines[key]
            if not any(space == engine.workspace_id for _, space in self._engines):
                self._owners.pop(engine.workspace_id, None)

    def _owner(self, workspace: str | None) -> Requester:
        owner = self._owners.get(workspace)
        if owner is None:
            root = self._root
            if root.workspace_id == workspace:
                owner = root
            else:
                owner = root.derive(
                    workspace_id=workspace,
                    timeout=root.timeout,
                    max_retries=root.max_retries,
                    headers=root.headers_plain,
                )
            self._owners[workspace] = owner
        return owner
