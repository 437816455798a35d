"""The run and history tables read well at 80 columns and at 160.

At 80 columns every host, component, action and status is printed whole (never
``demo…``/``succe…``) and the error is wrapped, not dropped; at 160 each row is one line.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from rich.table import Table

from agentmaint.cli.console import history_table, result_table
from agentmaint.cli.runs import run_heading
from agentmaint.planning.planner import Plan
from agentmaint.records import Action, MaintenanceRecord, Outcome, RunRecord, RunStatus
from agentmaint.run.results import HostOutcome, RunResult

AT = datetime(2026, 12, 6, 2, 17, 25, tzinfo=UTC)
ERROR = "not reached: the host failed agent-config earlier in this run"
HOSTS = ("inference-gpu-node-07.example.com", "demo-3")
COMPONENTS = ("agent-config", "model-weights")


def render(table: Table, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return [line.rstrip() for line in console.export_text().splitlines()]


def records(environments: tuple[str, ...]) -> list[MaintenanceRecord]:
    return [
        MaintenanceRecord(AT, env, host, component, action, status, error)
        for env in environments
        for host in HOSTS
        for component in COMPONENTS
        for action, status, error in (
            (Action.HEALTHCHECK, Outcome.FAILED, "healthcheck failed: version=2 healthy=no"),
            (Action.UPDATE, Outcome.SKIPPED, ERROR),
        )
    ]


def result(environments: tuple[str, ...]) -> RunResult:
    run = RunRecord(
        id="20261206T021718Z-125316",
        trigger="manual",
        started=AT,
        status=RunStatus.FAILED,
        finished=AT,
    )
    outcomes = tuple(
        HostOutcome(
            env,
            component,
            host,
            Outcome.FAILED,
            {
                Action.BACKUP: Outcome.SUCCESS,
                Action.UPDATE: Outcome.SUCCESS,
                Action.HEALTHCHECK: Outcome.FAILED,
                Action.ROLLBACK: Outcome.SUCCESS,
            },
            ERROR,
        )
        for env in environments
        for host in HOSTS
        for component in COMPONENTS
    )
    return RunResult(plan=Plan(at=AT, decisions=()), run=run, outcomes=outcomes)


def whole_words(lines: list[str]) -> set[str]:
    return {word for line in lines for word in line.replace("│", " ").split()}


@pytest.mark.parametrize("environments", [("demo",), ("production", "staging")])
def test_history_keeps_host_component_action_and_status_whole_at_80(
    environments: tuple[str, ...],
) -> None:
    lines = render(history_table(records(environments), 80), 80)
    assert max(len(line) for line in lines) <= 80
    words = whole_words(lines)
    assert set(HOSTS) | set(COMPONENTS) <= words
    assert {"healthcheck", "update", "failed", "skipped"} <= words
    assert "…" not in "".join(lines)
    assert "agent-config" in words and "earlier" in words  # the error wraps, it is not cut


@pytest.mark.parametrize("environments", [("demo",), ("production", "staging")])
def test_run_table_keeps_host_component_actions_whole_at_80(
    environments: tuple[str, ...],
) -> None:
    lines = render(result_table(result(environments), 80), 80)
    assert max(len(line) for line in lines) <= 80
    words = whole_words(lines)
    assert set(HOSTS) | set(COMPONENTS) <= words
    for action in ("backup:success", "update:success", "healthcheck:failed", "rollback:success"):
        assert action in words
    assert "…" not in "".join(lines)


def test_at_160_columns_the_columns_sit_side_by_side() -> None:
    rows = records(("production", "staging"))
    lines = render(history_table(rows, 160), 160)
    headers = [cell.strip() for cell in lines[2].split("┃")[1:-1]]
    assert headers == [
        "Environment",
        "Time (UTC)",
        "Server",
        "Component",
        "Action",
        "Status",
        "Error",
    ]
    # Each record's facts on its first line: environment, time, host, component, action, status.
    body = [line for line in lines if any(host in line for host in HOSTS)]
    assert len(body) == len(rows)
    for line, record in zip(body, rows, strict=True):
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        assert cells[2:6] == [
            record.server,
            record.component,
            record.action.value,
            record.status.value,
        ]


def test_one_environment_is_said_once_in_the_title() -> None:
    lines = render(history_table(records(("demo",)), 160), 160)
    assert lines[0] == "History of 2026-12-06 (environment demo)"
    assert "Environment" not in lines[2]


def test_show_heading_fits_80_columns() -> None:
    """``show``'s heading: two lines within 80 columns (a terminal never cuts a word)."""
    run = RunRecord(
        id="20261206T051147Z-3b69e3",
        trigger="relaunch",
        started=AT,
        status=RunStatus.INTERRUPTED,
        finished=AT + timedelta(seconds=8),
    )
    lines = run_heading(run)
    assert lines[0] == f"run {run.id}: {run.status.value}"
    assert lines[1].startswith("trigger relaunch")
    assert lines[1].endswith(", started 2026-12-06 02:17:25 UTC, finished 02:17:33")
    assert all(len(line) <= 80 for line in lines)
