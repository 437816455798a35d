"""Check a schedule document against the bundled JSON Schema (draft 2020-12).

Every violation becomes a `Problem` with the path of the offending value and a
message written for operators (``'25:00' is not a valid HH:MM time``,
``unknown key 'frequncy' (did you mean 'frequency'?)``), not jsonschema's
internal wording.

jsonschema is loaded only for a document `agentmaint.config.conformance` does not find
valid (loading it and building its validator cost about 0.1 s of every command).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from agentmaint.config.conformance import conforms
from agentmaint.config.suggest import closest, did_you_mean
from agentmaint.errors import Problem, format_path

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_JSON_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


@cache
def schedule_schema() -> dict[str, Any]:
    """The JSON Schema of schedule files, as shipped in the package."""
    text = resources.files("agentmaint").joinpath("schema/schedule.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    # The bundled schema is checked against the metaschema by the test suite, not on
    # every start (that check costs as much as validating a schedule).
    from jsonschema import Draft202012Validator  # noqa: PLC0415 -- see the module's doc

    return Draft202012Validator(schedule_schema())


def schema_problems(document: Any) -> list[Problem]:
    """Every schema violation of `document`, ordered by path."""
    if conforms(schedule_schema(), document):
        return []
    errors = list(_validator().iter_errors(document))
    # A mistyped key is one mistake: its "unknown key (did you mean 'frequency'?)" says
    # it all, so the key it was meant to be is not also reported missing.
    meant = {meant for error in errors for meant in _meant_keys(error)}
    problems: list[Problem] = []
    for error in errors:
        if error.validator == "required" and isinstance(error.instance, dict):
            at = tuple(error.absolute_path)
            if all(
                (at, key) in meant for key in error.validator_value if key not in error.instance
            ):
                continue
        problems.extend(_explain(error))
    return sorted(set(problems), key=lambda p: (p.path, p.message))


def _meant_keys(error: ValidationError) -> Iterator[tuple[tuple[Any, ...], str]]:
    """(mapping's path, key) for each unknown key of `error` that is close to a known one."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = sorted(schema.get("properties", {}))
    for key in set(error.instance) - set(known):
        match = closest(key, known)
        if match is not None and match not in error.instance:
            yield tuple(error.absolute_path), match


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _explain(error: ValidationError) -> Iterator[Problem]:  # noqa: PLR0912 - one branch per keyword
    path = list(error.absolute_path)
    where = format_path(path)
    keyword = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    rule: Any = error.validator_value
    if "propertyNames" in error.schema_path:
        # jsonschema reports a bad key at its parent's path; name the key itself.
        message = schema.get("x-error") or error.message
        yield Problem(format_path([*path, str(instance)]), f"key {_short(instance)} {message}")
        return
    if keyword == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        for key in sorted(set(instance) - set(known)):
            suffix = (did_you_mean(key, known) or f" (known: {', '.join(known)})") if known else ""
            yield Problem(format_path([*path, key]), f"unknown key{suffix}")
        return
    if keyword == "required":
        missing = [key for key in rule if key not in instance]
        for key in missing:
            yield Problem(format_path([*path, key]), "is required")
        return
    if keyword == "type":
        names = [rule] if isinstance(rule, str) else list(rule)
        expected = " or ".join(_JSON_TYPES.get(name, name) for name in names)
        yield Problem(where, f"expected {expected}, got {_type_name(instance)}")
        return
    advice = f" ({schema['x-hint']})" if "x-hint" in schema else ""
    if keyword == "pattern" and isinstance(instance, str) and not instance.strip():
        # A blank value gets one plain message, whatever else its pattern demands.
        yield Problem(where, "must not be empty" if not instance else "must not be blank")
        return
    if keyword in {"pattern", "format", "not", "oneOf", "anyOf"} and "x-error" in schema:
        yield Problem(where, f"{_short(instance)} {schema['x-error']}")
        return
    if keyword == "minProperties":
        yield Problem(where, "must not be empty")
        return
    if keyword == "minItems":
        yield Problem(where, f"must not be an empty list{advice}")
        return
    if keyword == "uniqueItems" and isinstance(instance, list):
        seen: list[Any] = []
        for item in instance:
            if item in seen:
                yield Problem(where, f"lists {_short(item)} more than once")
            seen.append(item)
        return
    if keyword == "minLength":
        yield Problem(
            where, "must not be empty" if instance == "" else f"{_short(instance)} is too short"
        )
        return
    if keyword in {"minimum", "maximum"}:
        bound = "at least" if keyword == "minimum" else "at most"
        yield Problem(where, f"{_short(instance)} must be {bound} {rule}{advice}")
        return
    if keyword == "enum" and isinstance(instance, str) and isinstance(rule, list):
        # A mistyped role (or other choice) names the choice it resembles.
        choices = [choice for choice in rule if isinstance(choice, str)]
        yield Problem(where, error.message + did_you_mean(instance, choices))
        return
    yield Problem(where, error.message)
