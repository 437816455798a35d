"""When each host is due next, and why: the planner asked at later instants.

`next_due` answers, per (environment, component, host), the first instant at or after
`at` at which `plan` would make the host due, given the history as it is now (no run in
between). It asks `plan` itself at the start of each coming window (and, within a
window, bisects to the minute), so windows, blackouts, cutoffs, frequencies and
promotion gates count exactly as they will; a host not due within `horizon` windows
has no next instant. Pure: no clock, file or database.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta

from agentmaint.config.schedule import Schedule
from agentmaint.planning.history import HistoryReader, HostComponentState, StateKey
from agentmaint.planning.planner import plan
from agentmaint.planning.windows import open_window, upcoming_windows

__all__ = ["DueKey", "next_due"]

#: (environment, component, host).
DueKey = tuple[str, str, str]

_PRECISION = timedelta(minutes=1)


class _Snapshot:
    """The history's states read once, answered again for every instant asked about."""

    def __init__(self, states: Mapping[StateKey, HostComponentState]) -> None:
        self._states = states

    def states(
        self, servers: Collection[str], components: Collection[str]
    ) -> Mapping[StateKey, HostComponentState]:
        return self._states


def next_due(
    schedule: Schedule, history: HistoryReader, at: datetime, *, horizon: int = 60
) -> dict[DueKey, datetime | None]:
    """The next instant at or after `at` each host is due (None: not within `horizon` windows)."""
    servers = {host for env in schedule.environments.values() for host in env.host_names}
    snapshot = _Snapshot(history.states(servers, list(schedule.components)))
    result: dict[DueKey, datetime | None] = {}
    for env in schedule.environments.values():
        pending = {
            (env.name, component, host)
            for component in schedule.components
            for host in env.host_names
        }
        for key in pending:
            result[key] = None

        def due_at(instant: datetime, name: str = env.name) -> set[DueKey]:
            decisions = plan(schedule, snapshot, instant, environments=[name]).decisions
            return {(d.environment, d.component, h) for d in decisions for h in d.servers}

        spans: list[tuple[datetime, datetime]] = []
        current = open_window(env.schedule, at)
        if current is not None and current.accepts_start(at):
            spans.append((at, current.last_start))
        spans.extend(
            (w.start, w.last_start)
            for w in upcoming_windows(env.schedule, at, horizon)
            if w.start > at
        )
        for start, last in spans:
            if not pending:
                break
            first = due_at(start) & pending
            for key in first:
                result[key] = start
            pending -= first
            late = (due_at(last) & pending) if last > start else set()
            for key in late:
                result[key] = _first_due(due_at, key, start, last)
            pending -= late
    return result


def _first_due(
    due_at: Callable[[datetime], set[DueKey]], key: DueKey, start: datetime, last: datetime
) -> datetime:
    """The first instant in (start, last] at which `key` is due (it is at `last`), to the minute."""
    low, high = start, last
    while high - low > _PRECISION:
        middle = low + (high - low) / 2
        if key in due_at(middle):
            high = middle
        else:
            low = middle
    return high
