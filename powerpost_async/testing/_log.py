"""What the fake server saw: one record per request, and counters over them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

import attrs

from powerpost_async.testing._faults import Endpoint, FaultKind

__all__ = ["RequestLog", "RequestRecord"]


@attrs.frozen
class RequestRecord:
    """One request the fake server received. The API key is never kept.

    Attributes:
        request_id: The ``X-Request-Id`` it was answered with.
        time: The server's clock when it arrived.
        method: ``"GET"`` or ``"POST"``.
        path: The path as sent (percent-encoded).
        query: The query parameters (the first value of each).
        endpoint: ``"list"``, ``"get"``, ``"create"``, ``"credits"``, ``"upload"``,
            ``"publish"``... (see [`Endpoint`][powerpost_async.testing.Endpoint]);
            ``None`` for an unknown path or method.
        status: The HTTP status answered; ``None`` when the connection was dropped.
        workspace_id: The ``X-Workspace-Id`` header as sent, if any.
        fault: The kind of the injected fault, if one hit this request.
        executed: ``False`` when an injected fault stopped the request before the API
            handled it; ``True`` otherwise (whatever the status).
        generation_id: The caption generation a create made, or a get asked for.
        object_id: For the other endpoints, the id of what the request made or asked
            for: a media, an image or video generation, a post (also for publish,
            schedule and cancel-publish), a post item (analytics), a calendar entry.
    """

    request_id: str
    time: float
    method: str
    path: str
    query: Mapping[str, str]
    endpoint: Endpoint | None
    status: int | None
    workspace_id: str | None
    fault: FaultKind | None
    executed: bool
    generation_id: str | None
    object_id: str | None = None


class RequestLog:
    """Every request the fake server received, oldest first: ``server.requests``.

    Iterate it, index it, ``len()`` it, count over it, ``clear()`` it.
    """

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[RequestRecord]:
        return iter(self._records)

    def __getitem__(self, index: int) -> RequestRecord:
        return self._records[index]

    def __repr__(self) -> str:
        return f"<RequestLog {len(self._records)} requests>"

    def count(
        self,
        *,
        endpoint: Endpoint | None = None,
        status: int | None = None,
        fault: FaultKind | None = None,
        executed: bool | None = None,
    ) -> int:
        """How many requests match every criterion given (``None`` matches anything).

        Example: ``server.requests.count(endpoint="get", status=200)``.
        """
        return sum(
            1
            for r in self._records
            if (endpoint is None or r.endpoint == endpoint)
            and (status is None or r.status == status)
            and (fault is None or r.fault == fault)
            and (executed is None or r.executed == executed)
        )

    def counts(self) -> Counter[tuple[Endpoint | None, int | None]]:
        """Requests counted by ``(endpoint, status)`` (status ``None``: dropped)."""
        return Counter((r.endpoint, r.status) for r in self._records)

    def clear(self) -> None:
        """Forget every record (the server's state is untouched)."""
        self._records.clear()

    def _append(self, record: RequestRecord) -> None:
        self._records.append(record)
