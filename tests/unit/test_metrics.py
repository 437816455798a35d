"""The metrics: the schedule's section, the exposition of a history, the textfile's safety.

The exposition is read back with `prometheus_client`'s own parser. Real runs, PostgreSQL
and promtool are in tests/integration/test_metrics.py.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentmaint.cli import main
from agentmaint.config.schedule import Schedule
from agentmaint.errors import MetricsError, ScheduleError
from agentmaint.history.store import DB_NAME, HistoryStore
from agentmaint.metrics import (
    HostStatus,
    MetricsWriter,
    exposition,
    read_sample,
    registry_of,
    take_sample,
    write_metrics,
    write_textfile,
)
from agentmaint.records import Action, Outcome, RunStatus
from agentmaint.run.results import RunResult
from tests.schedules import MakeSchedule, always_open, local_hosts
from tests.unit.test_store import T0, begin, minutes, rec, record

#: A Monday: the window below (Mondays 01:00-03:00 UTC) is open at 01:30.
MONDAY_0130 = datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
WINDOW = {"day_of_week": "monday", "time": "01:00", "duration": "2h", "timezone": "UTC"}

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> tuple[dict[str, str], Series]:
    """(type of each family, value of each sample) of an exposition."""
    types: dict[str, str] = {}
    values: Series = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in values, f"duplicate series {key}"
            values[key] = sample.value
    return types, values


def value(values: Series, name: str, **labels: str) -> float:
    return values[(name, tuple(sorted(labels.items())))]


def document(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "environments": {
            "fleet": {"hosts": local_hosts("h1", "h2"), "update_schedule": WINDOW},
            "lab": {"hosts": local_hosts("h3"), "update_schedule": WINDOW},
        },
        "components": {
            "app": {"update_command": "true", "frequency": "weekly"},
            "db": {"update_command": "true", "frequency": "daily"},
        },
        "metrics": {"textfile": "metrics/agentmaint.prom"},
        **extra,
    }


@pytest.fixture
def schedule(make_schedule: MakeSchedule, tmp_path: Path) -> Schedule:
    return make_schedule(document(tmp_path))


def fill(schedule: Schedule) -> None:
    """h1/app succeeded then failed and was rolled back; h3/db unreachable; a run running."""
    with HistoryStore.open(schedule.state_dir) as store:
        record(
            store,
            "r1",
            environments=("fleet",),
            finished=T0 + timedelta(minutes=12, seconds=30),
            records=[
                rec("h1", "app", Action.UPDATE, Outcome.SUCCESS, minutes(5), environment="fleet"),
                rec("h2", "app", Action.UPDATE, Outcome.SUCCESS, minutes(6), environment="fleet"),
            ],
        )
        record(
            store,
            "r2",
            status=RunStatus.FAILED,
            environments=("fleet", "lab"),
            started=minutes(20),
            finished=minutes(25),
            records=[
                rec("h1", "app", Action.UPDATE, Outcome.FAILED, minutes(21), environment="fleet"),
                rec(
                    "h1", "app", Action.ROLLBACK, Outcome.SUCCESS, minutes(22), environment="fleet"
                ),
                rec("h3", "db", Action.UPDATE, Outcome.UNREACHABLE, minutes(23), environment="lab"),
            ],
        )
        begin(store, "r3", started=minutes(40), environments=("lab",))


# --------------------------------------------------------------------------- the schedule


def test_the_textfile_is_relative_to_the_schedule_file(schedule: Schedule, tmp_path: Path) -> None:
    assert schedule.metrics is not None
    assert schedule.metrics.textfile == tmp_path / "metrics" / "agentmaint.prom"


def test_without_the_section_no_textfile_is_written(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    bare = document(tmp_path)
    del bare["metrics"]
    schedule = make_schedule(bare)
    assert schedule.metrics is None
    assert write_metrics(schedule) is None
    assert not (tmp_path / "metrics").exists()


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (
            {"textfile": "agentmaint.txt"},
            "metrics.textfile: 'agentmaint.txt' must end in .prom (node_exporter's textfile "
            "collector reads only *.prom files)",
        ),
        ({}, "metrics.textfile: is required"),
        ({"textfile": "a.prom", "port": 9100}, "metrics.port: unknown key (known: textfile)"),
    ],
)
def test_a_bad_metrics_section_is_refused_with_its_path(
    make_schedule: MakeSchedule, tmp_path: Path, metrics: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        make_schedule(document(tmp_path, metrics=metrics))
    assert [str(p) for p in caught.value.problems] == [expected]


# --------------------------------------------------------------------------- the exposition


def test_the_exposition_is_the_history_and_the_plan(schedule: Schedule) -> None:
    fill(schedule)
    with HistoryStore.open(schedule.state_dir) as store:
        sample = take_sample(schedule, store, MONDAY_0130)
    types, values = parse(exposition(sample))
    assert types == {
        "agentmaint_info": "gauge",
        "agentmaint_window_open": "gauge",
        "agentmaint_due": "gauge",
        "agentmaint_interval_seconds": "gauge",
        "agentmaint_last_success_timestamp_seconds": "gauge",
        "agentmaint_last_run_timestamp_seconds": "gauge",
        "agentmaint_last_run_status": "gauge",
        "agentmaint_run_duration_seconds": "gauge",
        "agentmaint_runs": "counter",
        "agentmaint_rollbacks": "counter",
    }
    version = importlib.metadata.version("agentmaint")
    assert value(values, "agentmaint_info", version=version) == 1
    assert value(values, "agentmaint_window_open", environment="fleet") == 1
    ts = "agentmaint_last_success_timestamp_seconds"
    assert value(values, ts, environment="fleet", component="app", host="h1") == (
        minutes(5).timestamp()
    )
    assert value(values, ts, environment="fleet", component="app", host="h2") == (
        minutes(6).timestamp()
    )
    assert value(values, ts, environment="lab", component="db", host="h3") == 0  # never
    last = "agentmaint_last_run_timestamp_seconds"
    assert value(values, last, environment="fleet", component="app", host="h1") == (
        minutes(22).timestamp()
    )
    assert value(values, last, environment="fleet", component="db", host="h1") == 0
    expected_status = {
        ("fleet", "app", "h1"): HostStatus.ROLLED_BACK,
        ("fleet", "app", "h2"): HostStatus.SUCCESS,
        ("lab", "db", "h3"): HostStatus.UNREACHABLE,
    }
    for env, hosts in (("fleet", ("h1", "h2")), ("lab", ("h3",))):
        for component in ("app", "db"):
            for host in hosts:
                current = expected_status.get((env, component, host), HostStatus.NEVER)
                for status in HostStatus:
                    assert value(
                        values,
                        "agentmaint_last_run_status",
                        environment=env,
                        component=component,
                        host=host,
                        status=status.value,
                    ) == (1 if status is current else 0), (env, component, host, status)
    # Due now: h1/app failed in this window (retried in the next one), h2/app was updated in
    # it; db (never updated) is due everywhere, h3's unreachable attempt failed in this window.
    assert value(values, "agentmaint_due", environment="fleet", component="app") == 0
    assert value(values, "agentmaint_due", environment="fleet", component="db") == 2
    assert value(values, "agentmaint_due", environment="lab", component="db") == 0
    assert value(values, "agentmaint_interval_seconds", environment="lab", component="db") == (
        86400
    )
    duration = "agentmaint_run_duration_seconds"
    assert value(values, duration, environment="fleet") == 300  # r2's, the last finished
    assert value(values, duration, environment="lab") == 300
    runs = "agentmaint_runs_total"
    assert value(values, runs, environment="fleet", status="successful") == 1
    assert value(values, runs, environment="fleet", status="failed") == 1
    assert value(values, runs, environment="lab", status="failed") == 1
    assert value(values, runs, environment="lab", status="successful") == 0
    assert all(status != "running" for (_, labels) in values for key, status in labels)
    rollbacks = "agentmaint_rollbacks_total"
    assert value(values, rollbacks, environment="fleet", component="app") == 1
    assert value(values, rollbacks, environment="lab", component="app") == 0
    # No run id or instant anywhere in a label.
    labels = {v for (_, pairs) in values for _, v in pairs}
    assert not any(run_id in labels for run_id in ("r1", "r2", "r3"))


def test_outside_the_window_nothing_is_due_and_the_window_is_closed(schedule: Schedule) -> None:
    tuesday = MONDAY_0130 + timedelta(days=1)
    _, values = parse(exposition(take_sample(schedule, None, tuesday)))
    assert value(values, "agentmaint_window_open", environment="fleet") == 0
    assert value(values, "agentmaint_due", environment="fleet", component="db") == 0
    # An empty history: every series is there, at zero, and every host "never".
    assert value(values, "agentmaint_runs_total", environment="lab", status="failed") == 0
    status = "agentmaint_last_run_status"
    assert value(values, status, environment="lab", component="db", host="h3", status="never")
    assert not any(name == "agentmaint_run_duration_seconds" for name, _ in values)


def test_counters_keep_an_environment_only_the_history_names(schedule: Schedule) -> None:
    with HistoryStore.open(schedule.state_dir) as store:
        record(
            store,
            "old",
            status=RunStatus.FAILED,
            environments=("retired",),
            records=[rec("x1", "app", Action.ROLLBACK, Outcome.SUCCESS, T0, environment="retired")],
        )
        sample = take_sample(schedule, store, MONDAY_0130)
    _, values = parse(exposition(sample))
    assert value(values, "agentmaint_runs_total", environment="retired", status="failed") == 1
    assert value(values, "agentmaint_rollbacks_total", environment="retired", component="app") == 1
    assert not any(
        dict(labels).get("host") == "x1" for name, labels in values if "last_run" in name
    )


def test_metrics_read_the_history_and_never_write_it(schedule: Schedule) -> None:
    # No history yet: read as empty, and none is created.
    read_sample(schedule, MONDAY_0130)
    assert not (schedule.state_dir / DB_NAME).exists()
    fill(schedule)
    before = (schedule.state_dir / DB_NAME).stat().st_mtime_ns
    sample = read_sample(schedule, MONDAY_0130)
    assert sample.history.run_counts
    assert (schedule.state_dir / DB_NAME).stat().st_mtime_ns == before


# --------------------------------------------------------------------------- the textfile


def test_the_textfile_holds_the_exposition_and_nothing_else_is_left(schedule: Schedule) -> None:
    assert schedule.metrics is not None
    directory = schedule.metrics.textfile.parent
    directory.mkdir()
    fill(schedule)
    assert write_metrics(schedule, at=MONDAY_0130) == schedule.metrics.textfile
    text = schedule.metrics.textfile.read_text()
    assert text == exposition(read_sample(schedule, MONDAY_0130))
    assert os.listdir(directory) == ["agentmaint.prom"]
    # Rewritten in place of the old file (a new inode: renamed over it, not truncated).
    inode = schedule.metrics.textfile.stat().st_ino
    write_metrics(schedule, at=MONDAY_0130 + timedelta(days=1))
    assert schedule.metrics.textfile.stat().st_ino != inode
    _, values = parse(schedule.metrics.textfile.read_text())
    assert value(values, "agentmaint_window_open", environment="fleet") == 0
    assert os.listdir(directory) == ["agentmaint.prom"]


def test_a_symlink_in_place_of_the_textfile_is_refused_and_not_followed(
    schedule: Schedule, tmp_path: Path
) -> None:
    assert schedule.metrics is not None
    schedule.metrics.textfile.parent.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("precious\n")
    schedule.metrics.textfile.symlink_to(elsewhere)
    with pytest.raises(MetricsError, match="is a symlink; agentmaint never writes through one"):
        write_metrics(schedule, at=MONDAY_0130)
    assert elsewhere.read_text() == "precious\n"
    assert schedule.metrics.textfile.is_symlink()
    assert sorted(os.listdir(schedule.metrics.textfile.parent)) == ["agentmaint.prom"]


def test_a_symlinked_directory_is_refused_and_not_followed(
    schedule: Schedule, tmp_path: Path
) -> None:
    assert schedule.metrics is not None
    target = tmp_path / "target"
    target.mkdir()
    schedule.metrics.textfile.parent.symlink_to(target)
    with pytest.raises(MetricsError, match="is not a real directory"):
        write_metrics(schedule, at=MONDAY_0130)
    assert os.listdir(target) == []


@pytest.mark.parametrize("kind", ["missing directory", "directory in place of the file"])
def test_a_textfile_that_cannot_be_written_says_why(schedule: Schedule, kind: str) -> None:
    assert schedule.metrics is not None
    if kind == "directory in place of the file":
        schedule.metrics.textfile.mkdir(parents=True)
        message = "is not a regular file"
    else:
        message = "is not a real directory"
    with pytest.raises(MetricsError, match=message) as caught:
        write_metrics(schedule, at=MONDAY_0130)
    assert str(schedule.metrics.textfile) in str(caught.value)


def test_write_textfile_writes_any_registry(schedule: Schedule, tmp_path: Path) -> None:
    path = tmp_path / "x.prom"
    write_textfile(path, registry_of(take_sample(schedule, None, MONDAY_0130)))
    assert "agentmaint_info" in path.read_text()


# --------------------------------------------------------------------------- the observer


def test_the_observer_writes_at_the_end_of_a_run(schedule: Schedule) -> None:
    assert schedule.metrics is not None
    schedule.metrics.textfile.parent.mkdir()
    fill(schedule)
    with HistoryStore.open(schedule.state_dir) as store:
        writer = MetricsWriter(schedule, store, at=MONDAY_0130)
        sample = take_sample(schedule, store, MONDAY_0130)
        writer.run_finished(RunResult(plan=sample.plan))
    assert (writer.written, writer.error) == (schedule.metrics.textfile, None)
    assert schedule.metrics.textfile.read_text() == exposition(sample)


def test_the_observer_logs_a_refused_textfile_and_does_not_fail_the_run(
    schedule: Schedule, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert schedule.metrics is not None
    schedule.metrics.textfile.parent.mkdir()
    schedule.metrics.textfile.symlink_to(tmp_path / "elsewhere")
    with HistoryStore.open(schedule.state_dir) as store:
        writer = MetricsWriter(schedule, store)
        with caplog.at_level(logging.ERROR, logger="agentmaint.metrics"):
            writer.run_finished(RunResult(plan=take_sample(schedule, store).plan))
    assert writer.written is None
    assert writer.error is not None and "is a symlink" in writer.error
    assert [r.getMessage() for r in caplog.records] == [f"metrics not written: {writer.error}"]
    assert not (tmp_path / "elsewhere").exists()


# --------------------------------------------------------------------------- the command


def test_the_metrics_command_prints_the_exposition_and_writes_nothing(
    schedule: Schedule, capsys: pytest.CaptureFixture[str]
) -> None:
    assert schedule.metrics is not None
    fill(schedule)
    before = (schedule.state_dir / DB_NAME).stat().st_mtime_ns
    code = main(["metrics", schedule.source, "--at", MONDAY_0130.isoformat()])
    out = capsys.readouterr().out
    assert code == 0
    assert out == exposition(read_sample(schedule, MONDAY_0130))
    assert not schedule.metrics.textfile.parent.exists()  # printed, not written
    assert (schedule.state_dir / DB_NAME).stat().st_mtime_ns == before


def test_the_metrics_command_of_a_schedule_without_a_history(
    make_schedule: MakeSchedule, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule = make_schedule(
        always_open(local_hosts("h1"), {"app": {"update_command": "true", "frequency": "daily"}})
    )
    assert main(["metrics", schedule.source]) == 0
    _, values = parse(capsys.readouterr().out)
    assert value(values, "agentmaint_due", environment="fleet", component="app") == 1
    assert not (schedule.state_dir / DB_NAME).exists()


def test_the_metrics_command_with_a_bad_instant_exits_2(
    schedule: Schedule, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["metrics", schedule.source, "--at", "tuesday"]) == 2
    assert "--at: 'tuesday' is not an ISO 8601 date-time" in capsys.readouterr().err
