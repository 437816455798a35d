"""The fleet matrix: per environment, component and host, how it stands and when it is due.

`fleet_status` is what ``agentmaint status`` prints and the HTML report colours: the
latest attempt the history keeps (last success, last outcome, needs-attention), the next
instant the planner makes the host due (`agentmaint.planning.status.next_due`) and the
planner's reason now. Reads the history, never writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore
from agentmaint.history.summary import LastAttempt
from agentmaint.planning.history import HistoryReader
from agentmaint.planning.planner import plan
from agentmaint.planning.status import next_due

__all__ = ["Fleet", "FleetRow", "fleet_status"]


@dataclass(frozen=True, slots=True)
class FleetRow:
    """One (environment, component, host) of the fleet matrix.

    `last_outcome`: never, success, failed, rolled_back or unreachable (the latest
    attempt); `next_due`: None when not due within the planner's horizon.
    """

    environment: str
    component: str
    host: str
    last_success: datetime | None
    last_outcome: str
    next_due: datetime | None
    due_now: bool
    reason: str
    needs_attention: bool

    def to_dict(self) -> dict[str, object]:
        """The row of ``status --json`` (instants as ISO 8601 UTC)."""
        return {
            "environment": self.environment,
            "component": self.component,
            "host": self.host,
            "last_success": _iso(self.last_success),
            "last_outcome": self.last_outcome,
            "next_due": _iso(self.next_due),
            "due_now": self.due_now,
            "reason": self.reason,
            "needs_attention": self.needs_attention,
        }


@dataclass(frozen=True, slots=True)
class Fleet:
    """The fleet matrix at `at`; `recorded`: whether the history holds any attempt."""

    at: datetime
    rows: tuple[FleetRow, ...]
    recorded: bool


def fleet_status(schedule: Schedule, history: HistoryReader, at: datetime) -> Fleet:
    """The fleet matrix of `schedule` at `at`, in the schedule's order."""
    servers = {h for env in schedule.environments.values() for h in env.host_names}
    attempts: dict[tuple[str, str], LastAttempt] = {}
    if isinstance(history, HistoryStore):
        attempts = dict(history.summary(servers, list(schedule.components)).attempts)
    decisions = plan(schedule, history, at).decisions
    due = next_due(schedule, history, at)
    reasons: dict[tuple[str, str, str], str] = {}
    for decision in decisions:
        for host in schedule.environments[decision.environment].host_names:
            reasons[(decision.environment, decision.component, host)] = decision.reason
        for host_decision in decision.hosts:
            reasons[(decision.environment, decision.component, host_decision.host)] = (
                host_decision.reason
            )
    rows: list[FleetRow] = []
    for env in schedule.environments.values():
        for component in schedule.components:
            for host in env.host_names:
                attempt = attempts.get((host, component))
                key = (env.name, component, host)
                when = due.get(key)
                rows.append(
                    FleetRow(
                        environment=env.name,
                        component=component,
                        host=host,
                        last_success=attempt.last_success if attempt else None,
                        last_outcome=_outcome(attempt),
                        next_due=when,
                        due_now=when is not None and when <= at,
                        reason=reasons.get(key, ""),
                        needs_attention=bool(attempt and attempt.needs_attention),
                    )
                )
    return Fleet(at=at, rows=tuple(rows), recorded=bool(attempts))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _outcome(attempt: LastAttempt | None) -> str:
    """never, success, failed, rolled_back or unreachable: how the latest attempt ended."""
    if attempt is None:
        return "never"
    if not attempt.failed:
        return "success"
    if attempt.unreachable:
        return "unreachable"
    return "rolled_back" if attempt.rolled_back else "failed"
