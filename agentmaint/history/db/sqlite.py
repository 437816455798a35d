"""The embedded backend: the history in one SQLite file (the default).

The file is created private (directory 0700, file 0600). The database runs in WAL
mode with a 30 s busy timeout, so any number of readers work while one writer
writes, in the same or other processes; writes take the write lock at their start
(``BEGIN IMMEDIATE``). The schema version is ``PRAGMA user_version``.

An agentmaint history is marked with ``PRAGMA application_id`` (`APPLICATION_ID`), set
when agentmaint creates or migrates it; a history of an older agentmaint (a schema
version and a ``runs`` table, no application id) is accepted and marked. A new history
is created complete under a temporary name and linked into place, so a history file
that exists was always an agentmaint history. Refused without being touched, with exit
2 at the CLI:

* a file that is not a SQLite database, or was written by a newer agentmaint;
* another program's database (`foreign_reason`): a foreign application id, or tables
  but no agentmaint schema;
* an empty (0-byte) file: its history is lost, and starting a new one would make every
  host due again;
* a damaged database: ``PRAGMA quick_check`` at every open that may write (``run``,
  ``recover``, ``history import``: before any host is touched), and of the ``runs`` and
  ``host_state`` tables (what plans are made from) at a read-only open, since a full
  check reads the whole file (linear in its size: too slow for every ``plan`` on a big
  history). `integrity_problems` is the full ``PRAGMA integrity_check``
  (``agentmaint history check``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
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

__all__ = [
    "APPLICATION_ID",
    "SQLITE",
    "SqliteDatabase",
    "foreign_reason",
    "integrity_problems",
    "is_sqlite_file",
]

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
#: ``PRAGMA application_id`` of an agentmaint history: "AgMt" as a big-endian int32.
APPLICATION_ID = int.from_bytes(b"AgMt", "big")
#: The tables a read-only open checks (``quick_check``): what plans and recovery read.
_READ_CHECKED_TABLES = ("runs", "host_state")
#: Problems shown in a refusal (``quick_check`` may list up to 100).
_SHOWN_PROBLEMS = 3


class SqliteDatabase(Database):
    """One connection to a SQLite history file (created when missing)."""

    dialect = SQLITE
    integrity_error = sqlite3.IntegrityError

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        """Open the file (creating it and its directory private when missing) and migrate it.

        Raises `StoreError`, leaving the file untouched, if it is not a SQLite database,
        is empty (0 bytes), is another program's database, is damaged (``quick_check``)
        or was written by a newer agentmaint. `readonly` creates and migrates nothing: a
        missing (or never migrated) file raises `MissingHistoryError`, an older schema
        `StoreError`; it checks only the ``runs`` and ``host_state`` tables for damage.
        """
        self.path = Path(path)
        self.location = str(self.path)
        self.url = None
        self.readonly = readonly
        if readonly:
            self._conn = _connect_readonly(self.path)
            return
        if not _exists(self.path):
            _create_history(self.path)
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

    @classmethod
    def _build(cls, path: Path) -> None:
        """Migrate and mark the new, empty file `path` (a history being created), and close it."""
        db = cls.__new__(cls)
        db.path, db.location, db.url, db.readonly = path, str(path), None, False
        db._conn = _connect(path, new=True)
        try:
            db.migrate()
        finally:
            db.close()

    def _marked(self) -> bool:
        application_id: int = self._conn.execute("PRAGMA application_id").fetchone()[0]
        return application_id == APPLICATION_ID

    def migrate(self) -> None:
        """Apply the migrations the file lacks, each in its own transaction.

        An up-to-date database is only read (no write lock), so opening a store never
        waits for a writer. Every migration marks the file as agentmaint's
        (``application_id``), and so does opening an up-to-date history of an older
        agentmaint that did not mark it.
        """
        if self.readonly:
            raise StoreError(readonly_message(self.location))
        conn, migrations = self._conn, render(SQLITE)
        while True:
            try:
                if self.schema_version() == SCHEMA_VERSION and self._marked():
                    return
                with conn:
                    conn.execute("BEGIN IMMEDIATE")
                    version = self.schema_version()
                    if version > SCHEMA_VERSION:
                        raise StoreError(
                            newer_schema_message(self.location, version, SCHEMA_VERSION)
                        )
                    if not self._marked():
                        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    if version == SCHEMA_VERSION:
                        continue
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


def _exists(path: Path) -> bool:
    """Whether something is at `path` (a dangling symlink counts: it is not ours to replace)."""
    return os.path.lexists(path)


def _create_history(path: Path) -> None:
    """Create a new, migrated, marked history at `path` (directory 0700, file 0600).

    The database is built under a temporary name beside `path` and hard-linked into
    place, which fails if anything appeared there meanwhile: a history file is never
    seen half-created (a 0-byte file is refused, not taken for a new history), and of
    two processes creating it at once one wins and the other opens its file.
    """
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            parent.chmod(0o700)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.new-", dir=parent)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the history database: {exc}") from exc
    temporary = Path(name)
    try:
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        SqliteDatabase._build(temporary)
        os.link(temporary, path)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the history database: {exc}") from exc
    finally:
        for leftover in (temporary, *(Path(f"{temporary}{s}") for s in ("-wal", "-shm"))):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def empty_file_message(path: Path) -> str:
    """The refusal of a 0-byte history file."""
    return (
        f"{path}: the history file is empty (0 bytes): its history is lost, and a new one "
        "would make every host due again; refusing to use it (it is left untouched). "
        "Restore it from a backup, or delete it to start a new, empty history"
    )


def foreign_reason(conn: sqlite3.Connection) -> str | None:
    """Why the database of `conn` is not an agentmaint history, or None if it is (or is empty).

    An agentmaint history carries `APPLICATION_ID`; one of an older agentmaint has
    none but a schema version and a ``runs`` table. A database without tables (and no
    foreign application id) is empty: a new history may be created in it.
    """
    application_id: int = conn.execute("PRAGMA application_id").fetchone()[0]
    if application_id == APPLICATION_ID:
        return None
    if application_id != 0:
        return f"its application_id is {application_id:#010x}, not agentmaint's"
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' "
            "ESCAPE '!'"
        )
    }
    if not tables:
        return None if version == 0 else f"it has user_version {version} but no tables"
    if version == 0:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        return f"it has table(s) {shown} but no agentmaint schema version"
    if "runs" not in tables:
        return f"it has user_version {version} but no agentmaint runs table"
    return None


def _refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    reason = foreign_reason(conn)
    if reason is not None:
        raise StoreError(
            f"{path}: not an agentmaint history ({reason}): another program's database? "
            "Refusing to use it; it is left untouched. Point history.url at another file"
        )


def _quick_check(conn: sqlite3.Connection, path: Path, tables: Sequence[str] = ()) -> None:
    """Refuse a damaged database (``PRAGMA quick_check``, of `tables` only if given)."""
    problems: list[str] = []
    for table in tables or (None,):
        pragma = "PRAGMA quick_check" if table is None else f"PRAGMA quick_check({table})"
        try:
            rows = [str(row[0]) for row in conn.execute(pragma)]
        except sqlite3.DatabaseError as exc:  # too damaged to list its problems
            rows = [str(exc)]
        problems += [row for row in rows if row != "ok"]
    if problems:
        raise StoreError(damaged_message(path, problems))


def damaged_message(path: Path, problems: Sequence[str]) -> str:
    """The refusal of a damaged history file."""
    shown = "; ".join(problems[:_SHOWN_PROBLEMS])
    more = (
        f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
    )
    return (
        f"{path}: the history database is damaged ({shown}{more}); refusing to use it, "
        "nothing was run. Move it aside and restore it from a backup (check a copy with "
        f"`agentmaint history check`), or salvage it: sqlite3 {path} .recover"
    )


def integrity_problems(path: Path) -> list[str]:
    """Everything wrong with the SQLite history `path` (empty: it is sound), changing nothing.

    The full ``PRAGMA integrity_check`` (every page, index and constraint), after the
    refusals of an open: not a SQLite database, empty, another program's database.
    """
    if not path.is_file():
        return [f"{path}: not a file"]
    if path.stat().st_size == 0:
        return [empty_file_message(path)]
    try:
        _check_header(path)
        conn = _open_readonly(path)
    except StoreError as exc:
        return [str(exc)]
    try:
        reason = foreign_reason(conn)
        if reason is not None:
            return [f"not an agentmaint history: {reason}"]
        return [str(row[0]) for row in conn.execute("PRAGMA integrity_check") if row[0] != "ok"]
    except sqlite3.DatabaseError as exc:
        return [f"not a usable SQLite database (or corrupt): {exc}"]
    finally:
        conn.close()


def _check_header(path: Path) -> None:
    """Refuse, without touching it, a non-empty file that does not start like a SQLite database."""
    try:
        header = _header(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the history database: {exc}") from exc
    if header and header != _SQLITE_MAGIC:
        raise StoreError(f"{path}: not a SQLite database (or corrupt); refusing to use it")


def _connect(path: Path, *, new: bool = False) -> sqlite3.Connection:
    """Open a connection, checking the file is a usable history of a known schema version.

    `new`: the empty file is a history being created (`_create_history`).
    """
    if not new and path.is_file() and path.stat().st_size == 0:
        raise StoreError(empty_file_message(path))
    _check_header(path)
    try:
        conn = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=True
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the history database: {exc}") from exc
    with _closed_on_failure(conn, path):
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        # Reading page 1 and the schema fails clearly on a corrupt or foreign file.
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if version > SCHEMA_VERSION:
            raise StoreError(newer_schema_message(str(path), version, SCHEMA_VERSION))
        # Before the first write (journal_mode rewrites the header): refused untouched.
        _refuse_foreign(conn, path)
        _quick_check(conn, path)
        conn.execute("PRAGMA journal_mode = WAL").fetchone()
        conn.execute("PRAGMA synchronous = NORMAL")
        # The WAL file is truncated after checkpoints.
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
        _session_settings(conn)
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A ``mode=ro`` connection to a history of the current schema; nothing is created."""
    if not path.is_file():
        raise MissingHistoryError(f"{path}: no history yet")
    if path.stat().st_size == 0:
        # As a writer would: agentmaint never leaves a 0-byte history (it creates one
        # complete), so this one lost its history; reading it as empty would plan every
        # host again.
        raise StoreError(empty_file_message(path))
    _check_header(path)
    conn = _open_readonly(path)
    with _closed_on_failure(conn, path):
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(newer_schema_message(str(path), version, SCHEMA_VERSION))
        _refuse_foreign(conn, path)
        if version == 0 and tables == 0:
            raise MissingHistoryError(f"{path}: no history yet")
        _quick_check(conn, path, _READ_CHECKED_TABLES)
        if version < SCHEMA_VERSION:
            raise StoreError(older_schema_message(str(path), version, SCHEMA_VERSION))
        _session_settings(conn)  # as a writer's, for the same plans
    return conn


