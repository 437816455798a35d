"""The history store: round-trips, attempts, states, pruning, migrations, locking.

Here on SQLite (the default file of a state directory). Every test taking the
`history_url` fixture (through `store`, `open_store`, ...) runs again on a real
PostgreSQL server in tests/integration/test_store_postgresql.py. Tests of one engine's
files or tables say so.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import multiprocessing
import random
import socket
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import NotifyEvent
from agentmaint.errors import AgentmaintError, MissingHistoryError, StoreError, UsageError
from agentmaint.history.db import check_database
from agentmaint.history.db.postgres import POSTGRES
from agentmaint.history.db.schema import render
from agentmaint.history.db.sqlite import APPLICATION_ID, SQLITE, integrity_problems
from agentmaint.history.db.url import redact_url
from agentmaint.history.delivery import Delivery, DeliveryStatus
from agentmaint.history.store import (
    DB_NAME,
    SCHEMA_VERSION,
    HistoryStore,
    Recorded,
    RecordOutcome,
    RunRecording,
    open_history,
    records_to_json,
    write_records_csv,
)
from agentmaint.planning.history import Attempt, HistoryReader, HostComponentState, MemoryHistory
from agentmaint.planning.planner import plan
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
from agentmaint.run.locks import environment_locks
from tests.conftest import utc

T0 = utc("2026-11-23T01:00")
HOST = socket.gethostname()


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def rec(
    server: str,
    component: str,
    action: Action,
    status: Outcome,
    at: datetime = T0,
    *,
    environment: str = "testing",
    error: str | None = None,
) -> MaintenanceRecord:
    return MaintenanceRecord(at, environment, server, component, action, status, error)


def begin(store: HistoryStore, run_id: str, started: datetime = T0, **kw: Any) -> RunRecord:
    run = RunRecord(id=run_id, trigger="schedule", started=started, **kw)
    store.begin_run(run)
    return run


def record(
    store: HistoryStore,
    run_id: str,
    *,
    results: Iterable[TaskResult] = (),
    counts: dict[str, HostCounts] | None = None,
    records: Iterable[MaintenanceRecord] = (),
    status: RunStatus = RunStatus.SUCCESSFUL,
    started: datetime = T0,
    finished: datetime | None = None,
    runner_rc: int | None = 0,
    message: str | None = None,
    **kw: Any,
) -> Recorded:
    """`HistoryStore.record_run`: finish a running run with what it did (or insert it whole)."""
    run = RunRecord(
        id=run_id,
        trigger="schedule",
        started=started,
        status=status,
        finished=finished or started + timedelta(hours=1),
        runner_rc=runner_rc,
        message=message,
        **kw,
    )
    return store.record_run(RunRecording(run, list(results), counts or {}, list(records)))


@pytest.fixture
def history_url() -> str | None:
    """``history.url`` of the engine under test: here the state directory's SQLite file.

    tests/integration/test_store_postgresql.py runs these tests again with a PostgreSQL URL.
    """
    return None


@pytest.fixture
def open_store(history_url: str | None, tmp_path: Path) -> Callable[[], HistoryStore]:
    """Open (another connection to) the history under test."""
    return lambda: HistoryStore.from_url(history_url, tmp_path / "state")


@pytest.fixture
def store(open_store: Callable[[], HistoryStore]) -> Iterator[HistoryStore]:
    with open_store() as opened:
        yield opened


def raw_rows(store: HistoryStore, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the store's own connection (a look under the API)."""
    with store._reading() as db:
        return [tuple(row) for row in db.execute(sql).fetchall()]


def here(run: RunRecord) -> RunRecord:
    """`run` as read back: recorded with this machine as its controller."""
    return dataclasses.replace(run, controller=HOST)


# --------------------------------------------------------------------------- round-trips


def test_run_round_trip_and_finish(store: HistoryStore) -> None:
    berlin = datetime(2026, 11, 23, 2, 0, 0, 123456, tzinfo=ZoneInfo("Europe/Berlin"))
    run = RunRecord(
        id="r1",
        trigger="force",
        started=berlin,
        artifact_dir=Path("/var/lib/agentmaint/runs/r1"),
        pid=4242,
        message="starting",
        check_mode=True,
        environments=("testing", "production"),
        components=("os", "models"),
        process="0e2d7c1a-boot:123456",
    )
    store.begin_run(run)
    got = store.get_run("r1")
    assert got == here(run)
    assert got is not None and got.started.tzinfo == UTC
    assert got.started == utc("2026-11-23T01:00:00.123456")

    done = record(store, "r1", status=RunStatus.FAILED, finished=minutes(5), runner_rc=2)
    assert done.outcome is RecordOutcome.RECORDED
    finished = store.get_run("r1")
    assert done.run == finished
    assert finished is not None
    assert (finished.status, finished.finished, finished.runner_rc) == (
        RunStatus.FAILED,
        minutes(5),
        2,
    )
    assert finished.message == "starting"  # kept when no new message is given
    # A finished run is recorded once: a second recording changes nothing.
    again = record(store, "r1", status=RunStatus.ERROR, runner_rc=None, message="boom")
    assert again == Recorded(RecordOutcome.ALREADY_RECORDED, finished)
    assert store.get_run("r1") == finished
    assert store.get_run("nope") is None


def test_minimal_run_round_trip(store: HistoryStore) -> None:
    run = begin(store, "plain")
    assert store.get_run("plain") == here(run)


def test_a_given_controller_is_kept(store: HistoryStore) -> None:
    run = begin(store, "r1", controller="ctl-b.example")
    assert store.get_run("r1") == run
    assert store.runs()[0].controller == "ctl-b.example"


def test_runs_with_the_same_start_newest_added_first(store: HistoryStore) -> None:
    for run_id in ["m", "z", "a"]:
        begin(store, run_id)
    assert [r.id for r in store.runs()] == ["a", "z", "m"]


def test_runs_newest_first_with_status_and_limit(store: HistoryStore) -> None:
    for i, run_id in enumerate(["a", "b", "c", "d"]):
        begin(store, run_id, minutes(i))
    record(store, "b", finished=minutes(10))
    record(store, "d", finished=minutes(10))
    assert [r.id for r in store.runs()] == ["d", "c", "b", "a"]
    assert [r.id for r in store.runs(limit=2)] == ["d", "c"]
    assert [r.id for r in store.runs(status=RunStatus.SUCCESSFUL)] == ["d", "b"]
    assert [r.id for r in store.runs(status=RunStatus.RUNNING, limit=1)] == ["c"]


