"""``run --failed``, ``run --limit`` and ``agentmaint cancel``: real runs on local hosts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.config.parse import load_schedule
from agentmaint.history.store import HistoryStore
from agentmaint.records import RunStatus
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration


def _write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _marking(tmp_path: Path, *hosts: str) -> Path:
    """Each update appends a line to ``ran-<host>``; it fails where ``fail-<host>`` exists."""
    command = (
        f'echo x >> {tmp_path}/ran-"$AGENTMAINT_HOST"; test ! -e {tmp_path}/fail-"$AGENTMAINT_HOST"'
    )
    return _write(
        tmp_path,
        always_open(
            local_hosts(*hosts), {"app": {"update_command": command, "frequency": "weekly"}}
        ),
    )


def _runs_on(tmp_path: Path, *hosts: str) -> dict[str, int]:
    """How many times the update ran on each of `hosts`."""
    return {
        h: len((tmp_path / f"ran-{h}").read_text().splitlines())
        if (tmp_path / f"ran-{h}").exists()
        else 0
        for h in hosts
    }


def _agentmaint(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentmaint", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _history(path: Path) -> HistoryStore:
    schedule = load_schedule(path)
    return HistoryStore.from_url(
        schedule.history_url.reveal() if schedule.history_url else None, schedule.state_dir
    )


def test_failed_last_reruns_only_what_failed(tmp_path: Path) -> None:
    path = _marking(tmp_path, "h1", "h2", "h3")
    (tmp_path / "fail-h2").touch()
    first = _agentmaint("run", str(path), "--json")
    assert first.returncode == 1, first.stderr
    first_id = json.loads(first.stdout)["run"]["id"]
    assert _runs_on(tmp_path, "h1", "h2", "h3") == {"h1": 1, "h2": 1, "h3": 1}

    (tmp_path / "fail-h2").unlink()
    relaunch = _agentmaint("run", str(path), "--failed", "last", "--json")
    assert relaunch.returncode == 0, relaunch.stderr
    assert _runs_on(tmp_path, "h1", "h2", "h3") == {"h1": 1, "h2": 2, "h3": 1}
    run = json.loads(relaunch.stdout)["run"]
    assert run["status"] == "successful"
    with _history(path) as history:
        recorded = history.get_run(run["id"])
        assert recorded is not None
        assert recorded.trigger == "relaunch"
        assert recorded.message == f"relaunch of {first_id}"
        assert {r.server for r in history.records(run_id=run["id"])} == {"h2"}

    # The relaunch succeeded: relaunching it has nothing to do (one line, exit 0).
    again = _agentmaint("run", str(path), "--failed", "last")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines() == [
        f"nothing failed or was unreachable in run {run['id']}: nothing to relaunch"
    ]
    assert _runs_on(tmp_path, "h1", "h2", "h3") == {"h1": 1, "h2": 2, "h3": 1}

    # The first run by its id: h2 failed there, so it runs once more.
    by_id = _agentmaint("run", str(path), "--failed", first_id, "--json")
    assert by_id.returncode == 0, by_id.stderr
    assert _runs_on(tmp_path, "h1", "h2", "h3") == {"h1": 1, "h2": 3, "h3": 1}

    unknown = _agentmaint("run", str(path), "--failed", "no-such-run")
    assert unknown.returncode == 2
    assert "no-such-run" in unknown.stderr and "Traceback" not in unknown.stderr


def test_limit_by_name_and_pattern(tmp_path: Path) -> None:
    path = _marking(tmp_path, "web-1", "web-2", "db-1")
    planned = _agentmaint("run", str(path), "--limit", "web-*", "--json")
    assert planned.returncode == 0, planned.stderr
    assert _runs_on(tmp_path, "web-1", "web-2", "db-1") == {"web-1": 1, "web-2": 1, "db-1": 0}

    forced = _agentmaint("run", str(path), "--force", "--limit", "db-1", "--limit", "web-2")
    assert forced.returncode == 0, forced.stderr
    assert _runs_on(tmp_path, "web-1", "web-2", "db-1") == {"web-1": 1, "web-2": 2, "db-1": 1}

    typo = _agentmaint("run", str(path), "--force", "--limit", "web-1", "--limit", "dbx-*")
    assert typo.returncode == 2
    assert "--limit dbx-*: matches no host of the schedule" in typo.stderr
    assert "Traceback" not in typo.stderr
    assert _runs_on(tmp_path, "web-1", "web-2", "db-1") == {"web-1": 1, "web-2": 2, "db-1": 1}


def test_cancel_from_another_process(tmp_path: Path, history_url: str | None) -> None:
    gate = tmp_path / "gate"  # never created: the update waits until it is cancelled
    wait = f"for i in $(seq 1200); do test -e {gate} && break; sleep 0.1; done; test -e {gate}"
    command = f'touch {tmp_path}/started-"$AGENTMAINT_HOST"; {wait}'
    document = always_open(
        local_hosts("b1", "b2"), {"app": {"update_command": command, "frequency": "weekly"}}
    )
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = _write(tmp_path, document)
    running = subprocess.Popen(
        [sys.executable, "-m", "agentmaint", "run", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"started-{h}").exists() for h in ("b1", "b2")):
            assert time.monotonic() < deadline, "the updates never started"
            assert running.poll() is None, running.communicate()
            time.sleep(0.1)

        cancel = _agentmaint("cancel", str(path), "--json", "--timeout", "2m")
        assert cancel.returncode == 0, cancel.stderr
        answer = json.loads(cancel.stdout)
        assert answer["outcome"] == "ended"
        assert answer["run"]["status"] == "canceled"

        out, err = running.communicate(timeout=120)
    finally:
        if running.poll() is None:  # only on a failure above: do not leave it behind
            running.send_signal(signal.SIGTERM)
            running.communicate(timeout=120)
    expected = 128 + signal.SIGTERM if history_url is None else 1
    assert running.returncode == expected, err
    run = json.loads(out)["run"]
    assert run["status"] == "canceled"
    assert run["id"] == answer["run"]["id"]
    assert not gate.exists()
    with _history(path) as history:
        assert [r.status for r in history.runs()] == [RunStatus.CANCELED]

    # Nothing runs any more: nothing to cancel.
    idle = _agentmaint("cancel", str(path))
    assert idle.returncode == 1, idle.stderr
    assert idle.stdout.strip() == "no run is running: nothing to cancel"


def test_cancel_with_nothing_running_exits_1(tmp_path: Path) -> None:
    path = _marking(tmp_path, "h1")
    result = _agentmaint("cancel", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip() == "no run is running: nothing to cancel"
    unknown = _agentmaint("cancel", str(path), "no-such-run")
    assert unknown.returncode == 2
    assert "no run 'no-such-run'" in unknown.stderr and "Traceback" not in unknown.stderr
