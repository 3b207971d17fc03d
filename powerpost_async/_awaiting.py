"""What every resource of an asynchronous job shares: read one, await one or many.

Image generations, video generations and posts are jobs the API works on for a while,
like caption generations. Their resources (``pp.images``, ``pp.videos``, ``pp.posts``)
derive from `JobResource`, which hands every wait to the client's one waiting engine
for that kind (``_waiting.Engine`` with a ``_jobs.JobKind``): the same registry,
pollers, deadlines, progress reports, webhook feeding and fleet mode as captions.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._http import QueryValue, path_segment
from ._jobs import JobKind
from ._waiting import Engine, ProgressCallback, generation_id_of

if TYPE_CHECKING:
    from ._client import PowerPost
    from ._transport import Response
    from .webhooks import WebhookEvent

__all__ = ["JobResource", "check_extra_body"]

J = TypeVar("J")


class JobResource(Generic[J]):
    """Reading and awaiting one kind of job (see the module docstring)."""

    _kind: JobKind[J]
    _path: str  # GET {_path}/{id} reads one

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        kind, path = self._kind, self._path
        self._engine: Engine = client._engine_for(kind, lambda owner: _Source(owner, kind, path))

    async def _get_job(
        self,
        job_id: object,
        *,
        timeout: float | UseClientDefault | None = USE_CLIENT_DEFAULT,
        max_retries: int | UseClientDefault = USE_CLIENT_DEFAULT,
        extra_headers: Mapping[str, str] | None = None,
        extra_query: Mapping[str, QueryValue | None] | None = None,
    ) -> J:
        kind = self._kind
        job_id = generation_id_of(job_id, kind)
        return await self._client._get(
            f"{self._path}/{path_segment(job_id, kind.id_field)}",
            kind.model,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def _wait(
        self, ref: object, timeout: float | None, interval: float | None, max_interval: float | None
    ) -> J:
        kind = self._kind
        return await self._engine.wait(  # type: ignore[no-any-return]
            ref,
            timeout=timeout,
            interval=kind.interval if interval is None else interval,
            max_interval=_max(kind, interval, max_interval),
            strategy="auto",
        )

    def _as_completed(
        self,
        refs: Iterable[object],
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        on_progress: ProgressCallback | None,
    ) -> AsyncGenerator[J, None]:
        kind = self._kind
        return self._engine.as_completed(
            refs,
            timeout=timeout,
            interval=kind.interval if interval is None else interval,
            max_interval=_max(kind, interval, max_interval),
            strategy="auto",
            on_progress=on_progress,
        )

    @overload
    async def _wait_many(
        self,
        refs: Iterable[object],
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        on_progress: ProgressCallback | None,
        return_exceptions: Literal[False],
    ) -> builtins.list[J]: ...
    @overload
    async def _wait_many(
        self,
        refs: Iterable[object],
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        on_progress: ProgressCallback | None,
        return_exceptions: bool,
    ) -> builtins.list[J | Exception]: ...
    async def _wait_many(
        self,
        refs: Iterable[object],
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        on_progress: ProgressCallback | None,
        return_exceptions: bool,
    ) -> builtins.list[J] | builtins.list[J | Exception]:
        kind = self._kind
        return await self._engine.wait_many(
            refs,
            timeout=timeout,
            interval=kind.interval if interval is None else interval,
            max_interval=_max(kind, interval, max_interval),
            strategy="auto",
            on_progress=on_progress,
            return_exceptions=return_exceptions,
        )

    async def _feed(self, event: WebhookEvent | str, events: Collection[str]) -> bool:
        """Feed a webhook event (or an id) of this kind to the engine (see ``feed``)."""
        kind = self._kind
        if isinstance(event, str):
            return await self._engine.feed(generation_id_of(event, kind), None)
        if event.event not in events:
            return False  # another kind's event: nothing to do
        job_id = event.data.get(kind.id_field)
        if not isinstance(job_id, str) or not job_id:
            return False  # without the id: nothing to ask about
        try:
            path_segment(job_id, kind.id_field)
        except ValueError:
            return False  # not an id we could ask about: a hint to ignore
        return await self._engine.feed(job_id, event.workspace_id)


def _max(kind: JobKind[Any], interval: float | None, max_interval: float | None) -> float:
    if max_interval is not None:
        return max_interval
    return kind.max_interval if interval is None else max(interval, kind.max_interval)


class _Source:
    """What the waiting engine may do with the API for a kind that is not swept: GET
    one job by id."""

    __slots__ = ("_client", "_kind", "_path")

    def __init__(self, client: PowerPost, kind: JobKind[Any], path: str) -> None:
        self._client = client
        self._kind = kind
        self._path = path

    async def fetch(self, job_id: str, *, deadline: float | None, patient: bool = True) -> Any:
        path = f"{self._path}/{path_segment(job_id, self._kind.id_field)}"
        return await self._client._get(path, self._kind.model, deadline=deadline, patient=patient)

    async def page(self, status: str, cursor: str | None) -> tuple[Response, Any]:
        raise NotImplementedError(f"the API lists no {self._kind.plural}: they are not swept")


def check_extra_body(body: dict[str, Any], extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    """``body`` with ``extra_body`` laid over it (the caller's fields the SDK does not know)."""
    if extra_body is None:
        return body
    if not isinstance(extra_body, Mapping) or not all(isinstance(k, str) for k in extra_body):
        raise TypeError("extra_body must be a mapping of field names to JSON values")
    return {**body, **extra_body}
