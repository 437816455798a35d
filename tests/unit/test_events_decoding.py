"""Decoding event files: orjson where it reads like ``json.loads``, ``json.loads`` elsewhere."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

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
