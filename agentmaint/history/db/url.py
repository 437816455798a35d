"""``history.url``: which database holds the history, and how to show its URL safely.

Accepted forms:

``sqlite:///relative/path`` (or no URL at all)
    The embedded SQLite file; a relative path is relative to the state directory
    (default ``<state_dir>/history.sqlite3``).
``sqlite:////absolute/path``
    The same with an absolute path.
``postgresql://user:password@host:port/database`` (or ``postgres://``)
    A PostgreSQL database, passed to libpq as it is (query parameters such as
    ``sslmode=require`` included; a password may also come from ``PGPASSWORD`` or
    ``~/.pgpass``).

A URL may hold a password: `redact_url` gives the form to show in messages
(``postgresql://user:***@host:port/database``); nothing else here ever renders one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from agentmaint.config.secret import MASK, Secret, redact
from agentmaint.errors import StoreError

__all__ = [
    "DB_NAME",
    "PostgresLocation",
    "SqliteLocation",
    "is_postgres_url",
    "parse_history_url",
    "redact_url",
    "scrub",
]

#: The SQLite database's file name inside a state directory (the default location).
DB_NAME = "history.sqlite3"

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
#: Query parameters of a libpq URI whose values are secret.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True, slots=True)
class SqliteLocation:
    """The history in a SQLite file."""

    path: Path


@dataclass(frozen=True, slots=True)
class PostgresLocation:
    """The history in a PostgreSQL database: the URL (secret) and its redacted form."""

    url: Secret
    redacted: str

    def __repr__(self) -> str:
        """Shows only the redacted URL."""
        return f"PostgresLocation({self.redacted!r})"


def is_postgres_url(url: str | None) -> bool:
    """Whether `url` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    if not url:
        return False
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in _POSTGRES_SCHEMES


def parse_history_url(url: str | None, state_dir: Path) -> SqliteLocation | PostgresLocation:
    """Where the history of `state_dir` lives, from ``history.url`` (None: the default file).

    Raises `StoreError` (naming only the redacted URL) for any other form.
    """
    if url is None or url == "":
        return SqliteLocation(Path(state_dir) / DB_NAME)
    if is_postgres_url(url):
        redacted = redact_url(url)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- validates the port (raises ValueError)
        except ValueError as exc:
            raise StoreError(f"history URL {redacted}: not a valid URL ({exc})") from None
        if parts.fragment:
            raise StoreError(f"history URL {redacted}: a URL fragment (#...) is not allowed")
        return PostgresLocation(Secret(url), redacted)
    if url.startswith(_SQLITE_PREFIX):
        rest = url[len(_SQLITE_PREFIX) :]
        if "?" in rest or "#" in rest:
            raise StoreError(f"history URL {url}: a sqlite URL takes no query or fragment")
        if not rest or rest == "/" or rest.endswith("/"):
            raise StoreError(f"history URL {url}: names no database file")
        path = Path(rest)  # "/abs" (from sqlite:////abs) or "relative"
        return SqliteLocation(path if path.is_absolute() else Path(state_dir) / path)
    shown = redact_url(url)
    raise StoreError(
        f"history URL {shown}: unsupported; use sqlite:///relative/path, "
        "sqlite:////absolute/path or postgresql://user:password@host:port/database"
    )


def redact_url(url: str) -> str:
    """`url` with its password (and secret query parameters) replaced by ``***``.

    ``postgresql://user:pw@host/db`` -> ``postgresql://user:***@host/db``. Text that is
    not a URL is replaced entirely (it could be anything, a password included).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.replace("+", "").isalnum():
        return MASK
    # The authority ends at the first "/", "?" or "#"; the password is the part of its
    # userinfo (before the last "@") after the first ":".
    end = len(rest)
    for stop in "/?#":
        index = rest.find(stop)
        if index != -1:
            end = min(end, index)
    authority, tail = rest[:end], rest[end:]
    userinfo, at, hosts = authority.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        authority = f"{user}:{MASK}@{hosts}" if colon else f"{user}@{hosts}"
    path, qmark, query = tail.partition("?")
    query, _hash, _fragment = query.partition("#")
    path = path.partition("#")[0]
    if qmark:
        pairs = []
        for key, value in parse_qsl(query, keep_blank_values=True):
            pairs.append(f"{key}={MASK if key.lower() in _SECRET_PARAMETERS else value}")
        path += "?" + "&".join(pairs)
    return f"{scheme}://{authority}{path}"


def scrub(text: str, url: str) -> str:
    """`text` (e.g. a driver's error message) without any secret part of `url`.

    libpq echoes parts of a URL it cannot parse (a password included) in its errors.
    """
    secrets = [url]
    authority = url.partition("://")[2]
    for stop in "/?#":
        authority = authority.partition(stop)[0]
    userinfo, at, _hosts = authority.rpartition("@")
    if at and ":" in userinfo:
        secrets.append(userinfo.partition(":")[2])
    query = url.partition("?")[2].partition("#")[0]
    for part in query.split("&"):
        key, _eq, value = part.partition("=")
        if unquote(key).lower() in _SECRET_PARAMETERS:
            secrets.append(value)
    values = {value for raw in secrets if raw for value in (raw, unquote(raw))}
    return redact(text, [Secret(value) for value in values])
