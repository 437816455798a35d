"""The fused path (one task per host and component) records what the per-task path records.

The same maintenance runs twice on local hosts, once with ``execution.fused`` (the
default) and once without, and the two histories are compared field by field, ids and
times aside: maintenance records (actions, outcomes, messages, rollbacks) and task results
(names, statuses, roles, modules, return codes, messages).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from agentmaint.run.results import RunResult
from tests.cancelling import run_cancelled_when
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


def _four_hosts(make_schedule: MakeSchedule, state: Path, execution: dict[str, Any]) -> Schedule:
    """The four hosts with `COMPONENTS`, a backup that fails on h4, state kept in `state`."""
    return make_schedule(
        always_open(
            local_hosts(*HOSTS),
            COMPONENTS,
            backup={
                "pre_update": True,
                "backup_command": 'test "$AGENTMAINT_HOST" != h4 || exit 5',
            },
            execution=execution,
            state_dir=str(state),
        )
    )


def _run(
    make_schedule: MakeSchedule,
    tmp_path: Path,
    *,
    fused: bool,
    check: bool,
    background: bool = False,
    pipelining: bool = True,
) -> Any:
    state = tmp_path / ("background" if background else "fused" if fused else "tasks")
    # one fork for four hosts: the fused plays run in the background
    execution: dict[str, Any] = {
        "fused": fused,
        "pipelining": pipelining,
        **({"forks": 1, "background": True} if background else {}),
    }
    schedule = _four_hosts(make_schedule, state, execution)
    result = run_maintenance(schedule, force=True, check=check)
    playbook = _played(state, result)
    # the two ways really differ: one task per host, or one per step
    assert ("tasks_from: fused" in playbook) is fused
    assert ("tasks_from: fused_async" in playbook) is background
    if fused:
        # local hosts under Ansible's linear strategy: with pipelining the role's action
        # runs the module's code directly (a result without `invocation`), else AnsiballZ;
        # in the background both the start and every wait
        assert _fused_invocations(state) == {not pipelining}
    return _shape(schedule.state_dir, result)


def _fused_invocations(state: Path) -> set[bool]:
    """Whether each fused task's result carried ``invocation`` (only AnsiballZ adds it)."""
    seen = set()
    for path in state.glob("runs/*/artifacts/*/job_events/*.json"):
        data = json.loads(path.read_text()).get("event_data", {})
        if data.get("task_action", "").endswith("agentmaint_fused") and "res" in data:
            seen.add("invocation" in data["res"])
    return seen


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


@pytest.mark.parametrize("pipelining", [True, False], ids=["direct", "module"])
def test_fused_and_per_task_histories_are_identical(
    make_schedule: MakeSchedule, tmp_path: Path, pipelining: bool
) -> None:
    fused = _run(make_schedule, tmp_path, fused=True, check=False, pipelining=pipelining)
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


@pytest.mark.parametrize("pipelining", [True, False], ids=["direct", "module"])
def test_background_and_per_task_histories_are_identical(
    make_schedule: MakeSchedule, tmp_path: Path, pipelining: bool
) -> None:
    background = _run(
        make_schedule, tmp_path, fused=True, check=False, background=True, pipelining=pipelining
    )
    per_task = _run(make_schedule, tmp_path, fused=False, check=False)
    assert background[:3] == per_task[:3]
    # the one task of its own: each host's start of its background job
    launches = {
        key: n
        for key, n in background[3].items()
        if key[2].startswith("Started in the background | ")
    }
    assert len(launches) == 5  # app on the four hosts, quiet on h1 (the others failed app)
    assert background[3] - Counter(launches) == per_task[3]


@pytest.mark.parametrize(
    "execution",
    [
        pytest.param({"forks": 1, "background": True}, id="background"),
        # Local hosts naming agentmaint's Python: each host's worker runs the steps itself.
        pytest.param({"forks": 3}, id="in-the-workers"),
    ],
)
def test_a_canceled_run_leaves_no_process(
    make_schedule: MakeSchedule, tmp_path: Path, execution: dict[str, Any]
) -> None:
    gate = tmp_path / "gate"  # never created: the updates wait until they are ended
    pids = tmp_path / "pids"
    pids.mkdir()
    update = (
        f'echo $$ > {pids}/"$AGENTMAINT_HOST"; '
        f"for i in $(seq 1200); do test -e {gate} && break; sleep 0.1; done"
    )
    schedule = make_schedule(
        always_open(
            local_hosts(*HOSTS[:3]),
            {"app": {"update_command": update, "frequency": "daily"}},
            execution=execution,
            state_dir=str(tmp_path / "state"),
        )
    )
    result, _ = run_cancelled_when(schedule, lambda: len(list(pids.iterdir())) == 3)
    assert result.run is not None and result.run.status is RunStatus.CANCELED
    started = {p.name: int(p.read_text()) for p in pids.iterdir()}
    assert sorted(started) == list(HOSTS[:3])
    for pid in started.values():
        assert not _alive(pid), f"update {pid} outlived the canceled run"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has ended


