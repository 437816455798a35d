"""Values of the right type but no meaning are refused by path: zero durations and counts,
blank names and commands, malformed e-mail addresses and URLs, ports out of range,
duplicates, settings that would silently do nothing.

Each case is a YAML snippet merged into a small valid schedule; the rendered problems
must contain the expected ``path: message`` fragment.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.config.parse import parse_schedule
from agentmaint.config.roles import AT_LEAST_ONE, argument_specs
from agentmaint.config.schedule import Schedule
from agentmaint.errors import ScheduleError

BASE = yaml.safe_load(
    """
environments:
  production:
    servers: [web1]
    update_schedule: {day_of_week: Monday, time: "01:00"}
components:
  os: {update_command: apt-get upgrade -y, frequency: weekly}
"""
)
ENV = "environments.production"
SCHED = f"{ENV}.update_schedule"
SHA = "ab" * 32


def model(extra: str) -> str:
    """A component snippet of role model with its required arguments and `extra` ones."""
    arguments = f"version: v1, sha256: {SHA}, {extra}"
    return f"components: {{m: {{role: model, frequency: weekly, vars: {{{arguments}}}}}}}"


def node(extra: str) -> str:
    """An execution node snippet with `extra` keys."""
    return f"execution: {{nodes: [{{name: n1, url: 'ssh://n1', {extra}}}]}}"


def merged(base: Any, snippet: Any) -> Any:
    """`base` with `snippet` merged in: mappings key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(snippet, dict):
        out = copy.deepcopy(base)
        for key, value in snippet.items():
            out[key] = merged(base.get(key), value)
        return out
    return copy.deepcopy(snippet)


def build(snippet: str) -> Schedule:
    document = merged(BASE, yaml.safe_load(snippet))
    return parse_schedule(document, source="test", base_dir=Path("/nonexistent"))


def problems(snippet: str) -> list[str]:
    with pytest.raises(ScheduleError) as caught:
        build(snippet)
    return [str(p) for p in caught.value.problems]


