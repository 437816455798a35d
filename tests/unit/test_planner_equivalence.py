"""The planner's one-loop host decisions give what the rules, applied one host at a time, give.

`plan()` decides for every host in one loop, formats each instant once per plan and
builds its `HostDecision`s without the dataclass's ``__init__`` (issue 19: 10,000 hosts x
10 components). The reference below is the planner as it was before: one function per
host, its reason formatted there, the hosts then grouped by reason. For random histories
(instants in UTC, at a fixed offset and in a zone with a repeated hour) both must agree
on every decision, its reason and every host's. `plan()` pauses the cyclic garbage
collector while it works and leaves it as it was.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Component
from agentmaint.errors import StoreError
from agentmaint.planning import planner
from agentmaint.planning.history import Attempt, HostComponentState, MemoryHistory
from agentmaint.planning.planner import HostDecision, format_instant, plan
from agentmaint.planning.windows import Window

HOSTS = ["h0", "h1", "h2"]
COMPONENTS = {"os": "daily", "db": "weekly", "app": "12h"}
BERLIN = ZoneInfo("Europe/Berlin")
# Berlin's clocks go back at 03:00 on 2026-10-25: 02:30 happens twice (fold 0, then 1).
FOLDS = [datetime(2026, 10, 25, 2, 30, fold=fold, tzinfo=BERLIN) for fold in (0, 1)]
SCHEDULE = parse_schedule(
    {
        "timezone": "UTC",
        "environments": {
            "lab": {
                "servers": HOSTS,
                "update_schedule": {"day_of_week": "daily", "time": "01:00", "duration": "4h"},
            }
        },
        "components": {
            name: {"update_command": f"update {name}", "frequency": frequency}
            for name, frequency in COMPONENTS.items()
        },
    }
)

# The planning instant: inside one of the daily windows (01:00-05:00 UTC).
planning_instants = st.builds(
    lambda day, minute: datetime(2026, 10, 20, 1, tzinfo=UTC) + timedelta(days=day, minutes=minute),
    st.integers(0, 7),
    st.one_of(st.integers(0, 239), st.sampled_from(range(0, 240, 30))),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Attempt], datetime]:
    """A planning instant and attempts before and after it, some exactly on a boundary."""
    at = draw(planning_instants)
    instants = st.one_of(
        st.datetimes(
            min_value=datetime(2026, 10, 18),
            max_value=datetime(2026, 10, 28),
            timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), BERLIN]),
        ),
        st.sampled_from(FOLDS),
        # On a boundary of the rules, or a microsecond off it: the window's start, the
        # frequency less its slack (4 h: the window) before `at`.
        st.builds(
            lambda boundary, off: boundary + timedelta(microseconds=off),
            st.sampled_from(_boundaries(at)),
            st.sampled_from([-1, 0, 1]),
        ),
    )
    attempts = st.builds(
        Attempt,
        server=st.sampled_from(HOSTS),
        component=st.sampled_from(list(COMPONENTS)),
        at=instants,
        ok=st.booleans(),
    )
    return draw(st.lists(attempts, max_size=40)), at


def _boundaries(at: datetime) -> list[datetime]:
    start = at.replace(hour=1, minute=0, second=0, microsecond=0)  # this window's start
    hours = [0, 4, 20, 24, 28, 8, 12, 6 * 24 + 20, 7 * 24]
    return [start, start + timedelta(hours=4), *(at - timedelta(hours=h) for h in hours)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_every_decision_is_the_one_of_the_rules_host_by_host(
    drawn: tuple[list[Attempt], datetime],
) -> None:
    history, at = drawn
    memory = MemoryHistory(history)
    states = memory.states(HOSTS, list(COMPONENTS))

    result = plan(SCHEDULE, memory, at)

    assert len(result.decisions) == len(COMPONENTS)
    for decision in result.decisions:
        assert decision.window is not None
        component = SCHEDULE.components[decision.component]
        due, reason, hosts = _reference(component, decision.window, states, at)
        assert (decision.due, decision.reason, decision.hosts) == (due, reason, hosts)


def test_a_fast_host_decision_is_a_host_decision() -> None:
    names = [f.name for f in dataclasses.fields(HostDecision)]
    assert names == ["host", "due", "reason"]  # the slots the planner sets itself
    assert planner._SETTERS is not None  # else `_host_decision` is `HostDecision` itself
    made = plan(SCHEDULE, MemoryHistory(), datetime(2026, 10, 20, 2, tzinfo=UTC))
    decision = made.decisions[0].hosts[0]
    assert type(decision) is HostDecision
    assert decision == HostDecision("h0", True, "never updated")
    assert hash(decision) == hash(HostDecision("h0", True, "never updated"))
    assert repr(decision) == "HostDecision(host='h0', due=True, reason='never updated')"


# ----------------------------------------------------------------- the reference


def _reference(
    component: Component,
    window: Window,
    states: Mapping[tuple[str, str], HostComponentState],
    at: datetime,
) -> tuple[bool, str, tuple[HostDecision, ...]]:
    hosts = tuple(
        _reference_host(host, component, window, states.get((host, component.name)), at)
        for host in HOSTS
    )
    due = [h for h in hosts if h.due]
    label = component.frequency.label
    total = len(hosts)
    if not due:
        reason = f"{label}, {_summarise(hosts)}"
        if total > 1 and len({h.reason for h in hosts}) == 1:
            reason += f" on all {total} hosts"
        return False, reason, hosts
    scope = (
        f"due on all {total} hosts" if len(due) == total else f"due on {len(due)} of {total} hosts"
    )
    return True, f"{label}, {scope}: {_summarise(due, named=len(due) < total)}", hosts


def _summarise(hosts: Sequence[HostDecision], *, named: bool = False) -> str:
    groups: dict[str, list[str]] = {}
    for host in hosts:
        groups.setdefault(host.reason, []).append(host.host)
    if len(groups) == 1 and not named:
        return next(iter(groups))
    return "; ".join(f"{reason} ({', '.join(names)})" for reason, names in groups.items())


def _reference_host(
    host: str,
    component: Component,
    window: Window,
    state: HostComponentState | None,
    at: datetime,
) -> HostDecision:
    state = state or HostComponentState()
    if state.last_attempt_failed:
        assert state.last_failure is not None
        when = format_instant(state.last_failure)
        if state.last_failure >= window.start:
            return HostDecision(
                host, False, f"failed at {when} in this window; retried in the next window"
            )
        return HostDecision(host, True, f"last attempt failed at {when}")
    if state.last_success is None:
        return HostDecision(host, True, "never updated")
    last = state.last_success
    when = format_instant(last)
    interval = component.frequency.interval
    slack = min(window.duration, interval)
    if last < window.start and at - last >= interval - slack:
        return HostDecision(host, True, f"last success {when}")
    due_from = max(last + interval - slack, window.end)
    return HostDecision(
        host, False, f"last success {when}, next due from {format_instant(due_from)}"
    )


class _FailingHistory:
    def states(
        self, servers: Collection[str], components: Collection[str]
    ) -> Mapping[tuple[str, str], HostComponentState]:
        assert not gc.isenabled()  # paused while the plan is made
        raise StoreError("history unreadable")


@pytest.mark.parametrize("enabled", [True, False])
def test_plan_leaves_the_garbage_collector_as_it_found_it(enabled: bool) -> None:
    at = datetime(2026, 10, 20, 2, tzinfo=UTC)
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        plan(SCHEDULE, MemoryHistory(), at)
        assert gc.isenabled() is enabled
        with pytest.raises(StoreError):
            plan(SCHEDULE, _FailingHistory(), at)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
