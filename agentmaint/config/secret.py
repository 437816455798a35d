"""Secret values in schedule files: references, resolution, and redaction.

A secret field (marked ``"x-secret": true`` in the schema) may be written as a
literal, as ``file:/path/to/file`` (the file's content, without its trailing
newline), or with ``${ENV_VAR}`` references (each replaced by the variable's value,
e.g. ``Bearer ${API_TOKEN}``). `resolve` turns such text into a `Secret`, whose
`repr` and `str` are ``***``; only `Secret.reveal` gives the value, at the point of
use. `redact` removes known secret values from any text before it is shown or stored.

A schedule loaded without its secrets (``resolve_secrets=False``, to lint it where
the production secrets are not) holds a `SecretReference` for each reference instead:
its form was checked (`reference_problem`), nothing was read. `SecretResolver`
resolves them later, all at once, reporting each failure at its setting path.

This module imports only `agentmaint.errors`, so any module may import it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote, quote_plus, urlsplit

from agentmaint.errors import Problem, ScheduleError, SecretReferenceError

if TYPE_CHECKING:
    from agentmaint.config.lines import SourceLines

MASK = "***"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FILE_PREFIX = "file:"
_HTTP_SCHEMES = ("http://", "https://")
#: What a URL secret that is not one is told (its value is never shown).
NOT_A_URL = "is not an http:// or https:// URL (value not shown: it is secret)"


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


class SecretReference(Secret):
    """A secret field not resolved yet: its reference as written and its setting path.

    A schedule loaded with ``resolve_secrets=False`` holds these where it would hold a
    resolved `Secret`; `resolve` reads the environment or file (what
    `Schedule.resolve_secrets` does for every reference). `reveal` raises rather than
    read anything behind the caller's back, so that the commands that do not need a
    secret (``validate --no-secrets``, ``render``, ``plan``) never depend on it.
    Like a `Secret` it renders as ``***``: a reference may carry literal parts
    (``https://hooks.example/${KEY}``); `describe` names only where the value comes from.
    """

    __slots__ = ("_check", "_path")

    def __init__(
        self, reference: str, path: str, *, check: Callable[[str], str | None] | None = None
    ) -> None:
        """Keep `reference` (its form already checked) for the setting at `path`.

        `check`: what is wrong with the resolved value (e.g. `http_url_problem`), or None.
        """
        super().__init__(reference)
        self._path = path
        self._check = check

    @property
    def path(self) -> str:
        """The setting's path in the schedule, e.g. ``notification.smtp.password``."""
        return self._path

    def describe(self) -> str:
        """Where the value comes from: ``${SMTP_PASSWORD}`` or ``file:/run/secrets/x``."""
        if self._value.startswith(_FILE_PREFIX):
            return self._value
        return ", ".join(f"${{{name}}}" for name in referenced_variables(self._value))

    def reveal(self) -> str:
        """Refuse: an unresolved reference has no value yet."""
        raise SecretReferenceError(
            f"{self._path}: {self.describe()} was not resolved (load the schedule with "
            "resolve_secrets=True or call Schedule.resolve_secrets() first)"
        )

    def resolve(self, environ: Mapping[str, str] | None = None) -> Secret:
        """The resolved `Secret`; `SecretReferenceError` (naming no value) if it cannot be."""
        secret = resolve(self._value, environ)
        problem = self._check(secret.reveal()) if self._check is not None else None
        if problem is not None:
            raise SecretReferenceError(hidden(problem))
        return secret

    def __eq__(self, other: object) -> bool:
        """Equal to the same reference at the same path (never to a resolved `Secret`)."""
        return (
            isinstance(other, SecretReference)
            and other._value == self._value
            and other._path == self._path
        )

    def __hash__(self) -> int:
        """Hash of the reference and its path."""
        return hash((SecretReference, self._value, self._path))

    def __bool__(self) -> bool:
        """True: a reference is there (resolving it refuses an empty value)."""
        return True


_S = TypeVar("_S", bound=Secret | None)


class SecretResolver:
    """Resolves the `SecretReference`s of a schedule, collecting every failure.

    Each reference is read once (a Slack webhook is both ``slack_webhook`` and a
    channel); a plain `Secret` or None passes through. `raise_problems` raises one
    `ScheduleError` naming each setting path that failed.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        """Resolve from `environ` (default: the process environment)."""
        self._environ = environ
        self._resolved: dict[int, Secret] = {}
        self.problems: list[Problem] = []

    def secret(self, secret: _S) -> _S:
        """`secret` resolved if it is a reference (unchanged, with a problem, if it fails)."""
        if not isinstance(secret, SecretReference):
            return secret
        key = id(secret)
        if key not in self._resolved:
            try:
                self._resolved[key] = secret.resolve(self._environ)
            except SecretReferenceError as exc:
                self.problems.append(Problem(secret.path, str(exc)))
                self._resolved[key] = secret
        return cast(_S, self._resolved[key])

    def raise_problems(self, source: str, lines: SourceLines | None = None) -> None:
        """Raise `ScheduleError` for `source` if any reference failed to resolve.

        `lines`: where the settings are in the file, to give each problem its line.
        """
        if self.problems:
            unique = sorted(set(self.problems), key=lambda p: (p.path, p.message))
            raise ScheduleError(source, lines.locate(unique) if lines else unique)


def is_reference(text: str) -> bool:
    """Whether `text` is a ``file:`` reference or holds ``${ENV_VAR}`` references."""
    return text.startswith(_FILE_PREFIX) or _REFERENCE.search(text) is not None


def reference_problem(text: str) -> str | None:
    """What is wrong with the form of secret `text` (None when it is well formed).

    Checks the form only, reading nothing: a ``file:`` reference names an absolute
    path (``file:/abs/path`` or ``file:~/path``) without ``${...}`` in it (it would
    not be expanded), and every ``${`` starts a ``${NAME}`` reference. A literal,
    even one with a lone ``$`` (``pa$$word``), is well formed. The message never
    quotes the text: it may be a literal secret.
    """
    if text.startswith(_FILE_PREFIX):
        path = text[len(_FILE_PREFIX) :]
        if not path:
            return "file: reference names no file (write file:/absolute/path)"
        if "${" in path:
            return "file: reference has ${...} in its path; it is not expanded there"
        if not path.startswith(("/", "~")):
            return "file: reference needs an absolute path (file:/absolute/path)"
        return None
    start = text.find("${")
    while start != -1:
        if not _REFERENCE.match(text, start):
            return (
                f"malformed reference at character {start + 1}: '${{' must start "
                "${NAME} (NAME: letters, digits and '_', not starting with a digit)"
            )
        start = text.find("${", start + 2)
    return None


def url_problem(text: str) -> str | None:
    """What is wrong with a URL secret's text before resolution (None: nothing known).

    A literal must be an http(s) URL; a reference can only be checked where its
    literal part already names a scheme (``ftp://${HOST}/``); the rest is checked
    when it is resolved.
    """
    if not is_reference(text):
        return None if text.startswith(_HTTP_SCHEMES) else NOT_A_URL
    if text.startswith(_FILE_PREFIX):
        return None
    prefix = text[: text.find("${")]
    if "://" in prefix and not prefix.startswith(_HTTP_SCHEMES):
        return NOT_A_URL
    return None


_HIDDEN = " (value not shown: it is secret)"


def hidden(problem: str) -> str:
    """A problem of a secret value, said without the value."""
    return problem if problem.endswith(_HIDDEN) else problem + _HIDDEN


def http_url_problem(url: str) -> str | None:
    """What makes `url` unusable as an http(s) URL, or None (the message never names it)."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "contains spaces or control characters"
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        return NOT_A_URL
    try:
        port = parts.port
    except ValueError:
        return "has an invalid port: expected 1-65535"
    if port == 0:
        return "has an invalid port: expected 1-65535"
    if not parts.hostname:
        return "names no host"
    return None


_SQLITE_PREFIX = "sqlite:///"


def history_url_problem(url: str) -> str | None:
    """What makes a resolved ``history.url`` unusable, or None; never shows a password.

    The schema checks the scheme as written; this checks the rest once references are
    resolved, by the rules of `agentmaint.history.db.url` (which config cannot import).
    """
    if url.startswith(_SQLITE_PREFIX):
        rest = url[len(_SQLITE_PREFIX) :]
        if "?" in rest or "#" in rest:
            return "a sqlite URL takes no query (?) or fragment (#)"
        if not rest.strip("/") or rest.endswith("/"):
            return (
                "names no database file (use sqlite:///relative/path or sqlite:////absolute/path)"
            )
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        return None  # the schema reported the scheme
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "has an invalid port (expected 1-65535)"
    if parts.fragment:
        return "a PostgreSQL URL takes no fragment (#)"
    return None


def resolve(text: str, environ: Mapping[str, str] | None = None) -> Secret:
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
    """`text` with every secret value (also URL-quoted) replaced by ``***``.

    An unresolved `SecretReference` has no value to remove and is skipped.
    """
    values: set[str] = set()
    for secret in secrets:
        if isinstance(secret, SecretReference):
            continue
        value = secret.reveal()
        if not value:
            continue
        values.update({value, quote(value, safe=""), quote_plus(value), quote(value)})
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
