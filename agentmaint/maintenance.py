"""The composition root of a run: plan, lock, render, execute, conclude, tell observers.

`run_maintenance` reads as the run's stages, in order; everything that only watches
a run (recording in the history, retention, notifications, the CLI's live progress,
a caller's own metrics or logs) is a `RunObserver` (`agentmaint.run.observer`)::

    recover  -> runs whose controller died are recorded truthfully first
    plan     -> what is due now (or every host with ``force``)
    lock     -> the environments' locks; decide again under them
    render   -> one private job directory per slice (inventory, playbook, ansible.cfg)
    started  -> observers: Recorder (run stored as running), Notifier (start), ...
    execute  -> every slice's job through ansible-runner; each finished task to observers
    conclude -> the typed RunResult from what the slices parsed
    finished -> observers: Recorder, Retention (under the locks), then, once the locks
                are released, MetricsWriter (``metrics``), Notifier and the caller's (a
                slow channel delays no run)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import targets_from_decisions
from agentmaint.ansible.slicing import SLICES_DIR
from agentmaint.ansible.strategy import Strategy
from agentmaint.ansible.strategy import resolve as resolve_strategy
from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore, open_history
from agentmaint.planning.forced import forced_plan
from agentmaint.planning.planner import Plan, limit_plan, plan
from agentmaint.planning.relaunch import relaunch_plan
from agentmaint.records import RunRecord
from agentmaint.run.cancel_watch import watch_cancel_requests
from agentmaint.run.conclusion import conclude
from agentmaint.run.environment import secret_environment
from agentmaint.run.ids import new_run_id
from agentmaint.run.jobdir import job_timeout
from agentmaint.run.locks import environment_locks
from agentmaint.run.logging_observer import RunLog, log_lock_refused, log_locks_taken, log_plan
from agentmaint.run.observer import FinishLater, Observers, RunObserver
from agentmaint.run.outside import make_control_path_dir
from agentmaint.run.process import process_identity
from agentmaint.run.recorder import Recorder, Retention
from agentmaint.run.recovery import recover_interrupted_runs
from agentmaint.run.relaunch import failed_targets, find_run
from agentmaint.run.results import RunResult
from agentmaint.run.slices import is_plain, prepare_slices, run_slices
from agentmaint.run.statedir import check_state_dir, make_run_dir

if TYPE_CHECKING:
    from agentmaint.notify.observer import Notifier

__all__ = ["run_maintenance"]


def run_maintenance(
    schedule: Schedule,
    *,
    store: HistoryStore | None = None,
    at: datetime | None = None,
    environments: Collection[str] | None = None,
    components: Collection[str] | None = None,
    force: bool = False,
    check: bool = False,
    trigger: str | None = None,
    cancel: threading.Event | None = None,
    observers: Sequence[RunObserver] = (),
    lock_wait: timedelta | None = None,
    scheduled: bool = False,
    hosts: Collection[str] | None = None,
    relaunch: str | None = None,
) -> RunResult:
    """Run what is due now (or at `at`) and record it; return the typed result.

    `force` runs the chosen environments and components on every host, ignoring
    windows and history. `check` runs Ansible in check mode; its results are kept
    with the run but do not count as updates. Setting `cancel` stops the run
    (recorded as ``canceled``). A run the history could not record at its end is
    returned all the same, with `RunResult.unrecorded` saying why and where its results
    wait for the next recovery to record them. `observers` watch the run after the
    history and the notifications have (see `agentmaint.run.observer`), in the calling thread; the
    notifications and `observers` hear the end of the run after the environment locks
    are released. `scheduled` is a run started by a timer, cron or the daemon (trigger
    ``scheduled``): with ``execution.overlap: wait`` and no `lock_wait`, it waits for a
    locked environment until its window closes. Raises `ScheduleError` before anything
    else when a secret reference of `schedule` cannot be resolved (a schedule loaded with
    ``resolve_secrets=False``), `UsageError` when a pattern of `hosts` matches no host,
    `LockHeldError` when another run holds an environment this
    one needs (after `lock_wait`, when given), `LockWaitCanceledError` when `cancel` is set
    while waiting.

    `hosts` (``--limit``) narrows the run to the hosts matching these names or shell-style
    patterns. `relaunch` (``--failed``) is the id of an earlier run: what failed, was
    unreachable or rolled back in it runs again now on those hosts only, regardless of
    windows (trigger ``relaunch``). With a PostgreSQL history, ``agentmaint cancel`` from
    any controller cancels the run (polled every `POLL_SECONDS` seconds).
    """
    # Every secret the run may use (notifications, the history URL), read before any host
    # is touched: a missing one must stop the run, not the notification at its end.
    schedule = schedule.resolve_secrets()
    strategy = resolve_strategy(schedule.execution.strategy)  # one that cannot work: fail now
    check_state_dir(schedule.state_dir)
    with _history(schedule, store) as history:
        recover_interrupted_runs(history)
        relaunch = find_run(history, relaunch).id if relaunch is not None else None
        selection = _Selection(environments, components, hosts, relaunch)
        the_plan = _decide(schedule, history, at, selection, force=force)
        log_plan(the_plan)
        targets = targets_from_decisions(the_plan.due)
        if not targets:
            return RunResult(plan=the_plan)
        run_id = new_run_id(the_plan.at)
        if scheduled and lock_wait is None and schedule.execution.overlap == "wait":
            lock_wait = _rest_of_window(the_plan)
        envs = sorted({t.environment for t in targets})
        cancel = cancel or threading.Event()
        notifiers = _notifiers(schedule, history, cancel)
        # The end of the run reaches these after the locks are released: a channel that
        # is slow to answer must not keep other runs out of the environments.
        # The log and the metrics first (local), which a slow notification channel must not
        # delay.
        metrics = _metrics(schedule, history, at)
        outside = FinishLater(
            [RunLog(secret_environment(schedule)[1]), *metrics, *notifiers, *observers]
        )
        try:
            with environment_locks(
                schedule.state_dir,
                envs,
                run_id=run_id,
                wait=lock_wait,
                history_url=schedule.history_url,
                cancel=cancel,
            ):
                log_locks_taken(envs, run_id)
                if not force and relaunch is None:
                    # Decide again under the locks: a run that held them (while this one
                    # waited, or between the first plan and the lock) may have done the
                    # work, and the window may have moved on.
                    again = replace(selection, environments=envs)
                    the_plan = _decide(schedule, history, at, again, force=False)
                    log_plan(the_plan, again=True)
                    targets = targets_from_decisions(the_plan.due)
                    if not targets:
                        return RunResult(plan=the_plan)
                recorder = Recorder(history)
                retention = Retention(
                    history,
                    schedule.state_dir,
                    schedule.history_retention_days,
                    recorder=recorder,
                )
                watchers = Observers([recorder, retention, outside])
                watch = watch_cancel_requests(
                    schedule.history_url, schedule.state_dir, run_id, cancel
                )
                with watch:
                    result = _execute(
                        schedule,
                        the_plan,
                        targets,
                        run_id=run_id,
                        trigger=trigger
                        or _trigger(scheduled=scheduled, force=force, relaunch=relaunch),
                        check=check,
                        cancel=cancel,
                        observer=watchers,
                        strategy=strategy,
                        history=history,
                        message=f"relaunch of {relaunch}" if relaunch else None,
                    )
        except BaseException as exc:
            log_lock_refused(exc, run_id)
            # The error of the run comes first; the others still hear how it ended.
            with contextlib.suppress(Exception):
                outside.finish()
            raise
        outside.finish(recorder.unrecorded)
        deliveries = tuple(d for n in notifiers for d in n.deliveries)
        return replace(result, notifications=deliveries, unrecorded=recorder.unrecorded)


def _notifiers(
    schedule: Schedule, history: HistoryStore, cancel: threading.Event
) -> list[Notifier]:
    """The run's notifier (a list of one), or none when the schedule has no channel.

    A run without channels neither needs nor imports the channels' modules (smtplib,
    http.client, urllib.request, the report): the imports would only delay the start of
    ansible-playbook (BENCHMARKS.md, "Fixed cost per run").
    """
    if not schedule.notification.channels:
        return []
    from agentmaint.notify.observer import Notifier  # noqa: PLC0415 -- see above

    return [Notifier(schedule, history, cancel)]


def _metrics(schedule: Schedule, history: HistoryStore, at: datetime | None) -> list[RunObserver]:
    """The run's metrics writer when the schedule writes metrics (imported only then)."""
    if not schedule.metrics:
        return []
    from agentmaint.metrics.observer import MetricsWriter  # noqa: PLC0415 -- as _notifiers

    return [MetricsWriter(schedule, history, at=at)]


