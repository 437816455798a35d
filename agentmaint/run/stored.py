"""Runs read back from the history: the run list's summaries and one run in full.

`run_summaries` is ``agentmaint runs``: each run with its trigger as a kind (manual,
scheduled, import, relaunch) and its host outcomes counted. `stored_result` is
``agentmaint show``: a `RunResult` rebuilt from what the history kept, whose `to_dict`
is the ``run --json`` document of that run except for what the history does not keep
(see `stored_result`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentmaint.history.store import HistoryStore
from agentmaint.planning.planner import Plan
from agentmaint.records import MaintenanceRecord, Outcome, RunRecord, RunStatus
from agentmaint.run.results import HostOutcome, RunResult, host_outcomes

__all__ = [
    "HostTally",
    "RunSummary",
    "last_run_id",
    "run_summaries",
    "stored_result",
    "trigger_kind",
]

# The trigger a run was recorded with -> (its kind, whether it was forced). "schedule"
# is what a plain `agentmaint run` recorded before it recorded "manual".
_KINDS: dict[str, tuple[str, bool]] = {
    "manual": ("manual", False),
    "schedule": ("manual", False),
    "force": ("manual", True),
    "demo": ("manual", False),
    "compat": ("manual", False),
    "scheduled": ("scheduled", False),
    "import": ("import", False),
    "relaunch": ("relaunch", False),
}


def trigger_kind(trigger: str) -> tuple[str, bool]:
    """The kind of a recorded trigger (manual, scheduled, import, relaunch) and whether forced.

    An unknown value is its own kind.
    """
    return _KINDS.get(trigger, (trigger, False))


@dataclass(frozen=True, slots=True)
class HostTally:
    """A run's host outcomes counted: one per (environment, component, host) it maintained."""

    success: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rolled_back: int = 0  # also counted as failed
    needs_attention: int = 0  # rollbacks that failed

    @classmethod
    def of(cls, outcomes: Sequence[HostOutcome]) -> HostTally:
        """Count `outcomes`."""
        statuses = [o.status for o in outcomes]
        return cls(
            success=statuses.count(Outcome.SUCCESS),
            failed=statuses.count(Outcome.FAILED),
            unreachable=statuses.count(Outcome.UNREACHABLE),
            skipped=statuses.count(Outcome.SKIPPED),
            rolled_back=sum(o.rolled_back for o in outcomes),
            needs_attention=sum(o.needs_attention for o in outcomes),
        )

    def to_dict(self) -> dict[str, int]:
        """The counts by name."""
        return {
            "success": self.success,
            "failed": self.failed,
            "unreachable": self.unreachable,
            "skipped": self.skipped,
            "rolled_back": self.rolled_back,
            "needs_attention": self.needs_attention,
        }


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of the run list."""

    run: RunRecord
    hosts: HostTally

    @property
    def trigger(self) -> str:
        """manual, scheduled, import or relaunch (or an unknown recorded value as it is)."""
        return trigger_kind(self.run.trigger)[0]

    @property
    def forced(self) -> bool:
        """Whether the run was forced (``run --force``)."""
        return trigger_kind(self.run.trigger)[1]

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to finish (None while running)."""
        if self.run.finished is None:
            return None
        return (self.run.finished - self.run.started).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """The ``runs --json`` object of the run."""
        run = self.run
        return {
            "id": run.id,
            "trigger": self.trigger,
            "force": self.forced,
            "recorded_trigger": run.trigger,
            "started": run.started.isoformat(),
            "finished": run.finished.isoformat() if run.finished else None,
            "duration_s": self.duration_s,
            "status": run.status.value,
            "message": run.message,
            "check": run.check_mode,
            "environments": list(run.environments),
            "components": list(run.components),
            "controller": run.controller,
            "hosts": self.hosts.to_dict(),
        }


def run_summaries(
    store: HistoryStore,
    *,
    limit: int | None = None,
    status: RunStatus | None = None,
    since: datetime | None = None,
) -> list[RunSummary]:
    """Runs newest first, with their host outcomes counted (one query for all records)."""
    runs = store.runs(status=status, limit=limit, since=since)
    records = store.run_records([run.id for run in runs])
    return [RunSummary(run, HostTally.of(host_outcomes(records.get(run.id, ())))) for run in runs]


def stored_result(store: HistoryStore, run_id: str) -> RunResult | None:
    """The run `run_id` as a `RunResult` rebuilt from the history (None: no such run).

    Its `to_dict` equals the ``run --json`` document the run printed, except:

    - ``at``: the planning instant is not kept; this is the run's start;
    - ``unrecorded``: always null (the run is in the history);
    - a check-mode run (``run.check`` true): the history keeps no roll-up for a dry
      run, so ``records`` and ``outcomes`` are empty and ``failed_hosts`` too;
    - a run still ``running`` has no results yet.
    """
    run = store.get_run(run_id)
    if run is None:
        return None
    records: list[MaintenanceRecord] = store.run_records([run_id]).get(run_id, [])
    return RunResult(
        plan=Plan(at=run.started),
        run=run,
        records=tuple(records),
        outcomes=host_outcomes(records),
        counts=store.host_counts(run_id),
        notifications=tuple(store.notifications(run_id)),
        task_results=tuple(store.task_results(run_id)),
    )


def last_run_id(store: HistoryStore) -> str | None:
    """The id of the latest run (by start), or None in an empty history."""
    latest = store.runs(limit=1)
    return latest[0].id if latest else None
