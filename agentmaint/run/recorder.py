"""The observers that keep the history: recording a run, and retention.

`Recorder` stores the run as ``running`` when it starts (what recovery finds if the
controller dies) and everything it did when it ends. `Retention` then drops runs
older than ``history.retention_days`` with their run directories.

When the history cannot take the end of a run (its write lock held longer than a
write waits, a full disk, a server out of reach), the hosts were changed all the
same: `Recorder` keeps the whole recording in the run's own directory
(`agentmaint.history.pending`, ``runs/<id>/unrecorded.json``) and says so in
`Recorder.unrecorded` instead of failing the run; the next recovery
(`agentmaint.run.recovery`) records it as it happened.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from agentmaint.ansible.slicing import SLICES_DIR
from agentmaint.errors import StoreError
from agentmaint.history.pending import PendingRecording, write_pending
from agentmaint.history.store import HistoryStore, RunRecording
from agentmaint.planning.planner import Plan
from agentmaint.records import RunRecord
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import RunResult, Unrecorded

__all__ = ["Recorder", "Retention", "remove_run_directory", "run_directory"]

_log = logging.getLogger(__name__)


class Recorder(BaseObserver):
    """Records a run in the history: ``running`` at its start, the whole run at its end."""

    def __init__(self, store: HistoryStore) -> None:
        """Record into `store` (used from the run's thread only)."""
        self._store = store
        #: Set when the run ended but the history could not record it (see the module).
        self.unrecorded: Unrecorded | None = None

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Store the run as ``running``."""
        self._store.begin_run(run)

    def run_finished(self, result: RunResult) -> None:
        """Store the whole run in one transaction: results, counts, roll-up, its end.

        A check-mode run keeps its task results and counts but no roll-up (it updated
        nothing). If the controller dies before the transaction commits, the run stays
        ``running`` and recovery records it from its artifacts, once. If the history
        cannot be written (`StoreError`), the recording is kept in the run's directory
        for recovery and `unrecorded` says so; nothing is raised.
        """
        run = result.run
        if run is None:
            return
        records = () if run.check_mode else result.records
        recording = RunRecording(run, result.task_results, result.counts, records)
        try:
            self._store.record_run(recording)
        except StoreError as exc:
            self.unrecorded = _keep(recording, str(exc))


def _keep(recording: RunRecording, reason: str) -> Unrecorded:
    """Save `recording` in its run's directory for a later recovery; say where (if it could)."""
    run = recording.run
    directory = run_directory(run)
    try:
        if directory is None:
            raise OSError("the run has no run directory")
        kept = write_pending(directory, PendingRecording(recording, reason))
    except OSError as exc:
        _log.error(
            "run %s ended but the history could not record it (%s), and its results could "
            "not be kept for a later recording either (%s): they are only in its artifacts "
            "(%s), from which a recovery records it as interrupted",
            run.id,
            reason,
            exc,
            run.artifact_dir,
            extra={"event": "history_unrecorded", "run_id": run.id, "error": reason},
        )
        return Unrecorded(reason, None)
    _log.warning(
        "run %s ended but the history could not record it (%s); its results are kept in "
        "%s until the next `agentmaint run` or `agentmaint recover` records them",
        run.id,
        reason,
        kept,
        extra={"event": "history_unrecorded", "run_id": run.id, "error": reason},
    )
    return Unrecorded(reason, kept)


def run_directory(run: RunRecord) -> Path | None:
    """The directory agentmaint created for `run` (``state_dir/runs/<id>``), from its artifacts.

    A run is one job (``runs/<id>/artifacts/<id>``) or one per slice (``runs/<id>/slices``);
    None for a run without artifacts (an import of nothing) or whose artifacts are elsewhere.
    """
    if run.artifact_dir is None:
        return None
    sliced = run.artifact_dir.name == SLICES_DIR
    directory = run.artifact_dir.parent if sliced else run.artifact_dir.parent.parent
    return directory if directory.name == run.id else None


class Retention(BaseObserver):
    """After a run, prunes runs older than the retention period, and their directories.

    Only real directories directly under ``state_dir/runs`` are removed, compared by
    their real paths: never anything else a pruned run's record might point to (a
    symlink, ``runs/..``, a ``runs`` that is itself a symlink).
    """

    def __init__(
        self,
        store: HistoryStore,
        state_dir: Path,
        days: int | None,
        *,
        recorder: Recorder | None = None,
    ) -> None:
        """Keep `days` days of history in `store` (None or 0: keep everything).

        With `recorder`, nothing is pruned after a run it could not record (the history
        is not writable now, and the run is not in it).
        """
        self._store = store
        self._runs = state_dir / "runs"
        self._days = days
        self._recorder = recorder

    def run_finished(self, result: RunResult) -> None:
        """Prune what is older than the retention period, counted from the run's end."""
        if not self._days or result.run is None:
            return
        if self._recorder is not None and self._recorder.unrecorded is not None:
            return
        now: datetime = result.run.finished or result.run.started
        for old in self._store.prune(now - timedelta(days=self._days)):
            remove_run_directory(self._runs.parent, old)


def remove_run_directory(state_dir: Path, run: RunRecord) -> Path | None:
    """Remove the directory of a pruned `run`, if it is one agentmaint made; the path removed.

    Only a real directory directly inside the real ``state_dir/runs`` is removed,
    compared by real paths: never anything else the run's record might point to (a
    symlink, ``runs/..``, a ``runs`` that is itself a symlink); a refusal is logged.
    None when nothing was removed (no artifacts, already gone, or refused).
    """
    if run.artifact_dir is None:
        return None
    runs = state_dir / "runs"
    sliced = run.artifact_dir.name == SLICES_DIR
    run_dir = run.artifact_dir.parent if sliced else run.artifact_dir.parent.parent
    if not os.path.lexists(run_dir):
        return None  # already gone
    if _owned(runs, run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
        return run_dir
    if run_dir.parent == runs:
        _log.warning(
            "retention: not removing %s: not a real run directory",
            run_dir,
            extra={"event": "retention_refused"},
        )
    return None


def _owned(runs: Path, run_dir: Path) -> bool:
    """Whether `run_dir` is a real directory directly inside the real `runs` directory."""
    if os.path.islink(runs) or os.path.islink(run_dir) or not run_dir.is_dir():
        return False
    real_runs = os.path.realpath(runs)
    real = os.path.realpath(run_dir)
    return os.path.dirname(real) == real_runs and real != real_runs
