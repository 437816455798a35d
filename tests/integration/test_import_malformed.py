"""`events` and `history import` on malformed, truncated and foreign artifact directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.history.store import HistoryStore
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parent.parent / "data" / "artifacts"


def _schedule(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "schedule.yaml"
    document = always_open(
        local_hosts("h1", "h2"),
        {"app": {"update_command": 'test "$AGENTMAINT_HOST" = h1', "frequency": "weekly"}},
    )
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The artifact directory of a real run (h1 succeeds, h2 fails)."""
    path = _schedule(tmp_path_factory.mktemp("source"))
    assert main(["run", str(path), "--json"]) == 1
    with HistoryStore.open(path.parent / ".agentmaint") as store:
        (run,) = store.runs()
    assert run.artifact_dir is not None
    return run.artifact_dir


def _events(directory: Path) -> list[Path]:
    files = list((directory / "job_events").glob("*.json"))
    return sorted(files, key=lambda p: int(p.name.partition("-")[0]))


def _history(path: Path) -> tuple[list[str], set[tuple[str, str, str]]]:
    with HistoryStore.open(path.parent / ".agentmaint") as store:
        runs = [r.message or "" for r in store.runs()]
        records = {(r.server, r.action.value, r.status.value) for r in store.records()}
    return runs, records


def test_truncated_stream_is_imported_as_partial(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(recorded, broken)
    events = _events(broken)
    # The controller died mid-write: the stats event is gone, another file is cut short,
    # and a stray file of garbage sits among the events; no status or rc file was written.
    stats = next(p for p in events if '"playbook_on_stats"' in p.read_text())
    stats.unlink()
    cut = next(p for p in events if '"runner_on_ok"' in p.read_text())
    cut.write_bytes(cut.read_bytes()[:50])
    (broken / "job_events" / "999-garbage.json").write_bytes(b"\x00\xff not json")
    for name in ("status", "rc"):
        (broken / name).unlink(missing_ok=True)

    capsys.readouterr()
    assert main(["events", str(broken), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["partial"] is True
    assert document["hosts"]["h2"]["failures"] == 1

    path = _schedule(tmp_path / "other")
    assert main(["history", "import", str(path), str(broken)]) == 0
    out = capsys.readouterr().out
    assert "partial: the artifact directory is incomplete" in out
    assert f"{cut.name}: unreadable event file skipped" in out
    assert "999-garbage.json" in out
    (message,), records = _history(path)
    assert message.startswith("partial import: ")
    # What the stream still shows is recorded; h2's failure is not lost.
    assert ("h2", "update", "failed") in records

    # The same directory again: refused, nothing added.
    assert main(["history", "import", str(path), str(broken)]) == 2
    assert "already in the history as run" in capsys.readouterr().err
    assert len(_history(path)[0]) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "no such artifact directory"),
        (lambda d: d, "no job_events/ directory"),
        (lambda d: (d / "job_events").mkdir() or d, "no event files"),
    ],
    ids=["missing", "empty", "no-events"],
)
def test_unusable_directories_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    target = tmp_path / "artifacts"
    target.mkdir()
    assert callable(make)
    directory = make(target)
    path = _schedule(tmp_path / "schedule")
    for argv in (["events", str(directory)], ["history", "import", str(path), str(directory)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err
        assert "Traceback" not in err
    assert _history(path) == ([], set())


def test_a_foreign_playbook_is_not_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _schedule(tmp_path / "schedule")
    foreign = DATA / "fail_one_of_three"  # a recorded run of a playbook of our own tests
    assert main(["history", "import", str(path), str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "no task follows agentmaint's naming" in err
    assert _history(path) == ([], set())


def test_own_run_cannot_be_imported_twice(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = recorded.parents[4] / "schedule.yaml"
    assert source.exists(), recorded
    assert main(["history", "import", str(source), str(recorded)]) == 2
    assert "already in the history as run" in capsys.readouterr().err
