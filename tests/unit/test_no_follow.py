"""agentmaint never deletes, truncates or writes through anything it did not create.

Each test points agentmaint at a symlink, a file or a directory that is not its own and
checks that it is refused (exit 2, no traceback) and that the target is untouched:
its content, its size, and everything next to it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.cli.demo import create_demo
from agentmaint.config.parse import load_schedule
from agentmaint.errors import StateDirError, StoreError, UsageError
from agentmaint.history.store import HistoryStore, RunRecording
from agentmaint.maintenance import run_maintenance
from agentmaint.planning.planner import Plan
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.locks import environment_locks
from agentmaint.run.observer import BaseObserver
from agentmaint.run.recorder import Retention
from agentmaint.run.results import RunResult
from agentmaint.run.statedir import check_state_dir, make_run_dir
from tests.schedules import always_open, local_hosts

#: The file `agentmaint demo` writes first in a directory it creates.
MARKER = ".agentmaint-demo"
PRECIOUS = b"precious data, not agentmaint's\n"


def precious(directory: Path) -> Path:
    """A directory of someone else's data: one file and one subdirectory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keep.txt").write_bytes(PRECIOUS)
    (directory / "sub").mkdir(exist_ok=True)
    (directory / "sub" / "also.txt").write_bytes(PRECIOUS)
    return directory


def assert_untouched(directory: Path) -> None:
    """`precious(directory)` exactly as written: nothing removed, added or changed."""
    assert sorted(p.name for p in directory.iterdir()) == ["keep.txt", "sub"]
    assert (directory / "keep.txt").read_bytes() == PRECIOUS
    assert (directory / "keep.txt").stat().st_size == len(PRECIOUS)
    assert (directory / "sub" / "also.txt").read_bytes() == PRECIOUS


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


# --------------------------------------------------------------------------- demo --dir


def test_demo_refuses_a_symlink_and_leaves_its_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = precious(tmp_path / "target")
    link = tmp_path / "link"
    link.symlink_to(target)
    code, err = cli(capsys, "demo", "--dir", str(link))
    assert code == 2
    assert "is a symlink" in err
    assert link.is_symlink()
    assert_untouched(target)


def test_demo_refuses_a_directory_it_did_not_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = precious(tmp_path / "theirs")
    code, err = cli(capsys, "demo", "--dir", str(theirs))
    assert code == 2
    assert f"no {MARKER} file" in err
    assert_untouched(theirs)


def test_demo_refuses_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "file"
    file.write_bytes(PRECIOUS)
    code, err = cli(capsys, "demo", "--dir", str(file))
    assert code == 2
    assert "not a directory" in err
    assert file.read_bytes() == PRECIOUS


def test_demo_refuses_the_working_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = precious(tmp_path / "cwd")
    monkeypatch.chdir(cwd)
    code, err = cli(capsys, "demo", "--dir", ".")
    assert code == 2
    assert "working directory" in err
    assert_untouched(cwd)


