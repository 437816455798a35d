"""Privilege escalation, connection settings and their secrets, host/group name clashes.

Parsing and rendering only; the real runs are in tests/integration/test_connection_secrets.py
and tests/ssh/test_become.py.
"""

from __future__ import annotations

import copy
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import (
    DEFAULT_BECOME,
    ESCALATE_VARIABLE,
    ansible_cfg,
    dump_yaml,
    inventory,
    playbook,
)
from agentmaint.ansible.secrets import PLUGIN_DIR, PLUGIN_NAME, SecretServer
from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Become, BecomeMethod, Schedule, is_password_variable
from agentmaint.config.secret import Secret, SecretReference
from agentmaint.errors import ScheduleError
from agentmaint.run.environment import secret_environment

WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "2h"}


def document(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "environments": {
            "prod": {
                "hosts": {"web1": {"ansible_user": "deploy"}, "web2": {"ansible_user": "root"}},
                "update_schedule": WINDOW,
            }
        },
        "components": {
            "app": {"update_command": "true", "frequency": "weekly"},
            "os": {"role": "os_packages", "frequency": "weekly"},
        },
    }
    doc.update(extra)
    return doc


def parse(doc: dict[str, Any], **options: Any) -> Schedule:
    return parse_schedule(doc, source="test", base_dir=Path("/nonexistent"), **options)


def problems(doc: dict[str, Any]) -> set[str]:
    with pytest.raises(ScheduleError) as raised:
        parse(doc)
    return {str(p) for p in raised.value.problems}


def plays(schedule: Schedule, *components: str) -> list[dict[str, Any]]:
    targets = [Target("prod", c, ("web1", "web2")) for c in components]
    rendered = playbook(schedule, targets, run_id="r1")
    loaded: list[dict[str, Any]] = yaml.safe_load(
        dump_yaml(rendered).replace("!unsafe ", "")
    )  # what Ansible reads, tags aside
    return loaded


def update_task(play: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = play["tasks"][-1]["block"][0]
    return block


# -- become ---------------------------------------------------------------------------------


def test_most_specific_become_wins_and_keeps_the_less_specific_user_and_method() -> None:
    doc = document(become={"user": "ops", "method": "su"})
    doc["environments"]["prod"]["become"] = False
    doc["components"]["app"]["become"] = True
    schedule = parse(doc)
    assert schedule.become_for("prod", "app") == Become(True, "ops", BecomeMethod.SU)
    assert schedule.become_for("prod", "os") == Become(False, "ops", BecomeMethod.SU)
    app, os_play = plays(schedule, "app", "os")
    assert (app["become"], app["become_user"], app["become_method"]) == (True, "ops", "su")
    assert os_play["become"] is False
    assert "become" not in update_task(os_play)  # the play's explicit false decides


def test_without_a_setting_only_root_roles_escalate_and_only_where_the_login_is_not_root() -> None:
    schedule = parse(document())
    app, os_play = plays(schedule, "app", "os")
    assert "become" not in app and "become" not in update_task(app)
    assert "become" not in os_play
    assert update_task(os_play)["become"] == DEFAULT_BECOME
    hosts = inventory(schedule)["all"]["children"]["prod"]["hosts"]
    assert hosts["web1"][ESCALATE_VARIABLE] is True
    assert ESCALATE_VARIABLE not in hosts["web2"]


def test_backups_of_paths_escalate_by_default_a_backup_command_does_not() -> None:
    doc = document(backup={"pre_update": True, "paths": ["/etc/app"], "restore_on_failure": True})
    (app,) = plays(parse(doc), "app")
    assert app["tasks"][0]["become"] == DEFAULT_BECOME
    restore = app["tasks"][-1]["rescue"][0]
    assert restore["become"] == DEFAULT_BECOME
    doc = document(backup={"pre_update": True, "backup_command": "true"})
    (app,) = plays(parse(doc), "app")
    assert "become" not in app["tasks"][0]


def test_environment_become_mapping_defaults_to_root_and_sudo() -> None:
    doc = document()
    doc["environments"]["prod"]["become"] = {}
    (play,) = plays(parse(doc), "app")
    assert (play["become"], play["become_user"], play["become_method"]) == (True, "root", "sudo")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"method": "pbrun"}, "become.method"),
        ({"user": "root; id"}, "become.user"),
        ({"user": "{{ lookup('pipe', 'id') }}"}, "become.user"),
        ({"password": "x"}, "become.password: unknown key"),
        ("yes", "become: expected"),
    ],
)
def test_become_values_are_validated(value: Any, message: str) -> None:
    found = problems(document(become=value))
    assert any(p.startswith(message) for p in found), found


