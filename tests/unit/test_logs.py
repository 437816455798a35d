"""The CLI's log options (before or after the command), its formats, its file; RunLog's lines."""

from __future__ import annotations

import ast
import io
import json
import logging
import stat
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

import agentmaint
from agentmaint.cli import main
from agentmaint.cli.app import _build_parser
from agentmaint.cli.logs import CliLog, wrap_line
from agentmaint.history.store import HistoryStore
from agentmaint.records import Action, RunRecord, TaskResult, TaskStatus
from agentmaint.run.logging_observer import MAX_ERROR, RunLog
from agentmaint.run.recovery import recover_interrupted_runs
from agentmaint.run.results import Progress
from tests.schedules import local_hosts

#: A Tuesday-only window: at MONDAY nothing is due, and a run says so (no Ansible needed).
TUESDAYS = {"day_of_week": "tuesday", "time": "02:00", "duration": "1h"}
MONDAY = "2026-12-07T12:00:00Z"


def levels(*argv: str, terminal: bool = True) -> tuple[int, ...]:
    args = _build_parser().parse_args(argv)
    with CliLog(args, stdout_terminal=terminal) as log:  # closes a --log-file it opened
        return log.levels


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["validate", "f"], logging.WARNING),
        (["-v", "validate", "f"], logging.INFO),
        (["validate", "f", "-v"], logging.INFO),
        (["validate", "-vv", "f"], logging.DEBUG),
        (["-v", "validate", "f", "--verbose"], logging.DEBUG),  # both positions add up
        (["-q", "validate", "f"], logging.ERROR),
        (["validate", "f", "-q"], logging.ERROR),
        (["-q", "validate", "f", "-q"], logging.CRITICAL),
        (["-qqq", "validate", "f"], logging.CRITICAL),  # no level above
        (["-vvv", "validate", "f"], logging.DEBUG),  # no level below
    ],
)
def test_verbose_and_quiet_before_or_after_the_command(argv: list[str], expected: int) -> None:
    assert levels(*argv) == (expected,)


def test_run_without_a_terminal_logs_its_story() -> None:
    assert levels("run", "f", terminal=True) == (logging.WARNING,)
    assert levels("run", "f", terminal=False) == (logging.INFO,)
    assert levels("run", "f", "-q", terminal=False) == (logging.WARNING,)
    assert levels("-v", "run", "f", terminal=False) == (logging.DEBUG,)
    assert levels("plan", "f", terminal=False) == (logging.WARNING,)  # only `run` tells one


def test_format_and_file_before_or_after_the_command(tmp_path: Path) -> None:
    parse = _build_parser().parse_args
    assert parse(["run", "f"]).log_format == "text"
    assert parse(["--log-format", "json", "run", "f"]).log_format == "json"
    assert parse(["run", "f", "--log-format", "json"]).log_format == "json"
    # Given in both places, the one after the command wins (the command's own option).
    assert parse(["--log-format", "json", "run", "f", "--log-format", "text"]).log_format == "text"
    log = tmp_path / "a.log"
    assert parse(["run", "f"]).log_file is None
    assert parse(["--log-file", str(log), "run", "f"]).log_file == log
    assert parse(["run", "f", "--log-file", str(log)]).log_file == log
    assert levels("--log-file", str(log), "run", "f", terminal=True) == (
        logging.WARNING,
        logging.INFO,  # a file asked for keeps the run's story
    )
    assert levels("run", "f", "-q", "--log-file", str(log)) == (logging.ERROR, logging.WARNING)