def test_task_results_round_trip_in_counter_order(store: HistoryStore) -> None:
    begin(store, "r1")
    full = TaskResult(
        host="web1",
        play="maintain",
        task="apt upgrade",
        status=TaskStatus.CHANGED,
        role="os_update",
        module="ansible.builtin.apt",
        start=minutes(1),
        end=minutes(2),
        duration=60.5,
        rc=0,
        message="3 packages upgraded",
        play_uuid="p-1",
        task_uuid="t-1",
        counter=7,
    )
    minimal = TaskResult(host="web2", play="maintain", task="ping", status=TaskStatus.UNREACHABLE)
    late = TaskResult(host="web1", play="maintain", task="check", status=TaskStatus.OK, counter=12)
    record(store, "r1", results=[late, full, minimal])
    assert store.task_results("r1") == [minimal, full, late]
    assert store.task_results("other") == []


def test_task_result_times_are_stored_as_utc_text_from_any_zone(store: HistoryStore) -> None:
    begin(store, "r1")
    paris = ZoneInfo("Europe/Paris")
    results = [
        TaskResult("web1", "p", "t", TaskStatus.OK, start=minutes(1), end=minutes(2), counter=1),
        TaskResult(
            "web1",
            "p",
            "u",
            TaskStatus.OK,
            start=minutes(3).astimezone(paris),
            end=datetime.fromisoformat("2026-11-23T01:04:00.5+00:00"),
            counter=2,
        ),
    ]
    record(store, "r1", results=results)
    rows = raw_rows(store, 'SELECT start, "end" FROM task_results ORDER BY counter')
    assert rows == [
        ("2026-11-23T01:01:00.000000Z", "2026-11-23T01:02:00.000000Z"),
        ("2026-11-23T01:03:00.000000Z", "2026-11-23T01:04:00.500000Z"),
    ]
    assert store.task_results("r1") == results


def test_task_results_with_a_bad_status_or_time_are_not_stored(store: HistoryStore) -> None:
    begin(store, "r1")
    good = TaskResult("web1", "p", "t", TaskStatus.OK)
    bad = TaskResult("web1", "p", "t", "exploded")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exploded"):
        record(store, "r1", results=[good, bad])
    naive = TaskResult("web1", "p", "t", TaskStatus.OK, start=datetime(2026, 11, 23, 1, 0))
    with pytest.raises(UsageError, match="timezone-aware"):
        record(store, "r1", results=[good, naive])
    assert store.task_results("r1") == []  # one transaction: nothing of either batch
    run = store.get_run("r1")
    assert run is not None and run.status is RunStatus.RUNNING  # and the run not finished


def test_host_counts_round_trip(store: HistoryStore) -> None:
    begin(store, "r1")
    counts = {
        "web1": HostCounts(ok=5, changed=2, failures=0, skipped=1, rescued=1, ignored=3),
        "web2": HostCounts(unreachable=1),
    }
    record(store, "r1", counts=counts)
    assert store.host_counts("r1") == counts


def test_records_round_trip_carry_run_id(store: HistoryStore) -> None:
    begin(store, "r1")
    original = rec("web1", "os", Action.UPDATE, Outcome.FAILED, minutes(3), error="apt: exit 100")
    record(store, "r1", records=[original])
    [got] = store.records()
    assert got == original
    assert got.run_id == "r1"
    assert got.timestamp.tzinfo == UTC
    assert got.to_dict() == original.to_dict()


def test_beginning_a_run_twice_raises(store: HistoryStore) -> None:
    begin(store, "r1")
    with pytest.raises(StoreError, match="already recorded"):
        store.begin_run(RunRecord("r1", "schedule", T0))


def _recorded_rows(store: HistoryStore) -> list[tuple[Any, ...]]:
    return [
        raw_rows(store, f"SELECT count(*) FROM {table}")[0]
        for table in ("runs", "task_results", "host_counts", "records", "attempts", "host_state")
    ]


def test_record_run_fills_in_a_running_run_once(store: HistoryStore) -> None:
    begin(store, "r1", pid=4242, environments=("testing",))
    what: dict[str, Any] = {
        "results": [TaskResult("web1", "p", "t", TaskStatus.CHANGED, counter=1)],
        "counts": {"web1": HostCounts(ok=1, changed=1)},
        "records": [rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1))],
    }
    first = record(store, "r1", message="done", **what)
    assert first.written and first.outcome is RecordOutcome.RECORDED
    assert (first.run.status, first.run.message, first.run.pid) == (
        RunStatus.SUCCESSFUL,
        "done",
        4242,  # the fields stored when the run began are kept
    )
    rows = _recorded_rows(store)
    assert rows == [(1,), (1,), (1,), (1,), (1,), (1,)]
    second = record(store, "r1", status=RunStatus.INTERRUPTED, **what)  # e.g. a late recovery
    assert not second.written and second.outcome is RecordOutcome.ALREADY_RECORDED
    assert second.run == first.run
    assert _recorded_rows(store) == rows  # no fact twice


def test_record_run_inserts_an_unknown_run_whole(store: HistoryStore) -> None:
    done = record(
        store,
        "imported",
        artifact_dir=Path("/x/artifacts/imported"),
        records=[rec("web1", "os", Action.UPDATE, Outcome.FAILED, minutes(1))],
    )
    assert done.written and done.run == store.get_run("imported")
    assert done.run.controller == HOST and done.run.status is RunStatus.SUCCESSFUL
    assert len(store.records(run_id="imported")) == 1
    # Another new run with the same artifacts (a second import of them) records nothing.
    again = record(store, "other", artifact_dir=Path("/x/artifacts/imported"))
    assert again == Recorded(RecordOutcome.DUPLICATE_JOB, done.run)
    assert store.get_run("other") is None
    assert RecordOutcome.DUPLICATE_ARTIFACTS is RecordOutcome.DUPLICATE_JOB  # the former name


