"""A run's unrecorded results: the JSON round trip, the file's safety, the recorder's use."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentmaint.errors import StoreError
from agentmaint.history.pending import (
    PENDING_NAME,
    PendingRecording,
    from_json,
    read_pending,
    remove_pending,
    to_json,
    write_pending,
)
from agentmaint.history.store import RunRecording
from agentmaint.planning.planner import Plan
from agentmaint.records import (
    Action,
    HostCounts,
    MaintenanceRecord,
    Outcome,
    RunRecord,
    RunStatus,
    TaskResult,
    TaskStatus,
)
from agentmaint.run.recorder import Recorder, run_directory
from agentmaint.run.results import RunResult

START = datetime(2026, 11, 23, 1, 30, 0, 123456, tzinfo=UTC)


def recording(run_dir: Path, *, controller: str | None = "ctl-1") -> RunRecording:
    run = RunRecord(
        id=run_dir.name,
        trigger="schedule",
        started=START,
        status=RunStatus.FAILED,
        finished=START + timedelta(minutes=3, microseconds=7),
        runner_rc=2,
        artifact_dir=run_dir / "artifacts" / run_dir.name,
        pid=4242,
        message="1 host failed: «h2» \u2603",
        check_mode=False,
        environments=("fleet", "prod"),
        components=("app",),
        controller=controller,
        process="0e2d7c1a-boot:123456",
    )
    results = (
        TaskResult(
            counter=3,
            host="h1",
            play="fleet | app",
            task="Update | app",
            status=TaskStatus.CHANGED,
            role="agentmaint_update",
            module="ansible.builtin.shell",
            start=START,
            end=START + timedelta(seconds=1.5),
            duration=1.5000001,
            rc=0,
            message=None,
            play_uuid="p-1",
            task_uuid="t-1",
        ),
        TaskResult(
            counter=9,
            host="h2",
            play="fleet | app",
            task="Update | app",
            status=TaskStatus.FAILED,
            rc=3,
            message='non-zero return code: "boom"\nline 2',
        ),
    )
    counts = {"h1": HostCounts(ok=2, changed=1), "h2": HostCounts(failures=1, rescued=1)}
    records = (
        MaintenanceRecord(
            timestamp=START + timedelta(minutes=1),
            environment="fleet",
            server="h2",
            component="app",
            action=Action.UPDATE,
            status=Outcome.FAILED,
            error="boom",
            run_id=run.id,
        ),
        MaintenanceRecord(
            timestamp=START + timedelta(minutes=2),
            environment="fleet",
            server="h1",
            component="app",
            action=Action.UPDATE,
            status=Outcome.SUCCESS,
            run_id=run.id,
        ),
    )
    return RunRecording(run, results, counts, records)


@pytest.mark.parametrize("controller", ["ctl-1", None])
def test_the_json_round_trip_is_exact(tmp_path: Path, controller: str | None) -> None:
    pending = PendingRecording(recording(tmp_path / "r1", controller=controller), "db locked")
    back = from_json(to_json(pending))
    assert back.reason == "db locked"
    assert back.recording.run == pending.recording.run
    assert tuple(back.recording.results) == tuple(pending.recording.results)
    assert dict(back.recording.counts) == dict(pending.recording.counts)
    assert tuple(back.recording.records) == tuple(pending.recording.records)


def test_a_file_kept_before_the_process_identity_reads_back_without_it(tmp_path: Path) -> None:
    document = json.loads(to_json(PendingRecording(recording(tmp_path / "r1"), "db locked")))
    document["run"] = document["run"][:13]  # the run's columns before schema version 4
    back = from_json(json.dumps(document))
    assert back.recording.run.process is None
    assert back.recording.run.pid == 4242


@pytest.mark.parametrize(
    "text",
    ["", "[]", '{"format": "x"}', '{"format": "agentmaint unrecorded run", "version": 1}'],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"malformed|not an agentmaint"):
        from_json(text)


def test_the_file_is_private_read_back_and_removed(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    pending = PendingRecording(recording(run_dir), "db locked")
    path = write_pending(run_dir, pending)
    assert path == run_dir / PENDING_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in run_dir.iterdir()) == [PENDING_NAME]  # no temporary left
    back = read_pending(run_dir)
    assert back is not None and back.recording.run == pending.recording.run
    remove_pending(run_dir)
    assert read_pending(run_dir) is None
    remove_pending(run_dir)  # already gone: nothing to do


def test_a_symlink_is_never_followed(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    write_pending(run_dir, PendingRecording(recording(run_dir), "x"))
    os.replace(run_dir / PENDING_NAME, elsewhere)
    (run_dir / PENDING_NAME).symlink_to(elsewhere)
    with pytest.raises(StoreError, match="a symlink, not followed"):
        read_pending(run_dir)
    remove_pending(run_dir)
    assert (run_dir / PENDING_NAME).is_symlink() and elsewhere.exists()
    linked = tmp_path / "linked"
    linked.symlink_to(run_dir)
    with pytest.raises(OSError):
        write_pending(linked, PendingRecording(recording(run_dir), "x"))


def test_an_unreadable_file_is_refused_naming_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    (run_dir / PENDING_NAME).write_text("{not json")
    with pytest.raises(
        StoreError, match=re.escape(f"{run_dir / PENDING_NAME}: not an unrecorded run")
    ):
        read_pending(run_dir)


class _Unwritable:
    """A history whose every write fails, as a locked or full database does."""

    def record_run(self, recording: RunRecording) -> None:
        raise StoreError("/state/history.sqlite3: cannot write the history: database is locked")


def test_the_recorder_keeps_what_the_history_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    kept = recording(run_dir)
    recorder = Recorder(_Unwritable())  # type: ignore[arg-type]
    plan = Plan(at=START, decisions=())
    recorder.run_finished(
        RunResult(
            plan=plan,
            run=kept.run,
            records=tuple(kept.records),
            counts=kept.counts,
            task_results=tuple(kept.results),
        )
    )
    assert run_directory(kept.run) == run_dir
    assert recorder.unrecorded is not None
    assert recorder.unrecorded.reason.endswith("database is locked")
    assert recorder.unrecorded.kept_in == run_dir / PENDING_NAME
    back = read_pending(run_dir)
    assert back is not None
    assert back.reason == recorder.unrecorded.reason
    assert back.recording.run == kept.run
    assert tuple(back.recording.results) == tuple(kept.results)
