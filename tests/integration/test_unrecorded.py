"""A run whose end the history cannot take: the hosts' truth is reported, kept, recorded later.

Real runs of local hosts (h2 fails and rolls back: exit 1). The history refuses the
run's final write for real: another connection holds its write lock longer than a
write waits (SQLite ``BEGIN IMMEDIATE``, PostgreSQL the advisory write lock; the
waits are made short here), or SQLite is full (``SQLITE_FULL``: the run's
connection may not grow the file). The run must still exit by its hosts, notify,
warn that it is not recorded and keep its results in ``runs/<id>/unrecorded.json``;
the next recovery then records exactly that, once, and removes the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentmaint.history.db.postgres
import agentmaint.history.db.sqlite
import agentmaint.run.recorder
from agentmaint.ansible.events import read_artifact_dir
from agentmaint.cli import main
from agentmaint.history.db.postgres import WRITE_LOCK_KEY
from agentmaint.history.pending import PENDING_NAME
from agentmaint.history.store import DB_NAME, HistoryStore, Recorded, RunRecording, open_history
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.recorder import run_directory
from agentmaint.run.recovery import recover_interrupted_runs, run_jobs
from tests.schedules import always_open, history_shape, local_hosts

pytestmark = pytest.mark.integration


@dataclass
class Hooks:
    """What a local webhook server received: (event header, JSON body) per request."""

    url: str = ""
    received: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    sink = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sink.received.append((self.headers.get("X-Agentmaint-Event", ""), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def short_write_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A write waits 0.3 s for the write lock (instead of 30 s), in both engines."""
    monkeypatch.setattr(agentmaint.history.db.sqlite, "_BUSY_TIMEOUT_MS", 300)
    monkeypatch.setattr(agentmaint.history.db.postgres, "WRITE_LOCK_TIMEOUT_MS", 300)


def write_schedule(
    tmp_path: Path, history_url: str | None, hook_url: str, fill: Path | None = None
) -> Path:
    """h1 and h3 succeed, h2 fails and rolls back; a webhook hears every event.

    With `fill`, h1's update fills the disk of that file (mid-run, as a host's job would).
    """
    filling = f"dd if=/dev/zero of={fill} bs=64k 2>/dev/null; true" if fill else "true"
    document = always_open(
        local_hosts("h1", "h2", "h3"),
        {
            "app": {
                "update_command": f'case "$AGENTMAINT_HOST" in h1) {filling} ;; '
                "h2) echo boom >&2; exit 3 ;; esac",
                "rollback_command": "true",
                "frequency": "weekly",
            }
        },
        notification={"channels": [{"type": "webhook", "url": hook_url, "when": ["always"]}]},
    )
    document["execution"] = {"forks": 3}
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def state_dir(path: Path) -> Path:
    return path.parent / ".agentmaint"


def only_run(path: Path, history_url: str | None) -> RunRecord:
    with open_history(history_url, state_dir(path), readonly=True) as store:
        (run,) = store.runs()
    return run


def before_the_final_write(
    monkeypatch: pytest.MonkeyPatch, fault: Callable[[HistoryStore], None]
) -> list[RunRecording]:
    """Call `fault(store)` just before the first `record_run` (the run's final write).

    Returns the recordings the run's `record_run` was asked to write.
    """
    original = HistoryStore.record_run
    asked: list[RunRecording] = []

    def record_run(self: HistoryStore, recording: RunRecording) -> Recorded:
        if not asked:
            fault(self)
        asked.append(recording)
        return original(self, recording)

    monkeypatch.setattr(HistoryStore, "record_run", record_run)
    return asked


class WriteLockHolder(AbstractContextManager["WriteLockHolder"]):
    """Another connection to the history that takes its write lock and keeps it."""

    def __init__(self, path: Path, history_url: str | None) -> None:
        self._path = path
        self._url = history_url
        self._conn: Any = None

    def take(self, _store: HistoryStore | None = None) -> None:
        if self._url is None:
            self._conn = sqlite3.connect(state_dir(self._path) / DB_NAME, isolation_level=None)
            self._conn.execute("BEGIN IMMEDIATE")
        else:
            import psycopg

            self._conn = psycopg.connect(self._url, autocommit=True)
            self._conn.execute("BEGIN")
            self._conn.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None

    def __exit__(self, *exc: object) -> None:
        self.release()


def what_the_artifacts_hold(run: RunRecord) -> Counter[tuple[str, ...]]:
    """Every task result of every job of the run, as a multiset."""
    results: Counter[tuple[str, ...]] = Counter()
    for _, artifact_dir, _ in run_jobs(run):
        parsed = read_artifact_dir(artifact_dir)
        results.update((t.host, t.play, t.task, t.status.value) for t in parsed.results)
    return results


def assert_kept(run: RunRecord) -> Path:
    """The run is ``running`` in the history and its results wait in its directory."""
    assert run.status is RunStatus.RUNNING
    directory = run_directory(run)
    assert directory is not None
    kept = directory / PENDING_NAME
    assert stat.S_ISREG(kept.lstat().st_mode)
    assert stat.S_IMODE(kept.lstat().st_mode) == 0o600
    return kept