@contextlib.contextmanager
def _history(schedule: Schedule, store: HistoryStore | None) -> Iterator[HistoryStore]:
    """The caller's store, or the schedule's history opened (and closed) for this run."""
    if store is not None:
        yield store
        return
    with open_history(schedule.history_url, schedule.state_dir) as opened:
        yield opened


def _rest_of_window(the_plan: Plan) -> timedelta | None:
    """How long a scheduled run may wait for its locks: until its last window closes."""
    ends = [d.window.end for d in the_plan.due if d.window is not None]
    return max(max(ends) - the_plan.at, timedelta(0)) if ends else None


@dataclass(frozen=True, slots=True)
class _Selection:
    """What a run was asked to consider: names, host patterns, the run it relaunches."""

    environments: Collection[str] | None
    components: Collection[str] | None
    hosts: Collection[str] | None
    relaunch: str | None


def _trigger(*, scheduled: bool, force: bool, relaunch: str | None) -> str:
    if relaunch is not None:
        return "relaunch"
    return "scheduled" if scheduled else "force" if force else "manual"


def _decide(
    schedule: Schedule,
    history: HistoryStore,
    at: datetime | None,
    selection: _Selection,
    *,
    force: bool,
) -> Plan:
    now = at or datetime.now(UTC)
    envs, comps = selection.environments, selection.components
    if selection.relaunch is not None:
        failed = [
            t
            for t in failed_targets(history, selection.relaunch)
            if (envs is None or t.environment in envs) and (comps is None or t.component in comps)
        ]
        decided = relaunch_plan(schedule, now, selection.relaunch, failed)
    elif force:
        decided = forced_plan(schedule, now, envs, comps)
    else:
        decided = plan(schedule, history, now, environments=envs, components=comps)
    return limit_plan(schedule, decided, selection.hosts) if selection.hosts else decided


