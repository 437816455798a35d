"""The history store on PostgreSQL: every engine-agnostic store test, then PostgreSQL's own.

The server is real (Debian's package, started by tests/postgres.py). The unit tests run
the same engine-agnostic tests on SQLite.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from agentmaint.errors import StoreError
from agentmaint.history.db import check_database
from agentmaint.history.store import DB_NAME, SCHEMA_VERSION, HistoryStore
from agentmaint.records import HostCounts, TaskResult, TaskStatus
from tests.postgres import PASSWORD, PostgresServer
from tests.unit.test_store import *  # noqa: F403 -- the engine-agnostic tests, run here on PostgreSQL
from tests.unit.test_store import _lock, _open, begin, here, record
from tests.unit.test_store_summary import *  # noqa: F403 -- HistoryStore.summary, on PostgreSQL


@pytest.fixture
def history_url(postgres_url: str) -> str:
    """Every engine-agnostic test of tests/unit/test_store.py, on a real PostgreSQL server."""
    return postgres_url


@pytest.fixture
def pg_raw(postgres_url: str) -> Iterator[Any]:
    """A plain psycopg connection to the test database (autocommit)."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        yield conn


def _pg_tables(raw: Any) -> list[tuple[str, str]]:
    return raw.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, column_name"
    ).fetchall()


def test_postgresql_history_is_current_and_reopening_is_a_no_op(
    postgres_url: str, pg_raw: Any, tmp_path: Path
) -> None:
    with HistoryStore.from_url(postgres_url, tmp_path) as store:
        assert store.path is None
        assert store.schema_version == SCHEMA_VERSION
        run = begin(store, "r1")
    assert pg_raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    tables = _pg_tables(pg_raw)
    assert {t for t, _ in tables} >= {"runs", "records", "attempts", "host_state", "lock_holders"}
    with HistoryStore.from_url(postgres_url, tmp_path) as store:
        assert store.get_run("r1") == here(run)
    assert _pg_tables(pg_raw) == tables
    assert not (tmp_path / DB_NAME).exists()  # nothing local


def test_postgresql_types_keep_sqlite_semantics(postgres_url: str, pg_raw: Any) -> None:
    with HistoryStore.from_url(postgres_url, Path()) as store:
        begin(store, "r1")
        # Byte order (the "C" collation), not a locale's: as Python and SQLite sort.
        # Durations keep all of a double's digits ("real" would keep 6).
        precise = TaskResult("web1", "p", "t", TaskStatus.OK, duration=1.2345678901234)
        record(
            store,
            "r1",
            counts={"b": HostCounts(), "B": HostCounts(), "a": HostCounts()},
            results=[precise],
        )
        assert list(store.host_counts("r1")) == ["B", "a", "b"]
        assert store.task_results("r1") == [precise]
    types = dict(
        pg_raw.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'task_results'"
        ).fetchall()
    )
    assert (types["duration"], types["counter"], types["host"]) == (
        "double precision",
        "bigint",
        "text",
    )


def test_postgresql_newer_schema_version_is_refused_untouched(
    postgres_url: str, pg_raw: Any
) -> None:
    with HistoryStore.from_url(postgres_url, Path()) as store:
        begin(store, "r1")
    pg_raw.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    tables = _pg_tables(pg_raw)
    with pytest.raises(StoreError) as caught:
        HistoryStore.from_url(postgres_url, Path())
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1} is newer" in message
    assert f"({SCHEMA_VERSION})" in message
    assert "upgrade agentmaint" in message
    assert "postgresql://agentmaint:***@127.0.0.1:" in message
    assert PASSWORD not in message
    assert _pg_tables(pg_raw) == tables
    assert pg_raw.execute("SELECT version FROM schema_version").fetchall() == [
        (SCHEMA_VERSION + 1,)
    ]
    assert pg_raw.execute("SELECT id FROM runs").fetchall() == [("r1",)]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (["CREATE TABLE runs (x integer)"], r"has table\(s\) runs but no schema_version"),
        (
            ["CREATE TABLE notes (body text)", "INSERT INTO notes VALUES ('theirs')"],
            r"has table\(s\) notes but no schema_version",
        ),
        (
            ["CREATE TABLE schema_version (v integer)"],
            "its schema_version table is foreign",
        ),
        (
            ["CREATE TABLE schema_version (version integer)"],
            "does not hold one version",
        ),
    ],
    ids=[
        "tables-without-version",
        "another-programs-tables",
        "foreign-version-table",
        "empty-version-table",
    ],
)
def test_postgresql_foreign_database_is_refused_untouched(
    postgres_url: str, pg_raw: Any, setup: list[str], message: str
) -> None:
    for statement in setup:
        pg_raw.execute(statement)
    tables = _pg_tables(pg_raw)
    with pytest.raises(StoreError, match=message) as caught:
        HistoryStore.from_url(postgres_url, Path())
    assert "refusing to use it" in str(caught.value).lower()
    assert _pg_tables(pg_raw) == tables
    with pytest.raises(StoreError, match=message):  # a reader refuses it too
        HistoryStore.from_url(postgres_url, Path(), readonly=True)
    report = check_database(postgres_url, Path())  # and `history check` reports it
    assert not report.ok
    assert _pg_tables(pg_raw) == tables


def test_postgresql_controllers_opening_a_new_database_at_once_migrate_it_once(
    postgres_url: str,
) -> None:
    errors: list[BaseException] = []

    def open_and_write(index: int) -> None:
        try:
            with HistoryStore.from_url(postgres_url, Path()) as store:
                begin(store, f"r{index}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with HistoryStore.from_url(postgres_url, Path()) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert sorted(r.id for r in store.runs()) == ["r0", "r1", "r2", "r3"]


def test_postgresql_password_never_appears_in_errors_or_repr(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    with HistoryStore.from_url(postgres_url, tmp_path) as store:
        shown = repr(store) + str(store.location) + repr(store.history_url)
        assert "agentmaint:***@127.0.0.1" in shown
        assert PASSWORD not in shown and quote(PASSWORD, safe="") not in shown
        assert f"{store.history_url}" == "***"
    wrong = "Wr0ng-pa55word"
    cases = {
        "password authentication failed": postgres_server.url(database, password=wrong),
        "cannot connect": f"postgresql://agentmaint:{wrong}@127.0.0.1:1/{database}",
        "not a valid PostgreSQL URL": f"postgresql://agentmaint:{wrong}%zz@127.0.0.1/x",
        "authentication failed": (
            f"postgresql://agentmaint@127.0.0.1:{postgres_server.port}/{database}?password={wrong}"
        ),
    }
    for expected, url in cases.items():
        for attempt in (_open, _lock):
            with pytest.raises(StoreError) as caught:
                attempt(url, tmp_path)
            text = str(caught.value) + repr(caught.value)
            assert expected in text, text
            assert wrong not in text and "zz" not in text, text
            assert caught.value.__cause__ is None  # no driver exception carrying the URL
