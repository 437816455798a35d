"""`agentmaint history import` knows a job by its content, not by its path; imports are atomic.

A job is the artifacts of one ansible-playbook process: a copy of them (``cp -a``), one
slice of a sliced run, or the run directory around them is the same job, refused with
exit 2 and nothing stored; another run of the same playbook is a new job. Every test
runs with the history in SQLite and in PostgreSQL. Jobs to import come from a "source"
schedule with its own SQLite history, as runs made elsewhere would.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.events import read_artifact_dir
from agentmaint.cli import main
from agentmaint.errors import MissingHistoryError
from agentmaint.history.store import open_history
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunRecord, RunStatus
from tests.integration.test_atomic_recording import FACT_TABLES, faulty, finish, wait_for
from tests.integration.test_remote_pipe import document, fake_ssh  # noqa: F401 (a fixture)
from tests.schedules import MakeSchedule, always_open, history_shape, local_hosts

pytestmark = pytest.mark.integration

SAME_JOB = "(same job: copied or a slice of it)"


def write_schedule(directory: Path, history_url: str | None, hosts: int = 2) -> Path:
    """A schedule in `directory` (its state dir beside it) updating `hosts` local hosts."""
    directory.mkdir(parents=True, exist_ok=True)
    doc = always_open(
        local_hosts(*(f"h{i}" for i in range(1, hosts + 1))),
        {"app": {"update_command": "true", "frequency": "weekly"}},
    )
    if history_url is not None:
        doc["history"] = {"url": history_url}
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def state_dir(path: Path) -> Path:
    return path.parent / ".agentmaint"


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_jobs(capsys: pytest.CaptureFixture[str], path: Path, count: int) -> list[Path]:
    """The artifact directories of `count` runs (``run --force``) of `path`'s playbook."""
    found = []
    for _ in range(count):
        code, out, err = cli(capsys, "run", path, "--force", "--json")
        assert code == 0, err
        found.append(Path(yaml.safe_load(out)["run"]["artifact_dir"]))
    return found


def copy_of(artifacts: Path, where: Path) -> Path:
    """``cp -a`` of a job's artifact directory (its name kept) under `where`."""
    where.mkdir(parents=True)
    subprocess.run(["cp", "-a", str(artifacts), str(where)], check=True)
    return where / artifacts.name


def runs(path: Path, history_url: str | None) -> list[RunRecord]:
    """The target's runs (none before an import created its SQLite history)."""
    try:
        with open_history(history_url, state_dir(path), readonly=True) as store:
            return store.runs()
    except MissingHistoryError:
        return []


def facts(path: Path, history_url: str | None) -> dict[str, int]:
    if history_url is None and not (state_dir(path) / "history.sqlite3").exists():
        return dict.fromkeys(FACT_TABLES, 0)
    with (
        open_history(history_url, state_dir(path), readonly=True) as store,
        store._reading() as db,
    ):
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in FACT_TABLES}


def shape(path: Path, history_url: str | None, run_id: str) -> tuple[Any, ...]:
    with open_history(history_url, state_dir(path), readonly=True) as store:
        return history_shape(store, run_id)


def empty_history(path: Path, history_url: str | None) -> None:
    """Start the target's history again, empty."""
    if history_url is None:
        for file in state_dir(path).glob("history.sqlite3*"):
            file.unlink()
    else:
        import psycopg

        with psycopg.connect(history_url, autocommit=True) as raw:
            raw.execute("TRUNCATE runs, host_state CASCADE")


def refused(result: tuple[int, str, str], *words: str) -> None:
    code, out, err = result
    assert code == 2, (code, out, err)
    text = " ".join(err.split())  # the console wraps long lines
    for word in words:
        assert word in text, (word, err)
    assert "Traceback" not in err


# --------------------------------------------------------------------------- copies


