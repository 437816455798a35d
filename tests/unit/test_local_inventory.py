"""The inventory of local hosts: their interpreter and, under mitogen, task isolation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from agentmaint.ansible.render import inventory
from agentmaint.ansible.strategy import ISOLATION_VARIABLE
from agentmaint.config.parse import parse_schedule

WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "2h"}


FLEET: dict[str, Any] = {
    "plain": {"ansible_connection": "local"},
    "named": {"ansible_connection": "local", "ansible_python_interpreter": "/opt/python3"},
    "chosen": {"ansible_connection": "local", ISOLATION_VARIABLE: "none"},
    "remote": {"ansible_host": "10.0.0.1"},
}


def _hosts(
    *, mitogen: bool, on_controller: bool = True, hosts: dict[str, Any] | None = None
) -> dict[str, Any]:
    document = {
        "environments": {
            "fleet": {"hosts": FLEET if hosts is None else hosts, "update_schedule": WINDOW}
        },
        "components": {"app": {"update_command": "true", "frequency": "weekly"}},
    }
    schedule = parse_schedule(document, source="test", base_dir=Path("/nonexistent"))
    rendered = inventory(schedule, mitogen=mitogen, on_controller=on_controller)
    rendered_hosts: dict[str, Any] = rendered["all"]["children"]["fleet"]["hosts"]
    return {name: variables or {} for name, variables in rendered_hosts.items()}


def test_under_mitogen_every_local_host_forks_its_tasks_named_interpreter_or_not() -> None:
    hosts = _hosts(mitogen=True)
    assert hosts["plain"][ISOLATION_VARIABLE] == "fork"
    assert hosts["named"][ISOLATION_VARIABLE] == "fork"
    # One interpreter for all (the schedule's, or this Python): no interpreter per host.
    assert hosts["plain"]["ansible_python_interpreter"] == sys.executable
    assert hosts["named"]["ansible_python_interpreter"] == "/opt/python3"
    assert hosts["chosen"][ISOLATION_VARIABLE] == "none"  # the schedule's own choice stays
    assert ISOLATION_VARIABLE not in hosts["remote"]  # SSH hosts have a context each


def test_without_mitogen_or_on_a_node_local_hosts_are_left_alone() -> None:
    for hosts in (_hosts(mitogen=False), _hosts(mitogen=True, on_controller=False)):
        assert ISOLATION_VARIABLE not in hosts["plain"]
        assert ISOLATION_VARIABLE not in hosts["named"]
    assert _hosts(mitogen=False)["plain"]["ansible_python_interpreter"] == sys.executable
    assert "ansible_python_interpreter" not in _hosts(mitogen=True, on_controller=False)["plain"]


def test_a_lone_local_host_keeps_the_shared_interpreters_cheaper_calls() -> None:
    alone = _hosts(mitogen=True, hosts={"self": {"ansible_connection": "local"}})
    assert ISOLATION_VARIABLE not in alone["self"]
    with_remote = _hosts(
        mitogen=True,
        hosts={"self": {"ansible_connection": "local"}, "far": {"ansible_host": "10.0.0.2"}},
    )
    assert ISOLATION_VARIABLE not in with_remote["self"]
