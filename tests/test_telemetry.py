"""Observability: POWERPOST_LOG, what is logged at INFO, and OpenTelemetry spans and metrics.

The OpenTelemetry tests install the SDK's in-memory exporter and metric reader as the
global providers (once per process: OpenTelemetry allows no second one) and read what
the client reported through them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from powerpost_async import Generation, GenerationStatus, NotFoundError
from powerpost_async.testing import FakePowerPost, Fault, VirtualClock

MISSING = "00000000-0000-4000-8000-000000000000"
PROMPT = "A prompt that must never reach a span"


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "POWERPOST_LOG"}
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
        check=False,
    )


# -- POWERPOST_LOG ------------------------------------------------------------------------------

SHOW_LOGGER = (
    "import logging, powerpost_async; "
    "log = logging.getLogger('powerpost_async'); "
    "print(log.level, len(log.handlers))"
)


@pytest.mark.parametrize(("value", "level"), [("info", 20), ("DEBUG", 10), (" Info ", 20)])
def test_powerpost_log_turns_logging_on(value: str, level: int) -> None:
    done = run_python(SHOW_LOGGER, POWERPOST_LOG=value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(level), "1"]  # the level, and a stderr handler


def test_without_powerpost_log_nothing_changes() -> None:
    done = run_python(SHOW_LOGGER)
    assert done.stdout.split() == ["0", "0"]


def test_a_configured_root_logger_gets_no_second_handler() -> None:
    code = "import logging; logging.basicConfig(); " + SHOW_LOGGER
    done = run_python(code, POWERPOST_LOG="info")
    assert done.stdout.split() == ["20", "0"]  # the level only: records go to the root


def test_a_bad_powerpost_log_warns() -> None:
    done = run_python(SHOW_LOGGER, POWERPOST_LOG="loud")
    assert done.returncode != 0  # run with -W error: the warning is raised
    assert "POWERPOST_LOG='loud' is not 'info' or 'debug'" in done.stderr


# -- what INFO says -----------------------------------------------------------------------------


async def test_info_logs_retries_and_sweeper_failures_not_every_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="powerpost_async")
    server = FakePowerPost(clock=VirtualClock(), processing=(5, 20))
    ids = server.seed_generations(3)
    server.faults.script(Fault.server_error(503), on="get")
    # More failures than a request's retries: the sweep itself fails, and says so.
    server.faults.script(*[Fault.server_error(503)] * 3, on="list")
    async with server.client() as pp:
        await pp.generations.get(ids[0])
        await pp.generations.wait_many(ids, timeout=600, strategy="sweep")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any(m.startswith("retrying GET /api/v1/content/generations/") for m in said)
    assert any(m.startswith("sweep failed") for m in said)
    assert not any(" -> 200 in " in m for m in said)  # requests are DEBUG


# -- OpenTelemetry ------------------------------------------------------------------------------

otel_sdk = pytest.importorskip("opentelemetry.sdk")


@pytest.fixture(scope="module")
def telemetry() -> Iterator[tuple[Any, Any]]:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    yield exporter, reader
    tracer_provider.shutdown()
    meter_provider.shutdown()


def metric_points(reader: Any) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            if scope.scope.name != "powerpost_async":
                continue
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def total(points: list[Any]) -> float:
    return float(sum(p.value for p in points))


async def test_a_span_per_api_call_with_what_an_operator_needs(
    telemetry: tuple[Any, Any],
) -> None:
    exporter, _ = telemetry
    exporter.clear()
    server = FakePowerPost(clock=VirtualClock(), processing=(5, 20))
    (generation_id,) = server.seed_generations(1)
    server.faults.script(Fault.server_error(503), on="get")
    async with server.client() as pp:
        await pp.generations.get(generation_id)
        await pp.generations.create(prompt=PROMPT, post_types=["x-post"])
        with pytest.raises(NotFoundError):
            await pp.generations.get(MISSING)
        answer = await pp.generations.with_response.get(generation_id)
    spans = [s for s in exporter.get_finished_spans() if not s.name.startswith("powerpost.")]
    names = [s.name for s in spans]
    assert names == [
        "GET /api/v1/content/generations/{generation_id}",
        "POST /api/v1/content/generate",
        "GET /api/v1/content/generations/{generation_id}",
        "GET /api/v1/content/generations/{generation_id}",
    ]
    got, created, missing, with_response = (dict(s.attributes) for s in spans)
    assert got["http.request.method"] == "GET"
    assert got["http.response.status_code"] == 200
    assert got["powerpost.attempts"] == 2
    assert str(got["powerpost.request_id"]).startswith("req_")
    assert got["url.template"] == "/api/v1/content/generations/{generation_id}"
    assert created["http.response.status_code"] == 200
    assert missing["http.response.status_code"] == 404
    assert missing["error.type"] == "NotFoundError"
    assert with_response["powerpost.attempts"] == answer.attempts == 1
    everything = repr([dict(s.attributes) for s in exporter.get_finished_spans()])
    assert server.api_key not in everything
    assert PROMPT not in everything
    assert generation_id not in everything  # ids are in the template, not the route


async def test_spans_and_metrics_for_waits(telemetry: tuple[Any, Any]) -> None:
    exporter, reader = telemetry
    exporter.clear()
    before = metric_points(reader)
    server = FakePowerPost(clock=VirtualClock(), processing=(5, 20))
    ids = server.seed_generations(6)
    async with server.client() as pp:

        async def stream() -> list[Generation]:
            return [g async for g in pp.generations.as_completed(ids[4:], timeout=600)]

        first, many, streamed = await asyncio.gather(
            pp.generations.wait(ids[0], timeout=600),
            pp.generations.wait_many(ids[1:4], timeout=600),
            stream(),
        )
    assert first.status is GenerationStatus.COMPLETED
    assert len(many) + len(streamed) == 5
    waits = {s.name: dict(s.attributes) for s in exporter.get_finished_spans()}
    assert waits["powerpost.wait"]["powerpost.generation_ids"] == 1
    assert waits["powerpost.wait_many"]["powerpost.generation_ids"] == 3
    assert waits["powerpost.as_completed"]["powerpost.generation_ids"] == 2
    after = metric_points(reader)
    assert total(after["powerpost.waits.in_flight"]) == total(
        before.get("powerpost.waits.in_flight", [])
    )  # back where it was: every wait ended
    delays = after["powerpost.wait.detection_delay"]
    assert sum(p.count for p in delays) >= 6  # one per generation seen in flight, then done
    requests = total(after["powerpost.client.requests"]) - total(
        before.get("powerpost.client.requests", [])
    )
    assert requests == len(server.requests)


async def test_retries_are_counted(telemetry: tuple[Any, Any]) -> None:
    _, reader = telemetry
    before = total(metric_points(reader).get("powerpost.client.retries", []))
    server = FakePowerPost(clock=VirtualClock())
    (generation_id,) = server.seed_generations(1)
    server.faults.script(Fault.server_error(503), Fault.server_error(502), on="get")
    async with server.client() as pp:
        await pp.generations.get(generation_id)
    assert total(metric_points(reader)["powerpost.client.retries"]) - before == 2


def test_without_opentelemetry_nothing_is_imported() -> None:
    code = """
import asyncio, sys
from importlib.abc import MetaPathFinder

class Block(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)
        return None

sys.meta_path.insert(0, Block())
from powerpost_async import PowerPost
from powerpost_async.testing import FakePowerPost, VirtualClock

async def main():
    server = FakePowerPost(clock=VirtualClock())
    ids = server.seed_generations(2)
    async with server.client() as pp:
        await pp.generations.wait_many(ids, timeout=600)
        await pp.generations.with_response.get(ids[0])
    print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))

asyncio.run(main())
"""
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_client_does_not_need_opentelemetry_configured() -> None:
    # Installed but with no SDK set up: the API's no-op providers, nothing to fail.
    code = (
        "import asyncio\n"
        "from powerpost_async.testing import FakePowerPost, VirtualClock\n"
        "async def main():\n"
        "    server = FakePowerPost(clock=VirtualClock())\n"
        "    (i,) = server.seed_generations(1)\n"
        "    async with server.client() as pp:\n"
        "        print((await pp.generations.wait(i, timeout=600)).status.value)\n"
        "asyncio.run(main())\n"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "completed"