def job_result(host: str, play: str, start: datetime, counter: int = 1) -> TaskResult:
    """A task result of the job whose ansible-playbook process made play uuid `play`."""
    return TaskResult(
        host=host,
        play="Maintain os | prod",
        task="Update | os",
        status=TaskStatus.CHANGED,
        start=start,
        end=start + timedelta(seconds=3),
        play_uuid=play,
        task_uuid=f"{play}-task",
        counter=counter,
    )


def test_a_new_run_holding_a_recorded_task_result_is_the_same_job(store: HistoryStore) -> None:
    # A sliced run: two slices (two ansible-playbook processes, two play uuids).
    slice_1 = [job_result("web1", "p-1", minutes(1)), job_result("web2", "p-1", minutes(2), 2)]
    slice_2 = [job_result("db1", "p-2", minutes(1))]
    begin(store, "sliced")
    done = record(store, "sliced", results=slice_1 + slice_2, artifact_dir=Path("/r/slices"))
    assert done.written
    # A copy of slice 2 elsewhere, and a partial copy of slice 1: the same jobs.
    for results, where in ((slice_2, "/copy/2"), (slice_1[1:], "/copy/1")):
        again = record(store, "copy", results=results, artifact_dir=Path(where))
        assert again == Recorded(RecordOutcome.DUPLICATE_JOB, done.run)
        assert store.get_run("copy") is None
    assert len(store.task_results("sliced")) == 3


def test_another_run_of_the_same_playbook_is_a_new_job(store: HistoryStore) -> None:
    first = record(store, "first", results=[job_result("web1", "p-1", minutes(1))])
    assert first.written
    # A new ansible-playbook process: new play uuid, same host, task and names.
    second = record(store, "second", results=[job_result("web1", "p-2", minutes(1))])
    assert second.written and second.outcome is RecordOutcome.RECORDED
    # The same play uuid by chance (32 random bits of Ansible's uuids), another start.
    third = record(store, "third", results=[job_result("web1", "p-1", minutes(90))])
    assert third.written
    # Results without play uuid (no content identity): known by the artifact path only.
    bare = dataclasses.replace(job_result("web1", "p-1", minutes(1)), play_uuid=None)
    assert record(store, "bare", results=[bare]).written
    assert sorted(r.id for r in store.runs()) == ["bare", "first", "second", "third"]


def test_finishing_a_running_run_is_never_refused_as_a_duplicate(store: HistoryStore) -> None:
    results = [job_result("web1", "p-1", minutes(1))]
    assert record(store, "imported", results=results).written
    begin(store, "live")  # e.g. the live run whose artifacts were imported elsewhere first
    assert record(store, "live", results=results).outcome is RecordOutcome.RECORDED


def test_a_recording_must_end_its_run() -> None:
    with pytest.raises(UsageError, match="still running"):
        RunRecording(RunRecord("r1", "schedule", T0))
    with pytest.raises(UsageError, match="still running"):
        RunRecording(RunRecord("r1", "schedule", T0, status=RunStatus.FAILED))


def test_naive_datetimes_are_refused(store: HistoryStore) -> None:
    with pytest.raises(UsageError, match="timezone-aware"):
        store.begin_run(RunRecord("r1", "schedule", datetime(2026, 11, 23, 1, 0)))
    assert store.runs() == []


def test_store_errors_are_agentmaint_and_runtime_errors() -> None:
    assert issubclass(StoreError, AgentmaintError)
    assert issubclass(StoreError, RuntimeError)


def test_notifications_round_trip_oldest_first_per_run(store: HistoryStore) -> None:
    begin(store, "r1")
    begin(store, "r2")
    sent = Delivery(
        "webhook 'ops' https://h/***", NotifyEvent.START, DeliveryStatus.DELIVERED, 1, T0
    )
    failed = Delivery(
        "email ops@example.com", NotifyEvent.FAILURE, DeliveryStatus.FAILED, 3, minutes(1), "535"
    )
    store.add_notifications("r1", [sent, failed])
    store.add_notifications("r2", [sent])
    store.add_notifications("r2", [])
    assert store.notifications("r1") == [sent, failed]
    assert store.notifications() == [sent, failed, sent]
    with pytest.raises(StoreError, match="ghost"):
        store.add_notifications("ghost", [sent])


# --------------------------------------------------------------------------- the attempt rule

S, F, U, K = Outcome.SUCCESS, Outcome.FAILED, Outcome.UNREACHABLE, Outcome.SKIPPED
B, UP, H, R = Action.BACKUP, Action.UPDATE, Action.HEALTHCHECK, Action.ROLLBACK

# (id, [(action, status, minute)], expected: None = no attempt, else (ok, minute of the attempt))
ATTEMPT_CASES: list[tuple[str, list[tuple[Action, Outcome, int]], tuple[bool, int] | None]] = [
    ("success", [(B, S, 1), (UP, S, 2), (H, S, 3)], (True, 3)),
    ("update-only-success", [(UP, S, 4)], (True, 4)),
    ("update-failed", [(B, S, 1), (UP, F, 2)], (False, 2)),
    ("unreachable", [(UP, U, 1)], (False, 1)),
    ("backup-failed-update-skipped", [(B, F, 1), (UP, K, 2), (H, K, 3)], (False, 3)),
    ("healthcheck-failed-rollback", [(UP, S, 1), (H, F, 2), (R, S, 3)], (False, 3)),
    ("rollback-alone-is-failure", [(UP, S, 1), (R, S, 2)], (False, 2)),
    ("rollback-failed", [(UP, S, 1), (H, F, 2), (R, F, 3)], (False, 3)),
    ("all-skipped", [(B, K, 1), (UP, K, 2), (H, K, 3)], None),
    ("healthcheck-without-update", [(H, S, 1)], None),
    ("backup-success-update-skipped", [(B, S, 1), (UP, K, 2)], None),
]


@pytest.mark.parametrize(
    ("records", "expected"),
    [case[1:] for case in ATTEMPT_CASES],
    ids=[case[0] for case in ATTEMPT_CASES],
)
def test_attempt_rule(
    store: HistoryStore,
    records: list[tuple[Action, Outcome, int]],
    expected: tuple[bool, int] | None,
) -> None:
    begin(store, "r1")
    record(
        store,
        "r1",
        records=[rec("web1", "os", action, status, minutes(m)) for action, status, m in records],
    )
    states = store.states(["web1"], ["os"])
    if expected is None:
        assert states == {}
        return
    ok, minute = expected
    want = (
        HostComponentState(last_success=minutes(minute))
        if ok
        else HostComponentState(last_failure=minutes(minute))
    )
    assert states == {("web1", "os"): want}


