"""What the history store needs from a database, whichever engine holds it.

`HistoryStore` (agentmaint.history.store) writes its queries once, in the SQL that SQLite
and PostgreSQL share, with ``?`` placeholders; a `Database` runs them on one
connection and supplies what differs between the engines:

* `Dialect`: the DDL tokens the schema is rendered with (`agentmaint.history.db.schema`),
  the prefix of temporary tables, the column that orders runs added at the same
  instant;
* transactions: `writing` (one writer at a time, taken at the start) and `reading`
  (one consistent snapshot for several statements);
* `insert_rows` (bulk insert: ``executemany`` in SQLite, ``COPY`` in PostgreSQL) and
  `in_list` (a ``column IN (...)`` filter for any number of values);
* the schema version and the migrations that bring a database up to date, with the
  refusal of a database written by a newer agentmaint or that is not a history;
* a read-only mode (`readonly`) for the read commands: nothing is created, migrated
  or written; a history never created raises `MissingHistoryError`, one of an older
  schema is refused (`older_schema_message`).

Every engine error surfaces as `agentmaint.errors.StoreError`, naming the database by its
``location`` (a path, or a URL without its password).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentmaint.config.secret import Secret

__all__ = [
    "Cursor",
    "Database",
    "Dialect",
    "newer_schema_message",
    "older_schema_message",
    "readonly_message",
]


class Cursor(Protocol):
    """The result of `Database.execute`: rows as tuples."""

    @property
    def rowcount(self) -> int:
        """Rows changed by an INSERT, UPDATE or DELETE."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs in the SQL text between engines.

    `tokens` fill the ``{name}`` fields of the schema's DDL templates (see
    `agentmaint.history.db.schema`); `temp` prefixes the names of temporary tables; `run_order`
    is the column that orders runs with the same start (insertion order).
    """

    name: str
    tokens: Mapping[str, str]
    temp: str
    run_order: str

    def render(self, template: str) -> str:
        """`template` with its ``{token}`` fields filled in for this engine."""
        return template.format_map(self.tokens)


def newer_schema_message(location: str, version: int, supported: int) -> str:
    """The refusal of a database written by a newer agentmaint."""
    return (
        f"{location}: the history database's schema version {version} is newer than this "
        f"agentmaint supports ({supported}); upgrade agentmaint to use it"
    )


def older_schema_message(location: str, version: int, supported: int) -> str:
    """The refusal, by a read-only store, of a database of an older schema."""
    return (
        f"{location}: the history database's schema version {version} is older than this "
        f"agentmaint's ({supported}) and a read command does not upgrade it; run "
        "`agentmaint recover FILE` (or `agentmaint run FILE`) to upgrade it"
    )


def readonly_message(location: str) -> str:
    """The refusal of a write through a store opened read-only."""
    return f"{location}: the history was opened read-only; refusing to write"


class Database(ABC):
    """One connection to the history database; used from one thread only."""

    #: The engine's SQL differences.
    dialect: Dialect
    #: The database for messages: a file path, or a URL with its password redacted.
    location: str
    #: The SQLite file, or None for a server database.
    path: Path | None
    #: The server database's URL (a secret: it may hold a password), or None for SQLite.
    url: Secret | None
    #: The engine's exception for a violated constraint (a duplicate key).
    integrity_error: type[BaseException]
    #: Opened read-only: `writing` and `migrate` raise `StoreError`.
    readonly: bool = False

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each row of parameters (`rows` may be a generator)."""

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert many rows into `table` (`rows` may be a generator, consumed as they go)."""
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    @abstractmethod
    def in_list(self, values: Sequence[Any]) -> Iterator[tuple[str, Sequence[Any]]]:
        """(``IN (?, ...)`` or ``= ANY(?)`` text, its parameters) covering `values`.

        The text follows a column name; run the query once per pair (an engine with
        a limit on parameters yields several pairs).
        """

    @abstractmethod
    def writing(self) -> AbstractContextManager[Database]:
        """A write transaction that holds the engine's write lock from its start."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Database]:
        """A read transaction: one consistent snapshot for several statements."""

    @abstractmethod
    def schema_version(self) -> int:
        """The schema version of the database."""

    @abstractmethod
    def migrate(self) -> None:
        """Apply the migrations (`agentmaint.history.db.schema`) the database lacks.

        Raises `StoreError`, changing nothing, for a database of a newer schema version.
        """

    @abstractmethod
    def close(self) -> None:
        """Close the connection (idempotent)."""