@contextlib.contextmanager
def _closed_on_failure(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """Close `conn` if setting it up fails; a SQLite error becomes a `StoreError`."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path}: not a usable SQLite database (or corrupt): {exc}") from exc
    except BaseException:
        conn.close()
        raise


def _session_settings(conn: sqlite3.Connection) -> None:
    """Per-connection settings (nothing on disk), the same for readers and writers.

    Index maintenance on big histories wants more than the default 2 MiB page cache;
    temporary key tables live in memory.
    """
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
    conn.execute("PRAGMA temp_store = MEMORY")


def _open_readonly(path: Path) -> sqlite3.Connection:
    """A ``mode=ro`` connection to `path` (nothing is created or written)."""
    try:
        conn = sqlite3.connect(
            path.absolute().as_uri() + "?mode=ro",
            uri=True,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=True,
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open the history database: {exc}") from exc
    return conn


def is_sqlite_file(path: Path) -> bool:
    """Whether `path` is a file that starts like a SQLite database."""
    try:
        return _header(path) == _SQLITE_MAGIC
    except OSError:
        return False


def _header(path: Path) -> bytes:
    """The first bytes of `path`, as many as SQLite's magic string (fewer if shorter)."""
    with path.open("rb") as handle:
        return handle.read(len(_SQLITE_MAGIC))