# --------------------------------------------------------------------------- states()


def test_states_latest_success_and_failure_across_runs_with_filters(store: HistoryStore) -> None:
    begin(store, "r1", minutes(0))
    record(
        store,
        "r1",
        records=[
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1)),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1)),
            rec("web1", "models", Action.UPDATE, Outcome.FAILED, minutes(1)),
            rec("db1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1), environment="prod"),
        ],
    )
    begin(store, "r2", minutes(100))
    record(
        store,
        "r2",
        records=[
            rec("web1", "os", Action.UPDATE, Outcome.FAILED, minutes(101)),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, minutes(102)),
            rec("web1", "models", Action.UPDATE, Outcome.SUCCESS, minutes(103)),
        ],
    )
    begin(store, "r3", minutes(200))
    record(store, "r3", records=[rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(201))])

    everything = store.states(["web1", "web2", "db1", "unknown"], ["os", "models", "docker"])
    assert everything == {
        ("web1", "os"): HostComponentState(minutes(201), minutes(101)),
        ("web2", "os"): HostComponentState(minutes(102), None),
        ("web1", "models"): HostComponentState(minutes(103), minutes(1)),
        ("db1", "os"): HostComponentState(minutes(1), None),
    }
    assert not everything[("web1", "os")].last_attempt_failed
    assert store.states(["web1"], ["os"]) == {("web1", "os"): everything[("web1", "os")]}
    assert set(store.states(["web1", "web2"], ["models"])) == {("web1", "models")}
    assert store.states([], ["os"]) == {}
    assert store.states(["web1"], []) == {}


def test_states_with_more_servers_than_one_query_takes(store: HistoryStore) -> None:
    begin(store, "r1")
    servers = [f"host-{i:05d}" for i in range(2500)]
    record(
        store,
        "r1",
        records=[
            rec(s, "os", Action.UPDATE, Outcome.SUCCESS, minutes(i)) for i, s in enumerate(servers)
        ],
    )
    wanted = servers[::2]
    states = store.states(wanted, ["os"])
    assert len(states) == len(wanted)
    assert states[("host-00010", "os")] == HostComponentState(minutes(10), None)


def test_states_over_several_queries_equal_each_row_read_alone(store: HistoryStore) -> None:
    # states() reads host_state in chunks of servers and shares one state between the
    # pairs with the same instants: the result must be what reading each row gives.
    rng = random.Random(19)
    servers = [f"host-{i:05d}" for i in range(2000)]
    components = ["os", "docker", "models"]
    attempts: list[Attempt] = []
    for run in range(3):
        begin(store, f"r{run}", minutes(100 * run))
        records = []
        for s in servers:
            for c in components:
                if rng.random() < 0.2:
                    continue  # not attempted in this run (some pairs never are)
                ok = rng.random() < 0.8
                at = minutes(100 * run + rng.randrange(3))  # few instants: shared states
                records.append(
                    rec(s, c, Action.UPDATE, Outcome.SUCCESS if ok else Outcome.FAILED, at)
                )
                attempts.append(Attempt(s, c, at, ok))
        record(store, f"r{run}", records=records, started=minutes(100 * run))
    wanted = [*servers[::3], "never-seen"]
    memory = MemoryHistory(attempts)

    states = store.states(wanted, ["os", "models", "unknown"])

    assert states == memory.states(wanted, ["os", "models", "unknown"])
    assert len(states) > 900  # more servers than one query of SQLite takes
    assert {type(state) for state in states.values()} == {HostComponentState}
    assert store.states(servers[:5], ["docker"]) == memory.states(servers[:5], ["docker"])


def test_store_is_a_history_reader_for_the_planner(
    store: HistoryStore, seed_config: dict[str, Any]
) -> None:
    reader: HistoryReader = store
    begin(store, "r1", utc("2026-11-23T01:00"))
    record(
        store,
        "r1",
        records=[
            rec("test-server-1", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-11-23T01:10")),
            rec("test-server-2", "os", Action.UPDATE, Outcome.FAILED, utc("2026-11-23T01:10")),
        ],
    )
    result = plan(parse_schedule(seed_config), reader, utc("2026-11-23T01:30"))
    os_testing = next(
        d for d in result.decisions if (d.environment, d.component) == ("testing", "os")
    )
    assert os_testing.servers == ()
    docker = next(
        d for d in result.decisions if (d.environment, d.component) == ("testing", "docker")
    )
    assert docker.servers == ("test-server-1", "test-server-2")


def test_bulk_states_for_ten_thousand_servers_and_ten_components(store: HistoryStore) -> None:
    servers = [f"host-{i:05d}" for i in range(10_000)]
    components = [f"comp{c}" for c in range(10)]
    begin(store, "bulk")
    record(
        store,
        "bulk",
        records=(
            rec(s, c, Action.UPDATE, Outcome.SUCCESS, T0 + timedelta(seconds=i))
            for i, s in enumerate(servers)
            for c in components
        ),
    )
    states = store.states(servers, components)
    assert len(states) == 100_000
    assert states[("host-00000", "comp0")] == HostComponentState(T0, None)
    assert states[("host-09999", "comp9")] == HostComponentState(T0 + timedelta(seconds=9999), None)
    assert all(state.last_failure is None for state in states.values())


# --------------------------------------------------------------------------- records()


@pytest.fixture
def filled(store: HistoryStore) -> HistoryStore:
    begin(store, "r1", minutes(0))
    record(
        store,
        "r1",
        records=[
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1)),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, minutes(2)),
            rec("web1", "models", Action.UPDATE, Outcome.FAILED, minutes(2), error="e"),
        ],
    )
    begin(store, "r2", minutes(10))
    record(
        store,
        "r2",
        records=[
            rec("db1", "os", Action.BACKUP, Outcome.SUCCESS, minutes(11), environment="prod"),
            rec("db1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(12), environment="prod"),
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(12)),
        ],
    )
    return store


