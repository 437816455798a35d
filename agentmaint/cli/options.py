"""Option values and what several commands derive from them.

The schedule with the secrets a command uses, ``--at`` instants, durations, the
history a plan is made against, and the plan of the ``--environment``/``--component``
selection.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentmaint.config.durations import parse_duration
from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import MissingHistoryError, UsageError
from agentmaint.history.store import open_history
from agentmaint.planning.forced import forced_plan
from agentmaint.planning.history import HistoryReader, MemoryHistory
from agentmaint.planning.planner import Plan, plan

__all__ = ["parse_instant", "read_schedule"]


def read_schedule(file: Path, *, history: bool = False) -> Schedule:
    """The schedule in `file` with only the secrets a command reads resolved.

    `history`: ``history.url`` (it may hold a PostgreSQL password). Notification and
    connection secrets are never resolved here: only ``run`` and ``notify-test`` use
    them, and they load the schedule with every secret resolved.
    """
    return load_schedule(file, resolve_secrets=False).resolve_secrets(
        notification=False, history=history, connection=False
    )


def parse_instant(text: str) -> datetime:
    """``--at`` values: ISO 8601, ``Z`` or an offset; without one the time is UTC; or ``now``."""
    if text == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at: {text!r} is not an ISO 8601 date-time (e.g. 2026-11-23T01:30Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _selected_plan(
    schedule: Schedule, at: datetime, args: argparse.Namespace, *, force: bool = False
) -> Plan:
    """The plan for the CLI's --environment/--component selection (all hosts with force)."""
    if force:
        return forced_plan(schedule, at, args.environments, args.components)
    with _history_reader(schedule) as history:
        return plan(
            schedule, history, at, environments=args.environments, components=args.components
        )


@contextlib.contextmanager
def _history_reader(schedule: Schedule) -> Iterator[HistoryReader]:
    """The schedule's history opened read-only (read commands never write; no recovery).

    An empty history if none was created yet.
    """
    try:
        store = open_history(schedule.history_url, schedule.state_dir, readonly=True)
    except MissingHistoryError:
        yield MemoryHistory()
        return
    with store:
        yield store


def _duration_option(name: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from None
