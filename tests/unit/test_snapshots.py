"""Snapshots of what `run`, `history`, `runs`, `status` and the demo print, at 80 and 160 columns.

The data are fixed (ids, instants, outcomes: what the demo records, and a 40-host fleet),
so the text is too; the expected text lives under tests/snapshots/ (``UPDATE_SNAPSHOTS=1``
rewrites it). Whatever the snapshot, every line fits the width and every host,
component, action and status is printed whole (`assert_readable`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from agentmaint.cli.console import history_table, result_table
from agentmaint.cli.runs import runs_table, status_table
from agentmaint.planning.planner import Plan
from agentmaint.records import Action, MaintenanceRecord, Outcome, RunRecord, RunStatus
from agentmaint.run.results import HostOutcome, RunResult
from agentmaint.run.stored import HostTally, RunSummary
from tests.snapshot import assert_readable, assert_snapshot, render

AT = datetime(2026, 12, 6, 2, 17, 25, tzinfo=UTC)
RUN_ID = "20261206T021713Z-3f9a1c"
DEMO_HOSTS = ("demo-1", "demo-2", "demo-3")
NOT_REACHED = "not reached: the host failed agent-config earlier in this run"
UNHEALTHY = "version=2 healthy=no"
WIDTHS = [80, 160]

S, F, K = Outcome.SUCCESS, Outcome.FAILED, Outcome.SKIPPED
B, U, H, R = Action.BACKUP, Action.UPDATE, Action.HEALTHCHECK, Action.ROLLBACK


def demo_outcomes() -> tuple[HostOutcome, ...]:
    """What the demo's run ends with: demo-3 fails agent-config, rolls back, skips model."""
    outcomes = []
    for component in ("agent-config", "model"):
        for host in DEMO_HOSTS:
            if host != "demo-3":
                outcomes.append(HostOutcome("demo", component, host, S, {B: S, U: S, H: S}))
            elif component == "agent-config":
                actions = {B: S, U: S, H: F, R: S}
                outcomes.append(HostOutcome("demo", component, host, F, actions, UNHEALTHY))
            else:
                outcomes.append(HostOutcome("demo", component, host, K, {B: K, U: K}, NOT_REACHED))
    return tuple(outcomes)


def demo_records() -> list[MaintenanceRecord]:
    """The demo's closing history (newest first), one record per action and host."""
    records = []
    for second, outcome in enumerate(demo_outcomes()):
        for action, status in outcome.actions.items():
            error = outcome.error if status is not S else None
            records.append(
                MaintenanceRecord(
                    AT + timedelta(seconds=second),
                    outcome.environment,
                    outcome.host,
                    outcome.component,
                    action,
                    status,
                    error,
                )
            )
    return records[::-1]


def run_result(outcomes: tuple[HostOutcome, ...]) -> RunResult:
    run = RunRecord(id=RUN_ID, trigger="manual", started=AT, status=RunStatus.FAILED, finished=AT)
    return RunResult(plan=Plan(at=AT), run=run, outcomes=outcomes)


def forty_hosts() -> tuple[HostOutcome, ...]:
    """A fleet of 40: app-07 fails its health check and rolls back, app-23 is unreachable."""
    outcomes = []
    for n in range(1, 41):
        host = f"app-{n:02d}"
        if host == "app-07":
            actions = {B: S, U: S, H: F, R: S}
            outcome = HostOutcome("production", "app-config", host, F, actions, "unhealthy")
        elif host == "app-23":
            outcome = HostOutcome(
                "production",
                "app-config",
                host,
                Outcome.UNREACHABLE,
                {B: Outcome.UNREACHABLE},
                "ssh: connect to host app-23 port 22: Connection timed out",
            )
        else:
            outcome = HostOutcome("production", "app-config", host, S, {B: S, U: S, H: S})
        outcomes.append(outcome)
    return tuple(outcomes)


DEMO_WHOLE = [*DEMO_HOSTS, "agent-config", "model", "success", "failed", "skipped"]


@pytest.mark.parametrize("width", WIDTHS)
def test_run_of_the_demo(width: int) -> None:
    text = render(result_table(run_result(demo_outcomes()), width), width)
    assert_readable(text, width, [*DEMO_WHOLE, "rollback:success", "healthcheck:failed"])
    assert_snapshot(f"run-demo-{width}", text)


