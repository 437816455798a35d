"""The run-side CLI end to end: run, history (table/JSON/CSV), events, history import, cancel."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from agentmaint.ansible.runner import run_processes
from agentmaint.cli import main
from agentmaint.compat import InfrastructureMaintenance
from agentmaint.history.store import HistoryStore
from agentmaint.run.process import process_identity
from tests.schedules import always_open, local_hosts
from tests.unit.test_store import a_history_with_rows, damage_in_the_middle

pytestmark = pytest.mark.integration


def temporary_entries(run_id: str) -> list[str]:
    """What the system's temporary directory holds of run `run_id` (other runs share it)."""
    return sorted(name for name in os.listdir(tempfile.gettempdir()) if run_id in name)


def write(tmp_path: Path, document: dict[str, object]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_run_history_events_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1", "h2"),
            {
                "app": {"update_command": 'test "$AGENTMAINT_HOST" = h1', "frequency": "weekly"},
            },
        ),
    )
    assert main(["run", str(path), "--json"]) == 1  # h2 failed
    run = json.loads(capsys.readouterr().out)
    assert run["failed_hosts"] == ["h2"]
    assert run["run"]["status"] == "failed"

    assert main(["run", str(path), "--json"]) == 0  # h2 failed in this window: nothing due
    assert json.loads(capsys.readouterr().out)["run"] is None

    assert main(["history", str(path), "--json", "--server", "h2"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["server"], r["action"], r["status"]) for r in records] == [
        ("h2", "update", "failed")
    ]
    assert records[0]["timestamp"].endswith("Z")

    assert main(["history", str(path), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["server"], r["status"]) for r in rows) == [("h1", "success"), ("h2", "failed")]

    assert main(["history", str(path)]) == 0
    assert "h2" in capsys.readouterr().out

    artifacts = Path(run["run"]["artifact_dir"])
    assert main(["events", str(artifacts), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert events["hosts"]["h2"]["failures"] == 1
    assert events["hosts"]["h1"]["changed"] == 1
    assert {t["task"] for t in events["tasks"]} >= {"Update | app"}

    # Importing the same artifacts into another schedule's history records the same outcome.
    other = tmp_path / "other"
    other.mkdir()
    copy = other / "schedule.yaml"
    copy.write_text(path.read_text())
    assert main(["history", "import", str(copy), str(artifacts)]) == 0
    capsys.readouterr()
    with HistoryStore.open(other / ".agentmaint") as store:
        imported = {(r.server, r.status.value) for r in store.records()}
        assert imported == {("h1", "success"), ("h2", "failed")}
        assert store.runs()[0].trigger == "import"


def test_run_lock_held_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agentmaint.run.locks import environment_locks

    path = write(
        tmp_path,
        always_open(local_hosts("h1"), {"app": {"update_command": "true", "frequency": "weekly"}}),
    )
    with environment_locks(tmp_path / ".agentmaint", ["fleet"], run_id="other-run"):
        assert main(["run", str(path)]) == 3
    err = capsys.readouterr().err
    assert "environment 'fleet' is locked by another run" in err
    assert "other-run" in err
    assert main(["run", str(path), "--json"]) == 0  # free again


def test_a_dry_run_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "changed"
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1"),
            {"app": {"update_command": f"touch {marker}", "frequency": "weekly"}},
        ),
    )
    assert main(["run", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "check mode: a dry run, no host was changed" in " ".join(out.split())
    assert main(["run", str(path), "--check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["check"] is True
    assert not marker.exists()


def test_sigterm_cancels_and_leaves_nothing_running(tmp_path: Path) -> None:
    started = tmp_path / "started"
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1", "h2"),
            {"app": {"update_command": f"touch {started}; sleep 120", "frequency": "weekly"}},
        ),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "agentmaint", "run", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline, "the update never started"
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    run = json.loads(out)["run"]
    assert run["status"] == "canceled"
    assert run_processes(run["id"]) == []
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        stored = store.get_run(run["id"])
        assert stored is not None and stored.status.value == "canceled"
        assert {r.status.value for r in store.records()} <= {"skipped", "failed"}
    leftovers = subprocess.run(
        ["pgrep", "-f", f"{started}; sleep 120"], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout.strip() == "", "orphaned task processes survived"


def test_compat_class_runs_for_real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = always_open(
        local_hosts("h1", "h2"),
        {
            "os": {"update_command": f"touch {out}/$AGENTMAINT_HOST", "frequency": "weekly"},
        },
    )
    config_file = tmp_path / "infrastructure.json"
    config_file.write_text(json.dumps(config))
    maintenance = InfrastructureMaintenance(str(config_file))
    assert maintenance.check_update_schedule() == {"fleet": ["os"]}
    results = maintenance.perform_updates("fleet", ["os", "unknown"])
    assert results["overall_status"] == "success"
    assert results["servers"] == {
        "h1": {"components": {"os": {"status": "success", "error": None}}},
        "h2": {"components": {"os": {"status": "success", "error": None}}},
    }
    assert sorted(p.name for p in out.iterdir()) == ["h1", "h2"]
    # History survives a restart: a new instance sees it and nothing is due any more.
    again = InfrastructureMaintenance(str(config_file))
    history = again.maintenance_history
    assert sorted((h["server"], h["action"], h["status"]) for h in history) == [
        ("h1", "update", "success"),
        ("h2", "update", "success"),
    ]
    assert set(history[0]) == {
        "timestamp",
        "environment",
        "server",
        "component",
        "action",
        "status",
        "error",
    }
    assert again.check_update_schedule() == {}
    with pytest.raises(ValueError, match="Environment nowhere not found"):
        again.perform_updates("nowhere", ["os"])
    monkeypatch.chdir(tmp_path)
    defaults = InfrastructureMaintenance("does/not/exist.json")
    assert list(defaults.schedule.environments) == ["testing", "production"]
    assert os.environ.get("AGENTMAINT_JOB_ID") is None
    assert os.environ.get("AGENTMAINT_RUN_ID") is None


def test_sigkill_of_controller_is_recorded_by_agentmaint_recover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = tmp_path / "started"
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1", "h2"),
            {
                "app": {
                    "update_command": f'touch {started}-"$AGENTMAINT_HOST"; sleep 120',
                    "frequency": "weekly",
                }
            },
        ),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "agentmaint", "run", str(path), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not Path(f"{started}-h1").exists() or not Path(f"{started}-h2").exists():
        assert time.monotonic() < deadline, "the updates never started"
        time.sleep(0.2)
    identity = process_identity(process.pid)
    process.kill()  # SIGKILL: no handler runs, nothing is finished
    process.wait(timeout=30)
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        (run,) = store.runs()
        assert run.status.value == "running"  # as the dead controller left it
    assert run.process is not None and run.process == identity
    assert run_processes(run.id) != []  # ansible-playbook outlives its controller
    assert [n.split(run.id)[0] for n in temporary_entries(run.id)] == ["agentmaint-cp-"]

    assert main(["history", str(path), "--json"]) == 0  # a read command recovers nothing
    capsys.readouterr()
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        assert [r.status.value for r in store.runs()] == ["running"]
    assert run_processes(run.id) != []
    assert main(["recover", str(path), "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["recovered"]] == [run.id]
    assert run_processes(run.id) == []
    assert temporary_entries(run.id) == []  # its SSH ControlPath directory is gone too
    assert main(["recover", str(path)]) == 0  # a second time: nothing left to recover
    assert capsys.readouterr().out == "nothing to recover\n"
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        recovered = store.get_run(run.id)
        assert recovered is not None and recovered.status.value == "interrupted"
        assert recovered.message is not None and f"pid {process.pid}" in recovered.message
        records = {(r.server, r.action.value): r.status.value for r in store.records()}
        # Both updates had started: the hosts may be half-changed, so they count as failed.
        assert records == {("h1", "update"): "failed", ("h2", "update"): "failed"}
        errors = {r.error for r in store.records()}
        assert errors == {"interrupted while running: the controller died"}
    # The dead controller's lock went with it: the environment is free for the next run.
    # (They failed in this window, so only --force runs them again before the next one.)
    path.write_text(path.read_text().replace("sleep 120", "true"))
    assert main(["run", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] is None
    assert main(["run", str(path), "--json", "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["status"] == "successful"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _touching_schedule(tmp_path: Path) -> Path:
    """A schedule whose update leaves a file per host it touched (tmp_path/touched-HOST)."""
    command = f'touch {tmp_path}/touched-"$AGENTMAINT_HOST"'
    return write(
        tmp_path,
        always_open(
            local_hosts("h1", "h2"), {"app": {"update_command": command, "frequency": "weekly"}}
        ),
    )


def _foreign_database(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
        raw.execute("INSERT INTO notes VALUES ('not agentmaint''s')")
    raw.close()


@pytest.mark.parametrize("kind", ["damaged", "empty", "foreign"])
def test_run_refuses_a_bad_history_before_any_host_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = _touching_schedule(tmp_path)
    history = tmp_path / ".agentmaint" / "history.sqlite3"
    history.parent.mkdir(mode=0o700)
    if kind == "damaged":
        a_history_with_rows(history)
        damage_in_the_middle(history)
    elif kind == "empty":
        history.touch()
    else:
        _foreign_database(history)
    before = _sha256(history)
    for command in (["run", str(path), "--force"], ["run", str(path)], ["recover", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert str(history) in err
        assert {"damaged": "damaged", "empty": "empty (0 bytes)", "foreign": "not an agentmaint"}[
            kind
        ] in err
        assert "Traceback" not in err
    assert not list(tmp_path.glob("touched-*"))  # no host was touched
    assert _sha256(history) == before
    assert main(["history", "check", str(path)]) == 2
    assert main(["history", "check", str(history)]) == 2
    assert _sha256(history) == before


def test_history_check_reports_a_sound_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _touching_schedule(tmp_path)
    assert main(["history", "check", str(path), "--json"]) == 0  # no history yet
    assert json.loads(capsys.readouterr().out)["exists"] is False
    assert main(["run", str(path), "--json"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.glob("touched-*")) == ["touched-h1", "touched-h2"]
    assert main(["history", "check", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["history", "check", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["problems"]) == (True, [])
