"""What a run creates outside its directory, written down there, and removed by recovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmaint.config.schedule import ExecutionNode
from agentmaint.run.jobdir import prepare_run_dir
from agentmaint.run.outside import (
    OUTSIDE_NAME,
    make_control_path_dir,
    record_node_jobs,
    remove_outside,
)
from tests.schedules import MakeSchedule, always_open, local_hosts

RUN = "20261206T010203Z-abc123"


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary directory, for this test: a directory of its own."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "runs" / RUN
    directory.mkdir(parents=True, mode=0o700)
    return directory


@pytest.fixture
def master(temporary: Path, run_dir: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """The run's ControlPath directory, and a process that names it as an SSH master does."""
    control = make_control_path_dir(run_dir, RUN)
    sleeper = "import time; time.sleep(60)"
    process = subprocess.Popen([sys.executable, "-c", sleeper, str(control / "0123abcd")])
    try:
        yield control, process
    finally:
        process.kill()
        process.wait()


def test_the_control_path_dir_is_short_private_and_written_down_first(
    temporary: Path, run_dir: Path
) -> None:
    control = make_control_path_dir(run_dir, RUN)
    assert control.parent == temporary and control.name.startswith(f"agentmaint-cp-{RUN}-")
    assert os.stat(control).st_mode & 0o777 == 0o700
    # /tmp/agentmaint-cp-<run id>-XXXXXXXX/ + ssh's 40-character hash, within 108 bytes.
    assert len(f"/tmp/{control.name}/") + 40 < 108
    recorded = json.loads((run_dir / OUTSIDE_NAME).read_text())
    assert recorded == {"temporary_dir": str(temporary), "node_jobs": []}
    assert (run_dir / OUTSIDE_NAME).stat().st_mode & 0o777 == 0o600


def test_recovery_removes_the_control_path_dir_and_ends_its_masters(
    temporary: Path, run_dir: Path, master: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    control, process = master
    (control / "socket").write_text("")
    remove_outside(run_dir, RUN)
    assert process.wait(timeout=30) == -9
    assert not control.exists()
    remove_outside(run_dir, RUN)  # again: nothing left, nothing fails


def test_recovery_removes_only_real_directories_of_this_user_named_by_the_run(
    tmp_path: Path, temporary: Path, run_dir: Path, master: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    control, _ = master
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data").write_text("keep")
    decoy = temporary / f"agentmaint-cp-{RUN}-symlink"
    decoy.symlink_to(precious)
    other_run = temporary / "agentmaint-cp-20261206T010203Z-abc124-xyz"
    other_run.mkdir()
    nested = temporary / f"agentmaint-cp-{RUN}-a..b"
    nested.mkdir()
    remove_outside(run_dir, RUN)
    assert not control.exists()
    assert decoy.is_symlink() and (precious / "data").read_text() == "keep"
    assert other_run.is_dir() and nested.is_dir()


@pytest.mark.parametrize(
    "content",
    ["not json", '{"temporary_dir": 3, "node_jobs": []}', '{"node_jobs": []}'],
)
def test_an_unusable_record_is_left_alone(
    temporary: Path, run_dir: Path, master: tuple[Path, subprocess.Popen[bytes]], content: str
) -> None:
    control, process = master
    (run_dir / OUTSIDE_NAME).write_text(content)
    remove_outside(run_dir, RUN)
    assert control.is_dir() and process.poll() is None


def test_a_record_that_is_a_symlink_is_not_followed(
    tmp_path: Path, temporary: Path, run_dir: Path, master: tuple[Path, subprocess.Popen[bytes]]
) -> None:
    control, _ = master
    elsewhere = tmp_path / "elsewhere.json"
    (run_dir / OUTSIDE_NAME).rename(elsewhere)
    (run_dir / OUTSIDE_NAME).symlink_to(elsewhere)
    remove_outside(run_dir, RUN)
    assert control.is_dir()


def test_node_jobs_are_written_down_with_how_to_reach_them(temporary: Path, run_dir: Path) -> None:
    make_control_path_dir(run_dir, RUN)
    node = ExecutionNode("n1", "10.0.0.5", user="runner", port=2222, work_dir="/var/tmp")
    record_node_jobs(run_dir, [(f"{RUN}-1", node)])
    recorded = json.loads((run_dir / OUTSIDE_NAME).read_text())
    assert recorded["temporary_dir"] == str(temporary)  # kept
    (job,) = recorded["node_jobs"]
    assert job["ident"] == f"{RUN}-1" and job["node"] == "n1"
    assert job["directory"] == f"/var/tmp/agentmaint-{RUN}-1"
    assert job["ssh"][0] == "ssh" and job["ssh"][-2:] == ["--", "runner@10.0.0.5"]


def test_recovery_ends_a_node_job_and_removes_its_directory_over_ssh(
    tmp_path: Path, run_dir: Path
) -> None:
    """The node is this machine, reached by a stand-in for ssh that runs the command here."""
    fake = tmp_path / "ssh"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "--" ]; do shift; done\nshift 2\nexec sh -c "$1"\n')
    fake.chmod(0o755)
    work = tmp_path / "node"
    job_dir = work / f"agentmaint-{RUN}-1"
    (job_dir / "project").mkdir(parents=True)
    env = {**os.environ, "AGENTMAINT_JOB_ID": f"{RUN}-1"}
    sleeper = "import time; time.sleep(60)"
    worker = subprocess.Popen([sys.executable, "-c", sleeper], env=env)
    try:
        node = ExecutionNode("n1", "node-a", work_dir=str(work))
        record_node_jobs(run_dir, [(f"{RUN}-1", node)])
        document = json.loads((run_dir / OUTSIDE_NAME).read_text())
        document["node_jobs"][0]["ssh"][0] = str(fake)
        (run_dir / OUTSIDE_NAME).write_text(json.dumps(document))
        remove_outside(run_dir, RUN)
        assert worker.wait(timeout=30) == -9
        assert not job_dir.exists() and work.is_dir()
    finally:
        worker.kill()
        worker.wait()


def test_a_job_directory_may_hold_the_record(
    tmp_path: Path, temporary: Path, run_dir: Path, make_schedule: MakeSchedule
) -> None:
    """A plain run's job directory is the run's directory, written down in before the job."""
    schedule = make_schedule(
        always_open(local_hosts("h1"), {"app": {"update_command": "true", "frequency": "weekly"}})
    )
    control = make_control_path_dir(run_dir, RUN)
    job = prepare_run_dir(schedule, (), run_id=RUN, directory=run_dir, control_path_dir=control)
    assert job.private_data_dir == run_dir and (run_dir / OUTSIDE_NAME).is_file()
