"""Recording a finished run: every fact of it in one transaction, at most once.

A run is stored ``running`` when it starts (`HistoryStore.begin_run`); everything
else it leaves behind (its task results, per-host counts, roll-up records with the
derived attempts and host states, and its final status) is written by one
`HistoryStore.record_run` call, in one write transaction, by whichever path
ends the run: the live run, ``agentmaint history import``, or the recovery of a
run whose controller died. A process killed inside that transaction leaves the
run as it was (``running``, nothing of it recorded), never half of it.

The transaction holds the history's write lock from its start (SQLite ``BEGIN
IMMEDIATE``, PostgreSQL an advisory transaction lock) and decides by the run's
stored state, so recording is idempotent and several processes may attempt it at
once: a run already finished is left alone (`RecordOutcome.ALREADY_RECORDED`), a
``running`` run is filled in and finished, an unknown run is inserted whole (an
import) unless it is a job the history already holds (`RecordOutcome.DUPLICATE_JOB`).

A job is known by its content, not by where its files are: another run already holds
its artifact directory, or a recorded task result is one of its own. A task result is
known by its play uuid, task uuid, host and start time. Ansible makes its play and task
uuids once per ``ansible-playbook`` process (the controller's MAC address, 32 random
bits, a counter), so the same play uuid means the same process wherever its artifacts
were copied (a ``cp -a`` of them, one slice of a sliced run); the host and the start
time (to the microsecond) make a chance match of the random bits between two runs of
the same playbook harmless. The play uuids are found through the ``task_results_play``
index. The decision is taken under the write lock, so two imports of copies of one job
at once record it once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agentmaint.errors import UsageError
from agentmaint.history.db.base import Database
from agentmaint.history.derived import recompute_attempts, recompute_states
from agentmaint.history.rows import (
    COUNT_COLUMNS,
    RECORD_INSERT_COLUMNS,
    RUN_COLUMN_COUNT,
    RUN_COLUMNS,
    TASK_COLUMNS,
    count_rows,
    marks,
    record_rows,
    run_from_row,
    run_row,
    task_rows,
    to_text,
)
from agentmaint.records import HostCounts, MaintenanceRecord, RunRecord, RunStatus, TaskResult

__all__ = ["RecordOutcome", "Recorded", "RunRecording", "write_run"]


@dataclass(frozen=True, slots=True)
class RunRecording:
    """Everything a finished run leaves in the history, recorded at once.

    `run` is the run as it ended: its final `status` (not running), `finished`,
    `runner_rc` and `message` (None keeps the message stored when the run began).
    Its other fields are used only when the run is not stored yet (an import).
    `records` are the roll-up (their own `run_id` is ignored: they belong to `run`);
    a check-mode run passes none.
    """

    run: RunRecord
    results: Sequence[TaskResult] = ()
    counts: Mapping[str, HostCounts] = field(default_factory=dict)
    records: Sequence[MaintenanceRecord] = ()

    def __post_init__(self) -> None:
        """Refuse a recording that does not end its run."""
        if self.run.status is RunStatus.RUNNING or self.run.finished is None:
            raise UsageError(
                f"run {self.run.id!r}: a recording needs the run's final status and "
                "finish time (it is still running)"
            )


class RecordOutcome(StrEnum):
    """What `HistoryStore.record_run` did."""

    RECORDED = "recorded"  # written now: the running run finished, or the new run inserted
    ALREADY_RECORDED = "already-recorded"  # the run was finished before: nothing written
    DUPLICATE_JOB = "duplicate-job"  # a new run's job is another run's: nothing written
    #: The former name of `DUPLICATE_JOB` (then only a shared artifact directory).
    DUPLICATE_ARTIFACTS = "duplicate-job"


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of `HistoryStore.record_run` and the run as the history now holds it.

    For `RecordOutcome.DUPLICATE_JOB`, `run` is the other run: the one that holds the
    artifact directory or a task result of the job.
    """

    outcome: RecordOutcome
    run: RunRecord

    @property
    def written(self) -> bool:
        """Whether this call recorded the run."""
        return self.outcome is RecordOutcome.RECORDED


def write_run(db: Database, recording: RunRecording, controller: str) -> Recorded:
    """Record `recording` inside `db`'s current write transaction (see the module docstring).

    `controller` is stored for a new run that names none.
    """
    run = recording.run
    records = record_rows(run.id, recording.records)  # invalid input fails before any write
    select = f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?"
    row = db.execute(select, (run.id,)).fetchone()
    if row is not None:
        stored = run_from_row(row)
        if stored.status is not RunStatus.RUNNING:
            return Recorded(RecordOutcome.ALREADY_RECORDED, stored)
        db.execute(
            "UPDATE runs SET status = ?, finished = ?, runner_rc = ?, "
            "message = COALESCE(?, message) WHERE id = ?",
            (
                RunStatus(run.status).value,
                to_text(run.finished) if run.finished else None,
                run.runner_rc,
                run.message,
                run.id,
            ),
        )
    else:
        other = _same_job(db, run, recording.results)
        if other is not None:
            return Recorded(RecordOutcome.DUPLICATE_JOB, other)
        db.execute(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks(RUN_COLUMN_COUNT)})",
            run_row(run, controller),
        )
    if recording.results:
        db.insert_rows(
            "task_results",
            ("run_id", *TASK_COLUMNS.split(", ")),
            task_rows(run.id, recording.results),
        )
    if recording.counts:
        db.insert_rows(
            "host_counts",
            ("run_id", "host", *COUNT_COLUMNS.split(", ")),
            count_rows(run.id, recording.counts),
        )
    if records:
        db.insert_rows("records", RECORD_INSERT_COLUMNS, records)
        keys = {(run.id, row[3], row[4]) for row in records}
        recompute_attempts(db, keys)
        recompute_states(db, {(server, component) for _, server, component in keys})
    return Recorded(RecordOutcome.RECORDED, run_from_row(db.execute(select, (run.id,)).fetchone()))


def _same_job(db: Database, run: RunRecord, results: Sequence[TaskResult]) -> RunRecord | None:
    """The recorded run that already holds `run`'s job, if any (see the module docstring)."""
    other = None
    if run.artifact_dir is not None:
        other = db.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE artifact_dir = ?", (str(run.artifact_dir),)
        ).fetchone()
    if other is None:
        owner = _result_owner(db, results)
        if owner is not None:
            other = db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (owner,)).fetchone()
    return None if other is None else run_from_row(other)


def _result_owner(db: Database, results: Sequence[TaskResult]) -> str | None:
    """The id of a run that holds one of `results` (same play, task, host and start)."""
    keys = {
        (r.play_uuid, r.task_uuid, r.host, None if r.start is None else to_text(r.start))
        for r in results
        if r.play_uuid is not None
    }
    plays = sorted({key[0] for key in keys})
    if not plays:
        return None
    rows = db.execute(
        "SELECT run_id, play_uuid, task_uuid, host, start FROM task_results "
        f"WHERE play_uuid IN ({marks(len(plays))})",
        tuple(plays),
    ).fetchall()
    return next((row[0] for row in rows if tuple(row[1:]) in keys), None)
