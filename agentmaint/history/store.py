"""The persistent maintenance history: runs, task results, host counts and roll-ups.

One database holds everything agentmaint remembers: by default the SQLite file
``<state_dir>/history.sqlite3``; with ``history.url`` another SQLite file or a
PostgreSQL database that several controllers share (`open_history`; the engines
are in `agentmaint.history.db`, this module's queries are the same for both). Tables (all
datetimes are ISO 8601 UTC text of one fixed width, ``2026-11-23T01:30:00.000000Z``,
so that text order is time order; enums are stored as their values):

``runs``
    One row per `RunRecord` (environments and components as JSON lists; the
    controller's host name, schema version 3; its process identity, version 4).
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

Writing a run: `HistoryStore.begin_run` stores it ``running`` when it starts;
`HistoryStore.record_run` then records everything else it did (task results,
host counts, records, derived tables, final status) in one transaction, at most
once (`agentmaint.history.recording`). Row conversions are in
`agentmaint.history.rows`, the derived tables' rules in `agentmaint.history.derived`,
CSV/JSON export in `agentmaint.history.export` (all re-exported here).

The schema is versioned (``PRAGMA user_version`` in SQLite, the ``schema_version``
table in PostgreSQL) and upgraded by one ordered list of migrations
(`agentmaint.history.db.schema`) when a store is opened; a database written by a newer
agentmaint, or that is not a history, is refused without being touched. A store
opened ``readonly`` (what the read commands use) never writes: it refuses a
history of an older schema (``agentmaint recover FILE`` upgrades it) and raises
`MissingHistoryError` for a history never created, creating nothing.

Concurrency: any number of readers (``agentmaint history``) work while one writer
(a run) writes, in the same or other processes (or, with PostgreSQL, on other
controllers). Writes take the write lock at their start (SQLite: ``BEGIN
IMMEDIATE`` in WAL mode with a 30 s busy timeout; PostgreSQL: an advisory
transaction lock, waited for at most 30 s too), so the derived tables stay consistent.
A write that cannot take the lock in time, or fails (a full disk), raises `StoreError`
and changes nothing; a run that ends then keeps its results for a later recording
(`agentmaint.history.pending`). A `HistoryStore`
instance wraps one connection and must be used from one thread only (the thread
that opened it); open one store per thread.
"""

from __future__ import annotations

import socket
from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from agentmaint.config.schedule import NotifyEvent
from agentmaint.config.secret import Secret
from agentmaint.errors import MissingHistoryError, StoreError
from agentmaint.history.db import open_database
from agentmaint.history.db.base import Database
from agentmaint.history.db.schema import SCHEMA_VERSION
from agentmaint.history.db.sqlite import SqliteDatabase
from agentmaint.history.db.url import DB_NAME
from agentmaint.history.delivery import Delivery, DeliveryStatus
from agentmaint.history.derived import recompute_states
from agentmaint.history.export import CSV_COLUMNS, records_to_json, write_records_csv
from agentmaint.history.recording import Recorded, RecordOutcome, RunRecording, write_run
from agentmaint.history.rows import (
    COUNT_COLUMNS,
    RECORD_COLUMNS,
    RUN_COLUMN_COUNT,
    RUN_COLUMNS,
    TASK_COLUMNS,
    from_text,
    marks,
    record_from_row,
    run_from_row,
    run_row,
    task_from_row,
    to_text,
)
from agentmaint.history.summary import HistorySummary, summarize
from agentmaint.planning.history import HostComponentState, StateKey, StepDuration
from agentmaint.records import HostCounts, MaintenanceRecord, RunRecord, RunStatus, TaskResult

if TYPE_CHECKING:
    from agentmaint.planning.history import HistoryReader

__all__ = [
    "CSV_COLUMNS",
    "DB_NAME",
    "SCHEMA_VERSION",
    "HistoryStore",
    "MissingHistoryError",
    "RecordOutcome",
    "Recorded",
    "RunRecording",
    "StoreError",
    "open_history",
    "records_to_json",
    "write_records_csv",
]


