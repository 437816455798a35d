"""The written-out fast paths of reading and printing events give what the plain code gives."""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agentmaint.ansible.events import EventParser, read_artifact_dir
from agentmaint.ansible.events.artifacts import _READ_SIZE, _event_file_names
from agentmaint.ansible.events.bookkeeping import _SETTERS, _new_result, _with_status
from agentmaint.ansible.events.model import _isoformats
from agentmaint.records import TaskResult, TaskStatus

# ansible-runner's own test of an event file name (``utils.collect_new_events``)
_RUNNER_EVENT_FILE = re.compile(r"^[0-9]+-.+json$")

NAMES = [
    "1-json",  # nothing between the dash and json
    "1--json",
    "1-a.json",
    "1-a.json\n",  # `$` takes a final line break
    "1-\nb.json",  # `.` does not
    "1-a\n.json",
    "2-aa.json\n\n",
    "\u0661-x.json",  # a digit, but not [0-9]
    "1-x.JSON",
    "-1-x.json",
    "x1-a.json",
    "1a-b.json",
    "1 -b.json",
    "12-abc-partial.json",
    "3-x.jsonx",
    "007-a.json",  # counter 7, after 5 and before 10
    "5-b.json",
    "5-a.json",  # the same counter: name order
    "10-a.json",
    "99-aaaaajson",
]


def test_event_file_names_are_ansible_runners(tmp_path: Path) -> None:
    for name in NAMES:
        (tmp_path / name).touch()
    expected = sorted(
        (name for name in os.listdir(tmp_path) if _RUNNER_EVENT_FILE.match(name)),
        key=lambda name: (int(name.partition("-")[0]), name),
    )
    expected = [name for name in expected if "-partial" not in name]
    assert _event_file_names(tmp_path) == expected
    assert expected[:6] == [
        "1--json",
        "1-a.json",
        "1-a.json\n",
        "5-a.json",
        "5-b.json",
        "007-a.json",
    ]


def test_event_file_names_with_a_counter_each_come_in_counter_order(tmp_path: Path) -> None:
    names = [f"{n}-{letter}.json" for n, letter in zip(range(1, 37), "zyxwvu" * 6, strict=True)]
    for name in reversed(names):
        (tmp_path / name).touch()
    (tmp_path / "2-a-partial.json").touch()
    assert _event_file_names(tmp_path) == names


def test_event_file_names_with_sparse_counters_are_sorted(tmp_path: Path) -> None:
    # counters too far apart to place each name at its counter: sorted instead
    names = ["3-c.json", "40-b.json", "7000000000-a.json"]
    for name in reversed(names):
        (tmp_path / name).touch()
    assert _event_file_names(tmp_path) == names
    # and close enough (from any first counter, with gaps): placed
    names = [f"{n}-x.json" for n in (12, 13, 15, 16, 19)]
    (tmp_path / "placed").mkdir()
    for name in reversed(names):
        (tmp_path / "placed" / name).touch()
    assert _event_file_names(tmp_path / "placed") == names


def test_new_result_is_what_the_dataclass_makes() -> None:
    assert _SETTERS is not None  # else `_new_result` is `TaskResult` itself
    when = datetime(2026, 12, 6, 14, 0, 0, 123, tzinfo=UTC)
    values = ("h", "p", "t", TaskStatus.FAILED, None, "m", when, when, 1.5, 2, "why", "pu", "tu", 9)
    made, expected = _new_result(*values), TaskResult(*values)
    assert type(made) is TaskResult
    assert made == expected
    assert hash(made) == hash(expected)
    assert repr(made) == repr(expected)
    rescued = _with_status(made, TaskStatus.RESCUED)
    assert rescued == TaskResult(*values[:3], TaskStatus.RESCUED, *values[4:])
    with pytest.raises(FrozenInstanceError):
        made.status = TaskStatus.OK  # type: ignore[misc]


def test_big_event_files_are_read_whole(tmp_path: Path) -> None:
    """A file longer than one read (the usual file takes one) is read to its end."""
    events_dir = tmp_path / "job_events"
    events_dir.mkdir()
    stdout = "x" * (2 * _READ_SIZE)
    events = [
        {"event": "playbook_on_play_start", "counter": 1, "event_data": {"play_uuid": "p"}},
        {
            "event": "runner_on_ok",
            "counter": 2,
            "event_data": {
                "host": "h",
                "task": "big",
                "task_uuid": "t",
                "play_uuid": "p",
                "res": {"changed": False, "stdout": stdout},
            },
        },
    ]
    for event in events:
        (events_dir / f"{event['counter']}-u.json").write_text(json.dumps(event))
    size = (events_dir / "2-u.json").stat().st_size
    assert size > _READ_SIZE
    run = read_artifact_dir(tmp_path)
    assert not any("unreadable" in w for w in run.warnings)
    parser = EventParser()
    for event in events:
        parser.feed(event)
    assert run.results == parser.finish().results
    assert run.results[0].message == "..." + stdout[-1000:]


def test_a_result_without_res_has_no_message() -> None:
    parser = EventParser()
    data = {"host": "h", "task": "t", "task_uuid": "t", "play_uuid": "p"}
    for n, res in enumerate(({}, None, {"msg": ""}, {"changed": False}), 1):
        parser.feed(
            {"event": "runner_on_skipped", "counter": n, "event_data": {**data, "res": res}}
        )
    assert [r.message for r in parser.results] == [None] * 4
    assert [r.status for r in parser.results] == [TaskStatus.SKIPPED] * 4


def test_task_times_are_written_as_isoformat_writes_them() -> None:
    rng = random.Random(19)
    values: list[datetime | None] = [
        datetime(
            rng.randint(1000, 9999),
            rng.randint(1, 12),
            rng.randint(1, 28),
            rng.randint(0, 23),
            rng.randint(0, 59),
            rng.randint(0, 59),
            rng.choice([0, 5, 120, 999999, rng.randint(0, 999999)]),
            tzinfo=rng.choice([None, UTC]),
        )
        for _ in range(2000)
    ]
    values[3] = values[500] = None
    values.append(datetime.fromisoformat("2026-11-23T20:35:10.901309Z"))
    assert _isoformats(values) == [None if v is None else v.isoformat() for v in values]


def test_unusual_task_times_are_written_by_isoformat() -> None:
    odd = timezone(timedelta(hours=5, minutes=30, seconds=7))
    for unusual in (datetime(999, 1, 2, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=odd)):
        values = [datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), None, unusual]
        assert _isoformats(values) == [None if v is None else v.isoformat() for v in values]
    assert _isoformats([None, None]) == [None, None]
    assert _isoformats([]) == []
