"""The fused module run without AnsiballZ (its action plugin's program), by this Python."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.plugins.loader import shell_loader

from agentmaint.ansible.naming import Target
from agentmaint.config.roles import ROLES_PATH
from agentmaint.run.jobdir import prepare_run_dir
from tests.schedules import MakeSchedule, always_open, local_hosts

PLUGIN = ROLES_PATH / "agentmaint_command" / "action_plugins" / "agentmaint_fused.py"


def _plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agentmaint_fused_action", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(
    arguments: dict[str, Any], *, check_mode: bool = False, home: Path | None = None
) -> tuple[int, dict[str, Any]]:
    """What the host's Python prints and its exit status, for the program of `arguments`.

    As over a pipelined connection: the program on standard input of the action's command
    for the host's Python (this one) run by the shell, the output on pipes
    (which stay open, and this waits, as long as any process holds them).
    """
    plugin = _plugin()
    program = plugin.direct_source(arguments, check_mode=check_mode)
    command = plugin.direct_command(shell_loader.get("sh"), "", sys.executable)
    env = {**os.environ, "HOME": str(home)} if home is not None else None
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        input=program,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,  # a deadline for a program that never returns, not a timing
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, result


def test_the_program_runs_the_steps_and_returns_each(tmp_path: Path) -> None:
    marker = tmp_path / "done"
    code, result = _run(
        {
            "component": "app",
            "backup": f"echo backup > {tmp_path}/bak",
            "update": f"touch {marker} && echo updated",
            "healthcheck": f"test -e {marker}",
            "healthcheck_retries": "1",  # templated task arguments arrive as strings
            "healthcheck_delay": "0",
            "failure_msg": "app failed",
        }
    )
    assert code == 0
    assert marker.exists()
    steps = {step["action"]: step for step in result["agentmaint_steps"]}
    assert list(steps) == ["backup", "update", "healthcheck"]
    assert steps["update"]["stdout"] == "updated"
    assert steps["update"]["rc"] == 0
    assert result["changed"] is True
    assert "failed" not in result or result["failed"] is False


def test_a_failed_update_rolls_back_and_fails_with_the_message(tmp_path: Path) -> None:
    code, result = _run(
        {
            "component": "app",
            "update": "exit 3",
            "rollback": f"touch {tmp_path}/rolled-back",
            "failure_msg": "app: update failed; rolled back",
        }
    )
    assert code == 1
    assert result["failed"] is True
    assert result["msg"] == "app: update failed; rolled back"
    assert (tmp_path / "rolled-back").exists()
    update = next(s for s in result["agentmaint_steps"] if s["action"] == "update")
    assert update["rc"] == 3


def test_check_mode_runs_nothing(tmp_path: Path) -> None:
    code, result = _run({"update": f"touch {tmp_path}/x"}, check_mode=True)
    assert code == 0
    assert not (tmp_path / "x").exists()
    assert [s["action"] for s in result["agentmaint_steps"]] == ["update"]


def test_bad_arguments_fail_as_the_module_would() -> None:
    code, result = _run({"update": "true", "surprise": "1"})
    assert (code, result["failed"]) == (1, True)
    assert "Unsupported parameters: surprise" in result["msg"]
    code, result = _run({"update": "true", "healthcheck_retries": "many"})
    assert (code, result["failed"]) == (1, True)
    assert "healthcheck_retries" in result["msg"]
    code, result = _run({"update": "true", "mode": "sideways"})
    assert (code, result["failed"]) == (1, True)
    assert "value of mode must be one of: run, start, wait" in result["msg"]


def test_the_module_keeps_the_imports_the_program_replaces() -> None:
    source = _plugin().MODULE.read_text()
    assert source.count("from __future__ import annotations\n") == 1
    assert "from ansible.module_utils.basic import AnsibleModule\n" in source
    assert "module_utils" not in source.replace(
        "from ansible.module_utils.basic import AnsibleModule\n", ""
    )


@pytest.mark.parametrize("pipelining", [True, False])
def test_the_job_pipelines_every_connection_as_the_schedule_says(
    make_schedule: MakeSchedule, tmp_path: Path, pipelining: bool
) -> None:
    # [connection] reaches the local connection too (where the direct path needs it);
    # [ssh_connection] the ssh one
    schedule = make_schedule(
        always_open(
            local_hosts("h1"),
            {"app": {"update_command": "true", "frequency": "daily"}},
            execution={"pipelining": pipelining},
        )
    )
    prepare_run_dir(
        schedule, (Target("fleet", "app", ("h1",)),), run_id="r1", directory=tmp_path / "j"
    )
    config = configparser.ConfigParser()
    config.read(tmp_path / "j" / "project" / "ansible.cfg")
    assert config["connection"]["pipelining"] == str(pipelining)
    assert config["ssh_connection"]["pipelining"] == str(pipelining)


def _job_dir(home: Path) -> Path:
    return home / ".ansible_async" / "agentmaint"


def test_a_background_job_leaves_the_connection_at_once_and_its_wait_gets_the_steps(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"  # the update waits for it: it still runs when start returns
    update = f"while ! test -e {gate}; do sleep 0.05; done; echo updated"
    code, started = _run(
        {"mode": "start", "job_name": "r1-app-h1", "update": update, "component": "app"},
        home=tmp_path,
    )
    # the pipes closed with the starting process: the daemon kept none of them
    assert (code, started["finished"], started["changed"]) == (0, False, False)
    jobs = _job_dir(tmp_path)
    assert oct(jobs.stat().st_mode & 0o777) == "0o700"
    assert (jobs / "r1-app-h1.pid").exists()  # written before start returned
    code, waited = _run({"mode": "wait", "job_name": "r1-app-h1", "wait": "0"}, home=tmp_path)
    assert (code, waited["finished"]) == (0, False)
    gate.touch()
    code, waited = _run({"mode": "wait", "job_name": "r1-app-h1", "wait": "60"}, home=tmp_path)
    assert (code, waited["finished"], waited["changed"]) == (0, True, True)
    assert [(s["action"], s["stdout"]) for s in waited["agentmaint_steps"]] == [
        ("update", "updated")
    ]
    assert list(jobs.iterdir()) == []  # the job's files went with its result


def test_a_failed_background_job_fails_its_wait_with_the_steps(tmp_path: Path) -> None:
    arguments = {"update": "exit 3", "rollback": "echo back", "failure_msg": "app failed"}
    _run({"mode": "start", "job_name": "j", **arguments}, home=tmp_path)
    code, waited = _run({"mode": "wait", "job_name": "j", "wait": "60"}, home=tmp_path)
    assert (code, waited["failed"], waited["finished"], waited["msg"]) == (
        1,
        True,
        True,
        "app failed",
    )
    assert [s["action"] for s in waited["agentmaint_steps"]] == ["update", "rollback"]


def test_a_job_ended_without_its_result_fails_its_wait(tmp_path: Path) -> None:
    # its timeout ends the job's whole process group, the daemon with its commands
    _run(
        {"mode": "start", "job_name": "slow", "update": "sleep 600", "timeout": "1"},
        home=tmp_path,
    )
    code, waited = _run({"mode": "wait", "job_name": "slow", "wait": "60"}, home=tmp_path)
    assert (code, waited["failed"], waited["finished"]) == (1, True, True)
    assert waited["msg"] == "background job slow ended without a result"
    assert list(_job_dir(tmp_path).iterdir()) == []


def test_a_wait_for_no_job_fails(tmp_path: Path) -> None:
    code, waited = _run({"mode": "wait", "job_name": "none", "wait": "5"}, home=tmp_path)
    assert (code, waited["failed"], waited["finished"]) == (1, True, True)


def test_the_jobs_directory_is_never_a_symlink(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "j.json").write_text("{}")
    (tmp_path / ".ansible_async").mkdir()
    _job_dir(tmp_path).symlink_to(elsewhere)
    code, result = _run({"mode": "start", "job_name": "j", "update": "true"}, home=tmp_path)
    assert (code, result["failed"]) == (1, True)
    assert "not a private directory" in result["msg"]
    code, result = _run({"mode": "wait", "job_name": "j", "wait": "0"}, home=tmp_path)
    assert (code, result["failed"]) == (1, True)
    # nothing of what agentmaint did not create was read, written or deleted
    assert sorted(p.name for p in elsewhere.iterdir()) == ["j.json"]
    assert (elsewhere / "j.json").read_text() == "{}"


def test_a_job_name_stays_in_the_jobs_directory(tmp_path: Path) -> None:
    _run({"mode": "start", "job_name": "../../escape", "update": "true"}, home=tmp_path)
    code, waited = _run({"mode": "wait", "job_name": "../../escape", "wait": "60"}, home=tmp_path)
    assert (code, waited["finished"]) == (0, True)
    assert not (tmp_path / "escape.pid").exists()
    assert not (tmp_path.parent / "escape.json").exists()


def test_a_started_job_runs_in_a_process_group_of_its_own(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    _run(
        {
            "mode": "start",
            "job_name": "g",
            "update": f"while ! test -e {gate}; do sleep 0.05; done",
        },
        home=tmp_path,
    )
    group = int((_job_dir(tmp_path) / "g.pid").read_text().split()[0])
    assert group != os.getpgrp()
    os.killpg(group, signal.SIGKILL)  # what a cancel could do to it
    code, waited = _run({"mode": "wait", "job_name": "g", "wait": "60"}, home=tmp_path)
    assert (code, waited["failed"]) == (1, True)
    assert not gate.exists()


def test_a_start_removes_the_pid_files_of_killed_jobs_only(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    wait_for_gate = f"while ! test -e {gate}; do sleep 0.05; done"
    for name in ("killed", "running"):
        _run({"mode": "start", "job_name": name, "update": wait_for_gate}, home=tmp_path)
    jobs = _job_dir(tmp_path)
    os.killpg(int((jobs / "killed.pid").read_text().split()[0]), signal.SIGKILL)  # as a cancel does
    _run({"mode": "start", "job_name": "done", "update": "true"}, home=tmp_path)
    _run({"mode": "wait", "job_name": "done", "wait": "0"}, home=tmp_path)  # may not be over
    _run({"mode": "start", "job_name": "next", "update": "true"}, home=tmp_path)
    names = {p.name for p in jobs.iterdir()}
    assert "killed.pid" not in names
    assert "running.pid" in names  # still running: left alone
    gate.touch()
    code, waited = _run({"mode": "wait", "job_name": "running", "wait": "60"}, home=tmp_path)
    assert (code, waited["finished"]) == (0, True)


class _Task:
    """The two things of a task the action's `_arguments` reads."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.args = args


