"""A run is recorded whole, once: crashes inside recording, concurrent recoveries, readers.

Every test runs with the history in SQLite and in PostgreSQL. A dead run is made
the real way: `agentmaint run` of local hosts, SIGKILLed inside its recording
(`tests.integration.record_faults` counts the statements of `HistoryStore.record_run`
and kills or pauses the process at one of them). What the history must then hold,
whatever the moment of the kill: the whole run exactly once, or the run still
``running`` with nothing of it recorded, for recovery to record once from the
artifacts; never a fact twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.events import read_artifact_dir
from agentmaint.ansible.runner import run_processes
from agentmaint.cli import main
from agentmaint.history.store import HistoryStore, Recorded, RunRecording, open_history
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.recovery import recover_history, recover_interrupted_runs, run_jobs
from tests.schedules import always_open, history_shape, local_hosts

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
#: The tables that hold facts of a run (host_state is derived from attempts).
FACT_TABLES = ("task_results", "host_counts", "records", "attempts")


def write_schedule(tmp_path: Path, hosts: int, history_url: str | None) -> Path:
    document = always_open(
        local_hosts(*(f"h{i:02d}" for i in range(1, hosts + 1))),
        {"app": {"update_command": "true", "frequency": "weekly"}},
    )
    document["execution"] = {"forks": hosts}
    if history_url is not None:
        document["history"] = {"url": history_url}
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def faulty(*argv: str | Path, **env: str | Path | int) -> subprocess.Popen[str]:
    """``agentmaint ARGV`` in a process with the recording fault hook (see record_faults)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.record_faults", *map(str, argv)],
        cwd=ROOT,
        env={**os.environ, **{k: str(v) for k, v in env.items()}},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def wait_for(*paths: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 300
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"never appeared: {paths}"
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)


def state_dir(path: Path) -> Path:
    return path.parent / ".agentmaint"


def only_run(path: Path, history_url: str | None) -> RunRecord:
    with open_history(history_url, state_dir(path), readonly=True) as store:
        (run,) = store.runs()
    return run


def fact_rows(history_url: str | None, path: Path) -> dict[str, int]:
    """Rows per fact table (the history holds one run)."""
    with (
        open_history(history_url, state_dir(path), readonly=True) as store,
        store._reading() as db,
    ):
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in FACT_TABLES}


def dead_run(path: Path, history_url: str | None) -> RunRecord:
    """`agentmaint run` killed at the first statement of its recording: a dead `running` run."""
    code, out, err = finish(faulty("run", path, "--json", FAULT_KILL_AT=0))
    assert code == -9, (code, out, err)
    run = only_run(path, history_url)
    assert run.status is RunStatus.RUNNING
    assert run_processes(run.id) == []  # the job had ended: recording follows it
    assert fact_rows(history_url, path) == dict.fromkeys(FACT_TABLES, 0)  # nothing half-recorded
    return run


def what_the_artifacts_hold(run: RunRecord) -> tuple[Counter[tuple[str, ...]], dict[str, Any]]:
    """(task results as a multiset, host counts) of every job of the run."""
    results: Counter[tuple[str, ...]] = Counter()
    counts: dict[str, Any] = {}
    for _, artifact_dir, _ in run_jobs(run):
        parsed = read_artifact_dir(artifact_dir)
        results.update((t.host, t.play, t.task, t.status.value) for t in parsed.results)
        counts.update(parsed.counts)
    return results, counts


def reset_history(history_url: str | None, path: Path, run: RunRecord) -> None:
    """The history as the dead run left it: only its `running` row."""
    if history_url is None:
        for file in state_dir(path).glob("history.sqlite3*"):
            file.unlink()
    else:
        import psycopg

        with psycopg.connect(history_url, autocommit=True) as raw:
            raw.execute("TRUNCATE runs, host_state CASCADE")
    with open_history(history_url, state_dir(path)) as store:
        store.begin_run(run)


def shape(path: Path, history_url: str | None, run_id: str) -> tuple[Any, ...]:
    with open_history(history_url, state_dir(path), readonly=True) as store:
        return history_shape(store, run_id)


# --------------------------------------------------------------------------- killed inside


