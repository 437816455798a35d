"""The fused path (one task per host and component) records what the per-task path records.

The same maintenance runs twice on local hosts, once with ``execution.fused`` (the
default) and once without, and the two histories are compared field by field, ids and
times aside: maintenance records (actions, outcomes, messages, rollbacks) and task results
(names, statuses, roles, modules, return codes, messages).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from agentmaint.run.results import RunResult
from tests.schedules import MakeSchedule, always_open, local_hosts

pytestmark = pytest.mark.integration

# h1 succeeds; h2's update fails (and is rolled back); h3's health check fails (rolled
# back); h4's backup fails (no update). `quiet` has no rollback command and a health check
# whose output lacks what it must contain, after a retry.
HOSTS = ("h1", "h2", "h3", "h4")
COMPONENTS: dict[str, Any] = {
    "app": {
        "update_command": 'echo "updating {{ x }}"; test "$AGENTMAINT_HOST" != h2 || exit 3',
        "rollback_command": "echo rolled back >&2",
        "healthcheck": {
            "command": 'test "$AGENTMAINT_HOST" != h3 || { echo sick >&2; exit 4; }',
            "retries": 1,
            "delay": "1s",
        },
        "frequency": "daily",
    },
    "quiet": {
        "update_command": "true",
        "healthcheck": {"command": "echo fine", "contains": "ready", "retries": 1, "delay": "1s"},
        "frequency": "daily",
    },
}


def _run(make_schedule: MakeSchedule, tmp_path: Path, *, fused: bool, check: bool) -> Any:
    state = tmp_path / ("fused" if fused else "tasks")
    schedule = make_schedule(
        always_open(
            local_hosts(*HOSTS),
            COMPONENTS,
            backup={
                "pre_update": True,
                "backup_command": 'test "$AGENTMAINT_HOST" != h4 || exit 5',
            },
            execution={"fused": fused},
            state_dir=str(state),
        )
    )
    result = run_maintenance(schedule, force=True, check=check)
    project = next((state / "runs").glob("*/project"))
    playbook = (project / "maintenance.yml").read_text()
    # the two ways really differ: one task per host, or one per step
    assert ("tasks_from: fused" in playbook) is fused
    return _shape(schedule.state_dir, result)


def _shape(state_dir: Path, result: RunResult) -> tuple[Any, ...]:
    assert result.run is not None
    with HistoryStore.open(state_dir) as store:
        records = sorted(
            (r.environment, r.server, r.component, r.action.value, r.status.value, r.error)
            for r in store.records(run_id=result.run.id)
        )
        tasks = Counter(
            (t.host, t.play, t.task, t.status.value, t.role, t.module, t.rc, t.message)
            for t in store.task_results(result.run.id)
        )
    return result.run.status, result.failed_hosts, records, tasks


def test_fused_and_per_task_histories_are_identical(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    fused = _run(make_schedule, tmp_path, fused=True, check=False)
    per_task = _run(make_schedule, tmp_path, fused=False, check=False)
    status, failed, records, tasks = fused
    assert status is RunStatus.FAILED
    assert failed == ("h2", "h3", "h4", "h1")
    # what each host went through, as the per-task path records it
    # (the schedule's text ran literally: no template)
    update = (
        "fleet",
        "h2",
        "app",
        "update",
        "failed",
        "non-zero return code (3): updating {{ x }}",
    )
    assert update in records
    assert ("fleet", "h2", "app", "rollback", "success", None) in records
    assert ("fleet", "h3", "app", "healthcheck", "failed", "non-zero return code (4): sick") in (
        records
    )
    assert ("fleet", "h3", "app", "rollback", "success", None) in records
    assert (
        "fleet",
        "h4",
        "app",
        "backup",
        "failed",
        "run the backup command: non-zero return code 5 from test",
    ) in records
    assert ("fleet", "h1", "quiet", "healthcheck", "failed", "fine") in records
    assert fused[:2] == per_task[:2]
    assert set(records) - set(per_task[2]) == set()
    assert set(per_task[2]) - set(records) == set()
    assert records == per_task[2]
    assert set(tasks) - set(per_task[3]) == set()
    assert set(per_task[3]) - set(tasks) == set()
    assert tasks == per_task[3]


def test_fused_and_per_task_check_mode_are_identical(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    fused = _run(make_schedule, tmp_path, fused=True, check=True)
    per_task = _run(make_schedule, tmp_path, fused=False, check=True)
    # Nothing ran, so the health check of `quiet` lacks its text on every host, both ways.
    assert fused[:2] == per_task[:2]
    assert fused[1] == HOSTS
    assert fused[3] == per_task[3]
    assert ("h1", "Maintain app | fleet", "Update | app") in {key[:3] for key in fused[3]}
