"""Runs whose controller died (SIGKILL, power loss): found later and recorded truthfully.

A run is stored as ``running`` when it starts. If its controller dies, nothing
finishes it; the next agentmaint command that opens the history calls
`recover_interrupted_runs`, which, for every ``running`` run whose controller
is gone:

1. ends whatever Ansible processes of the run are still alive on this machine
   (ansible-playbook and its workers outlive their controller), and removes what the
   run created outside its directory: its SSH ControlPath directory, and its jobs (their
   processes and directories) on execution nodes (see `agentmaint.run.outside`);
2. reads what the run's artifact directory holds (ansible-runner's callback
   writes every event to disk as it happens) and records those results;
3. marks the run ``interrupted``. Its environment locks were already released
   when the controller died (see `agentmaint.run.locks`).

A ``running`` run whose directory holds its unrecorded results
(``runs/<id>/unrecorded.json``: the run ended, but the history could not be written
then; see `agentmaint.run.recorder`) did not die: whatever its pid says, that
recording is what happened, and it is recorded as it is (its real status, end,
results and roll-up), its message saying it was recorded late and why; the file is
then removed. A file that cannot be used (a symlink, not agentmaint's) is left
untouched and the run is judged as any other.

Whether the controller is gone: a run of this machine (its ``controller`` is this
host name, or unknown; with a SQLite history always) is judged by its pid and, when
the run recorded it, its process identity (`agentmaint.run.process`): a live process
that reused the pid, or a pid of an earlier boot, is not the run's controller. A run
of another controller sharing a PostgreSQL history is judged by its environment
locks, which a live run holds for as long as it runs: it is recovered only when
this process can take every one of them, and it is recovered while holding them
(so it cannot be a run that just finished, or still runs). A run that names no
environment cannot be judged that way and is left alone.
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agentmaint.ansible.events import ParsedRun, read_artifact_dir
from agentmaint.ansible.naming import PLAYBOOK_NAME, Target, parse_play
from agentmaint.ansible.rollup import rollup
from agentmaint.ansible.runner import kill_run_processes
from agentmaint.ansible.slicing import SLICES_DIR
from agentmaint.config.secret import Secret
from agentmaint.errors import EventsError, LockHeldError, StoreError
from agentmaint.history.db.url import SqliteLocation, parse_history_url
from agentmaint.history.pending import read_pending, remove_pending
from agentmaint.history.store import HistoryStore, Recorded, RunRecording, open_history
from agentmaint.records import HostCounts, MaintenanceRecord, RunRecord, RunStatus, TaskResult
from agentmaint.run.locks import environment_locks
from agentmaint.run.outside import remove_outside
from agentmaint.run.process import controller_alive
from agentmaint.run.recorder import run_directory

_log = logging.getLogger(__name__)


def recover_history(url: str | Secret | None, state_dir: Path) -> list[RunRecord]:
    """``agentmaint recover``: open (and upgrade) the history and recover its dead runs.

    A SQLite history that does not exist yet has nothing to recover and is not created.
    """
    plain = url.reveal() if isinstance(url, Secret) else url
    location = parse_history_url(plain, state_dir)
    if isinstance(location, SqliteLocation) and not location.path.exists():
        return []
    with open_history(plain, state_dir) as store:
        return recover_interrupted_runs(store)


def recover_interrupted_runs(store: HistoryStore) -> list[RunRecord]:
    """Record every dead controller's run as ``interrupted``; return the runs this call recorded.

    A run that ended with its results kept unrecorded is recorded from them instead
    (see the module). A run another process recorded meanwhile (a concurrent recovery)
    is not returned.
    """
    here = socket.gethostname()
    shared = store.history_url is not None
    recovered = []
    for run in store.runs(status=RunStatus.RUNNING):
        if run.pid is None:
            continue  # not a controller's run (an import being recorded)
        late = _record_late(store, run)
        if late is not None:
            if late.written:
                recovered.append(late.run)
            continue
        if not shared or run.controller in (None, here):
            if controller_alive(run.pid, run.process):
                continue
            # Saves reading the artifacts of a run that finished just before its exit, or
            # that another process recovered; `record_run` is what decides, atomically.
            current = store.get_run(run.id)
            if current is not None and current.status is RunStatus.RUNNING:
                found = _recover(store, current, local=True)
                if found is not None:
                    recovered.append(found)
        elif run.environments:
            found = _recover_foreign(store, run)
            if found is not None:
                recovered.append(found)
    return recovered


def _record_late(store: HistoryStore, run: RunRecord) -> Recorded | None:
    """Record the results `run` kept when the history could not take them; None if none.

    `record_run` decides atomically: of concurrent recoveries, one records them.
    """
    directory = run_directory(run)
    if directory is None:
        return None
    try:
        pending = read_pending(directory)
    except StoreError as exc:
        _log.warning("run %s: %s; judging the run without it", run.id, exc)
        return None
    if pending is None:
        return None
    ended = pending.recording.run
    if ended.id != run.id:
        _log.warning(
            "run %s: %s holds run %s, not this one; left untouched", run.id, directory, ended.id
        )
        return None
    note = (
        f"recorded late (at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC): the history could "
        f"not be written when the run ended ({pending.reason})"
    )
    told = replace(ended, message=f"{ended.message}; {note}" if ended.message else note)
    recorded = store.record_run(replace(pending.recording, run=told))
    try:
        remove_pending(directory)
    except OSError as exc:  # recorded all the same: the run is no longer looked at
        _log.warning(
            "run %s: recorded, but its kept results stay in %s: %s", run.id, directory, exc
        )
    if recorded.written:
        _log.info(
            "run %s: recorded late from %s",
            run.id,
            directory,
            extra={"event": "run_recorded_late", "run_id": run.id, "status": ended.status.value},
        )
    return recorded


def _recover_foreign(store: HistoryStore, run: RunRecord) -> RunRecord | None:
    """Recover another controller's run if, and while, none of its locks is held."""
    try:
        with environment_locks(
            Path(),  # unused: a shared history's locks are in its database
            run.environments,
            run_id=f"recovery of {run.id}",
            history_url=store.history_url,
        ):
            current = store.get_run(run.id)
            if current is None or current.status is not RunStatus.RUNNING:
                return None  # it finished before its locks were released
            return _recover(store, current, local=False)
    except LockHeldError:
        return None  # alive (or another controller is recovering it)


