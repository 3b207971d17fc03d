"""Fault injection for reliability tests: what can go wrong, and when it does."""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Sequence
from typing import Literal, get_args

import attrs

__all__ = ["ENDPOINTS", "Endpoint", "Fault", "FaultKind", "Faults"]

#: The endpoints of the fake: ``list``, ``get`` (one caption generation), ``create``,
#: ``credits``; ``upload`` (media); ``image_create``, ``image_get``, ``video_create``,
#: ``video_get``; ``post_create``, ``post_get``, ``publish``, ``schedule``,
#: ``cancel_publish``; ``analytics`` (one post item's); ``calendar_list``,
#: ``calendar_create``, ``calendar_get``, ``calendar_update``, ``calendar_delete``.
Endpoint = Literal[
    "list",
    "get",
    "create",
    "credits",
    "upload",
    "image_create",
    "image_get",
    "video_create",
    "video_get",
    "post_create",
    "post_get",
    "publish",
    "schedule",
    "cancel_publish",
    "analytics",
    "calendar_list",
    "calendar_create",
    "calendar_get",
    "calendar_update",
    "calendar_delete",
]
ENDPOINTS: frozenset[str] = frozenset(get_args(Endpoint))

#: What a [`Fault`][powerpost_async.testing.Fault] does to the request it hits.
FaultKind = Literal["rate_limit", "server_error", "drop", "slow", "malformed"]


@attrs.frozen
class Fault:
    """One failure to inject into one request. Build it with a class method.

    Attributes:
        kind: ``"rate_limit"`` (429), ``"server_error"`` (an error status: a 5xx, or
            the 4xx of `client_error()`), ``"drop"`` (the connection closes without an
            answer), ``"slow"`` (the answer is delayed) or ``"malformed"`` (the
            answer's body is cut in half: broken JSON).
        executed: Whether the request is carried out before the fault hits it: a create
            with ``executed=True`` makes a generation (and costs credits) even though
            the client sees an error. Always ``False`` for ``rate_limit``, always
            ``True`` for ``slow`` and ``malformed``.
        status: The HTTP status of a ``server_error``: 5xx, or 4xx other than 429.
        retry_after: Seconds a ``rate_limit`` asks to wait (``error.retryAfter``).
        delay: Seconds a ``slow`` answer waits (on the server's sleep, so virtual time
            with a [`VirtualClock`][powerpost_async.testing.VirtualClock]).
    """

    kind: FaultKind
    executed: bool = False
    status: int = 0
    retry_after: int = 0
    delay: float = attrs.field(default=0.0, converter=float)

    def __attrs_post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"kind must be one of {', '.join(get_args(FaultKind))}")
        if self.kind == "server_error" and not (
            500 <= self.status <= 599 or (400 <= self.status <= 499 and self.status != 429)
        ):
            raise ValueError(f"status must be a 4xx (not 429) or 5xx status, got {self.status!r}")
        retry_after = self.retry_after
        if isinstance(retry_after, bool) or not isinstance(retry_after, int) or retry_after < 0:
            raise ValueError(f"retry_after must be an integer >= 0, got {retry_after!r}")
        if not self.delay >= 0 or math.isinf(self.delay):
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {self.delay!r}")
        if self.delay and self.kind != "slow":
            raise ValueError("only a slow fault has a delay")
        # A 429 is refused before any work; a slow or malformed answer is of work done.
        must_execute = {"rate_limit": False, "slow": True, "malformed": True}.get(self.kind)
        if must_execute is not None and self.executed is not must_execute:
            raise ValueError(f"a {self.kind} fault has executed={must_execute}")

    @classmethod
    def rate_limit(cls, retry_after: int = 1) -> Fault:
        """A 429 ``RATE_LIMIT_EXCEEDED`` with ``error.retryAfter``; nothing is executed."""
        return cls("rate_limit", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500, *, executed: bool = False) -> Fault:
        """A 5xx ``INTERNAL_ERROR``, before (or, with ``executed``, after) doing the work."""
        if not 500 <= status <= 599:
            raise ValueError(f"status must be a 5xx status, got {status!r}")
        return cls("server_error", executed=executed, status=status)

    @classmethod
    def client_error(cls, status: int = 400) -> Fault:
        """A 4xx answer (400, 404, 422...) instead of the work: the request refused, say a
        list page whose cursor the server no longer accepts (``on="list"``).

        The error envelope carries the status (code ``INTERNAL_ERROR``, the status's
        phrase as message); its kind is ``"server_error"``, which the fake answers alike
        for any error status. For a 429, use `rate_limit()`.
        """
        if not 400 <= status <= 499 or status == 429:
            raise ValueError(f"status must be a 4xx status other than 429, got {status!r}")
        return cls("server_error", status=status)

    @classmethod
    def drop(cls, *, executed: bool = False) -> Fault:
        """The connection is closed without an answer, before (or after) doing the work.

        The in-memory transport raises ``APIConnectionError(request_sent=True)``; the
        socket server closes the connection. (Note that aiohttp's client quietly resends
        an idempotent request once when a reused connection is closed on it.)
        """
        return cls("drop", executed=executed)

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """The request is carried out at once, but its answer comes ``delay`` s later.

        A client whose timeout is shorter sees a timeout, while the work was done.
        """
        return cls("slow", executed=True, delay=delay)

    @classmethod
    def malformed(cls) -> Fault:
        """The request is carried out, but its answer's body is truncated (invalid JSON)."""
        return cls("malformed", executed=True)


