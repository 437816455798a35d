"""``agentmaint cancel``: stop a run that another process (or controller) started.

With the history in SQLite, every controller of the schedule is on this machine: the
run's controller is found by its lock files (``state_dir/locks/<environment>.lock``
name the holder's pid and run) and sent SIGTERM, its Ctrl-C, after checking that the
process with that pid is the run's controller (its recorded process identity, see
`agentmaint.run.process`): a pid reused by another process is never signalled.

With the history in PostgreSQL, the controller may be another machine: the request is
written into the run's row (`HistoryStore.request_cancel`), which the controller polls
(`agentmaint.run.cancel_watch`). Either way the run stops as on Ctrl-C: every process
it started ends and it is recorded ``canceled``. `cancel_run` then waits for the run to
be recorded as ended.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from agentmaint.errors import UsageError
from agentmaint.history.db.url import is_postgres_url
from agentmaint.history.store import HistoryStore
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.process import controller_alive, process_identity

__all__ = ["CancelOutcome", "CancelResult", "cancel_run"]

#: Seconds between two looks at the history while waiting for the run to end.
WAIT_POLL_SECONDS = 0.5


class CancelOutcome(StrEnum):
    """How a cancel ended."""

    ENDED = "ended"  # the run was cancelled and is recorded as ended
    NOT_RUNNING = "not running"  # no run to cancel
    STILL_RUNNING = "still running"  # asked, but not ended within the timeout


@dataclass(frozen=True, slots=True)
class CancelResult:
    """What `cancel_run` did, in one line a person can read, and the run as it is now."""

    outcome: CancelOutcome
    message: str
    run: RunRecord | None = None


def cancel_run(
    history: HistoryStore,
    state_dir: Path,
    run_id: str | None = None,
    *,
    timeout: timedelta = timedelta(minutes=5),
) -> CancelResult:
    """Cancel run `run_id` (default: the one running run) and wait up to `timeout` for its end.

    Raises `UsageError` for an unknown `run_id`, when several runs are running and none
    was named (the message lists them), and when the run's controller cannot be verified
    (SQLite: no lock file names it, or it was recorded without a process identity).
    """
    run = _target(history, run_id)
    if isinstance(run, CancelResult):
        return run
    if is_postgres_url(history.history_url.reveal() if history.history_url else None):
        if not history.request_cancel(run.id):
            return _not_running(history, run.id)
        how = "cancel requested through the history"
    else:
        how = _signal_controller(run, state_dir)
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        now = history.get_run(run.id)
        if now is None or now.status is not RunStatus.RUNNING:
            status = now.status.value if now else "removed"
            return CancelResult(CancelOutcome.ENDED, f"run {run.id} {how}; it ended {status}", now)
        if time.monotonic() >= deadline:
            return CancelResult(
                CancelOutcome.STILL_RUNNING,
                f"run {run.id} {how}; still running after {timeout}",
                now,
            )
        time.sleep(WAIT_POLL_SECONDS)


def _target(history: HistoryStore, run_id: str | None) -> RunRecord | CancelResult:
    """The running run to cancel, or the result saying there is none."""
    if run_id is not None:
        run = history.get_run(run_id)
        if run is None:
            raise UsageError(f"no run {run_id!r} in {history.location}")
        if run.status is not RunStatus.RUNNING or not _may_live(run):
            return _not_running(history, run_id)
        return run
    running = [r for r in history.runs(status=RunStatus.RUNNING) if _may_live(r)]
    if not running:
        return CancelResult(CancelOutcome.NOT_RUNNING, "no run is running: nothing to cancel")
    if len(running) > 1:
        listed = "; ".join(
            f"{r.id} (pid {r.pid} on {r.controller}, {', '.join(r.environments)})" for r in running
        )
        raise UsageError(f"{len(running)} runs are running, name the one to cancel: {listed}")
    return running[0]


def _not_running(history: HistoryStore, run_id: str) -> CancelResult:
    run = history.get_run(run_id)
    if run is not None and run.status is RunStatus.RUNNING:
        return CancelResult(
            CancelOutcome.NOT_RUNNING,
            f"run {run_id} is recorded as running but its controller (pid {run.pid}) is gone: "
            "`agentmaint recover` records it",
            run,
        )
    status = run.status.value if run else "removed"
    return CancelResult(CancelOutcome.NOT_RUNNING, f"run {run_id} is not running ({status})", run)


def _may_live(run: RunRecord) -> bool:
    """False only for a run whose controller is known to be gone (it ran on this machine)."""
    if run.pid is None or run.controller not in (None, socket.gethostname()):
        return True
    return controller_alive(run.pid, run.process)


def _signal_controller(run: RunRecord, state_dir: Path) -> str:
    """SIGTERM to the run's controller, once its lock files and identity say it is that."""
    holders = {_holder(state_dir / "locks" / f"{env}.lock") for env in run.environments}
    if run.pid is None or (run.pid, run.id) not in holders:
        raise UsageError(
            f"run {run.id}: no lock file under {state_dir / 'locks'} names its controller "
            f"(pid {run.pid}); nothing was signalled"
        )
    if run.process is None or process_identity(run.pid) != run.process:
        raise UsageError(
            f"run {run.id}: process {run.pid} cannot be verified as its controller "
            "(no or another process identity); nothing was signalled"
        )
    os.kill(run.pid, signal.SIGTERM)
    return f"controller (pid {run.pid}) sent SIGTERM"


def _holder(path: Path) -> tuple[int | None, str | None]:
    """(pid, run id) recorded in lock file `path`, read without following a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None, None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None, None
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return None, None
    finally:
        os.close(fd)
    if not isinstance(data, dict):
        return None, None
    pid, run_id = data.get("pid"), data.get("run")
    return (pid if isinstance(pid, int) else None, run_id if isinstance(run_id, str) else None)
