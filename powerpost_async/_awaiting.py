"""What every resource of an asynchronous job shares: read one, await one or many.

Image generations, video generations and posts are jobs the API works on for a while,
like caption generations. Their resources (``pp.images``, ``pp.videos``, ``pp.posts``)
derive from `JobResource`, which hands every wait to the client's one waiting engine
for that kind (``_engine.Engine`` with a ``_kinds.JobKind``): the same registry,
pollers, deadlines, progress reports, webhook feeding and fleet mode as captions.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from ._checks import check_timeout
from ._defaults import USE_CLIENT_DEFAULT, UseClientDefault
from ._engine._engine import Engine, ProgressCallback, Strategy, job_id_of
from ._engine._kinds import JobKind
from ._engine._source import JobSource
from ._exceptions import PowerPostError
from ._http import QueryValue, path_segment

if TYPE_CHECKING:
    from ._client import PowerPost
    from ._engine._engines import Engines
    from ._requester import Requester
    from .webhooks import WebhookEvent

__all__ = ["JobResource", "check_extra_body"]

J = TypeVar("J")


class JobResource(Generic[J]):
    """Reading and awaiting one kind of job (see the module docstring)."""

    _kind: JobKind[J]

    def __init__(self, client: PowerPost) -> None:
        self._client = client
        self._requester: Requester = client._requester
        # How this client's waits read their ids: with its own settings (timeout,
        # headers), whoever else awaits the same ids.
        self._source = JobSource(client._requester, self._kind)
        self._engines: Engines = client._engines

    @property
    def _engine(self) -> Engine:
        """The client's waiting engine for this kind, made when a wait first needs it."""
        return self._engines.get(self._kind, self._requester.workspace_id)

    def _check_open(self) -> None:
        if self._client.is_closed:
            raise PowerPostError("this PowerPost client is closed; create a new one")

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
        job_id = job_id_of(job_id, kind)
        return await self._requester.get(
            f"{kind.path}/{path_segment(job_id, kind.id_field)}",
            kind.model,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )

    async def _wait(
        self,
        ref: object,
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        strategy: Strategy = "auto",
    ) -> J:
        self._check_open()
        kind = self._kind
        return await self._engine.wait(  # type: ignore[no-any-return]
            ref,
            timeout=timeout,
            interval=kind.interval if interval is None else interval,
            max_interval=_max(kind, interval, max_interval),
            strategy=strategy,
            source=self._source,
            owner=self._client,
        )

    def _as_completed(
        self,
        refs: Iterable[object],
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        on_progress: ProgressCallback | None,
        strategy: Strategy = "auto",
    ) -> AsyncGenerator[J, None]:
        self._check_open()
        kind = self._kind
        return self._engine.as_completed(
            refs,
            timeout=timeout,
            interval=kind.interval if interval is None else interval,
            max_interval=_max(kind, interval, max_interval),
            strategy=strategy,
            on_progress=on_progress,
            source=self._source,
            owner=self._client,
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
        strategy: Strategy = ...,
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
        strategy: Strategy = ...,
    ) -> builtins.list[J | Exception]: ...
    async def _wait_many(
        self,
        refs: Iterable[object],
        timeout: float | None,
        interval: float | None,
        max_interval: float | None,
        on_progress: ProgressCallback | None,
        return_exceptions: bool,
        strategy: Strategy = "auto",
    ) -> builtins.list[J] | builtins.list[J | Exception]:
        self._check_open()
        kind = self._kind
        return await self._engine.wait_many(
            refs,
            timeout=timeout,
            interval=kind.interval if interval is None else interval,
            max_interval=_max(kind, interval, max_interval),
            strategy=strategy,
            on_progress=on_progress,
            return_exceptions=return_exceptions,
            source=self._source,
            owner=self._client,
        )

    async def _feed(
        self, event: WebhookEvent | str, events: Collection[str], timeout: float | None
    ) -> bool:
        """Feed a webhook event (or an id) of this kind to the engine (see ``feed``)."""
        self._check_open()
        kind = self._kind
        timeout = check_timeout(timeout)
        if isinstance(event, str):
            return await self._engine.feed(job_id_of(event, kind), None, timeout)
        if event.event not in events:
            return False  # another kind's event: nothing to do
        job_id = event.data.get(kind.id_field)
        if not isinstance(job_id, str) or not job_id:
            return False  # without the id: nothing to ask about
        try:
            path_segment(job_id, kind.id_field)
        except ValueError:
            return False  # not an id we could ask about: a hint to ignore
        return await self._engine.feed(job_id, event.workspace_id, timeout)


def _max(kind: JobKind[Any], interval: float | None, max_interval: float | None) -> float:
    if max_interval is not None:
        return max_interval
    return kind.max_interval if interval is None else max(interval, kind.max_interval)


def check_extra_body(body: dict[str, Any], extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    """``body`` with ``extra_body`` laid over it (the caller's fields the SDK does not know)."""
    if extra_body is None:
        return body
    if not isinstance(extra_body, Mapping) or not all(isinstance(k, str) for k in extra_body):
        raise TypeError("extra_body must be a mapping of field names to JSON values")
    return {**body, **extra_body}
