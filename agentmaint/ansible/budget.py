"""The fleet-wide error budget of an environment (``rollout.max_failures``).

Ansible's ``max_fail_percentage`` counts per batch; the budget counts over the whole run
of an environment (like AWS SSM's MaxErrors): once MORE of its hosts than the budget have
failed or been unreachable, in any batch, play (component) or slice, no new batch of the
environment starts, and the hosts never reached are recorded ``skipped`` with
`EXHAUSTED` (a skipped update is not an attempt, so they are due at the next run).

How it is enforced:

* **Within one ansible-playbook process** (exact): every play of an environment with a
  budget starts each batch with a gate task (`gate_tasks`), ``run_once``, that ends the
  play (``meta: end_play``, which ends all its remaining batches) when the failed hosts
  so far exceed the budget. The failed hosts of the current play are
  ``ansible_play_hosts_all | difference(ansible_play_hosts)`` (Ansible removes a failed
  or unreachable host from the play, and also carries hosts failed in earlier plays into
  that removed list, so a host is only ever counted once thanks to the union below).
  Failures in EARLIER plays of the same environment (other components) are found from
  a marker each host sets on itself at the end of every such play (`done_fact`): a host
  of an earlier play without its marker failed there (or was never reached, which only
  happens when the run is stopping anyway). The magic variables alone would miss a host
  that failed in an earlier play's last batch and is not a host of this play.
* **Across slices** (several processes: local slices, execution nodes): the controller
  sees every failure as its event arrives (`BudgetWatch`) and, once an environment's
  failed hosts over all slices exceed its budget, writes a stop file (`STOP_DIR`/<env>)
  that every slice's gate also checks. A local slice's gate reads the run directory on
  the controller; an execution node's gate reads its own job directory on the node, where
  the controller writes the file over SSH. This is as fast as the events travel: a batch
  another slice starts before the failing event reaches the controller still runs.

Nothing from the schedule becomes a template here: host lists and the stop file's path
are written as ``!unsafe`` variables; the expression is agentmaint's own, with numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from agentmaint.ansible.naming import TASK_SEPARATOR, Target
from agentmaint.config.schedule import Schedule

__all__ = [
    "EXHAUSTED",
    "GATE",
    "STOP_DIR",
    "done_fact",
    "done_task",
    "exhausted",
    "gate_task",
    "with_budgets",
]

#: The reason recorded for hosts a spent budget kept from being reached.
EXHAUSTED = "error budget exhausted"
#: The gate task's name (``Budget | <environment>``): not an action, so roll-ups skip it.
GATE = "Budget"
#: The directory (of a local run, or of a job on a node) holding the stop files.
STOP_DIR = "budget"


def with_budgets(schedule: Schedule, targets: Sequence[Target]) -> tuple[Target, ...]:
    """`targets`, each with its environment's budget over the run's due hosts.

    A percentage is of the environment's due hosts over the whole run (every component,
    every slice), so it is computed once here, before the targets are sliced.
    """
    due: dict[str, set[str]] = {}
    for target in targets:
        due.setdefault(target.environment, set()).update(target.hosts)
    budgets = {
        name: schedule.environments[name].rollout.failure_budget(len(hosts))
        for name, hosts in due.items()
    }
    return tuple(replace(t, budget=budgets[t.environment]) for t in targets)


def done_fact(play: int) -> str:
    """The fact a host sets on itself when it finished play number `play` (0-based)."""
    return f"agentmaint_budget_done_{play}"


def gate_task(
    environment: str,
    budget: int,
    earlier: Sequence[tuple[int, tuple[str, ...]]],
    stop_file: str | None,
    unsafe: Any,
) -> dict[str, Any]:
    """The task that ends the play before a batch when `environment`'s budget is spent.

    `earlier` lists the (index, hosts) of the environment's earlier plays in the same
    playbook; `stop_file` is the controller's stop file for the environment (None: a
    run of one process, which needs none); `unsafe` wraps strings as ``!unsafe``.
    """
    failed = "ansible_play_hosts_all | difference(ansible_play_hosts)"
    for position, (index, _) in enumerate(earlier):
        failed = (
            f"({failed}) | union(agentmaint_budget_earlier[{position}] | map('extract', hostvars)"
            f" | rejectattr('{done_fact(index)}', 'defined')"
            " | map(attribute='inventory_hostname'))"
        )
    condition = f"({failed}) | length > agentmaint_budget"
    variables: dict[str, Any] = {"agentmaint_budget": budget}
    if earlier:
        variables["agentmaint_budget_earlier"] = [
            [unsafe(h) for h in hosts] for _, hosts in earlier
        ]
    if stop_file is not None:
        variables["agentmaint_budget_stop"] = unsafe(stop_file)
        condition = f"agentmaint_budget_stop is exists or {condition}"
    return {
        "name": f"{GATE}{TASK_SEPARATOR}{environment}",
        "ansible.builtin.meta": "end_play",
        "run_once": True,
        "vars": variables,
        "when": condition,
    }


def done_task(environment: str, play: int) -> dict[str, Any]:
    """The last task of a play: each host that got there marks the play done on itself."""
    return {
        "name": f"{GATE}{TASK_SEPARATOR}{environment}",
        "ansible.builtin.set_fact": {done_fact(play): True},
    }


def exhausted(failed: Mapping[str, Iterable[str]], targets: Iterable[Target]) -> frozenset[str]:
    """The environments whose failed hosts (by environment) exceed their targets' budget."""
    budgets = {t.environment: t.budget for t in targets if t.budget is not None}
    return frozenset(
        env for env, budget in budgets.items() if len(set(failed.get(env, ()))) > budget
    )
