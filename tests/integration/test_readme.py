"""The README's Python examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
pytestmark = pytest.mark.integration


def test_readme_python_examples_run(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    expected = ["testing os", "failed ('demo-3',)", "failed tasks on ['demo-3']"]
    assert len(blocks) == len(expected)
    for block, text in zip(blocks, expected, strict=True):
        result = subprocess.run(
            [sys.executable, "-c", block],
            cwd=ROOT,
            # The examples' demo directories (tempfile.mkdtemp) go where pytest cleans up.
            env={**os.environ, "TMPDIR": str(tmp_path)},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert text in result.stdout


def test_readme_quick_start_is_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.findall(r"```sh\n(.*?)```", quick, re.DOTALL)[0]
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_schedule_example_is_valid() -> None:
    from agentmaint.config.parse import parse_schedule

    text = (ROOT / "README.md").read_text()
    section = text.split("## The schedule file", 1)[1].split("\n## ", 1)[0]
    example = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0]
    from agentmaint.config.loader import load_bytes

    document = load_bytes(example.encode(), "README.md")
    schedule = parse_schedule(document, source="README.md", base_dir=ROOT)
    assert schedule.components["os"].role == "os_packages"
    assert schedule.components["embeddings"].vars["keep"] == 3
    assert schedule.backup.restore_on_failure
