"""The persistent maintenance history: runs, task results, host counts and roll-ups in SQLite.

One database file, ``<state_dir>/history.sqlite3``, holds everything agentmaint
remembers. Tables (all datetimes are ISO 8601 UTC text of one fixed width,
``2026-11-23T01:30:00.000000Z``, so that text order is time order; enums are
stored as their values):

``runs``
    One row per `RunRecord` (environments and components as JSON lists).
``task_results``
    One row per `TaskResult`, ordered by ``counter``.
``host_counts``
    One row per (run, host) with the `HostCounts` of that host.
``records``
    The seed-shaped `MaintenanceRecord` roll-up, one row per (run, host,
    component, action).
``attempts``
    Derived from ``records``: one row per (run, server, component) that is an
    attempt, with its instant (the latest timestamp of its records) and whether
    it succeeded. It failed if any of its records has status failed or
    unreachable, or is a rollback (whatever its status); it succeeded if it has
    a successful update and did not fail; otherwise (e.g. everything skipped)
    it is not an attempt.
``host_state``
    Derived from ``attempts``: per (server, component), the latest success and
    the latest failure. The planner's question, `HistoryStore.states`, reads
    only this table.
``notifications`` (schema version 2)
    One row per notification delivery of a run: the channel's redacted
    description, the event, delivered or failed, the attempts made, the redacted
    error, and when.

Every child row references its run with ``ON DELETE CASCADE``, so deleting a
run (`HistoryStore.prune`) deletes everything recorded for it.

The schema is versioned with ``PRAGMA user_version`` and upgraded by an ordered
list of migrations when a store is opened; a database written by a newer
agentmaint is refused without being touched.

Concurrency: the database runs in WAL mode with a 30 s busy timeout, so any
number of readers (``agentmaint history``) work while one writer (a run)
writes, in the same or other processes. Writes take the write lock at their
start (``BEGIN IMMEDIATE``). A `HistoryStore` instance wraps one connection
and must be used from one thread only (the thread that opened it); open one
store per thread.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from agentmaint.delivery import Delivery, DeliveryStatus
from agentmaint.errors import AgentmaintError, UsageError
from agentmaint.history import HostComponentState, StateKey
from agentmaint.records import (
    Action,
    HostCounts,
    MaintenanceRecord,
    Outcome,
    RunRecord,
    RunStatus,
    TaskResult,
    TaskStatus,
)
from agentmaint.schedule import NotifyEvent

if TYPE_CHECKING:
    from agentmaint.history import HistoryReader

__all__ = [
    "CSV_COLUMNS",
    "DB_NAME",
    "SCHEMA_VERSION",
    "HistoryStore",
    "StoreError",
    "records_to_json",
    "write_records_csv",
]

#: The database's file name inside a state directory.
DB_NAME = "history.sqlite3"

_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT_MS = 30_000
_CACHE_KIB = 32 * 1024
_WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: Bound parameters per statement, well below SQLite's limit (32766 since 3.32, 999 before).
_MAX_PARAMS = 900

#: The columns of `write_records_csv`, in order.
CSV_COLUMNS = (
    "timestamp",
    "environment",
    "server",
    "component",
    "action",
    "status",
    "error",
    "run_id",
)


class StoreError(AgentmaintError, RuntimeError):
    """The history database cannot be opened, read or written."""


# --------------------------------------------------------------------------- schema

_FAILED_SQL = (
    f"(r.status IN ('{Outcome.FAILED.value}', '{Outcome.UNREACHABLE.value}') "
    f"OR r.action = '{Action.ROLLBACK.value}')"
)
_UPDATED_SQL = f"(r.action = '{Action.UPDATE.value}' AND r.status = '{Outcome.SUCCESS.value}')"

_MIGRATION_1: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id           TEXT PRIMARY KEY NOT NULL,
        trigger      TEXT NOT NULL,
        started      TEXT NOT NULL,
        status       TEXT NOT NULL,
        finished     TEXT,
        runner_rc    INTEGER,
        artifact_dir TEXT,
        pid          INTEGER,
        message      TEXT,
        check_mode   INTEGER NOT NULL DEFAULT 0,
        environments TEXT NOT NULL DEFAULT '[]',
        components   TEXT NOT NULL DEFAULT '[]'
    )
    """,
    "CREATE INDEX runs_started ON runs (started)",
    "CREATE INDEX runs_status_started ON runs (status, started)",
    """
    CREATE TABLE task_results (
        id        INTEGER PRIMARY KEY,
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        counter   INTEGER NOT NULL,
        host      TEXT NOT NULL,
        play      TEXT NOT NULL,
        task      TEXT NOT NULL,
        status    TEXT NOT NULL,
        role      TEXT,
        module    TEXT,
        start     TEXT,
        "end"     TEXT,
        duration  REAL,
        rc        INTEGER,
        message   TEXT,
        play_uuid TEXT,
        task_uuid TEXT
    )
    """,
    "CREATE INDEX task_results_run ON task_results (run_id, counter)",
    """
    CREATE TABLE host_counts (
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        host        TEXT NOT NULL,
        ok          INTEGER NOT NULL,
        changed     INTEGER NOT NULL,
        failures    INTEGER NOT NULL,
        unreachable INTEGER NOT NULL,
        skipped     INTEGER NOT NULL,
        rescued     INTEGER NOT NULL,
        ignored     INTEGER NOT NULL,
        PRIMARY KEY (run_id, host)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE records (
        id          INTEGER PRIMARY KEY,
        run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        timestamp   TEXT NOT NULL,
        environment TEXT NOT NULL,
        server      TEXT NOT NULL,
        component   TEXT NOT NULL,
        action      TEXT NOT NULL,
        status      TEXT NOT NULL,
        error       TEXT
    )
    """,
    # Attempt recomputation and the run_id filter (and the cascade on delete).
    "CREATE INDEX records_run_key ON records (run_id, server, component)",
    # records() ordering (timestamp desc, then id desc: the rowid ends every index entry).
    "CREATE INDEX records_timestamp ON records (timestamp)",
    "CREATE INDEX records_server ON records (server, component, timestamp)",
    "CREATE INDEX records_component ON records (component, timestamp)",
    "CREATE INDEX records_environment ON records (environment, timestamp)",
    """
    CREATE TABLE attempts (
        run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        server    TEXT NOT NULL,
        component TEXT NOT NULL,
        at        TEXT NOT NULL,
        ok        INTEGER NOT NULL,
        PRIMARY KEY (run_id, server, component)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX attempts_key ON attempts (server, component)",
    """
    CREATE TABLE host_state (
        server       TEXT NOT NULL,
        component    TEXT NOT NULL,
        last_success TEXT,
        last_failure TEXT,
        PRIMARY KEY (server, component)
    ) WITHOUT ROWID
    """,
)

# Version 2: notification deliveries (secrets never reach this table: see agentmaint.notify).
_MIGRATION_2 = (
    """
    CREATE TABLE notifications (
        id       INTEGER PRIMARY KEY,
        run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        channel  TEXT NOT NULL,
        event    TEXT NOT NULL,
        status   TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error    TEXT,
        at       TEXT NOT NULL
    )
    """,
    "CREATE INDEX notifications_run ON notifications (run_id, id)",
)

#: Ordered migrations: entry i takes the schema from version i to version i + 1.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (_MIGRATION_1, _MIGRATION_2)

#: The schema version this code writes and understands.
SCHEMA_VERSION = len(_MIGRATIONS)

# Temporary key tables for set-based recomputation (per connection, never on disk).
_TEMP_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS run_keys ("
    "run_id TEXT NOT NULL, server TEXT NOT NULL, component TEXT NOT NULL, "
    "PRIMARY KEY (run_id, server, component)) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS state_keys ("
    "server TEXT NOT NULL, component TEXT NOT NULL, "
    "PRIMARY KEY (server, component)) WITHOUT ROWID",
)

_RUN_COLUMNS = (
    "id, trigger, started, status, finished, runner_rc, artifact_dir, pid, message, "
    "check_mode, environments, components"
)
_TASK_COLUMNS = (
    'counter, host, play, task, status, role, module, start, "end", duration, rc, message, '
    "play_uuid, task_uuid"
)
_COUNT_COLUMNS = "ok, changed, failures, unreachable, skipped, rescued, ignored"
_RECORD_COLUMNS = "timestamp, environment, server, component, action, status, error, run_id"


# --------------------------------------------------------------------------- conversions


def _to_text(instant: datetime) -> str:
    """Fixed-width ISO 8601 UTC text: ``2026-11-23T01:30:00.000000Z``."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise UsageError(f"datetime {instant.isoformat()} must be timezone-aware")
    naive = instant.astimezone(UTC).replace(tzinfo=None)
    return naive.isoformat(timespec="microseconds") + "Z"