def _recover(store: HistoryStore, run: RunRecord, *, local: bool) -> RunRecord | None:
    """Record what a dead run's artifacts prove; None if another process recorded it first."""
    jobs = run_jobs(run)
    if local:
        for ident, _, _ in jobs:
            kill_run_processes(ident)  # a repeat finds none left: only the run's own are hit
        directory = run_directory(run)
        if directory is not None:
            remove_outside(directory, run.id)
    now = datetime.now(UTC)
    where = "" if local else f" on {run.controller}"
    note = f"the controller (pid {run.pid}{where}) died during the run"
    results: list[TaskResult] = []
    counts: dict[str, HostCounts] = {}
    records: list[MaintenanceRecord] = []
    read = False
    for _, artifact_dir, job_dir in jobs:
        parsed: ParsedRun | None = None
        if artifact_dir.is_dir():
            try:
                parsed = read_artifact_dir(artifact_dir)
            except EventsError as exc:
                note += f"; its artifacts are unreadable: {exc}"
        plays = _playbook(job_dir)
        if parsed is not None:
            results += parsed.results
            counts.update(parsed.counts)
            read = True
        if not run.check_mode:
            records += rollup(
                parsed.results if parsed is not None else (),
                _targets(plays),
                backup_expected=_backup_expected(plays),
                now=now,
                run_id=run.id,
                stopped_reason="the controller died",
                interrupted=_in_flight(artifact_dir, parsed),
            )
    if read:
        note += f"; recorded the {len(results)} task result(s) its artifacts hold"
    ended = replace(run, status=RunStatus.INTERRUPTED, finished=now, runner_rc=None, message=note)
    recorded = store.record_run(RunRecording(ended, results, counts, records))
    if not recorded.written:
        return None
    _log.warning(
        "run %s recovered: %s; recorded as interrupted",
        run.id,
        note,
        extra={"event": "run_recovered", "run_id": run.id, "status": ended.status.value},
    )
    return recorded.run