def test_a_copy_of_a_recorded_job_is_refused_and_a_new_run_imported(
    tmp_path: Path, history_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_schedule(tmp_path / "source", None)
    first, second = run_jobs(capsys, source, 2)  # the same playbook, run twice
    target = write_schedule(tmp_path / "target", history_url)

    code, _, err = cli(capsys, "history", "import", target, first)
    assert code == 0, err
    (imported,) = runs(target, history_url)
    assert imported.trigger == "import" and imported.artifact_dir == first
    whole = facts(target, history_url)
    assert whole["task_results"] > 0

    # A `cp -a` of it, anywhere: the same job, whatever its path.
    copy = copy_of(first, tmp_path / "elsewhere")
    refused(
        cli(capsys, "history", "import", target, copy),
        str(copy),
        f"already in the history as run {imported.id} {SAME_JOB}",
        "nothing imported",
    )
    # Copied under another name: its events still name the job's ident and play uuids.
    renamed = tmp_path / "renamed"
    shutil.copytree(first, renamed, symlinks=True)
    assert read_artifact_dir(renamed).ident == first.name
    refused(cli(capsys, "history", "import", target, renamed), SAME_JOB)
    # The same directory again: known by its path.
    refused(
        cli(capsys, "history", "import", target, first),
        f"already in the history as run {imported.id} (its artifact directory)",
    )
    # The run directory around it (a private_data_dir: its job is read).
    refused(
        cli(capsys, "history", "import", target, first.parent.parent),
        f"already in the history as run {imported.id} (its artifact directory: {first})",
    )
    assert [r.id for r in runs(target, history_url)] == [imported.id]
    assert facts(target, history_url) == whole  # nothing stored by the refusals

    # The second run of the same playbook is another job: imported.
    code, _, err = cli(capsys, "history", "import", target, copy_of(second, tmp_path / "2"))
    assert code == 0, err
    both = runs(target, history_url)
    assert len(both) == 2 and {r.trigger for r in both} == {"import"}
    assert shape(target, history_url, both[0].id) == shape(target, history_url, both[1].id)


def test_a_job_of_a_run_not_yet_recorded_is_refused_by_its_ident(
    tmp_path: Path, history_url: str | None
) -> None:
    """A controller killed before it recorded its run: the job is that run's, for recover."""
    target = write_schedule(tmp_path, history_url)
    code, out, err = finish(faulty("run", target, "--json", FAULT_KILL_AT=0))
    assert code == -9, (code, out, err)
    (dead,) = runs(target, history_url)
    assert dead.status is RunStatus.RUNNING and dead.artifact_dir is not None
    copy = copy_of(dead.artifact_dir, tmp_path / "copy")
    imported = subprocess.run(
        [sys.executable, "-m", "agentmaint", "history", "import", str(target), str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    refused(
        (imported.returncode, imported.stdout, imported.stderr),
        f"already in the history as run {dead.id} {SAME_JOB[:-1]}; ansible-runner ident",
        "it is running, or its controller died: `agentmaint recover` records it",
    )
    assert facts(target, history_url) == dict.fromkeys(FACT_TABLES, 0)
    recovered = subprocess.run(
        [sys.executable, "-m", "agentmaint", "recover", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert recovered.returncode == 0, recovered.stderr
    (run,) = runs(target, history_url)
    assert run.id == dead.id and run.status is RunStatus.INTERRUPTED


# --------------------------------------------------------------------------- slices


@pytest.mark.usefixtures("fake_ssh")
def test_a_slice_of_a_recorded_sliced_run_is_refused(
    tmp_path: Path,
    history_url: str | None,
    make_schedule: MakeSchedule,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    doc = document(out, ["node-a", "node-b"])
    if history_url is not None:
        doc["history"] = {"url": history_url}
    schedule = make_schedule(doc)
    path = tmp_path / "schedule.yaml"
    result = run_maintenance(schedule)
    assert result.run is not None and result.run.status is RunStatus.SUCCESSFUL, result.run
    run = result.run
    slices = state_dir(path) / "runs" / run.id / "slices"
    assert run.artifact_dir == slices
    one = slices / "1-n1" / "artifacts" / f"{run.id}-1"
    two = slices / "2-n2" / "artifacts" / f"{run.id}-2"
    whole = facts(path, history_url)

    refused(
        cli(capsys, "history", "import", path, one),
        f"already in the history as run {run.id} (a slice of it)",
    )
    refused(
        cli(capsys, "history", "import", path, one.parent.parent),  # the slice's job directory
        f"already in the history as run {run.id} (a slice of it)",
    )
    refused(
        cli(capsys, "history", "import", path, copy_of(two, tmp_path / "copy")),
        f"already in the history as run {run.id} {SAME_JOB[:-1]}",
    )
    for parent in (slices, slices.parent):  # the slices/ directory, the run directory
        refused(
            cli(capsys, "history", "import", path, parent),
            f"already in the history as run {run.id} (the slices of that run)",
        )
    assert [r.id for r in runs(path, history_url)] == [run.id]
    assert facts(path, history_url) == whole

    # In another history, the slices/ directory says to import each slice; each is a job.
    other = write_schedule(tmp_path / "other", None, hosts=4)
    refused(
        cli(capsys, "history", "import", other, slices),
        "a sliced run: one job per slice",
        "import each slice's artifact directory (one run each)",
    )
    for slice_dir in (one, two):
        code, _, err = cli(capsys, "history", "import", other, slice_dir)
        assert code == 0, err
    refused(
        cli(capsys, "history", "import", other, copy_of(one, tmp_path / "copy-1")),
        SAME_JOB,
    )
    assert len(runs(other, None)) == 2


# --------------------------------------------------------------------------- no play


def test_a_job_that_ended_before_its_first_play_is_refused(
    tmp_path: Path,
    history_url: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No play uuid, no task result: nothing to import (and nothing to know it by)."""
    import ansible_runner

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin")
    job = tmp_path / "job"
    (job / "project").mkdir(parents=True)
    (job / "project" / "broken.yml").write_text("- hosts: all\n  tasks: [\n")  # not YAML
    ran = ansible_runner.run(private_data_dir=str(job), playbook="broken.yml", quiet=True)
    assert ran.status == "failed"
    artifacts = job / "artifacts" / ran.config.ident
    parsed = read_artifact_dir(artifacts)
    assert parsed.results == ()
    assert parsed.ident == ran.config.ident and parsed.directory == artifacts

    target = write_schedule(tmp_path / "target", history_url)
    refused(
        cli(capsys, "history", "import", target, artifacts),
        "no task result: the playbook ended, or its events end, before its first task",
        "(error: [ERROR]: YAML parsing failed",
        "nothing imported",
    )
    assert runs(target, history_url) == []


# --------------------------------------------------------------------------- concurrency


def test_two_imports_of_two_copies_at_once_record_the_job_once(
    tmp_path: Path, history_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    (job,) = run_jobs(capsys, write_schedule(tmp_path / "source", None), 1)
    target = write_schedule(tmp_path / "target", history_url)
    copies = [copy_of(job, tmp_path / f"copy-{n}") for n in (1, 2)]
    go = tmp_path / "go"
    readies = [tmp_path / "ready-1", tmp_path / "ready-2"]
    # Both wait at the start of record_run: both passed every check made before it.
    processes = [
        faulty("history", "import", target, copy, FAULT_GO=go, FAULT_READY=ready)
        for copy, ready in zip(copies, readies, strict=True)
    ]
    for ready, process in zip(readies, processes, strict=True):
        wait_for(ready, process=process)
    go.touch()
    outcomes = sorted((code, err) for code, _, err in map(finish, processes))
    assert [code for code, _ in outcomes] == [0, 2], outcomes
    (run,) = runs(target, history_url)
    refused((2, "", outcomes[1][1]), f"already in the history as run {run.id} {SAME_JOB}")
    assert run.artifact_dir in copies
    assert facts(target, history_url)["task_results"] == len(read_artifact_dir(job).results)


# --------------------------------------------------------------------------- killed


def test_an_import_killed_at_any_moment_leaves_nothing_running(
    tmp_path: Path, history_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    (job,) = run_jobs(capsys, write_schedule(tmp_path / "source", None, hosts=4), 1)
    target = write_schedule(tmp_path / "target", history_url, hosts=4)

    # The reference: an import that is not killed, counting its recording's statements.
    count = tmp_path / "count"
    began = time.monotonic()
    code, out, err = finish(faulty("history", "import", target, job, FAULT_COUNT=count))
    took = time.monotonic() - began
    assert code == 0, err
    statements = int(count.read_text())
    assert statements > 10  # run row, task results, counts, records, derived tables
    (reference_run,) = runs(target, history_url)
    reference = shape(target, history_url, reference_run.id)
    whole = facts(target, history_url)

    def after_a_kill(label: object) -> None:
        """No run `running`; the whole import or nothing; a re-import ends with it once."""
        found = runs(target, history_url)
        assert [r.status for r in found if r.status is RunStatus.RUNNING] == [], label
        assert len(found) <= 1, label
        assert facts(target, history_url) == (whole if found else dict.fromkeys(FACT_TABLES, 0))
        again = subprocess.run(
            [sys.executable, "-m", "agentmaint", "history", "import", str(target), str(job)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == (2 if found else 0), (label, again.stderr)
        (run,) = runs(target, history_url)
        assert run.status is reference_run.status, label
        assert facts(target, history_url) == whole, label
        assert shape(target, history_url, run.id) == reference, label

    # Killed before each statement of the recording transaction, and right after its commit.
    for kill_at in range(statements + 1):
        empty_history(target, history_url)
        code, out, err = finish(faulty("history", "import", target, job, FAULT_KILL_AT=kill_at))
        assert code == -9, (kill_at, code, out, err)
        assert (len(runs(target, history_url)) == 1) is (kill_at == statements), kill_at
        after_a_kill(kill_at)

    # Killed from outside at random moments of a whole import (start-up, reading, recording).
    chance = random.Random()
    for attempt in range(6):
        empty_history(target, history_url)
        process = faulty("history", "import", target, job)
        time.sleep(chance.uniform(0, took))
        process.kill()
        code, out, err = finish(process)
        assert code in (0, -9), (attempt, code, out, err)
        after_a_kill(f"random kill {attempt} (exit {code})")
