"""The observers that keep the history: recording a run, and retention.

`Recorder` stores the run as ``running`` when it starts (what recovery finds if the
controller dies) and everything it did when it ends. `Retention` then drops runs
older than ``history.retention_days`` with their run directories.
"""

from __future__ import annotations

import logging
import os
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

_log = logging.getLogger(__name__)


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

    Only real directories directly under ``state_dir/runs`` are removed, compared by
    their real paths: never anything else a pruned run's record might point to (a
    symlink, ``runs/..``, a ``runs`` that is itself a symlink).
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
                if not os.path.lexists(run_dir):
                    continue  # already gone
                if self._owns(run_dir):
                    shutil.rmtree(run_dir, ignore_errors=True)
                elif run_dir.parent == self._runs:
                    _log.warning("retention: not removing %s: not a real run directory", run_dir)

    def _owns(self, run_dir: Path) -> bool:
        """Whether `run_dir` is a real directory directly inside the real ``state_dir/runs``."""
        if os.path.islink(self._runs) or os.path.islink(run_dir) or not run_dir.is_dir():
            return False
        runs = os.path.realpath(self._runs)
        real = os.path.realpath(run_dir)
        return os.path.dirname(real) == runs and real != runs
