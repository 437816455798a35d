"""The CLI: exit codes, JSON shapes, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentmaint.cli import main
from agentmaint.cli.app import _build_parser

ROOT = Path(__file__).parent.parent.parent
SEED = ROOT / "tests" / "data" / "seed.json"
BAD = ROOT / "tests" / "data" / "bad"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(SEED))
    assert code == 0
    assert "2 environment(s), 5 host(s), 4 component(s)" in out


def test_validate_bad_exit_2_with_paths(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "validate", str(BAD / "bad-time.yaml"))
    assert code == 2
    assert out == ""
    assert "environments.production.update_schedule.time: '25:00' is not a valid HH:MM time" in err
    assert "Traceback" not in err


def test_validate_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "validate", str(BAD / "unknown-key.yaml"), "--json")
    assert code == 2
    data = json.loads(out)
    assert data["valid"] is False
    # A mistyped key is one problem, at its line: 'frequency' is not also "required".
    assert data["problems"] == [
        {
            "path": "components.os.frequncy",
            "message": "unknown key (did you mean 'frequency'?)",
            "line": 7,
        }
    ]
    missing = tmp_path / "missing.yaml"
    text = (BAD / "unknown-key.yaml").read_text().replace(", frequncy: weekly", "")
    missing.write_text(text)
    code, out, _ = run(capsys, "validate", str(missing), "--json")
    assert code == 2
    # The line of the YAML file: the missing key's mapping (``os:``, line 7).
    assert {"path": "components.os.frequency", "message": "is required", "line": 7} in json.loads(
        out
    )["problems"]


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "plan", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "cannot read the file: No such file or directory" in err


def test_plan_json_monday(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", str(SEED), "--at", "2026-11-23T01:30Z", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["at"] == "2026-11-23T01:30:00+00:00"
    assert sorted((d["environment"], d["component"]) for d in data["due"]) == sorted(
        ("testing", c) for c in ("os", "docker", "python", "models")
    )
    assert all(d["servers"] == ["test-server-1", "test-server-2"] for d in data["due"])
    assert {d["environment"] for d in data["not_due"]} == {"production"}
    assert all(d["reason"].startswith("outside window") for d in data["not_due"])


def test_plan_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", str(SEED), "--at", "2026-11-25T03:30")
    assert code == 0
    assert "4 due, 4 not due" in out
    assert "prod-server-1" in out


def test_plan_bad_at(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", str(SEED), "--at", "tomorrow")
    assert code == 2
    assert "--at: 'tomorrow' is not an ISO 8601 date-time" in err


def test_plan_unknown_environment(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", str(SEED), "-e", "staging")
    assert code == 2
    assert "unknown environment(s): staging" in err


def test_windows_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "windows",
        str(ROOT / "examples" / "schedule.yaml"),
        "--at",
        "2026-11-23T01:30Z",
        "--count",
        "2",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    testing = data["environments"]["testing"]["windows"]
    # Monday 23:30 Europe/Berlin = 22:30 UTC
    assert testing[0]["start"] == "2026-11-23T23:30:00+01:00"
    assert testing[0]["start_utc"] == "2026-11-23T22:30:00+00:00"
    assert testing[1]["start"] == "2026-11-26T23:30:00+01:00"
    production = data["environments"]["production"]["windows"]
    assert production[0]["start"] == "2026-11-25T03:00:00+01:00"
    assert production[0]["last_start"] == "2026-11-25T04:30:00+01:00"


def test_windows_marks_blackouts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "windows",
        str(ROOT / "examples" / "schedule.yaml"),
        "--at",
        "2026-12-20T00:00Z",
        "--count",
        "3",
        "--json",
        "-e",
        "production",
    )
    assert code == 0
    rows = json.loads(out)["environments"]["production"]["windows"]
    assert [r["blackouts"] for r in rows] == [["year-end freeze"], ["year-end freeze"], []]


def test_windows_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "windows", str(SEED), "--at", "2026-11-23T01:30Z", "-n", "1")
    assert code == 0
    assert "open now" in out
    assert "Mon 2026-11-23 01:00 UTC" in out


@pytest.mark.parametrize("argv", [["plan"], ["frobnicate"], ["windows", "x", "--count", "z"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_python_dash_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agentmaint", "validate", str(BAD / "billion-laughs.yaml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert "expands to more than" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("filters", "said"),
    [
        ([], "No history yet"),
        (["--server", "test-server-1"], "No record matches"),
        (["--server", "nope"], "nope: no such host in the schedule, and no history for it"),
        (["-e", "staging"], "staging: no such environment in the schedule, and no history"),
        (["-c", "kernel"], "kernel: no such component in the schedule, and no history"),
    ],
)
def test_history_says_why_it_is_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, filters: list[str], said: str
) -> None:
    schedule = tmp_path / "seed.json"
    schedule.write_text(SEED.read_text())
    code, out, _ = run(capsys, "history", str(schedule), *filters)
    assert code == 0
    assert out.startswith(said) and len(out.splitlines()) == 1
    assert not (tmp_path / ".agentmaint").exists()  # a reader creates nothing


@pytest.mark.parametrize(
    "argv",
    [
        ["history", "f.yaml", "-s", "web1", "-n", "5"],
        ["history", "-s", "web1", "-n", "5", "f.yaml"],
        ["history", "--server=web1", "f.yaml", "--limit", "5"],
        ["history", "list", "-n", "5", "-s", "web1", "f.yaml"],
    ],
)
def test_history_filters_may_come_before_the_file(argv: list[str]) -> None:
    """``history -s HOST FILE`` is ``history list`` too, not "unrecognized arguments"."""
    args = _build_parser().parse_args(argv)
    assert (args.history_command, str(args.file), args.server, args.limit) == (
        "list",
        "f.yaml",
        "web1",
        5,
    )


ARTIFACTS = ROOT / "tests" / "data" / "artifacts"


def test_events_json_prints_without_importing_rich() -> None:
    """``events --json`` prints its JSON alone: rich (a sixth of its start-up) stays unloaded."""
    probe = (
        "import sys; from agentmaint.cli import main; "
        "code = main(['events', '--json', sys.argv[1]]); "
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'rich'), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(ARTIFACTS / "fail_one_of_three")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stderr.strip() == "0 []"
    assert json.loads(result.stdout)["status"] == "failed"


def test_events_table_and_events_errors_still_print(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "events", str(ARTIFACTS / "fail_one_of_three"))
    assert code == 0
    assert "Per host" in out
    assert "failed" in out
    code, out, err = run(capsys, "events", "--json", str(tmp_path / "missing"))
    assert code == 2
    assert out == ""
    assert f"{tmp_path / 'missing'}: no such artifact directory" in err