# -- connection settings and their secrets ---------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_become_password",
        "ansible_become_pass",
        "ansible_sudo_pass",
        "ansible_ssh_private_key_passphrase",
    ],
)
def test_password_variables_are_recognised(name: str) -> None:
    assert is_password_variable(name)


@pytest.mark.parametrize("name", ["ansible_user", "ansible_port", "ansible_passive", "passwd"])
def test_other_variables_are_not_passwords(name: str) -> None:
    assert not is_password_variable(name)


def test_a_literal_password_is_refused_with_its_path() -> None:
    doc = document()
    doc["environments"]["prod"]["connection"] = {"ansible_become_password": "hunter2"}
    doc["environments"]["prod"]["hosts"]["web1"]["ansible_password"] = "hunter3"
    found = problems(doc)
    assert found == {
        "environments.prod.connection.ansible_become_password: is a password written in the "
        "schedule file: give a ${ENV_VAR} or file:/path reference (or set "
        "allow_literal_secrets: true)",
        "environments.prod.hosts.web1.ansible_password: is a password written in the schedule "
        "file: give a ${ENV_VAR} or file:/path reference (or set allow_literal_secrets: true)",
    }
    assert not any("hunter" in p for p in found)


def test_connection_is_group_vars_and_passwords_never_reach_the_inventory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AM_BECOME", "s3cret-become")
    doc = document(allow_literal_secrets=True)
    doc["environments"]["prod"]["connection"] = {
        "ansible_port": 2222,
        "ansible_ssh_private_key_file": "/keys/id",
        "ansible_become_password": "${AM_BECOME}",
    }
    doc["environments"]["prod"]["hosts"]["web2"]["ansible_become_password"] = "literal-pw"
    schedule = parse(doc)
    group = inventory(schedule)["all"]["children"]["prod"]
    assert group["vars"] == {"ansible_port": 2222, "ansible_ssh_private_key_file": "/keys/id"}
    text = dump_yaml(inventory(schedule))
    assert "s3cret" not in text and "literal-pw" not in text and "become_password" not in text
    assert schedule.host_secrets("web1") == {"ansible_become_password": Secret("s3cret-become")}
    assert schedule.host_secrets("web2") == {"ansible_become_password": Secret("literal-pw")}
    names, values = secret_environment(schedule)
    assert "AM_BECOME" in names
    assert {"s3cret-become", "literal-pw"} <= set(values)


def test_connection_references_resolve_later_when_loaded_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AM_NOT_SET", raising=False)
    doc = document()
    doc["environments"]["prod"]["connection"] = {"ansible_become_password": "${AM_NOT_SET}"}
    schedule = parse(doc, resolve_secrets=False)
    (reference,) = schedule.unresolved_secrets()
    assert isinstance(reference, SecretReference)
    assert reference.path == "environments.prod.connection.ansible_become_password"
    with pytest.raises(ScheduleError, match="AM_NOT_SET"):
        schedule.resolve_secrets()
    monkeypatch.setenv("AM_NOT_SET", "now-set")
    resolved = schedule.resolve_secrets()
    assert resolved.host_secrets("web1")["ansible_become_password"].reveal() == "now-set"