def _action(**attributes: Any) -> Any:
    """The action plugin's object, with only the attributes a test gives (no Ansible run)."""
    action = object.__new__(_plugin().ActionModule)
    for name, value in attributes.items():
        setattr(action, name, value)
    return action


def test_the_steps_arguments_come_from_the_variable_under_the_tasks_own() -> None:
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    variables = {"agentmaint_command_component": "app"}
    templar = Templar(loader=DataLoader(), variables=variables)
    # As the role's defaults are read from YAML: templates Ansible trusts.
    given = {
        "component": trust_as_template("{{ agentmaint_command_component }}"),
        "healthcheck_retries": 3,
    }
    task_vars = {"agentmaint_command_fused_args": given}

    def arguments(own: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        action = _action(_task=_Task(own), _templar=templar)
        result: dict[str, Any] = action._arguments(task_vars)
        return result

    assert arguments({}, task_vars) == {"component": "app", "healthcheck_retries": 3}
    assert arguments({"mode": "start", "job_name": "j", "healthcheck_retries": 1}, task_vars) == {
        "component": "app",
        "healthcheck_retries": 1,
        "mode": "start",
        "job_name": "j",
    }
    assert arguments({"mode": "wait", "job_name": "j"}, task_vars) == {
        "mode": "wait",
        "job_name": "j",
    }
    assert arguments({}, {}) == {}


def test_a_local_host_runs_the_command_without_a_second_shell_nor_sleep() -> None:
    from ansible.plugins.connection.local import Connection as Local
    from ansible.plugins.connection.ssh import Connection as Ssh

    local = _action(_connection=object.__new__(Local))._executable()
    ssh = _action(_connection=object.__new__(Ssh))._executable()

    assert local == ""  # no wrapping: the local connection's own /bin/sh -c runs it
    assert ssh is None  # Ansible's default: /bin/sh -c '... && sleep 0' against the SSH race
