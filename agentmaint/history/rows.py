"""How history values become table rows and back (the store's one place for text forms).

Datetimes are stored as fixed-width ISO 8601 UTC text, ``2026-11-23T01:30:00.000000Z``,
so that text order is time order; enums as their values; a run's environments and
components as JSON lists; booleans as 0/1. The column lists name each table's columns
in the order its rows are built and read here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentmaint.errors import UsageError
from agentmaint.records import (
    Action,
    HostCounts,
    MaintenanceRecord,
    Outcome,
    RunRecord,
    RunStatus,
    TaskResult,
    TaskStatus,
)

__all__ = [
    "COUNT_COLUMNS",
    "RECORD_COLUMNS",
    "RECORD_INSERT_COLUMNS",
    "RUN_COLUMNS",
    "RUN_COLUMN_COUNT",
    "TASK_COLUMNS",
    "count_rows",
    "from_text",
    "marks",
    "opt_from_text",
    "record_from_row",
    "record_rows",
    "run_from_row",
    "run_row",
    "task_from_row",
    "task_rows",
    "to_text",
]

RUN_COLUMNS = (
    "id, trigger, started, status, finished, runner_rc, artifact_dir, pid, message, "
    "check_mode, environments, components, controller, process"
)
#: How many columns `RUN_COLUMNS` names (a row of `run_row` has as many values).
RUN_COLUMN_COUNT = len(RUN_COLUMNS.split(","))
TASK_COLUMNS = (
    'counter, host, play, task, status, role, module, start, "end", duration, rc, message, '
    "play_uuid, task_uuid"
)
COUNT_COLUMNS = "ok, changed, failures, unreachable, skipped, rescued, ignored"
RECORD_COLUMNS = "timestamp, environment, server, component, action, status, error, run_id"
RECORD_INSERT_COLUMNS = (
    "run_id",
    "timestamp",
    "environment",
    "server",
    "component",
    "action",
    "status",
    "error",
)


def marks(count: int) -> str:
    """``?, ?, ...``: `count` placeholders."""
    return ", ".join("?" * count)


def to_text(instant: datetime) -> str:
    """Fixed-width ISO 8601 UTC text: ``2026-11-23T01:30:00.000000Z``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise UsageError(f"datetime {instant.isoformat()} must be timezone-aware")
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def _opt_text(instant: datetime | None) -> str | None:
    return None if instant is None else to_text(instant)


_STATUS_TEXT = {status: status.value for status in TaskStatus}


def _result_time(instant: datetime) -> str:
    """`to_text`, faster for the UTC times of task results (a big run has 100,000s)."""
    if instant.tzinfo is UTC:
        return instant.isoformat(timespec="microseconds")[:-6] + "Z"
    return to_text(instant)


def from_text(text: str) -> datetime:
    """The aware UTC datetime of a `to_text` value."""
    # Always written by `to_text`, so the "Z" suffix makes it aware UTC.
    return datetime.fromisoformat(text)


def opt_from_text(text: str | None) -> datetime | None:
    """`from_text`, None for None."""
    return None if text is None else from_text(text)


# --------------------------------------------------------------------------- runs


def run_row(run: RunRecord, controller: str) -> tuple[Any, ...]:
    """The ``runs`` row of `run` (`controller` when the run names none)."""
    return (
        run.id,
        run.trigger,
        to_text(run.started),
        RunStatus(run.status).value,
        _opt_text(run.finished),
        run.runner_rc,
        None if run.artifact_dir is None else str(run.artifact_dir),
        run.pid,
        run.message,
        int(run.check_mode),
        json.dumps(list(run.environments)),
        json.dumps(list(run.components)),
        run.controller or controller,
        run.process,
    )


def run_from_row(row: Sequence[Any]) -> RunRecord:
    """The `RunRecord` of a row of `RUN_COLUMNS`."""
    return RunRecord(
        id=row[0],
        trigger=row[1],
        started=from_text(row[2]),
        status=RunStatus(row[3]),
        finished=opt_from_text(row[4]),
        runner_rc=row[5],
        artifact_dir=None if row[6] is None else Path(row[6]),
        pid=row[7],
        message=row[8],
        check_mode=bool(row[9]),
        environments=tuple(json.loads(row[10])),
        components=tuple(json.loads(row[11])),
        controller=row[12],
        # A run kept in a file before schema version 4 (see `agentmaint.history.pending`)
        # has no process column.
        process=row[13] if len(row) > 13 else None,
    )


# --------------------------------------------------------------------------- task results


def task_rows(run_id: str, results: Iterable[TaskResult]) -> Iterator[tuple[Any, ...]]:
    """``task_results`` rows (``run_id`` then `TASK_COLUMNS`), built as they are consumed."""
    statuses = _STATUS_TEXT
    for r in results:
        yield (
            run_id,
            r.counter,
            r.host,
            r.play,
            r.task,
            statuses.get(r.status) or TaskStatus(r.status).value,
            r.role,
            r.module,
            None if r.start is None else _result_time(r.start),
            None if r.end is None else _result_time(r.end),
            r.duration,
            r.rc,
            r.message,
            r.play_uuid,
            r.task_uuid,
        )


def task_from_row(row: Sequence[Any]) -> TaskResult:
    """The `TaskResult` of a row of `TASK_COLUMNS`."""
    return TaskResult(
        counter=row[0],
        host=row[1],
        play=row[2],
        task=row[3],
        status=TaskStatus(row[4]),
        role=row[5],
        module=row[6],
        start=opt_from_text(row[7]),
        end=opt_from_text(row[8]),
        duration=row[9],
        rc=row[10],
        message=row[11],
        play_uuid=row[12],
        task_uuid=row[13],
    )


# --------------------------------------------------------------------------- host counts


def count_rows(run_id: str, counts: Mapping[str, HostCounts]) -> list[tuple[Any, ...]]:
    """``host_counts`` rows: ``run_id, host`` then `COUNT_COLUMNS`."""
    return [
        (
            run_id,
            host,
            c.ok,
            c.changed,
            c.failures,
            c.unreachable,
            c.skipped,
            c.rescued,
            c.ignored,
        )
        for host, c in counts.items()
    ]


# --------------------------------------------------------------------------- roll-up records


def record_rows(run_id: str, records: Iterable[MaintenanceRecord]) -> list[tuple[Any, ...]]:
    """``records`` rows (`RECORD_INSERT_COLUMNS`); the records' own `run_id` is ignored."""
    return [
        (
            run_id,
            to_text(r.timestamp),
            r.environment,
            r.server,
            r.component,
            Action(r.action).value,
            Outcome(r.status).value,
            r.error,
        )
        for r in records
    ]


def record_from_row(row: Sequence[Any]) -> MaintenanceRecord:
    """The `MaintenanceRecord` of a row of `RECORD_COLUMNS`."""
    return MaintenanceRecord(
        timestamp=from_text(row[0]),
        environment=row[1],
        server=row[2],
        component=row[3],
        action=Action(row[4]),
        status=Outcome(row[5]),
        error=row[6],
        run_id=row[7],
    )
