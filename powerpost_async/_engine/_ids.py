"""What a waiting call is given: job references, turned into checked ids, and its
settings, refused before anything is registered or sent. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeAlias

from powerpost_async._checks import check_timeout
from powerpost_async._http import path_segment
from powerpost_async._models import CreatedGeneration, Generation, GenerationSummary

from ._kinds import GENERATIONS, JobKind

__all__ = ["GenerationRef", "check_wait_args", "distinct_ids", "job_id_of"]

#: What the waiting methods accept as "a generation": its id, or an object carrying one.
GenerationRef: TypeAlias = str | CreatedGeneration | Generation | GenerationSummary


def job_id_of(ref: object, kind: JobKind[Any] = GENERATIONS) -> str:
    """The id of a job reference (an id, or an object of the kind carrying one),
    checked the way ``get`` checks ids."""
    if isinstance(ref, kind.refs):
        ref = kind.id_of(ref)
    path_segment(ref, kind.id_field)  # same rules as every id: refuse what could alter a URL
    return ref  # type: ignore[return-value]


def distinct_ids(
    refs: Iterable[object], kind: JobKind[Any] = GENERATIONS
) -> tuple[list[str], list[str]]:
    """(every id in input order, the distinct ids in first-seen order); all checked first."""
    if isinstance(refs, (str, bytes)):
        raise TypeError(f"pass a list of {kind.noun} ids, not a single string")
    ids = [job_id_of(ref, kind) for ref in refs]
    return ids, list(dict.fromkeys(ids))


def check_wait_args(
    timeout: float | None,
    interval: float,
    max_interval: float,
    strategy: str,
    kind: JobKind[Any] = GENERATIONS,
) -> float | None:
    """Refuse unusable wait arguments, naming the problem; returns the timeout (``inf``
    read as ``None``, no deadline)."""
    timeout = check_timeout(timeout)
    if isinstance(interval, bool) or not 0 < interval < math.inf:
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    if isinstance(max_interval, bool) or not interval <= max_interval < math.inf:
        raise ValueError(
            f"max_interval must be a finite number >= interval ({interval}), got {max_interval!r}"
        )
    if strategy not in ("auto", "poll", "sweep"):
        raise ValueError(f"strategy must be 'auto', 'poll' or 'sweep', got {strategy!r}")
    if strategy == "sweep" and not kind.sweeps:
        raise ValueError(
            f"strategy='sweep' needs a list to sweep, and the API lists no {kind.plural}: "
            "use 'auto' or 'poll'"
        )
    return timeout
