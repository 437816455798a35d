"""The SQLite history store: round-trips, attempts, states, pruning, migrations, locking."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agentmaint.errors import AgentmaintError, UsageError
from agentmaint.history import HistoryReader, HostComponentState
from agentmaint.parse import parse_schedule
from agentmaint.planner import plan
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
from agentmaint.store import (
    DB_NAME,
    SCHEMA_VERSION,
    HistoryStore,
    StoreError,
    records_to_json,
    write_records_csv,
)
from tests.conftest import utc

T0 = utc("2026-11-23T01:00")


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


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with HistoryStore.open(tmp_path / "state") as opened:
        yield opened


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
    )
    store.begin_run(run)
    got = store.get_run("r1")
    assert got == run
    assert got is not None and got.started.tzinfo == UTC
    assert got.started == utc("2026-11-23T01:00:00.123456")

    store.finish_run("r1", RunStatus.FAILED, finished=minutes(5), runner_rc=2)
    finished = store.get_run("r1")
    assert finished is not None
    assert (finished.status, finished.finished, finished.runner_rc) == (
        RunStatus.FAILED,
        minutes(5),
        2,
    )
    assert finished.message == "starting"  # kept when no new message is given
    store.finish_run("r1", RunStatus.ERROR, finished=minutes(6), runner_rc=None, message="boom")
    again = store.get_run("r1")
    assert again is not None and (again.status, again.runner_rc, again.message) == (
        RunStatus.ERROR,
        None,
        "boom",
    )
    assert store.get_run("nope") is None


def test_minimal_run_round_trip(store: HistoryStore) -> None:
    run = begin(store, "plain")
    assert store.get_run("plain") == run


def test_runs_newest_first_with_status_and_limit(store: HistoryStore) -> None:
    for i, run_id in enumerate(["a", "b", "c", "d"]):
        begin(store, run_id, minutes(i))
    store.finish_run("b", RunStatus.SUCCESSFUL, finished=minutes(10), runner_rc=0)
    store.finish_run("d", RunStatus.SUCCESSFUL, finished=minutes(10), runner_rc=0)
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
    store.add_task_results("r1", [late, full])
    store.add_task_results("r1", [minimal])
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
    store.add_task_results("r1", (r for r in results))  # any iterable, a generator too
    raw = sqlite3.connect(store.path)
    try:
        rows = raw.execute('SELECT start, "end" FROM task_results ORDER BY counter').fetchall()
    finally:
        raw.close()
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
        store.add_task_results("r1", [good, bad])
    naive = TaskResult("web1", "p", "t", TaskStatus.OK, start=datetime(2026, 11, 23, 1, 0))
    with pytest.raises(UsageError, match="timezone-aware"):
        store.add_task_results("r1", [good, naive])
    assert store.task_results("r1") == []  # one transaction: nothing of either batch


def test_host_counts_round_trip_and_replace(store: HistoryStore) -> None:
    begin(store, "r1")
    counts = {
        "web1": HostCounts(ok=5, changed=2, failures=0, skipped=1, rescued=1, ignored=3),
        "web2": HostCounts(unreachable=1),
    }
    store.set_host_counts("r1", counts)
    assert store.host_counts("r1") == counts
    store.set_host_counts("r1", {"web2": HostCounts(ok=1)})
    assert store.host_counts("r1") == {"web1": counts["web1"], "web2": HostCounts(ok=1)}


def test_records_round_trip_carry_run_id(store: HistoryStore) -> None:
    begin(store, "r1")
    original = rec("web1", "os", Action.UPDATE, Outcome.FAILED, minutes(3), error="apt: exit 100")
    store.add_records("r1", [original])
    [got] = store.records()
    assert got == original
    assert got.run_id == "r1"
    assert got.timestamp.tzinfo == UTC
    assert got.to_dict() == original.to_dict()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.add_records("ghost", [rec("h", "os", Action.UPDATE, Outcome.SUCCESS)]),
            "ghost",
        ),
        (lambda s: s.add_task_results("ghost", []), "ghost"),
        (lambda s: s.set_host_counts("ghost", {}), "ghost"),
        (lambda s: s.finish_run("ghost", RunStatus.FAILED, finished=T0, runner_rc=1), "ghost"),
        (lambda s: s.begin_run(RunRecord("r1", "schedule", T0)), "already recorded"),
    ],
    ids=["records", "task-results", "host-counts", "finish", "duplicate-run"],
)
def test_writes_for_unknown_or_duplicate_runs_raise(
    store: HistoryStore, call: Any, message: str
) -> None:
    begin(store, "r1")
    with pytest.raises(StoreError, match=message):
        call(store)


def test_naive_datetimes_are_refused(store: HistoryStore) -> None:
    with pytest.raises(UsageError, match="timezone-aware"):
        store.begin_run(RunRecord("r1", "schedule", datetime(2026, 11, 23, 1, 0)))
    assert store.runs() == []


def test_store_errors_are_agentmaint_and_runtime_errors() -> None:
    assert issubclass(StoreError, AgentmaintError)
    assert issubclass(StoreError, RuntimeError)


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
    store.add_records(
        "r1", [rec("web1", "os", action, status, minutes(m)) for action, status, m in records]
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


def test_attempt_added_in_two_calls_rollback_flips_it_to_failure(store: HistoryStore) -> None:
    begin(store, "r1")
    store.add_records(
        "r1",
        [
            rec("web1", "os", Action.BACKUP, Outcome.SUCCESS, minutes(1)),
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(2)),
        ],
    )
    assert store.states(["web1"], ["os"]) == {("web1", "os"): HostComponentState(minutes(2), None)}
    store.add_records(
        "r1",
        [
            rec("web1", "os", Action.HEALTHCHECK, Outcome.FAILED, minutes(3)),
            rec("web1", "os", Action.ROLLBACK, Outcome.SUCCESS, minutes(4)),
        ],
    )
    assert store.states(["web1"], ["os"]) == {("web1", "os"): HostComponentState(None, minutes(4))}
    assert len(store.records(run_id="r1")) == 4


def test_skipped_records_become_an_attempt_when_the_update_arrives(store: HistoryStore) -> None:
    begin(store, "r1")
    store.add_records("r1", [rec("web1", "os", Action.BACKUP, Outcome.SKIPPED, minutes(1))])
    assert store.states(["web1"], ["os"]) == {}
    store.add_records("r1", [rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(2))])
    assert store.states(["web1"], ["os"]) == {("web1", "os"): HostComponentState(minutes(2), None)}


# --------------------------------------------------------------------------- states()


def test_states_latest_success_and_failure_across_runs_with_filters(store: HistoryStore) -> None:
    begin(store, "r1", minutes(0))
    store.add_records(
        "r1",
        [
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1)),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1)),
            rec("web1", "models", Action.UPDATE, Outcome.FAILED, minutes(1)),
            rec("db1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1), environment="prod"),
        ],
    )
    begin(store, "r2", minutes(100))
    store.add_records(
        "r2",
        [
            rec("web1", "os", Action.UPDATE, Outcome.FAILED, minutes(101)),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, minutes(102)),
            rec("web1", "models", Action.UPDATE, Outcome.SUCCESS, minutes(103)),
        ],
    )
    begin(store, "r3", minutes(200))
    store.add_records("r3", [rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(201))])

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
    store.add_records(
        "r1",
        [rec(s, "os", Action.UPDATE, Outcome.SUCCESS, minutes(i)) for i, s in enumerate(servers)],
    )
    wanted = servers[::2]
    states = store.states(wanted, ["os"])
    assert len(states) == len(wanted)
    assert states[("host-00010", "os")] == HostComponentState(minutes(10), None)


def test_store_is_a_history_reader_for_the_planner(
    store: HistoryStore, seed_config: dict[str, Any]
) -> None:
    reader: HistoryReader = store
    begin(store, "r1", utc("2026-11-23T01:00"))
    store.add_records(
        "r1",
        [
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


def test_bulk_states_for_ten_thousand_servers_and_ten_components(tmp_path: Path) -> None:
    servers = [f"host-{i:05d}" for i in range(10_000)]
    components = [f"comp{c}" for c in range(10)]
    with HistoryStore(tmp_path / DB_NAME) as store:
        begin(store, "bulk")
        store.add_records(
            "bulk",
            (
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
    store.add_records(
        "r1",
        [
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1)),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, minutes(2)),
            rec("web1", "models", Action.UPDATE, Outcome.FAILED, minutes(2), error="e"),
        ],
    )
    begin(store, "r2", minutes(10))
    store.add_records(
        "r2",
        [
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
    store.add_records(
        "old",
        [
            rec("web1", "os", Action.UPDATE, Outcome.FAILED, utc("2026-01-01T00:05")),
            rec("web2", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-01-01T00:05")),
        ],
    )
    store.add_task_results("old", [TaskResult("web1", "p", "t", TaskStatus.FAILED)])
    store.set_host_counts("old", {"web1": HostCounts(failures=1)})
    store.finish_run("old", RunStatus.FAILED, finished=utc("2026-01-01T00:10"), runner_rc=2)

    begin(store, "stuck", utc("2026-01-02T00:00"))  # still running: never pruned
    store.add_records(
        "stuck", [rec("web3", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-01-02T00:05"))]
    )

    begin(store, "new", utc("2026-06-01T00:00"))
    store.add_records(
        "new",
        [
            rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, utc("2026-06-01T00:05")),
            rec("web2", "os", Action.UPDATE, Outcome.SKIPPED, utc("2026-06-01T00:05")),
        ],
    )
    store.set_host_counts("new", {"web1": HostCounts(ok=3)})
    store.finish_run("new", RunStatus.SUCCESSFUL, finished=utc("2026-06-01T00:10"), runner_rc=0)

    before = store.states(["web1", "web2", "web3"], ["os"])
    assert before[("web1", "os")].last_failure == utc("2026-01-01T00:05")

    pruned = store.prune(utc("2026-03-01T00:00"))
    assert [r.id for r in pruned] == ["old"]
    assert pruned[0].artifact_dir == old.artifact_dir
    assert pruned[0].status == RunStatus.FAILED

    assert store.get_run("old") is None
    assert [r.id for r in store.runs()] == ["new", "stuck"]
    assert store.task_results("old") == []
    assert store.host_counts("old") == {}
    assert store.records(run_id="old") == []
    assert store.host_counts("new") == {"web1": HostCounts(ok=3)}
    assert len(store.records()) == 3
    assert store.states(["web1", "web2", "web3"], ["os"]) == {
        ("web1", "os"): HostComponentState(utc("2026-06-01T00:05"), None),
        ("web3", "os"): HostComponentState(utc("2026-01-02T00:05"), None),
    }
    # attempts of the pruned run are gone too: a second prune finds nothing to do.
    assert store.prune(utc("2026-03-01T00:00")) == []
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("SELECT count(*) FROM attempts WHERE run_id = 'old'").fetchone() == (0,)


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
        assert store.get_run("r1") == run
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


def test_empty_file_becomes_a_database(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    path.touch()
    with HistoryStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION


# --------------------------------------------------------------------------- concurrency


def test_second_store_reads_while_first_holds_a_write_transaction(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    first = HistoryStore(path)
    begin(first, "r1")
    first.add_records("r1", [rec("web1", "os", Action.UPDATE, Outcome.SUCCESS, minutes(1))])
    try:
        with first._writing() as conn:  # an open write transaction, uncommitted
            conn.execute(
                "INSERT INTO runs (id, trigger, started, status) VALUES ('r2', 'x', ?, 'running')",
                ("2026-11-23T02:00:00.000000Z",),
            )
            with HistoryStore(path) as second:  # opening does not wait for the writer
                assert [r.id for r in second.runs()] == ["r1"]
                assert len(second.records()) == 1
                assert second.states(["web1"], ["os"]) == {
                    ("web1", "os"): HostComponentState(minutes(1), None)
                }
        with HistoryStore(path) as third:
            assert [r.id for r in third.runs()] == ["r2", "r1"]
    finally:
        first.close()


def _write_200_records(path: str) -> None:
    with HistoryStore(Path(path)) as store:
        for i in range(200):
            store.add_records(
                "r1",
                [rec(f"host-{i % 20}", "os", Action.UPDATE, Outcome.SUCCESS, minutes(i))],
            )


def test_reader_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    with HistoryStore(path) as store:
        begin(store, "r1")
        ctx = multiprocessing.get_context("spawn")
        writer = ctx.Process(target=_write_200_records, args=(str(path),))
        writer.start()
        reads = 0
        seen: list[int] = []
        try:
            while writer.is_alive() or reads == 0:
                seen.append(len(store.records(run_id="r1")))
                store.states([f"host-{i}" for i in range(20)], ["os"])
                store.runs()
                reads += 1
        finally:
            writer.join(timeout=120)
        assert writer.exitcode == 0
        assert seen == sorted(seen)  # readers see whole commits, never going back
        assert len(store.records(run_id="r1")) == 200
        states = store.states([f"host-{i}" for i in range(20)], ["os"])
        assert states[("host-19", "os")] == HostComponentState(minutes(199), None)


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
