"""What every command prints and returns: exit codes, JSON, plans, deliveries, warnings.

Exit codes: 0 success, 1 a run (or a test message, or the demo) that failed, 2 invalid
input or usage, 3 an environment locked by another run, 128 + N ended by signal N.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    # Types only: `agentmaint events` imports this module, and should not pay for the
    # schedule, planner and history modules (nor rich, which its JSON does without).
    from rich.console import Console

    from agentmaint.ansible.events import ParsedRun
    from agentmaint.config.schedule import Schedule
    from agentmaint.history.delivery import Delivery
    from agentmaint.planning.planner import Plan

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_LOCKED", "EXIT_OK"]


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_LOCKED = 3


def _print_json(data: Any) -> None:
    """Print ``json.dumps(data, indent=2)`` and a line break, in one write as ever.

    The same text, made faster: ``indent`` makes ``json`` use its pure-Python encoder (about
    0.9 s for the 40,000 task results of a 100,000-event ``agentmaint events --json``), so
    lists of flat objects (task results, records) go through its C encoder instead. One
    write, not one per chunk: a reader that stops early (``| head``) ends the output as it
    always did, without a broken-pipe error.

    The text is ASCII (``json`` escapes the rest), made as bytes and written as bytes to
    a stdout that would encode it to those same bytes (UTF-8 or ASCII, line breaks kept
    as they are): for a big run's 14 MB, each copy of the text between orjson and the file costs
    as much as making it (a copy, then the page faults of fresh memory).
    """
    _write_json(b"".join(chain(_indented(data, 0), (b"\n",))))


def _write_json(text: bytes) -> None:
    """Write `_print_json`'s ASCII text (its line break included) to stdout, in one write."""
    stream = sys.stdout
    if (
        isinstance(stream, io.TextIOWrapper)
        and os.linesep == "\n"
        and codecs.lookup(stream.encoding).name in _ASCII_SUPERSETS
    ):
        stream.flush()  # what was written as text comes first
        stream.buffer.write(text)
        stream.buffer.flush()
    else:
        stream.write(text.decode("ascii"))


_ASCII_SUPERSETS = frozenset(("utf-8", "ascii"))  # the codecs' names, as `codecs.lookup` gives
_SCALARS = frozenset((str, int, float, bool, type(None)))
_FLAT_ENCODERS: dict[int, json.JSONEncoder] = {}


def _indented(value: Any, level: int) -> Iterator[bytes]:
    """The text of ``json.dumps(value, indent=2)`` nested `level` deep, in chunks."""
    indent = "\n" + "  " * level
    if type(value) is dict and value and all(type(key) is str for key in value):
        inner = indent + "  "
        separator = "{" + inner
        for key, item in value.items():
            yield (separator + json.dumps(key) + ": ").encode("ascii")
            yield from _indented(item, level + 1)
            separator = "," + inner
        yield (indent + "}").encode("ascii")
    elif type(value) is list and value and _all_flat(value):
        yield _flat_objects(value, level)
    elif type(value) is list and value:
        inner = indent + "  "
        separator = "[" + inner
        for item in value:
            yield separator.encode("ascii")
            yield from _indented(item, level + 1)
            separator = "," + inner
        yield (indent + "]").encode("ascii")
    else:  # a scalar, an empty container or unusual keys: json's own text, re-indented
        # (JSON strings escape newlines: every newline in the text is indentation)
        yield json.dumps(value, indent=2).replace("\n", indent).encode("ascii")


def _all_flat(items: list[Any]) -> bool:
    """Whether every item is a non-empty object with text keys and scalar values only.

    Checked over the whole list at once (the loops run in C): a big run's list has 40,000
    task results.
    """
    return (
        set(map(type, items)) == {dict}
        and all(items)  # no empty object
        and set(map(type, chain.from_iterable(items))) == {str}
        and set(map(type, chain.from_iterable(map(dict.values, items)))) <= _SCALARS
    )