def test_recovery_killed_at_every_statement_of_its_recording(
    tmp_path: Path, history_url: str | None
) -> None:
    path = write_schedule(tmp_path, 4, history_url)
    run = dead_run(path, history_url)
    results, counts = what_the_artifacts_hold(run)
    assert sum(results.values()) > 0

    # The reference: a recovery that is not killed, counting its recording's statements.
    count = tmp_path / "count"
    code, out, err = finish(faulty("recover", path, "--json", FAULT_COUNT=count))
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)["recovered"]] == [run.id]
    statements = int(count.read_text())
    assert statements > 10  # run row, task results, counts, records, derived tables
    reference = shape(path, history_url, run.id)
    assert reference[1] == results and reference[2] == counts  # what the artifacts hold
    assert len(reference[0]) == 4  # one update record per host
    whole = fact_rows(history_url, path)

    for kill_at in range(statements + 1):
        reset_history(history_url, path, run)
        code, out, err = finish(faulty("recover", path, "--json", FAULT_KILL_AT=kill_at))
        assert code == -9, (kill_at, code, out, err)
        after_kill = only_run(path, history_url)
        if kill_at < statements:  # killed inside the transaction: nothing of it stays
            assert after_kill.status is RunStatus.RUNNING, kill_at
            assert fact_rows(history_url, path) == dict.fromkeys(FACT_TABLES, 0), kill_at
        else:  # killed right after the commit: the whole run
            assert after_kill.status is RunStatus.INTERRUPTED
            assert fact_rows(history_url, path) == whole
        # The next recovery records it once (or finds nothing left to do).
        recovered = recover_history(history_url, state_dir(path))
        assert [r.id for r in recovered] == ([run.id] if kill_at < statements else [])
        assert only_run(path, history_url).status is RunStatus.INTERRUPTED
        assert fact_rows(history_url, path) == whole, kill_at
        assert shape(path, history_url, run.id) == reference, kill_at