def key(record: MaintenanceRecord) -> tuple[str, str, str, int]:
    return (
        record.server,
        record.component,
        record.action.value,
        int((record.timestamp - T0).total_seconds() // 60),
    )


RECORD_FILTER_CASES: list[tuple[str, dict[str, Any], list[tuple[str, str, str, int]]]] = [
    (
        "all-newest-first-ties-by-insertion",
        {},
        [
            ("web1", "os", "update", 12),
            ("db1", "os", "update", 12),
            ("db1", "os", "backup", 11),
            ("web1", "models", "update", 2),
            ("web2", "os", "update", 2),
            ("web1", "os", "update", 1),
        ],
    ),
    ("limit", {"limit": 2}, [("web1", "os", "update", 12), ("db1", "os", "update", 12)]),
    (
        "environment",
        {"environment": "prod"},
        [("db1", "os", "update", 12), ("db1", "os", "backup", 11)],
    ),
    ("component", {"component": "models"}, [("web1", "models", "update", 2)]),
    (
        "server",
        {"server": "web1"},
        [
            ("web1", "os", "update", 12),
            ("web1", "models", "update", 2),
            ("web1", "os", "update", 1),
        ],
    ),
    (
        "since-inclusive",
        {"since": minutes(11)},
        [("web1", "os", "update", 12), ("db1", "os", "update", 12), ("db1", "os", "backup", 11)],
    ),
    (
        "run",
        {"run_id": "r1"},
        [("web1", "models", "update", 2), ("web2", "os", "update", 2), ("web1", "os", "update", 1)],
    ),
    (
        "combined",
        {"server": "web1", "component": "os", "environment": "testing", "limit": 5},
        [("web1", "os", "update", 12), ("web1", "os", "update", 1)],
    ),
    ("nothing", {"server": "nobody"}, []),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [case[1:] for case in RECORD_FILTER_CASES],
    ids=[case[0] for case in RECORD_FILTER_CASES],
)
def test_records_filters_order_and_limit(
    filled: HistoryStore, filters: dict[str, Any], expected: list[tuple[str, str, str, int]]
) -> None:
    assert [key(r) for r in filled.records(**filters)] == expected


def test_records_since_accepts_other_time_zones(filled: HistoryStore) -> None:
    since = minutes(11).astimezone(ZoneInfo("America/New_York"))
    assert len(filled.records(since=since)) == 3


# --------------------------------------------------------------------------- prune


def test_prune_removes_old_finished_runs_and_recomputes_host_state(store: HistoryStore) -> None:
    old = begin(store, "old", utc("2026-01-01T00:00"))
    record(
        store,
        "old",
        records=[
            rec("web1", "os", Action.UPDATE, Outcome.FAILED, utc("2026-01-01T00:05")),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-01-01T00:05")),
        ],
        results=[TaskResult("web1", "p", "t", TaskStatus.FAILED)],
        counts={"web1": HostCounts(failures=1)},
        status=RunStatus.FAILED,
        finished=utc("2026-01-01T00:10"),
        runner_rc=2,
    )
    # Still running (a controller that died, not recovered yet): never pruned.
    begin(store, "stuck", utc("2026-01-02T00:00"))
    # A finished run with a record of web3 that a pruned run does not touch.
    begin(store, "mid", utc("2026-03-02T00:00"))
    record(
        store,
        "mid",
        records=[rec("web3", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-03-02T00:05"))],
    )

    begin(store, "new", utc("2026-06-01T00:00"))
    record(
        store,
        "new",
        records=[
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-06-01T00:05")),
            rec("web2", "os", Action.UPDATE, Outcome.SKIPPED, utc("2026-06-01T00:05")),
        ],
        counts={"web1": HostCounts(ok=3)},
        finished=utc("2026-06-01T00:10"),
    )

    before = store.states(["web1", "web2", "web3"], ["os"])
    assert before[("web1", "os")].last_failure == utc("2026-01-01T00:05")

    pruned = store.prune(utc("2026-03-01T00:00"))
    assert [r.id for r in pruned] == ["old"]
    assert pruned[0].artifact_dir == old.artifact_dir
    assert pruned[0].status == RunStatus.FAILED

    assert store.get_run("old") is None
    assert [r.id for r in store.runs()] == ["new", "mid", "stuck"]
    assert store.task_results("old") == []
    assert store.host_counts("old") == {}
    assert store.records(run_id="old") == []
    assert store.host_counts("new") == {"web1": HostCounts(ok=3)}
    assert len(store.records()) == 3
    assert store.states(["web1", "web2", "web3"], ["os"]) == {
        ("web1", "os"): HostComponentState(utc("2026-06-01T00:05"), None),
        ("web3", "os"): HostComponentState(utc("2026-03-02T00:05"), None),
    }
    # attempts of the pruned run are gone too: a second prune finds nothing to do.
    assert store.prune(utc("2026-03-01T00:00")) == []
    assert raw_rows(store, "SELECT count(*) FROM attempts WHERE run_id = 'old'") == [(0,)]


# --------------------------------------------------------------------------- files and migrations


def test_new_database_is_private_and_current(tmp_path: Path) -> None:
    state_dir = tmp_path / "deep" / "state"
    with HistoryStore.open(state_dir) as store:
        assert store.path == state_dir / DB_NAME
        assert store.schema_version == SCHEMA_VERSION
        begin(store, "r1")
        wal = store.path.with_name(DB_NAME + "-wal")
        if wal.exists():
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((state_dir / DB_NAME).stat().st_mode) == 0o600
    with sqlite3.connect(state_dir / DB_NAME) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_reopening_is_a_no_op_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    with HistoryStore(path) as store:
        run = begin(store, "r1")
    with sqlite3.connect(path) as raw:
        schema = raw.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    with HistoryStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert store.get_run("r1") == here(run)
    with sqlite3.connect(path) as raw:
        assert (
            raw.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
            == schema
        )


def test_newer_schema_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE future (x)")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as caught:
        HistoryStore(path)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1} is newer" in message
    assert f"({SCHEMA_VERSION})" in message
    assert "upgrade agentmaint" in message
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database at all\n" * 100,
        b"SQL",
        b"SQLite format 3\x00" + b"\xff" * 4080,
    ],
    ids=["text", "short", "sqlite-magic-then-garbage"],
)
def test_garbage_file_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / DB_NAME
    path.write_bytes(content)
    with pytest.raises(StoreError, match=str(path)):
        HistoryStore(path)
    assert path.read_bytes() == content


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("readonly", [False, True], ids=["writer", "reader"])
def test_an_empty_history_file_is_refused_untouched(tmp_path: Path, readonly: bool) -> None:
    # A 0-byte history lost its history: a new one would update every host again.
    path = tmp_path / DB_NAME
    path.touch()
    with pytest.raises(StoreError, match=r"empty \(0 bytes\).*delete it") as caught:
        HistoryStore(path, readonly=readonly)
    assert not isinstance(caught.value, MissingHistoryError)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_NAME]


