"""Runs whose controller died (SIGKILL, power loss): found later and recorded truthfully.

A run is stored as ``running`` when it starts. If its controller dies, nothing
finishes it; the next agentmaint command that opens the history calls
`recover_interrupted_runs`, which, for every ``running`` run whose controller
process is gone:

1. ends whatever Ansible processes of the run are still alive (ansible-playbook
   and its workers outlive their controller);
2. reads what the run's artifact directory holds (ansible-runner's callback
   writes every event to disk as it happens) and records those results;
3. marks the run ``interrupted``. Its environment locks were already released by
   the kernel when the controller died (see `agentmaint.locks`).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agentmaint.events import EventsError, ParsedRun, read_artifact_dir
from agentmaint.records import RunRecord, RunStatus
from agentmaint.render import PLAYBOOK_NAME, Target
from agentmaint.rollup import parse_play, rollup
from agentmaint.runner import kill_run_processes, process_alive
from agentmaint.store import HistoryStore


def recover_interrupted_runs(store: HistoryStore) -> list[RunRecord]:
    """Record every dead controller's run as ``interrupted``; return those runs."""
    recovered = []
    for run in store.runs(status=RunStatus.RUNNING):
        if run.pid is None or run.pid == os.getpid() or process_alive(run.pid):
            continue
        recovered.append(_recover(store, run))
    return recovered


def _recover(store: HistoryStore, run: RunRecord) -> RunRecord:
    kill_run_processes(run.id)
    now = datetime.now(UTC)
    parsed: ParsedRun | None = None
    note = f"the controller (pid {run.pid}) died during the run"
    if run.artifact_dir is not None and run.artifact_dir.is_dir():
        try:
            parsed = read_artifact_dir(run.artifact_dir)
        except EventsError as exc:
            note += f"; its artifacts are unreadable: {exc}"
    plays = _playbook(run)
    if parsed is not None:
        store.add_task_results(run.id, parsed.results)
        store.set_host_counts(run.id, parsed.counts)
        note += f"; recorded the {len(parsed.results)} task result(s) its artifacts hold"
    if not run.check_mode:
        store.add_records(
            run.id,
            rollup(
                parsed.results if parsed is not None else (),
                _targets(plays),
                backup_expected=_backup_expected(plays),
                now=now,
                run_id=run.id,
                stopped_reason="the controller died",
                interrupted=_in_flight(run.artifact_dir, parsed),
            ),
        )
    store.finish_run(run.id, RunStatus.INTERRUPTED, finished=now, runner_rc=None, message=note)
    return store.get_run(run.id) or run


def _in_flight(artifact_dir: Path | None, parsed: ParsedRun | None) -> set[tuple[str, str, str]]:
    """(host, play, task) that started (``runner_on_start``) and never finished."""
    if artifact_dir is None or parsed is None:
        return set()
    started: set[tuple[str, str, str]] = set()
    for path in (artifact_dir / "job_events").glob("*.json"):
        try:
            event = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a half-written last event: read_artifact_dir already noted it
        if isinstance(event, dict) and event.get("event") == "runner_on_start":
            data = event.get("event_data") or {}
            started.add((str(data.get("host")), str(data.get("play")), str(data.get("task"))))
    return started - {(r.host, r.play, r.task) for r in parsed.results}


def _playbook(run: RunRecord) -> list[dict[str, Any]]:
    if run.artifact_dir is None:
        return []
    path = run.artifact_dir.parent.parent / "project" / PLAYBOOK_NAME
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
        for play in plays
        for task in play.get("tasks", [])
        if isinstance(task, dict)
    )
