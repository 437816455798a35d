"""Environment locks as PostgreSQL advisory locks: every lock test, then their own.

The server is real (Debian's package, started by tests/postgres.py). The unit tests run
the same lock tests with lock files.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentmaint.config.secret import Secret
from agentmaint.errors import LockHeldError
from agentmaint.history.store import HistoryStore
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.advisory_locks import environment_key
from agentmaint.run.locks import environment_locks
from agentmaint.run.recovery import recover_interrupted_runs
from tests.unit.test_locks import *  # noqa: F403 -- the engine-agnostic tests, run here on PostgreSQL
from tests.unit.test_locks import HOST, Holder, _running_run


@pytest.fixture
def lock_url(postgres_url: str) -> str:
    """Every lock test of tests/unit/test_locks.py, with advisory locks on a real server."""
    return postgres_url


def test_an_advisory_lock_taken_outside_agentmaint_is_reported_by_session(
    postgres_url: str, state_dir: Path
) -> None:
    import psycopg

    HistoryStore.from_url(postgres_url, state_dir).close()
    with psycopg.connect(postgres_url, autocommit=True, application_name="someone-else") as other:
        other.execute("SELECT pg_advisory_lock(%s)", (environment_key("blue"),))
        session = other.execute("SELECT pg_backend_pid()").fetchone()
        # A row left by a dead holder is not believed: its session does not hold the lock.
        other.execute(
            "INSERT INTO lock_holders (environment, session, pid, controller, started, run_id) "
            "VALUES ('blue', -1, 1, 'ghost', '2020-01-01', 'stale-run')"
        )
        with (
            pytest.raises(LockHeldError) as caught,
            environment_locks(state_dir, ["blue"], run_id="mine", history_url=postgres_url),
        ):
            pass
    holder = caught.value.holder
    assert session is not None and holder["session"] == session[0]
    assert holder["application"] == "someone-else"
    assert "stale-run" not in str(caught.value)


def test_advisory_locks_leave_no_holder_rows_and_accept_a_secret_url(
    postgres_url: str, state_dir: Path
) -> None:
    import psycopg

    with environment_locks(
        state_dir, ["blue", "green"], run_id="r1", history_url=Secret(postgres_url)
    ):
        with psycopg.connect(postgres_url) as raw:
            rows = raw.execute(
                "SELECT environment, pid, controller, run_id FROM lock_holders ORDER BY 1"
            ).fetchall()
        assert rows == [("blue", os.getpid(), HOST, "r1"), ("green", os.getpid(), HOST, "r1")]
    with psycopg.connect(postgres_url) as raw:
        assert raw.execute("SELECT count(*) FROM lock_holders").fetchone() == (0,)
    assert not (state_dir / "locks").exists()  # no lock files with a shared history


def test_advisory_locks_on_a_fresh_database_create_the_schema(
    postgres_url: str, state_dir: Path
) -> None:
    with environment_locks(state_dir, ["blue"], run_id="r1", history_url=postgres_url):
        pass
    with HistoryStore.from_url(postgres_url, state_dir) as store:
        assert store.runs() == []


def test_recovery_of_another_controllers_run_in_a_shared_history(
    postgres_url: str, state_dir: Path, holders: list[Holder]
) -> None:
    with HistoryStore.from_url(postgres_url, state_dir) as store:
        # The pid means nothing here (another machine's): only its locks tell.
        _running_run(store, "theirs", pid=os.getppid(), controller="ctl-b.example")
        holder = Holder(state_dir, postgres_url, "theirs", "blue")  # ctl-b, alive
        holders.append(holder)
        assert recover_interrupted_runs(store) == []
        run = store.get_run("theirs")
        assert run is not None and run.status is RunStatus.RUNNING

        holder.kill()  # ctl-b dies: its connection, and with it the lock, goes
        deadline = time.monotonic() + 10
        while not (recovered := recover_interrupted_runs(store)):
            assert time.monotonic() < deadline, "never recovered"
            time.sleep(0.2)
        assert [r.id for r in recovered] == ["theirs"]
        run = store.get_run("theirs")
        assert run is not None and run.status is RunStatus.INTERRUPTED
        assert run.message is not None
        assert f"(pid {os.getppid()} on ctl-b.example) died" in run.message
        assert run.controller == "ctl-b.example"


def test_a_foreign_run_without_environments_is_left_alone(
    postgres_url: str, state_dir: Path
) -> None:
    with HistoryStore.from_url(postgres_url, state_dir) as store:
        store.begin_run(
            RunRecord("odd", "schedule", datetime.now(UTC), pid=1, controller="ctl-b.example")
        )
        assert recover_interrupted_runs(store) == []
