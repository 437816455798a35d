"""The bundled roles a component can be maintained with, and checks of their arguments.

A component names its role (``role: os_packages``) and passes arguments in ``vars``
without the role's prefix (``security_only: true`` becomes
``agentmaint_os_packages_security_only``). The arguments are checked against the
role's own ``meta/argument_specs.yml`` when the schedule is loaded, so a typo or a
wrong type is reported as ``components.<name>.vars.<key>: ...`` before any host is
touched, rather than by Ansible in the middle of a run.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

#: The bundled roles, shipped inside the package (a symlink to the repository's roles/).
ROLES_PATH = Path(__file__).resolve().parent.parent / "roles"
#: Component roles: each has a ``main`` (update) and a ``rollback`` entry point.
COMPONENT_ROLES = ("command", "os_packages", "python_deps", "model", "docker")
DEFAULT_ROLE = "command"
#: Role arguments that count something the role keeps, so 0 is refused (the roles assert it).
AT_LEAST_ONE = frozenset({"agentmaint_model_keep", "agentmaint_python_deps_history_keep"})


def role_name(role: str) -> str:
    """The bundled role's directory name: ``os_packages`` -> ``agentmaint_os_packages``."""
    return f"agentmaint_{role}"


def variable(role: str, key: str) -> str:
    """The role variable an unprefixed ``vars`` key sets (a prefixed key is kept)."""
    prefix = f"{role_name(role)}_"
    return key if key.startswith(prefix) else prefix + key


def component_variable(role: str) -> str:
    """The variable that names the component in the role's task names."""
    return variable(role, "component")


@functools.cache
def argument_specs(role: str) -> Mapping[str, Mapping[str, Any]]:
    """The options of every entry point of a bundled role (empty when it has none)."""
    path = ROLES_PATH / role_name(role) / "meta" / "argument_specs.yml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        return {}
    specs = document.get("argument_specs", {}) if isinstance(document, dict) else {}
    return {
        entry: (spec.get("options") or {})
        for entry, spec in specs.items()
        if isinstance(spec, dict)
    }


def _options(role: str) -> dict[str, Mapping[str, Any]]:
    merged: dict[str, Mapping[str, Any]] = {}
    for options in argument_specs(role).values():
        for name, option in options.items():
            merged.setdefault(name, option if isinstance(option, Mapping) else {})
    return merged


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "path": (str,),
    "raw": (object,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}
_TYPE_NAMES = {
    "str": "a string",
    "path": "a path (string)",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
}


def check_vars(role: str, given: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    """Problems with a component's ``vars`` for ``role``: (key or None, message) pairs.

    Checks that every key is an argument of the role (not the component name, which
    agentmaint sets), that its value has the documented type and choice, and that the
    update entry point's required arguments are given.
    """
    options = _options(role)
    own = component_variable(role)
    for key, value in given.items():
        name = variable(role, key)
        if name == own:
            yield key, "is set by agentmaint (the component's name)"
            continue
        option = options.get(name)
        if option is None:
            known = sorted(n.removeprefix(f"{role_name(role)}_") for n in options if n != own)
            hint = difflib.get_close_matches(key, known, n=1)
            suffix = f" (did you mean {hint[0]!r}?)" if hint else f" (known: {', '.join(known)})"
            yield key, f"is not an argument of role {role}{suffix}"
            continue
        yield from ((key, message) for message in _check_value(option, value, name))
    given_names = {variable(role, key) for key in given}
    for name, option in argument_specs(role).get("main", {}).items():
        if isinstance(option, Mapping) and option.get("required") and name not in given_names:
            short = name.removeprefix(f"{role_name(role)}_")
            yield None, f"role {role} needs {short!r}"


def _check_value(option: Mapping[str, Any], value: Any, name: str = "") -> Iterator[str]:
    kind = str(option.get("type", "str"))
    expected = _TYPES.get(kind, (object,))
    wrong = not isinstance(value, expected) or (
        kind in {"int", "float"} and isinstance(value, bool)
    )
    if wrong:
        yield f"expected {_TYPE_NAMES.get(kind, kind)}, got {type(value).__name__}"
        return
    choices = option.get("choices")
    if isinstance(choices, list) and value not in choices:
        yield f"{value!r} is not one of {', '.join(map(repr, choices))}"
    # Every integer argument of the bundled roles is a count or a number of seconds.
    if kind in {"int", "float"} and value < 0:
        yield f"{value!r} must be 0 or more"
    elif kind == "int" and value < 1 and name in AT_LEAST_ONE:
        yield f"{value!r} must be at least 1"
    if kind == "str" and option.get("required") and not value.strip():
        yield "must not be empty"
    if kind == "list" and isinstance(value, list):
        element = option.get("elements")
        if isinstance(element, str):
            for index, item in enumerate(value):
                for message in _check_value({"type": element}, item):
                    yield f"item {index}: {message}"