HOLES = [
    # -- durations: zero, or a window longer than a week ---------------------------------
    ("components: {os: {frequency: 0d}}", "components.os.frequency: '0d' is zero"),
    ("components: {os: {frequency: 0h0m}}", "components.os.frequency: '0h0m' is zero"),
    (
        "environments: {production: {update_schedule: {duration: 0m}}}",
        f"{SCHED}.duration: '0m' is zero",
    ),
    (
        "environments: {production: {update_schedule: {duration: 8d}}}",
        f"{SCHED}.duration: '8d' is longer than 7d",
    ),
    (
        "environments: {production: {update_schedule: {duration: 2w}}}",
        f"{SCHED}.duration: '2w' is longer than 7d",
    ),
    ("execution: {timeout: 0s}", "execution.timeout: '0s' is zero"),
    (
        "execution: {fused: false, background: true}",
        "execution.background: runs fused plays in the background, and execution.fused is "
        "false: remove one of the two",
    ),
    ("notification: {smtp: {timeout: 0m}}", "notification.smtp.timeout: '0m' is zero"),
    # -- counts, sizes, percentages -----------------------------------------------------
    (
        "environments: {production: {rollout: {serial: 0}}}",
        f"{ENV}.rollout.serial: 0 must be at least 1",
    ),
    (
        "environments: {production: {rollout: {serial: 0%}}}",
        f"{ENV}.rollout.serial: '0%' is not a host count or a percentage",
    ),
    (
        "environments: {production: {rollout: {max_fail_percentage: 101}}}",
        f"{ENV}.rollout.max_fail_percentage: 101 must be at most 100",
    ),
    (
        "environments: {production: {rollout: {max_fail_percentage: -1}}}",
        f"{ENV}.rollout.max_fail_percentage: -1 must be at least 0",
    ),
    ("execution: {forks: 0}", "execution.forks: 0 must be at least 1"),
    ("execution: {local_slices: 0}", "execution.local_slices: 0 is not a number of slices"),
    (
        "components: {os: {healthcheck: {command: 'true', retries: -1}}}",
        "components.os.healthcheck.retries: -1 must be at least 0",
    ),
    (
        "components: {os: {healthcheck: {url: 'http://h/', status: 99}}}",
        "components.os.healthcheck.status: 99 must be at least 100",
    ),
    (
        "backup: {retention_days: 0}",
        "backup.retention_days: 0 must be at least 1 (0 would prune the archive just taken)",
    ),
    (
        "history: {retention_days: 0}",
        "history.retention_days: 0 must be at least 1 (omit it to keep every run)",
    ),
    (model("keep: 0"), "components.m.vars.keep: 0 must be at least 1"),
    (model("timeout: -5"), "components.m.vars.timeout: -5 must be 0 or more"),
    (
        "components: {m: {role: model, frequency: weekly, vars: {version: ' ', sha256: x}}}",
        "components.m.vars.version: must not be empty",
    ),
    # -- empty or blank names, commands, paths, hosts -----------------------------------
    ("components: {os: {update_command: ''}}", "components.os.update_command: must not be empty"),
    ("components: {os: {update_command: '  '}}", "components.os.update_command: must not be blank"),
    (
        "components: {os: {rollback_command: ' '}}",
        "components.os.rollback_command: must not be blank",
    ),
    ("components: {os: {healthcheck: ' '}}", "components.os.healthcheck: must not be blank"),
    (
        "components: {os: {healthcheck: {command: ''}}}",
        "components.os.healthcheck.command: must not be empty",
    ),
    (
        "components: {os: {healthcheck: {command: 'true', contains: ''}}}",
        "components.os.healthcheck.contains: must not be empty",
    ),
    ("backup: {backup_command: ' '}", "backup.backup_command: must not be blank"),
    ("state_dir: ' '", "state_dir: must not be blank"),
    ("notification: {smtp: {host: ''}}", "notification.smtp.host: must not be empty"),
    (
        "notification: {smtp: {host: 'mail host'}}",
        "notification.smtp.host: 'mail host' is not a host name or address",
    ),
    (
        "notification: {smtp: {username: ' ', password: x}}",
        "notification.smtp.username: must not be blank",
    ),
    (
        "notification: {smtp: {username: u, password: ''}}",
        "notification.smtp.password: must not be empty",
    ),
    ("notification: {smtp: {ca_file: ' '}}", "notification.smtp.ca_file: must not be blank"),
    (
        "notification: {channels: [{type: webhook, url: 'https://h/', name: ' '}]}",
        "notification.channels[0].name: must not be blank",
    ),
    (node("key: ''"), "execution.nodes[0].key: must not be empty"),
    (node("ssh_options: {User: ''}"), "execution.nodes[0].ssh_options.User: must not be empty"),
    (
        "environments: {production: {execution_node: ''}}",
        f"{ENV}.execution_node: must not be empty",
    ),
    ("environments: {production: {servers: ['']}}", f"{ENV}.servers[0]: must not be empty"),
    ("environments: {production: {servers: []}}", f"{ENV}: has no hosts"),
    ("environments: {production: {servers: [], hosts: {}}}", f"{ENV}: has no hosts"),
    (
        "environments: {production: {hosts: {web2: {ansible_host: ''}}}}",
        f"{ENV}.hosts.web2.ansible_host: must not be empty",
    ),
    (
        "environments: {production: {hosts: {web2: {ansible_user: ' '}}}}",
        f"{ENV}.hosts.web2.ansible_user: must not be blank",
    ),
    # -- e-mail addresses ---------------------------------------------------------------
    (
        "notification: {email: not-an-email}",
        "notification.email: 'not-an-email' is not an e-mail address",
    ),
    (
        "notification: {email: 'a b@example.com'}",
        "notification.email: 'a b@example.com' is not an e-mail address",
    ),
    (
        "notification: {email: 'ops@exa_mple.com'}",
        "notification.email: 'ops@exa_mple.com' is not an e-mail address",
    ),
    (
        "notification: {email: 'ops@example.com.'}",
        "notification.email: 'ops@example.com.' is not an e-mail address",
    ),
    (
        "notification: {email: [ops@example.com, '@example.com']}",
        "notification.email[1]: '@example.com' is not an e-mail address",
    ),
    (
        "notification: {email: [ops@example.com, ops@example.com]}",
        "notification.email: lists 'ops@example.com' more than once",
    ),
    (
        "notification: {channels: [{type: email, to: x}]}",
        "notification.channels[0].to: 'x' is not an e-mail address",
    ),
    (
        "notification: {channels: [{type: email, to: []}]}",
        "notification.channels[0].to: is required for an email channel",
    ),
    (
        "notification: {smtp: {from: nobody}}",
        "notification.smtp.from: 'nobody' is not an e-mail address",
    ),
    (
        "notification: {smtp: {from: 'Ops <nobody>'}}",
        "notification.smtp.from: 'Ops <nobody>' is not an e-mail address",
    ),
    # -- URLs (checked once secret references are resolved; never shown) -----------------
    (
        "notification: {slack_webhook: 'ftp://hooks.example.com/x'}",
        "notification.slack_webhook: is not an http:// or https:// URL (value not shown",
    ),
    ("notification: {slack_webhook: 'https://'}", "notification.slack_webhook: names no host"),
    (
        "notification: {slack_webhook: 'https://hooks.example.com/a b'}",
        "notification.slack_webhook: contains spaces or control characters",
    ),
    (
        "notification: {channels: [{type: webhook, url: 'https://h:99999/x'}]}",
        "notification.channels[0].url: has an invalid port: expected 1-65535",
    ),
    (
        "notification: {channels: [{type: slack, url: 'hooks.slack.com/x'}]}",
        "notification.channels[0].url: is not an http:// or https:// URL",
    ),
    (
        "notification: {channels: [{type: webhook, url: 'https://h/', headers: {'X Bad': v}}]}",
        "notification.channels[0].headers[\"X Bad\"]: key 'X Bad' is not an HTTP header name",
    ),
    ("history: {url: 'mysql://h/db'}", "history.url: 'mysql://h/db' is not a sqlite:///path"),
    ("history: {url: 'sqlite:///'}", "history.url: names no database file"),
    ("history: {url: 'sqlite:///dir/'}", "history.url: names no database file"),
    ("history: {url: 'sqlite:///h.db?mode=ro'}", "history.url: a sqlite URL takes no query"),
    ("history: {url: 'postgresql://u:pw@db:0/x'}", "history.url: has an invalid port"),
    ("history: {url: 'postgresql://u:pw@db:70000/x'}", "history.url: has an invalid port"),
    (
        "components: {os: {healthcheck: {url: 'http://localhost:0/health'}}}",
        "components.os.healthcheck.url: 'http://localhost:0/health' has an invalid port",
    ),
    (
        "components: {os: {healthcheck: {url: 'https://:8080/health'}}}",
        "components.os.healthcheck.url: 'https://:8080/health' names no host",
    ),
    (
        "components: {os: {healthcheck: {url: 'ftp://h/'}}}",
        "components.os.healthcheck.url: 'ftp://h/' is not an http(s) URL",
    ),
    # -- ports ----------------------------------------------------------------------------
    (
        "environments: {production: {hosts: {web2: {ansible_port: 0}}}}",
        f"{ENV}.hosts.web2.ansible_port: 0 must be at least 1",
    ),
    (
        "environments: {production: {hosts: {web2: {ansible_port: 65536}}}}",
        f"{ENV}.hosts.web2.ansible_port: 65536 must be at most 65535",
    ),
    (
        "environments: {production: {hosts: {web2: {ansible_port: '70000'}}}}",
        f"{ENV}.hosts.web2.ansible_port: '70000' is not a port number (1-65535)",
    ),
    (
        "environments: {production: {hosts: {web2: {ansible_ssh_port: ssh}}}}",
        f"{ENV}.hosts.web2.ansible_ssh_port: 'ssh' is not a port number (1-65535)",
    ),
    ("notification: {smtp: {port: 0}}", "notification.smtp.port: 0 must be at least 1"),
    ("notification: {smtp: {port: 65536}}", "notification.smtp.port: 65536 must be at most 65535"),
    (
        "execution: {nodes: [{name: n1, url: 'ssh://n1:0'}]}",
        "execution.nodes[0].url: 'ssh://n1:0' has an invalid port",
    ),
    # -- duplicates -----------------------------------------------------------------------
    (
        "environments: {production: {servers: [web1, web1]}}",
        f"{ENV}.servers[1]: host 'web1' is listed twice",
    ),
    (
        "environments: {testing: {servers: [web1], update_schedule: {cron: '0 1 * * *'}}}",
        "host 'web1' is also in environment",
    ),
    ("backup: {paths: [/etc/app, /etc/app]}", "backup.paths: lists '/etc/app' more than once"),
    (
        "notification: {channels: [{type: webhook, url: 'https://a/', name: ops},"
        " {type: slack, url: 'https://b/', name: ops}]}",
        "notification.channels[1].name: 'ops' names another channel too",
    ),
    (
        "execution: {nodes: [{name: n1, url: 'ssh://a'}, {name: n1, url: 'ssh://b'}]}",
        "execution.nodes[1].name: 'n1' is used twice",
    ),
    # -- settings that would silently do nothing ----------------------------------------
    ("backup: {pre_update: true}", "backup.pre_update: is true but there is nothing to back up"),
    (
        "backup: {pre_update: true, backup_command: x, restore_on_failure: true}",
        "backup.restore_on_failure: needs pre_update: true and paths",
    ),
    (
        "backup: {paths: [/etc/app], restore_on_failure: true}",
        "backup.restore_on_failure: needs pre_update: true and paths",
    ),
    ("notification: {smtp: {password: secret}}", "notification.smtp.password: needs 'username'"),
]


