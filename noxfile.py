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
    session.install("-e", ".[cli,orjson]", *TEST_DEPS)
    session.run(
        "pytest",
        *session.posargs,
        env={"PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format check) and mypy --strict on the package."""
    session.install("-e", ".[cli,orjson]", *LINT_DEPS, *TEST_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "--strict", "powerpost_async")
