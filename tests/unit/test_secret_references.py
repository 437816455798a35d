"""A schedule without its production secrets: form checks, unresolved references, the CLI.

``validate --no-secrets`` checks every ``${ENV_VAR}`` / ``file:`` reference for form and
reads none; ``plan``, ``windows`` and ``render`` resolve only what they use (the history
URL, or nothing); ``validate`` without the flag resolves everything, as before.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.config.parse import load_schedule, parse_schedule, validate_file
from agentmaint.config.secret import Secret, SecretReference, reference_problem
from agentmaint.errors import Problem, ScheduleError, SecretReferenceError
from tests.schedules import always_open, local_hosts

#: The variables the schedules below refer to; no test sets them unless it says so.
VARIABLES = ("AM_SMTP_PW", "AM_SLACK_URL", "AM_HOOK_TOKEN", "AM_HOOK_KEY", "AM_PG_PW")


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def notification(secret_dir: Path) -> dict[str, Any]:
    """Every kind of secret field, each a reference to something that is not there."""
    return {
        "email": "ops@example.com",
        "slack_webhook": "${AM_SLACK_URL}",
        "smtp": {"host": "mail", "username": "u", "password": "${AM_SMTP_PW}"},
        "channels": [
            {
                "type": "webhook",
                "url": "https://hooks.example/${AM_HOOK_TOKEN}",
                "secret": f"file:{secret_dir}/hmac-key",
                "headers": {"Authorization": "Bearer ${AM_HOOK_TOKEN}"},
            }
        ],
    }


def document(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return always_open(
        local_hosts("h1"),
        {"app": {"update_command": "true", "frequency": "weekly"}},
        notification=notification(tmp_path),
        **extra,
    )


def write(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------- form checks


@pytest.mark.parametrize(
    "text",
    [
        "a literal",
        "pa$$word $HOME",  # a lone $ is literal text, not a reference
        "${AM_TOKEN}",
        "Bearer ${_T0KEN}",
        "${USER_}:${PASS}@",
        "file:/run/secrets/smtp",
        "file:~/.config/agentmaint/key",
    ],
)
def test_well_formed_references(text: str) -> None:
    assert reference_problem(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${1TOKEN}", "malformed reference at character 1"),
        ("Bearer ${TOKEN", "malformed reference at character 8"),
        ("${}", "malformed reference at character 1"),
        ("${A}${B-C}", "malformed reference at character 5"),
        ("file:", "file: reference names no file"),
        ("file:secrets/key", "file: reference needs an absolute path"),
        ("file:${DIR}/key", "file: reference has ${...} in its path"),
    ],
)
def test_malformed_references(text: str, message: str) -> None:
    problem = reference_problem(text)
    assert problem is not None and problem.startswith(message)


@pytest.mark.parametrize("resolve_secrets", [True, False])
def test_malformed_references_are_problems_at_their_setting_path(
    seed_config: dict[str, Any], resolve_secrets: bool
) -> None:
    seed_config["notification"] = {
        "slack_webhook": "${SLACK",
        "smtp": {"host": "mail", "username": "u", "password": "file:relative/pw"},
        "channels": [
            {"type": "webhook", "url": "ftp://${AM_HOOK_TOKEN}/", "headers": {"X-Key": "${9}"}}
        ],
    }
    seed_config["history"] = {"url": "postgresql://am:${AM PG}@db/am"}
    with pytest.raises(ScheduleError) as info:
        parse_schedule(seed_config, resolve_secrets=resolve_secrets)
    found = {(p.path, p.message.split(":")[0].split(" at ")[0]) for p in info.value.problems}
    assert found == {
        ("notification.slack_webhook", "malformed reference"),
        ("notification.smtp.password", "file"),
        ("notification.channels[0].url", "is not an http"),
        ("notification.channels[0].headers.X-Key", "malformed reference"),
        ("history.url", "malformed reference"),
    }
    shown = "\n".join(str(p) for p in info.value.problems)
    assert "notification.smtp.password: file: reference needs an absolute path" in shown


# ------------------------------------------------------------------- unresolved references


def test_a_schedule_loads_without_its_secrets(tmp_path: Path) -> None:
    schedule = parse_schedule(document(tmp_path), resolve_secrets=False)
    unresolved = schedule.unresolved_secrets()
    assert [s.path for s in unresolved] == [
        "notification.channels[0].headers.Authorization",
        "notification.channels[0].secret",
        "notification.channels[0].url",
        "notification.slack_webhook",
        "notification.smtp.password",
    ]
    assert schedule.notification.env_names == ("AM_SLACK_URL", "AM_SMTP_PW", "AM_HOOK_TOKEN")
    password = schedule.notification.smtp and schedule.notification.smtp.password
    assert isinstance(password, SecretReference)
    assert repr(password) == str(password) == "***"
    assert "hooks.example" not in repr(schedule) and "Bearer" not in repr(schedule)
    with pytest.raises(SecretReferenceError) as info:
        password.reveal()
    assert str(info.value).startswith("notification.smtp.password: ${AM_SMTP_PW} was not resolved")
    slack, webhook = schedule.notification.channels[1:]
    assert slack.describe() == "slack (URL from ${AM_SLACK_URL}, not resolved)"
    assert webhook.describe() == "webhook (URL from ${AM_HOOK_TOKEN}, not resolved)"


def test_resolving_names_every_setting_and_variable_and_no_value(tmp_path: Path) -> None:
    schedule = parse_schedule(document(tmp_path), resolve_secrets=False)
    environ = {"AM_SLACK_URL": "not-a-url-sekrit", "AM_HOOK_TOKEN": "tok"}
    with pytest.raises(ScheduleError) as info:
        schedule.resolve_secrets(environ=environ)
    assert list(info.value.problems) == [
        Problem(
            "notification.channels[0].secret",
            f"cannot read file:{tmp_path}/hmac-key (No such file or directory)",
        ),
        Problem(
            "notification.slack_webhook",
            "is not an http:// or https:// URL (value not shown: it is secret)",
        ),
        Problem("notification.smtp.password", "environment variable(s) not set: AM_SMTP_PW"),
    ]
    assert "sekrit" not in str(info.value)


def test_resolving_gives_what_loading_with_secrets_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hmac-key").write_text("key-sekrit\n")
    environ = {
        "AM_SLACK_URL": "https://hooks.slack.com/services/sekrit",
        "AM_SMTP_PW": "pw-sekrit",
        "AM_HOOK_TOKEN": "tok-sekrit",
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    deferred = parse_schedule(document(tmp_path), resolve_secrets=False)
    resolved = deferred.resolve_secrets()
    assert resolved == parse_schedule(document(tmp_path))
    assert resolved.unresolved_secrets() == ()
    assert resolved.resolve_secrets() is resolved
    assert resolved.notification.slack_webhook == Secret(environ["AM_SLACK_URL"])
    (_, slack, webhook) = resolved.notification.channels
    assert slack.url is resolved.notification.slack_webhook  # read once, shared
    assert webhook.secret == Secret("key-sekrit")
    assert webhook.headers["Authorization"] == Secret("Bearer tok-sekrit")


def test_a_command_resolves_only_what_it_uses(tmp_path: Path) -> None:
    doc = document(tmp_path, history={"url": "postgresql://am:${AM_PG_PW}@db.example/am"})
    schedule = parse_schedule(doc, resolve_secrets=False)
    with_history = schedule.resolve_secrets(notification=False, environ={"AM_PG_PW": "pg"})
    assert with_history.history_url == Secret("postgresql://am:pg@db.example/am")
    assert len(with_history.unresolved_secrets()) == 5  # the notification's, untouched
    with pytest.raises(ScheduleError) as info:
        schedule.resolve_secrets(notification=False, environ={})
    assert [str(p) for p in info.value.problems] == [
        "history.url: environment variable(s) not set: AM_PG_PW"
    ]


def test_loading_with_secrets_still_resolves_them_all(tmp_path: Path) -> None:
    path = write(tmp_path, document(tmp_path))
    with pytest.raises(ScheduleError) as info:
        load_schedule(path)
    assert {p.path for p in info.value.problems} == {
        "notification.channels[0].headers.Authorization",
        "notification.channels[0].secret",
        "notification.channels[0].url",
        "notification.slack_webhook",
        "notification.smtp.password",
    }
    assert validate_file(path, resolve_secrets=False) == []
    assert len(validate_file(path)) == 5


# --------------------------------------------------------------------------------- the CLI


def test_validate_no_secrets_with_secrets_unset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, document(tmp_path))
    code, out, err = cli(capsys, "validate", str(path), "--no-secrets")
    assert (code, err) == (0, "")
    assert "valid" in out
    assert "5 secret reference(s) checked for form only, not resolved" in out
    code, out, _ = cli(capsys, "validate", str(path), "--no-secrets", "--json")
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and data["secrets"] == "form-only"
    assert "notification.smtp.password" in data["unresolved_secrets"]


def test_validate_no_secrets_rejects_a_malformed_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = document(tmp_path)
    doc["notification"]["smtp"]["password"] = "${AM_SMTP_PW"
    path = write(tmp_path, doc)
    code, out, err = cli(capsys, "validate", str(path), "--no-secrets")
    assert (code, out) == (2, "")
    assert "notification.smtp.password: malformed reference at character 1" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, "validate", str(path), "--no-secrets", "--json")
    assert code == 2
    assert json.loads(out)["problems"][0]["path"] == "notification.smtp.password"


def test_validate_without_the_flag_still_needs_every_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, document(tmp_path))
    code, out, err = cli(capsys, "validate", str(path))
    assert (code, out) == (2, "")
    assert "notification.smtp.password: environment variable(s) not set: AM_SMTP_PW" in err
    assert "notification.slack_webhook: environment variable(s) not set: AM_SLACK_URL" in err


def test_plan_and_windows_need_no_notification_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, document(tmp_path))
    code, out, err = cli(capsys, "plan", str(path), "--json")
    assert (code, err) == (0, "")
    assert [d["component"] for d in json.loads(out)["due"]] == ["app"]
    code, _, err = cli(capsys, "windows", str(path), "--json")
    assert (code, err) == (0, "")
    code, _, err = cli(capsys, "history", str(path), "--json")
    assert (code, err) == (0, "")


def test_plan_needs_the_history_url_secret_and_windows_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = document(tmp_path, history={"url": "postgresql://am:${AM_PG_PW}@127.0.0.1:1/am"})
    path = write(tmp_path, doc)
    code, out, err = cli(capsys, "plan", str(path))
    assert (code, out) == (2, "")
    assert "history.url: environment variable(s) not set: AM_PG_PW" in err
    assert "notification" not in err
    code, _, err = cli(capsys, "windows", str(path))
    assert (code, err) == (0, "")


def test_render_needs_no_notification_secret_and_writes_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, document(tmp_path))
    code, out, err = cli(capsys, "render", str(path), "--out", str(tmp_path / "unset"))
    assert (code, err) == (0, "")
    assert "inventory:" in out
    # With the secrets set, as on a controller, the rendered job holds none of them either.
    (tmp_path / "hmac-key").write_text("key-sekrit-4\n")
    monkeypatch.setenv("AM_SLACK_URL", "https://hooks.slack.com/services/sekrit-1")
    monkeypatch.setenv("AM_SMTP_PW", "pw-sekrit-2")
    monkeypatch.setenv("AM_HOOK_TOKEN", "tok-sekrit-3")
    job = tmp_path / "set"
    code, out, err = cli(capsys, "render", str(path), "--out", str(job))
    assert (code, err) == (0, "")
    files = [f for f in job.rglob("*") if f.is_file()]
    assert (job / "inventory" / "hosts.yml") in files
    for text in [out, *(f.read_text(errors="replace") for f in files)]:
        assert "sekrit" not in text
        assert "AM_" not in text
