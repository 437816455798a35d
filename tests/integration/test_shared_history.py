"""`history.url` in PostgreSQL: two controllers (state directories) share one history, and
the database password reaches no job, artifact, output or stored row."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import DB_NAME, open_history
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration


def controller(directory: Path, url: str, out: Path) -> Path:
    """A schedule of its own (own state_dir) pointing at the shared history."""
    directory.mkdir()
    document = always_open(
        local_hosts("h1", "h2"),
        {
            "app": {
                # The module's environment is the job's: dump it where the test can read it.
                "update_command": f'env > {out}/env-"$AGENTMAINT_HOST"',
                "frequency": "weekly",
            }
        },
        history={"url": url},
    )
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_two_controllers_share_one_history(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parts = urlsplit(postgres_url)
    password = parts.password
    assert password
    monkeypatch.setenv("AM_TEST_DB_PASSWORD", password)
    monkeypatch.setenv("PGPASSWORD", password)  # libpq's own: never passed to a job either
    referenced = postgres_url.replace(f":{password}@", ":${AM_TEST_DB_PASSWORD}@", 1)
    assert "${AM_TEST_DB_PASSWORD}" in referenced
    out = tmp_path / "out"
    out.mkdir()
    first = controller(tmp_path / "one", referenced, out)
    second = controller(tmp_path / "two", referenced, out)

    assert main(["run", str(first), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["run"]
    assert run["status"] == "successful"
    # The other controller sees that run: nothing is due there now.
    assert main(["plan", str(second), "--json"]) == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["due"] == []
    assert [d["reason"].split(",")[0] for d in planned["not_due"]] == ["weekly"]
    assert main(["run", str(second), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["run"] is None
    assert main(["history", str(second), "--json"]) == 0
    history = json.loads(capsys.readouterr().out)
    assert {(r["server"], r["status"], r["run_id"]) for r in history} == {
        ("h1", "success", run["id"]),
        ("h2", "success", run["id"]),
    }
    with open_history(load_schedule(second).history_url, tmp_path) as store:
        assert [r.id for r in store.runs()] == [run["id"]]
    # No SQLite file was made: the history is only in PostgreSQL.
    assert not (tmp_path / "one" / ".agentmaint" / DB_NAME).exists()
    assert not (tmp_path / "two" / ".agentmaint" / DB_NAME).exists()

    # The password is nowhere: not in the jobs' environment, the artifacts (ansible-runner's
    # `command` file holds the whole environment), the outputs, or the stored rows.
    dumped = {p.name: p.read_text() for p in out.iterdir()}
    assert set(dumped) == {"env-h1", "env-h2"}
    for text in dumped.values():
        assert "AGENTMAINT_JOB_ID=" in text  # it is the job's environment
        assert password not in text and "PGPASSWORD" not in text
    for file in (tmp_path / "one").rglob("*"):
        if file.is_file():
            assert password.encode() not in file.read_bytes(), file
    assert main(["history", str(first)]) == 0
    assert password not in capsys.readouterr().out
    with open_history(postgres_url, tmp_path) as store:
        rows = [*store.runs(), *store.records(), *store.task_results(run["id"])]
    assert password not in repr(rows)
