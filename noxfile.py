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
    session.install("-e", ".[cli,orjson,httpx]", *TEST_DEPS)
    session.run(
        "pytest",
        *session.posargs,
        env={"PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint, format); mypy --strict and pyright on the package and users' typing."""
    session.install("-e", ".[cli,orjson,httpx]", *LINT_DEPS, *TEST_DEPS)
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
        ".[orjson,httpx]",  # httpx: the HttpxTransport and raw-httpx comparisons
        "msgspec",
        "pydantic",
        "matplotlib",
        "uvloop; sys_platform != 'win32'",
    )
    session.run("python", "-m", "benchmarks", *session.posargs)
