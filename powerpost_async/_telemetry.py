"""Observability: the ``POWERPOST_LOG`` switch, and OpenTelemetry when it is installed.

**Logs.** Everything goes to the ``powerpost_async`` logger. At INFO: retries, 429
pauses, circuit breaker openings and closings, sweeper failures, fleet changes; at
DEBUG also every request. ``POWERPOST_LOG=info`` (or ``debug``) turns that on without
code: the logger gets that level, and a stderr handler if logging is not configured.

**OpenTelemetry** (``pip install 'powerpost-async[otel]'``): when ``opentelemetry-api``
is importable, each client reports through the global tracer and meter providers:

* a span per API call, ``{METHOD} {route template}`` (kind CLIENT), with
  ``http.request.method``, ``url.template``, ``server.address``,
  ``http.response.status_code``, ``powerpost.attempts`` and ``powerpost.request_id``
  (never the key, the prompt or a body), and ``error.type`` when it fails;
* a span per wait (``powerpost.wait``, ``powerpost.wait_many``,
  ``powerpost.as_completed``) with the number of ids;
* metrics: ``powerpost.client.requests`` (HTTP requests sent, by method, route and
  status), ``powerpost.client.retries``, ``powerpost.client.call.duration`` (s),
  ``powerpost.waits.in_flight`` (ids awaited now) and
  ``powerpost.wait.detection_delay`` (s: from the last check that saw a generation in
  flight to the one that saw it finished, an upper bound of how late it was noticed).

Without ``opentelemetry-api`` nothing of this is imported, and the request path pays
one ``is None`` test per call.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import sys
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._exceptions import APIStatusError, PowerPostWarning

if TYPE_CHECKING:
    from ._timing import Clock

__all__ = ["Telemetry", "configure_logging_from_env", "route_template", "telemetry"]

T = TypeVar("T")

logger = logging.getLogger("powerpost_async")

LOG_ENV: Final = "POWERPOST_LOG"
_LEVELS: Final = {"info": logging.INFO, "debug": logging.DEBUG}

# Path segments that name one thing (ids): replaced by a placeholder in route templates.
_GENERATION = re.compile(r"^(/api/v\d+/content/generations/)[^/]+$")
_ID_LIKE = re.compile(r"^(?=.*\d)[A-Za-z0-9_\-:.%]{8,}$")


def configure_logging_from_env() -> None:
    """Apply ``POWERPOST_LOG`` (``info`` or ``debug``; unset or empty: nothing)."""
    value = os.environ.get(LOG_ENV, "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"{LOG_ENV}={value!r} is not 'info' or 'debug': ignored",
            PowerPostWarning,
            stacklevel=2,
        )
        return
    logger.setLevel(level)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)


def route_template(path: str) -> str:
    """The path without its query, ids replaced by placeholders (low cardinality)."""
    path = path.split("?", 1)[0]
    match = _GENERATION.match(path)
    if match:
        return match.group(1) + "{generation_id}"
    parts = path.split("/")
    return "/".join("{id}" if _ID_LIKE.match(p) else p for p in parts)


_INSTALLED: bool | None = None


def telemetry(clock: Clock, server: str) -> Telemetry | None:
    """A `Telemetry` if ``opentelemetry-api`` is installed, else ``None`` (nothing imported)."""
    global _INSTALLED
    if _INSTALLED is None:
        try:
            _INSTALLED = importlib.util.find_spec("opentelemetry") is not None
        except (ImportError, ValueError):  # blocked, or a broken install: as absent
            _INSTALLED = False
    if not _INSTALLED:
        return None
    return Telemetry(clock, server)


class Telemetry:
    """One client's spans and metrics, through OpenTelemetry's global providers."""

    def __init__(self, clock: Clock, server: str) -> None:
        from opentelemetry import metrics, trace

        from ._version import __version__

        self._trace = trace
        self._clock = clock
        self._server = server
        self._tracer = trace.get_tracer("powerpost_async", __version__)
        meter = metrics.get_meter("powerpost_async", __version__)
        self._requests = meter.create_counter(
            "powerpost.client.requests", unit="{request}", description="HTTP requests sent"
        )
        self._retries = meter.create_counter(
            "powerpost.client.retries", unit="{request}", description="Requests sent again"
        )
        self._duration = meter.create_histogram(
            "powerpost.client.call.duration", unit="s", description="API calls, retries included"
        )
        self._in_flight = meter.create_up_down_counter(
            "powerpost.waits.in_flight", unit="{generation}", description="Ids awaited now"
        )
        self._detection = meter.create_histogram(
            "powerpost.wait.detection_delay",
            unit="s",
            description="Last check that saw a generation in flight to the one that saw it done",
        )

    async def call(
        self,
        method: str,
        path: str,
        exchange: Callable[[], Awaitable[T]],
        attempts: Callable[[], tuple[int, Any]],
    ) -> T:
        """Run one API call (``exchange``) in a span; count its requests and retries.

        ``attempts()`` reports (requests sent, final response or ``None``) afterwards.
        """
        template = route_template(path)
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.template": template,
            "server.address": self._server,
        }
        started = self._clock()
        with self._tracer.start_as_current_span(
            f"{method} {template}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
        ) as span:
            status: int | None = None
            request_id: str | None = None
            try:
                result = await exchange()
            except BaseException as error:
                if isinstance(error, APIStatusError):
                    status, request_id = error.status_code, error.request_id
                if not isinstance(error, Exception):  # cancelled: no verdict
                    raise
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(self._trace.StatusCode.ERROR, type(error).__name__)
                raise
            finally:
                sent, response = attempts()
                if response is not None and status is None:
                    status = response.status_code
                    request_id = response.headers.get("x-request-id")
                span.set_attribute("powerpost.attempts", sent)
                if status is not None:
                    span.set_attribute("http.response.status_code", status)
                    attributes["http.response.status_code"] = status
                if request_id:
                    span.set_attribute("powerpost.request_id", request_id)
                if sent:
                    self._requests.add(sent, attributes)
                if sent > 1:
                    self._retries.add(sent - 1, attributes)
                self._duration.record(self._clock() - started, attributes)
            return result

    def start_wait(self, name: str, ids: int) -> Any:
        """A span for a wait (``wait``, ``wait_many``, ``as_completed``) of ``ids`` ids."""
        return self._tracer.start_span(
            f"powerpost.{name}", attributes={"powerpost.generation_ids": ids}
        )

    def end_wait(self, span: Any, error: BaseException | None) -> None:
        """End a wait's span, marked failed by ``error`` (a cancellation is no verdict)."""
        if isinstance(error, Exception):
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(self._trace.StatusCode.ERROR, type(error).__name__)
        span.end()

    def waiting(self, delta: int) -> None:
        """``delta`` more (or fewer) ids awaited."""
        self._in_flight.add(delta)

    def detected(self, seconds: float) -> None:
        """A finished generation was seen ``seconds`` after the last sighting in flight."""
        self._detection.record(seconds)
