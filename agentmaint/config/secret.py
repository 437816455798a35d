"""Secret values in schedule files: references, resolution, and redaction.

A secret field (marked ``"x-secret": true`` in the schema) may be written as a
literal, as ``file:/path/to/file`` (the file's content, without its trailing
newline), or with ``${ENV_VAR}`` references (each replaced by the variable's value,
e.g. ``Bearer ${API_TOKEN}``). `resolve` turns such text into a `Secret`, whose
`repr` and `str` are ``***``; only `Secret.reveal` gives the value, at the point of
use. `redact` removes known secret values from any text before it is shown or stored.

This module imports only `agentmaint.errors`, so any module may import it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from agentmaint.errors import SecretReferenceError

MASK = "***"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FILE_PREFIX = "file:"


class Secret:
    """A secret string: renders as ``***`` everywhere; `reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Wrap `value`."""
        self._value = value

    def reveal(self) -> str:
        """The secret value itself: pass it only to the code that needs it."""
        return self._value

    def __repr__(self) -> str:
        """Always ``***``."""
        return MASK

    def __str__(self) -> str:
        """Always ``***``."""
        return MASK

    def __format__(self, spec: str) -> str:
        """Always ``***`` (f-strings, `format`)."""
        return MASK

    def __eq__(self, other: object) -> bool:
        """Equal to another `Secret` with the same value (never to a plain string)."""
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        """Hash of the value, so secrets can live in frozen dataclasses."""
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        """False for an empty secret."""
        return bool(self._value)

    def __reduce__(self) -> Any:
        """Refuse to pickle, so a secret never lands in a file by accident."""
        raise TypeError("Secret values cannot be pickled")


def resolve(text: str, environ: dict[str, str] | None = None) -> Secret:
    """Resolve the references in `text` into a `Secret`.

    Raises `SecretReferenceError` for an unset variable or an unreadable or empty
    file; its message names the variable or path, never a value.
    """
    env = os.environ if environ is None else environ
    if text.startswith(_FILE_PREFIX):
        path = Path(text[len(_FILE_PREFIX) :]).expanduser()
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SecretReferenceError(f"cannot read {_FILE_PREFIX}{path} ({reason})") from None
        except UnicodeDecodeError:
            raise SecretReferenceError(f"{_FILE_PREFIX}{path} is not UTF-8 text") from None
        value = content.rstrip("\r\n")
        if not value:
            raise SecretReferenceError(f"{_FILE_PREFIX}{path} is empty")
        return Secret(value)
    missing = [name for name in _REFERENCE.findall(text) if name not in env]
    if missing:
        names = ", ".join(dict.fromkeys(missing))
        raise SecretReferenceError(f"environment variable(s) not set: {names}")
    value = _REFERENCE.sub(lambda m: env[m.group(1)], text)
    if _REFERENCE.search(text) and not value:
        raise SecretReferenceError("the referenced environment variable is empty")
    return Secret(value)


def referenced_variables(text: str) -> tuple[str, ...]:
    """The names of the ``${ENV_VAR}`` references in `text` (none for a ``file:`` reference)."""
    if text.startswith(_FILE_PREFIX):
        return ()
    return tuple(dict.fromkeys(_REFERENCE.findall(text)))


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every secret value (also URL-quoted) replaced by ``***``."""
    values: set[str] = set()
    for secret in secrets:
        value = secret.reveal()
        if not value:
            continue
        values.update({value, quote(value, safe=""), quote_plus(value), quote(value)})
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