def test_a_new_history_is_created_complete_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "state" / DB_NAME
    with HistoryStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    assert sorted(p.name for p in path.parent.iterdir()) == [DB_NAME]  # no temporary left
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    raw.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _foreign(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as raw:
        for statement in statements:
            raw.execute(statement)
    raw.close()


@pytest.mark.parametrize(
    "statements",
    [
        ("CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('mine')"),
        ("PRAGMA application_id = 1234", "CREATE TABLE runs (id TEXT)", "PRAGMA user_version = 3"),
        ("CREATE TABLE notes (body TEXT)", "PRAGMA user_version = 2"),
        ("PRAGMA application_id = 1234",),
    ],
    ids=["tables-no-version", "foreign-application-id", "version-without-runs", "foreign-empty"],
)
@pytest.mark.parametrize("readonly", [False, True], ids=["writer", "reader"])
def test_another_programs_sqlite_database_is_refused_untouched(
    tmp_path: Path, statements: tuple[str, ...], readonly: bool
) -> None:
    path = tmp_path / DB_NAME
    _foreign(path, *statements)
    before = _sha256(path)
    with pytest.raises(StoreError, match="not an agentmaint history") as caught:
        HistoryStore(path, readonly=readonly)
    assert str(path) in str(caught.value)
    assert not isinstance(caught.value, MissingHistoryError)
    assert _sha256(path) == before


def test_an_older_unmarked_history_is_accepted_and_marked(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    with sqlite3.connect(path) as raw:
        for statement in (sql for m in render(SQLITE) for sql in m):
            raw.execute(statement)
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    raw.close()
    with HistoryStore(path, readonly=True) as reader:
        assert reader.runs() == []
    with HistoryStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    raw.close()


def damage_in_the_middle(path: Path) -> None:
    """2 KiB of (seeded) random bytes written at the middle of the file."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2048] = random.Random(15).randbytes(2048)
    path.write_bytes(bytes(data))


def a_history_with_rows(path: Path, runs: int = 60) -> None:
    """A history of `runs` recorded runs (a few hundred KiB)."""
    with HistoryStore(path) as store:
        for n in range(runs):
            begin(store, f"run-{n:03d}", minutes(n))
            results = [
                TaskResult(
                    host=f"web{h}.example.com",
                    play="Maintain production",
                    task=f"os_packages : upgrade {t} " + "x" * 40,
                    status=TaskStatus.OK,
                    counter=h * 10 + t,
                )
                for h in range(5)
                for t in range(4)
            ]
            record(store, f"run-{n:03d}", results=results, started=minutes(n))


def test_a_history_damaged_in_the_middle_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    a_history_with_rows(path)
    assert integrity_problems(path) == []
    damage_in_the_middle(path)
    before = _sha256(path)
    assert integrity_problems(path)  # what `agentmaint history check` reports
    with pytest.raises(StoreError, match=r"damaged.*restore it from a backup") as caught:
        HistoryStore(path)
    assert str(path) in str(caught.value)
    assert _sha256(path) == before


def _version_2_database(history_url: str | None, state_dir: Path) -> None:
    """A history as agentmaint wrote it at schema version 2, with one run in it."""
    run = (
        "INSERT INTO runs (id, trigger, started, status, pid) "
        "VALUES ('old', 'schedule', '2026-11-23T01:00:00.000000Z', 'successful', 7)"
    )
    if history_url is None:
        state_dir.mkdir(parents=True)
        with sqlite3.connect(state_dir / DB_NAME) as raw:
            for statement in (sql for m in render(SQLITE)[:2] for sql in m):
                raw.execute(statement)
            raw.execute(run)
            raw.execute("PRAGMA user_version = 2")
        return
    import psycopg

    with psycopg.connect(history_url, autocommit=True) as raw:
        for statement in (sql for m in render(POSTGRES)[:2] for sql in m):
            raw.execute(statement)
        raw.execute("CREATE TABLE schema_version (version BIGINT)")
        raw.execute("INSERT INTO schema_version VALUES (2)")
        raw.execute(run)


def test_a_version_2_history_is_migrated_keeping_its_runs(
    history_url: str | None, tmp_path: Path
) -> None:
    _version_2_database(history_url, tmp_path / "state")
    with HistoryStore.from_url(history_url, tmp_path / "state") as store:
        assert store.schema_version == SCHEMA_VERSION == 5
        [old] = store.runs()
        assert (old.id, old.pid, old.controller) == ("old", 7, None)  # recorded before v3
        begin(store, "new", minutes(5))
        assert [(r.id, r.controller) for r in store.runs()] == [("new", HOST), ("old", None)]


# --------------------------------------------------------------------------- read-only


def _pg_table_names(history_url: str) -> list[str]:
    import psycopg

    with psycopg.connect(history_url, autocommit=True) as raw:
        rows = raw.execute(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return sorted(row[0] for row in rows)


def test_a_read_only_store_of_a_missing_history_creates_nothing(
    history_url: str | None, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    with pytest.raises(MissingHistoryError, match="no history yet"):
        open_history(history_url, state_dir, readonly=True)
    assert not state_dir.exists()
    if history_url is not None:
        assert _pg_table_names(history_url) == []


def test_a_read_only_store_reads_and_refuses_every_write(
    history_url: str | None, open_store: Callable[[], HistoryStore], tmp_path: Path
) -> None:
    with open_store() as store:
        begin(store, "done")
        record(store, "done", records=[rec("web1", "os", Action.UPDATE, Outcome.SUCCESS)])
        begin(store, "running")
    files = {p: p.read_bytes() for p in (tmp_path / "state").glob(f"{DB_NAME}*")}
    with open_history(history_url, tmp_path / "state", readonly=True) as reader:
        assert reader.readonly
        assert [r.id for r in reader.runs()] == ["running", "done"]
        assert reader.states(["web1"], ["os"]) == {("web1", "os"): HostComponentState(T0, None)}
        writes: list[Callable[[], object]] = [
            lambda: reader.begin_run(RunRecord("new", "schedule", T0)),
            lambda: record(reader, "running"),
            lambda: reader.prune(minutes(600)),
        ]
        for write in writes:
            with pytest.raises(StoreError, match="read-only"):
                write()
    with open_store() as store:
        assert [r.status for r in store.runs()] == [RunStatus.RUNNING, RunStatus.SUCCESSFUL]
    if history_url is None:  # the database file itself is untouched
        assert (tmp_path / "state" / DB_NAME).read_bytes() == files[tmp_path / "state" / DB_NAME]


def test_a_read_only_store_refuses_an_older_schema_untouched(
    history_url: str | None, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    _version_2_database(history_url, state_dir)
    before = (state_dir / DB_NAME).read_bytes() if history_url is None else None
    with pytest.raises(StoreError, match=r"version 2 is older .* `agentmaint recover FILE`"):
        open_history(history_url, state_dir, readonly=True)
    if history_url is None:
        assert (state_dir / DB_NAME).read_bytes() == before
    else:
        assert "lock_holders" not in _pg_table_names(history_url)  # not migrated
    with open_history(history_url, state_dir) as store:  # a writer upgrades it
        assert store.schema_version == SCHEMA_VERSION
    with open_history(history_url, state_dir, readonly=True) as reader:
        assert [r.id for r in reader.runs()] == ["old"]


def test_sqlite_url_forms(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with HistoryStore.from_url("sqlite:///sub/h.db", state_dir) as store:
        assert store.path == state_dir / "sub" / "h.db"
        assert store.history_url is None
    absolute = tmp_path / "elsewhere" / "h.db"
    with HistoryStore.from_url(f"sqlite:///{absolute}", state_dir) as store:
        assert store.path == absolute
        assert repr(store) == f"HistoryStore({str(absolute)!r})"
    with open_history(None, state_dir) as store:
        assert store.path == state_dir / DB_NAME


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:hunter2@db/x", "unsupported"),
        ("sqlite://relative.db", "unsupported"),
        ("sqlite:///", "names no database file"),
        ("sqlite:///dir/", "names no database file"),
        ("sqlite:///h.db?mode=ro", "no query"),
        ("postgresql://u:hunter2@host:notaport/db", "not a valid URL"),
    ],
)
def test_bad_history_urls_are_refused_without_their_password(
    tmp_path: Path, url: str, message: str
) -> None:
    with pytest.raises(StoreError, match=message) as caught:
        open_history(url, tmp_path)
    assert "hunter2" not in str(caught.value)
    assert not (tmp_path / DB_NAME).exists()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        (
            "postgresql://u:p%40ss@h1:1,h2:2/db?sslmode=require",
            "postgresql://u:***@h1:1,h2:2/db?sslmode=require",
        ),
        ("postgresql://h/db?user=u&password=pw", "postgresql://h/db?user=u&password=***"),
        ("postgresql://u:a@b@h/db", "postgresql://u:***@h/db"),
        ("not a url with secret", "***"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_postgresql_history_without_the_driver_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg -> ImportError
    with pytest.raises(StoreError, match=r"pip install 'agentmaint\[postgresql\]'") as caught:
        open_history("postgresql://u:hunter2@127.0.0.1:1/db", tmp_path)
    assert "hunter2" not in str(caught.value)


# --------------------------------------------------------------------------- PostgreSQL


def _open(url: str, state_dir: Path) -> None:
    HistoryStore.from_url(url, state_dir).close()


def _lock(url: str, state_dir: Path) -> None:
    with environment_locks(state_dir, ["blue"], run_id="r", history_url=url):
        pass


# --------------------------------------------------------------------------- concurrency


def test_second_store_reads_while_first_holds_a_write_transaction(
    open_store: Callable[[], HistoryStore],
) -> None:
    first = open_store()
    begin(first, "r1")
    record(first, "r1", records=[rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1))])
    try:
        with first._writing() as db:  # an open write transaction, uncommitted
            db.execute(
                "INSERT INTO runs (id, trigger, started, status) VALUES ('r2', 'x', ?, 'running')",
                ("2026-11-23T02:00:00.000000Z",),
            )
            with open_store() as second:  # opening does not wait for the writer
                assert [r.id for r in second.runs()] == ["r1"]
                assert len(second.records()) == 1
                assert second.states(["web1"], ["os"]) == {
                    ("web1", "os"): HostComponentState(minutes(1), None)
                }
        with open_store() as third:
            assert [r.id for r in third.runs()] == ["r2", "r1"]
    finally:
        first.close()


def _write_200_records(url: str | None, state_dir: str) -> None:
    """200 runs of one record each, one transaction each."""
    with HistoryStore.from_url(url, Path(state_dir)) as store:
        for i in range(200):
            record(
                store,
                f"r{i:03d}",
                records=[rec(f"host-{i % 20}", "os", Action.UPDATE, Outcome.SUCCESS, minutes(i))],
            )


def test_reader_while_another_process_writes(
    history_url: str | None, open_store: Callable[[], HistoryStore], tmp_path: Path
) -> None:
    with open_store() as store:
        ctx = multiprocessing.get_context("spawn")
        writer = ctx.Process(target=_write_200_records, args=(history_url, str(tmp_path / "state")))
        writer.start()
        reads = 0
        seen: list[int] = []
        try:
            while writer.is_alive() or reads == 0:
                seen.append(len(store.records()))
                store.states([f"host-{i}" for i in range(20)], ["os"])
                store.runs()
                reads += 1
        finally:
            writer.join(timeout=120)
        assert writer.exitcode == 0
        assert seen == sorted(seen)  # readers see whole commits, never going back
        assert len(store.records()) == 200
        states = store.states([f"host-{i}" for i in range(20)], ["os"])
        assert states[("host-19", "os")] == HostComponentState(minutes(199), None)


def _write_one_outcome(url: str | None, state_dir: str, run_id: str, outcome: str) -> None:
    """100 runs of `outcome` for the same 20 (server, os) pairs, one transaction each."""
    parity = 0 if outcome == "success" else 1
    with HistoryStore.from_url(url, Path(state_dir)) as store:
        for i in range(100):
            at = minutes(2 * i + parity)
            record(
                store,
                f"{run_id}-{i:03d}",
                records=[
                    rec(f"host-{h}", "os", Action.UPDATE, Outcome(outcome), at) for h in range(20)
                ],
            )


def test_two_processes_writing_at_once_keep_host_state_right(
    history_url: str | None, open_store: Callable[[], HistoryStore], tmp_path: Path
) -> None:
    """Both recompute host_state of the same 20 keys in every write: no update is lost."""
    ctx = multiprocessing.get_context("spawn")
    writers = [
        ctx.Process(
            target=_write_one_outcome,
            args=(history_url, str(tmp_path / "state"), run_id, outcome),
        )
        for run_id, outcome in (("ok-run", "success"), ("failing-run", "failed"))
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
        assert writer.exitcode == 0
    with open_store() as store:
        servers = [f"host-{h}" for h in range(20)]
        want = HostComponentState(last_success=minutes(198), last_failure=minutes(199))
        assert store.states(servers, ["os"]) == {(s, "os"): want for s in servers}
        assert len(store.records()) == 2 * 100 * 20
        attempts = raw_rows(
            store,
            "SELECT substr(run_id, 1, length(run_id) - 4), count(*) FROM attempts "
            "GROUP BY substr(run_id, 1, length(run_id) - 4)",
        )
        assert sorted(attempts) == [("failing-run", 2000), ("ok-run", 2000)]


# --------------------------------------------------------------------------- export


EXPORT = [
    MaintenanceRecord(
        utc("2026-11-23T01:05"), "testing", "web1", "os", Action.UPDATE, Outcome.SUCCESS, None, "r1"
    ),
    MaintenanceRecord(
        utc("2026-11-23T01:06:30.5"),
        "testing",
        "web2",
        "os",
        Action.UPDATE,
        Outcome.FAILED,
        'apt: "lock", held',
        "r1",
    ),
]


def test_records_to_json() -> None:
    assert json.loads(records_to_json(EXPORT)) == [
        {
            "timestamp": "2026-11-23T01:05:00Z",
            "environment": "testing",
            "server": "web1",
            "component": "os",
            "action": "update",
            "status": "success",
            "error": None,
            "run_id": "r1",
        },
        {
            "timestamp": "2026-11-23T01:06:30.500000Z",
            "environment": "testing",
            "server": "web2",
            "component": "os",
            "action": "update",
            "status": "failed",
            "error": 'apt: "lock", held',
            "run_id": "r1",
        },
    ]
    assert json.loads(records_to_json([])) == []


def test_write_records_csv() -> None:
    out = io.StringIO()
    write_records_csv(EXPORT, out)
    text = out.getvalue()
    assert (
        text.splitlines()[0] == "timestamp,environment,server,component,action,status,error,run_id"
    )
    assert text.splitlines()[1] == "2026-11-23T01:05:00Z,testing,web1,os,update,success,,r1"
    assert list(csv.reader(io.StringIO(text)))[2] == [
        "2026-11-23T01:06:30.500000Z",
        "testing",
        "web2",
        "os",
        "update",
        "failed",
        'apt: "lock", held',
        "r1",
    ]


def test_export_of_stored_records(filled: HistoryStore) -> None:
    stored = filled.records(run_id="r2")
    data = json.loads(records_to_json(stored))
    assert [d["run_id"] for d in data] == ["r2", "r2", "r2"]
    out = io.StringIO()
    write_records_csv(stored, out)
    assert len(out.getvalue().splitlines()) == 4


def test_check_database_reports_a_sound_history_and_a_missing_one(
    history_url: str | None, open_store: Callable[[], HistoryStore], tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    missing = check_database(history_url, state_dir)
    assert (missing.exists, missing.ok) == (False, True)
    with open_store() as store:
        begin(store, "r1")
        record(store, "r1", results=[TaskResult("h1", "p", "t", TaskStatus.OK)])
    report = check_database(history_url, state_dir)
    assert (report.exists, report.ok, report.problems) == (True, True, ())
    assert report.checked


def test_a_cancel_is_requested_only_for_a_running_run(store: HistoryStore) -> None:
    begin(store, "r1")
    assert store.cancel_requested("r1") is False
    assert store.request_cancel("r1") is True
    assert store.cancel_requested("r1") is True
    # The request is not part of what the run records: it ends as it would have.
    record(store, "r1", status=RunStatus.CANCELED)
    run = store.get_run("r1")
    assert run is not None and run.status is RunStatus.CANCELED
    begin(store, "r2")
    record(store, "r2")
    assert store.request_cancel("r2") is False  # already ended
    assert store.cancel_requested("r2") is False
    assert store.request_cancel("no-such-run") is False
    assert store.cancel_requested("no-such-run") is False


def test_step_durations_are_those_of_the_latest_runs_that_attempted_the_component(
    store: HistoryStore,
) -> None:
    play = "Maintain app | testing"
    for n, seconds in enumerate((1.0, 2.0, 3.0, 4.0)):
        run_id, at = f"r{n}", minutes(10 * n)
        begin(store, run_id, at)
        results = [
            TaskResult(
                "web1", play, "Update | app", TaskStatus.CHANGED, duration=seconds, counter=1
            ),
            TaskResult("web1", play, "Healthcheck | app", TaskStatus.OK, counter=2),  # untimed
            TaskResult("web1", "Maintain db | testing", "Update | db", TaskStatus.OK, duration=9.0),
        ]
        # r3 updated another host: it did not attempt app on web1.
        server = "web2" if n == 3 else "web1"
        records = [rec(server, "app", Action.UPDATE, Outcome.SUCCESS, at)]
        record(store, run_id, started=at, results=results, records=records)
    found = store.step_durations(play, "app", ["web1", "web9"], 2)
    assert sorted((d.run_id, d.host, d.task, d.seconds) for d in found) == [
        ("r1", "web1", "Update | app", 2.0),
        ("r2", "web1", "Update | app", 3.0),
    ]
    assert [d.run_id for d in store.step_durations(play, "app", ["web2"], 3)] == ["r3"]
    assert store.step_durations(play, "db", ["web1"], 3) == []  # no record: no attempt
    assert store.step_durations(play, "app", [], 3) == []
