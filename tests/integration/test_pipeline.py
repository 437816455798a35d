"""Real ansible-runner runs through the whole pipeline, with the stored history checked after."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.runner import run_processes
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.planning.planner import Plan, plan
from agentmaint.records import Action, Outcome, RunRecord, RunStatus, TaskStatus
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import Progress, RunResult
from tests.schedules import MakeSchedule, always_open, local_hosts

pytestmark = pytest.mark.integration
H = ("h1", "h2", "h3")


def records_by(store: HistoryStore, run_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {
        (r.server, r.action.value): (r.status.value, r.error) for r in store.records(run_id=run_id)
    }


def test_success_then_not_due(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    schedule = make_schedule(
        always_open(
            local_hosts(*H),
            {
                "app": {
                    "update_command": f"echo updated > {out}/$AGENTMAINT_HOST",
                    "frequency": "weekly",
                },
            },
        )
    )
    result = run_maintenance(schedule)
    assert result.run is not None
    assert result.run.status is RunStatus.SUCCESSFUL
    assert result.succeeded and result.failed_hosts == ()
    assert sorted(p.name for p in out.iterdir()) == list(H)
    with HistoryStore.open(schedule.state_dir) as store:
        records = records_by(store, result.run.id)
        assert records == {(h, "update"): ("success", None) for h in H}
        # The history decides the next plan: tomorrow a weekly component is not due.
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        (decision,) = plan(schedule, store, tomorrow).decisions
        assert not decision.due
        assert decision.reason.startswith("weekly, last success")
        counts = store.host_counts(result.run.id)
        assert {h: counts[h].changed for h in H} == {"h1": 1, "h2": 1, "h3": 1}
    assert run_processes(result.run.id) == []


def test_one_failing_host_of_three(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts(*H),
            {
                "app": {
                    "update_command": 'test "$AGENTMAINT_HOST" != h2 || { echo boom >&2; exit 3; }',
                    "frequency": "weekly",
                },
            },
        )
    )
    result = run_maintenance(schedule)
    assert result.run is not None and result.run.status is RunStatus.FAILED
    assert result.failed_hosts == ("h2",)
    with HistoryStore.open(schedule.state_dir) as store:
        records = records_by(store, result.run.id)
        assert records[("h1", "update")] == ("success", None)
        assert records[("h3", "update")] == ("success", None)
        status, error = records[("h2", "update")]
        assert status == "failed"
        assert error == "non-zero return code (3): boom"  # what the command said
        tasks = store.task_results(result.run.id)
        h2 = [t for t in tasks if t.host == "h2" and t.task == "Update | app"]
        assert h2[0].rc == 3
        # The failed host is due again in the next window; the others are not.
        (decision,) = plan(schedule, store, datetime.now(UTC) + timedelta(days=1)).decisions
        assert decision.servers == ("h2",)


def test_unreachable_host(make_schedule: MakeSchedule) -> None:
    hosts = local_hosts("h1")
    hosts["dead"] = {
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_ssh_common_args": "-o ConnectTimeout=3",
    }
    schedule = make_schedule(
        always_open(hosts, {"app": {"update_command": "true", "frequency": "daily"}})
    )
    result = run_maintenance(schedule)
    assert result.failed_hosts == ("dead",)
    with HistoryStore.open(schedule.state_dir) as store:
        assert result.run is not None
        records = records_by(store, result.run.id)
        assert records[("h1", "update")] == ("success", None)
        assert records[("dead", "update")][0] == "unreachable"
        assert store.host_counts(result.run.id)["dead"].unreachable == 1


def test_failed_backup_means_no_update(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    marker = tmp_path / "updated"
    marker.mkdir()
    schedule = make_schedule(
        always_open(
            local_hosts(*H),
            {"app": {"update_command": f"touch {marker}/$AGENTMAINT_HOST", "frequency": "weekly"}},
            backup={
                "pre_update": True,
                "retention_days": 7,
                "backup_command": 'test "$AGENTMAINT_HOST" != h3',
            },
        )
    )
    result = run_maintenance(schedule)
    assert sorted(p.name for p in marker.iterdir()) == ["h1", "h2"]  # h3 never updated
    with HistoryStore.open(schedule.state_dir) as store:
        assert result.run is not None
        records = records_by(store, result.run.id)
        assert records[("h3", "backup")][0] == "failed"
        assert records[("h3", "update")] == ("skipped", "not updated: backup failed")
        assert records[("h1", "backup")] == ("success", None)
        assert records[("h1", "update")] == ("success", None)
    assert result.failed_hosts == ("h3",)


def test_failed_healthcheck_rolls_back(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for host in H:
        (state / host).write_text("v1")
    schedule = make_schedule(
        always_open(
            local_hosts(*H),
            {
                "app": {
                    "update_command": f"echo v2 > {state}/$AGENTMAINT_HOST",
                    "healthcheck": {
                        "command": f'test "$AGENTMAINT_HOST" != h1 && cat {state}/h2',
                        "contains": "v2",
                        "retries": 1,
                        "delay": "1s",
                    },
                    "rollback_command": f"echo v1 > {state}/$AGENTMAINT_HOST",
                    "frequency": "weekly",
                },
            },
        )
    )
    result = run_maintenance(schedule)
    assert (state / "h1").read_text().strip() == "v1"  # rolled back
    assert (state / "h2").read_text().strip() == "v2"
    with HistoryStore.open(schedule.state_dir) as store:
        assert result.run is not None
        records = records_by(store, result.run.id)
        assert records[("h1", "update")] == ("success", None)
        assert records[("h1", "healthcheck")][0] == "failed"
        assert records[("h1", "rollback")] == ("success", None)
        assert ("h2", "rollback") not in records
        assert records[("h2", "healthcheck")] == ("success", None)
        rescued = [
            t
            for t in store.task_results(result.run.id)
            if t.host == "h1" and t.status is TaskStatus.RESCUED
        ]
        assert [t.task for t in rescued] == ["Healthcheck | app"]
    (outcome,) = [o for o in result.outcomes if o.host == "h1"]
    assert outcome.status is Outcome.FAILED and outcome.rolled_back
    assert result.failed_hosts == ("h1",)


def test_serial_with_max_fail_percentage_stops_rollout(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    done = tmp_path / "done"
    done.mkdir()
    hosts = local_hosts("h1", "h2", "h3", "h4")
    schedule = make_schedule(
        always_open(
            hosts,
            {
                "app": {
                    "update_command": (
                        f'touch {done}/$AGENTMAINT_HOST; test "$AGENTMAINT_HOST" != h2'
                    ),
                    "frequency": "weekly",
                }
            },
            environment={"rollout": {"serial": 1, "max_fail_percentage": 0}},
        )
    )
    result = run_maintenance(schedule)
    assert sorted(p.name for p in done.iterdir()) == ["h1", "h2"]  # stopped after h2's batch
    with HistoryStore.open(schedule.state_dir) as store:
        assert result.run is not None
        records = records_by(store, result.run.id)
        assert records[("h1", "update")] == ("success", None)
        assert records[("h2", "update")][0] == "failed"
        for host in ("h3", "h4"):
            assert records[(host, "update")][0] == "skipped"
        (decision,) = plan(schedule, store, datetime.now(UTC) + timedelta(days=1)).decisions
        assert decision.servers == ("h2", "h3", "h4")


def test_injection_is_literal(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    command = f"printf '%s' \"{{{{ lookup('pipe', 'id') }}}}\" > {out}"
    schedule = make_schedule(
        always_open(
            local_hosts("h1"),
            {
                "app": {"update_command": command, "frequency": "weekly"},
            },
        )
    )
    result = run_maintenance(schedule)
    assert result.succeeded
    assert out.read_text() == "{{ lookup('pipe', 'id') }}"


def test_check_mode_records_nothing_as_updated(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    out = tmp_path / "out"
    schedule = make_schedule(
        always_open(
            local_hosts("h1"),
            {
                "app": {"update_command": f"touch {out}", "frequency": "weekly"},
            },
        )
    )
    result = run_maintenance(schedule, check=True)
    assert not out.exists()
    assert result.run is not None and result.run.check_mode
    with HistoryStore.open(schedule.state_dir) as store:
        assert store.records(run_id=result.run.id) == []
        (decision,) = plan(schedule, store, datetime.now(UTC)).decisions
        assert decision.due


def test_rendered_files_pass_ansible_checks(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    schedule = make_schedule(
        always_open(
            {
                **local_hosts("h1"),
                "web.example.com": {"ansible_host": "192.0.2.7", "ansible_port": 2222},
            },
            {
                "app": {
                    "update_command": "echo '{{ x }}' ---\n--- !!python/object {a: b}",
                    "healthcheck": {"url": "http://127.0.0.1:9/health", "contains": "{{ ok }}"},
                    "rollback_command": "true",
                    "frequency": "weekly",
                }
            },
            backup={"pre_update": True, "backup_command": "tar czf /tmp/x.tgz /etc/hostname"},
            environment={"rollout": {"serial": "50%", "max_fail_percentage": 25}},
        )
    )
    out = tmp_path / "rendered"
    from agentmaint.cli import main

    assert main(["render", str(Path(schedule.source)), "--out", str(out)]) == 0
    bin_dir = Path(sys.executable).parent
    inventory = out / "inventory" / "hosts.yml"
    book = out / "project" / "maintenance.yml"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "ANSIBLE_CONFIG": str(out / "project" / "ansible.cfg"),
    }
    syntax = subprocess.run(
        [bin_dir / "ansible-playbook", "--syntax-check", "-i", inventory, book],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert syntax.returncode == 0, syntax.stderr
    listing = subprocess.run(
        [bin_dir / "ansible-inventory", "-i", inventory, "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    document = yaml.safe_load(listing.stdout)
    assert sorted(document["fleet"]["hosts"]) == ["h1", "web.example.com"]
    text = book.read_text()
    assert "!unsafe 'echo ''{{ x }}'' ---" in text
    play = yaml.load(text, Loader=_UnsafeLoader)[0]
    assert play["serial"] == "50%" and play["max_fail_percentage"] == 25
    update_block = play["tasks"][1]
    assert update_block["block"][0]["ansible.builtin.import_role"] == {
        "name": "agentmaint_command",
        "rolespec_validate": False,  # checked when the schedule was loaded
    }
    assert play["tasks"][0]["ansible.builtin.import_role"]["tasks_from"] == "command"
    assert update_block["block"][1]["ansible.builtin.import_role"]["tasks_from"] == "http"
    assert update_block["block"][0]["vars"]["agentmaint_command_update"] == (
        "echo '{{ x }}' ---\n--- !!python/object {a: b}"
    )


class _UnsafeLoader(yaml.SafeLoader):
    pass


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def test_action_enum_matches_rendered_names() -> None:
    from agentmaint.ansible.naming import parse_task, task_name

    for action in Action:
        assert parse_task(task_name(action, "x")) is action


def test_timeout_is_recorded_and_nothing_left_running(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts("h1", "h2"),
            {
                "app": {
                    "update_command": f"touch {tmp_path}/started-$AGENTMAINT_HOST; sleep 300",
                    "frequency": "weekly",
                }
            },
            execution={"timeout": "8s"},
        )
    )
    result = run_maintenance(schedule)
    assert result.run is not None
    assert result.run.status is RunStatus.TIMEOUT
    assert run_processes(result.run.id) == []
    assert not result.succeeded
    with HistoryStore.open(schedule.state_dir) as store:
        stored = store.get_run(result.run.id)
        assert stored is not None and stored.status is RunStatus.TIMEOUT
        records = {r.server: (r.status, r.error) for r in store.records(run_id=result.run.id)}
        # An update that had started may have half-changed its host: a failure, not a skip.
        # (Under load a host may not have reached its update before the timeout.)
        for host in ("h1", "h2"):
            if (tmp_path / f"started-{host}").exists():
                assert records[host] == (Outcome.FAILED, "interrupted while running: run timeout")
            else:  # reached (runner_on_start) but not yet running the command, or not reached
                assert records[host] in {
                    (Outcome.FAILED, "interrupted while running: run timeout"),
                    (Outcome.SKIPPED, "run timeout"),
                }, records[host]
        assert any((tmp_path / f"started-{h}").exists() for h in ("h1", "h2"))
        # Failed or skipped: both hosts are due again in the next window.
        (decision,) = plan(schedule, store, datetime.now(UTC) + timedelta(days=1)).decisions
        assert decision.servers == ("h1", "h2")


def test_status_changes_and_retention(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts("h1"),
            {"app": {"update_command": "true", "frequency": "daily"}},
            history={"retention_days": 30},
        )
    )
    old_dir = schedule.state_dir / "runs" / "20200101T000000Z-old"
    (old_dir / "artifacts" / "20200101T000000Z-old").mkdir(parents=True)
    with HistoryStore.open(schedule.state_dir) as store:
        from agentmaint.history.store import RunRecording
        from agentmaint.records import RunRecord

        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        old_run = RunRecord(
            id="20200101T000000Z-old",
            trigger="schedule",
            started=long_ago,
            status=RunStatus.SUCCESSFUL,
            finished=long_ago,
            runner_rc=0,
            artifact_dir=old_dir / "artifacts" / "20200101T000000Z-old",
        )
        assert store.record_run(RunRecording(old_run)).written
    statuses: list[str] = []

    class Statuses(BaseObserver):
        def status_changed(self, status: str) -> None:
            statuses.append(status)

    result = run_maintenance(schedule, observers=[Statuses()])
    assert statuses[0] == "starting" and statuses[-1] == "successful"
    assert not old_dir.exists()  # pruned with its run
    with HistoryStore.open(schedule.state_dir) as store:
        assert [r.id for r in store.runs()] == [result.run.id if result.run else ""]


def test_failed_rollback_marks_the_host_for_attention(make_schedule: MakeSchedule) -> None:
    from agentmaint.config.schedule import NotifyEvent
    from agentmaint.notify import render_text, summarize

    schedule = make_schedule(
        always_open(
            local_hosts("h1", "h2"),
            {
                "app": {
                    "update_command": 'test "$AGENTMAINT_HOST" != h1',
                    "rollback_command": "echo cannot restore >&2; exit 4",
                    "frequency": "weekly",
                },
            },
        )
    )
    result = run_maintenance(schedule)
    (h1,) = [o for o in result.outcomes if o.host == "h1"]
    assert h1.status is Outcome.FAILED and h1.needs_attention
    attention = {o["host"]: o["needs_attention"] for o in result.to_dict()["outcomes"]}
    assert attention == {"h1": True, "h2": False}
    with HistoryStore.open(schedule.state_dir) as store:
        assert result.run is not None
        records = records_by(store, result.run.id)
        assert records[("h1", "update")][0] == "failed"
        assert records[("h1", "rollback")][0] == "failed"
    text = render_text(summarize(schedule, result, NotifyEvent.PARTIAL))
    assert "h1 (fleet/app): rollback failed (NEEDS ATTENTION" in text


def test_an_observer_sees_the_whole_run_after_the_history(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts(*H),
            {"app": {"update_command": "true", "frequency": "weekly"}},
        )
    )
    seen: dict[str, Any] = {"tasks": []}

    class Watch(BaseObserver):
        def run_started(self, run: RunRecord, plan: Plan) -> None:
            seen["started"] = run
            with HistoryStore.open(schedule.state_dir) as store:
                stored = store.get_run(run.id)
            seen["stored_at_start"] = stored.status if stored else None

        def task_finished(self, progress: Progress) -> None:
            seen["tasks"].append((progress.host, progress.action, progress.result.status))

        def run_finished(self, result: RunResult) -> None:
            assert result.run is not None
            seen["finished"] = result
            with HistoryStore.open(schedule.state_dir) as store:
                stored = store.get_run(result.run.id)
                seen["stored_at_end"] = stored.status if stored else None
                seen["records_at_end"] = len(store.records(run_id=result.run.id))

    result = run_maintenance(schedule, observers=[Watch()])
    assert result.run is not None and result.run.status is RunStatus.SUCCESSFUL
    assert seen["started"].id == result.run.id
    assert seen["stored_at_start"] is RunStatus.RUNNING  # the recorder ran first
    assert sorted(seen["tasks"]) == [(h, Action.UPDATE, TaskStatus.CHANGED) for h in H]
    assert seen["finished"].records == result.records  # the very result returned
    assert seen["stored_at_end"] is RunStatus.SUCCESSFUL  # recorded before we were told
    assert seen["records_at_end"] == len(H)
    assert len(result.task_results) == len(H)


def test_a_run_canceled_before_its_jobs_start_touches_no_host(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    schedule = make_schedule(
        always_open(
            local_hosts(*H),
            {"app": {"update_command": f"touch {out}/$AGENTMAINT_HOST", "frequency": "weekly"}},
        )
    )
    cancel = threading.Event()

    class CancelAtStart(BaseObserver):
        def run_started(self, run: RunRecord, plan: Plan) -> None:
            cancel.set()  # what SIGTERM during the start notification does

    result = run_maintenance(schedule, cancel=cancel, observers=[CancelAtStart()])
    assert result.run is not None and result.run.status is RunStatus.CANCELED
    assert list(out.iterdir()) == []  # no host was touched
    with HistoryStore.open(schedule.state_dir) as store:
        stored = store.get_run(result.run.id)
        assert stored is not None and stored.status is RunStatus.CANCELED
        assert store.task_results(result.run.id) == []
        # Every host is still due: nothing was done.
        (decision,) = plan(schedule, store, datetime.now(UTC)).decisions
        assert decision.due and sorted(decision.servers) == list(H)