def run_jobs(run: RunRecord) -> list[tuple[str, Path, Path]]:
    """(job ident, artifact directory, job directory) of each job of a run.

    A run is one job (``runs/<id>/artifacts/<id>``) or one per slice
    (``runs/<id>/slices/<n>-<node>/artifacts/<id>-<n>``: see `agentmaint.ansible.slicing`).
    """
    if run.artifact_dir is None:
        return []
    if run.artifact_dir.name != SLICES_DIR:
        return [(run.id, run.artifact_dir, run.artifact_dir.parent.parent)]
    jobs = []
    slices = sorted(run.artifact_dir.iterdir()) if run.artifact_dir.is_dir() else []
    for job_dir in slices:
        index = job_dir.name.split("-", 1)[0]
        if job_dir.is_dir() and index.isdigit():
            ident = f"{run.id}-{index}"
            jobs.append((ident, job_dir / "artifacts" / ident, job_dir))
    return jobs


def _in_flight(artifact_dir: Path | None, parsed: ParsedRun | None) -> set[tuple[str, str, str]]:
    """(host, play, task) that started (``runner_on_start``) and never finished."""
    if artifact_dir is None or parsed is None:
        return set()
    started: set[tuple[str, str, str]] = set()
    # A fused task's result stands under the name of its last step (with the task's uuid).
    finished = {(r.host, r.task_uuid) for r in parsed.results}
    for path in (artifact_dir / "job_events").glob("*.json"):
        try:
            event = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a half-written last event: read_artifact_dir already noted it
        if isinstance(event, dict) and event.get("event") == "runner_on_start":
            data = event.get("event_data") or {}
            if (data.get("host"), data.get("task_uuid")) not in finished:
                started.add((str(data.get("host")), str(data.get("play")), str(data.get("task"))))
    return started - {(r.host, r.play, r.task) for r in parsed.results}


def _playbook(job_dir: Path) -> list[dict[str, Any]]:
    path = job_dir / "project" / PLAYBOOK_NAME
    try:
        plays = yaml.load(path.read_text(), Loader=_PlaybookLoader)
    except (OSError, yaml.YAMLError):
        return []
    return plays if isinstance(plays, list) else []


class _PlaybookLoader(yaml.SafeLoader):
    """Reads our generated playbooks: ``!unsafe`` scalars as plain strings."""


_PlaybookLoader.add_constructor(
    "!unsafe",
    lambda loader, node: loader.construct_scalar(node),  # type: ignore[arg-type]
)


def _targets(plays: list[dict[str, Any]]) -> tuple[Target, ...]:
    """What the run meant to do, from the playbook it rendered."""
    targets = []
    for play in plays:
        parsed = parse_play(str(play.get("name", "")))
        if parsed is not None:
            hosts = tuple(h for h in str(play.get("hosts", "")).split(",") if h)
            targets.append(Target(parsed[0], parsed[1], hosts))
    return tuple(targets)


def _backup_expected(plays: list[dict[str, Any]]) -> bool:
    return any(
        "agentmaint_backup" in str(task.get("ansible.builtin.import_role", {}))
        # a fused task takes the backup itself (`agentmaint.ansible.render.playbook`)
        or "agentmaint_fused_backup" in (task.get("vars") or {})
        for play in plays
        for task in play.get("tasks", [])
        if isinstance(task, dict)
    )