def _execute(
    schedule: Schedule,
    the_plan: Plan,
    targets: tuple[Target, ...],
    *,
    run_id: str,
    trigger: str,
    check: bool,
    cancel: threading.Event,
    observer: RunObserver,
    strategy: Strategy,
    history: HistoryStore,
    message: str | None = None,
) -> RunResult:
    """Render, tell the observers the run started, execute every slice, conclude."""
    started = datetime.now(UTC)
    run_dir = make_run_dir(schedule.state_dir, run_id)
    control_dir = make_control_path_dir(run_dir, run_id)
    try:
        slices = prepare_slices(
            schedule,
            targets,
            run_id=run_id,
            run_dir=run_dir,
            timeout=job_timeout(schedule, the_plan, started),
            check=check,
            control_dir=control_dir,
            strategy=strategy,
            durations=history,
        )
        run = RunRecord(
            id=run_id,
            trigger=trigger,
            started=started,
            artifact_dir=slices[0].job.private_data_dir / "artifacts" / run_id
            if is_plain(slices)
            else run_dir / SLICES_DIR,
            pid=os.getpid(),
            check_mode=check,
            environments=tuple(sorted({t.environment for t in targets})),
            components=tuple(dict.fromkeys(t.component for t in targets)),
            controller=socket.gethostname(),
            process=process_identity(),
            message=message,
        )
        try:
            observer.run_started(run, the_plan)
        except BaseException:
            # Refused before any host was touched (e.g. a read-only history): the run
            # directory this call made holds nothing worth keeping, and no record keeps it.
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        try:
            run_slices(
                slices, cancel=cancel, observer=observer, hidden=secret_environment(schedule)
            )
        finally:
            # However the slices ended (a stop, an observer's error, an interrupt), what
            # they did is concluded and every observer sees it.
            result = conclude(
                run,
                the_plan,
                slices,
                finished=datetime.now(UTC),
                backup_expected=schedule.backup.enabled,
            )
            observer.run_finished(result)
        return result
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)
