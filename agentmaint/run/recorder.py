"""The observers that keep the history: recording a run, and retention.

`Recorder` stores the run as ``running`` when it starts (what recovery finds if the
controller dies) and everything it did when it ends. `Retention` then drops runs
older than ``history.retention_days`` with their run directories.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

from agentmaint.ansible.slicing import SLICES_DIR
from agentmaint.history.store import HistoryStore, RunRecording
from agentmaint.planning.planner import Plan
from agentmaint.records import RunRecord
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import RunResult

__all__ = ["Recorder", "Retention"]


class Recorder(BaseObserver):
    """Records a run in the history: ``running`` at its start, the whole run at its end."""

    def __init__(self, store: HistoryStore) -> None:
        """Record into `store` (used from the run's thread only)."""
        self._store = store

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Store the run as ``running``."""
        self._store.begin_run(run)

    def run_finished(self, result: RunResult) -> None:
        """Store the whole run in one transaction: results, counts, roll-up, its end.

        A check-mode run keeps its task results and counts but no roll-up (it updated
        nothing). If the controller dies before the transaction commits, the run stays
        ``running`` and recovery records it from its artifacts, once.
        """
        run = result.run
        if run is None:
            return
        records = () if run.check_mode else result.records
        self._store.record_run(RunRecording(run, result.task_results, result.counts, records))


class Retention(BaseObserver):
    """After a run, prunes runs older than the retention period, and their directories.

    Only directories under ``state_dir/runs`` are removed: never anything else a
    pruned run's record might point to.
    """

    def __init__(self, store: HistoryStore, state_dir: Path, days: int | None) -> None:
        """Keep `days` days of history in `store` (None or 0: keep everything)."""
        self._store = store
        self._runs = state_dir / "runs"
        self._days = days

    def run_finished(self, result: RunResult) -> None:
        """Prune what is older than the retention period, counted from the run's end."""
        if not self._days or result.run is None:
            return
        now: datetime = result.run.finished or result.run.started
        for old in self._store.prune(now - timedelta(days=self._days)):
            if old.artifact_dir is not None:
                sliced = old.artifact_dir.name == SLICES_DIR
                run_dir = old.artifact_dir.parent if sliced else old.artifact_dir.parent.parent
                if run_dir.parent == self._runs:
                    shutil.rmtree(run_dir, ignore_errors=True)
