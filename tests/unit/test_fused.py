"""The fused path without Ansible: what the renderer writes and what the parser reads back."""

from __future__ import annotations

from typing import Any

from agentmaint.ansible.events import EventParser
from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import Background, Unsafe, can_fuse, dump_yaml, playbook
from agentmaint.records import TaskStatus
from tests.schedules import MakeSchedule, always_open, local_hosts

TEMPLATE = "echo {{ lookup('pipe', 'id') }}"


def _schedule(make_schedule: MakeSchedule, **component: Any) -> Any:
    app = {"update_command": TEMPLATE, "frequency": "daily", **component}
    return make_schedule(
        always_open(
            local_hosts("h1", "h2", "h3"),
            {"app": app},
            backup={"pre_update": True, "backup_command": "backup {{ x }}"},
        )
    )


def test_a_command_component_is_one_task_with_its_strings_unsafe(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _schedule(
        make_schedule, rollback_command="undo", healthcheck={"command": "check", "retries": 2}
    )
    assert can_fuse(schedule, schedule.components["app"])
    target = Target("fleet", "app", ("h1", "h2", "h3"))
    (play,) = playbook(schedule, [target], run_id="r1", fused=True)
    (task,) = play["tasks"]
    assert task["name"] == "Update | app"
    assert task["ansible.builtin.import_role"]["tasks_from"] == "fused"
    variables = task["vars"]
    assert variables["agentmaint_command_update"] == TEMPLATE
    assert isinstance(variables["agentmaint_command_update"], Unsafe)
    assert isinstance(variables["agentmaint_fused_backup"], Unsafe)
    assert variables["agentmaint_fused_healthcheck_retries"] == 2
    assert (
        variables["agentmaint_fused_failure_msg"]
        == "app: update or health check failed; rolled back"
    )
    assert "agentmaint_command_update: !unsafe 'echo {{ lookup(''pipe''" in dump_yaml([play])
    # per task unless asked
    (plain,) = playbook(schedule, [target], run_id="r1")
    assert "block" in plain["tasks"][-1]


def test_more_hosts_than_forks_go_to_the_background(make_schedule: MakeSchedule) -> None:
    schedule = _schedule(make_schedule)
    target = Target("fleet", "app", ("h1", "h2", "h3"))
    (play,) = playbook(
        schedule, [target], run_id="r1", fused=True, background=Background(forks=2, timeout=60)
    )
    (task,) = play["tasks"]
    assert task["ansible.builtin.import_role"]["tasks_from"] == "fused_async"
    assert task["vars"]["agentmaint_fused_async"] == 60
    (fits,) = playbook(
        schedule, [target], run_id="r1", fused=True, background=Background(forks=3, timeout=60)
    )
    assert fits["tasks"][0]["ansible.builtin.import_role"]["tasks_from"] == "fused"


def test_other_roles_and_path_backups_keep_their_tasks(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts("h1"),
            {
                "app": {
                    "update_command": "true",
                    "frequency": "daily",
                    "healthcheck": {"url": "http://x/"},
                }
            },
        )
    )
    assert not can_fuse(schedule, schedule.components["app"])


def _event(name: str, counter: int, host: str, res: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": name,
        "counter": counter,
        "event_data": {
            "host": host,
            "task": "Update | app",
            "task_uuid": "t-1",
            "play": "Maintain app | fleet",
            "play_uuid": "p-1",
            "task_action": "agentmaint_fused",
            "role": "agentmaint_command",
            "res": res,
        },
    }


def _step(action: str, rc: int, **extra: Any) -> dict[str, Any]:
    return {
        "action": action,
        "cmd": f"{action}-command",
        "rc": rc,
        "stdout": "",
        "stderr": "",
        "start": "2026-12-06T00:00:00+00:00",
        "end": "2026-12-06T00:00:01+00:00",
        "changed": action != "healthcheck",
        "failed": rc != 0,
        "skipped": False,
        "msg": "non-zero return code" if rc else "",
        **extra,
    }


def test_the_steps_read_back_as_the_per_task_results() -> None:
    parser = EventParser()
    parser.feed(
        {"event": "playbook_on_play_start", "counter": 1, "event_data": {"play_uuid": "p-1"}}
    )
    ok = [_step("backup", 0), _step("update", 0), _step("healthcheck", 0)]
    parser.feed(_event("runner_on_ok", 2, "h1", {"changed": True, "agentmaint_steps": ok}))
    failed = [_step("backup", 0), _step("update", 3), _step("rollback", 0)]
    parser.feed(
        _event(
            "runner_on_failed",
            3,
            "h2",
            {"failed": True, "msg": "app: rolled back", "agentmaint_steps": failed},
        )
    )
    run = parser.finish("failed", 2)
    shown = [(r.host, r.task, r.status, r.rc, r.message) for r in run.results]
    assert shown == [
        ("h1", "Backup: run the backup command | app", TaskStatus.CHANGED, 0, None),
        ("h1", "Update | app", TaskStatus.CHANGED, 0, None),
        ("h1", "Healthcheck | app", TaskStatus.OK, 0, None),
        ("h2", "Backup: run the backup command | app", TaskStatus.CHANGED, 0, None),
        ("h2", "Update | app", TaskStatus.RESCUED, 3, "non-zero return code 3 from update-command"),
        ("h2", "Rollback | app", TaskStatus.CHANGED, 0, None),
        ("h2", "Failed | app", TaskStatus.FAILED, None, "app: rolled back"),
    ]
    # the counters are Ansible's: one task per host
    assert run.counts["h1"].ok == 1 and run.counts["h2"].failures == 1
