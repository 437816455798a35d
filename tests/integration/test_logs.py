"""A real `agentmaint run` without a terminal: its log, line by line, as it happens.

stdout and stderr are pipes here, as under a timer, cron or journald: the run logs
INFO to stderr, one line per finished action and host while it runs, and its end.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.postgres import PASSWORD
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

WEBHOOK_TOKEN = "hooktok-LOGS-7Yq2"  # a test secret that must never be logged
KEYS = {"time", "level", "event", "message"}


def agentmaint(*argv: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentmaint", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def parse(lines: list[str]) -> list[dict[str, Any]]:
    """Every line one JSON object with the keys a log shipper relies on."""
    parsed = []
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict) and entry.keys() >= KEYS, line
        assert entry["time"].endswith("Z"), line
        datetime.fromisoformat(entry["time"])
        assert entry["level"] in {"debug", "info", "warning", "error", "critical"}
        parsed.append(entry)
    return parsed


@pytest.fixture
def webhook() -> Iterator[str]:
    """A local webhook receiver that accepts everything; its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_json_log_of_a_run_without_secrets(tmp_path: Path, postgres_url: str, webhook: str) -> None:
    document = always_open(
        local_hosts("h1", "h2"),
        {"app": {"update_command": 'test "$AGENTMAINT_HOST" = h1', "frequency": "weekly"}},
        history={"url": postgres_url},
        notification={
            "channels": [
                {"type": "webhook", "url": f"{webhook}/t/{WEBHOOK_TOKEN}", "when": ["always"]},
                {
                    "type": "webhook",
                    "url": f"http://127.0.0.1:{dead_port()}/x/{WEBHOOK_TOKEN}",
                    "when": ["partial", "failure"],
                },
            ]
        },
    )
    path = write(tmp_path, document)
    log_file = tmp_path / "agentmaint.log"
    process = agentmaint(
        "--log-format", "json", "run", path, "-v", "--json", "--log-file", log_file
    )
    out, err = process.communicate(timeout=600)
    assert process.returncode == 1, err  # h2 failed
    run_id = json.loads(out)["run"]["id"]

    entries = parse(err.splitlines())
    assert parse(log_file.read_text().splitlines()) == entries  # the same records, as JSON
    events = [e["event"] for e in entries]
    assert events.index("planned") < events.index("run_started") < events.index("run_finished")
    started = entries[events.index("run_started")]
    assert (started["run_id"], started["environment"], started["level"]) == (
        run_id,
        "fleet",
        "info",
    )
    updates = {
        (e["host"], e["status"], e["level"])
        for e in entries
        if e["event"] == "task_finished" and e.get("action") == "update"
    }
    assert updates == {("h1", "changed", "info"), ("h2", "failed", "warning")}
    for entry in entries:
        if entry["event"] == "task_finished":
            assert (entry["run_id"], entry["environment"], entry["component"]) == (
                run_id,
                "fleet",
                "app",
            )
    finished = entries[events.index("run_finished")]
    assert (finished["status"], finished["level"], finished["counts"]) == (
        "failed",
        "warning",
        {"failed": 1, "success": 1},
    )
    assert finished["failed_hosts"] == ["h2"]
    notified = sorted((e["event"], e["channel"].split("/")[2]) for e in entries if "channel" in e)
    assert ("notification_delivered", webhook.split("/")[2]) in notified  # start, then partial
    assert any(e == "notification_failed" for e, _ in notified)
    assert all(e["channel"].endswith("/***") for e in entries if "channel" in e)

    everything = out + err + log_file.read_text()
    for secret in (WEBHOOK_TOKEN, PASSWORD, quote(PASSWORD, safe="")):
        assert secret not in everything
    assert "***" in everything  # redacted, not dropped


def test_a_run_without_a_terminal_logs_each_host_as_it_finishes(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    wait = f"for i in $(seq 600); do test -e {gate} && break; sleep 0.1; done; test -e {gate}"
    document = always_open(
        local_hosts("h1", "h2"),
        {
            "app": {
                # h1 finishes at once; h2 waits for the gate (at most 60 s).
                "update_command": f'test "$AGENTMAINT_HOST" = h1 || {{ {wait}; }}',
                "frequency": "weekly",
            }
        },
    )
    path = write(tmp_path, document)
    process = agentmaint("run", path)  # no log option: the default without a terminal
    assert process.stderr is not None
    seen: list[str] = []
    try:
        for line in process.stderr:
            seen.append(line)
            if "fleet/app h1: update changed" in line:
                break
        # h1's line arrived while h2 still waits for the gate: the run is not over.
        assert not gate.exists()
        assert process.poll() is None, seen
        assert not any("finished" in line for line in seen), seen
    finally:
        gate.touch()
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, [*seen, err]
    lines = seen + err.splitlines(keepends=True)
    assert any(" INFO run " in x and " started: fleet/app on 2 host(s)" in x for x in seen)
    assert any("fleet/app h2: update changed" in x for x in err.splitlines())
    (summary,) = [x for x in lines if " finished: successful" in x]
    assert " INFO " in summary and "outcomes: 2 success" in summary
    assert lines.index(summary) > lines.index(seen[-1])
    assert "Run " in out and "successful" in out  # the report on stdout, at the end


def test_a_locked_run_says_so_once_in_text_and_as_json(tmp_path: Path) -> None:
    from agentmaint.run.locks import environment_locks

    document = always_open(
        local_hosts("h1"), {"app": {"update_command": "true", "frequency": "weekly"}}
    )
    path = write(tmp_path, document)
    with environment_locks(tmp_path / ".agentmaint", ["fleet"], run_id="other-run"):
        text = agentmaint("run", path)
        _, err = text.communicate(timeout=600)
        json_run = agentmaint("run", path, "--log-format", "json")
        _, json_err = json_run.communicate(timeout=600)
    assert text.returncode == json_run.returncode == 3
    assert err.count("is locked by another run") == 1, err  # the error line, not also the log
    entries = parse(json_err.splitlines())  # every stderr line JSON, the error included
    assert [(e["event"], e.get("environment")) for e in entries if e["level"] != "info"] == [
        ("error", "fleet")
    ]
    assert any(e["event"] == "locked" and e["level"] == "info" for e in entries)
