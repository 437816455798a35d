"""Forced plans (``run --force``): every host, regardless of windows and history."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from agentmaint.config.schedule import Schedule
from agentmaint.planning.planner import Decision, HostDecision, Plan, plan

__all__ = ["forced_plan"]


def forced_plan(
    schedule: Schedule,
    at: datetime,
    environments: Collection[str] | None,
    components: Collection[str] | None,
) -> Plan:
    """Every host of the chosen environments and components, regardless of windows and history."""
    probe = plan(schedule, _NoHistory(), at, environments=environments, components=components)
    decisions = []
    for decision in probe.decisions:
        env = schedule.environments[decision.environment]
        hosts = tuple(HostDecision(h, True, "forced (--force)") for h in env.host_names)
        decisions.append(
            Decision(decision.environment, decision.component, bool(hosts), "forced", hosts)
        )
    return Plan(at=at, decisions=tuple(decisions))


class _NoHistory:
    def states(
        self, servers: Collection[str], components: Collection[str]
    ) -> Mapping[tuple[str, str], Any]:
        return {}
