"""Fleet coordination: the seam between the waiting engine and where sweeping happens.

A service often runs as many processes (``uvicorn --workers 8``, replicas), all with one
API key and one workspace. Alone, each process would sweep the in-flight lists for its
own waits, and the cost of waiting would grow with the number of processes. Given a
[`Coordinator`][powerpost_async.Coordinator] (``PowerPost(coordinator=...)``), the
processes share the work instead:

* each process registers the ids its callers await (`Coordinator.hold`) and withdraws
  them when nobody there awaits them any more (`Coordinator.release`);
* one process at a time *leads*: the coordinator hands it the ids the whole fleet awaits
  (`FleetMember.lead`), and its engine sweeps (or polls) for them exactly as it does for
  its own;
* whoever learns that a job finished (the leader's sweep, a forced poller, a
  webhook fed in) announces it (`Coordinator.publish`); every process resolves its own
  waits from the announcement (`FleetMember.delivered`);
* a webhook fed to a process that does not await the id is passed on to the leader
  (`Coordinator.feed`, `FleetMember.fed`); a 429's pause is shared by the fleet
  (`Coordinator.pause`, `FleetMember.paused`);
* when the coordinator cannot reach its backend, it says so
  (`FleetMember.connection_changed`) and the process waits on its own, as without a
  coordinator, until it is back.

Every kind of job takes part: caption generations under their bare ids, image and video
generations and posts under ids prefixed with their kind (``images:<id>``, ``videos:<id>``,
``posts:<id>``), so that ids of different kinds never clash.

Without a coordinator (the default) nothing of this runs: each client sweeps for itself.
[`RedisCoordinator`][powerpost_async.redis.RedisCoordinator] coordinates through Redis.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

__all__ = ["Coordinator", "FleetMember", "JobEnded"]


@attrs.frozen
class JobEnded:
    """An announcement that a job ended, without the job: each process that awaits it
    reads it with one GET. What a coordinator shares by default, so that a shared store
    never holds users' content (prompts, captions), only ids and statuses.

    Attributes:
        status: The job's final status, as the API spells it (``"completed"``...), or
            ``None`` when the announcer did not read it (it left the in-flight lists).
    """

    status: str | None


if TYPE_CHECKING:
    from typing import TypeAlias

    from ._exceptions import APIStatusError
    from ._models import Generation, ImageGeneration, Post, VideoGeneration

    #: What a fleet announces for an id: the finished job, that it ended (`JobEnded`:
    #: the job itself is read by whoever awaits it), or an error about that id.
    Outcome: TypeAlias = (
        Generation | ImageGeneration | VideoGeneration | Post | JobEnded | APIStatusError
    )


@runtime_checkable
class FleetMember(Protocol):
    """One client as its coordinator sees it: what the coordinator may tell it.

    The SDK implements it; a coordinator receives it in `Coordinator.join`. Every method
    is synchronous and quick: call it from the event loop of the client.
    """

    @property
    def scope(self) -> str:
        """What the fleet shares: the API's base URL, the workspace and a digest of the
        API key, as one string.

        Clients of one scope coordinate; others don't (processes with different keys
        never share a lease: one key's trouble stays its own). It holds no secret.
        """
        ...

    def delivered(self, outcomes: Mapping[str, Outcome]) -> None:
        """Jobs that finished (or errors for good) that another process learnt: resolve
        the waits. Caption generation ids come bare; other kinds' ids carry their kind,
        e.g. ``images:<id>``, ``posts:<id>``."""
        ...

    def lead(self, job_ids: Collection[str]) -> None:
        """Sweep (or poll) for these ids, awaited somewhere in the fleet; an empty
        collection stops leading. Each call replaces the previous set."""
        ...

    def fed(self, job_id: str) -> None:
        """A webhook said this job finished (passed on to the leader)."""
        ...

    def paused(self, seconds: float) -> None:
        """Another process got a 429: hold this client's requests back too."""
        ...

    def connection_changed(self, connected: bool) -> None:
        """The coordinator reaches its backend again (``True``) or lost it (``False``):
        wait on your own while it is lost."""
        ...


@runtime_checkable
class Coordinator(Protocol):
    """Where the sweeping for a client's waits happens: a fleet of processes, or one.

    Pass one to ``PowerPost(coordinator=...)``; one coordinator per client. The client
    calls `join` when it opens and `leave` when it closes; in between, the non-async
    methods queue their work and return at once, and a coordinator that cannot reach
    its backend must neither raise from them nor lose a wait: it says so through
    `FleetMember.connection_changed` and the client waits on its own.
    """

    async def join(self, member: FleetMember) -> None:
        """Start coordinating for ``member`` (a client)."""
        ...

    async def leave(self) -> None:
        """Stop: withdraw this process's ids and give up the lead. Safe to call twice."""
        ...

    @property
    def connected(self) -> bool:
        """Whether the fleet can be reached now (else the client waits on its own)."""
        ...

    def may_lead(self) -> bool:
        """Whether this process holds the lead right now (a fence: a process that was
        paused past its lease must not act on it)."""
        ...

    def hold(self, deadlines: Mapping[str, float | None]) -> None:
        """Callers here await these ids, for at most these seconds (``None``: no limit).

        Outcomes the fleet already has for them come back through
        `FleetMember.delivered`."""
        ...

    def release(self, generation_ids: Collection[str]) -> None:
        """Nobody here awaits these ids any more."""
        ...

    def publish(self, outcomes: Mapping[str, Outcome]) -> None:
        """Announce finished generations (or errors for good) to the fleet."""
        ...

    def feed(self, generation_id: str) -> None:
        """Pass a webhook's hint on to whoever leads."""
        ...

    def pause(self, seconds: float) -> None:
        """Share a 429's pause with the fleet."""
        ...