class HistoryStore:
    """The maintenance history in one database; a `HistoryReader` for the planner.

    Open it with `HistoryStore(path)` (a SQLite file), `HistoryStore.open(state_dir)`
    (the default file) or `open_history(url, state_dir)` (``history.url``: SQLite or
    PostgreSQL), and close it (or use it as a context manager). One instance serves
    one thread.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        """Open (creating if needed: directory 0700, file 0600) and migrate a SQLite file.

        Raises `StoreError` if the file is not a SQLite database, is corrupt, or
        was written by a newer agentmaint; the file is then left untouched. With
        `readonly`, nothing is created or migrated (see `open_history`).
        """
        self._attach(SqliteDatabase(Path(path), readonly=readonly))

    def _attach(self, database: Database) -> None:
        self._db = database
        #: The SQLite file, or None when the history is in PostgreSQL.
        self.path: Path | None = database.path

    @classmethod
    def open(cls, state_dir: Path, *, readonly: bool = False) -> HistoryStore:
        """Open the history of a state directory (``state_dir / "history.sqlite3"``)."""
        return cls(Path(state_dir) / DB_NAME, readonly=readonly)

    @classmethod
    def from_url(cls, url: str | None, state_dir: Path, *, readonly: bool = False) -> HistoryStore:
        """Open the history ``history.url`` names (None: the state directory's default file).

        ``sqlite:///relative/path`` (relative to `state_dir`), ``sqlite:////absolute/path``,
        or ``postgresql://user:password@host:port/database``. Raises `StoreError` (naming
        the URL without its password) for another form, an unreachable server, refused
        authentication, a missing driver, or a database this agentmaint cannot use.
        With `readonly`, see `open_history`.
        """
        store = cls.__new__(cls)
        store._attach(open_database(url, state_dir, readonly=readonly))
        return store

    @property
    def location(self) -> str:
        """The database, for messages: the file's path, or the URL without its password."""
        return self._db.location

    @property
    def readonly(self) -> bool:
        """Whether the store was opened read-only (every write raises `StoreError`)."""
        return self._db.readonly

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
        row = run_row(run, socket.gethostname())
        try:
            with self._writing() as db:
                db.execute(
                    f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({marks(RUN_COLUMN_COUNT)})", row
                )
        except StoreError as exc:
            if isinstance(exc.__cause__, self._db.integrity_error):
                raise StoreError(f"{self.location}: run {run.id!r} is already recorded") from exc
            raise

    def record_run(self, recording: RunRecording) -> Recorded:
        """Record everything a finished run did, in one transaction, at most once.

        A ``running`` run is filled in and finished; a run not stored yet is inserted
        whole (unless another run holds its artifact directory); a run already
        finished is left as it is. Returns which happened and the run as stored.
        See `agentmaint.history.recording`.
        """
        with self._writing() as db:
            return write_run(db, recording, socket.gethostname())

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        with self._reading() as db:
            row = db.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else run_from_row(row)

    def runs(
        self,
        *,
        status: RunStatus | None = None,
        limit: int | None = None,
        since: datetime | None = None,
    ) -> list[RunRecord]:
        """Runs, newest (latest start) first, optionally only those with `status`.

        `since` keeps the runs that started at or after that instant.
        """
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(RunStatus(status).value)
        if since is not None:
            where.append("started >= ?")
            params.append(to_text(since))
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY started DESC, {self._db.dialect.run_order} DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._reading() as db:
            rows = db.execute(sql, params).fetchall()
        return [run_from_row(row) for row in rows]

    def request_cancel(self, run_id: str) -> bool:
        """Ask the controller of running run `run_id` to cancel it; False if it is not running."""
        with self._writing() as db:
            cursor = db.execute(
                "UPDATE runs SET cancel_requested = ? WHERE id = ? AND status = ?",
                (to_text(datetime.now(UTC)), run_id, RunStatus.RUNNING.value),
            )
            return bool(cursor.rowcount)

    def cancel_requested(self, run_id: str) -> bool:
        """Whether someone asked (`request_cancel`) to cancel run `run_id`."""
        with self._reading() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row is not None and row[0] is not None

    # ------------------------------------------------------------------ what a run recorded

    def task_results(self, run_id: str) -> list[TaskResult]:
        """The task results of a run, in counter order (then insertion order)."""
        with self._reading() as db:
            rows = db.execute(
                f"SELECT {TASK_COLUMNS} FROM task_results WHERE run_id = ? ORDER BY counter, id",
                (run_id,),
            ).fetchall()
        return [task_from_row(row) for row in rows]

    def host_counts(self, run_id: str) -> dict[str, HostCounts]:
        """The counters of every host of a run, by host name (sorted)."""
        with self._reading() as db:
            rows = db.execute(
                f"SELECT host, {COUNT_COLUMNS} FROM host_counts WHERE run_id = ? ORDER BY host",
                (run_id,),
            ).fetchall()
        return {row[0]: HostCounts(*row[1:]) for row in rows}

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
            params.append(to_text(since))
        sql = f"SELECT {RECORD_COLUMNS} FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY timestamp DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._reading() as db:
            rows = db.execute(sql, params).fetchall()
        return [record_from_row(row) for row in rows]

    def run_records(self, run_ids: Collection[str]) -> dict[str, list[MaintenanceRecord]]:
        """The roll-up records of each of `run_ids`, in the order they were recorded.

        One query per chunk of ids (the run list's host counts); a run without records
        is absent.
        """
        result: dict[str, list[MaintenanceRecord]] = {}
        wanted = sorted(set(run_ids))
        if not wanted:
            return result
        with self._reading() as db:
            for condition, params in db.in_list(wanted):
                rows = db.execute(
                    f"SELECT {RECORD_COLUMNS} FROM records WHERE run_id {condition} ORDER BY id",
                    params,
                ).fetchall()
                for row in rows:
                    record = record_from_row(row)
                    result.setdefault(record.run_id or "", []).append(record)
        return result

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
        # Most pairs share their instants (a run updates many hosts at once), and many
        # their (success, failure): each text is parsed once and each pair is one state.
        shared: dict[tuple[str | None, str | None], HostComponentState] = {}
        parsed: dict[str, datetime] = {}
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
                        pair = (success, failure)
                        state = shared.get(pair)
                        if state is None:
                            state = shared[pair] = _state(success, failure, parsed)
                        result[(server, comp)] = state
        return result

    def step_durations(
        self, play: str, component: str, hosts: Collection[str], runs: int
    ) -> Sequence[StepDuration]:
        """The timed task results of `play` in its latest `runs` runs (a `DurationReader`).

        The runs are the latest that attempted `component` on any of `hosts` (one
        snapshot). The runs are found by the ``attempts`` index (server, component), their results
        by the task results' index (run id): the cost grows with the hosts given and the
        size of those runs, not with the history's.
        """
        wanted = sorted(set(hosts))
        if not wanted or runs < 1:
            return []
        found: dict[str, str] = {}
        with self._reading() as db:
            for condition, params in db.in_list(wanted):
                rows = db.execute(
                    "SELECT run_id, MAX(at) FROM attempts "
                    f"WHERE server {condition} AND component = ? GROUP BY run_id",
                    [*params, component],
                )
                for run_id, at in rows:
                    found[run_id] = max(at, found.get(run_id, at))
            latest = sorted(found, key=lambda r: found[r], reverse=True)[:runs]
            durations: list[StepDuration] = []
            for run_id in latest:
                rows = db.execute(
                    "SELECT host, task, duration FROM task_results WHERE run_id = ? "
                    "AND play = ? AND duration IS NOT NULL",
                    (run_id, play),
                )
                durations.extend(
                    StepDuration(run_id, host, task, float(seconds)) for host, task, seconds in rows
                )
        return durations

    def summary(self, servers: Collection[str], components: Collection[str]) -> HistorySummary:
        """The history in aggregate, for monitoring (`agentmaint.history.summary`), one snapshot.

        The latest attempt of each (server, component) of `servers` x `components` ever
        attempted; finished runs by environment and status; the last finished run of each
        environment; rollbacks by environment and component.
        """
        with self._reading() as db:
            return summarize(db, servers, components)

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
                to_text(d.at),
            )
            for d in deliveries
        ]
        if not rows:
            return
        with self._writing() as db:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise StoreError(f"{self.location}: no run {run_id!r} (call begin_run first)")
            db.executemany(
                "INSERT INTO notifications (run_id, channel, event, status, attempts, error, at) "
                f"VALUES ({marks(7)})",
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
                at=from_text(row[5]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ retention

    def prune(
        self, older_than: datetime | None = None, *, keep_last: int | None = None
    ) -> list[RunRecord]:
        """Delete finished runs that started before `older_than`, with all of their rows.

        With `keep_last` instead (or as well), the newest `keep_last` runs (by start,
        whatever their status) are kept and older finished runs deleted. Runs still
        marked running are always kept. Host states of the pairs those runs touched
        are recomputed from the attempts that remain. Returns the deleted runs, oldest
        first, so the caller can delete their artifact directories.
        """
        if older_than is None and keep_last is None:
            raise ValueError("prune needs older_than or keep_last")
        with self._writing() as db:
            where = ""
            cutoff: list[Any] = []
            if older_than is not None:
                where = "WHERE started < ? "
                cutoff.append(to_text(older_than))
            rows = db.execute(
                f"SELECT {RUN_COLUMNS} FROM runs {where}"
                f"ORDER BY started DESC, {db.dialect.run_order} DESC",
                cutoff,
            ).fetchall()
            if keep_last is not None:
                # The newest runs of the whole history, not only of those before the cutoff.
                newest = db.execute(
                    f"SELECT id FROM runs ORDER BY started DESC, {db.dialect.run_order} DESC "
                    "LIMIT ?",
                    (max(keep_last, 0),),
                ).fetchall()
                kept = {row[0] for row in newest}
                rows = [row for row in rows if row[0] not in kept]
            # Oldest first; a run still running is never pruned.
            rows = [row for row in reversed(rows) if row[3] != RunStatus.RUNNING.value]
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
            recompute_states(db, keys)
        return [run_from_row(row) for row in rows]


if TYPE_CHECKING:
    # HistoryStore answers the planner's question (checked structurally by mypy).
    _READER_CHECK: type[HistoryReader] = HistoryStore


def open_history(
    url: str | Secret | None, state_dir: Path, *, readonly: bool = False
) -> HistoryStore:
    """The history ``history.url`` names (None: ``state_dir/history.sqlite3``), opened.

    The same as `HistoryStore.from_url`; `url` may be the schedule's `Secret`.

    `readonly` (the read commands: plan, history, ...) opens without writing anything:
    no file, table or migration is created, and every write raises `StoreError`. A
    history never created raises `MissingHistoryError` (read it as empty); one of an
    older schema raises `StoreError` saying to run ``agentmaint recover FILE``, which
    upgrades it.
    """
    plain = url.reveal() if isinstance(url, Secret) else url
    return HistoryStore.from_url(plain, state_dir, readonly=readonly)


def _state(
    success: str | None, failure: str | None, parsed: dict[str, datetime]
) -> HostComponentState:
    """The state of a ``host_state`` row: its instants parsed once per text (`parsed`)."""
    return HostComponentState(_parsed(success, parsed), _parsed(failure, parsed))


def _parsed(text: str | None, parsed: dict[str, datetime]) -> datetime | None:
    if text is None:
        return None
    value = parsed.get(text)
    if value is None:
        value = parsed[text] = from_text(text)
    return value
