"""Faults before and around a run: a clear error, nothing touched, nothing lost."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import agentmaint.ansible.runner
from agentmaint.cli import main
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from tests.schedules import MakeSchedule, always_open, local_hosts

pytestmark = pytest.mark.integration


def test_ansible_playbook_missing_is_an_error_with_a_reason(
    make_schedule: MakeSchedule, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "touched"
    schedule = make_schedule(
        always_open(
            local_hosts("h1"), {"app": {"update_command": f"touch {marker}", "frequency": "weekly"}}
        )
    )
    monkeypatch.setattr(agentmaint.ansible.runner, "job_path", lambda: str(tmp_path / "no-bin"))
    result = run_maintenance(schedule)
    assert result.run is not None
    assert result.run.status is RunStatus.ERROR
    assert result.run.message == (
        f"ansible-playbook was not found on the job's PATH ({tmp_path / 'no-bin'})"
    )
    assert not marker.exists()
    with HistoryStore.open(schedule.state_dir) as store:
        stored = store.get_run(result.run.id)
        assert stored is not None and stored.status is RunStatus.ERROR
        (record,) = store.records()
        assert (record.status.value, record.error) == ("skipped", "run error")


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_state_dir_not_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "touched"
    (tmp_path / "state").write_text("not a directory")
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1"),
            {"app": {"update_command": f"touch {marker}", "frequency": "weekly"}},
            state_dir="state",
        ),
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"state_dir {tmp_path / 'state'} is not a writable directory" in err
    assert "Traceback" not in err
    assert not marker.exists()
    assert (tmp_path / "state").read_text() == "not a directory"


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: a state_dir on a disk that is (nearly) full."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_fails_before_any_host_is_touched(
    tmp_path: Path, tiny_filesystem: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "touched"
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1"),
            {"app": {"update_command": f"touch {marker}", "frequency": "weekly"}},
            state_dir=str(tiny_filesystem / "state"),
        ),
    )
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "KiB free; a run needs at least 64 MiB" in err
    assert not marker.exists()
    assert not (tiny_filesystem / "state" / "runs").exists()


def test_broken_ansible_playbook_is_recorded_with_its_output(
    make_schedule: MakeSchedule, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ansible-playbook that crashes at start: the run ends with a reason, hosts untouched."""
    marker = tmp_path / "touched"
    schedule = make_schedule(
        always_open(
            local_hosts("h1"), {"app": {"update_command": f"touch {marker}", "frequency": "weekly"}}
        )
    )
    bin_dir = tmp_path / "broken-bin"
    bin_dir.mkdir()
    broken = bin_dir / "ansible-playbook"
    broken.write_text(
        "#!/bin/sh\n"
        "echo 'ERROR! Unexpected Exception, this is probably a bug: broken install' >&2\n"
        "exit 250\n"
    )
    broken.chmod(0o755)
    monkeypatch.setattr(agentmaint.ansible.runner, "job_path", lambda: f"{bin_dir}:/usr/bin:/bin")
    result = run_maintenance(schedule)
    assert result.run is not None
    assert result.run.status in {RunStatus.ERROR, RunStatus.FAILED}
    assert not result.succeeded
    assert not marker.exists()
    with HistoryStore.open(schedule.state_dir) as store:
        stored = store.get_run(result.run.id)
        assert stored is not None and stored.status is result.run.status
        assert stored.message is not None and "broken install" in stored.message
        (record,) = store.records()
        assert record.status.value == "skipped"
    assert agentmaint.ansible.runner.run_processes(result.run.id) == []


@pytest.mark.parametrize(
    "damage",
    ["garbage", "newer"],
)
def test_unusable_history_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    import sqlite3

    from agentmaint.history.store import DB_NAME, SCHEMA_VERSION

    marker = tmp_path / "touched"
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1"), {"app": {"update_command": f"touch {marker}", "frequency": "weekly"}}
        ),
    )
    state = tmp_path / ".agentmaint"
    state.mkdir()
    database = state / DB_NAME
    if damage == "garbage":
        database.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4080)
    else:
        raw = sqlite3.connect(database)
        raw.execute("CREATE TABLE future (x)")
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        raw.commit()
        raw.close()
    before = database.read_bytes()
    for argv in (["run", str(path)], ["history", str(path)], ["plan", str(path)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert (
            "SQLite database (or corrupt)" in err
            if damage == "garbage"
            else "is newer than this" in err
        ), err
    assert database.read_bytes() == before
    assert not marker.exists()
    assert not (state / "runs").exists() or not any((state / "runs").iterdir())
