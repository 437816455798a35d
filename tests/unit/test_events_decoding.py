"""Decoding event files: orjson where it reads like ``json.loads``, ``json.loads`` elsewhere."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.events import EventParser, read_artifact_dir
from agentmaint.ansible.events.artifacts import _load_json


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types throughout (1 is not 1.0; NaN is NaN; -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(map(_same, a, b))
    if type(a) is float:
        return str(a) == str(b)
    return bool(a == b)


FILES = [
    b'{"event": "runner_on_ok", "counter": 3, "event_data": {"res": {"x": 0.1}}}',
    # what Python's json.dumps writes for a module's NaN or infinite float
    b'{"res": {"value": NaN, "top": Infinity, "low": -Infinity}}',
    # integers beyond 64 bits (orjson would read them as floats), and at the edges
    b'{"res": {"big": 123456789012345678901234567890, "neg": -9223372036854775809}}',
    b'{"res": {"max": 18446744073709551615, "min": -9223372036854775808}}',
    b'{"res": {"stdout": "id 1234567890123456789012345"}}',  # digits in a string: same
    b'{"res": {"f": 1e400, "g": -1e400, "h": 1e-400, "i": -0.0}}',
    b'{"res": {"s": "\\ud800 lone surrogate"}}',
    b'\xef\xbb\xbf{"bom": true}',
    '{"utf16": "\u00fc"}'.encode("utf-16"),
    b' \n{"padded": 1}\r\n\t',
    b'{"a": 1, "a": 2}',
    b'{"res": {"text": "\xc3\xbcn\xc3\xaf \xe2\x80\xa8"}}',
]


@pytest.mark.parametrize("data", FILES)
def test_decoded_like_json_loads(data: bytes) -> None:
    assert _same(_load_json(data), json.loads(data))


@pytest.mark.parametrize(
    "data", [b"", b"{", b'{"a": 1} trailing', b'{"a": 1,}', b'"\xff"', b"[" * 2000 + b"]" * 2000]
)
def test_refused_like_json_loads(data: bytes) -> None:
    with pytest.raises((ValueError, RecursionError)) as expected:
        json.loads(data)
    with pytest.raises(expected.type):
        _load_json(data)


def test_big_integers_stay_integers() -> None:
    value = _load_json(b'{"n": 123456789012345678901234567890}')
    assert value == {"n": 123456789012345678901234567890}
    assert type(value["n"]) is int
    assert math.isnan(_load_json(b"[NaN]")[0])


BIG = 123456789012345678901234567890  # beyond 64 bits: orjson alone would read a float


def _event(counter: Any, kind: str, **data: Any) -> dict[str, Any]:
    base = {"play_uuid": "p", "task_uuid": "t", "host": "h", "play": "play", "task": "task"}
    return {"counter": counter, "event": kind, "event_data": {**base, **data}}


# Every kind of event the parser reads, each with long integers: those of results, items and
# the recap are read (`NUMBER_EVENTS`), the others' are not; a counter always is.
LONG_NUMBER_RUN = [
    _event(1, "playbook_on_play_start", big=BIG, uuid="p"),
    _event(2, "playbook_on_task_start", big=BIG, is_conditional=BIG),
    _event(BIG, "runner_on_start", big=BIG),  # a counter beyond 64 bits
    _event(4, "runner_item_on_ok", res={"rc": BIG, "item": BIG}),
    _event(5, "runner_item_on_failed", res={"rc": -BIG, "msg": f"{BIG}"}),
    _event(6, "runner_on_ok", res={"rc": BIG, "changed": False}, duration=1.5),
    _event(7, "runner_on_failed", res={"rc": BIG, "msg": "no"}, ignore_errors=True),
    _event(8, "verbose", big=BIG) | {"stdout": f"ERROR! {BIG}"},
    _event(9, "runner_on_skipped", res={"n": BIG}),
    _event(10, "runner_on_unreachable", res={"unreachable": BIG, "msg": "gone"}),
    _event(11, "playbook_on_stats", ok={"h": BIG}, failures={"h": BIG}, processed={"h": 1}),
]


def test_long_integers_are_read_as_json_reads_them(tmp_path: Path) -> None:
    """The read loop tests for long numbers only where the parser reads numbers: same run."""
    events_dir = tmp_path / "job_events"
    events_dir.mkdir()
    expected = EventParser()
    for place, event in enumerate(LONG_NUMBER_RUN, 1):
        data = json.dumps(event).encode()
        (events_dir / f"{place}-e.json").write_bytes(data)
        expected.feed(json.loads(data))
    parsed = read_artifact_dir(tmp_path)
    assert parsed.to_dict() == expected.finish().to_dict()
    assert parsed.results == expected.finish().results
    # what orjson alone would have changed: the rcs, a counter and the recap's numbers
    assert [result.rc for result in parsed.results][:2] == [BIG, BIG]
    assert parsed.stats is not None
    assert parsed.stats["h"].ok == BIG
