"""The ssh arguments of a job's ansible.cfg: a master per host only where a second session comes.

A job whose SSH hosts each get one ssh session (all plays fused, in the foreground,
pipelined, the host's Python named, each host in one play) renders ``SSH_ARGS_SINGLE``,
which names no Control option (the operator's ssh_config and ssh arguments decide);
anything that may open a second session keeps ``SSH_ARGS_SHARED``, and what the operator
configured (the schedule's ``ansible_cfg``, a host's ``ansible_ssh_args``) still wins.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import SSH_ARGS_SHARED, SSH_ARGS_SINGLE
from agentmaint.run.jobdir import prepare_run_dir
from tests.schedules import MakeSchedule, always_open

UPDATE = {"update_command": "true", "frequency": "daily"}


def ssh_host(**extra: Any) -> dict[str, Any]:
    """An SSH host's variables as an operator writes them (a key, the host's Python)."""
    return {
        "ansible_host": "192.0.2.10",
        "ansible_user": "root",
        "ansible_ssh_private_key_file": "/etc/agentmaint/id_ed25519",
        "ansible_python_interpreter": "/usr/bin/python3",
        **extra,
    }


def rendered(
    make_schedule: MakeSchedule,
    tmp_path: Path,
    document: dict[str, Any],
    targets: tuple[Target, ...] = (Target("fleet", "app", ("h1", "h2")),),
) -> configparser.ConfigParser:
    """The job's ansible.cfg for `targets` of `document`, as Ansible reads it."""
    schedule = make_schedule(document)
    prepare_run_dir(schedule, targets, run_id="r1", directory=tmp_path / "j")
    config = configparser.ConfigParser(interpolation=None)
    config.read(tmp_path / "j" / "project" / "ansible.cfg")
    return config


def two_hosts(**extra: Any) -> dict[str, dict[str, Any]]:
    return {"h1": ssh_host(**extra), "h2": ssh_host(ansible_host="192.0.2.11", **extra)}


def test_a_job_of_one_session_per_ssh_host_starts_no_master(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    config = rendered(make_schedule, tmp_path, always_open(two_hosts(), {"app": UPDATE}))
    assert config["ssh_connection"]["ssh_args"] == SSH_ARGS_SINGLE
    assert "Control" not in SSH_ARGS_SINGLE  # the operator's ssh_config decides (ssh: no master)
    assert config["ssh_connection"]["pipelining"] == "True"


@pytest.mark.parametrize(
    ("why", "hosts", "extra"),
    [
        ("interpreter discovery", {"h1": ssh_host(ansible_python_interpreter="")}, {}),
        ("not fused", two_hosts(), {"execution": {"fused": False}}),
        ("not pipelined", two_hosts(), {"execution": {"pipelining": False}}),
        (
            "ssh pipelining off in ansible_cfg",
            two_hosts(),
            {"ansible_cfg": {"ssh_connection": {"pipelining": False}}},
        ),
        ("a host's ssh pipelining off", two_hosts(ansible_ssh_pipelining=False), {}),
        ("mitogen", two_hosts(), {"execution": {"strategy": "mitogen_linear"}}),
        ("background", two_hosts(), {"execution": {"background": True, "forks": 1}}),
        ("su", two_hosts(), {"become": {"method": "su"}}),
        ("a host's su", two_hosts(ansible_become_method="su"), {}),
        (
            "su in ansible_cfg",
            two_hosts(),
            {"ansible_cfg": {"privilege_escalation": {"become_method": "su"}}},
        ),
        ("only local hosts", {"h1": {"ansible_connection": "local"}}, {}),
    ],
)
def test_a_job_that_may_open_a_second_session_keeps_the_masters(
    make_schedule: MakeSchedule,
    tmp_path: Path,
    why: str,
    hosts: dict[str, dict[str, Any]],
    extra: dict[str, Any],
) -> None:
    document = always_open(hosts, {"app": UPDATE}, **extra)
    config = rendered(make_schedule, tmp_path, document, (Target("fleet", "app", tuple(hosts)),))
    assert config["ssh_connection"]["ssh_args"] == SSH_ARGS_SHARED, why


def test_a_host_in_two_plays_keeps_its_master(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    document = always_open(two_hosts(), {"app": UPDATE, "web": UPDATE})
    targets = (Target("fleet", "app", ("h1", "h2")), Target("fleet", "web", ("h2",)))
    config = rendered(make_schedule, tmp_path, document, targets)
    assert config["ssh_connection"]["ssh_args"] == SSH_ARGS_SHARED
    # the same plays on different hosts: one session each again
    targets = (Target("fleet", "app", ("h1",)), Target("fleet", "web", ("h2",)))
    config = rendered(make_schedule, tmp_path / "other", document, targets)
    assert config["ssh_connection"]["ssh_args"] == SSH_ARGS_SINGLE


def test_the_operators_own_connection_sharing_is_left_to_them(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    # the job's ssh_args then name no Control option: theirs (common args, ssh_config) apply
    own = "-o ControlMaster=auto -o ControlPath=/run/cm/%C -o ControlPersist=10m"
    document = always_open(two_hosts(ansible_ssh_common_args=own), {"app": UPDATE})
    config = rendered(make_schedule, tmp_path, document)
    assert config["ssh_connection"]["ssh_args"] == SSH_ARGS_SINGLE
    assert "Control" not in SSH_ARGS_SINGLE


def test_the_operators_ssh_args_win(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    # the schedule's ansible_cfg over the job's own; a host's ansible_ssh_args stays in the
    # inventory, where Ansible puts it over any ansible.cfg
    own = "-o ControlMaster=auto -o ControlPersist=5m -o GSSAPIAuthentication=no"
    document = always_open(
        {"h1": ssh_host(ansible_ssh_args="-o ControlMaster=auto -o ControlPersist=30s")},
        {"app": UPDATE},
        ansible_cfg={"ssh_connection": {"ssh_args": own}},
    )
    config = rendered(make_schedule, tmp_path, document, (Target("fleet", "app", ("h1",)),))
    assert config["ssh_connection"]["ssh_args"] == own
    inventory = yaml.safe_load(
        (tmp_path / "j" / "inventory" / "hosts.yml").read_text().replace("!unsafe ", "")
    )
    host = inventory["all"]["children"]["fleet"]["hosts"]["h1"]
    assert host["ansible_ssh_args"] == "-o ControlMaster=auto -o ControlPersist=30s"
