"""Relaunch plans (``run --failed RUN_ID``): what failed in a run, on those hosts only, now.

Like a forced plan, a relaunch ignores windows and history; unlike one, it runs each
component only on the hosts where that component failed, was unreachable or was rolled
back in the earlier run (`FailedTarget`s, read from its history by the caller).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from agentmaint.config.schedule import Schedule
from agentmaint.planning.planner import Decision, HostDecision, Plan

__all__ = ["FailedTarget", "relaunch_plan"]


@dataclass(frozen=True, slots=True)
class FailedTarget:
    """One component on one host of an environment that did not succeed in a run."""

    environment: str
    component: str
    host: str


def relaunch_plan(
    schedule: Schedule,
    at: datetime,
    run_id: str,
    failed: Collection[FailedTarget],
) -> Plan:
    """Every (environment, component) of `failed`, due on its failed hosts only.

    Targets the schedule no longer has (an environment, component or host removed
    since the run) are left out: there is nothing to run them with.
    """
    wanted: dict[tuple[str, str], set[str]] = {}
    for target in failed:
        env = schedule.environments.get(target.environment)
        if env is None or target.component not in schedule.components:
            continue
        if target.host in env.host_names:
            wanted.setdefault((target.environment, target.component), set()).add(target.host)
    decisions = []
    for env_name, env in schedule.environments.items():
        for component in schedule.components:
            failed_hosts = wanted.get((env_name, component))
            if not failed_hosts:
                continue
            hosts = tuple(
                HostDecision(h, True, f"failed in run {run_id}")
                if h in failed_hosts
                else HostDecision(h, False, f"did not fail in run {run_id}")
                for h in env.host_names
            )
            decisions.append(Decision(env_name, component, True, f"relaunch of {run_id}", hosts))
    return Plan(at=at, decisions=tuple(decisions))