def test_demo_refuses_the_home_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = precious(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    code, err = cli(capsys, "demo", "--dir", str(Path("~").expanduser()))
    assert code == 2
    assert "home directory" in err
    assert_untouched(home)


def test_demo_refuses_a_symlinked_marker(tmp_path: Path) -> None:
    """A marker that is a symlink was not written by the demo: not a demo directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(PRECIOUS)
    theirs = precious(tmp_path / "theirs")
    (theirs / MARKER).symlink_to(elsewhere)
    with pytest.raises(UsageError, match="not empty and was not created"):
        create_demo(theirs)
    assert (theirs / "keep.txt").read_bytes() == PRECIOUS
    assert elsewhere.read_bytes() == PRECIOUS


def test_demo_resets_only_its_own_directory(tmp_path: Path) -> None:
    """A new or empty directory is used; one holding the marker is reset, nothing else."""
    empty = tmp_path / "empty"
    empty.mkdir()
    schedule = create_demo(empty)
    assert schedule == empty.absolute() / "schedule.yaml"
    assert (empty / MARKER).is_file() and not (empty / MARKER).is_symlink()
    (empty / "leftover").write_text("from the last demo")
    neighbour = precious(tmp_path / "neighbour")
    create_demo(empty)
    assert not (empty / "leftover").exists()
    assert (empty / "schedule.yaml").is_file()
    assert_untouched(neighbour)
    fresh = tmp_path / "new" / "demo"
    create_demo(fresh)
    assert (fresh / MARKER).is_file()


# --------------------------------------------------------------------------- render --out


@pytest.fixture
def schedule_file(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.yaml"
    document = always_open(
        local_hosts("h1"), {"app": {"update_command": "true", "frequency": "weekly"}}
    )
    path.write_text(yaml.safe_dump(document))
    return path


def render(capsys: pytest.CaptureFixture[str], schedule: Path, out: Path) -> tuple[int, str]:
    return cli(capsys, "render", str(schedule), "--force", "--out", str(out))


def test_render_refuses_an_existing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule_file: Path
) -> None:
    file = tmp_path / "file"
    file.write_bytes(PRECIOUS)
    code, err = render(capsys, schedule_file, file)
    assert code == 2
    assert "exists and is not a directory" in err
    assert file.read_bytes() == PRECIOUS


def test_render_refuses_a_bad_out_even_when_nothing_is_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule_file: Path
) -> None:
    """A non-empty --out is refused at once, not only on the day something is due."""
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep").write_bytes(PRECIOUS)
    document = yaml.safe_load(schedule_file.read_text())
    for environment in document["environments"].values():
        environment["update_schedule"] = {"day_of_week": "Tuesday", "time": "02:00"}
    schedule_file.write_text(yaml.safe_dump(document))
    monday = "2026-12-07T12:00:00Z"
    code, _ = cli(capsys, "render", str(schedule_file), "--at", monday, "--out", str(full))
    assert code == 2
    assert (full / "keep").read_bytes() == PRECIOUS
    code, _ = cli(
        capsys, "render", str(schedule_file), "--at", monday, "--out", str(tmp_path / "new")
    )
    assert code == 0
    assert not (tmp_path / "new").exists()  # nothing due: nothing rendered


def test_render_refuses_a_symlink_to_an_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule_file: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    link = tmp_path / "link"
    link.symlink_to(empty)
    code, err = render(capsys, schedule_file, link)
    assert code == 2
    assert "is a symlink" in err
    assert link.is_symlink()
    assert list(empty.iterdir()) == []


def test_render_refuses_a_dangling_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule_file: Path
) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    code, err = render(capsys, schedule_file, link)
    assert code == 2
    assert "is a symlink" in err
    assert link.is_symlink()
    assert not (tmp_path / "nowhere").exists()


def test_render_uses_an_empty_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule_file: Path
) -> None:
    empty = tmp_path / "out"
    empty.mkdir()
    code, _ = render(capsys, schedule_file, empty)
    assert code == 0
    assert (empty / "inventory" / "hosts.yml").is_file()


# --------------------------------------------------------------------------- state_dir


def test_a_symlinked_lock_file_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    (state_dir / "locks").mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_bytes(PRECIOUS)
    (state_dir / "locks" / "fleet.lock").symlink_to(victim)
    with (
        pytest.raises(StateDirError, match="is a symlink"),
        environment_locks(state_dir, ["fleet"], run_id="r1"),
    ):
        pytest.fail("the lock was taken through a symlink")
    assert victim.read_bytes() == PRECIOUS
    assert victim.stat().st_size == len(PRECIOUS)


def test_a_symlinked_locks_directory_is_refused(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    target = precious(tmp_path / "target")
    (state_dir / "locks").symlink_to(target)
    with (
        pytest.raises(StateDirError, match="is a symlink"),
        environment_locks(state_dir, ["fleet"], run_id="r1"),
    ):
        pytest.fail("the lock was taken in a symlinked directory")
    assert_untouched(target)
    with pytest.raises(StateDirError, match="is a symlink"):
        check_state_dir(state_dir)


def test_a_symlinked_runs_directory_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule_file: Path
) -> None:
    """Refused before any host is touched: no run directory is written where it points."""
    state_dir = schedule_file.parent / ".agentmaint"
    state_dir.mkdir()
    target = precious(tmp_path / "target")
    (state_dir / "runs").symlink_to(target)
    with pytest.raises(StateDirError, match="is a symlink"):
        check_state_dir(state_dir)
    code, err = cli(capsys, "run", str(schedule_file))
    assert code == 2
    assert "runs is a symlink" in err
    assert_untouched(target)


def test_runs_made_a_symlink_after_the_start_check_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    schedule_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run may wait minutes for its locks after the check: the run directory is made safely."""
    target = precious(tmp_path / "target")
    runs = schedule_file.parent / ".agentmaint" / "runs"

    def check_then_swap(state_dir: Path) -> None:
        check_state_dir(state_dir)
        runs.rmdir() if runs.is_dir() else None
        runs.symlink_to(target)  # between the check and the run directory

    monkeypatch.setattr("agentmaint.maintenance.check_state_dir", check_then_swap)
    code, err = cli(capsys, "run", str(schedule_file), "--force")
    assert code == 2
    assert "runs is not a real directory" in err and "never follows a symlink" in err
    assert_untouched(target)


def test_make_run_dir_creates_a_private_directory(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path / "state", "r1")
    assert run_dir == tmp_path / "state" / "runs" / "r1"
    assert run_dir.is_dir() and not run_dir.is_symlink()
    assert run_dir.stat().st_mode & 0o777 == 0o700
    with pytest.raises(StateDirError, match="cannot create"):
        make_run_dir(tmp_path / "state", "r1")  # never reused


def test_a_run_refused_at_its_start_leaves_no_run_directory(schedule_file: Path) -> None:
    """An observer (the history, read-only) refusing the start: nothing of the run is left."""
    schedule = load_schedule(schedule_file)

    class Refuses(BaseObserver):
        def run_started(self, run: RunRecord, plan: Plan) -> None:
            raise StoreError("the history is read-only")

    with pytest.raises(StoreError, match="read-only"):
        run_maintenance(schedule, force=True, observers=[Refuses()])
    assert list((schedule.state_dir / "runs").iterdir()) == []


# --------------------------------------------------------------------------- retention

OLD = datetime(2020, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def finished_run(store: HistoryStore, run_id: str, artifact_dir: Path) -> None:
    run = RunRecord(
        id=run_id,
        trigger="schedule",
        started=OLD,
        status=RunStatus.SUCCESSFUL,
        finished=OLD + timedelta(minutes=1),
        artifact_dir=artifact_dir,
    )
    store.record_run(RunRecording(run, (), {}, ()))


def prune(store: HistoryStore, state_dir: Path) -> None:
    run = RunRecord(id="now", trigger="schedule", started=NOW, finished=NOW)
    Retention(store, state_dir, 30).run_finished(
        RunResult(plan=Plan(at=NOW, decisions=()), run=run)
    )


def test_retention_never_leaves_state_dir_runs(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    runs = state_dir / "runs"
    own = runs / "own"
    (own / "artifacts" / "own").mkdir(parents=True)
    target = precious(tmp_path / "target")
    (runs / "linked").symlink_to(target)
    with HistoryStore.open(state_dir) as store:
        finished_run(store, "own", own / "artifacts" / "own")
        finished_run(store, "linked", runs / "linked" / "artifacts" / "linked")
        # A record naming runs/.. would make its "run directory" state_dir itself.
        finished_run(store, "dotdot", runs / ".." / "artifacts" / "dotdot")
        prune(store, state_dir)
        assert store.get_run("own") is None  # pruned from the history ...
    assert not own.exists()  # ... with its own run directory
    assert (runs / "linked").is_symlink()
    assert_untouched(target)
    assert state_dir.is_dir() and runs.is_dir()
    assert (state_dir / "history.sqlite3").is_file()  # the history itself survived


def test_retention_removes_nothing_through_a_symlinked_runs(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    precious(elsewhere / "old")
    (state_dir / "runs").symlink_to(elsewhere)
    with HistoryStore.open(state_dir) as store:
        finished_run(store, "old", state_dir / "runs" / "old" / "artifacts" / "old")
        prune(store, state_dir)
    assert_untouched(elsewhere / "old")
    assert os.path.islink(state_dir / "runs")
