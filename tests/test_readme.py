"""The README's Python is real: its programs run against the embedded server."""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from powerpost_async.testing import FakePowerPost

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_to_check() -> None:
    assert any("asyncio.run(" in block for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_block_is_valid_python(block: str) -> None:
    # Fragments (an `await` line) are checked inside a coroutine, as a reader would use them.
    source = block if "asyncio.run(" in block else "async def _():\n" + _indent(block)
    ast.parse(source)


async def test_the_quickstart_runs(tmp_path: Path) -> None:
    (program,) = [block for block in BLOCKS if "asyncio.run(" in block]
    script = tmp_path / "quickstart.py"
    script.write_text(program, encoding="utf-8")
    async with FakePowerPost(pending=0, processing=0.05) as server:
        env = {
            **os.environ,
            "POWERPOST_API_KEY": server.api_key,
            "POWERPOST_WORKSPACE_ID": server.workspace_id,
            "POWERPOST_BASE_URL": server.base_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    for platform in ("instagram", "x", "youtube"):  # one caption each (captions may wrap)
        assert sum(line.startswith(f"{platform} ") for line in lines) == 1, lines


def _indent(block: str) -> str:
    return "".join(f"    {line}\n" for line in block.splitlines()) or "    pass\n"
