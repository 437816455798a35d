"""What a run did, concluded from its slices: the final run record and its roll-up.

Pure: nothing here writes. The result goes to the run's observers, among them the
recorder that stores it in one transaction (`agentmaint.run.recorder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from agentmaint.ansible.budget import exhausted
from agentmaint.ansible.naming import parse_play
from agentmaint.ansible.rollup import rollup
from agentmaint.planning.planner import Plan
from agentmaint.records import (
    HostCounts,
    MaintenanceRecord,
    RunRecord,
    RunStatus,
    TaskResult,
    TaskStatus,
)
from agentmaint.run.results import RunResult, host_outcomes
from agentmaint.run.slices import SliceRun

__all__ = ["conclude", "run_status"]

_STOPPED = (RunStatus.CANCELED, RunStatus.TIMEOUT)


def conclude(
    run: RunRecord,
    the_plan: Plan,
    slices: list[SliceRun],
    *,
    finished: datetime,
    backup_expected: bool,
) -> RunResult:
    """The typed result of `run` from what each of its slices parsed and how its job ended.

    Hosts a stopped slice did not finish are recorded with the reason (a node that
    failed, a cancel, a timeout), so that they are due again.
    """
    records: list[MaintenanceRecord] = []
    results: list[TaskResult] = []
    counts: dict[str, HostCounts] = {}
    statuses: list[RunStatus] = []
    messages: list[str] = []
    rcs: list[int] = []
    finished_parsers = [
        part.parser.finish(
            status=part.outcome.status if part.outcome else "error",
            rc=part.outcome.rc if part.outcome else None,
        )
        for part in slices
    ]
    spent = _budget_spent(slices, [p.results for p in finished_parsers])
    for part, parsed in zip(slices, finished_parsers, strict=True):
        outcome = part.outcome
        message = parsed.error or (outcome.error if outcome else None)
        status = parsed.status
        stopped = None if status is RunStatus.SUCCESSFUL else f"run {status.value}"
        # A canceled or timed-out run stopped for that reason, whatever the budget said.
        budget_spent = spent if status in {RunStatus.FAILED, RunStatus.SUCCESSFUL} else ()
        if outcome is not None and outcome.error and not part.local:
            # The node failed (unreachable, died): what its hosts did not do is due again.
            status = RunStatus.ERROR if status is RunStatus.SUCCESSFUL else status
            stopped = outcome.error
        records += rollup(
            parsed.results,
            part.slice.targets,
            backup_expected=backup_expected,
            now=finished,
            run_id=run.id,
            stopped_reason=stopped,
            interrupted=part.in_flight
            if part.background is None
            else part.in_flight | part.background.interrupted(),
            budget_spent=budget_spent,
        )
        results += parsed.results
        counts.update(parsed.counts)
        statuses.append(status)
        if outcome is not None and outcome.rc is not None:
            rcs.append(outcome.rc)
        for said in (message, part.background_note):
            if said:
                messages.append(
                    said
                    if len(slices) == 1
                    else f"slice {part.slice.index} ({part.slice.name}): {said}"
                )
    final = replace(
        run,
        status=run_status(statuses),
        finished=finished,
        runner_rc=max(rcs, default=None) if len(slices) > 1 else (rcs[0] if rcs else None),
        message="; ".join(messages) or run.message,
    )
    return RunResult(
        plan=the_plan,
        run=final,
        records=tuple(records),
        outcomes=host_outcomes(records),
        counts=counts,
        task_results=tuple(results),
    )


def _budget_spent(slices: list[SliceRun], results: list[Sequence[TaskResult]]) -> frozenset[str]:
    """The environments whose failed hosts, over all slices, exceed their error budget."""
    failed: dict[str, set[str]] = {}
    for found in results:
        for result in found:
            play = parse_play(result.play)
            if play is not None and result.status in {TaskStatus.FAILED, TaskStatus.UNREACHABLE}:
                failed.setdefault(play[0], set()).add(result.host)
    return exhausted(failed, [t for part in slices for t in part.slice.targets])


def run_status(statuses: list[RunStatus]) -> RunStatus:
    """A run's status from its slices'.

    One slice's is the run's; of several, a stop (canceled, timeout) wins, else any
    slice that did not succeed fails the run.
    """
    if len(statuses) == 1:
        return statuses[0]
    for stop in _STOPPED:
        if stop in statuses:
            return stop
    if all(s is RunStatus.SUCCESSFUL for s in statuses):
        return RunStatus.SUCCESSFUL
    return RunStatus.FAILED
