"""What the metrics are made of: the schedule, its plan at one instant, the history in aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from agentmaint.config.schedule import Schedule
from agentmaint.errors import MissingHistoryError
from agentmaint.history.store import HistoryStore, open_history
from agentmaint.history.summary import HistorySummary
from agentmaint.planning.history import MemoryHistory
from agentmaint.planning.planner import Plan, plan

__all__ = ["Sample", "read_sample", "take_sample"]


@dataclass(frozen=True, slots=True)
class Sample:
    """Everything one exposition shows, read at `plan.at`."""

    schedule: Schedule
    plan: Plan
    history: HistorySummary


def take_sample(
    schedule: Schedule, history: HistoryStore | None, at: datetime | None = None
) -> Sample:
    """Plan at `at` (default: now) and summarize `history` (None: an empty history)."""
    now = at or datetime.now(UTC)
    if history is None:
        return Sample(schedule, plan(schedule, MemoryHistory(), now), HistorySummary())
    servers = [host for env in schedule.environments.values() for host in env.host_names]
    return Sample(
        schedule,
        plan(schedule, history, now),
        history.summary(servers, list(schedule.components)),
    )


def read_sample(schedule: Schedule, at: datetime | None = None) -> Sample:
    """`take_sample` of the schedule's history opened read-only (nothing is written to it).

    A history never created reads as empty; one that cannot be read raises `StoreError`.
    """
    try:
        store = open_history(schedule.history_url, schedule.state_dir, readonly=True)
    except MissingHistoryError:
        return take_sample(schedule, None, at)
    with store:
        return take_sample(schedule, store, at)
