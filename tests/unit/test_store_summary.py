"""`HistoryStore.summary`: the history in aggregate, as the metrics read it.

Here on SQLite; tests/integration/test_store_postgresql.py runs them again on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.history.summary import HistorySummary, LastAttempt
from agentmaint.records import Action, Outcome, RunStatus
from tests.unit import test_store
from tests.unit.test_store import begin, minutes, rec, record

# The engine under test (test_store_postgresql.py overrides history_url).
history_url = test_store.history_url
open_store = test_store.open_store

A, B = "fleet-a", "fleet-b"


@pytest.fixture
def history(open_store: Callable[[], HistoryStore]) -> Iterator[HistoryStore]:
    with open_store() as opened:
        yield opened


def _fill(store: HistoryStore) -> None:
    """Five runs: a success, a failure with a rollback and an unreachable host, ..."""
    record(
        store,
        "r1",
        environments=(A,),
        started=minutes(0),
        finished=minutes(10),
        records=[
            rec("h1", "app", Action.UPDATE, Outcome.SUCCESS, minutes(5), environment=A),
            rec("h2", "app", Action.UPDATE, Outcome.SUCCESS, minutes(6), environment=A),
        ],
    )
    record(
        store,
        "r2",
        status=RunStatus.FAILED,
        environments=(A,),
        started=minutes(60),
        finished=minutes(75),
        records=[
            rec("h1", "app", Action.UPDATE, Outcome.SUCCESS, minutes(61), environment=A),
            rec("h1", "app", Action.HEALTHCHECK, Outcome.FAILED, minutes(62), environment=A),
            rec("h1", "app", Action.ROLLBACK, Outcome.SUCCESS, minutes(63), environment=A),
            rec("h2", "app", Action.UPDATE, Outcome.UNREACHABLE, minutes(64), environment=A),
        ],
    )
    record(
        store,
        "r3",
        environments=(B,),
        started=minutes(20),
        finished=minutes(50),
        records=[
            rec("h3", "app", Action.UPDATE, Outcome.SUCCESS, minutes(30), environment=B),
            rec("h3", "db", Action.UPDATE, Outcome.FAILED, minutes(31), environment=B),
        ],
    )
    # Both environments, died before its plays: counted in each, and the last of each.
    record(
        store,
        "r4",
        status=RunStatus.ERROR,
        environments=(A, B),
        started=minutes(100),
        finished=minutes(101),
    )
    begin(store, "r5", started=minutes(200), environments=(A,))  # still running: not counted


def test_summary_of_runs_attempts_and_rollbacks(history: HistoryStore) -> None:
    _fill(history)
    summary = history.summary(["h1", "h2", "h3", "h9"], ["app", "db"])
    assert summary.attempts == {
        ("h1", "app"): LastAttempt(
            at=minutes(63), failed=True, last_success=minutes(5), rolled_back=True
        ),
        ("h2", "app"): LastAttempt(
            at=minutes(64), failed=True, last_success=minutes(6), unreachable=True
        ),
        ("h3", "app"): LastAttempt(at=minutes(30), failed=False, last_success=minutes(30)),
        ("h3", "db"): LastAttempt(at=minutes(31), failed=True),
    }
    assert summary.run_counts == {
        (A, RunStatus.SUCCESSFUL): 1,
        (A, RunStatus.FAILED): 1,
        (A, RunStatus.ERROR): 1,
        (B, RunStatus.SUCCESSFUL): 1,
        (B, RunStatus.ERROR): 1,
    }
    assert {env: run.id for env, run in summary.last_runs.items()} == {A: "r4", B: "r4"}
    assert summary.last_runs[A].finished == minutes(101)
    assert summary.rollbacks == {(A, "app"): 1}


def test_summary_attempts_are_only_those_asked_for(history: HistoryStore) -> None:
    _fill(history)
    summary = history.summary(["h3"], ["db"])
    assert set(summary.attempts) == {("h3", "db")}
    assert history.summary([], ["app"]).attempts == {}
    assert history.summary(["h1"], []).attempts == {}


def test_summary_of_an_empty_history(history: HistoryStore) -> None:
    assert history.summary(["h1"], ["app"]) == HistorySummary()


def test_a_success_and_a_failure_at_the_same_instant_read_as_a_success(
    history: HistoryStore,
) -> None:
    # As the planner reads it (HostComponentState.last_attempt_failed): a tie is no failure.
    at = minutes(5)
    record(history, "ok", records=[rec("h1", "app", Action.UPDATE, Outcome.SUCCESS, at)])
    record(
        history,
        "ko",
        status=RunStatus.FAILED,
        started=minutes(1),
        records=[
            rec("h1", "app", Action.UPDATE, Outcome.FAILED, at),
            rec("h1", "app", Action.ROLLBACK, Outcome.SUCCESS, at),
        ],
    )
    assert history.summary(["h1"], ["app"]).attempts == {
        ("h1", "app"): LastAttempt(at=at, failed=False, last_success=at)
    }


def test_the_last_run_of_an_environment_is_the_last_finished(history: HistoryStore) -> None:
    record(history, "long", environments=(A,), started=minutes(0), finished=minutes(90))
    record(history, "short", environments=(A,), started=minutes(30), finished=minutes(40))
    last = history.summary([], []).last_runs[A]
    assert (last.id, last.finished - last.started) == ("long", timedelta(minutes=90))
