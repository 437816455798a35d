"""Environment locks in PostgreSQL, for controllers that share a history there.

One session-level advisory lock per environment (`environment_key`: a stable 64-bit
key from the environment's name) in the history's database, taken with
``pg_try_advisory_lock`` on a connection dedicated to the locks and held for the
``with`` block; closing that connection releases them. A controller that dies
(SIGKILL, power loss) loses its connection and with it its locks: at once when its
process dies, within about a minute when its machine does (server-side TCP
keepalives on the lock connection).

While it holds a lock, the holder keeps a row in ``lock_holders`` (pid, controller
host name, start time, run id, and its database session), so that a refused run
can name it; a row is believed only if its session is the one `pg_locks` shows
holding the lock.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from agentmaint.errors import LockHeldError, LockWaitCanceledError, StoreError
from agentmaint.history.db.postgres import (
    PostgresDatabase,
    connect,
    existing_tables,
    import_psycopg,
    lock_key,
)
from agentmaint.history.db.url import PostgresLocation

if TYPE_CHECKING:
    import psycopg

__all__ = ["advisory_locks", "environment_key"]

# Server-side settings of the lock connection: a dead peer is noticed within about a
# minute, and no idle timeout of the server's configuration may end the connection.
_SESSION_SETTINGS = (
    "SET tcp_keepalives_idle = 30",
    "SET tcp_keepalives_interval = 10",
    "SET tcp_keepalives_count = 3",
    "SET idle_session_timeout = 0",
    "SET idle_in_transaction_session_timeout = 0",
)


def environment_key(environment: str) -> int:
    """The advisory lock key of an environment (signed 64-bit, stable across versions)."""
    return lock_key(f"agentmaint environment {environment}")


@contextlib.contextmanager
def advisory_locks(
    location: PostgresLocation,
    environments: Iterable[str],
    *,
    run_id: str,
    pause: Callable[[], bool],
    deadline: float | None = None,
    on_wait: Callable[[str, dict[str, object]], None] | None = None,
) -> Iterator[None]:
    """Hold the advisory locks of `environments` (taken in sorted order) for the body.

    Tries again after every `pause()` (the caller's cadence, the same as for lock
    files; True when the run was cancelled meanwhile: `LockWaitCanceledError`) until
    `deadline` (a `time.monotonic` value; None: one try) and raises `LockHeldError`
    naming the holder when a lock is still taken then; `on_wait(environment, holder)`
    is called once per lock when the wait for it begins. Database errors raise
    `StoreError`.
    """
    driver = import_psycopg()
    conn = connect(location, application_name="agentmaint locks")
    try:
        try:
            _prepare(conn, location, driver)
            for name in sorted(set(environments)):
                _take(conn, name, run_id, deadline=deadline, pause=pause, on_wait=on_wait)
        except driver.Error as exc:
            raise StoreError(
                f"{location.redacted}: cannot take the environment locks: {exc}"
            ) from exc
        yield
    finally:
        with contextlib.suppress(driver.Error):
            conn.execute("DELETE FROM lock_holders WHERE session = pg_backend_pid()")
        conn.close()  # releases every lock of the session


def _prepare(conn: psycopg.Connection[Any], location: PostgresLocation, driver: Any) -> None:
    for setting in _SESSION_SETTINGS:
        try:
            conn.execute(setting)
        except driver.Error:  # a server without the setting (idle_session_timeout: 14+)
            continue
    if not existing_tables(conn, ["lock_holders"]):
        PostgresDatabase(location).close()  # creates (migrates) the schema, or refuses it


def _take(
    conn: psycopg.Connection[Any],
    name: str,
    run_id: str,
    *,
    deadline: float | None,
    pause: Callable[[], bool],
    on_wait: Callable[[str, dict[str, object]], None] | None,
) -> None:
    key = environment_key(name)
    told = on_wait is None
    while True:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row is not None and row[0]:
            break
        if deadline is None or time.monotonic() >= deadline:
            raise LockHeldError(name, _holder(conn, name, key))
        if not told and on_wait is not None:
            on_wait(name, _holder(conn, name, key))
            told = True
        if pause():
            raise LockWaitCanceledError(name, _holder(conn, name, key))
    conn.execute(
        "INSERT INTO lock_holders (environment, session, pid, controller, started, run_id) "
        "VALUES (%s, pg_backend_pid(), %s, %s, %s, %s) "
        "ON CONFLICT (environment) DO UPDATE SET session = excluded.session, "
        "pid = excluded.pid, controller = excluded.controller, started = excluded.started, "
        "run_id = excluded.run_id",
        (name, os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(), run_id),
    )


def _holder(conn: psycopg.Connection[Any], name: str, key: int) -> dict[str, object]:
    """Who holds the lock of `name`: its row, if the session holding the lock wrote it."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    row = conn.execute(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = %s::oid AND objid = %s::oid AND objsubid = 1",
        (unsigned >> 32, unsigned & 0xFFFF_FFFF),
    ).fetchone()
    if row is None:
        return {}  # released meanwhile
    session: int = row[0]
    holder = conn.execute(
        "SELECT pid, controller, started, run_id FROM lock_holders "
        "WHERE environment = %s AND session = %s",
        (name, session),
    ).fetchone()
    if holder is not None:
        return {"pid": holder[0], "controller": holder[1], "started": holder[2], "run": holder[3]}
    # Not (yet) written by the holder: say what the server knows of its session.
    activity = conn.execute(
        "SELECT application_name, client_addr::text, backend_start FROM pg_stat_activity "
        "WHERE pid = %s",
        (session,),
    ).fetchone()
    info: dict[str, object] = {"session": session}
    if activity is not None:
        info.update(application=activity[0], client=activity[1], since=str(activity[2]))
    return info
