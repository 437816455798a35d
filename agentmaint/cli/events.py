"""The ``events`` command: parse an ansible-runner artifact directory, print what it says.

Kept apart from the history commands, and light to import: ``agentmaint events`` reads
up to 100,000s of event files, and its start should cost no more than the parser and the
printing (no schedule parser, history store or runner).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agentmaint.ansible.events import read_artifact_dir
from agentmaint.cli.output import EXIT_OK, _print_json, _print_partial
from agentmaint.collector import collector_paused
from agentmaint.records import HostCounts

if TYPE_CHECKING:  # rich is imported by the tables alone (``--json`` prints without it)
    from rich.console import Console

__all__ = ["events_command", "print_events_json"]


def print_events_json(args: argparse.Namespace) -> int:
    """``agentmaint events --json``: print what the artifact directory says, as JSON.

    Reading a big run makes objects by the 100,000s (each decoded event, then the results
    and their JSON form) and next to no reference cycles: the collector is paused (its passes
    cost about 2% of the command's instructions at 100,000 events).
    """
    with collector_paused():
        _print_json(read_artifact_dir(args.artifact_dir).to_dict())
    return EXIT_OK


def events_command(args: argparse.Namespace, out: Console) -> int:
    """Print the task results and per-host counts of an artifact directory as tables.

    ``--json`` is `print_events_json` (the dispatcher calls it without a console).
    """
    from rich.markup import escape  # noqa: PLC0415 -- see the imports
    from rich.table import Table  # noqa: PLC0415

    parsed = read_artifact_dir(args.artifact_dir)
    table = Table(title=f"Tasks ({parsed.status.value})", title_justify="left")
    for column in ("Host", "Play", "Task", "Status", "Message"):
        table.add_column(column, overflow="fold")
    for result in parsed.results:
        table.add_row(
            result.host, result.play, result.task, result.status.value, result.message or ""
        )
    out.print(table)
    counts = Table(title="Per host", title_justify="left")
    counts.add_column("Host")
    for key in HostCounts().to_dict():
        counts.add_column(key)
    for host, host_counts in parsed.counts.items():
        counts.add_row(host, *(str(v) for v in host_counts.to_dict().values()))
    out.print(counts)
    _print_partial(parsed, out)
    if parsed.error:
        out.print(f"[red]{escape(parsed.error)}[/]", markup=True, highlight=False)
    return EXIT_OK