def test_connection_secrets_may_go_to_execution_nodes() -> None:
    doc = document(
        execution={"nodes": [{"name": "n1", "url": "ssh://root@n1"}]}, allow_literal_secrets=True
    )
    doc["environments"]["prod"]["connection"] = {"ansible_become_password": "x"}
    doc["environments"]["prod"]["execution_node"] = "n1"
    assert parse(doc).host_secrets("web1")["ansible_become_password"].reveal() == "x"


def test_ansible_cfg_enables_the_secrets_plugin_beside_the_users_plugins(tmp_path: Path) -> None:
    schedule = parse(document())
    overrides = {"defaults": {"vars_plugins": "/mine", "vars_plugins_enabled": "host_group_vars,x"}}
    text = ansible_cfg(
        schedule, forks=1, local_tmp=tmp_path, overrides=overrides, connection_secrets=True
    )
    assert f"vars_plugins = /mine:{PLUGIN_DIR}" in text
    assert f"vars_plugins_enabled = host_group_vars,x,{PLUGIN_NAME}" in text
    plain = ansible_cfg(schedule, forks=1, local_tmp=tmp_path, overrides={})
    assert PLUGIN_NAME not in plain
    on_node = ansible_cfg(
        schedule,
        forks=1,
        local_tmp=Path("../tmp"),
        overrides={},
        connection_secrets=True,
        secrets_plugin_dir=Path("vars_plugins"),
    )
    assert "vars_plugins = vars_plugins\n" in on_node  # relative to the job's ansible.cfg


def test_the_secret_server_on_a_path_answers_only_its_peer_and_leaves_nothing() -> None:
    values = {"web1": {"ansible_become_password": Secret("pw")}}
    peers: list[int] = []
    server = SecretServer(values, lambda pid: pid in peers, on_path=True)
    with server:
        assert server.path is not None
        directory = server.path.parent
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(server.path.stat().st_mode)
        received = []
        for allowed in (False, True):
            if allowed:
                peers.append(os.getpid())
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(str(server.path))
                received.append(b"".join(iter(lambda c=client: c.recv(4096), b"")))
    assert received == [b"", b'{"web1": {"ansible_become_password": "pw"}}']
    assert server.served == 1
    assert not directory.exists()


def test_the_secret_server_answers_only_processes_of_its_job() -> None:
    values = {"web1": {"ansible_become_password": Secret("pw")}}
    for allowed, expected in ((False, b""), (True, b'{"web1": {"ansible_become_password": "pw"}}')):
        server = SecretServer(values, lambda pid, ok=allowed: ok)
        with server, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect("\0" + server.name)
            received = b"".join(iter(lambda c=client: c.recv(4096), b""))
        assert received == expected
        assert server.served == int(allowed)


# -- name clashes -----------------------------------------------------------------------------


def test_a_host_named_like_an_environment_or_a_reserved_group_is_refused() -> None:
    doc = document()
    doc["environments"]["staging"] = {
        "servers": ["production", "ungrouped"],
        "hosts": {"all": {"ansible_host": "10.0.0.1"}},
        "update_schedule": WINDOW,
    }
    doc["environments"]["production"] = copy.deepcopy(doc["environments"].pop("prod"))
    found = problems(doc)
    assert found == {
        "environments.staging.servers[0]: host name 'production' clashes with environment "
        "'production' (every environment is an inventory group): Ansible would give the host "
        "no variables; rename the host (ansible_host can keep its address)",
        "environments.staging.servers[1]: host name 'ungrouped' clashes with an Ansible group "
        "agentmaint always renders ('ungrouped'): Ansible would give the host no variables; "
        "rename the host (ansible_host can keep its address)",
        "environments.staging.hosts.all: host name 'all' clashes with an Ansible group "
        "agentmaint always renders ('all'): Ansible would give the host no variables; rename "
        "the host (ansible_host can keep its address)",
    }


def test_an_environment_named_like_a_reserved_group_is_refused() -> None:
    doc = document()
    doc["environments"]["all"] = doc["environments"].pop("prod")
    assert any(p.startswith("environments.all: environment name 'all'") for p in problems(doc))
