"""Local hosts run in parallel under mitogen, whether or not they name their interpreter.

mitogen gives local hosts with the same interpreter one shared context, whose calls run
one at a time: without task isolation their tasks would run one host after the other.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.naming import task_name
from agentmaint.ansible.strategy import ENVIRONMENT_VARIABLE
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import Action, TaskStatus
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

HOSTS = ("h1", "h2", "h3")


def _schedule(directory: Path, *, named: bool) -> Path:
    meeting = directory / "meeting"
    meeting.mkdir()
    hosts = local_hosts(*HOSTS)
    if named:
        for variables in hosts.values():
            variables["ansible_python_interpreter"] = sys.executable
    # Each host's update arrives, then waits until every host has arrived: it can only
    # succeed when the three updates run at the same time (one after the other, the
    # first would give up after its 120 s and fail).
    arrive = f'touch {meeting}/"$AGENTMAINT_HOST"'
    wait = (
        f"for i in $(seq 1200); do "
        f'[ "$(ls {meeting} | wc -l)" -ge {len(HOSTS)} ] && exit 0; sleep 0.1; done; exit 1'
    )
    document: dict[str, Any] = always_open(
        hosts,
        {"app": {"update_command": f"{arrive}; {wait}", "frequency": "weekly"}},
        execution={"strategy": "mitogen_linear"},
    )
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize("named", [True, False], ids=["named-interpreter", "default-interpreter"])
def test_local_hosts_run_their_tasks_at_the_same_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named: bool
) -> None:
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    schedule = load_schedule(_schedule(tmp_path, named=named))
    result = run_maintenance(schedule)
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        results = store.task_results(result.run.id)
    updates = [t for t in results if t.task == task_name(Action.UPDATE, "app")]
    assert sorted(t.host for t in updates) == list(HOSTS)
    assert all(t.status is TaskStatus.CHANGED for t in updates), updates
    starts = [t.start for t in updates if t.start is not None]
    ends = [t.end for t in updates if t.end is not None]
    assert len(starts) == len(ends) == len(HOSTS)
    # Every update started before any of them ended: the three ran at the same time.
    assert max(starts) < min(ends)
