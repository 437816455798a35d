"""``agentmaint events --json`` in one orjson call: json's text, or json's own encoding."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.events import ParsedRun
from agentmaint.cli import events
from agentmaint.records import HostCounts, RunStatus, TaskResult, TaskStatus

START = datetime(2026, 12, 6, 16, 0, 0, 123456, tzinfo=UTC)


class Text(str):
    """A subclass of str: json writes its text, orjson is told to refuse it."""


class Time(datetime):
    """A subclass of datetime: its ``isoformat`` could be anything."""


def _run(*results: TaskResult, warnings: tuple[str, ...] = (), host: str = "h1") -> ParsedRun:
    return ParsedRun(
        status=RunStatus.FAILED,
        rc=2,
        results=results,
        counts={host: HostCounts(ok=1, failures=1)},
        stats=None,
        error="ERROR! no",
        warnings=warnings,
    )


def _result(**fields: Any) -> TaskResult:
    base: dict[str, Any] = {
        "host": "h1",
        "play": "play",
        "task": 'a "quoted" },\n task',
        "status": TaskStatus.FAILED,
        "role": None,
        "module": "ansible.builtin.command",
        "start": START,
        "end": START,
        "duration": 0.25,
        "rc": 1,
        "message": "failed",
    }
    return TaskResult(**(base | fields))


PLAIN = [
    _run(),
    _run(_result(), _result(duration=None, rc=None, message=None, start=None, end=None)),
    _run(_result(duration=0.0), _result(duration=-0.0), _result(duration=1e-4)),
    _run(_result(duration=1e16, rc=2**64 - 1), _result(duration=1.5e300, rc=-(2**63))),
    _run(_result(task='a\x00\x1f\b\f\n\r\t\\"/~')),
    _run(_result(start=datetime(2026, 1, 2, 3, 4, 5), end=None), _result(start=None)),
    _run(_result(start=datetime(1000, 1, 1), end=datetime(9999, 12, 31, 23, 59, 59, 1, UTC))),
]
# each of what orjson would write otherwise, in an otherwise plain run
UNUSUAL = [
    _run(_result(), _result(duration=float("nan"))),
    _run(_result(duration=float("inf"))),
    _run(_result(duration=float("-inf"))),
    _run(_result(duration=1e-5), _result(duration=1.0)),
    _run(_result(duration=-9.9e-5)),
    _run(_result(duration=1e308), _result(duration=1e308)),  # plain, but summed beyond
    _run(_result(rc=2**64)),
    _run(_result(rc=-(2**63) - 1)),
    _run(_result(message="ünï")),
    _run(_result(play="del \x7f")),
    _run(_result(message="\u2028 \ud83d\ude00")),
    _run(warnings=("wärning",)),
    _run(host="höst"),
    _run(_result(message=Text("a subclass"))),
    _run(_result(), _result(end=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))),
    _run(_result(start=datetime(999, 12, 31))),
    _run(_result(start=Time(2026, 1, 1))),
]


def _printed(
    parsed: ParsedRun, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setattr(events, "read_artifact_dir", lambda path: parsed)
    assert events.print_events_json(argparse.Namespace(artifact_dir=Path("x"))) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("parsed", PLAIN)
def test_plain_runs_are_written_by_orjson_as_json_writes_them(
    parsed: ParsedRun, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = parsed.to_dict()
    assert events._orjson_text(parsed) is not None
    assert _printed(parsed, capsys, monkeypatch) == json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize("parsed", UNUSUAL)
def test_unusual_runs_are_left_to_json(
    parsed: ParsedRun, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = parsed.to_dict()
    assert events._orjson_text(parsed) is None
    assert _printed(parsed, capsys, monkeypatch) == json.dumps(data, indent=2) + "\n"
