"""The CLI's JSON printing: the same text as ``json.dumps(data, indent=2)``, faster."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    [{"a": [1]}, {"b": {"c": 2}}],  # nested values: not flat
    [{1: "int key"}],  # json turns the key into text
    {"outer": [[{"a": 1}, {"b": "x"}], [{"c": None}]]},
    [1, "two", None, [3, [4, {}]]],
]


@pytest.mark.parametrize("data", CASES)
def test_print_json_matches_json_dumps_indent_2(
    data: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _print_json(data)
    assert capsys.readouterr().out == json.dumps(data, indent=2) + "\n"
