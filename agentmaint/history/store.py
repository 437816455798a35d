"""The persistent maintenance history: runs, task results, host counts and roll-ups.

One database holds everything agentmaint remembers: by default the SQLite file
``<state_dir>/history.sqlite3``; with ``history.url`` another SQLite file or a
PostgreSQL database that several controllers share (`open_history`; the engines
are in `agentmaint.history.db`, this module's queries are the same for both). Tables (all
datetimes are ISO 8601 UTC text of one fixed width, ``2026-11-23T01:30:00.000000Z``,
so that text order is time order; enums are stored as their values):

``runs``
    One row per `RunRecord` (environments and components as JSON lists; the
    controller's host name, schema version 3).
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

The schema is versioned (``PRAGMA user_version`` in SQLite, the ``schema_version``
table in PostgreSQL) and upgraded by one ordered list of migrations
(`agentmaint.history.db.schema`) when a store is opened; a database written by a newer
agentmaint, or that is not a history, is refused without being touched.

Concurrency: any number of readers (``agentmaint history``) work while one writer
(a run) writes, in the same or other processes (or, with PostgreSQL, on other
controllers). Writes take the write lock at their start (SQLite: ``BEGIN
IMMEDIATE`` in WAL mode with a 30 s busy timeout; PostgreSQL: an advisory
transaction lock), so the derived tables stay consistent. A `HistoryStore`
instance wraps one connection and must be used from one thread only (the thread
that opened it); open one store per thread.
"""

from __future__ import annotations

import csv
import json
import socket
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from agentmaint.config.schedule import NotifyEvent
from agentmaint.config.secret import Secret
from agentmaint.errors import StoreError, UsageError
from agentmaint.history.db import open_database
from agentmaint.history.db.base import Database
from agentmaint.history.db.schema import SCHEMA_VERSION
from agentmaint.history.db.sqlite import SqliteDatabase
from agentmaint.history.db.url import DB_NAME
from agentmaint.history.delivery import Delivery, DeliveryStatus
from agentmaint.planning.history import HostComponentState, StateKey
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

if TYPE_CHECKING:
    from agentmaint.planning.history import HistoryReader

__all__ = [
    "CSV_COLUMNS",
    "DB_NAME",
    "SCHEMA_VERSION",
    "HistoryStore",
    "open_history",
    "records_to_json",
    "write_records_csv",
]

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


# --------------------------------------------------------------------------- queries

# Conditions on a record `r` (0/1 through CASE, the same in both engines).
_FAILED_SQL = (
    f"CASE WHEN r.status IN ('{Outcome.FAILED.value}', '{Outcome.UNREACHABLE.value}') "
    f"OR r.action = '{Action.ROLLBACK.value}' THEN 1 ELSE 0 END"
)
_UPDATED_SQL = (
    f"CASE WHEN r.action = '{Action.UPDATE.value}' AND r.status = '{Outcome.SUCCESS.value}' "
    "THEN 1 ELSE 0 END"
)

_RUN_COLUMNS = (
    "id, trigger, started, status, finished, runner_rc, artifact_dir, pid, message, "
    "check_mode, environments, components, controller"
)
_TASK_COLUMNS = (
    'counter, host, play, task, status, role, module, start, "end", duration, rc, message, '
    "play_uuid, task_uuid"
)
_COUNT_COLUMNS = "ok, changed, failures, unreachable, skipped, rescued, ignored"
_COUNT_UPDATES = ", ".join(f"{c} = excluded.{c}" for c in _COUNT_COLUMNS.split(", "))
_RECORD_COLUMNS = "timestamp, environment, server, component, action, status, error, run_id"
_RECORD_INSERT_COLUMNS = (
    "run_id",
    "timestamp",
    "environment",
    "server",
    "component",
    "action",
    "status",
    "error",
)


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
        controller=row[12],
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


# --------------------------------------------------------------------------- the store


