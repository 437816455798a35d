"""The embedded backend: the history in one SQLite file (the default).

The file is created private (directory 0700, file 0600). The database runs in WAL
mode with a 30 s busy timeout, so any number of readers work while one writer
writes, in the same or other processes; writes take the write lock at their start
(``BEGIN IMMEDIATE``). The schema version is ``PRAGMA user_version``. A file that
is not a SQLite database, is corrupt, or was written by a newer agentmaint is
refused without being touched.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentmaint.errors import MissingHistoryError, StoreError
from agentmaint.history.db.base import (
    Cursor,
    Database,
    Dialect,
    newer_schema_message,
    older_schema_message,
    readonly_message,
)
from agentmaint.history.db.schema import SCHEMA_VERSION, TEMP_TABLES, render

__all__ = ["SQLITE", "SqliteDatabase"]

SQLITE = Dialect(
    name="sqlite",
    tokens={
        "text": "TEXT",
        "int": "INTEGER",
        "real": "REAL",
        "id": "INTEGER PRIMARY KEY",
        "without_rowid": " WITHOUT ROWID",
        "run_seq": "",
    },
    temp="temp.",
    run_order="rowid",
)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 30_000
_CACHE_KIB = 32 * 1024
_WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: Bound parameters per statement, well below SQLite's limit (32766 since 3.32, 999 before).
_MAX_PARAMS = 900


class SqliteDatabase(Database):
    """One connection to a SQLite history file (created when missing)."""

    dialect = SQLITE
    integrity_error = sqlite3.IntegrityError

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        """Open the file (creating it and its directory private when missing) and migrate it.

        Raises `StoreError`, leaving the file untouched, if it is not a SQLite database,
        is corrupt, or was written by a newer agentmaint. `readonly` creates and migrates
        nothing: a missing (or never migrated) file raises `MissingHistoryError`, an older
        schema `StoreError`.
        """
        self.path = Path(path)
        self.location = str(self.path)
        self.url = None
        self.readonly = readonly
        if readonly:
            self._conn = _connect_readonly(self.path)
            return
        _create_private(self.path)
        self._conn = _connect(self.path)
        try:
            self.migrate()
            for statement in TEMP_TABLES:
                self._conn.execute(SQLITE.render(statement))
        except BaseException:
            self._conn.close()
            raise

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one prepared statement for every row."""
        self._conn.executemany(sql, rows)

    def in_list(self, values: Sequence[Any]) -> Iterator[tuple[str, Sequence[Any]]]:
        """``IN (?, ...)`` per chunk of at most 900 values."""
        for start in range(0, len(values), _MAX_PARAMS):
            chunk = values[start : start + _MAX_PARAMS]
            yield f"IN ({', '.join('?' * len(chunk))})", chunk

    @contextmanager
    def writing(self) -> Iterator[Database]:
        """``BEGIN IMMEDIATE``: the write lock from the start (waits up to the busy timeout)."""
        if self.readonly:
            raise StoreError(readonly_message(self.location))
        conn = self._conn
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                yield self
        except sqlite3.Error as exc:
            raise StoreError(f"{self.location}: cannot write the history: {exc}") from exc

    @contextmanager
    def reading(self) -> Iterator[Database]:
        """A deferred transaction: one snapshot for several statements."""
        conn = self._conn
        try:
            conn.execute("BEGIN")
            try:
                yield self
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.location}: cannot read the history: {exc}") from exc

    def schema_version(self) -> int:
        """``PRAGMA user_version``."""
        version: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
        return version

    def migrate(self) -> None:
        """Apply the migrations the file lacks, each in its own transaction.

        An up-to-date database is only read (no write lock), so opening a store never
        waits for a writer.
        """
        if self.readonly:
            raise StoreError(readonly_message(self.location))
        conn, migrations = self._conn, render(SQLITE)
        while True:
            try:
                if self.schema_version() == SCHEMA_VERSION:
                    return
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    version = self.schema_version()
                    if version > SCHEMA_VERSION:
                        raise StoreError(
                            newer_schema_message(self.location, version, SCHEMA_VERSION)
                        )
                    if version == SCHEMA_VERSION:
                        return
                    for statement in migrations[version]:
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {version + 1}")
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{self.location}: cannot migrate the history database: {exc}"
                ) from exc

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()


def _create_private(path: Path) -> None:
    """Create the parent directory (0700) and an empty database file (0600) when missing."""
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            parent.chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the history database: {exc}") from exc
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _check_header(path: Path) -> None:
    """Refuse, without touching it, a non-empty file that does not start like a SQLite database."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the history database: {exc}") from exc
    if header and header != _SQLITE_MAGIC:
        raise StoreError(f"{path}: not a SQLite database (or corrupt); refusing to use it")


def _connect(path: Path) -> sqlite3.Connection:
    """Open a connection, checking the file is a usable database of a known schema version."""
    _check_header(path)
    try:
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the history database: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        # Reading page 1 and the schema fails clearly on a corrupt or foreign file.
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(newer_schema_message(str(path), version, SCHEMA_VERSION))
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Index maintenance on big histories wants more than the default 2 MiB page cache;
        # temporary key tables live in memory; the WAL file is truncated after checkpoints.
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not a usable SQLite database (or corrupt): {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A ``mode=ro`` connection to a history of the current schema; nothing is created."""
    if not path.is_file() or path.stat().st_size == 0:
        # A 0-byte file: created by a store that was never migrated (nothing recorded).
        raise MissingHistoryError(f"{path}: no history yet")
    _check_header(path)
    try:
        conn = sqlite3.connect(
            path.absolute().as_uri() + "?mode=ro",
            uri=True,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=True,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the history database: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(newer_schema_message(str(path), version, SCHEMA_VERSION))
        if version == 0 and tables == 0:
            raise MissingHistoryError(f"{path}: no history yet")
        if version < SCHEMA_VERSION:
            raise StoreError(older_schema_message(str(path), version, SCHEMA_VERSION))
        # Connection settings only (nothing on disk): as a writer's, for the same plans.
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        conn.execute("PRAGMA temp_store = MEMORY")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not a usable SQLite database (or corrupt): {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn
