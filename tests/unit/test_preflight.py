"""Which preflight checks apply to which host, and how results become the report."""

from __future__ import annotations

from typing import Any

from agentmaint.ansible.preflight import CHECK_PREFIX, CheckName, host_needs, preflight_playbook
from agentmaint.ansible.readiness import CheckResult, readiness_report
from agentmaint.ansible.render import dump_yaml
from agentmaint.records import TaskResult, TaskStatus
from tests.schedules import MakeSchedule, always_open, local_hosts


def test_checks_follow_the_components_and_backup(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            {"a": {"ansible_connection": "local", "ansible_become": "yes"}, "b": {}},
            {
                "os": {"role": "os_packages", "frequency": "weekly"},
                "llm": {
                    "role": "model",
                    "frequency": "daily",
                    "vars": {"version": "v1", "url": "https://x/m", "sha256": "a" * 64},
                },
            },
            backup={"pre_update": True, "paths": ["/srv/data"]},
        )
    )
    a, b = host_needs(schedule)
    assert (a.host, a.become, b.become) == ("a", True, False)
    assert a.checks == (
        CheckName.REACHABLE,
        CheckName.PRIVILEGE,
        CheckName.PYTHON,
        CheckName.PACKAGE_MANAGER,
        CheckName.BACKUP,
        CheckName.MODEL_ROOT,
    )
    # The roles' own defaults, with the component's name where the default templates it.
    assert a.backup_dir == "/var/backups/agentmaint"
    assert a.model_roots == ("/srv/agentmaint/models/llm",)
    assert a.root_for == ("os",)


def test_escalation_follows_the_become_setting(make_schedule: MakeSchedule) -> None:
    def needs(**settings: Any) -> tuple[bool, str, str]:
        schedule = make_schedule(
            always_open(
                {"h": {"ansible_user": "deploy"}},
                {
                    "os": {"role": "os_packages", "frequency": "weekly"},
                    "app": {"update_command": "true", "frequency": "daily"},
                },
                **settings,
            )
        )
        (need,) = host_needs(schedule)
        assert CheckName.PRIVILEGE in need.checks
        return need.become, need.become_user, need.become_method

    # No setting: os_packages escalates by default (the login user is not root).
    assert needs() == (True, "root", "sudo")
    # The most specific level wins: the component's over the environment's over the top.
    assert needs(become={"method": "su"}) == (True, "root", "su")
    assert needs(become=True, environment={"become": {"user": "admin", "method": "doas"}}) == (
        True,
        "admin",
        "doas",
    )
    assert needs(become=True, environment={"become": False}) == (False, "root", "sudo")


def test_escalation_without_a_setting_follows_the_host(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            {
                "root": {"ansible_user": "root"},
                "own": {"ansible_become": True, "ansible_user": "root"},
            },
            {"os": {"role": "os_packages", "frequency": "weekly"}},
            environment={"connection": {"ansible_user": "deploy"}},
        )
    )
    found = {need.host: need.become for need in host_needs(schedule)}
    # Logged in as root: the role's default does not escalate; the host's own setting does.
    assert found == {"root": False, "own": True}


def test_plain_hosts_need_only_a_login_and_python(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(local_hosts("h"), {"app": {"update_command": "true", "frequency": "daily"}})
    )
    (need,) = host_needs(schedule)
    assert need.checks == (CheckName.REACHABLE, CheckName.PYTHON)


def test_docker_components_name_their_binary_and_compose(make_schedule: MakeSchedule) -> None:
    docker = {"role": "docker", "frequency": "daily"}
    schedule = make_schedule(
        always_open(
            local_hosts("h"),
            {
                "plugin": {**docker, "vars": {"project_directory": "/srv/a"}},
                "v1": {
                    **docker,
                    "vars": {
                        "project_directory": "/srv/b",
                        "binary": "/usr/bin/docker",
                        "compose_command": ["docker-compose", "--verbose"],
                        "environment": {"DOCKER_HOST": "unix:///d.sock"},
                    },
                },
            },
        )
    )
    (need,) = host_needs(schedule)
    assert CheckName.DOCKER in need.checks
    plugin, v1 = need.docker
    assert (plugin.binary, plugin.compose) == ("docker", ())
    assert v1.environment == {"DOCKER_HOST": "unix:///d.sock"}
    # The probe's arguments: binary, the number of compose words, the words.
    assert plugin.probe_arguments() + v1.probe_arguments() == [
        "docker",
        "0",
        "/usr/bin/docker",
        "2",
        "docker-compose",
        "--verbose",
    ]


def test_schedule_strings_stay_literal_in_the_play(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts("h"),
            {"app": {"update_command": "true", "frequency": "daily"}},
            backup={"pre_update": True, "paths": ["/x/{{ lookup('pipe', 'id') }}"]},
        )
    )
    text = dump_yaml(preflight_playbook(host_needs(schedule)))
    assert "!unsafe '/x/{{ lookup(''pipe'', ''id'') }}'" in text


def test_report_reads_checks_and_explains_what_did_not_run(make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(
        always_open(
            local_hosts("h1", "h2"), {"app": {"update_command": "true", "frequency": "daily"}}
        )
    )
    needs = host_needs(schedule)

    def result(host: str, name: str, status: TaskStatus, message: str) -> TaskResult:
        return TaskResult(
            host=host, play="Preflight", task=CHECK_PREFIX + name, status=status, message=message
        )

    report = readiness_report(
        needs,
        [
            result("h1", "reachable", TaskStatus.OK, "connected as root"),
            result("h1", "python", TaskStatus.OK, "Python 3.11.2 at /usr/bin/python3"),
            result("h2", "reachable", TaskStatus.UNREACHABLE, "Task failed: no route\n to host"),
        ],
    )
    h1, h2 = report.hosts
    assert h1.ready and not h2.ready and not report.ready
    assert h2.checks == (
        CheckResult("reachable", False, "unreachable: no route to host"),
        CheckResult("python", False, "not checked: the reachable check failed"),
    )
    assert report.to_dict()["hosts"][1] == {
        "environment": "fleet",
        "host": "h2",
        "ready": False,
        "checks": [
            {"name": "reachable", "ok": False, "detail": "unreachable: no route to host"},
            {"name": "python", "ok": False, "detail": "not checked: the reachable check failed"},
        ],
    }