@pytest.mark.parametrize(("snippet", "expected"), HOLES, ids=[e for _, e in HOLES])
def test_hole_is_reported_by_path(snippet: str, expected: str) -> None:
    rendered = problems(snippet)
    assert len(rendered) == 1, rendered  # one problem, reported once
    assert expected in rendered[0], (expected, rendered)


def test_a_blank_value_is_reported_once() -> None:
    assert problems("components: {os: {update_command: ''}}") == [
        "components.os.update_command: must not be empty"
    ]


ACCEPTED = [
    "notification: {email: ''}",  # the seed's way of disabling email
    "notification: {email: root@localhost}",  # a domain without a dot
    "notification: {email: [o.p+s@mail-1.example.com, x@y.example]}",
    "notification: {smtp: {from: 'Agentmaint <am@example.com>', port: 465}}",
    "notification: {smtp: {from: agentmaint@localhost, port: 1}}",
    "notification: {channels: [{type: webhook, url: 'http://127.0.0.1:8080/x', when: []}]}",
    "environments: {production: {update_schedule: {duration: 7d, cutoff: 0m}}}",
    "environments: {production: {hosts: {web2: {ansible_port: '2222', ansible_host: h}}}}",
    "environments: {production: {promote_from: {environment: testing, soak: 0s}},"
    " testing: {servers: [t1], update_schedule: {cron: '0 1 * * *'}}}",
    "environments: {production: {rollout: {serial: 100%, max_fail_percentage: 0}}}",
    "history: {url: 'sqlite:////var/lib/agentmaint/h.db', retention_days: 1}",
    "history: {url: 'postgresql://am@db:5432/agentmaint'}",
    "backup: {pre_update: true, paths: [/etc/app], restore_on_failure: true, retention_days: 1}",
    model("keep: 1, timeout: 0"),
]


