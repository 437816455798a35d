"""`agentmaint run --scheduled`: what timers, cron and the daemon call.

A late trigger never runs outside its window, nothing due is one line and exit 0, and a
trigger that finds the previous run still going exits 0 at once (``overlap: skip``) or
waits for it (``overlap: wait``): never a second run of the same hosts, never a queue.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.history.store import MissingHistoryError, open_history
from agentmaint.records import RunStatus
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

#: Tuesdays 02:00-03:00 in Berlin; 2026-12-08 is a Tuesday (UTC+1 in winter).
WINDOW = {"day_of_week": "tuesday", "time": "02:00", "duration": "1h", "timezone": "Europe/Berlin"}
INSIDE = "2026-12-08T01:10:00Z"  # 02:10 in Berlin
AFTER = "2026-12-08T02:30:00Z"  # 03:30 in Berlin: the window closed half an hour ago


def schedule_file(tmp_path: Path, history_url: str | None, **execution: Any) -> Path:
    marker = tmp_path / "updated"
    document = {
        "environments": {"fleet": {"hosts": local_hosts("h1", "h2"), "update_schedule": WINDOW}},
        "components": {
            "app": {
                "update_command": f'echo "$AGENTMAINT_RUN_ID" >> {marker}-"$AGENTMAINT_HOST"',
                "frequency": "weekly",
            }
        },
    }
    if execution:
        document["execution"] = execution
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def agentmaint(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentmaint", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def runs(path: Path, history_url: str | None) -> list[tuple[str, str]]:
    try:
        with open_history(history_url, path.parent / ".agentmaint", readonly=True) as store:
            return [(r.trigger, r.status.value) for r in store.runs()]
    except MissingHistoryError:
        return []


def test_a_late_trigger_does_nothing_and_a_timely_one_maintains(
    tmp_path: Path, history_url: str | None
) -> None:
    path = schedule_file(tmp_path, history_url)

    late = agentmaint("run", path, "--scheduled", "--at", AFTER)
    assert late.returncode == 0, late.stderr
    assert late.stdout.splitlines() == [
        f"nothing due at 2026-12-08 02:30 UTC (agentmaint plan {path} shows why)"
    ]
    assert late.stderr == ""
    assert not list(tmp_path.glob("updated-*"))  # no host touched
    assert runs(path, history_url) == []  # nothing recorded as a run

    timely = agentmaint("run", path, "--scheduled", "--at", INSIDE, "--json")
    assert timely.returncode == 0, timely.stderr
    assert json.loads(timely.stdout)["run"]["trigger"] == "scheduled"
    assert sorted(p.name for p in tmp_path.glob("updated-*")) == ["updated-h1", "updated-h2"]
    assert runs(path, history_url) == [("scheduled", "successful")]

    # The same window again (a poll tick): nothing due now, one line, one run recorded.
    again = agentmaint("run", path, "--scheduled", "--at", INSIDE, "--json")
    assert again.returncode == 0, again.stderr
    document = json.loads(again.stdout)
    assert (document["run"], document["skipped"]) == (None, "nothing due")
    assert runs(path, history_url) == [("scheduled", "successful")]


def _gated_schedule(tmp_path: Path, history_url: str | None, overlap: str) -> tuple[Path, Path]:
    gate = tmp_path / "gate"
    wait = f"for i in $(seq 600); do test -e {gate} && break; sleep 0.1; done; test -e {gate}"
    document = always_open(
        local_hosts("h1", "h2"),
        {
            "app": {
                "update_command": f'touch {tmp_path}/started-"$AGENTMAINT_HOST"; {wait}',
                "frequency": "weekly",
            }
        },
        execution={"overlap": overlap},
    )
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path, gate


def _start(*argv: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agentmaint", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(*paths: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"never appeared: {paths}"
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)


def test_a_trigger_during_the_previous_run_skips_it(
    tmp_path: Path, history_url: str | None
) -> None:
    path, gate = _gated_schedule(tmp_path, history_url, "skip")
    first = _start("run", path, "--scheduled")
    _wait_for(tmp_path / "started-h1", tmp_path / "started-h2", process=first)

    second = agentmaint("run", path, "--scheduled")
    assert second.returncode == 0, second.stderr
    [line] = second.stdout.splitlines()
    assert line.startswith("previous run still going: environment 'fleet' is locked")
    assert f"pid {first.pid}" in line

    # A run started by hand still says it is locked (exit 3).
    manual = agentmaint("run", path)
    assert manual.returncode == 3, manual.stderr

    gate.touch()
    assert first.wait(timeout=300) == 0
    assert runs(path, history_url) == [("scheduled", "successful")]


def test_overlap_wait_queues_once_then_finds_the_work_done(
    tmp_path: Path, history_url: str | None
) -> None:
    path, gate = _gated_schedule(tmp_path, history_url, "wait")
    first = _start("run", path, "--scheduled")
    _wait_for(tmp_path / "started-h1", tmp_path / "started-h2", process=first)

    second = _start("run", path, "--scheduled", "--json")
    time.sleep(1.0)
    assert second.poll() is None, second.communicate()  # waiting for the lock

    gate.touch()
    assert first.wait(timeout=300) == 0
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert json.loads(out)["skipped"] == "nothing due"  # the first run did the work
    with open_history(history_url, path.parent / ".agentmaint", readonly=True) as store:
        [run] = store.runs()
        assert (run.trigger, run.status) == ("scheduled", RunStatus.SUCCESSFUL)
