"""What ``run --failed RUN_ID|last`` relaunches: the run, and what did not succeed in it."""

from __future__ import annotations

from agentmaint.errors import UsageError
from agentmaint.history.store import HistoryStore
from agentmaint.planning.relaunch import FailedTarget
from agentmaint.records import Action, Outcome, RunRecord, RunStatus

__all__ = ["failed_targets", "find_run"]

#: ``--failed last``: the newest run that has ended.
LAST = "last"


def find_run(history: HistoryStore, run_id: str) -> RunRecord:
    """The run `run_id` names (``last``: the newest run that has ended); `UsageError` if none."""
    if run_id == LAST:
        for run in history.runs(limit=20):
            if run.status is not RunStatus.RUNNING:
                return run
        raise UsageError(f"--failed last: {history.location} holds no finished run")
    found = history.get_run(run_id)
    if found is None:
        raise UsageError(f"--failed {run_id}: no such run in {history.location}")
    return found


def failed_targets(history: HistoryStore, run_id: str) -> tuple[FailedTarget, ...]:
    """Each (environment, component, host) that failed, was unreachable or rolled back."""
    targets = {
        FailedTarget(r.environment, r.component, r.server)
        for r in history.records(run_id=run_id)
        if r.status in (Outcome.FAILED, Outcome.UNREACHABLE) or r.action is Action.ROLLBACK
    }
    return tuple(sorted(targets, key=lambda t: (t.environment, t.component, t.host)))
