"""Roll per-task results up into the seed's history records, one per (host, component, action).

The generated plays name every play ``Maintain <component> | <environment>`` and
every task ``<Action> | <component>`` (see `agentmaint.ansible.naming`), and the bundled roles
name theirs ``<Action>: <what it does> | <component>``, so each `TaskResult` maps back
to what it was doing. Actions that never ran are filled in
from what was targeted: an update after a failed or unreachable backup is
``skipped`` (the seed would have updated anyway), and so is every action on
hosts a stopped rollout never reached (``error budget exhausted`` when the environment's
``rollout.max_failures`` stopped it).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from agentmaint.ansible.budget import EXHAUSTED
from agentmaint.ansible.naming import Target, classify, parse_play, task_component, task_step
from agentmaint.records import Action, MaintenanceRecord, Outcome, TaskResult, TaskStatus

__all__ = ["rollup"]

_FAILED = {TaskStatus.FAILED, TaskStatus.RESCUED}
_SUCCEEDED = {TaskStatus.OK, TaskStatus.CHANGED, TaskStatus.IGNORED}


def rollup(
    results: Iterable[TaskResult],
    targets: Sequence[Target],
    *,
    backup_expected: bool,
    now: datetime,
    run_id: str | None = None,
    stopped_reason: str | None = None,
    interrupted: Collection[tuple[str, str, str]] = (),
    budget_spent: Collection[str] = (),
) -> list[MaintenanceRecord]:
    """Seed-shaped records for every targeted (host, component) and its actions.

    `now` stamps actions that did not run; `stopped_reason` explains hosts that no
    task reached (e.g. a run canceled or a rollout stopped by max_fail_percentage).
    `interrupted` lists (host, play, task) that had started but never finished: such
    an action is recorded as failed, since the host may be half-changed.
    `budget_spent` lists the environments whose error budget ran out: their hosts no
    task reached are `skipped` with ``error budget exhausted`` rather than `stopped_reason`.
    """
    grouped: dict[tuple[str, str, str, Action], list[TaskResult]] = {}
    # Ansible leaves a host that failed out of every later play of the run.
    failed_in: dict[str, str] = {}
    for result in results:
        play = parse_play(result.play)
        if play is None:
            continue
        if result.status in {TaskStatus.FAILED, TaskStatus.UNREACHABLE}:
            failed_in.setdefault(result.host, task_component(result.task) or play[1])
        found = classify(result.play, result.task)
        if found is not None:
            grouped.setdefault((found[0], found[1], result.host, found[2]), []).append(result)
    cut_short: dict[tuple[str, str, str, Action], str] = {}
    for host, play_text, task_text in interrupted:
        started = classify(play_text, task_text)
        if started is not None:
            cut_short[(started[0], started[1], host, started[2])] = (
                f"interrupted while running: {stopped_reason or 'the run stopped'}"
            )
    records: list[MaintenanceRecord] = []
    for target in targets:
        for host in target.hosts:
            key = (target.environment, target.component, host)
            earlier = failed_in.get(host)
            reason = EXHAUSTED if target.environment in budget_spent else stopped_reason
            if earlier is not None and earlier != target.component:
                reason = f"not reached: the host failed {earlier} earlier in this run"
            records.extend(
                _host_records(
                    key,
                    grouped,
                    cut_short,
                    backup_expected=backup_expected,
                    now=now,
                    run_id=run_id,
                    stopped_reason=reason,
                )
            )
    return records


def _host_records(
    key: tuple[str, str, str],
    grouped: dict[tuple[str, str, str, Action], list[TaskResult]],
    cut_short: dict[tuple[str, str, str, Action], str],
    *,
    backup_expected: bool,
    now: datetime,
    run_id: str | None,
    stopped_reason: str | None,
) -> list[MaintenanceRecord]:
    environment, component, host = key
    records: list[MaintenanceRecord] = []

    def add(action: Action, status: Outcome, error: str | None, at: datetime) -> None:
        records.append(
            MaintenanceRecord(at, environment, host, component, action, status, error, run_id)
        )

    blocked: str | None = None
    update_cut_short = cut_short.get((environment, component, host, Action.UPDATE))
    actions = [Action.BACKUP] if backup_expected else []
    actions += [Action.UPDATE, Action.HEALTHCHECK, Action.ROLLBACK]
    for action in actions:
        results = grouped.get((environment, component, host, action), [])
        interrupted_because = cut_short.get((environment, component, host, action))
        if interrupted_because is not None and not _failed(results):
            # Still running when the run stopped (earlier steps of the action may have
            # finished): the host may be half-changed.
            add(action, Outcome.FAILED, interrupted_because, _latest(results, now))
            blocked = blocked or interrupted_because
        elif results:
            status, error = _outcome(results)
            add(action, status, error, _latest(results, now))
            if action is Action.BACKUP and status in {Outcome.FAILED, Outcome.UNREACHABLE}:
                blocked = f"not updated: backup {status.value}"
        elif action is Action.UPDATE:
            reason = blocked or stopped_reason or "not reached: the host ran no task"
            add(action, Outcome.SKIPPED, reason, now)
        elif action is Action.BACKUP and update_cut_short is not None:
            # An update cut short with no result of its backup: the fused task runs both
            # (the per-task play's backup reports before its update starts), so the backup
            # started and may or may not have finished.
            add(action, Outcome.FAILED, update_cut_short, now)
        elif action is Action.BACKUP:
            add(action, Outcome.SKIPPED, stopped_reason or "not reached", now)
            blocked = stopped_reason or "not reached"
    return records


def _outcome(results: Sequence[TaskResult]) -> tuple[Outcome, str | None]:
    for result in results:
        if result.status is TaskStatus.UNREACHABLE:
            return Outcome.UNREACHABLE, result.message or "host unreachable"
    for result in results:
        if result.status in _FAILED:
            return Outcome.FAILED, _step(result.task, result.message or "failed")
    if any(r.status in _SUCCEEDED for r in results):
        return Outcome.SUCCESS, None
    return Outcome.SKIPPED, results[0].message


def _failed(results: Sequence[TaskResult]) -> bool:
    return any(r.status in _FAILED or r.status is TaskStatus.UNREACHABLE for r in results)


def _step(task: str, message: str) -> str:
    """``message`` prefixed with the step of a role task (``Update: <step> | web``)."""
    step = task_step(task)
    return f"{step}: {message}" if step else message


def _latest(results: Sequence[TaskResult], default: datetime) -> datetime:
    ends = [r.end for r in results if r.end is not None]
    return max(ends) if ends else default
