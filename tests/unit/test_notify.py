"""Notifications without servers: events, `when`, payload rendering, secrets and references."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import pickle
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Channel, ChannelType, NotifyEvent, Schedule
from agentmaint.config.secret import Secret, redact, resolve
from agentmaint.config.validation import schedule_schema
from agentmaint.errors import (
    DeliveryCanceledError,
    DeliveryTimeoutError,
    ScheduleError,
    SecretReferenceError,
)
from agentmaint.notify import (
    Stop,
    event_of,
    mrkdwn_escape,
    notify_run,
    render_html,
    render_text,
    sign,
    slack_payload,
    summarize,
    wants,
    webhook_payload,
)
from agentmaint.notify.deadline import Abort, bounded
from agentmaint.planning.planner import Plan
from agentmaint.records import Action, Outcome, RunRecord, RunStatus
from agentmaint.run.observer import BaseObserver, FinishLater, Observers
from agentmaint.run.results import HostOutcome, RunResult

START = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)


def outcome(host: str, status: Outcome, error: str | None = None, rollback: bool = False) -> Any:
    actions = {Action.UPDATE: Outcome.FAILED if status is Outcome.FAILED else status}
    if rollback:
        actions[Action.ROLLBACK] = Outcome.SUCCESS
    return HostOutcome("prod", "app", host, status, actions, error)


def result(status: RunStatus, *outcomes: HostOutcome, message: str | None = None) -> RunResult:
    run = RunRecord(
        id="20261123T013000Z-abcdef",
        trigger="schedule",
        started=START,
        status=status,
        finished=START + timedelta(minutes=2, seconds=5),
        message=message,
        environments=("prod",),
        components=("app",),
    )
    return RunResult(plan=Plan(at=START, decisions=()), run=run, outcomes=outcomes)


OK1 = outcome("web1", Outcome.SUCCESS)
OK2 = outcome("web2", Outcome.SUCCESS)
BAD = outcome("web3", Outcome.FAILED, "rc=3: <boom> & more", rollback=True)
DEAD = outcome("web4", Outcome.UNREACHABLE, "ssh: connect refused")


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (RunResult(plan=Plan(at=START, decisions=())), None),
        (result(RunStatus.SUCCESSFUL, OK1, OK2), NotifyEvent.SUCCESS),
        (result(RunStatus.FAILED, OK1, BAD), NotifyEvent.PARTIAL),
        (result(RunStatus.FAILED, BAD, DEAD), NotifyEvent.FAILURE),
        (result(RunStatus.TIMEOUT), NotifyEvent.FAILURE),
        (result(RunStatus.CANCELED, OK1), NotifyEvent.PARTIAL),
        (result(RunStatus.ERROR), NotifyEvent.FAILURE),
        (result(RunStatus.SUCCESSFUL, outcome("web1", Outcome.SKIPPED)), NotifyEvent.SUCCESS),
    ],
)
def test_event_of(run: RunResult, expected: NotifyEvent | None) -> None:
    assert event_of(run) is expected


@pytest.mark.parametrize(
    ("when", "sent"),
    [
        (None, {"failure", "partial", "test"}),
        (["always"], {"start", "success", "failure", "partial", "test"}),
        (["success"], {"success", "test"}),
        (["start", "failure"], {"start", "failure", "test"}),
        ([], {"test"}),
    ],
)
def test_when_selection(seed_config: dict[str, Any], when: Any, sent: set[str]) -> None:
    channel: dict[str, Any] = {"type": "webhook", "url": "https://hooks.example.com/x"}
    if when is not None:
        channel["when"] = when
    seed_config["notification"] = {"channels": [channel]}
    (parsed,) = parse_schedule(seed_config).notification.channels
    assert {e.value for e in NotifyEvent if wants(parsed, e)} == sent


def test_default_when_applies_to_seed_fields(seed_config: dict[str, Any]) -> None:
    seed_config["notification"] = {"email": "a@example.com", "when": ["success"]}
    (channel,) = parse_schedule(seed_config).notification.channels
    assert channel.type is ChannelType.EMAIL and channel.when == {NotifyEvent.SUCCESS}


def schedule_of(seed_config: dict[str, Any]) -> Schedule:
    return parse_schedule(seed_config, source="/etc/agentmaint/fleet.yaml")


@pytest.mark.parametrize(
    ("run", "present", "absent"),
    [
        (
            result(RunStatus.FAILED, OK1, BAD, DEAD),
            ["web1", "web3", "web4", "rc=3", "ssh: connect refused", "rollback", "2m5s"],
            [],
        ),
        (result(RunStatus.SUCCESSFUL, OK1, OK2), ["web1", "web2", "successful"], ["rollback"]),
        (result(RunStatus.TIMEOUT, message="run timeout after 1h"), ["run timeout after 1h"], []),
    ],
)
def test_renderings(
    seed_config: dict[str, Any], run: RunResult, present: list[str], absent: list[str]
) -> None:
    schedule = schedule_of(seed_config)
    event = event_of(run)
    assert event is not None
    summary = summarize(schedule, run, event)
    text = render_text(summary)
    markup = render_html(summary)
    slack = json.dumps(slack_payload(summary))
    hook = json.dumps(webhook_payload(run, summary))
    for body in (text, markup, slack, hook):
        for word in present:
            assert word in body, (word, body)
        if body is not hook:  # the JSON document always has an (empty) "rollbacks" list
            for word in absent:
                assert word not in body.lower()
        assert "agentmaint history /etc/agentmaint/fleet.yaml" in body


def test_everything_escaped(seed_config: dict[str, Any]) -> None:
    summary = summarize(
        schedule_of(seed_config), result(RunStatus.FAILED, BAD), NotifyEvent.FAILURE
    )
    markup = render_html(summary)
    assert "<boom>" not in markup and "&lt;boom&gt; &amp; more" in markup
    slack = json.dumps(slack_payload(summary)["blocks"])
    assert "<boom>" not in slack and "&lt;boom&gt; &amp; more" in slack
    assert mrkdwn_escape("<!channel> & co") == "&lt;!channel&gt; &amp; co"


def test_webhook_payload_is_the_run_document_plus_summary(seed_config: dict[str, Any]) -> None:
    run = result(RunStatus.FAILED, OK1, BAD)
    summary = summarize(schedule_of(seed_config), run, NotifyEvent.PARTIAL)
    payload = webhook_payload(run, summary)
    assert {k: v for k, v in payload.items() if k not in ("event", "summary")} == run.to_dict()
    assert payload["event"] == "partial"
    assert payload["summary"]["hosts"] == {"total": 2, "succeeded": 1, "failed": ["web3"]}
    assert payload["summary"]["rollbacks"] == [
        {"environment": "prod", "component": "app", "host": "web3", "status": "success"}
    ]
    expected = hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()
    assert sign(b"{}", "k") == f"sha256={expected}"


# --------------------------------------------------------------------------- secrets


def test_secret_renders_masked() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == str(secret) == f"{secret}" == "***"
    assert "hunter2" not in repr([secret, {"k": secret}])
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2") and secret != "hunter2"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_redact_also_url_quoted() -> None:
    secrets = [Secret("a b/c"), Secret("tok123")]
    assert redact("x a b/c a%20b%2Fc a+b%2Fc tok123", secrets) == "x *** *** *** ***"


def test_resolve_references(tmp_path: Path) -> None:
    env = {"TOKEN": "t0k", "USER_": "u"}
    assert resolve("Bearer ${TOKEN}", env).reveal() == "Bearer t0k"
    assert resolve("${USER_}:${TOKEN}", env).reveal() == "u:t0k"
    assert resolve("plain", env).reveal() == "plain"
    secret_file = tmp_path / "s"
    secret_file.write_text("from-file\n")
    assert resolve(f"file:{secret_file}", env).reveal() == "from-file"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${MISSING}", "environment variable(s) not set: MISSING"),
        ("a ${MISSING} ${OTHER}", "environment variable(s) not set: MISSING, OTHER"),
        ("${EMPTY}", "the referenced environment variable is empty"),
        ("file:/nonexistent/agentmaint-secret", "cannot read file:/nonexistent/agentmaint-secret"),
    ],
)
def test_reference_errors(text: str, message: str) -> None:
    with pytest.raises(SecretReferenceError) as info:
        resolve(text, {"EMPTY": ""})
    assert message in str(info.value)


def test_unresolvable_references_are_validation_problems(
    seed_config: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AM_UNSET_VAR", raising=False)
    monkeypatch.setenv("AM_NOT_A_URL", "sekrit-not-url")
    seed_config["notification"] = {
        "slack_webhook": "${AM_UNSET_VAR}",
        "smtp": {"host": "mail", "username": "u", "password": f"file:{tmp_path}/nope"},
        "channels": [
            {"type": "webhook", "url": "${AM_NOT_A_URL}"},
            {"type": "email"},
            {"type": "slack", "url": "https://x.example/", "secret": "s"},
        ],
    }
    with pytest.raises(ScheduleError) as info:
        parse_schedule(seed_config)
    problems = {(p.path, p.message) for p in info.value.problems}
    assert problems == {
        ("notification.slack_webhook", "environment variable(s) not set: AM_UNSET_VAR"),
        (
            "notification.smtp.password",
            f"cannot read file:{tmp_path}/nope (No such file or directory)",
        ),
        (
            "notification.channels[0].url",
            "is not an http:// or https:// URL (value not shown: it is secret)",
        ),
        ("notification.channels[1].to", "is required for an email channel (one or more addresses)"),
        ("notification.channels[2].secret", "does not apply to a slack channel"),
    }
    assert "sekrit" not in str(info.value)


def test_repr_of_schedule_hides_every_secret(
    seed_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AM_PW", "pw-sekrit-1")
    seed_config["notification"] = {
        "slack_webhook": "https://hooks.slack.com/services/T/B/sekrit-2",
        "smtp": {"host": "mail", "username": "u", "password": "${AM_PW}"},
        "channels": [
            {
                "type": "webhook",
                "url": "https://h.example/sekrit-3",
                "secret": "sekrit-4",
                "headers": {"Authorization": "Bearer sekrit-5"},
            }
        ],
    }
    schedule = parse_schedule(seed_config)
    assert "sekrit" not in repr(schedule)
    assert schedule.notification.env_names == ("AM_PW",)
    described = [c.describe() for c in schedule.notification.channels]
    assert described == ["slack https://hooks.slack.com/***", "webhook https://h.example/***"]


def test_schema_marks_secret_fields() -> None:
    notification = schedule_schema()["$defs"]["notification"]["properties"]
    assert notification["slack_webhook"]["x-secret"] is True
    assert notification["smtp"]["properties"]["password"]["x-secret"] is True
    channel = notification["channels"]["items"]["properties"]
    assert channel["url"]["x-secret"] and channel["secret"]["x-secret"]
    assert channel["headers"]["additionalProperties"]["x-secret"] is True


def test_failures_never_raise_and_are_redacted(seed_config: dict[str, Any]) -> None:
    seed_config["notification"] = {
        "channels": [
            {"type": "webhook", "url": "http://127.0.0.1:1/tok-sekrit", "when": ["always"]}
        ]
    }
    schedule = parse_schedule(seed_config)
    pauses: list[float] = []
    (delivery,) = notify_run(
        schedule, result(RunStatus.SUCCESSFUL, OK1), delays=(1, 2), sleep=pauses.append
    )
    assert pauses == [1, 2]
    assert delivery.status.value == "failed" and delivery.attempts == 3
    assert delivery.channel == "webhook http://127.0.0.1:1/***"
    assert "sekrit" not in (delivery.error or "") and delivery.error


def test_an_email_failure_names_the_smtp_server_and_port(seed_config: dict[str, Any]) -> None:
    seed_config["notification"] = {
        "smtp": {"host": "127.0.0.1", "port": 1, "tls": "none"},
        "channels": [{"type": "email", "to": "ops@example.com", "when": ["always"]}],
    }
    (delivery,) = notify_run(
        parse_schedule(seed_config), result(RunStatus.SUCCESSFUL, OK1), delays=(), sleep=None
    )
    assert delivery.status.value == "failed"
    assert delivery.channel == "email to ops@example.com via 127.0.0.1:1 (none)"
    assert "Connection refused" in (delivery.error or "")


def test_a_dry_run_is_labelled_in_notifications(seed_config: dict[str, Any]) -> None:
    dry = result(RunStatus.SUCCESSFUL, OK1)
    assert dry.run is not None
    dry = replace(dry, run=replace(dry.run, check_mode=True))
    summary = summarize(schedule_of(seed_config), dry, NotifyEvent.SUCCESS)
    assert summary["title"].startswith("agentmaint success: [check mode, nothing changed] ")
    assert "check mode" in render_text(summary)


def test_channel_type_is_exported() -> None:
    assert Channel(ChannelType.SLACK, url=Secret("https://x/y")).describe() == "slack https://x/***"


# --------------------------------------------------------------------------- deadlines


def test_a_cancelled_run_cuts_an_attempt_short_and_shuts_its_connection() -> None:
    cancel = threading.Event()
    stop = Stop(cancel, grace=0.5)
    released = threading.Event()  # what the attempt blocks on, like a read
    shut: list[str] = []

    def attempt(abort: Abort, timeout: float) -> None:
        abort.on_abort(lambda: (shut.append("shut"), released.set()))
        cancel.set()  # SIGTERM arrives while the attempt waits
        released.wait()

    with pytest.raises(DeliveryCanceledError, match="cancelled"):
        bounded(attempt, until=time.monotonic() + 3600, stop=stop)
    assert shut == ["shut"]
    # Once the grace is spent, nothing more is even attempted.
    called: list[float] = []
    with pytest.raises(DeliveryCanceledError):
        bounded(lambda _abort, timeout: called.append(timeout), until=math.inf, stop=stop)
    assert called == []


def test_an_attempt_past_its_deadline_is_abandoned() -> None:
    forever = threading.Event()
    with pytest.raises(DeliveryTimeoutError, match=r"within 0\.2 s"):
        bounded(
            lambda abort, timeout: forever.wait(), until=time.monotonic() + 0.2, stop=Stop(None)
        )


def test_attempt_errors_reach_the_caller() -> None:
    def attempt(abort: Abort, timeout: float) -> None:
        raise OSError("HTTP 500")

    with pytest.raises(OSError, match="HTTP 500"):
        bounded(attempt, until=time.monotonic() + 60, stop=Stop(None))


def test_no_retry_once_the_run_is_cancelled(seed_config: dict[str, Any]) -> None:
    seed_config["notification"] = {
        "channels": [{"type": "webhook", "url": "http://127.0.0.1:1/x", "when": ["always"]}]
    }
    cancel = threading.Event()
    cancel.set()
    pauses: list[float] = []
    (delivery,) = notify_run(
        parse_schedule(seed_config),
        result(RunStatus.SUCCESSFUL, OK1),
        sleep=pauses.append,
        stop=Stop(cancel, grace=5.0),
    )
    assert delivery.status.value == "failed" and delivery.attempts == 1 and pauses == []
    assert "the run was cancelled: no further attempt" in (delivery.error or "")


def test_finish_later_keeps_the_end_for_finish() -> None:
    seen: list[str] = []

    class Watch(BaseObserver):
        def __init__(self, name: str) -> None:
            self.name = name

        def status_changed(self, status: str) -> None:
            seen.append(f"{self.name} {status}")

        def run_finished(self, result: RunResult) -> None:
            seen.append(f"{self.name} finished")

    later = FinishLater([Watch("notifier"), Watch("caller")])
    both = Observers([Watch("recorder"), later])
    both.status_changed("running")
    both.run_finished(result(RunStatus.SUCCESSFUL, OK1))
    assert seen == ["recorder running", "notifier running", "caller running", "recorder finished"]
    later.finish()
    later.finish()  # told once only
    assert seen[4:] == ["notifier finished", "caller finished"]