EndpointSelector = Endpoint | Collection[Endpoint] | None


def _endpoints(on: EndpointSelector) -> frozenset[str]:
    if on is None:
        return ENDPOINTS
    names = frozenset([on] if isinstance(on, str) else on)
    unknown = names - ENDPOINTS
    if unknown or not names:
        raise ValueError(f"on must name endpoints among {', '.join(sorted(ENDPOINTS))}, got {on!r}")
    return names


@attrs.frozen
class _Rule:
    fault: Fault | None
    endpoints: frozenset[str]
    probability: float = 1.0
    # A random rule with several faults injects one of them, chosen evenly.
    choices: tuple[Fault, ...] = ()


class Faults:
    """The faults a [`FakePowerPost`][powerpost_async.testing.FakePowerPost] injects:
    ``server.faults``.

    Scripted faults hit the next matching requests, one each, in the order given;
    a request that no scripted fault matches then draws each random rule in turn
    (from the server's seeded generator, so a run repeats exactly). Requests to an
    unknown path never get a fault.

    Example:
        ```python
        server.faults.script(Fault.server_error(503), Fault.drop(), on="get")
        server.faults.random(Fault.rate_limit(retry_after=2), 0.1, on="create")
        # 5% of all requests get one of three transient faults, chosen evenly
        server.faults.random([Fault.server_error(503), Fault.rate_limit(), Fault.drop()], 0.05)
        ```
    """

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(f"{seed}/faults")
        self._script: list[_Rule] = []
        self._rules: list[_Rule] = []

    def script(self, *faults: Fault | None, on: EndpointSelector = None) -> None:
        """Inject ``faults`` into the next requests to the endpoints ``on``, one each.

        Args:
            faults: In order; ``None`` lets one matching request through untouched, so
                ``script(fault, None, fault)`` fails, succeeds, then fails again.
            on: An endpoint (``"list"``, ``"get"``, ``"create"``, ``"credits"``,
                ``"upload"``, ``"publish"``... see `Endpoint`), a collection of them
                (``("list", "get", "credits")``), or ``None`` for every endpoint.
        """
        endpoints = _endpoints(on)
        self._script.extend(_Rule(fault, endpoints) for fault in faults)

    def random(
        self,
        fault: Fault | Sequence[Fault],
        probability: float,
        *,
        on: EndpointSelector = None,
    ) -> None:
        """Inject a fault into each request to the endpoints ``on`` with ``probability``.

        Args:
            fault: The fault; or several, of which each hit injects one, chosen evenly
                (``[Fault.server_error(503), Fault.drop()]`` at 0.1: 5% of requests get
                a 503, 5% are dropped).
            probability: The chance, between 0 and 1, that a request is hit.
            on: The endpoints, as for `script()`.

        Raises:
            ValueError: ``probability`` is out of range, ``fault`` is an empty sequence,
                or ``on`` names an unknown endpoint.
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
        choices = (fault,) if isinstance(fault, Fault) else tuple(fault)
        if not choices:
            raise ValueError("random() needs at least one fault")
        for choice in choices:
            if not isinstance(choice, Fault):
                raise TypeError(f"faults must be Fault instances, got {type(choice).__name__}")
        endpoints = _endpoints(on)
        self._rules.append(_Rule(choices[0], endpoints, probability, choices))

    @property
    def scripted(self) -> int:
        """How many scripted faults (and ``None`` pass-throughs) are still to come."""
        return len(self._script)

    def clear(self) -> None:
        """Forget every scripted fault and random rule."""
        self._script.clear()
        self._rules.clear()

    def _draw(self, endpoint: str) -> Fault | None:
        """The fault for a request to ``endpoint``, if any (consumes a scripted one)."""
        for index, rule in enumerate(self._script):
            if endpoint in rule.endpoints:
                del self._script[index]
                return rule.fault
        for rule in self._rules:
            if endpoint in rule.endpoints and self._random.random() < rule.probability:
                # A rule of one fault draws nothing more: runs seeded before several
                # faults per rule existed repeat exactly.
                if len(rule.choices) > 1:
                    return self._random.choice(rule.choices)
                return rule.fault
        return None
