"""The databases behind `agentmaint.history.store.HistoryStore`: SQLite or PostgreSQL.

``history.url`` chooses (`agentmaint.history.db.url`); both hold the same schema, upgraded
by the same migrations (`agentmaint.history.db.schema`). Modules:

* `agentmaint.history.db.base`: the `Database` interface the store's queries run on;
* `agentmaint.history.db.url`: parsing ``history.url`` and redacting it for messages;
* `agentmaint.history.db.schema`: the migrations, rendered per engine;
* `agentmaint.history.db.sqlite`, `agentmaint.history.db.postgres`: the two engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentmaint.errors import MissingHistoryError, StoreError
from agentmaint.history.db.base import Database
from agentmaint.history.db.postgres import PostgresDatabase
from agentmaint.history.db.sqlite import SqliteDatabase, integrity_problems, is_sqlite_file
from agentmaint.history.db.url import PostgresLocation, parse_history_url

__all__ = [
    "Database",
    "IntegrityReport",
    "check_database",
    "check_sqlite_file",
    "is_sqlite_file",
    "open_database",
]


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """What `check_database` found: `problems` is empty when the history is sound."""

    #: The database: a file path, or a URL without its password.
    location: str
    #: What was checked, in words.
    checked: str
    #: Everything wrong, one line each.
    problems: tuple[str, ...]
    #: False when there is no history there yet (nothing to check, nothing wrong).
    exists: bool = True

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems


def open_database(url: str | None, state_dir: Path, *, readonly: bool = False) -> Database:
    """Connect to (and migrate) the history database `url` names; None: the default file.

    Raises `StoreError` for an unsupported or malformed URL, an unreachable server,
    refused authentication, a missing driver, or a database that is not a history of
    a supported version; no message contains a password. `readonly` creates, migrates
    and writes nothing: `MissingHistoryError` for a history never created, `StoreError`
    for an older schema.
    """
    location = parse_history_url(url, state_dir)
    if isinstance(location, PostgresLocation):
        return PostgresDatabase(location, readonly=readonly)  # psycopg is imported only now
    return SqliteDatabase(location.path, readonly=readonly)


#: What the SQLite check covers.
SQLITE_CHECK = (
    "PRAGMA integrity_check (every page, b-tree, index and NOT NULL constraint) and that "
    "the file is an agentmaint history"
)
#: What the PostgreSQL check covers (the server guards its own pages).
POSTGRES_CHECK = (
    "the schema is an agentmaint history of this version and every table reads in full; "
    "the pages themselves are the server's (data checksums, amcheck)"
)


def check_database(url: str | None, state_dir: Path) -> IntegrityReport:
    """Check the history `url` names (None: the default file) in full, changing nothing.

    Raises `StoreError` for a malformed ``history.url``; everything else wrong (an
    unreachable server included) is a problem of the report.
    """
    location = parse_history_url(url, state_dir)
    if isinstance(location, PostgresLocation):
        return _check_postgres(location)
    return check_sqlite_file(location.path)


def check_sqlite_file(path: Path) -> IntegrityReport:
    """The full check of the SQLite history file `path` (e.g. a backup before restoring it)."""
    if not path.exists():
        return IntegrityReport(str(path), SQLITE_CHECK, (), exists=False)
    return IntegrityReport(str(path), SQLITE_CHECK, tuple(integrity_problems(path)))


def _check_postgres(location: PostgresLocation) -> IntegrityReport:
    try:
        database = PostgresDatabase(location, readonly=True)
    except MissingHistoryError:
        return IntegrityReport(location.redacted, POSTGRES_CHECK, (), exists=False)
    except StoreError as exc:  # unreachable, foreign, another version: all say what is wrong
        return IntegrityReport(location.redacted, POSTGRES_CHECK, (str(exc),))
    try:
        problems = database.check()
    finally:
        database.close()
    return IntegrityReport(location.redacted, POSTGRES_CHECK, tuple(problems))
