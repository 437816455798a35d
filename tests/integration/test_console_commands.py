"""``runs``, ``show``, ``status`` and ``history prune`` on real runs of local hosts.

A successful run, then a forced run that fails on h1 and rolls it back; each read
command is checked against what those runs printed and recorded, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from agentmaint.cli import main
from agentmaint.cli.console import result_table
from agentmaint.cli.runs import runs_table, status_table
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import open_history
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.stored import run_summaries, stored_result
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

HOST_KEYS = {"success", "failed", "unreachable", "skipped", "rolled_back"}


def _schedule(tmp_path: Path, history_url: str | None) -> Path:
    document: dict[str, Any] = always_open(
        local_hosts("h1", "h2"),
        {
            "app": {
                "update_command": f'test ! -e {tmp_path}/fail-"$AGENTMAINT_HOST"',
                "rollback_command": f'touch {tmp_path}/rolled-"$AGENTMAINT_HOST"',
                "frequency": "weekly",
            }
        },
        state_dir=str(tmp_path / "state"),
    )
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _json(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    assert main(list(argv)) == code
    return json.loads(capsys.readouterr().out)


def _two_runs(
    tmp_path: Path, path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A successful run, then a forced one failing on h1 with a rollback: their run --json."""
    good = _json(capsys, "run", str(path), "--json")
    (tmp_path / "fail-h1").touch()
    bad = _json(capsys, "run", str(path), "--force", "--json", code=1)
    assert (tmp_path / "rolled-h1").exists()
    return good, bad


def test_read_commands_on_a_success_and_a_rollback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], history_url: str | None
) -> None:
    path = _schedule(tmp_path, history_url)
    # Before any run: said plainly, nothing created.
    assert main(["runs", str(path)]) == 0
    assert "No history yet" in capsys.readouterr().out
    assert main(["show", str(path), "last"]) == 0
    assert "No history yet" in capsys.readouterr().out
    assert _json(capsys, "runs", str(path), "--json") == []
    assert not (tmp_path / "state" / "history.sqlite3").exists()

    good, bad = _two_runs(tmp_path, path, capsys)
    assert good["run"]["trigger"] == "manual"  # a plain run is now recorded as manual
    assert bad["run"]["trigger"] == "force"

    runs = _json(capsys, "runs", str(path), "--json")
    assert [r["id"] for r in runs] == [bad["run"]["id"], good["run"]["id"]]
    for entry in runs:
        assert {"id", "trigger", "started", "finished", "duration_s", "status", "message"} <= set(
            entry
        )
        assert set(entry["hosts"]) >= HOST_KEYS
        assert entry["check"] is False and entry["duration_s"] >= 0
    assert (runs[0]["trigger"], runs[0]["force"], runs[0]["status"]) == ("manual", True, "failed")
    assert (runs[1]["trigger"], runs[1]["force"], runs[1]["status"]) == (
        "manual",
        False,
        "successful",
    )
    assert {k: runs[0]["hosts"][k] for k in HOST_KEYS} == {
        "success": 1,
        "failed": 1,
        "unreachable": 0,
        "skipped": 0,
        "rolled_back": 1,
    }
    assert runs[1]["hosts"]["success"] == 2 and runs[1]["hosts"]["failed"] == 0
    assert [r["id"] for r in _json(capsys, "runs", str(path), "--json", "--limit", "1")] == [
        bad["run"]["id"]
    ]
    assert [r["id"] for r in _json(capsys, "runs", str(path), "--json", "--status", "failed")] == [
        bad["run"]["id"]
    ]
    assert main(["runs", str(path), "--status", "nonsense"]) == 2
    capsys.readouterr()

    # show --json is run --json of that run, but for `at` (the planning instant is not kept).
    for printed, run_id in ((bad, "last"), (good, good["run"]["id"])):
        shown = _json(capsys, "show", str(path), run_id, "--json")
        assert shown.keys() == printed.keys()
        assert {k: v for k, v in shown.items() if k != "at"} == {
            k: v for k, v in printed.items() if k != "at"
        }
    assert main(["show", str(path), "no-such-run"]) == 2
    assert "no such run" in capsys.readouterr().err
    assert main(["show", str(path), "last"]) == 0
    text = capsys.readouterr().out
    assert bad["run"]["id"] in text and "rollback" in text and "artifacts:" in text

    status = _json(capsys, "status", str(path), "--json")
    assert set(status) == {"at", "hosts"}
    rows = {row["host"]: row for row in status["hosts"]}
    assert set(rows) == {"h1", "h2"}
    for row in rows.values():
        assert {
            "environment",
            "component",
            "host",
            "last_success",
            "last_outcome",
            "next_due",
            "reason",
        } <= set(row)
    assert rows["h1"]["last_outcome"] == "rolled_back"
    assert rows["h2"]["last_outcome"] == "success"
    assert rows["h1"]["last_success"] == good["run"]["finished"] or rows["h1"]["last_success"]
    # h1 failed in this (always open) window: due in the next one, not now.
    at = datetime.fromisoformat(status["at"])
    assert datetime.fromisoformat(rows["h1"]["next_due"]) > at
    assert "retried in the next window" in rows["h1"]["reason"]
    assert main(["status", str(path)]) == 0
    assert "rolled back" in capsys.readouterr().out

    # The old `history FILE [filters]` form and the new `history list` both still list.
    old = _json(capsys, "history", str(path), "--json", "--server", "h1")
    assert old == _json(capsys, "history", "list", str(path), "--json", "--server", "h1")
    assert {r["action"] for r in old} >= {"update", "rollback"}


