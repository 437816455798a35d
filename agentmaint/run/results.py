"""The typed result of a run: per host and component outcomes, counts, records.

`RunResult` is what `agentmaint.run_maintenance` returns and what every observer of
a finished run receives (`agentmaint.run.observer`); `RunResult.to_dict` is the
``run --json`` document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from agentmaint.history.delivery import Delivery
from agentmaint.planning.planner import Plan
from agentmaint.records import (
    Action,
    HostCounts,
    MaintenanceRecord,
    Outcome,
    RunRecord,
    RunStatus,
    TaskResult,
)

__all__ = ["HostOutcome", "Progress", "RunResult", "TaskStart", "Unrecorded", "host_outcomes"]

_BAD = frozenset({Outcome.FAILED, Outcome.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class Progress:
    """One task finished on one host: what the live display shows."""

    environment: str
    component: str
    host: str
    action: Action | None
    result: TaskResult


@dataclass(frozen=True, slots=True)
class TaskStart:
    """One task started on one host: what the live display shows as running.

    `action` is None for the playbook's internal tasks (the rescue's final ``Failed``
    task, the error budget's gates) and foreign ones; `task` is the raw task name.
    """

    environment: str
    component: str
    host: str
    action: Action | None
    task: str


@dataclass(frozen=True, slots=True)
class HostOutcome:
    """How maintaining one component on one host ended, over all its actions."""

    environment: str
    component: str
    host: str
    status: Outcome
    actions: Mapping[Action, Outcome]
    error: str | None = None

    @property
    def rolled_back(self) -> bool:
        """Whether a rollback ran on the host."""
        return Action.ROLLBACK in self.actions

    @property
    def needs_attention(self) -> bool:
        """Whether the rollback itself failed: the host may be half-updated."""
        return self.actions.get(Action.ROLLBACK) is Outcome.FAILED


@dataclass(frozen=True, slots=True)
class Unrecorded:
    """A run that ended but is not (yet) in the history: why, and where its results wait."""

    #: Why the history could not take the run (the database's error, without a password).
    reason: str
    #: The file its results are kept in until a recovery records them; None when even
    #: that could not be written (they are then only in the run's artifacts).
    kept_in: Path | None

    def to_dict(self) -> dict[str, Any]:
        """The ``unrecorded`` value of ``run --json``."""
        return {
            "reason": self.reason,
            "kept_in": None if self.kept_in is None else str(self.kept_in),
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """The typed result of `run_maintenance`.

    `task_results` holds every parsed task result of the run (what the history keeps
    per task); it is not part of `to_dict`, whose ``records`` are the roll-up.
    `unrecorded` is set when the run ended but the history could not record it: the
    outcomes are what happened on the hosts all the same.
    """

    plan: Plan
    run: RunRecord | None = None
    records: tuple[MaintenanceRecord, ...] = ()
    outcomes: tuple[HostOutcome, ...] = ()
    counts: Mapping[str, HostCounts] = field(default_factory=dict)
    notifications: tuple[Delivery, ...] = ()  # how the run's notifications went (redacted)
    task_results: tuple[TaskResult, ...] = ()
    unrecorded: Unrecorded | None = None

    @property
    def nothing_due(self) -> bool:
        """True when no host was due, so nothing ran."""
        return self.run is None

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        """Hosts on which any component failed or was unreachable, in order, once each."""
        failed = (o.host for o in self.outcomes if o.status in _BAD)
        return tuple(dict.fromkeys(failed))

    @property
    def succeeded(self) -> bool:
        """True when the run finished and no host failed (or nothing was due)."""
        if self.run is None:
            return True
        return self.run.status is RunStatus.SUCCESSFUL and not self.failed_hosts

    def to_dict(self) -> dict[str, Any]:
        """The ``run --json`` document."""
        run = self.run
        return {
            "at": self.plan.at.astimezone(UTC).isoformat(),
            "run": None if run is None else run.to_dict(),
            "failed_hosts": list(self.failed_hosts),
            "outcomes": [
                {
                    "environment": o.environment,
                    "component": o.component,
                    "host": o.host,
                    "status": o.status.value,
                    "actions": {a.value: s.value for a, s in o.actions.items()},
                    "needs_attention": o.needs_attention,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            "records": [r.to_dict() for r in self.records],
            "hosts": {h: c.to_dict() for h, c in self.counts.items()},
            "notifications": [d.to_dict() for d in self.notifications],
            "unrecorded": None if self.unrecorded is None else self.unrecorded.to_dict(),
        }


def host_outcomes(records: Iterable[MaintenanceRecord]) -> tuple[HostOutcome, ...]:
    """One `HostOutcome` per (environment, component, host) of `records`, in their order."""
    grouped: dict[tuple[str, str, str], dict[Action, MaintenanceRecord]] = {}
    for record in records:
        key = (record.environment, record.component, record.server)
        grouped.setdefault(key, {})[record.action] = record
    outcomes = []
    for (environment, component, host), actions in grouped.items():
        statuses = {action: record.status for action, record in actions.items()}
        errors = [r.error for r in actions.values() if r.status in _BAD and r.error]
        if Outcome.UNREACHABLE in statuses.values():
            status = Outcome.UNREACHABLE
        elif Outcome.FAILED in statuses.values() or Action.ROLLBACK in statuses:
            status = Outcome.FAILED
        elif statuses.get(Action.UPDATE) is Outcome.SUCCESS:
            status = Outcome.SUCCESS
        else:
            status = Outcome.SKIPPED
            skipped = actions.get(Action.UPDATE)
            errors = [skipped.error] if skipped and skipped.error else errors
        outcomes.append(
            HostOutcome(
                environment, component, host, status, statuses, errors[0] if errors else None
            )
        )
    return tuple(outcomes)