def _opt_text(instant: datetime | None) -> str | None:
    return None if instant is None else _to_text(instant)


_STATUS_TEXT = {status: status.value for status in TaskStatus}


def _result_time(instant: datetime) -> str:
    """`_to_text`, faster for the UTC times of task results (a big run has 100,000s)."""
    if instant.tzinfo is UTC:
        return instant.isoformat(timespec="microseconds")[:-6] + "Z"
    return _to_text(instant)


def _from_text(text: str) -> datetime:
    # Always written by `_to_text`, so the "Z" suffix makes it aware UTC.
    return datetime.fromisoformat(text)


def _opt_from_text(text: str | None) -> datetime | None:
    return None if text is None else _from_text(text)


def _run_from_row(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=row[0],
        trigger=row[1],
        started=_from_text(row[2]),
        status=RunStatus(row[3]),
        finished=_opt_from_text(row[4]),
        runner_rc=row[5],
        artifact_dir=None if row[6] is None else Path(row[6]),
        pid=row[7],
        message=row[8],
        check_mode=bool(row[9]),
        environments=tuple(json.loads(row[10])),
        components=tuple(json.loads(row[11])),
    )


def _record_from_row(row: Sequence[Any]) -> MaintenanceRecord:
    return MaintenanceRecord(
        timestamp=_from_text(row[0]),
        environment=row[1],
        server=row[2],
        component=row[3],
        action=Action(row[4]),
        status=Outcome(row[5]),
        error=row[6],
        run_id=row[7],
    )


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- the store


