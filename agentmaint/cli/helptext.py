"""How every command registers itself: its help, examples, exit codes and common arguments.

`add_command` is the one way a command (or a subcommand) gets its parser: the one-line
help of the command list, and a ``--help`` that ends with examples and the exit codes,
kept as written (`argparse.RawDescriptionHelpFormatter`). The exit codes are those of
`agentmaint.cli.output`.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "EXITS_FAILED",
    "EXITS_READ",
    "EXITS_RUN",
    "add_command",
    "add_environment_option",
]

#: Help stays within an 80-column terminal (argparse wraps the rest itself).
_WIDTH = 78

_INVALID = "invalid input: schedule file (each problem as file:line: path: message), option"

#: A command that reads and prints: success or invalid input.
EXITS_READ: Mapping[int | str, str] = {0: "success", 2: _INVALID}
#: A command whose work can fail (a message not delivered, a host not ready, ...).
EXITS_FAILED: Mapping[int | str, str] = {0: "success", 1: "{failed}", 2: _INVALID}
#: A command that runs maintenance.
EXITS_RUN: Mapping[int | str, str] = {
    0: "the run succeeded, or there was nothing to do",
    1: "the run failed (a host failed, was unreachable or its health check failed)",
    2: _INVALID,
    3: "an environment is locked by another run (see --wait)",
    "128+N": "ended by signal N (the run is recorded canceled)",
}


def add_command(
    sub: Any,
    name: str,
    *,
    help: str,
    examples: Sequence[str],
    exit_codes: Mapping[int | str, str],
    description: str | None = None,
    file: bool = True,
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """Add command `name` to the subparsers `sub` and return its parser.

    `help`: the line in the command list (and the description unless `description`);
    `examples`: command lines shown under "Examples:"; `exit_codes`: code -> meaning,
    under "Exit codes:"; `file`: the command takes the schedule FILE as its first
    argument. Other keyword arguments go to `add_parser`.
    """
    above = any(len(f"  {example}") > _WIDTH for example in examples)
    epilog = "Examples:\n" + "".join(_example(example, above=above) for example in examples)
    epilog += "\nExit codes:\n" + "".join(
        textwrap.fill(meaning, _WIDTH, initial_indent=f"  {code!s:<6} ", subsequent_indent=" " * 9)
        + "\n"
        for code, meaning in exit_codes.items()
    )
    text = description or help[0].upper() + help[1:] + "."
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        # Kept as written (the epilog's layout needs the raw formatter), so filled here.
        description="\n".join(textwrap.fill(line, _WIDTH) for line in text.split("\n")),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        **kwargs,
    )
    if file:
        add_file_argument(parser)
    return parser


def _example(example: str, *, above: bool) -> str:
    """One example; its trailing ``# comment`` goes above it when `above` (a line too long)."""
    command, hash_, comment = example.partition("  #")
    if not above or not hash_:
        return f"  {example}\n"
    return f"  #{comment.rstrip()}\n  {command.rstrip()}\n"


def add_file_argument(parser: argparse.ArgumentParser) -> None:
    """The schedule file every command but a few takes first."""
    parser.add_argument(
        "file", type=Path, help="the schedule file (YAML, or JSON when it ends in .json)"
    )


def add_environment_option(parser: argparse.ArgumentParser) -> None:
    """``--environment/-e ENV`` (repeatable): only these environments."""
    parser.add_argument(
        "--environment",
        "-e",
        action="append",
        dest="environments",
        metavar="ENV",
        help="only this environment (repeatable)",
    )


def failed(meaning: str) -> Mapping[int | str, str]:
    """`EXITS_FAILED` with what exit code 1 means for this command."""
    return {code: text.format(failed=meaning) for code, text in EXITS_FAILED.items()}
