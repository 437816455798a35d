"""Narrowed plans (``run --limit``) and relaunch plans (``run --failed``)."""

from __future__ import annotations

from typing import Any

import pytest

from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import UsageError
from agentmaint.planning.forced import forced_plan
from agentmaint.planning.history import MemoryHistory
from agentmaint.planning.planner import limit_plan, plan
from agentmaint.planning.relaunch import FailedTarget, relaunch_plan
from tests.conftest import utc

AT = utc("2026-11-23T01:30")
WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "24h"}


def _schedule() -> Schedule:
    hosts: dict[str, Any] = {"ansible_connection": "local"}
    return parse_schedule(
        {
            "environments": {
                "web": {"hosts": {"web-1": hosts, "web-2": hosts}, "update_schedule": WINDOW},
                "db": {"hosts": {"db-1": hosts}, "update_schedule": WINDOW},
            },
            "components": {
                "os": {"update_command": "true", "frequency": "weekly"},
                "app": {"update_command": "true", "frequency": "weekly"},
            },
        }
    )


def _due(decisions: Any) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(d.environment, d.component): d.servers for d in decisions.due}


def test_limit_by_pattern_keeps_matching_hosts_and_says_why_not_the_others() -> None:
    schedule = _schedule()
    limited = limit_plan(schedule, plan(schedule, MemoryHistory(), AT), ["web-[2]"])
    assert _due(limited) == {("web", "os"): ("web-2",), ("web", "app"): ("web-2",)}
    web_os = next(d for d in limited.decisions if (d.environment, d.component) == ("web", "os"))
    assert next((h.host, h.due, h.reason) for h in web_os.hosts) == (
        "web-1",
        False,
        "not in --limit",
    )
    assert "limited to web-2 (--limit)" in web_os.reason
    db_os = next(d for d in limited.decisions if (d.environment, d.component) == ("db", "os"))
    assert not db_os.due and db_os.reason == "no due host in --limit"


def test_limit_by_names_on_a_forced_plan() -> None:
    schedule = _schedule()
    limited = limit_plan(schedule, forced_plan(schedule, AT, None, ["app"]), ["db-1", "web-1"])
    assert _due(limited) == {("web", "app"): ("web-1",), ("db", "app"): ("db-1",)}


def test_limit_matching_every_due_host_changes_nothing() -> None:
    schedule = _schedule()
    whole = plan(schedule, MemoryHistory(), AT)
    assert limit_plan(schedule, whole, ["*"]) == whole


def test_a_limit_pattern_matching_no_host_is_refused_by_name() -> None:
    schedule = _schedule()
    with pytest.raises(UsageError, match=r"--limit WEB-\*, dbx: matches no host"):
        limit_plan(schedule, plan(schedule, MemoryHistory(), AT), ["web-1", "WEB-*", "dbx"])


def test_relaunch_plans_each_component_only_where_it_failed() -> None:
    failed = [
        FailedTarget("web", "os", "web-2"),
        FailedTarget("db", "app", "db-1"),
        FailedTarget("web", "gone", "web-1"),  # a component removed since
        FailedTarget("web", "os", "web-9"),  # a host removed since
    ]
    relaunched = relaunch_plan(_schedule(), AT, "r1", failed)
    assert _due(relaunched) == {("web", "os"): ("web-2",), ("db", "app"): ("db-1",)}
    assert {d.reason for d in relaunched.decisions} == {"relaunch of r1"}
    assert relaunched.not_due == ()


def test_relaunch_of_nothing_failed_is_an_empty_plan() -> None:
    assert relaunch_plan(_schedule(), AT, "r1", []).decisions == ()
