"""Snapshot tests of the CLI's output: the expected text lives under tests/snapshots/.

`assert_snapshot(name, text)` compares `text` with ``tests/snapshots/<name>.txt``; run the
tests with ``UPDATE_SNAPSHOTS=1`` to (re)write the files after an intended change, then
read the diff before committing it. `render` prints a rich renderable at a fixed width,
without colour, to plain lines; `assert_readable` checks what every snapshot must hold
whatever its text: no line wider than the terminal, the given values whole, no ellipsis.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console, RenderableType

SNAPSHOTS = Path(__file__).parent / "snapshots"


def render(renderable: RenderableType, width: int) -> str:
    """`renderable` as a `width`-column terminal without colour shows it (lines stripped)."""
    console = Console(
        width=width,
        record=True,
        color_system=None,
        force_terminal=False,
        file=open(os.devnull, "w"),  # noqa: SIM115 - closed with the console's recording
    )
    console.print(renderable)
    text = console.export_text()
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def assert_snapshot(name: str, text: str) -> None:
    """`text` equals the stored snapshot `name` (``UPDATE_SNAPSHOTS=1`` rewrites it)."""
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_text()
    assert text == expected, f"output differs from {path} (UPDATE_SNAPSHOTS=1 rewrites it):\n{text}"


def assert_readable(text: str, width: int, whole: Iterable[str]) -> None:
    """Every line fits in `width`; each of `whole` appears as a word; nothing is cut."""
    lines = text.splitlines()
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, f"lines wider than {width}: {too_wide}"
    words = {
        word.strip(",:()")
        for line in lines
        for word in line.replace("│", " ").replace("┃", " ").split()
    }
    missing = [value for value in whole if value not in words]
    assert not missing, f"not whole in the output: {missing}\n{text}"
    assert "…" not in text, f"an ellipsis cuts a value:\n{text}"
