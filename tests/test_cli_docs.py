"""docs/cli.md shows the real `--help` of every command, and stays in step with it.

Regenerate after changing the CLI: ``POWERPOST_UPDATE_DOCS=1 pytest tests/test_cli_docs.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from powerpost_async.cli._app import build_parser

CLI_PAGE = Path(__file__).parent.parent / "docs" / "cli.md"
START, END = "<!-- cli:commands -->", "<!-- cli:end -->"
# argparse's wording and layout differ between Python versions: the exact text is
# generated, and compared, on the version the docs are built with.
EXACT = sys.version_info[:2] == (3, 11)


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ("powerpost",)
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:  # argparse keeps subcommands only there
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def render(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "90")
    parts = [START, ""]
    for path, parser in commands(build_parser()):
        parser.prog = " ".join(path)
        heading = "#" * min(4, len(path) + 1)
        parts += [f"{heading} `{' '.join(path)}`", "", "```text", parser.format_help().rstrip()]
        parts += ["```", ""]
    parts.append(END)
    return "\n".join(parts)


def test_every_command_and_option_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    for path, parser in commands(build_parser()):
        assert f"`{' '.join(path)}`" in page, path
        for action in parser._actions:
            for option in action.option_strings:
                assert re.search(rf"{re.escape(option)}\b", page), (path, option)


@pytest.mark.skipif(not EXACT, reason="the help text is generated on Python 3.11")
def test_the_page_shows_the_current_help(monkeypatch: pytest.MonkeyPatch) -> None:
    page = CLI_PAGE.read_text(encoding="utf-8")
    current = render(monkeypatch)
    if os.environ.get("POWERPOST_UPDATE_DOCS") == "1":
        head = page.split(START)[0]
        tail = page.split(END, 1)[1] if END in page else "\n"
        CLI_PAGE.write_text(head + current + tail, encoding="utf-8")
        page = CLI_PAGE.read_text(encoding="utf-8")
    assert current in page, "docs/cli.md is stale: POWERPOST_UPDATE_DOCS=1 pytest " + __file__
