"""Typed, frozen records of what happened: per task and host, per run, and the seed-shaped roll-up.

These cross every module boundary after the runner adapter: the event parser
produces `TaskResult`s and `HostCounts`, the pipeline turns them into
`MaintenanceRecord`s, the history store persists all three kinds, and the
planner reads back `HostComponentState`s derived from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class TaskStatus(StrEnum):
    """The outcome of one task on one host, as Ansible's callbacks report it."""

    OK = "ok"
    CHANGED = "changed"
    FAILED = "failed"
    IGNORED = "ignored"  # failed with ignore_errors
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"
    RESCUED = "rescued"  # failed inside a block whose rescue section then ran for the host


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The final result of one task on one host (loop items are folded into it)."""

    host: str
    play: str
    task: str
    status: TaskStatus
    role: str | None = None
    module: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    duration: float | None = None
    rc: int | None = None
    message: str | None = None
    play_uuid: str | None = None
    task_uuid: str | None = None
    counter: int = 0  # the event's position in the stream (stdout order)


@dataclass(frozen=True, slots=True)
class HostCounts:
    """Per-host counters with the meaning of Ansible's `playbook_on_stats`."""

    ok: int = 0
    changed: int = 0
    failures: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a mapping, in the order above."""
        return {
            "ok": self.ok,
            "changed": self.changed,
            "failures": self.failures,
            "unreachable": self.unreachable,
            "skipped": self.skipped,
            "rescued": self.rescued,
            "ignored": self.ignored,
        }


class RunStatus(StrEnum):
    """The state of a whole run."""

    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMEOUT = "timeout"
    ERROR = "error"  # died before or outside the plays (parse error, ansible missing)
    INTERRUPTED = "interrupted"  # the controller died; found later by its dead pid


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of agentmaint (one ansible-runner job)."""

    id: str
    trigger: str  # "manual", "force", "scheduled", "import", "compat", ... (old: "schedule")
    started: datetime
    status: RunStatus = RunStatus.RUNNING
    finished: datetime | None = None
    runner_rc: int | None = None
    artifact_dir: Path | None = None
    pid: int | None = None
    message: str | None = None
    check_mode: bool = False
    environments: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    controller: str | None = None  # the controller's host name (`HistoryStore.begin_run` sets it)
    #: The controller's process identity beyond its pid (``"<boot id>:<start time>"``,
    #: see `agentmaint.run.process`); None for runs recorded before it was kept.
    process: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready data (``run --json``'s ``run``, ``recover --json``)."""
        return {
            "id": self.id,
            "trigger": self.trigger,
            "status": self.status.value,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "runner_rc": self.runner_rc,
            "artifact_dir": str(self.artifact_dir) if self.artifact_dir else None,
            "check": self.check_mode,
            "message": self.message,
            "pid": self.pid,
            "controller": self.controller,
            "process": self.process,
            "environments": list(self.environments),
            "components": list(self.components),
        }


class Action(StrEnum):
    """The phases of maintaining one component on one host."""

    BACKUP = "backup"
    UPDATE = "update"
    HEALTHCHECK = "healthcheck"
    ROLLBACK = "rollback"


class Outcome(StrEnum):
    """The seed's statuses, plus `unreachable` and `skipped`."""

    SUCCESS = "success"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class MaintenanceRecord:
    """One (run, host, component, action) roll-up, in the seed's shape.

    `to_dict()` gives exactly the seed's keys (`timestamp` as ISO 8601 UTC).
    """

    timestamp: datetime
    environment: str
    server: str
    component: str
    action: Action
    status: Outcome
    error: str | None = None
    run_id: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The seed's history entry shape."""
        return {
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "environment": self.environment,
            "server": self.server,
            "component": self.component,
            "action": self.action.value,
            "status": self.status.value,
            "error": self.error,
        }