def test_local_hosts_on_agentmaints_python_run_their_steps_in_the_worker(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    # h2 names another Python (a wrapper of this one): its own process runs the program.
    other = tmp_path / "python"
    other.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    other.chmod(0o755)
    hosts = local_hosts("h1", "h2")
    hosts["h2"]["ansible_python_interpreter"] = str(other)
    state = tmp_path / "state"
    schedule = make_schedule(
        always_open(
            hosts,
            {
                "app": {
                    # the update's parent: what started its shell
                    "update_command": "tr '\\000' ' ' < /proc/$PPID/cmdline",
                    "frequency": "daily",
                }
            },
            state_dir=str(state),
        )
    )
    result = run_maintenance(schedule, force=True)
    assert result.run is not None and result.run.status is RunStatus.SUCCESSFUL
    parents = {}
    for path in state.glob("runs/*/artifacts/*/job_events/*.json"):
        data = json.loads(path.read_text()).get("event_data", {})
        if data.get("task_action", "").endswith("agentmaint_fused") and "res" in data:
            parents[data["host"]] = data["res"]["agentmaint_steps"][0]["stdout"].split()
    assert sorted(parents) == ["h1", "h2"]
    # h1: Ansible's worker (a fork of ansible-playbook, no Python started for the host)
    assert any(word.endswith("ansible-playbook") for word in parents["h1"])
    assert "-S" not in parents["h1"]
    # h2: the host's own Python, started with -S for the program, as before
    assert "-S" in parents["h2"]
    assert not any(word.endswith("ansible-playbook") for word in parents["h2"])


def _played(state: Path, result: RunResult) -> str:
    """The playbook a run rendered (its tasks_from says waves or background)."""
    assert result.run is not None
    return (state / "runs" / result.run.id / "project" / "maintenance.yml").read_text()


def test_auto_starts_in_the_background_and_records_what_the_waves_record(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    # execution.background unset (auto), more hosts than forks, nothing recorded yet: the
    # first cycle goes to the background; its history is the waves' (the starts aside).
    shapes = {}
    for mode in ("auto", "waves"):
        state = tmp_path / mode
        execution: dict[str, Any] = {"forks": 2}
        if mode == "waves":
            execution["background"] = False
        schedule = _four_hosts(make_schedule, state, execution)
        assert schedule.execution.background is (False if mode == "waves" else None)
        result = run_maintenance(schedule, force=True)
        playbook = _played(state, result)
        assert playbook.count("tasks_from: fused_async") == (2 if mode == "auto" else 0)
        assert playbook.count("tasks_from: fused\n") == (0 if mode == "auto" else 2)
        shapes[mode] = _shape(schedule.state_dir, result)
    auto, waves = shapes["auto"], shapes["waves"]
    assert auto[:3] == waves[:3]
    launches = Counter(
        {key: n for key, n in auto[3].items() if key[2].startswith("Started in the background | ")}
    )
    assert len(launches) == 5  # app on the four hosts, quiet on h1 (the others failed app)
    assert auto[3] - launches == waves[3]


def test_auto_takes_the_waves_once_the_history_says_updates_are_short(
    make_schedule: MakeSchedule, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentmaint.run.background_choice")
    state = tmp_path / "state"
    schedule = make_schedule(
        always_open(
            local_hosts(*HOSTS),
            {"app": {"update_command": "true", "frequency": "daily"}},
            execution={"forks": 2},
            state_dir=str(state),
        )
    )
    first = run_maintenance(schedule, force=True)
    second = run_maintenance(schedule, force=True)
    assert "tasks_from: fused_async" in _played(state, first)
    assert "tasks_from: fused_async" not in _played(state, second)
    assert "tasks_from: fused\n" in _played(state, second)
    said = [r.getMessage() for r in caplog.records]
    assert any("in the background: no duration recorded" in s for s in said), said
    assert any("in waves of forks: recorded" in s for s in said), said
    # both cycles recorded the same updates
    assert _shape(schedule.state_dir, first)[:3] == _shape(schedule.state_dir, second)[:3]
