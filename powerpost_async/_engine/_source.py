"""What the waiting engine may do with the API: read one job, read a page of a list.

A `JobSource` reads through one client's request path (``_requester.py``), so a wait's
requests carry the settings of the client it was called on.
"""

from __future__ import annotations

from typing import Any

from powerpost_async._http import path_segment, query_string
from powerpost_async._limits import MAX_PAGE_SIZE
from powerpost_async._requester import Requester
from powerpost_async._transport import Response

from ._kinds import JobKind

__all__ = ["JobSource"]


class JobSource:
    """What the waiting engine may do with the API for one kind, through one client:
    GET one job by id, and (for the kinds that sweep) read a page of their list."""

    __slots__ = ("_kind", "_requester")

    def __init__(self, requester: Requester, kind: JobKind[Any]) -> None:
        self._requester = requester
        self._kind = kind

    async def fetch(self, job_id: str, *, deadline: float | None, patient: bool = True) -> Any:
        kind = self._kind
        path = f"{kind.path}/{path_segment(job_id, kind.id_field)}"
        return await self._requester.get(path, kind.model, deadline=deadline, patient=patient)

    async def page(self, status: str, cursor: str | None) -> tuple[Response, Any]:
        kind = self._kind
        if not kind.sweeps:
            raise NotImplementedError(f"the API lists no {kind.plural}: they are not swept")
        query = query_string({"status": status, "limit": MAX_PAGE_SIZE, "cursor": cursor})
        return await self._requester.get_json(kind.path + query, deadline=None, patient=True)
