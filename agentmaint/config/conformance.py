"""A quick yes or no to "is this schedule document valid?", without loading jsonschema.

Loading jsonschema (with attrs, referencing and the metaschemas) and building its
validator cost about 0.1 s of every ``agentmaint`` command that reads a schedule, and
nearly every schedule is valid. `conforms` answers for a valid document alone, with
the keywords the bundled schema uses, the way jsonschema's draft 2020-12 validator
reads them; `agentmaint.config.validation` asks jsonschema only when the answer is not
a plain yes, for every problem with its path and message.

The answer is True (valid), False (not valid: jsonschema explains) or None when the
schema holds a keyword this module does not know (jsonschema decides): a keyword added
to the schema can never be skipped here. The test suite checks that both agree on every
schedule it holds and on mutations of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["conforms"]

#: Keywords that only describe: nothing to check.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "default",
        "examples",
        "x-error",
        "x-hint",
        "x-secret",
    }
)


class _Unknown(Exception):
    """The schema holds a keyword (or a `$ref`) this module does not check."""


def conforms(schema: Mapping[str, Any], document: Any) -> bool | None:
    """Whether `document` satisfies `schema`; None when only jsonschema can tell."""
    try:
        return _valid(schema, document, schema)
    except _Unknown:
        return None


def _valid(schema: Any, instance: Any, root: Mapping[str, Any]) -> bool:  # noqa: PLR0912 -- one branch per keyword
    if schema is True:
        return True
    if schema is False:
        return False
    if not isinstance(schema, dict):
        raise _Unknown
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            if not _valid(_resolve(rule, root), instance, root):
                return False
        elif keyword == "type":
            names = [rule] if isinstance(rule, str) else rule
            if not any(_is_type(instance, name) for name in names):
                return False
        elif keyword in _APPLICATORS:
            if not _APPLICATORS[keyword](schema, rule, instance, root):
                return False
        elif keyword in _ASSERTIONS:
            kind, check = _ASSERTIONS[keyword]
            if _is_type(instance, kind) and not check(rule, instance):
                return False
        else:
            raise _Unknown(keyword)
    return True


def _resolve(ref: Any, root: Mapping[str, Any]) -> Any:
    """A local reference (``#/$defs/name``); any other is for jsonschema."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise _Unknown(ref)
    target: Any = root
    for escaped in ref[2:].split("/"):
        part = escaped.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            raise _Unknown(ref)
        target = target[part]
    return target


def _is_type(instance: Any, name: str) -> bool:
    """Jsonschema's type checker: a bool is no number, 1.0 is an integer."""
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "string":
        return isinstance(instance, str)
    if name == "boolean":
        return isinstance(instance, bool)
    if name == "null":
        return instance is None
    if isinstance(instance, bool):
        return False
    if name == "number":
        return isinstance(instance, int | float)
    if name == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    raise _Unknown(name)


def _equal(one: Any, two: Any) -> bool:
    """Jsonschema's equality (enum, const, uniqueItems): True is not 1, 1 is 1.0."""
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, bool) != isinstance(two, bool):
        return False
    return bool(one == two)


def _unique(items: list[Any]) -> bool:
    return not any(_equal(a, b) for i, a in enumerate(items) for b in items[i + 1 :])


# -- keywords that apply subschemas (schema, rule, instance, root) -> valid ----------------------


def _properties(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    return all(_valid(sub, instance[key], root) for key, sub in rule.items() if key in instance)


def _additional(schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    if not isinstance(instance, dict):
        return True
    if "patternProperties" in schema:
        raise _Unknown("patternProperties")
    known = schema.get("properties", {})
    return all(_valid(rule, value, root) for key, value in instance.items() if key not in known)


def _items(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    if not isinstance(instance, list):
        return True
    if not isinstance(rule, dict | bool):
        raise _Unknown("items")
    return all(_valid(rule, item, root) for item in instance)


def _property_names(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(_valid(rule, key, root) for key in instance)


def _one_of(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    return sum(1 for sub in rule if _valid(sub, instance, root)) == 1


def _any_of(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    return any(_valid(sub, instance, root) for sub in rule)


def _all_of(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    return all(_valid(sub, instance, root) for sub in rule)


def _not(_schema: Any, rule: Any, instance: Any, root: Mapping[str, Any]) -> bool:
    return not _valid(rule, instance, root)


def _required(_schema: Any, rule: Any, instance: Any, _root: Mapping[str, Any]) -> bool:
    return not isinstance(instance, dict) or all(key in instance for key in rule)


def _enum(_schema: Any, rule: Any, instance: Any, _root: Mapping[str, Any]) -> bool:
    return any(_equal(instance, choice) for choice in rule)


def _const(_schema: Any, rule: Any, instance: Any, _root: Mapping[str, Any]) -> bool:
    return _equal(instance, rule)


_APPLICATORS = {
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "propertyNames": _property_names,
    "oneOf": _one_of,
    "anyOf": _any_of,
    "allOf": _all_of,
    "not": _not,
    "required": _required,
    "enum": _enum,
    "const": _const,
}

# -- keywords that check one kind of value: (the type they apply to, check) -----------------------

_ASSERTIONS: dict[str, tuple[str, Any]] = {
    "pattern": ("string", lambda rule, text: re.search(rule, text) is not None),
    "minLength": ("string", lambda rule, text: len(text) >= rule),
    "maxLength": ("string", lambda rule, text: len(text) <= rule),
    # Each bound fails only where jsonschema's fails (``number < rule`` for minimum...), so a
    # NaN, which every comparison calls false, passes both as it passes jsonschema.
    "minimum": ("number", lambda rule, number: not number < rule),
    "maximum": ("number", lambda rule, number: not number > rule),
    "exclusiveMinimum": ("number", lambda rule, number: not number <= rule),
    "exclusiveMaximum": ("number", lambda rule, number: not number >= rule),
    "minItems": ("array", lambda rule, items: len(items) >= rule),
    "maxItems": ("array", lambda rule, items: len(items) <= rule),
    "uniqueItems": ("array", lambda rule, items: not rule or _unique(items)),
    "minProperties": ("object", lambda rule, mapping: len(mapping) >= rule),
    "maxProperties": ("object", lambda rule, mapping: len(mapping) <= rule),
}
