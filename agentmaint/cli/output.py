"""What every command prints and returns: exit codes, JSON, plans, deliveries, warnings.

Exit codes: 0 success, 1 a run (or a test message, or the demo) that failed, 2 invalid
input or usage, 3 an environment locked by another run, 128 + N ended by signal N.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from agentmaint.ansible.events import ParsedRun
from agentmaint.cli.console import plan_table
from agentmaint.config.schedule import Schedule
from agentmaint.history.delivery import Delivery
from agentmaint.planning.planner import Plan

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_LOCKED", "EXIT_OK"]


EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_LOCKED = 3


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _print_plan(result: Plan, schedule: Schedule, out: Console) -> None:
    sizes = {name: len(env.hosts) for name, env in schedule.environments.items()}
    out.print(plan_table(result, sizes))
    out.print(f"{len(result.due)} due, {len(result.not_due)} not due", highlight=False)
    for line in _budget_lines(result, schedule):
        out.print(line, highlight=False, markup=False)


def _budget_lines(result: Plan, schedule: Schedule) -> list[str]:
    """One line per environment with due hosts and an error budget (``rollout.max_failures``)."""
    due: dict[str, set[str]] = {}
    for decision in result.due:
        due.setdefault(decision.environment, set()).update(decision.servers)
    lines = []
    for name, hosts in due.items():
        rollout = schedule.environments[name].rollout
        budget = rollout.failure_budget(len(hosts))
        if budget is not None:
            lines.append(
                f"{name}: error budget: {budget} of {len(hosts)} due host(s) may fail "
                f"(rollout.max_failures: {rollout.max_failures}); one more stops the rollout"
            )
    return lines


def _print_deliveries(deliveries: Sequence[Delivery], out: Console, *, failures_only: bool) -> None:
    """One line per notification (channels and errors are already redacted)."""
    for d in deliveries:
        if d.delivered and not failures_only:
            out.print(
                f"notification {d.event.value}: delivered via {d.channel}",
                markup=False,
                highlight=False,
            )
        elif not d.delivered:
            out.print(
                f"notification {d.event.value}: FAILED via {d.channel} after {d.attempts} "
                f"attempt(s): {d.error}",
                style="red",
                markup=False,
                highlight=False,
            )


def _print_partial(parsed: ParsedRun, out: Console) -> None:
    if parsed.partial:
        out.print("[yellow]partial: the artifact directory is incomplete[/]")
    for warning in parsed.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