@pytest.mark.parametrize("width", WIDTHS)
def test_run_of_forty_hosts_groups_identical_outcomes(width: int) -> None:
    text = render(result_table(run_result(forty_hosts()), width), width)
    assert_readable(text, width, ["app-01..app-06", "app-07", "app-23", "unreachable"])
    lines = text.splitlines()
    assert len(lines) <= 24  # not 133: the 38 that succeeded share one row
    assert "(38 hosts)" in text and "app-24..app-40" in text
    assert_snapshot(f"run-40-hosts-{width}", text)


@pytest.mark.parametrize("width", WIDTHS)
def test_history_closing_the_demo(width: int) -> None:
    text = render(history_table(demo_records(), width), width)
    assert_readable(text, width, [*DEMO_WHOLE, "backup", "update", "healthcheck", "rollback"])
    assert_snapshot(f"history-demo-{width}", text)


def summaries() -> list[RunSummary]:
    def run(n: int, trigger: str, status: RunStatus, **extra: object) -> RunRecord:
        started = AT - timedelta(days=n)
        return RunRecord(
            id=f"2026120{6 - n}T021713Z-00000{n}",
            trigger=trigger,
            started=started,
            status=status,
            finished=started + timedelta(seconds=42 + 60 * n),
            **extra,  # type: ignore[arg-type]
        )

    return [
        RunSummary(run(0, "demo", RunStatus.FAILED), HostTally(4, 1, 0, 1, 1)),
        RunSummary(run(1, "scheduled", RunStatus.SUCCESSFUL), HostTally(success=6)),
        RunSummary(run(2, "force", RunStatus.SUCCESSFUL, check_mode=True), HostTally(skipped=6)),
        RunSummary(
            run(3, "relaunch", RunStatus.CANCELED, message="canceled by SIGTERM (signal 15)"),
            HostTally(failed=1, needs_attention=1),
        ),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_runs(width: int) -> None:
    text = render(runs_table(summaries(), width), width)
    statuses = ["failed", "successful", "canceled"]
    triggers = ["manual", "scheduled", "relaunch"]
    assert_readable(text, width, [s.run.id for s in summaries()] + statuses + triggers)
    assert "1 rolled back" in text and "1 need attention" in text
    assert_snapshot(f"runs-{width}", text)


def status_rows() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for component in ("agent-config", "model"):
        for host in DEMO_HOSTS:
            failed = host == "demo-3"
            rows.append(
                {
                    "environment": "demo",
                    "component": component,
                    "host": host,
                    "last_success": None if failed else (AT - timedelta(hours=5)).isoformat(),
                    "last_outcome": "rolled_back" if failed else "success",
                    "next_due": (AT + timedelta(days=7)).isoformat(),
                    "due_now": failed,
                    "reason": "failed in this window; retried in the next window"
                    if failed
                    else "weekly, next due from 2026-12-13 02:17 UTC",
                    "needs_attention": failed and component == "model",
                }
            )
    return rows


@pytest.mark.parametrize("width", WIDTHS)
def test_status(width: int) -> None:
    text = render(status_table(status_rows(), AT, width), width)
    assert_readable(text, width, [*DEMO_HOSTS, "agent-config", "model", "success", "rolled"])
    assert_snapshot(f"status-{width}", text)


LONG_HOST = "inference-gpu-node-07.example.com"


def test_status_and_runs_keep_long_host_names_and_ids_whole_at_80() -> None:
    rows = [
        {**row, "host": LONG_HOST if row["host"] == "demo-3" else row["host"]}
        for row in status_rows()
    ]
    rows += [{**rows[0], "environment": "staging"}]  # two environments: a column of its own
    text = render(status_table(rows, AT, 80), 80)
    assert_readable(text, 80, [LONG_HOST, "demo-1", "agent-config", "model", "staging"])
    long_message = "relaunch of 20261201T000000Z-abcdef: " + "x" * 120
    runs = [RunSummary(replace(s.run, message=long_message), s.hosts) for s in summaries()]
    text = render(runs_table(runs, 80), 80)
    assert_readable(text, 80, [s.run.id for s in runs] + ["scheduled", "successful"])