def assert_recorded_truthfully(
    path: Path, history_url: str | None, run_id: str, reason: str
) -> RunRecord:
    """The run as the hosts ended it: failed (h2), every task result once, no death."""
    run = only_run(path, history_url)
    assert run.id == run_id
    assert run.status is RunStatus.FAILED
    assert run.finished is not None
    assert run.message is not None
    assert "recorded late" in run.message and reason in run.message
    assert "died" not in run.message
    with open_history(history_url, state_dir(path), readonly=True) as store:
        records, results, counts = history_shape(store, run_id)
    assert results == what_the_artifacts_hold(run)
    assert sum(results.values()) > 0
    assert set(counts) == {"h1", "h2", "h3"}
    assert ("fleet", "h2", "app", "rollback", "success", None) in records
    assert {(server, action, status) for _, server, _, action, status, _ in records} >= {
        ("h1", "update", "success"),
        ("h2", "update", "failed"),
        ("h3", "update", "success"),
    }
    return run


def test_a_held_write_lock_at_the_end_keeps_the_run_for_recovery(
    tmp_path: Path,
    history_url: str | None,
    hooks: Hooks,
    short_write_wait: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_schedule(tmp_path, history_url, hooks.url)
    with WriteLockHolder(path, history_url) as holder:
        asked = before_the_final_write(monkeypatch, holder.take)
        code = main(["run", str(path)])
        out = capsys.readouterr().out
        # The hosts decide the exit code (h2 failed), not the history.
        assert code == 1, out
        assert len(asked) == 1
        run = only_run(path, history_url)
        kept = assert_kept(run)
        (warning,) = [line for line in out.splitlines() if line.startswith("warning:")]
        assert warning.startswith(f"warning: run {run.id} is NOT recorded in the history yet (")
        reason = "database is locked" if history_url is None else "lock timeout"
        assert reason in warning
        assert f"its results are kept in {kept}; " in warning
        assert f"`agentmaint recover {path}` records them" in warning
        # Notified: the start, and how the run ended on the hosts.
        assert [event for event, _ in hooks.received] == ["start", "partial"]
        assert hooks.received[1][1]["failed_hosts"] == ["h2"]
        # ... and that it is not recorded yet, with where its results wait.
        assert hooks.received[1][1]["unrecorded"]["kept_in"] == str(kept)
        assert "notification partial: delivered via" in out
        # A recovery while the lock is still held records nothing and changes nothing.
        assert main(["recover", str(path)]) == 2
        capsys.readouterr()
        assert_kept(only_run(path, history_url))

    # The lock released: the next command's recovery records the run as it ended, even
    # though its controller's pid (this very process) is alive.
    assert run.pid is not None
    assert main(["recover", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"recovered run {run.id} (failed): ")
    assert not kept.exists()
    recorded = assert_recorded_truthfully(path, history_url, run.id, reason)
    assert recorded.finished == asked[0].run.finished
    with open_history(history_url, state_dir(path), readonly=True) as store:
        before = history_shape(store, run.id)
        deliveries = store.notifications(run.id)
    assert [d.event.value for d in deliveries] == ["start"]  # the end's was not recordable

    # Once: another recovery finds nothing to do.
    assert main(["recover", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "nothing to recover"
    with open_history(history_url, state_dir(path), readonly=True) as store:
        assert history_shape(store, run.id) == before


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs for the history file (the run's directory stays on the test's disk)."""
    assert os.geteuid() == 0, "mounting a tmpfs needs root"
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_at_the_end_keeps_the_run_for_recovery(
    tmp_path: Path,
    tiny_disk: Path,
    hooks: Hooks,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = tiny_disk / DB_NAME
    filler = tiny_disk / "filler"
    path = write_schedule(tmp_path, f"sqlite:///{database}", hooks.url, fill=filler)
    code = main(["run", str(path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 1
    assert document["failed_hosts"] == ["h2"]
    assert filler.stat().st_size > 0  # h1 filled the disk during the run
    run = only_run(path, f"sqlite:///{database}")
    kept = assert_kept(run)
    assert document["unrecorded"] == {
        "reason": f"{database}: cannot write the history: database or disk is full",
        "kept_in": str(kept),
    }
    assert [event for event, _ in hooks.received] == ["start", "partial"]
    assert [d["event"] for d in document["notifications"]] == ["start", "partial"]

    filler.unlink()  # room again: the next recovery records the run as it ended
    with open_history(f"sqlite:///{database}", state_dir(path)) as store:
        (recovered,) = recover_interrupted_runs(store)
        assert recover_interrupted_runs(store) == []
    assert recovered.status is RunStatus.FAILED
    assert not kept.exists()
    assert_recorded_truthfully(path, f"sqlite:///{database}", run.id, "database or disk is full")


def test_results_that_cannot_even_be_kept_are_said_to_be_only_in_the_artifacts(
    tmp_path: Path,
    tiny_disk: Path,
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    database = tiny_disk / DB_NAME
    path = write_schedule(tmp_path, f"sqlite:///{database}", hooks.url, fill=tiny_disk / "x")

    def no_room(directory: Path, pending: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(agentmaint.run.recorder, "write_pending", no_room)
    assert main(["run", str(path)]) == 1
    out = capsys.readouterr().out
    assert "is NOT recorded in the history yet (" in out
    assert "its results could not be kept either: they are only in its artifacts" in out
    assert any(
        r.levelname == "ERROR" and "only in its artifacts" in r.getMessage() for r in caplog.records
    )
    run = only_run(path, f"sqlite:///{database}")
    assert run.status is RunStatus.RUNNING
    directory = run_directory(run)
    assert directory is not None and not (directory / PENDING_NAME).exists()
