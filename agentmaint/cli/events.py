"""The ``events`` command: parse an ansible-runner artifact directory, print what it says.

Kept apart from the history commands, and light to import: ``agentmaint events`` reads
up to 100,000s of event files, and its start should cost no more than the parser and the
printing (no schedule parser, history store or runner).
"""

from __future__ import annotations

import argparse
import math
from operator import attrgetter
from typing import TYPE_CHECKING

import orjson

from agentmaint.ansible.events import read_artifact_dir
from agentmaint.ansible.events.model import _orjson_document
from agentmaint.cli.output import EXIT_OK, _print_json, _print_partial, _write_json
from agentmaint.collector import collector_paused
from agentmaint.records import HostCounts

if TYPE_CHECKING:  # rich is imported by the tables alone (``--json`` prints without it)
    from rich.console import Console

    from agentmaint.ansible.events import ParsedRun

__all__ = ["events_command", "print_events_json"]


def print_events_json(args: argparse.Namespace) -> int:
    """``agentmaint events --json``: print what the artifact directory says, as JSON.

    Reading a big run makes objects by the 100,000s (each decoded event, then the results
    and their JSON form) and next to no reference cycles: the collector is paused (its passes
    cost about 2% of the command's instructions at 100,000 events).
    """
    with collector_paused():
        parsed = read_artifact_dir(args.artifact_dir)
        text = _orjson_text(parsed)
        if text is None:
            _print_json(parsed.to_dict())
        else:
            _write_json(text)
    return EXIT_OK


# orjson's indented text with its line break, refusing (JSONEncodeError) the types json
# would write otherwise or refuse: subclasses of its own types, dataclasses (the times of
# `_orjson_document` are checked there)
_WHOLE = (
    orjson.OPT_INDENT_2
    | orjson.OPT_APPEND_NEWLINE
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_DURATION = attrgetter("duration")


def _orjson_text(parsed: ParsedRun) -> bytes | None:
    """What ``_print_json(parsed.to_dict())`` prints, made in one orjson call.

    None where orjson's text could differ from ``json.dumps(parsed.to_dict(), indent=2)``'s,
    which then makes it: `_print_json` checks every list of objects member by member (about
    0.06 s for the 40,000 task results of a 100,000-event run), where the record types say
    enough here. ``to_dict`` holds text, integers, booleans and None, and floats only as the
    results' durations: the durations are checked for the floats orjson writes otherwise
    (NaN and infinities, magnitudes under 1e-4); the times are left to orjson where it
    writes them as ``isoformat`` does (`_orjson_document`); orjson refuses integers beyond
    64 bits and keys that are not text, and its text is kept only when ASCII without DEL
    (json escapes both).
    """
    floats = list(filter(None, map(_DURATION, parsed.results)))  # 0.0 is written alike
    if floats and not (sum(map(abs, floats)) < math.inf and min(map(abs, floats)) >= 1e-4):
        return None  # NaN, an infinity (or a sum beyond the largest float), or a tiny one
    data = _orjson_document(parsed)
    if data is None:
        return None
    try:
        text = orjson.dumps(data, option=_WHOLE)
    except orjson.JSONEncodeError:
        return None
    return text if text.isascii() and b"\x7f" not in text else None


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