def _flat_objects(items: list[dict[str, Any]], level: int) -> bytes:
    """``json.dumps(items, indent=2)`` nested `level` deep, for a list of flat objects.

    orjson writes the same text as ``json.dumps(indent=2)`` (same separators, escapes and
    number forms) except for non-ASCII characters and DEL (written as they are, not
    escaped), integers beyond 64 bits (refused), NaN and infinities (written ``null``)
    and floats of magnitude under 1e-4 (another form: ``0.00001``, ``1.2e-6``): its text is
    used unless one of those is there, and ``json``'s C encoder makes the text otherwise.
    Nesting the text deeper only indents its lines: strings escape their line breaks.
    """
    if _plain_floats(items):
        try:
            encoded: bytes | None = orjson.dumps(items, option=orjson.OPT_INDENT_2)
        except orjson.JSONEncodeError:
            encoded = None
        if encoded is not None and encoded.isascii() and b"\x7f" not in encoded:
            return encoded.replace(b"\n", b"\n" + b"  " * level) if level else encoded
    return _flat_objects_json(items, level).encode("ascii")


def _plain_floats(items: list[dict[str, Any]]) -> bool:
    """Whether every float among the members is written alike by orjson and ``json``."""
    return all(
        value == 0.0 or 1e-4 <= abs(value) < math.inf
        for value in [v for item in items for v in item.values() if type(v) is float]
    )


def _flat_objects_json(items: list[dict[str, Any]], level: int) -> str:
    """`_flat_objects` with ``json``'s C encoder.

    The C encoder takes any separators (not an indent): with the members' line break and
    indentation as its item separator, only the objects' braces need their own lines. In
    its text, every line break is a separator (strings escape theirs), and one between two
    objects is the only one that follows a ``}``: flat objects end their members with a
    value, never a brace.
    """
    outer = "\n" + "  " * level
    item = outer + "  "
    member = item + "  "
    encoder = _FLAT_ENCODERS.get(level)
    if encoder is None:
        encoder = _FLAT_ENCODERS[level] = json.JSONEncoder(separators=("," + member, ": "))
    text = encoder.encode(items)  # [{...},<member>{...}]
    body = text[2:-2].replace("}," + member + "{", item + "}," + item + "{" + member)
    return "[" + item + "{" + member + body + item + "}" + outer + "]"


def _print_plan(result: Plan, schedule: Schedule, out: Console) -> None:
    from agentmaint.cli.console import plan_table  # noqa: PLC0415 -- see the imports

    sizes = {name: len(env.hosts) for name, env in schedule.environments.items()}
    out.print(plan_table(result, sizes))
    out.print(f"{len(result.due)} due, {len(result.not_due)} not due", highlight=False)
    for line in _budget_lines(result, schedule):
        out.print(line, highlight=False, markup=False)


def _budget_lines(result: Plan, schedule: Schedule) -> list[str]:
    """One line per environment with due hosts and an error budget (``rollout.max_failures``)."""
    due: dict[str, set[str]] = {}
    for decision in result.due:
        due.setdefault(decision.environment, set()).update(decision.servers)
    lines = []
    for name, hosts in due.items():
        rollout = schedule.environments[name].rollout
        budget = rollout.failure_budget(len(hosts))
        if budget is not None:
            lines.append(
                f"{name}: error budget: {budget} of {len(hosts)} due host(s) may fail "
                f"(rollout.max_failures: {rollout.max_failures}); one more stops the rollout"
            )
    return lines


def _print_deliveries(deliveries: Sequence[Delivery], out: Console, *, failures_only: bool) -> None:
    """One line per notification (channels and errors are already redacted)."""
    for d in deliveries:
        if d.delivered and not failures_only:
            out.print(
                f"notification {d.event.value}: delivered via {d.channel}",
                markup=False,
                highlight=False,
            )
        elif not d.delivered:
            out.print(
                f"notification {d.event.value}: FAILED via {d.channel} after {d.attempts} "
                f"attempt(s): {d.error}",
                style="red",
                markup=False,
                highlight=False,
            )


def _print_partial(parsed: ParsedRun, out: Console) -> None:
    from rich.markup import escape  # noqa: PLC0415 -- see the imports

    if parsed.partial:
        out.print("[yellow]partial: the artifact directory is incomplete[/]")
    for warning in parsed.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