def nothing_due_schedule(tmp_path: Path) -> Path:
    document = {
        "environments": {"fleet": {"hosts": local_hosts("h1"), "update_schedule": TUESDAYS}},
        "components": {"app": {"update_command": "true", "frequency": "weekly"}},
    }
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def json_lines(text: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        assert {"time", "level", "event", "message"} <= line.keys(), line
        assert str(line["time"]).endswith("Z")
        datetime.fromisoformat(str(line["time"]))  # ISO 8601
    return lines


@pytest.mark.parametrize("where", ["before", "after"])
def test_options_before_or_after_the_command_change_what_a_run_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    path = nothing_due_schedule(tmp_path)
    base = ["run", str(path), "--at", MONDAY]

    def logged(*options: str) -> list[dict[str, object]]:
        argv = [*options, *base] if where == "before" else [*base, *options]
        assert main(argv) == 0
        captured = capsys.readouterr()
        assert captured.out.startswith("nothing due at 2026-12-07 12:00 UTC")
        return json_lines(captured.err)

    # Not a terminal (captured): a run logs INFO, here the one decision.
    story = logged("--log-format", "json")
    assert [(e["level"], e["event"]) for e in story] == [("info", "nothing_due")]
    assert logged("--log-format", "json", "-q") == []
    detail = logged("--log-format", "json", "-v")
    assert [(e["event"], e["environment"], e["component"]) for e in detail[:1]] == [
        ("not_due", "fleet", "app")
    ]
    assert [e["level"] for e in detail] == ["debug", "info"]


def test_text_logs_do_not_repeat_what_the_command_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = nothing_due_schedule(tmp_path)
    assert main(["run", str(path), "--at", MONDAY]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("nothing due") == 1
    assert captured.err == ""  # the line on stdout says it; the log does not say it twice


def test_log_file_appends_and_is_private(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = nothing_due_schedule(tmp_path)
    log = tmp_path / "agentmaint.log"
    for _ in range(2):
        assert main(["run", str(path), "--at", MONDAY, "--log-file", str(log)]) == 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    lines = log.read_text().splitlines()
    assert len(lines) == 2 and all(" INFO nothing due at 2026-12-07 12:00 UTC" in x for x in lines)

    # An existing file keeps what it holds (and its mode): appended to, never truncated.
    log.chmod(0o640)
    assert (
        main(["--log-format", "json", "--log-file", str(log), "run", str(path), "--at", MONDAY])
        == 0
    )
    assert log.read_text().splitlines()[:2] == lines
    assert json_lines(log.read_text().splitlines()[2])[0]["event"] == "nothing_due"
    assert stat.S_IMODE(log.stat().st_mode) == 0o640
    capsys.readouterr()


def test_log_file_symlink_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = nothing_due_schedule(tmp_path)
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    link = tmp_path / "agentmaint.log"
    link.symlink_to(target)
    assert main(["run", str(path), "--at", MONDAY, "--log-file", str(link)]) == 2
    err = capsys.readouterr().err
    assert f"--log-file {link} is a symlink; agentmaint never follows one" in err
    assert "Traceback" not in err
    assert target.read_text() == "keep me\n"
    dangling = tmp_path / "dangling.log"
    dangling.symlink_to(tmp_path / "nowhere")
    assert main(["--log-file", str(dangling), "run", str(path), "--at", MONDAY]) == 2
    assert not (tmp_path / "nowhere").exists()  # not created through the link
    capsys.readouterr()


def test_json_logs_carry_the_command_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("environments: 3\n")
    assert main(["run", str(bad), "--log-format", "json"]) == 2
    (line,) = json_lines(capsys.readouterr().err)
    assert (line["level"], line["event"]) == ("error", "error")
    assert "invalid schedule" in str(line["message"]) and line["problems"]


def test_main_leaves_the_logger_as_it_found_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = logging.getLogger("agentmaint")
    before = (list(logger.handlers), logger.level, logger.propagate)
    path = nothing_due_schedule(tmp_path)
    assert main(["run", str(path), "--at", MONDAY, "--log-file", str(tmp_path / "l")]) == 0
    assert (list(logger.handlers), logger.level, logger.propagate) == before
    capsys.readouterr()


def progress(status: TaskStatus, message: str | None) -> Progress:
    result = TaskResult(
        host="h1",
        play="agentmaint | fleet | app",
        task="Update | app",
        status=status,
        message=message,
        start=datetime(2026, 12, 7, tzinfo=UTC),
    )
    return Progress("fleet", "app", "h1", Action.UPDATE, result)


def test_run_log_lines_redact_secrets_and_stay_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = RunLog(["tok-SECRET-1", "pw-SECRET-2"])
    message = "curl https://hooks.example/tok-SECRET-1 failed\nuser:pw-SECRET-2@db " + "x" * 900
    with caplog.at_level(logging.DEBUG, logger="agentmaint"):
        log.task_finished(progress(TaskStatus.FAILED, message))
        log.task_finished(progress(TaskStatus.CHANGED, None))
    failed, changed = caplog.records
    assert failed.levelno == logging.WARNING and changed.levelno == logging.INFO
    text = failed.getMessage()
    assert "SECRET" not in text and "SECRET" not in str(failed.error)  # type: ignore[attr-defined]
    assert "https://hooks.example/*** failed user:***@db" in text
    assert "\n" not in text and len(str(failed.error)) == MAX_ERROR  # type: ignore[attr-defined]
    assert changed.getMessage() == "fleet/app h1: update changed"
    fields = {k: getattr(changed, k) for k in ("event", "environment", "host", "action", "status")}
    assert fields == {
        "event": "task_finished",
        "environment": "fleet",
        "host": "h1",
        "action": "update",
        "status": "changed",
    }


def test_run_log_names_internal_tasks_by_what_they_mean(caplog: pytest.LogCaptureFixture) -> None:
    failed = replace(
        progress(TaskStatus.FAILED, "app: update or health check failed; rolled back"),
        action=None,
    )
    internal = replace(failed, result=replace(failed.result, task="Failed | app"))
    with caplog.at_level(logging.DEBUG, logger="agentmaint"):
        RunLog([]).task_finished(internal)
    (record,) = caplog.records
    assert record.getMessage() == (
        "fleet/app h1: maintenance failed: app: update or health check failed; rolled back"
    )
    assert record.task == "Failed | app"  # type: ignore[attr-defined]  # the raw name, for machines


def test_the_library_adds_no_handler_that_prints() -> None:
    handlers = logging.getLogger("agentmaint").handlers
    assert handlers and all(isinstance(h, logging.NullHandler) for h in handlers)


def test_a_dead_run_recovered_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # its pid is that of a dead controller
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        store.begin_run(
            RunRecord(
                id="dead-1",
                trigger="schedule",
                started=datetime.now(UTC),
                environments=("blue",),
                pid=process.pid,
            )
        )
        with caplog.at_level(logging.INFO, logger="agentmaint"):
            assert [r.id for r in recover_interrupted_runs(store)] == ["dead-1"]
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "run_recovered"]
    assert record.levelno == logging.WARNING
    assert (record.run_id, record.status) == ("dead-1", "interrupted")  # type: ignore[attr-defined]
    assert f"the controller (pid {process.pid}) died" in record.getMessage()


def test_the_library_never_prints() -> None:
    """Outside the CLI, no print() and no write to sys.stdout/sys.stderr: the library logs."""
    package = Path(agentmaint.__file__).parent
    found = []
    for module in sorted(package.rglob("*.py")):
        if "cli" in module.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            if isinstance(node, ast.Name) and node.id == "print":
                found.append(f"{module}:{node.lineno}: print")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in {"stdout", "stderr", "__stdout__", "__stderr__"}
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                found.append(f"{module}:{node.lineno}: sys.{node.attr}")
    assert found == []


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_text_log_lines_wrap_at_words_on_a_narrow_terminal_only(
    terminal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setenv("COLUMNS", "80")
    message = (
        "run 20261206T051147Z-3b69e3 finished: failed in 8s; outcomes: 1 failed, "
        "1 skipped, 4 success; failed hosts: demo-3"
    )
    with CliLog(_build_parser().parse_args(["run", "f"]), stdout_terminal=True):
        logging.getLogger("agentmaint.test").warning(message)
    lines = stream.getvalue().splitlines()
    if terminal:
        assert len(lines) > 1
        assert all(len(line) <= 80 for line in lines)
        assert all(line.startswith("  ") for line in lines[1:])
        assert " ".join(line.strip() for line in lines).endswith(message)
    else:
        assert len(lines) == 1 and lines[0].endswith(message)


def test_wrap_line_keeps_a_long_path_whole() -> None:
    path = "/srv/agentmaint/state/runs/" + "x" * 80
    wrapped = wrap_line(f"artifacts kept in {path} for review", 80).splitlines()
    assert path in wrapped[1]


def test_the_daemon_says_a_skipped_run_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """``skipped: nothing due at ...`` alone, not after the run's own ``nothing due at ...``."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    log = logging.getLogger("agentmaint.test")
    with CliLog(_build_parser().parse_args(["daemon", "f"]), stdout_terminal=False):
        log.info("nothing due at 05:14 UTC", extra={"event": "nothing_due"})
        log.info("skipped: nothing due at 05:14 UTC", extra={"event": "run_skipped"})
    assert [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()] == [
        "skipped: nothing due at 05:14 UTC"
    ]
