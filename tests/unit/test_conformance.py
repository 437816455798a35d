"""The quick schema check agrees with jsonschema on every document it answers for."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from agentmaint.config.conformance import conforms
from agentmaint.config.loader import read_document
from agentmaint.config.validation import schedule_schema
from agentmaint.errors import ScheduleError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = schedule_schema()
JSONSCHEMA = Draft202012Validator(SCHEMA)


def _documents() -> list[tuple[str, Any]]:
    """Every schedule file of the repository that loads (valid or not against the schema)."""
    patterns = ("examples/*.y*ml", "tests/data/**/*.y*ml", "examples/*.json", "tests/data/*.json")
    paths = sorted(path for pattern in patterns for path in ROOT.glob(pattern))
    documents = []
    for path in paths:
        try:
            documents.append((str(path.relative_to(ROOT)), read_document(path).data))
        except ScheduleError:
            continue  # not YAML at all: nothing to validate
    return documents


DOCUMENTS = _documents()
EXAMPLE = next(doc for name, doc in DOCUMENTS if name == "examples/schedule.yaml")


def _agree(document: Any) -> None:
    assert conforms(SCHEMA, document) is JSONSCHEMA.is_valid(document), document


def test_the_repository_holds_valid_and_invalid_schedules() -> None:
    verdicts = {JSONSCHEMA.is_valid(document) for _, document in DOCUMENTS}
    assert verdicts == {True, False}


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[n for n, _ in DOCUMENTS])
def test_every_schedule_file(name: str, document: Any) -> None:
    _agree(document)


def test_the_bundled_schema_uses_only_keywords_it_checks() -> None:
    assert conforms(SCHEMA, EXAMPLE) is True


def test_an_unknown_keyword_is_left_to_jsonschema() -> None:
    assert conforms({"type": "string", "format": "date"}, "x") is None
    assert conforms({"$ref": "https://example.com/schema"}, "x") is None
    assert conforms({"properties": {"a": {"if": {}}}}, {"b": 1}) is True  # not reached
    assert conforms({"properties": {"a": {"if": {}}}}, {"a": 1}) is None


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*at, index))


def _replaced(document: Any, at: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    node = changed
    for part in at[:-1]:
        node = node[part]
    node[at[-1]] = value
    return changed


REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    10**6,
    "",
    " ",
    "x",
    "01:00",
    "25:00",
    "weekly",
    "Monday",
    "1h",
    "${HOME}",
    [],
    ["a", "a"],
    [1, True],
    {},
    {"frequncy": "weekly"},
]


@pytest.mark.parametrize(("name", "document"), DOCUMENTS[:: max(1, len(DOCUMENTS) // 6)])
def test_every_value_replaced_deleted_or_joined_by_an_unknown_key(name: str, document: Any) -> None:
    for at in list(_paths(document))[1:]:
        for value in REPLACEMENTS:
            _agree(_replaced(document, at, value))
    for at in _paths(document):
        parent = document
        for part in at:
            parent = parent[part]
        if isinstance(parent, dict):
            for key in list(parent):
                deleted = copy.deepcopy(document)
                node = deleted
                for part in at:
                    node = node[part]
                del node[key]
                _agree(deleted)
            _agree(_replaced(document, (*at, "unknown_key"), 1) if at else {**document, "x": 1})


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(REPLACEMENTS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(list(_paths(EXAMPLE))[1:]), min_size=1, max_size=3),
    st.lists(SCALARS, min_size=3, max_size=3),
)
def test_random_changes_of_the_example(paths: list[tuple[Any, ...]], values: list[Any]) -> None:
    document = EXAMPLE
    for at, value in zip(paths, values, strict=False):
        try:
            document = _replaced(document, at, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the path
    _agree(document)