def test_controller_killed_from_outside_while_it_records(
    tmp_path: Path, history_url: str | None
) -> None:
    """40 hosts; SIGKILL lands while the live run's recording transaction is open."""
    path = write_schedule(tmp_path, 40, history_url)
    ready = tmp_path / "recording"
    # Paused before the 5th statement: the run's results are written, not committed.
    process = faulty("run", path, "--json", FAULT_PAUSE_AT=4, FAULT_READY=ready)
    wait_for(ready, process=process)
    process.kill()
    assert finish(process)[0] == -9
    run = only_run(path, history_url)
    assert run.status is RunStatus.RUNNING
    assert run_processes(run.id) == []
    assert fact_rows(history_url, path) == dict.fromkeys(FACT_TABLES, 0)

    recover = subprocess.run(
        [sys.executable, "-m", "agentmaint", "recover", str(path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert recover.returncode == 0, recover.stderr
    assert [r["id"] for r in json.loads(recover.stdout)["recovered"]] == [run.id]
    results, counts = what_the_artifacts_hold(run)
    records, stored_results, stored_counts = shape(path, history_url, run.id)
    assert stored_results == results and stored_counts == counts
    assert len(counts) == 40 and all(n == 1 for n in stored_results.values())
    hosts = sorted(r[1] for r in records if r[3] == "update")
    assert hosts == [f"h{i:02d}" for i in range(1, 41)]  # each host's update, once
    assert len(records) == len(set(records))
    assert {r[4] for r in records if r[3] == "update"} == {"success"}
    recovered = only_run(path, history_url)
    assert recovered.status is RunStatus.INTERRUPTED
    assert recovered.message is not None and "recorded the" in recovered.message
    whole = fact_rows(history_url, path)
    assert recover_history(history_url, state_dir(path)) == []  # again: nothing to do
    assert fact_rows(history_url, path) == whole


# --------------------------------------------------------------------------- concurrent recovery


def test_two_processes_recovering_the_same_run_at_once_record_it_once(
    tmp_path: Path, history_url: str | None
) -> None:
    path = write_schedule(tmp_path, 4, history_url)
    run = dead_run(path, history_url)
    results, counts = what_the_artifacts_hold(run)
    go = tmp_path / "go"
    readies = [tmp_path / "ready-1", tmp_path / "ready-2"]
    # Both stop at the start of record_run: both saw the run running and read its artifacts.
    processes = [faulty("recover", path, "--json", FAULT_GO=go, FAULT_READY=r) for r in readies]
    for ready, process in zip(readies, processes, strict=True):
        wait_for(ready, process=process)
    go.touch()
    outcomes = []
    for process in processes:
        code, out, err = finish(process)
        assert code == 0, err
        outcomes.append([r["id"] for r in json.loads(out)["recovered"]])
    assert sorted(outcomes) == [[], [run.id]]
    records, stored_results, stored_counts = shape(path, history_url, run.id)
    assert stored_results == results and stored_counts == counts
    assert len(records) == len(set(records)) == 4
    assert only_run(path, history_url).status is RunStatus.INTERRUPTED

    # The same with two threads of one process, each with its own store.
    reset_history(history_url, path, run)
    gate = threading.Barrier(2, timeout=60)
    original = HistoryStore.record_run

    def record_together(self: HistoryStore, recording: RunRecording) -> Recorded:
        gate.wait()
        return original(self, recording)

    found: list[list[str]] = []

    def recover() -> None:
        with open_history(history_url, state_dir(path)) as store:
            found.append([r.id for r in recover_interrupted_runs(store)])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HistoryStore, "record_run", record_together)
        threads = [threading.Thread(target=recover) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert sorted(found) == [[], [run.id]]
    assert shape(path, history_url, run.id) == (records, stored_results, stored_counts)


# --------------------------------------------------------------------------- readers


def disk(directory: Path) -> dict[str, str]:
    """Every file under `directory` (and every directory), with a digest of its bytes.

    But for SQLite's ``-shm`` file, its size only: it is SQLite's shared-memory lock
    index, not history, and every reader of a WAL database writes its read mark into
    it (and rebuilds it after a writer crashed): https://sqlite.org/walformat.html.
    """
    found = {}
    for entry in sorted(directory.rglob("*")):
        name = str(entry.relative_to(directory))
        if entry.is_symlink() or not entry.is_file():
            found[name] = "dir" if entry.is_dir() else "other"
        elif name.endswith("-shm"):
            found[name] = f"{entry.stat().st_size} bytes"
        else:
            found[name] = hashlib.sha256(entry.read_bytes()).hexdigest()
    return found


def pg_rows(history_url: str | None) -> list[Any]:
    if history_url is None:
        return []
    import psycopg

    with psycopg.connect(history_url, autocommit=True) as raw:
        tables = ("runs", "lock_holders", "notifications", "host_state", *FACT_TABLES)
        return [sorted(map(repr, raw.execute(f"SELECT * FROM {t}").fetchall())) for t in tables]


def test_read_commands_on_a_dead_run_change_nothing_then_recover_records_it(
    tmp_path: Path, history_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_schedule(tmp_path, 3, history_url)
    run = dead_run(path, history_url)  # as SIGKILL left it (it was only read since)
    assert run.artifact_dir is not None and run.artifact_dir.is_dir()
    before = disk(tmp_path)
    if history_url is None:  # the dead writer's WAL files are there: a reader needs no new one
        assert {"history.sqlite3-wal", "history.sqlite3-shm"} <= {
            p.name for p in state_dir(path).iterdir()
        }
    rows = pg_rows(history_url)
    for argv in (
        ["plan", str(path)],
        ["plan", str(path), "--json"],
        ["history", str(path)],
        ["history", str(path), "--json"],
        ["windows", str(path)],
        ["validate", str(path)],
        ["events", str(run.artifact_dir)],
    ):
        assert main(argv) == 0, argv
        assert disk(tmp_path) == before, argv  # every file, byte for byte, and no new one
        assert pg_rows(history_url) == rows, argv
    capsys.readouterr()
    assert only_run(path, history_url).status is RunStatus.RUNNING

    assert main(["recover", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"recovered run {run.id} (interrupted): ")
    assert only_run(path, history_url).status is RunStatus.INTERRUPTED
    assert sum(fact_rows(history_url, path).values()) > 0
