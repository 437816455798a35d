"""Components maintained by a bundled role: `role` + `vars`, checked against the role's specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.yaml.loader import AnsibleLoader

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import dump_yaml, playbook
from agentmaint.config.parse import parse_schedule
from agentmaint.config.roles import COMPONENT_ROLES, argument_specs, role_name
from agentmaint.errors import ScheduleError

WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "2h"}


def _document(component: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "environments": {"prod": {"servers": ["web1"], "update_schedule": WINDOW}},
        "components": {"comp": {"frequency": "weekly", **component}},
        **extra,
    }


def _problems(component: dict[str, Any]) -> list[str]:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(_document(component), base_dir=Path("/nonexistent"))
    return [str(p) for p in raised.value.problems]


@pytest.mark.parametrize("role", COMPONENT_ROLES)
def test_every_component_role_is_bundled_with_both_entry_points(role: str) -> None:
    specs = argument_specs(role)
    assert {"main", "rollback"} <= set(specs), role
    assert (
        Path(__file__).parents[2] / "roles" / role_name(role) / "tasks" / "rollback.yml"
    ).exists()
    assert f"{role_name(role)}_component" in specs["main"]


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        ({}, "components.comp.update_command: is required (or choose another 'role')"),
        (
            {"role": "docker", "update_command": "x", "vars": {"project_directory": "/srv"}},
            "components.comp.update_command: is only for role 'command' (this is role 'docker')",
        ),
        (
            {"role": "model", "rollback_command": "x", "vars": {"version": "1", "sha256": "a"}},
            "components.comp.rollback_command: is only for role 'command' (this is role 'model')",
        ),
        (
            {"update_command": "x", "vars": {"a": 1}},
            "components.comp.vars: is only for the roles other than 'command'",
        ),
        (
            {"role": "model", "vars": {"version": "1"}},
            "components.comp.vars: role model needs 'sha256'",
        ),
        (
            {"role": "model", "vars": {"version": "1", "sha256": "a", "keeep": 2}},
            "components.comp.vars.keeep: is not an argument of role model (did you mean 'keep'?)",
        ),
        (
            {"role": "model", "vars": {"version": "1", "sha256": "a", "keep": "two"}},
            "components.comp.vars.keep: expected an integer, got str",
        ),
        (
            {"role": "model", "vars": {"version": "1", "sha256": "a", "keep": True}},
            "components.comp.vars.keep: expected an integer, got bool",
        ),
        (
            {"role": "os_packages", "vars": {"reboot": "sometimes"}},
            "components.comp.vars.reboot: 'sometimes' is not one of "
            "'never', 'if_required', 'always'",
        ),
        (
            {"role": "os_packages", "vars": {"exclude": ["ok", 3]}},
            "components.comp.vars.exclude: item 1: expected a string, got int",
        ),
        (
            {"role": "os_packages", "vars": {"component": "other"}},
            "components.comp.vars.component: is set by agentmaint (the component's name)",
        ),
        (
            {"role": "kubernetes"},
            "components.comp.role: 'kubernetes' is not one of "
            "['command', 'os_packages', 'python_deps', 'model', 'docker']",
        ),
    ],
)
def test_role_arguments_are_checked_by_path(component: dict[str, Any], expected: str) -> None:
    assert expected in _problems(component)


def test_prefixed_names_are_accepted_too() -> None:
    schedule = parse_schedule(
        _document(
            {
                "role": "os_packages",
                "vars": {"agentmaint_os_packages_security_only": True, "reboot": "never"},
            }
        ),
        base_dir=Path("/nonexistent"),
    )
    assert schedule.components["comp"].role == "os_packages"


def test_role_component_renders_update_and_rollback_entry_points() -> None:
    schedule = parse_schedule(
        _document(
            {
                "role": "model",
                "vars": {
                    "version": "{{ lookup('pipe', 'id') }}",
                    "sha256": "ab" * 32,
                    "url": "https://models.example.com/m.bin",
                    "keep": 3,
                },
                "healthcheck": {"command": "test -e /srv/models/current"},
            },
            backup={"pre_update": True, "paths": ["/srv/models"], "restore_on_failure": True},
        ),
        base_dir=Path("/nonexistent"),
    )
    (play,) = yaml.load(
        dump_yaml(playbook(schedule, [Target("prod", "comp", ("web1",))], run_id="r1")),
        Loader=AnsibleLoader,
    )
    backup, block = play["tasks"]
    assert backup["ansible.builtin.import_role"] == {
        "name": "agentmaint_backup",
        "rolespec_validate": False,
    }
    assert backup["vars"]["agentmaint_backup_paths"] == ["/srv/models"]
    update, check = block["block"]
    assert update["name"] == "Update | comp"
    assert update["ansible.builtin.import_role"]["name"] == "agentmaint_model"
    assert update["vars"] == {
        "agentmaint_model_component": "comp",
        "agentmaint_model_version": "{{ lookup('pipe', 'id') }}",
        "agentmaint_model_sha256": "ab" * 32,
        "agentmaint_model_url": "https://models.example.com/m.bin",
        "agentmaint_model_keep": 3,
    }
    assert check["ansible.builtin.import_role"]["tasks_from"] == "command"
    rollback, restore, failed = block["rescue"]
    assert rollback["name"] == "Rollback | comp"
    assert rollback["ansible.builtin.import_role"]["tasks_from"] == "rollback"
    assert rollback["ansible.builtin.import_role"]["name"] == "agentmaint_model"
    assert restore["ansible.builtin.import_role"]["tasks_from"] == "restore"
    assert "rolled back" in failed["ansible.builtin.fail"]["msg"]
    text = dump_yaml(playbook(schedule, [Target("prod", "comp", ("web1",))], run_id="r1"))
    assert "!unsafe '{{ lookup(''pipe'', ''id'') }}'" in text