class HistoryStore:
    """The maintenance history in one database; a `HistoryReader` for the planner.

    Open it with `HistoryStore(path)` (a SQLite file), `HistoryStore.open(state_dir)`
    (the default file) or `open_history(url, state_dir)` (``history.url``: SQLite or
    PostgreSQL), and close it (or use it as a context manager). One instance serves
    one thread.
    """

    def __init__(self, path: Path) -> None:
        """Open (creating if needed: directory 0700, file 0600) and migrate a SQLite file.

        Raises `StoreError` if the file is not a SQLite database, is corrupt, or
        was written by a newer agentmaint; the file is then left untouched.
        """
        self._attach(SqliteDatabase(Path(path)))

    def _attach(self, database: Database) -> None:
        self._db = database
        #: The SQLite file, or None when the history is in PostgreSQL.
        self.path: Path | None = database.path

    @classmethod
    def open(cls, state_dir: Path) -> HistoryStore:
        """Open the history of a state directory (``state_dir / "history.sqlite3"``)."""
        return cls(Path(state_dir) / DB_NAME)

    @classmethod
    def from_url(cls, url: str | None, state_dir: Path) -> HistoryStore:
        """Open the history ``history.url`` names (None: the state directory's default file).

        ``sqlite:///relative/path`` (relative to `state_dir`), ``sqlite:////absolute/path``,
        or ``postgresql://user:password@host:port/database``. Raises `StoreError` (naming
        the URL without its password) for another form, an unreachable server, refused
        authentication, a missing driver, or a database this agentmaint cannot use.
        """
        store = cls.__new__(cls)
        store._attach(open_database(url, state_dir))
        return store

    @property
    def location(self) -> str:
        """The database, for messages: the file's path, or the URL without its password."""
        return self._db.location

    @property
    def history_url(self) -> Secret | None:
        """The PostgreSQL URL the store was opened with (a secret), or None for SQLite.

        A history in PostgreSQL is shared by controllers: its environment locks are
        advisory locks in the same database (`agentmaint.run.locks.environment_locks`).
        """
        return self._db.url

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._db.close()

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
        """``HistoryStore('/path/history.sqlite3')`` (a URL is shown without its password)."""
        return f"HistoryStore({self.location!r})"

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self._reading() as db:
            return db.schema_version()

    # ------------------------------------------------------------------ transactions

    def _writing(self) -> AbstractContextManager[Database]:
        """A write transaction holding the write lock from its start."""
        return self._db.writing()

    def _reading(self) -> AbstractContextManager[Database]:
        """A read transaction: one consistent snapshot for several statements."""
        return self._db.reading()

    # ------------------------------------------------------------------ runs

    def begin_run(self, run: RunRecord) -> None:
        """Record a new run (usually with status running). Its id must be new.

        A run without a `controller` is recorded with this machine's host name.
        """
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
            run.controller or socket.gethostname(),
        )
        try:
            with self._writing() as db:
                db.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_marks(13)})", row)
        except StoreError as exc:
            if isinstance(exc.__cause__, self._db.integrity_error):
                raise StoreError(f"{self.location}: run {run.id!r} is already recorded") from exc
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
        with self._writing() as db:
            cursor = db.execute(
                "UPDATE runs SET status = ?, finished = ?, runner_rc = ?, "
                "message = COALESCE(?, message) WHERE id = ?",
                params,
            )
            if cursor.rowcount == 0:
                raise StoreError(f"{self.location}: no run {run_id!r} to finish")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        with self._reading() as db:
            row = db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else _run_from_row(row)

    def runs(self, *, status: RunStatus | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest (latest start) first, optionally only those with `status`."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(RunStatus(status).value)
        sql += f" ORDER BY started DESC, {self._db.dialect.run_order} DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._reading() as db:
            rows = db.execute(sql, params).fetchall()
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
        with self._writing() as db:
            self._require_run(db, run_id)
            db.insert_rows("task_results", ("run_id", *_TASK_COLUMNS.split(", ")), rows)

    def task_results(self, run_id: str) -> list[TaskResult]:
        """The task results of a run, in counter order (then insertion order)."""
        with self._reading() as db:
            rows = db.execute(
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
        with self._writing() as db:
            self._require_run(db, run_id)
            db.executemany(
                f"INSERT INTO host_counts (run_id, host, {_COUNT_COLUMNS}) VALUES ({_marks(9)}) "
                f"ON CONFLICT (run_id, host) DO UPDATE SET {_COUNT_UPDATES}",
                rows,
            )

    def host_counts(self, run_id: str) -> dict[str, HostCounts]:
        """The counters of every host of a run, by host name (sorted)."""
        with self._reading() as db:
            rows = db.execute(
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
        with self._writing() as db:
            self._require_run(db, run_id)
            db.insert_rows("records", _RECORD_INSERT_COLUMNS, rows)
            _recompute_attempts(db, keys)
            _recompute_states(db, {(server, component) for _, server, component in keys})

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
        with self._reading() as db:
            rows = db.execute(sql, params).fetchall()
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
        with self._reading() as db:
            # By server only: a range of the primary key per server, components filtered here.
            for condition, params in db.in_list(wanted_servers):
                rows = db.execute(
                    "SELECT server, component, last_success, last_failure FROM host_state "
                    f"WHERE server {condition}",
                    params,
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
        with self._writing() as db:
            self._require_run(db, run_id)
            db.executemany(
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
        with self._reading() as db:
            rows = db.execute(sql + " ORDER BY id", params).fetchall()
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
        with self._writing() as db:
            rows = db.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE started < ? AND status != ? "
                f"ORDER BY started, {db.dialect.run_order}",
                (cutoff, RunStatus.RUNNING.value),
            ).fetchall()
            if not rows:
                return []
            run_ids = [row[0] for row in rows]
            keys: set[StateKey] = set()
            for condition, params in db.in_list(run_ids):
                keys.update(
                    (server, component)
                    for server, component in db.execute(
                        f"SELECT DISTINCT server, component FROM attempts WHERE run_id {condition}",
                        params,
                    )
                )
                db.execute(f"DELETE FROM runs WHERE id {condition}", params)
            _recompute_states(db, keys)
        return [_run_from_row(row) for row in rows]

    # ------------------------------------------------------------------ helpers

    def _require_run(self, db: Database, run_id: str) -> None:
        if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"{self.location}: no run {run_id!r} (call begin_run first)")


if TYPE_CHECKING:
    # HistoryStore answers the planner's question (checked structurally by mypy).
    _READER_CHECK: type[HistoryReader] = HistoryStore


# --------------------------------------------------------------------------- derived tables


def _recompute_attempts(db: Database, keys: Iterable[tuple[str, str, str]]) -> None:
    """Recompute the attempts of (run, server, component) keys from their records."""
    temp = db.dialect.temp
    db.execute(f"DELETE FROM {temp}run_keys")
    db.insert_rows(f"{temp}run_keys", ("run_id", "server", "component"), keys)
    db.execute(
        "DELETE FROM attempts WHERE (run_id, server, component) IN "
        f"(SELECT run_id, server, component FROM {temp}run_keys)"
    )
    db.execute(
        "INSERT INTO attempts (run_id, server, component, at, ok) "
        "SELECT r.run_id, r.server, r.component, MAX(r.timestamp), "
        f"  1 - MAX({_FAILED_SQL}) "
        f"FROM {temp}run_keys AS k JOIN records AS r "
        "  ON r.run_id = k.run_id AND r.server = k.server AND r.component = k.component "
        "GROUP BY r.run_id, r.server, r.component "
        f"HAVING MAX({_FAILED_SQL}) = 1 OR MAX({_UPDATED_SQL}) = 1"
    )
    db.execute(f"DELETE FROM {temp}run_keys")


def _recompute_states(db: Database, keys: Iterable[StateKey]) -> None:
    """Recompute host_state of (server, component) keys as the max over their attempts."""
    temp = db.dialect.temp
    db.execute(f"DELETE FROM {temp}state_keys")
    db.insert_rows(f"{temp}state_keys", ("server", "component"), keys)
    db.execute(
        "DELETE FROM host_state WHERE (server, component) IN "
        f"(SELECT server, component FROM {temp}state_keys)"
    )
    db.execute(
        "INSERT INTO host_state (server, component, last_success, last_failure) "
        "SELECT a.server, a.component, "
        "  MAX(CASE WHEN a.ok = 1 THEN a.at END), MAX(CASE WHEN a.ok = 1 THEN NULL ELSE a.at END) "
        f"FROM {temp}state_keys AS k JOIN attempts AS a "
        "  ON a.server = k.server AND a.component = k.component "
        "GROUP BY a.server, a.component"
    )
    db.execute(f"DELETE FROM {temp}state_keys")


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def open_history(url: str | Secret | None, state_dir: Path) -> HistoryStore:
    """The history ``history.url`` names (None: ``state_dir/history.sqlite3``), opened.

    The same as `HistoryStore.from_url`; `url` may be the schedule's `Secret`.
    """
    return HistoryStore.from_url(url.reveal() if isinstance(url, Secret) else url, state_dir)


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
