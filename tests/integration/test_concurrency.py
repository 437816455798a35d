"""Two `agentmaint run` processes at once: the environment lock decides, history stays true.

Run with the history in SQLite (lock files) and in PostgreSQL (advisory locks).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from agentmaint.ansible.runner import run_processes
from agentmaint.history.store import HistoryStore
from tests.postgres import PASSWORD
from tests.schedules import local_hosts

pytestmark = pytest.mark.integration

WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "24h"}


def _schedule(tmp_path: Path, gate: Path, history_url: str | None) -> Path:
    """Two environments; `blue` updates wait for `gate` to exist (at most 60 s)."""
    wait = f"for i in $(seq 600); do test -e {gate} && break; sleep 0.1; done; test -e {gate}"
    document = {
        "environments": {
            "blue": {"hosts": local_hosts("b1", "b2"), "update_schedule": WINDOW},
            "green": {"hosts": local_hosts("g1"), "update_schedule": WINDOW},
        },
        "components": {
            "app": {
                "update_command": f'touch {tmp_path}/started-"$AGENTMAINT_HOST"; {wait}',
                "frequency": "weekly",
            }
        },
    }
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _agentmaint(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentmaint", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(*paths: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"never appeared: {paths}"
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)


def test_second_run_of_a_locked_environment_exits_3_then_waits(
    tmp_path: Path, history_url: str | None
) -> None:
    gate = tmp_path / "gate"
    path = _schedule(tmp_path, gate, history_url)
    first = _agentmaint("run", str(path), "--environment", "blue", "--json")
    _wait_for(tmp_path / "started-b1", tmp_path / "started-b2", process=first)

    # Same environment, no --wait: refused at once, naming the holder; nothing recorded.
    second = _agentmaint("run", str(path), "--environment", "blue", "--json")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 3, err
    assert out == ""  # no run document: nothing was started or recorded
    assert "environment 'blue' is locked by another run" in err
    assert f"pid {first.pid}" in err
    assert "started" in err
    assert "Traceback" not in err
    assert PASSWORD not in err and quote(PASSWORD, safe="") not in err

    # A run of the other environment is not blocked by blue's lock.
    green = _agentmaint("run", str(path), "--environment", "green", "--json")
    _wait_for(tmp_path / "started-g1", process=green)

    # With --wait, a third run queues behind the first instead of failing.
    third = _agentmaint("run", str(path), "--environment", "blue", "--wait", "2m", "--json")
    time.sleep(1.0)
    assert third.poll() is None, third.communicate()  # still waiting for the lock

    # A waiting run that is told to stop (a timer stopped, Ctrl-C) stops waiting and runs
    # nothing, instead of sleeping until its deadline and then touching hosts.
    # Signalled once it says it waits (a fixed sleep raced its start-up under load).
    impatient = _agentmaint("run", str(path), "--environment", "blue", "--wait", "1h")
    assert impatient.stderr is not None
    said: list[str] = []
    while not said or "waiting for environment 'blue'" not in said[-1]:
        line = impatient.stderr.readline()
        assert line, f"ended without waiting: {said}"
        said.append(line)
    assert f"locked by another run (pid {first.pid}" in said[-1], said
    assert impatient.poll() is None, impatient.communicate()
    impatient.send_signal(signal.SIGTERM)
    out, err = impatient.communicate(timeout=60)
    assert impatient.returncode == 128 + signal.SIGTERM, err
    assert "cancelled while waiting for environment 'blue'" in err
    assert "nothing was run" in err and "Traceback" not in err

    gate.touch()  # let the first run (and green) finish
    out_first, err_first = first.communicate(timeout=120)
    assert first.returncode == 0, err_first
    out_green, err_green = green.communicate(timeout=120)
    assert green.returncode == 0, err_green
    out_third, err_third = third.communicate(timeout=120)
    assert third.returncode == 0, err_third

    first_run = json.loads(out_first)["run"]
    green_run = json.loads(out_green)["run"]
    assert first_run["status"] == green_run["status"] == "successful"
    # The queued run saw the first one's history: blue was done in this window.
    assert json.loads(out_third)["run"] is None

    with HistoryStore.from_url(history_url, tmp_path / ".agentmaint") as store:
        runs = {r.id: r.status.value for r in store.runs()}
        assert runs == {first_run["id"]: "successful", green_run["id"]: "successful"}
        assert {r.controller for r in store.runs()} == {socket.gethostname()}
        updates = sorted((r.server, r.run_id) for r in store.records())
        assert updates == sorted(
            [
                ("b1", first_run["id"]),
                ("b2", first_run["id"]),
                ("g1", green_run["id"]),
            ]
        )
    assert run_processes(first_run["id"]) == []
    assert run_processes(green_run["id"]) == []
    if history_url is not None:  # the shared history holds everything: no local file, no lock files
        assert not (tmp_path / ".agentmaint" / "history.sqlite3").exists()
        assert not (tmp_path / ".agentmaint" / "locks").exists()
