"""`agentmaint daemon`: a real local fleet maintained when its window opens, then stopped.

The window opens at the next whole minute (at least 10 s away, so that the daemon is
asleep before it opens): the daemon must wake up for it, run like ``run --scheduled``
and update each host once. A component added to the file is then picked up (reload) at
a poll tick, and a SIGTERM while its update blocks cancels the run (recorded
``canceled``, no process left: the autouse fixture of conftest.py checks) and ends the
daemon with 128 + SIGTERM. Every wait has a generous deadline; nothing is timed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.history.store import MissingHistoryError, open_history
from tests.schedules import local_hosts

pytestmark = pytest.mark.integration

DEADLINE = 300.0  # seconds: a loaded CI machine, not an expectation


def _write(path: Path, window: dict[str, Any], components: dict[str, Any]) -> None:
    document = {
        "environments": {"fleet": {"hosts": local_hosts("h1", "h2"), "update_schedule": window}},
        "components": components,
    }
    path.write_text(yaml.safe_dump(document))


def _runs(state_dir: Path) -> list[tuple[str, str]]:
    try:
        with open_history(None, state_dir, readonly=True) as store:
            return [(r.trigger, r.status.value) for r in reversed(store.runs())]
    except MissingHistoryError:
        return []


def _log(stderr: Path) -> list[dict[str, Any]]:
    """The daemon's log so far: JSON lines only (a line still being written is left out)."""
    lines = stderr.read_text().splitlines(keepends=True)
    return [json.loads(line) for line in lines if line.endswith("\n")]


def _until(what: str, condition: Callable[[], bool], daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert daemon.poll() is None, f"the daemon exited ({daemon.returncode}) before: {what}"
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def test_the_daemon_maintains_when_the_window_opens_and_stops_on_sigterm(tmp_path: Path) -> None:
    start = (datetime.now(UTC) + timedelta(seconds=10)).replace(
        second=0, microsecond=0
    ) + timedelta(minutes=1)
    window = {"day_of_week": "daily", "time": f"{start:%H:%M}", "duration": "1h"}
    app = {
        "update_command": f'echo "$AGENTMAINT_RUN_ID" >> {tmp_path}/updated-"$AGENTMAINT_HOST"',
        "frequency": "daily",
    }
    path = tmp_path / "schedule.yaml"
    _write(path, window, {"app": app})
    stderr = tmp_path / "daemon.log"
    with stderr.open("wb") as log_file:
        command = ["daemon", str(path), "--poll", "2s", "--log-format", "json"]
        daemon = subprocess.Popen(
            [sys.executable, "-m", "agentmaint", *command],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        state_dir = tmp_path / ".agentmaint"
        _until(
            "a successful run",
            lambda: ("scheduled", "successful") in _runs(state_dir),
            daemon,
        )
        log = _log(stderr)
        # It slept until the window opened (it did not find it open at its start).
        first_wake = next(r for r in log if r["event"] == "wake_up")
        assert f"window opens {start:%Y-%m-%d %H:%M} UTC" in first_wake["message"]
        # A poll tick after the run finds nothing due: the hosts stay updated once.
        _until(
            "a poll tick after the run",
            lambda: any(r["event"] == "run_skipped" for r in _log(stderr)),
            daemon,
        )
        updates = {h: (tmp_path / f"updated-{h}").read_text().split() for h in ("h1", "h2")}
        assert [len(ids) for ids in updates.values()] == [1, 1], updates
        assert updates["h1"] == updates["h2"]  # one run updated both
        assert _runs(state_dir) == [("scheduled", "successful")]

        # A component whose update blocks on a gate that never opens, added to the file.
        gate = tmp_path / "gate"
        wait = f"for i in $(seq 6000); do test -e {gate} && break; sleep 0.1; done"
        gated = {
            "update_command": f'touch {tmp_path}/started-"$AGENTMAINT_HOST"; {wait}',
            "frequency": "daily",
        }
        _write(path, window, {"app": app, "gated": gated})
        started = [tmp_path / "started-h1", tmp_path / "started-h2"]
        _until("the gated update", lambda: all(p.exists() for p in started), daemon)
        assert any(r["event"] == "schedule_reloaded" for r in _log(stderr))

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=DEADLINE) == 128 + signal.SIGTERM
    finally:
        if daemon.poll() is None:
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
    assert _runs(state_dir) == [("scheduled", "successful"), ("scheduled", "canceled")]
    assert not gate.exists()
    log = _log(stderr)
    assert log[-1]["event"] == "daemon_stopped"
    assert "canceled" in log[-1]["message"]
    assert not any(r["event"] == "run_error" for r in log)


def test_a_sigterm_while_waiting_exits_0_at_once(tmp_path: Path) -> None:
    # A window that opened a few hours ago and closed: the daemon sleeps until tomorrow's.
    opened = datetime.now(UTC) - timedelta(hours=3)
    window = {"day_of_week": "daily", "time": f"{opened:%H:%M}", "duration": "1h"}
    path = tmp_path / "schedule.yaml"
    _write(path, window, {"app": {"update_command": "true", "frequency": "daily"}})
    stderr = tmp_path / "daemon.log"
    with stderr.open("wb") as log_file:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "agentmaint", "daemon", str(path), "--log-format", "json"],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        _until("the wake-up decided", lambda: len(_log(stderr)) >= 2, daemon)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=DEADLINE) == 0
    finally:
        if daemon.poll() is None:
            os.kill(daemon.pid, signal.SIGKILL)
            daemon.wait()
    assert [r["event"] for r in _log(stderr)] == ["daemon_started", "wake_up", "daemon_stopped"]
    assert not (tmp_path / ".agentmaint").exists() or _runs(tmp_path / ".agentmaint") == []