@pytest.mark.parametrize("snippet", ACCEPTED)
def test_meaningful_edge_values_are_accepted(snippet: str) -> None:
    build(snippet)


def test_zero_healthcheck_delay_means_no_pause() -> None:
    schedule = build("components: {os: {healthcheck: {command: 'true', delay: 0s}}}")
    check = schedule.components["os"].healthcheck
    assert check is not None and check.delay == timedelta(0)


def test_url_from_a_reference_is_checked_once_resolved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AM_TEST_HOOK", "mailto:ops@example.com")
    secret_file = tmp_path / "hook"
    secret_file.write_text("https://hooks.example.com/T0/B0/sekrit\n")
    rendered = problems(
        "notification: {slack_webhook: '${AM_TEST_HOOK}', channels: [{type: webhook, url: "
        f"'file:{secret_file}'}}]}}"
    )
    assert rendered == [
        "notification.slack_webhook: is not an http:// or https:// URL "
        "(value not shown: it is secret)"
    ]


def test_history_url_problem_never_shows_the_password() -> None:
    rendered = problems("history: {url: 'postgresql://am:sekrit@db:0/x'}")
    assert rendered and not any("sekrit" in line for line in rendered)


def test_at_least_one_arguments_exist_in_the_role_specs() -> None:
    """The names in AT_LEAST_ONE are real arguments documented as "at least 1"."""
    options = {
        name: option
        for role in ("model", "python_deps")
        for entry in argument_specs(role).values()
        for name, option in entry.items()
    }
    for name in AT_LEAST_ONE:
        assert "at least 1" in options[name]["description"], name


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("notification: {email: not-an-email}", "notification.email: 'not-an-email' is not an"),
        ("components: {os: {frequency: 0d}}", "components.os.frequency: '0d' is zero"),
        (
            "environments: {production: {hosts: {web2: {ansible_port: 70000}}}}",
            "ansible_port: 70000 must be at most 65535",
        ),
        ("backup: {pre_update: true}", "backup.pre_update: is true but there is nothing"),
    ],
)
def test_validate_exits_2_naming_the_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, snippet: str, expected: str
) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(merged(BASE, yaml.safe_load(snippet))))
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert expected in captured.err
    assert "Traceback" not in captured.err


REPO = Path(__file__).parent.parent.parent


@pytest.mark.parametrize(
    "path",
    [REPO / "examples" / "schedule.yaml", REPO / "examples" / "seed-infrastructure.json"],
    ids=lambda p: p.name,
)
def test_repository_schedules_still_validate(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.startswith("valid: ")