class HistoryStore:
    """The maintenance history in one SQLite file; a `HistoryReader` for the planner.

    Open it with `HistoryStore(path)` or `HistoryStore.open(state_dir)`, and close
    it (or use it as a context manager). One instance serves one thread.
    """

    def __init__(self, path: Path) -> None:
        """Open (creating if needed: directory 0700, file 0600) and migrate the database.

        Raises `StoreError` if the file is not a SQLite database, is corrupt, or
        was written by a newer agentmaint; the file is then left untouched.
        """
        self.path = Path(path)
        _create_private(self.path)
        self._conn = _connect(self.path)
        try:
            _migrate(self._conn, self.path)
            for statement in _TEMP_TABLES:
                self._conn.execute(statement)
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, state_dir: Path) -> HistoryStore:
        """Open the history of a state directory (``state_dir / "history.sqlite3"``)."""
        return cls(Path(state_dir) / DB_NAME)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> HistoryStore:
        """Use as a context manager; closes on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        self.close()

    def __repr__(self) -> str:
        """``HistoryStore('/path/history.sqlite3')``."""
        return f"HistoryStore({str(self.path)!r})"

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self._reading():
            value: int = self._conn.execute("PRAGMA user_version").fetchone()[0]
        return value

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the write lock from its start."""
        conn = self._conn
        try:
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write the history: {exc}") from exc

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for several statements."""
        conn = self._conn
        try:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the history: {exc}") from exc

    # ------------------------------------------------------------------ runs

    def begin_run(self, run: RunRecord) -> None:
        """Record a new run (usually with status running). Its id must be new."""
        row = (
            run.id,
            run.trigger,
            _to_text(run.started),
            RunStatus(run.status).value,
            _opt_text(run.finished),
            run.runner_rc,
            None if run.artifact_dir is None else str(run.artifact_dir),
            run.pid,
            run.message,
            int(run.check_mode),
            json.dumps(list(run.environments)),
            json.dumps(list(run.components)),
        )
        try:
            with self._writing() as conn:
                conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_marks(12)})", row)
        except StoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise StoreError(f"{self.path}: run {run.id!r} is already recorded") from exc
            raise

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        finished: datetime,
        runner_rc: int | None,
        message: str | None = None,
    ) -> None:
        """Record the end of a run; `message`, when given, replaces the run's message."""
        params = (RunStatus(status).value, _to_text(finished), runner_rc, message, run_id)
        with self._writing() as conn:
            cursor = conn.execute(
                "UPDATE runs SET status = ?, finished = ?, runner_rc = ?, "
                "message = COALESCE(?, message) WHERE id = ?",
                params,
            )
            if cursor.rowcount == 0:
                raise StoreError(f"{self.path}: no run {run_id!r} to finish")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return None if row is None else _run_from_row(row)

    def runs(self, *, status: RunStatus | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest (latest start) first, optionally only those with `status`."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(RunStatus(status).value)
        sql += " ORDER BY started DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_run_from_row(row) for row in rows]

    # ------------------------------------------------------------------ task results and counts

    def add_task_results(self, run_id: str, results: Iterable[TaskResult]) -> None:
        """Append task results to a run (may be called several times).

        One transaction and one prepared statement for all of them; `results` may be a
        generator, consumed as the rows are inserted (nothing is copied first).
        """
        statuses = _STATUS_TEXT
        rows = (
            (
                run_id,
                r.counter,
                r.host,
                r.play,
                r.task,
                statuses.get(r.status) or TaskStatus(r.status).value,
                r.role,
                r.module,
                None if r.start is None else _result_time(r.start),
                None if r.end is None else _result_time(r.end),
                r.duration,
                r.rc,
                r.message,
                r.play_uuid,
                r.task_uuid,
            )
            for r in results
        )
        with self._writing() as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                f"INSERT INTO task_results (run_id, {_TASK_COLUMNS}) VALUES ({_marks(15)})", rows
            )

    def task_results(self, run_id: str) -> list[TaskResult]:
        """The task results of a run, in counter order (then insertion order)."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_TASK_COLUMNS} FROM task_results WHERE run_id = ? ORDER BY counter, id",
                (run_id,),
            ).fetchall()
        return [
            TaskResult(
                counter=row[0],
                host=row[1],
                play=row[2],
                task=row[3],
                status=TaskStatus(row[4]),
                role=row[5],
                module=row[6],
                start=_opt_from_text(row[7]),
                end=_opt_from_text(row[8]),
                duration=row[9],
                rc=row[10],
                message=row[11],
                play_uuid=row[12],
                task_uuid=row[13],
            )
            for row in rows
        ]

    def set_host_counts(self, run_id: str, counts: Mapping[str, HostCounts]) -> None:
        """Set the counters of the given hosts of a run (other hosts keep theirs)."""
        rows = [
            (
                run_id,
                host,
                c.ok,
                c.changed,
                c.failures,
                c.unreachable,
                c.skipped,
                c.rescued,
                c.ignored,
            )
            for host, c in counts.items()
        ]
        with self._writing() as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                f"INSERT OR REPLACE INTO host_counts (run_id, host, {_COUNT_COLUMNS}) "
                f"VALUES ({_marks(9)})",
                rows,
            )

    def host_counts(self, run_id: str) -> dict[str, HostCounts]:
        """The counters of every host of a run, by host name (sorted)."""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT host, {_COUNT_COLUMNS} FROM host_counts WHERE run_id = ? ORDER BY host",
                (run_id,),
            ).fetchall()
        return {row[0]: HostCounts(*row[1:]) for row in rows}

    # ------------------------------------------------------------------ roll-up records

    def add_records(self, run_id: str, records: Iterable[MaintenanceRecord]) -> None:
        """Append roll-up records to a run and bring attempts and host states up to date.

        May be called several times per run (as hosts finish); the attempts of
        every (run, server, component) touched are recomputed from all of their
        stored records, then the states of the (server, component) pairs touched.
        The records' own `run_id` is ignored: they belong to `run_id`.
        """
        rows = [
            (
                run_id,
                _to_text(r.timestamp),
                r.environment,
                r.server,
                r.component,
                Action(r.action).value,
                Outcome(r.status).value,
                r.error,
            )
            for r in records
        ]
        if not rows:
            return
        keys = {(run_id, row[3], row[4]) for row in rows}
        with self._writing() as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT INTO records (run_id, timestamp, environment, server, component, "
                "action, status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            _recompute_attempts(conn, keys)
            _recompute_states(conn, {(server, component) for _, server, component in keys})

    def records(
        self,
        *,
        environment: str | None = None,
        component: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        run_id: str | None = None,
        limit: int | None = None,
    ) -> list[MaintenanceRecord]:
        """Roll-up records matching every filter given, newest first.

        Newest means latest timestamp, then latest added. `since` keeps records
        at or after that instant.
        """
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("environment", environment),
            ("component", component),
            ("server", server),
            ("run_id", run_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("timestamp >= ?")
            params.append(_to_text(since))
        sql = f"SELECT {_RECORD_COLUMNS} FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY timestamp DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_record_from_row(row) for row in rows]

    # ------------------------------------------------------------------ the planner's question

    def states(
        self, servers: Collection[str], components: Collection[str]
    ) -> Mapping[StateKey, HostComponentState]:
        """Latest success and failure per (server, component); pairs never attempted are absent.

        Reads only the derived ``host_state`` table, by primary key, in chunks of servers
        (one snapshot).
        """
        wanted_servers = sorted(set(servers))
        wanted_components = set(components)
        if not wanted_servers or not wanted_components:
            return {}
        parsed: dict[str, datetime] = {}

        def instant(text: str | None) -> datetime | None:
            if text is None:
                return None
            value = parsed.get(text)
            if value is None:
                value = parsed[text] = _from_text(text)
            return value

        result: dict[StateKey, HostComponentState] = {}
        with self._reading() as conn:
            # By server only: a range of the primary key per server, components filtered here.
            for chunk in _chunks(wanted_servers, _MAX_PARAMS):
                rows = conn.execute(
                    "SELECT server, component, last_success, last_failure FROM host_state "
                    f"WHERE server IN ({_marks(len(chunk))})",
                    chunk,
                )
                for server, comp, success, failure in rows:
                    if comp in wanted_components:
                        result[(server, comp)] = HostComponentState(
                            instant(success), instant(failure)
                        )
        return result

    # ------------------------------------------------------------------ notifications

    def add_notifications(self, run_id: str, deliveries: Iterable[Delivery]) -> None:
        """Record notification deliveries of a run (already redacted)."""
        rows = [
            (
                run_id,
                d.channel,
                NotifyEvent(d.event).value,
                DeliveryStatus(d.status).value,
                d.attempts,
                d.error,
                _to_text(d.at),
            )
            for d in deliveries
        ]
        if not rows:
            return
        with self._writing() as conn:
            self._require_run(conn, run_id)
            conn.executemany(
                "INSERT INTO notifications (run_id, channel, event, status, attempts, error, at) "
                f"VALUES ({_marks(7)})",
                rows,
            )

    def notifications(self, run_id: str | None = None) -> list[Delivery]:
        """Notification deliveries, oldest first, optionally of one run only."""
        sql = "SELECT channel, event, status, attempts, error, at FROM notifications"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [
            Delivery(
                channel=row[0],
                event=NotifyEvent(row[1]),
                status=DeliveryStatus(row[2]),
                attempts=row[3],
                error=row[4],
                at=_from_text(row[5]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ retention

    def prune(self, older_than: datetime) -> list[RunRecord]:
        """Delete finished runs that started before `older_than`, with all of their rows.

        Runs still marked running are kept. Host states of the pairs those runs
        touched are recomputed from the attempts that remain. Returns the deleted
        runs, oldest first, so the caller can delete their artifact directories.
        """
        cutoff = _to_text(older_than)
        with self._writing() as conn:
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE started < ? AND status != ? "
                "ORDER BY started, rowid",
                (cutoff, RunStatus.RUNNING.value),
            ).fetchall()
            if not rows:
                return []
            run_ids = [row[0] for row in rows]
            keys: set[StateKey] = set()
            for chunk in _chunks(run_ids, _MAX_PARAMS):
                marks = _marks(len(chunk))
                keys.update(
                    conn.execute(
                        "SELECT DISTINCT server, component FROM attempts "
                        f"WHERE run_id IN ({marks})",
                        chunk,
                    ).fetchall()
                )
                conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)
            _recompute_states(conn, keys)
        return [_run_from_row(row) for row in rows]

    # ------------------------------------------------------------------ helpers

    def _require_run(self, conn: sqlite3.Connection, run_id: str) -> None:
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"{self.path}: no run {run_id!r} (call begin_run first)")


if TYPE_CHECKING:
    # HistoryStore answers the planner's question (checked structurally by mypy).
    _READER_CHECK: type[HistoryReader] = HistoryStore


# --------------------------------------------------------------------------- derived tables


def _recompute_attempts(conn: sqlite3.Connection, keys: Iterable[tuple[str, str, str]]) -> None:
    """Recompute the attempts of (run, server, component) keys from their records."""
    conn.execute("DELETE FROM temp.run_keys")
    conn.executemany("INSERT OR IGNORE INTO temp.run_keys VALUES (?, ?, ?)", keys)
    conn.execute(
        "DELETE FROM attempts WHERE (run_id, server, component) IN "
        "(SELECT run_id, server, component FROM temp.run_keys)"
    )
    conn.execute(
        "INSERT INTO attempts (run_id, server, component, at, ok) "
        "SELECT r.run_id, r.server, r.component, MAX(r.timestamp), "
        f"  MAX({_FAILED_SQL}) = 0 "
        "FROM temp.run_keys AS k JOIN records AS r "
        "  ON r.run_id = k.run_id AND r.server = k.server AND r.component = k.component "
        "GROUP BY r.run_id, r.server, r.component "
        f"HAVING MAX({_FAILED_SQL}) = 1 OR MAX({_UPDATED_SQL}) = 1"
    )
    conn.execute("DELETE FROM temp.run_keys")


def _recompute_states(conn: sqlite3.Connection, keys: Iterable[StateKey]) -> None:
    """Recompute host_state of (server, component) keys as the max over their attempts."""
    conn.execute("DELETE FROM temp.state_keys")
    conn.executemany("INSERT OR IGNORE INTO temp.state_keys VALUES (?, ?)", keys)
    conn.execute(
        "DELETE FROM host_state WHERE (server, component) IN "
        "(SELECT server, component FROM temp.state_keys)"
    )
    conn.execute(
        "INSERT INTO host_state (server, component, last_success, last_failure) "
        "SELECT a.server, a.component, "
        "  MAX(CASE WHEN a.ok THEN a.at END), MAX(CASE WHEN a.ok THEN NULL ELSE a.at END) "
        "FROM temp.state_keys AS k JOIN attempts AS a "
        "  ON a.server = k.server AND a.component = k.component "
        "GROUP BY a.server, a.component"
    )
    conn.execute("DELETE FROM temp.state_keys")


# --------------------------------------------------------------------------- opening


def _marks(count: int) -> str:
    return ", ".join("?" * count)


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
            raise StoreError(
                f"{path}: the history database's schema version {version} is newer than this "
                f"agentmaint supports ({SCHEMA_VERSION}); upgrade agentmaint to use it"
            )
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


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations the database lacks, each in its own transaction.

    An up-to-date database is only read (no write lock), so opening a store never
    waits for a writer.
    """
    while True:
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                version: int = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{path}: the history database's schema version {version} is newer "
                        f"than this agentmaint supports ({SCHEMA_VERSION}); upgrade agentmaint"
                    )
                if version == SCHEMA_VERSION:
                    return
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot migrate the history database: {exc}") from exc


# --------------------------------------------------------------------------- export


def _export_dict(record: MaintenanceRecord) -> dict[str, Any]:
    return {**record.to_dict(), "run_id": record.run_id}


def records_to_json(records: Iterable[MaintenanceRecord]) -> str:
    """A JSON list of records in the seed's shape, each with its ``run_id``."""
    return json.dumps([_export_dict(r) for r in records], indent=2)


def write_records_csv(records: Iterable[MaintenanceRecord], stream: TextIO) -> None:
    """Write records as CSV with a header row; missing values are empty cells."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        data = _export_dict(record)
        writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
