"""The fused module run without AnsiballZ (its action plugin's program), by this Python."""

from __future__ import annotations

import configparser
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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


def _run(arguments: dict[str, Any], *, check_mode: bool = False) -> tuple[int, dict[str, Any]]:
    """What the host's Python prints and its exit status, for the program of `arguments`."""
    program = _plugin().direct_source(arguments, check_mode=check_mode)
    done = subprocess.run(
        [sys.executable, "-"], input=program, capture_output=True, text=True, check=False
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
