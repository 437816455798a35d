"""The planner: seed behaviour, windows, frequencies, per-host due, promotion gates, blackouts."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from agentmaint.config.parse import parse_schedule
from agentmaint.errors import UsageError
from agentmaint.planning.history import Attempt, MemoryHistory
from agentmaint.planning.planner import plan
from tests.conftest import utc

SEED_COMPONENTS = ["os", "docker", "python", "models"]


def due_map(
    config: dict[str, Any], instant: str, attempts: list[Attempt] | None = None
) -> dict[tuple[str, str], tuple[str, ...]]:
    schedule = parse_schedule(config)
    result = plan(schedule, MemoryHistory(attempts or []), utc(instant))
    return {(d.environment, d.component): d.servers for d in result.due}


def test_seed_monday_0130_everything_due_in_testing_only(seed_config: dict[str, Any]) -> None:
    due = due_map(seed_config, "2026-11-23T01:30")  # a Monday
    assert due == {("testing", c): ("test-server-1", "test-server-2") for c in SEED_COMPONENTS}


def test_seed_wednesday_0330_production(seed_config: dict[str, Any]) -> None:
    due = due_map(seed_config, "2026-11-25T03:30")  # a Wednesday
    assert due == {
        ("production", c): ("prod-server-1", "prod-server-2", "prod-server-3")
        for c in SEED_COMPONENTS
    }


def test_seed_outside_windows_nothing_due_with_reason(seed_config: dict[str, Any]) -> None:
    schedule = parse_schedule(seed_config)
    result = plan(schedule, MemoryHistory(), utc("2026-11-24T12:00"))
    assert result.due == ()
    reasons = {(d.environment, d.component): d.reason for d in result.not_due}
    assert reasons[("testing", "os")] == "outside window; next opens 2026-11-30 01:00 UTC"
    assert reasons[("production", "os")] == "outside window; next opens 2026-11-25 03:00 UTC"


def test_midnight_window_open_next_day(seed_config: dict[str, Any]) -> None:
    config = copy.deepcopy(seed_config)
    config["environments"]["testing"]["update_schedule"] = {
        "day_of_week": "Monday",
        "time": "23:30",
        "duration": "1h",
    }
    assert ("testing", "os") in due_map(config, "2026-11-24T00:15")  # Tuesday 00:15
    assert ("testing", "os") not in due_map(config, "2026-11-24T00:31")


# Per-host frequency decisions in the seed's Monday 01:00 UTC testing window.
# (id, component, attempts as (server, at, ok), instant, due servers, reason fragment)
FREQUENCY_CASES = [
    (
        "weekly-done-last-week-late",
        "os",
        [("test-server-1", "2026-11-16T01:12", True), ("test-server-2", "2026-11-16T01:12", True)],
        "2026-11-23T01:05",
        ("test-server-1", "test-server-2"),
        "weekly, due on all 2 hosts: last success 2026-11-16 01:12 UTC",
    ),
    (
        "weekly-done-this-window",
        "os",
        [("test-server-1", "2026-11-23T01:02", True), ("test-server-2", "2026-11-23T01:03", True)],
        "2026-11-23T01:30",
        (),
        "weekly, last success 2026-11-23 01:02 UTC, next due from",
    ),
    (
        "weekly-one-host-new",
        "os",
        [("test-server-1", "2026-11-16T01:12", True), ("test-server-1", "2026-11-23T01:10", True)],
        "2026-11-23T01:30",
        ("test-server-2",),
        "due on 1 of 2 hosts: never updated (test-server-2)",
    ),
    (
        "monthly-not-yet",
        "python",
        [("test-server-1", "2026-11-09T01:10", True), ("test-server-2", "2026-11-09T01:10", True)],
        "2026-11-23T01:30",
        (),
        "monthly, last success 2026-11-09 01:10 UTC",
    ),
    (
        "monthly-after-30-days",
        "python",
        [("test-server-1", "2026-10-26T01:10", True), ("test-server-2", "2026-10-26T01:10", True)],
        "2026-11-30T01:30",
        ("test-server-1", "test-server-2"),
        "monthly, due on all 2 hosts",
    ),
    (
        "failed-last-window-retried",
        "os",
        [("test-server-1", "2026-11-23T01:10", True), ("test-server-2", "2026-11-16T01:10", False)],
        "2026-11-23T01:30",
        ("test-server-2",),
        "last attempt failed at 2026-11-16 01:10 UTC",
    ),
    (
        "failed-this-window-not-hammered",
        "os",
        [("test-server-1", "2026-11-23T01:10", True), ("test-server-2", "2026-11-23T01:10", False)],
        "2026-11-23T01:30",
        (),
        "failed at 2026-11-23 01:10 UTC in this window; retried in the next",
    ),
    (
        "failed-after-success-due-next-window",
        "os",
        [
            ("test-server-1", "2026-11-23T01:05", True),
            ("test-server-1", "2026-11-25T10:00", False),
            ("test-server-2", "2026-11-23T01:05", True),
        ],
        "2026-11-30T01:10",
        ("test-server-1", "test-server-2"),
        "last attempt failed",
    ),
    (
        "recovered-after-failure",
        "os",
        [
            ("test-server-1", "2026-11-16T01:05", False),
            ("test-server-1", "2026-11-16T01:40", True),
            ("test-server-2", "2026-11-16T01:40", True),
        ],
        "2026-11-23T01:10",
        ("test-server-1", "test-server-2"),
        "last success",
    ),
]


@pytest.mark.parametrize(
    ("component", "attempts", "instant", "servers", "reason"),
    [c[1:] for c in FREQUENCY_CASES],
    ids=[c[0] for c in FREQUENCY_CASES],
)
def test_frequency_per_host(
    seed_config: dict[str, Any],
    component: str,
    attempts: list[tuple[str, str, bool]],
    instant: str,
    servers: tuple[str, ...],
    reason: str,
) -> None:
    schedule = parse_schedule(seed_config)
    history = MemoryHistory(Attempt(s, component, utc(t), ok) for s, t, ok in attempts)
    result = plan(schedule, history, utc(instant), environments=["testing"], components=[component])
    (decision,) = result.decisions
    assert decision.servers == servers
    assert decision.due is bool(servers)
    assert reason in decision.reason


def test_not_due_reason_names_all_hosts(seed_config: dict[str, Any]) -> None:
    schedule = parse_schedule(seed_config)
    history = MemoryHistory(
        [
            Attempt(h, "os", utc("2026-11-23T01:12"), True)
            for h in ("test-server-1", "test-server-2")
        ]
    )
    (decision,) = plan(
        schedule, history, utc("2026-11-23T01:40"), environments=["testing"], components=["os"]
    ).decisions
    assert decision.reason == (
        "weekly, last success 2026-11-23 01:12 UTC, next due from 2026-11-30 00:12 UTC "
        "on all 2 hosts"
    )


def _gated(seed: dict[str, Any], soak: str = "24h") -> dict[str, Any]:
    config = copy.deepcopy(seed)
    config["environments"]["production"]["promote_from"] = {"environment": "testing", "soak": soak}
    return config


TESTING = ("test-server-1", "test-server-2")
PROD = ("prod-server-1", "prod-server-2", "prod-server-3")
# Production's window: Wednesday 2026-11-25 03:00 UTC. (id, attempts, due?, reason fragment)
GATE_CASES = [
    (
        "never-succeeded",
        [],
        False,
        "blocked by promotion gate: testing has never succeeded on test-server-1, test-server-2",
    ),
    ("soaked", [(h, "2026-11-23T01:10", True) for h in TESTING], True, "due on all 3 hosts"),
    (
        "not-soaked",
        [(h, "2026-11-25T01:10", True) for h in TESTING],
        False,
        "testing has not succeeded for 1d on test-server-1, test-server-2",
    ),
    (
        "one-host-missing",
        [("test-server-1", "2026-11-23T01:10", True)],
        False,
        "has never succeeded on test-server-2",
    ),
    (
        "failure-since",
        [
            *[(h, "2026-11-23T01:10", True) for h in TESTING],
            ("test-server-2", "2026-11-24T09:00", False),
        ],
        False,
        "failed on test-server-2 since its last success",
    ),
    (
        "failure-then-success-soaked",
        [
            ("test-server-1", "2026-11-23T01:10", True),
            ("test-server-2", "2026-11-23T01:05", False),
            ("test-server-2", "2026-11-23T01:40", True),
        ],
        True,
        "due",
    ),
]


@pytest.mark.parametrize(
    ("attempts", "due", "reason"), [c[1:] for c in GATE_CASES], ids=[c[0] for c in GATE_CASES]
)
def test_promotion_gate(
    seed_config: dict[str, Any], attempts: list[tuple[str, str, bool]], due: bool, reason: str
) -> None:
    schedule = parse_schedule(_gated(seed_config))
    history = MemoryHistory(Attempt(s, "os", utc(t), ok) for s, t, ok in attempts)
    (decision,) = plan(
        schedule, history, utc("2026-11-25T03:10"), environments=["production"], components=["os"]
    ).decisions
    assert decision.due is due
    assert reason in decision.reason
    if due:
        assert decision.servers == PROD


def test_gate_is_per_component(seed_config: dict[str, Any]) -> None:
    schedule = parse_schedule(_gated(seed_config))
    history = MemoryHistory([Attempt(h, "os", utc("2026-11-23T01:10"), True) for h in TESTING])
    result = plan(schedule, history, utc("2026-11-25T03:10"), environments=["production"])
    assert [d.component for d in result.due] == ["os"]


BLACKOUT_CASES = [
    (
        "global-date",
        {"blackouts": [{"start": "2026-11-23", "end": "2026-11-23", "reason": "freeze"}]},
        "2026-11-23T01:30",
        "blackout: freeze (until 2026-11-24 00:00 UTC)",
    ),
    (
        "global-datetime-zone",
        {
            "timezone": "Europe/Berlin",
            "blackouts": [
                {"start": "2026-11-23T02:00", "end": "2026-11-23T03:00", "reason": "db migration"}
            ],
        },
        "2026-11-23T01:30",
        "blackout: db migration (until 2026-11-23 03:00 Europe/Berlin)",
    ),
    (
        "env-blackout",
        {"environments.testing.blackouts": [{"start": "2026-11-20", "end": "2026-11-30"}]},
        "2026-11-23T01:30",
        "blackout: no reason given",
    ),
]


@pytest.mark.parametrize(
    ("changes", "instant", "reason"),
    [c[1:] for c in BLACKOUT_CASES],
    ids=[c[0] for c in BLACKOUT_CASES],
)
def test_blackouts(
    seed_config: dict[str, Any], changes: dict[str, Any], instant: str, reason: str
) -> None:
    config = copy.deepcopy(seed_config)
    for key, value in changes.items():
        target = config
        *parents, last = key.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    schedule = parse_schedule(config)
    result = plan(schedule, MemoryHistory(), utc(instant), environments=["testing"])
    assert result.due == ()
    assert all(d.reason.startswith(reason) for d in result.decisions), result.decisions


def test_blackout_ending_reopens(seed_config: dict[str, Any]) -> None:
    config = copy.deepcopy(seed_config)
    config["blackouts"] = [{"start": "2026-11-23T00:00", "end": "2026-11-23T01:15"}]
    assert due_map(config, "2026-11-23T01:10") == {}
    assert len(due_map(config, "2026-11-23T01:20")) == 4


def test_cutoff_reason(seed_config: dict[str, Any]) -> None:
    config = copy.deepcopy(seed_config)
    config["environments"]["testing"]["update_schedule"].update(duration="2h", cutoff="30m")
    assert len(due_map(config, "2026-11-23T02:29")) == 4
    schedule = parse_schedule(config)
    result = plan(schedule, MemoryHistory(), utc("2026-11-23T02:31"), environments=["testing"])
    assert result.due == ()
    assert result.decisions[0].reason.startswith(
        "past the window's cutoff: no new maintenance starts after 2026-11-23 02:30 UTC"
    )


def test_missed_window_is_not_caught_up(seed_config: dict[str, Any]) -> None:
    # Nothing ran in Monday's window (outage); Monday 09:00 nothing is due, whatever history says.
    assert due_map(seed_config, "2026-11-23T09:00") == {}


def test_filters_and_unknown_names(seed_config: dict[str, Any]) -> None:
    schedule = parse_schedule(seed_config)
    result = plan(schedule, MemoryHistory(), utc("2026-11-23T01:30"), components=["os"])
    assert [(d.environment, d.component) for d in result.decisions] == [
        ("testing", "os"),
        ("production", "os"),
    ]
    with pytest.raises(UsageError, match="unknown environment"):
        plan(schedule, MemoryHistory(), utc("2026-11-23T01:30"), environments=["staging"])
    with pytest.raises(UsageError, match="timezone-aware"):
        plan(schedule, MemoryHistory(), datetime(2026, 11, 23, 1, 30))


def test_plan_json_shape(seed_config: dict[str, Any]) -> None:
    schedule = parse_schedule(seed_config)
    data = plan(schedule, MemoryHistory(), utc("2026-11-23T01:30")).to_dict()
    assert data["at"] == "2026-11-23T01:30:00+00:00"
    first = data["due"][0]
    assert {"environment", "component", "servers", "reason"} <= set(first)
    assert first["servers"] == ["test-server-1", "test-server-2"]
    assert {"environment", "component", "reason"} <= set(data["not_due"][0])
    assert "servers" not in data["not_due"][0]