def test_tables_keep_ids_hosts_and_statuses_whole_at_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _schedule(tmp_path, None)
    _, bad = _two_runs(tmp_path, path, capsys)
    schedule = load_schedule(path)
    with open_history(None, schedule.state_dir, readonly=True) as store:
        summaries = run_summaries(store)
        result = stored_result(store, bad["run"]["id"])
    assert result is not None
    status = _json(capsys, "status", str(path), "--json")
    for table, cells in (
        (runs_table(summaries, 80), [s.run.id for s in summaries] + ["failed", "successful"]),
        (result_table(result, 80), ["h1", "h2", "app", "failed", "success", "rollback:success"]),
        (
            status_table(
                [{**r, "due_now": False, "needs_attention": False} for r in status["hosts"]],
                datetime.now(UTC),
                80,
            ),
            ["h1", "h2", "app", "rolled back", "success"],
        ),
    ):
        console = Console(width=80, record=True, color_system=None)
        console.print(table)
        lines = console.export_text().splitlines()
        assert max(len(line) for line in lines) <= 80
        for cell in cells:
            assert any(cell in line for line in lines), (cell, lines)


def test_prune_by_age_and_count_removes_run_directories_but_never_a_running_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], history_url: str | None
) -> None:
    path = _schedule(tmp_path, history_url)
    good, bad = _two_runs(tmp_path, path, capsys)
    schedule = load_schedule(path)
    state = schedule.state_dir
    old = datetime.now(UTC) - timedelta(days=40)
    # An old finished run with its own run directory, and an old run still running.
    old_dir = state / "runs" / "old-run"
    (old_dir / "artifacts" / "old-run").mkdir(parents=True)
    with open_history(schedule.history_url, state) as store:
        store.begin_run(
            RunRecord(
                id="old-run",
                trigger="schedule",
                started=old,
                finished=old + timedelta(minutes=1),
                status=RunStatus.SUCCESSFUL,
                artifact_dir=old_dir / "artifacts" / "old-run",
            )
        )
        store.begin_run(RunRecord(id="stuck-run", trigger="manual", started=old - timedelta(1)))
    runs = _json(capsys, "runs", str(path), "--json")
    assert runs[-2]["trigger"] == "manual"  # an old "schedule" reads as manual
    assert [r["id"] for r in runs][-2:] == ["old-run", "stuck-run"]

    pruned = _json(capsys, "history", "prune", str(path), "--older-than", "30d", "--json")
    assert pruned["pruned"] == ["old-run"]
    assert pruned["kept_running"] == ["stuck-run"]
    assert pruned["removed_directories"] == [str(old_dir)]
    assert not old_dir.exists()

    good_dir = Path(good["run"]["artifact_dir"]).parent.parent
    bad_dir = Path(bad["run"]["artifact_dir"]).parent.parent
    assert good_dir.is_dir() and bad_dir.is_dir()
    pruned = _json(capsys, "history", "prune", str(path), "--keep-last", "1", "--json")
    # The newest is kept; the running one is older than it but never pruned.
    assert pruned["pruned"] == [good["run"]["id"]]
    assert pruned["kept_running"] == ["stuck-run"]
    assert not good_dir.exists() and bad_dir.is_dir()
    assert [r["id"] for r in _json(capsys, "runs", str(path), "--json")] == [
        bad["run"]["id"],
        "stuck-run",
    ]
    pruned = _json(capsys, "history", "prune", str(path), "--keep-last", "0", "--json")
    assert pruned["pruned"] == [bad["run"]["id"]]
    assert [r["id"] for r in _json(capsys, "runs", str(path), "--json")] == ["stuck-run"]
    with pytest.raises(SystemExit) as usage:  # one of the two is required (argparse's exit)
        main(["history", "prune", str(path)])
    assert usage.value.code == 2
    assert main(["history", "prune", str(path), "--older-than", "soon"]) == 2
