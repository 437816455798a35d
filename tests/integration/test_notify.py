"""Notifications for real: a local SMTP server (aiosmtpd) and a local HTTP server.

Covers SMTP with STARTTLS and login (self-signed certificate made at test time),
implicit TLS, Slack and webhook payloads (HMAC verified), a channel that is down,
and a full maintenance run whose secrets must appear nowhere: not in anything
printed, not in any file under ``state_dir`` (SQLite bytes and run artifacts).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import signal
import socket
import socketserver
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint import notify
from agentmaint.cli import main
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.run.locks import environment_locks
from tests.schedules import always_open, local_hosts

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

pytestmark = pytest.mark.integration

SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-pw-Zq81xK"  # a test secret that must never leak
WEBHOOK_TOKEN = "hooktok-93JfPq"
HMAC_KEY = "hmac-key-X7mm2"
BEARER = "bearer-tok-55Lk"
SECRETS = (SMTP_PASSWORD, WEBHOOK_TOKEN, HMAC_KEY, BEARER)


# --------------------------------------------------------------------------- servers


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpSink:
    url: str
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            sink.requests.append(Received(self.path, dict(self.headers.items()), body))
            if sink.fail_first > 0:
                sink.fail_first -= 1
                self.send_response(500)
            else:
                self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.box.messages.append((list(envelope.rcpt_tos), message))
        implicit = server.transport.get_extra_info("ssl_object") is not None
        self.box.tls.append(session.ssl is not None or implicit)
        return "250 OK"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def start_smtp(
    *,
    login: bool,
    starttls: tuple[Path, Path] | None = None,
    implicit: tuple[Path, Path] | None = None,
) -> tuple[Mailbox, Any]:
    box = Mailbox(port=free_port())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        user, password = data.login.decode(), data.password.decode()
        box.logins.append((user, password))
        return aiosmtpd_smtp.AuthResult(success=(user, password) == (SMTP_USER, SMTP_PASSWORD))

    kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": box.port}
    if login:
        kwargs |= {"authenticator": authenticator, "auth_required": True}
        kwargs["auth_require_tls"] = starttls is not None or implicit is not None
    if starttls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(starttls[0]), str(starttls[1]))
        kwargs |= {"tls_context": context, "require_starttls": True}
    if implicit is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(implicit[0]), str(implicit[1]))
        kwargs["ssl_context"] = context
    controller = aiosmtpd_controller.Controller(_Handler(box), **kwargs)
    controller.start()
    return box, controller


# --------------------------------------------------------------------------- helpers


def failing_fleet(**notification: Any) -> dict[str, Any]:
    """h1 and h3 succeed; h2 fails (and rolls back): a partial run."""
    return always_open(
        local_hosts("h1", "h2", "h3"),
        {
            "app": {
                "update_command": 'test "$AGENTMAINT_HOST" != h2 || { echo boom >&2; exit 3; }',
                "rollback_command": "true",
                "frequency": "weekly",
            }
        },
        notification=notification,
    )


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # notify_run reads the delays of the module it is defined in
    monkeypatch.setattr(notify.send, "RETRY_DELAYS", (0.01, 0.02))


# --------------------------------------------------------------------------- tests


def test_starttls_login_and_webhooks_on_a_partial_run(
    tmp_path: Path,
    http_sink: HttpSink,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, controller = start_smtp(login=True, starttls=certificate)
    try:
        monkeypatch.setenv("AM_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
        monkeypatch.setenv("AM_TEST_HMAC", HMAC_KEY)
        schedule = load_schedule(
            write(
                tmp_path,
                failing_fleet(
                    smtp={
                        "host": "127.0.0.1",
                        "port": box.port,
                        "from": "agentmaint@example.com",
                        "tls": "starttls",
                        "ca_file": str(certificate[0]),
                        "username": SMTP_USER,
                        "password": "${AM_TEST_SMTP_PASSWORD}",
                        "timeout": "10s",
                    },
                    email=["ops@example.com", "oncall@example.com"],
                    slack_webhook=f"{http_sink.url}/slack",
                    channels=[
                        {
                            "type": "webhook",
                            "name": "ops",
                            "url": f"{http_sink.url}/hook",
                            "secret": "${AM_TEST_HMAC}",
                            "headers": {"X-Team": "sre"},
                        }
                    ],
                ),
            )
        )
        result = run_maintenance(schedule)
    finally:
        controller.stop()
    assert result.failed_hosts == ("h2",)
    assert [d.status.value for d in result.notifications] == ["delivered"] * 3
    assert {d.event.value for d in result.notifications} == {"partial"}

    # Email: STARTTLS, login, both alternatives with hosts, errors and rollbacks.
    assert box.logins == [(SMTP_USER, SMTP_PASSWORD)]
    ((recipients, message),) = box.messages
    assert box.tls == [True]
    assert sorted(recipients) == ["oncall@example.com", "ops@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    assert "partial" in message["Subject"] and "1 of 3" in message["Subject"]
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    text, markup = plain.get_content(), rich.get_content()
    for body in (text, markup):
        for host in ("h1", "h2", "h3"):
            assert host in body
        assert "non-zero return code" in body
        assert "rollback" in body.lower()
        assert f"agentmaint history {schedule.source}" in body

    # Slack: blocks with the failed host and the history command.
    (slack,) = [r for r in http_sink.requests if r.path == "/slack"]
    payload = slack.json()
    assert payload["text"].startswith("agentmaint partial")
    blob = json.dumps(payload["blocks"])
    assert "h2" in blob and "non-zero return code" in blob and "agentmaint history" in blob

    # Webhook: the run document plus summary; the signature verifies.
    (hook,) = [r for r in http_sink.requests if r.path == "/hook"]
    expected = "sha256=" + hmac.new(HMAC_KEY.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Agentmaint-Signature"] == expected
    assert hook.headers["X-Agentmaint-Event"] == "partial"
    assert hook.headers["X-Team"] == "sre"
    document = hook.json()
    assert document["event"] == "partial"
    assert document["failed_hosts"] == ["h2"]
    assert document["run"]["id"] == result.run.id  # type: ignore[union-attr]
    summary = document["summary"]
    assert summary["hosts"] == {"total": 3, "succeeded": 2, "failed": ["h2"]}
    assert [f["host"] for f in summary["failed"]] == ["h2"]
    assert summary["rollbacks"][0]["host"] == "h2"

    with HistoryStore.open(schedule.state_dir) as store:
        stored = store.notifications(result.run.id)  # type: ignore[union-attr]
    assert [(d.status.value, d.attempts) for d in stored] == [("delivered", 1)] * 3


def test_implicit_tls_and_quiet_success(
    tmp_path: Path, certificate: tuple[Path, Path], http_sink: HttpSink
) -> None:
    box, controller = start_smtp(login=False, implicit=certificate)
    try:
        document = always_open(
            local_hosts("h1"),
            {"app": {"update_command": "true", "frequency": "weekly"}},
            notification={
                "smtp": {
                    "host": "127.0.0.1",
                    "port": box.port,
                    "tls": "ssl",
                    "ca_file": str(certificate[0]),
                },
                "channels": [
                    {"type": "email", "to": "ops@example.com", "when": ["start", "success"]},
                    {"type": "webhook", "url": f"{http_sink.url}/quiet"},  # default: failures
                ],
            },
        )
        result = run_maintenance(load_schedule(write(tmp_path, document)))
    finally:
        controller.stop()
    assert result.succeeded
    assert [(d.event.value, d.status.value) for d in result.notifications] == [
        ("start", "delivered"),
        ("success", "delivered"),
    ]
    assert len(box.messages) == 2 and box.tls == [True, True]
    assert http_sink.requests == []  # a quiet night sends nothing to the default channel


def test_channel_down_is_recorded_and_run_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], http_sink: HttpSink
) -> None:
    dead = free_port()  # nothing listens there
    path = write(
        tmp_path,
        failing_fleet(
            channels=[
                {"type": "webhook", "url": f"http://127.0.0.1:{dead}/x/{WEBHOOK_TOKEN}"},
                {"type": "slack", "url": f"{http_sink.url}/flaky"},
            ]
        ),
    )
    http_sink.fail_first = 1  # the Slack channel succeeds on its second try
    assert main(["run", str(path)]) == 1  # h2 failed, exactly as without notifications
    out = capsys.readouterr().out
    assert f"FAILED via webhook http://127.0.0.1:{dead}/***" in out
    assert "after 3 attempt(s)" in out and "Connection refused" in out
    assert WEBHOOK_TOKEN not in out
    schedule = load_schedule(path)
    with HistoryStore.open(schedule.state_dir) as store:
        (run,) = store.runs()
        assert run.status.value == "failed"
        stored = store.notifications(run.id)
    assert [(d.status.value, d.attempts) for d in stored] == [("failed", 3), ("delivered", 2)]
    assert stored[0].error is not None and WEBHOOK_TOKEN not in stored[0].error


def test_notify_test_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], http_sink: HttpSink
) -> None:
    box, controller = start_smtp(login=True)
    secret_file = tmp_path / "smtp-password"
    secret_file.write_text(SMTP_PASSWORD + "\n")
    document = failing_fleet(
        email="ops@example.com",
        smtp={
            "host": "127.0.0.1",
            "port": box.port,
            "username": SMTP_USER,
            "password": f"file:{secret_file}",
        },
        channels=[{"type": "webhook", "url": f"{http_sink.url}/t/{WEBHOOK_TOKEN}"}],
    )
    path = write(tmp_path, document)
    try:
        assert main(["notify-test", str(path)]) == 0
        out = capsys.readouterr().out
        assert box.logins == [(SMTP_USER, SMTP_PASSWORD)]
        assert len(box.messages) == 1 and "test" in box.messages[0][1]["Subject"]
        assert http_sink.requests[0].json()["event"] == "test"
        assert out.count("delivered via") == 2 and WEBHOOK_TOKEN not in out

        document["notification"]["channels"].append(
            {"type": "slack", "url": f"http://127.0.0.1:{free_port()}/{WEBHOOK_TOKEN}"}
        )
        write(tmp_path, document)
        assert main(["notify-test", str(path)]) == 1
        out = capsys.readouterr().out
        assert "FAILED via slack" in out and WEBHOOK_TOKEN not in out
    finally:
        controller.stop()


def test_no_secret_anywhere_after_a_full_run(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    http_sink: HttpSink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, controller = start_smtp(login=True)
    monkeypatch.setenv("AM_TEST_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("AM_TEST_HMAC", HMAC_KEY)
    monkeypatch.setenv("AM_TEST_BEARER", BEARER)
    url_file = tmp_path / "secrets" / "webhook-url"
    url_file.parent.mkdir()
    url_file.write_text(f"{http_sink.url}/hook/{WEBHOOK_TOKEN}\n")
    path = write(
        tmp_path,
        failing_fleet(
            smtp={
                "host": "127.0.0.1",
                "port": box.port,
                "username": SMTP_USER,
                "password": "${AM_TEST_SMTP_PASSWORD}",
            },
            channels=[
                {"type": "email", "to": "ops@example.com", "when": ["always"]},
                {
                    "type": "webhook",
                    "url": f"file:{url_file}",
                    "secret": "${AM_TEST_HMAC}",
                    "headers": {"Authorization": "Bearer ${AM_TEST_BEARER}"},
                    "when": ["always"],
                },
                # Down: its error text must be redacted too.
                {
                    "type": "webhook",
                    "url": f"http://127.0.0.1:{free_port()}/{WEBHOOK_TOKEN}",
                    "when": ["always"],
                },
            ],
        ),
    )
    try:
        codes = [
            main(["validate", str(path)]),
            main(["run", str(path)]),
            main(["run", str(path), "--json", "--force"]),
            main(["history", str(path)]),
            main(["history", str(path), "--json"]),
            main(["notify-test", str(path)]),
        ]
    finally:
        controller.stop()
    printed = capsys.readouterr()
    assert codes == [0, 1, 1, 0, 0, 1]
    # The channels really did receive the secrets where they belong.
    assert (SMTP_USER, SMTP_PASSWORD) in box.logins
    hooks = [r for r in http_sink.requests if r.path == f"/hook/{WEBHOOK_TOKEN}"]
    assert hooks and all(r.headers["Authorization"] == f"Bearer {BEARER}" for r in hooks)
    schedule = load_schedule(path)
    assert not any(s in repr(schedule) for s in SECRETS)

    for secret in SECRETS:
        assert secret not in printed.out, secret
        assert secret not in printed.err, secret
    state = schedule.state_dir
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "history.sqlite3" for p in files)
    assert any(p.name == "command" for p in files)  # ansible-runner artifacts are searched
    assert any(p.parent.name == "env" for p in files)
    for file in files:
        content = file.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in content, (file, secret)
    # Run directories are private; the database is 0600.
    for run_dir in (state / "runs").iterdir():
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "history.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    with HistoryStore.open(state) as store:
        stored = store.notifications()
    assert {d.status.value for d in stored} == {"delivered", "failed"}
    assert all(WEBHOOK_TOKEN not in (d.error or "") for d in stored)


# --------------------------------------------------------------------------- hangs


@dataclass
class Drip:
    """A server that accepts and then sends `prefix` and one byte a second, forever.

    With an empty `prefix` and ``drip=False`` it accepts and never says anything.
    """

    port: int
    connected: threading.Event = field(default_factory=threading.Event)
    connections: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextlib.contextmanager
def dripping(
    prefix: bytes = b"HTTP/1.1 200 OK\r\nX-Slow: ", *, drip: bool = True
) -> Iterator[Drip]:
    stopped = threading.Event()
    state = Drip(port=0)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            state.connections += 1
            state.connected.set()
            try:
                if prefix:
                    self.request.sendall(prefix)
                while not stopped.wait(1.0):
                    if drip:
                        self.request.sendall(b"a")  # never a whole line, never the end
            except OSError:
                pass  # the client gave up: exactly what is expected

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stopped.set()
        server.shutdown()
        server.server_close()


def hook_fleet(url: str, when: list[str]) -> dict[str, Any]:
    return always_open(
        local_hosts("h1"),
        {"app": {"update_command": "true", "frequency": "weekly"}},
        notification={"channels": [{"type": "webhook", "url": url, "when": when}]},
    )


def test_a_dripping_webhook_fails_within_the_channel_budget(tmp_path: Path) -> None:
    # The documented bounds, unchanged: this is the promise the README makes.
    with dripping() as server:
        schedule = load_schedule(write(tmp_path, hook_fleet(server.url, ["always"])))
        begun = time.monotonic()
        (delivery,) = notify.send_test(schedule)
        took = time.monotonic() - begun
    assert server.connections >= 1
    assert delivery.status.value == "failed"
    assert delivery.error is not None
    assert delivery.error.startswith("DeliveryTimeoutError: no complete answer within")
    assert took < notify.CHANNEL_BUDGET + 10, f"{took:.1f} s for one dripping channel"


@pytest.mark.parametrize("drip", [True, False], ids=["dripping", "silent"])
def test_an_smtp_server_that_never_finishes_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, drip: bool
) -> None:
    monkeypatch.setattr(notify.send, "ATTEMPT_DEADLINE", 2.0)
    monkeypatch.setattr(notify.send, "CHANNEL_BUDGET", 3.0)
    with dripping(b"220-" if drip else b"", drip=drip) as server:
        document = hook_fleet("http://unused", [])
        document["notification"] = {
            "smtp": {"host": "127.0.0.1", "port": server.port, "timeout": "30s"},
            "channels": [{"type": "email", "to": "ops@example.com", "when": ["always"]}],
        }
        begun = time.monotonic()
        (delivery,) = notify.send_test(load_schedule(write(tmp_path, document)))
        took = time.monotonic() - begun
    assert server.connections >= 1
    assert delivery.status.value == "failed"
    assert (delivery.error or "").startswith("DeliveryTimeoutError")
    assert took < 3.0 + 10, f"{took:.1f} s although the per-command timeout is 30 s"


def test_the_lock_is_free_while_the_finish_notification_is_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify.send, "ATTEMPT_DEADLINE", 3.0)
    monkeypatch.setattr(notify.send, "CHANNEL_BUDGET", 5.0)
    with dripping() as server:
        schedule = load_schedule(write(tmp_path, hook_fleet(server.url, ["success"])))
        results: list[Any] = []
        run = threading.Thread(target=lambda: results.append(run_maintenance(schedule)))
        run.start()
        try:
            assert server.connected.wait(120), "the finish notification never came"
            # The run is now blocked in its delivery: another run can take the environment.
            with environment_locks(schedule.state_dir, ["fleet"], run_id="second-run"):
                taken = True
        finally:
            run.join(60)
    assert taken and not run.is_alive()
    (result,) = results
    assert result.succeeded
    ((status, error),) = [(d.status.value, d.error) for d in result.notifications]
    assert status == "failed" and error.startswith("DeliveryTimeoutError")
    with HistoryStore.open(schedule.state_dir) as store:
        stored = store.notifications(result.run.id)
    assert [(d.event.value, d.status.value) for d in stored] == [("success", "failed")]


def test_sigterm_ends_a_run_blocked_in_a_notification(tmp_path: Path) -> None:
    with dripping() as server:
        path = write(tmp_path, hook_fleet(server.url, ["start", "always"]))
        process = subprocess.Popen(
            [sys.executable, "-m", "agentmaint", "run", str(path), "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.connected.wait(120), "the start notification never came"
            process.send_signal(signal.SIGTERM)
            # Far below the 2 x CHANNEL_BUDGET the two events could take without the signal.
            out, err = process.communicate(timeout=notify.CANCEL_GRACE + 10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 128 + signal.SIGTERM, err
    run = json.loads(out)["run"]
    assert run["status"] == "canceled"
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        stored = store.get_run(run["id"])
        assert stored is not None and stored.status.value == "canceled"
        deliveries = store.notifications(run["id"])
    # The start abandoned, then the end not even tried: the grace was spent on the start.
    # (A cancelled run is "failure" or "partial" by whether the job got to h1 first.)
    assert [(d.event.value, d.status.value) for d in deliveries] in (
        [("start", "failed"), ("failure", "failed")],
        [("start", "failed"), ("partial", "failed")],
    )
    assert all("cancelled" in (d.error or "") for d in deliveries), deliveries
