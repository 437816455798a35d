"""The CLI's JSON printing: the same text as ``json.dumps(data, indent=2)``, faster."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from agentmaint.cli import output
from agentmaint.cli.output import _print_json

TRICKY = 'a "quoted"},\n    {brace}\\ ünï \t'

CASES: list[Any] = [
    {},
    [],
    None,
    "text",
    3,
    1.5,
    {"a": []},
    {"a": {}},
    {"tasks": [{"host": "h1", "rc": 0, "ok": True, "d": 1.25, "m": None}]},
    {
        "status": "failed",
        "warnings": [TRICKY, "two"],
        "hosts": {"h1": {"ok": 1, "changed": 0}},
        "stats": None,
        "tasks": [
            {"host": "h1", "message": TRICKY, "duration": float("nan")},
            {"host": "h}2", "message": "}", "rc": -1, "x": float("inf")},
            {"host": "{", "message": "},\n      {", "rc": 10**30},
        ],
    },
    [{"a": 1}, {}],  # an empty object: not flat
    [{"a": 1}, {"b": 2.5, "c": True, "d": None}],  # flat, of every scalar
    [{"a": 1}, "x"],  # not every item an object
    [{"a": 1}, {2: "x"}],  # a key that is not text, in a later item
    [{"a": "x"}, {"b": (1, 2)}],  # a value that is not a scalar, in a later item
    [{"a": [1]}, {"b": {"c": 2}}],  # nested values: not flat
    [{1: "int key"}],  # json turns the key into text
    {"outer": [[{"a": 1}, {"b": "x"}], [{"c": None}]]},
    [1, "two", None, [3, [4, {}]]],
    # flat lists that orjson writes (ASCII, 64-bit integers, plain floats), at three depths
    [{"h": 'a\x00\x1f\b\f\n\r\t\\"/~', "rc": -(2**63), "n": 2**64 - 1, "f": -0.0}],
    {"tasks": [{"d": 1e-4, "e": 1e16, "f": 1.5e300, "g": 0.1, "z": 0.0, "ok": False}]},
    {"a": {"tasks": [{"d": 123456789.123, "m": None}, {"d": 2.5e15, "m": "x"}]}},
    # each of what orjson writes otherwise, alone in an otherwise plain list
    [{"m": "del \x7f"}, {"m": "x"}],
    {"tasks": [{"m": "ünï"}, {"m": "x"}]},
    {"tasks": [{"m": "\u2028 \ud83d\ude00"}]},
    [{"d": 9.9e-5}, {"d": 1.0}],
    [{"d": 1.2e-6}],
    [{"d": -1e-5}],
    [{"d": float("-inf")}],
    [{"d": float("nan")}],
    [{"n": 2**64}],
    [{"n": -(2**63) - 1}],
    [{"d": 1e308}, {"d": 1e308}, {"d": 0.5}],  # plain floats whose sum is infinite
    [{"d": -0.0}, {"d": -1e-4}, {"d": 5e-324}],
]


@pytest.mark.parametrize("data", CASES)
def test_print_json_matches_json_dumps_indent_2(
    data: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_json(data)
    assert capsys.readouterr().out == json.dumps(data, indent=2) + "\n"


def test_print_json_writes_plain_flat_lists_with_orjson(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list of plain flat objects (the task results) never reaches json's encoder."""

    def refuse(items: Any, level: int) -> str:
        raise AssertionError("json's encoder used")

    monkeypatch.setattr(output, "_flat_objects_json", refuse)
    ascii_tricky = TRICKY.partition("ü")[0]
    data = {"tasks": [{"host": "h1", "rc": 2, "duration": 0.25, "message": ascii_tricky}] * 3}
    _print_json(data)
    assert capsys.readouterr().out == json.dumps(data, indent=2) + "\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "ascii"])
def test_print_json_writes_what_the_text_stream_would(
    encoding: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As bytes to a UTF-8 or ASCII stdout, as text to any other: the same bytes either way."""
    data = CASES[9]
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding)
    stream.write("before\n")  # still buffered as text: it comes first
    monkeypatch.setattr("sys.stdout", stream)
    _print_json(data)
    stream.flush()
    assert raw.getvalue() == ("before\n" + json.dumps(data, indent=2) + "\n").encode(encoding)


def test_print_json_to_a_stream_without_bytes() -> None:
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        _print_json(CASES[9])
    assert text.getvalue() == json.dumps(CASES[9], indent=2) + "\n"
