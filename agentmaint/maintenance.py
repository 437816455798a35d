"""The maintenance cycle: plan, render, run through ansible-runner, record, return a typed result.

This is the composition root of a run: it wires the planner, the renderer, the
runner adapter, the event parser and the history store, and owns the run's
directory ``state_dir/runs/<run id>/`` (created private, 0700).
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from agentmaint.ansible.events import EventParser
from agentmaint.ansible.remote import run_remote_job
from agentmaint.ansible.render import (
    PLAYBOOK_NAME,
    Target,
    ansible_cfg,
    dump_yaml,
    inventory,
    playbook,
    targets_from_decisions,
)
from agentmaint.ansible.rollup import classify, parse_play, rollup
from agentmaint.ansible.runner import Job, JobOutcome, run_job
from agentmaint.ansible.slicing import SLICES_DIR, Slice, slice_targets
from agentmaint.ansible.strategy import Strategy
from agentmaint.ansible.strategy import on_node as strategy_on_node
from agentmaint.ansible.strategy import resolve as resolve_strategy
from agentmaint.config.roles import ROLES_PATH
from agentmaint.config.schedule import ExecutionNode, NotifyEvent, Schedule
from agentmaint.errors import AgentmaintError
from agentmaint.history.delivery import Delivery
from agentmaint.history.store import HistoryStore, RunRecording, open_history
from agentmaint.notify import notify_run
from agentmaint.planning.history import HistoryReader
from agentmaint.planning.planner import Decision, HostDecision, Plan, plan
from agentmaint.records import (
    Action,
    HostCounts,
    MaintenanceRecord,
    Outcome,
    RunRecord,
    RunStatus,
    TaskResult,
)
from agentmaint.run.locks import environment_locks
from agentmaint.run.recovery import recover_interrupted_runs

MAX_DEFAULT_FORKS = 50
MIN_TIMEOUT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Progress:
    """One task finished on one host: what the live display shows."""

    environment: str
    component: str
    host: str
    action: Action | None
    result: TaskResult


@dataclass(frozen=True, slots=True)
class HostOutcome:
    """How maintaining one component on one host ended, over all its actions."""

    environment: str
    component: str
    host: str
    status: Outcome
    actions: Mapping[Action, Outcome]
    error: str | None = None

    @property
    def rolled_back(self) -> bool:
        """Whether a rollback ran on the host."""
        return Action.ROLLBACK in self.actions

    @property
    def needs_attention(self) -> bool:
        """Whether the rollback itself failed: the host may be half-updated."""
        return self.actions.get(Action.ROLLBACK) is Outcome.FAILED


@dataclass(frozen=True, slots=True)
class RunResult:
    """The typed result of `run_maintenance`."""

    plan: Plan
    run: RunRecord | None = None
    records: tuple[MaintenanceRecord, ...] = ()
    outcomes: tuple[HostOutcome, ...] = ()
    counts: Mapping[str, HostCounts] = field(default_factory=dict)
    notifications: tuple[Delivery, ...] = ()  # how the run's notifications went (redacted)

    @property
    def nothing_due(self) -> bool:
        """True when no host was due, so nothing ran."""
        return self.run is None

    @property
    def failed_hosts(self) -> tuple[str, ...]:
        """Hosts on which any component failed or was unreachable, in order, once each."""
        failed = (o.host for o in self.outcomes if o.status in _BAD)
        return tuple(dict.fromkeys(failed))

    @property
    def succeeded(self) -> bool:
        """True when the run finished and no host failed (or nothing was due)."""
        if self.run is None:
            return True
        return self.run.status is RunStatus.SUCCESSFUL and not self.failed_hosts

    def to_dict(self) -> dict[str, Any]:
        """The ``run --json`` document."""
        run = self.run
        return {
            "at": self.plan.at.astimezone(UTC).isoformat(),
            "run": None
            if run is None
            else {
                "id": run.id,
                "trigger": run.trigger,
                "status": run.status.value,
                "started": run.started.isoformat(),
                "finished": run.finished.isoformat() if run.finished else None,
                "runner_rc": run.runner_rc,
                "artifact_dir": str(run.artifact_dir) if run.artifact_dir else None,
                "check": run.check_mode,
                "message": run.message,
            },
            "failed_hosts": list(self.failed_hosts),
            "outcomes": [
                {
                    "environment": o.environment,
                    "component": o.component,
                    "host": o.host,
                    "status": o.status.value,
                    "actions": {a.value: s.value for a, s in o.actions.items()},
                    "needs_attention": o.needs_attention,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            "records": [r.to_dict() for r in self.records],
            "hosts": {h: c.to_dict() for h, c in self.counts.items()},
            "notifications": [d.to_dict() for d in self.notifications],
        }


_BAD = {Outcome.FAILED, Outcome.UNREACHABLE}
ProgressSink = Callable[[Progress], None]


class StateDirError(AgentmaintError, OSError):
    """The state directory cannot hold a run's history and artifacts."""


#: Free space a run needs in state_dir before it touches any host (artifacts, history).
MIN_FREE_BYTES = 64 * 1024 * 1024


def check_state_dir(state_dir: Path) -> None:
    """Fail before any host is touched when `state_dir` is not writable or nearly full."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state_dir, prefix=".probe-") as probe:
            probe.write(b"\0" * 65536)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise StateDirError(
            f"state_dir {state_dir} is not a writable directory: {exc.strerror or exc}"
        ) from None
    free = shutil.disk_usage(state_dir).free
    if free < MIN_FREE_BYTES:
        raise StateDirError(
            f"state_dir {state_dir} has only {free // 1024} KiB free; a run needs at least "
            f"{MIN_FREE_BYTES // (1024 * 1024)} MiB for its artifacts and history"
        )


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id: ``20261123T013000Z-1a2b3c``."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


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
    on_progress: ProgressSink | None = None,
    on_status: Callable[[str], None] | None = None,
    lock_wait: timedelta | None = None,
) -> RunResult:
    """Run what is due now (or at `at`) and record it; return the typed result.

    `force` runs the chosen environments and components on every host, ignoring
    windows and history. `check` runs Ansible in check mode; its results are kept
    with the run but do not count as updates. Setting `cancel` stops the run
    (recorded as ``canceled``). `on_progress` gets every finished task and `on_status`
    ansible-runner's status changes, both in the calling thread. Raises `LockHeldError`
    when another run holds an environment this one needs.
    """
    now = at or datetime.now(UTC)
    strategy = resolve_strategy(schedule.execution.strategy)  # one that cannot work: fail now
    check_state_dir(schedule.state_dir)
    owns_store = store is None
    store = store or open_history(schedule.history_url, schedule.state_dir)
    try:
        recover_interrupted_runs(store)
        history: HistoryReader = store
        the_plan = (
            forced_plan(schedule, now, environments, components)
            if force
            else plan(schedule, history, now, environments=environments, components=components)
        )
        targets = targets_from_decisions(the_plan.due)
        if not targets:
            return RunResult(plan=the_plan)
        run_id = new_run_id(now)
        envs = sorted({t.environment for t in targets})
        with environment_locks(
            schedule.state_dir,
            envs,
            run_id=run_id,
            wait=lock_wait,
            history_url=schedule.history_url,
        ):
            if not force:
                # Decide again under the locks: a run that held them (while this one
                # waited, or between the first plan and the lock) may have done the work,
                # and the window may have moved on.
                now = at or datetime.now(UTC)
                the_plan = plan(schedule, store, now, environments=envs, components=components)
                targets = targets_from_decisions(the_plan.due)
                if not targets:
                    return RunResult(plan=the_plan)
            return _execute(
                schedule,
                store,
                the_plan,
                targets,
                run_id=run_id,
                trigger=trigger or ("force" if force else "schedule"),
                check=check,
                cancel=cancel,
                on_progress=on_progress,
                on_status=on_status,
                strategy=strategy,
            )
    finally:
        if owns_store:
            store.close()


def prepare_run_dir(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    run_id: str,
    directory: Path,
    timeout: int | None = None,
    check: bool = False,
    control_path_dir: Path | None = None,
    strategy: Strategy | None = None,
    ident: str | None = None,
    node: ExecutionNode | None = None,
) -> Job:
    """Write inventory, playbook and ansible.cfg into a fresh private_data_dir.

    `strategy` defaults to what ``execution.strategy`` resolves to
    (see `agentmaint.ansible.strategy`).
    `ident` names the job and its artifact directory (default: `run_id`). For a job that
    runs on an execution `node` the directory is self-contained: the bundled roles are
    copied into it, every path in ansible.cfg is relative to it, and local hosts keep the
    node's own Python.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=False)
    for sub in ("inventory", "project", "tmp"):
        (directory / sub).mkdir(mode=0o700)
    envs = sorted({t.environment for t in targets})
    hosts = {h for t in targets for h in t.hosts}
    forks = schedule.execution.forks or max(1, min(MAX_DEFAULT_FORKS, len(hosts)))
    inventory_path = directory / "inventory" / "hosts.yml"
    strategy = strategy or resolve_strategy(schedule.execution.strategy)
    if node is not None:
        strategy = strategy_on_node(strategy)
    local = node is None
    inventory_path.write_text(
        dump_yaml(inventory(schedule, envs, mitogen=strategy.mitogen, on_controller=local))
    )
    project = directory / "project"
    (project / PLAYBOOK_NAME).write_text(dump_yaml(playbook(schedule, targets, run_id=run_id)))
    if not local:
        shutil.copytree(ROLES_PATH, project / "roles", ignore=shutil.ignore_patterns("molecule"))
    config = project / "ansible.cfg"
    config.write_text(
        ansible_cfg(
            schedule,
            forks=forks,
            # On a node, relative to the project directory (ansible-runner's working directory).
            local_tmp=directory / "tmp" if local else Path("../tmp"),
            overrides=schedule.ansible_cfg,
            control_path_dir=control_path_dir if local else Path("../cp"),
            strategy=strategy,
            roles_path=ROLES_PATH if local else Path("roles"),
        )
    )
    return Job(
        private_data_dir=directory,
        playbook=PLAYBOOK_NAME,
        inventory=inventory_path,
        ident=ident or run_id,
        # On a node, ansible.cfg is found in the working directory (the project).
        envvars={"ANSIBLE_CONFIG": str(config) if local else "ansible.cfg"},
        timeout=timeout,
        check=check,
        control_path_dir=control_path_dir if local else None,
    )


def _timeout(schedule: Schedule, the_plan: Plan, now: datetime) -> int | None:
    if schedule.execution.timeout:
        return int(schedule.execution.timeout.total_seconds())
    ends = [d.window.end for d in the_plan.due if d.window is not None]
    if not ends:
        return None  # forced runs have no window
    return int(max(max(ends) - now, MIN_TIMEOUT).total_seconds())


@dataclass(slots=True)
class _SliceRun:
    """One slice of a run while it executes: its job, parser and what is in flight."""

    slice: Slice
    job: Job
    parser: EventParser = field(default_factory=EventParser)
    seen: int = 0
    # (host, play, task) started and not yet finished: what a stop cuts short.
    in_flight: set[tuple[str, str, str]] = field(default_factory=set)
    outcome: JobOutcome | None = None

    def feed(self, event: Mapping[str, Any], on_progress: ProgressSink | None) -> None:
        self.parser.feed(event)
        if event.get("event") == "runner_on_start":
            data = event.get("event_data") or {}
            self.in_flight.add(
                (str(data.get("host")), str(data.get("play")), str(data.get("task")))
            )
        fresh = self.parser.results_since(self.seen)
        for result in fresh:
            self.in_flight.discard((result.host, result.play, result.task))
            if on_progress is not None:
                on_progress(_progress(result))
        self.seen += len(fresh)


def _prepare_slices(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    run_id: str,
    run_dir: Path,
    timeout: int | None,
    check: bool,
    control_dir: Path,
    strategy: Strategy,
) -> list[_SliceRun]:
    """One job per slice.

    A run that is one local slice keeps the plain layout (``runs/<id>/artifacts/<id>``);
    slices go to ``runs/<id>/slices/<n>-<node>/``.
    """
    slices = slice_targets(schedule, targets, cpus=os.cpu_count() or 1)
    plain = len(slices) == 1 and slices[0].node is None
    runs = []
    for part in slices:
        runs.append(
            _SliceRun(
                part,
                prepare_run_dir(
                    schedule,
                    part.targets,
                    run_id=run_id,
                    directory=run_dir if plain else run_dir / SLICES_DIR / part.directory,
                    timeout=timeout,
                    check=check,
                    control_path_dir=control_dir,
                    strategy=strategy,
                    ident=run_id if plain else f"{run_id}-{part.index}",
                    node=part.node,
                ),
            )
        )
    return runs


def _execute(
    schedule: Schedule,
    store: HistoryStore,
    the_plan: Plan,
    targets: tuple[Target, ...],
    *,
    run_id: str,
    trigger: str,
    check: bool,
    cancel: threading.Event | None,
    on_progress: ProgressSink | None,
    on_status: Callable[[str], None] | None,
    strategy: Strategy,
) -> RunResult:
    started = datetime.now(UTC)
    run_dir = schedule.state_dir / "runs" / run_id
    # Short and private: a Unix socket path must fit in 108 bytes.
    control_dir = Path(tempfile.mkdtemp(prefix="agentmaint-cp-"))
    slices = _prepare_slices(
        schedule,
        targets,
        run_id=run_id,
        run_dir=run_dir,
        timeout=_timeout(schedule, the_plan, started),
        check=check,
        control_dir=control_dir,
        strategy=strategy,
    )
    plain = len(slices) == 1 and slices[0].slice.node is None
    run = RunRecord(
        id=run_id,
        trigger=trigger,
        started=started,
        artifact_dir=slices[0].job.private_data_dir / "artifacts" / run_id
        if plain
        else run_dir / SLICES_DIR,
        pid=os.getpid(),
        check_mode=check,
        environments=tuple(sorted({t.environment for t in targets})),
        components=tuple(dict.fromkeys(t.component for t in targets)),
    )
    store.begin_run(run)
    sent = _notify(schedule, store, RunResult(plan=the_plan, run=run), NotifyEvent.START)
    try:
        _run_slices(
            slices,
            cancel=cancel or threading.Event(),
            on_progress=on_progress,
            on_status=on_status,
            hidden=_secret_environment(schedule),
        )
    finally:
        finished = datetime.now(UTC)
        ended = _record(schedule, store, run, slices, finished=finished, check=check)
        _prune(schedule, store, finished)
        shutil.rmtree(control_dir, ignore_errors=True)
    final = store.get_run(run_id) or run
    result = RunResult(
        plan=the_plan,
        run=final,
        records=tuple(ended.records),
        outcomes=_outcomes(ended.records),
        counts=ended.counts,
    )
    sent += _notify(schedule, store, result, None)
    return replace(result, notifications=sent)


def _run_slices(
    slices: list[_SliceRun],
    *,
    cancel: threading.Event,
    on_progress: ProgressSink | None,
    on_status: Callable[[str], None] | None,
    hidden: tuple[set[str], list[str]],
) -> None:
    """Run every slice's job at once; events are handled in THIS thread.

    Events keep their stream order within a slice. A slice that fails (a node that is
    down) does not stop the others.
    """
    if len(slices) == 1 and slices[0].slice.node is None:
        only = slices[0]  # the common case: no thread, no second queue
        only.outcome = run_job(
            only.job,
            lambda event: only.feed(event, on_progress),
            cancel=cancel,
            on_status=on_status,
            hidden_environment=hidden,
        )
        return
    inbox: queue.SimpleQueue[tuple[int, str, Any]] = queue.SimpleQueue()

    def work(index: int, part: _SliceRun) -> None:
        def event(item: Mapping[str, Any]) -> None:
            inbox.put((index, "event", item))

        def status(word: str) -> None:
            inbox.put((index, "status", word))

        outcome: Any = None
        try:
            node = part.slice.node
            if node is None:
                outcome = run_job(
                    part.job, event, cancel=cancel, on_status=status, hidden_environment=hidden
                )
            else:
                outcome = run_remote_job(
                    part.job,
                    node,
                    event,
                    cancel=cancel,
                    on_status=status,
                    hidden_environment=hidden,
                )
        except Exception as exc:  # recorded as this slice's error; the others go on
            outcome = exc
        finally:
            inbox.put((index, "done", outcome))

    threads = [
        threading.Thread(target=work, args=(i, part), name=f"slice-{part.slice.index}")
        for i, part in enumerate(slices)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            index, kind, payload = inbox.get()
            part = slices[index]
            if kind == "event":
                part.feed(payload, on_progress)
            elif kind == "status":
                if on_status is not None:
                    on_status(payload)
            else:
                running -= 1
                part.outcome = (
                    payload
                    if isinstance(payload, JobOutcome)
                    else JobOutcome(
                        "error",
                        None,
                        part.job.private_data_dir / "artifacts" / part.job.ident,
                        error=f"slice {part.slice.index} on {part.slice.name}: {payload}",
                    )
                )
    finally:
        if running:  # interrupted: stop the slices still running
            cancel.set()
        for thread in threads:
            thread.join()


@dataclass(frozen=True, slots=True)
class _Recorded:
    records: list[MaintenanceRecord]
    counts: dict[str, HostCounts]


def _record(
    schedule: Schedule,
    store: HistoryStore,
    run: RunRecord,
    slices: list[_SliceRun],
    *,
    finished: datetime,
    check: bool,
) -> _Recorded:
    """Store what every slice did, under one run, and finish the run."""
    run_id = run.id
    records: list[MaintenanceRecord] = []
    results: list[TaskResult] = []
    counts: dict[str, HostCounts] = {}
    statuses: list[RunStatus] = []
    messages: list[str] = []
    rcs: list[int] = []
    for part in slices:
        outcome = part.outcome
        parsed = part.parser.finish(
            status=outcome.status if outcome else "error", rc=outcome.rc if outcome else None
        )
        message = parsed.error or (outcome.error if outcome else None)
        status = parsed.status
        stopped = None if status is RunStatus.SUCCESSFUL else f"run {status.value}"
        if outcome is not None and outcome.error and part.slice.node is not None:
            # The node failed (unreachable, died): what its hosts did not do is due again.
            status = RunStatus.ERROR if status is RunStatus.SUCCESSFUL else status
            stopped = outcome.error
        records += rollup(
            parsed.results,
            part.slice.targets,
            backup_expected=schedule.backup.enabled,
            now=finished,
            run_id=run_id,
            stopped_reason=stopped,
            interrupted=part.in_flight,
        )
        results += parsed.results
        counts.update(parsed.counts)
        statuses.append(status)
        if outcome is not None and outcome.rc is not None:
            rcs.append(outcome.rc)
        if message:
            messages.append(
                message
                if len(slices) == 1
                else f"slice {part.slice.index} ({part.slice.name}): {message}"
            )
    ended = replace(
        run,
        status=_run_status(statuses),
        finished=finished,
        runner_rc=max(rcs, default=None) if len(slices) > 1 else (rcs[0] if rcs else None),
        message="; ".join(messages) or None,
    )
    # One transaction: a controller killed while recording leaves the run `running`.
    store.record_run(RunRecording(ended, results, counts, records if not check else ()))
    return _Recorded(records, counts)


_STOPPED = (RunStatus.CANCELED, RunStatus.TIMEOUT)


def _run_status(statuses: list[RunStatus]) -> RunStatus:
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


#: libpq's own secret variables: never passed to a job.
_LIBPQ_SECRETS = {"PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE"}


def _secret_environment(schedule: Schedule) -> tuple[set[str], list[str]]:
    """Variable names that secrets were read from, and the secret values themselves."""
    values = [s.reveal() for s in schedule.notification.secrets() if s.reveal()]
    names = set(schedule.notification.env_names) | set(schedule.history_env_names)
    if schedule.history_url is not None:
        url = schedule.history_url.reveal()
        values.append(url)
        password = urlsplit(url).password
        if password:
            values += [password, unquote(password)]
        names |= _LIBPQ_SECRETS
    return names, values


def _notify(
    schedule: Schedule, store: HistoryStore, result: RunResult, event: NotifyEvent | None
) -> tuple[Delivery, ...]:
    """Send and record the run's notifications; never raises, never changes the result."""
    deliveries: tuple[Delivery, ...] = ()
    try:
        deliveries = notify_run(schedule, result, event)
        if deliveries and result.run is not None:
            store.add_notifications(result.run.id, deliveries)
    except Exception:  # the boundary: a notification never aborts or changes a run
        pass
    return deliveries


def _progress(result: TaskResult) -> Progress:
    key = classify(result.play, result.task)
    if key is None:
        play = parse_play(result.play) or ("", "")
        return Progress(play[0], play[1], result.host, None, result)
    return Progress(key[0], key[1], result.host, key[2], result)


def _outcomes(records: list[MaintenanceRecord]) -> tuple[HostOutcome, ...]:
    grouped: dict[tuple[str, str, str], dict[Action, MaintenanceRecord]] = {}
    for record in records:
        key = (record.environment, record.component, record.server)
        grouped.setdefault(key, {})[record.action] = record
    outcomes = []
    for (environment, component, host), actions in grouped.items():
        statuses = {action: record.status for action, record in actions.items()}
        errors = [r.error for r in actions.values() if r.status in _BAD and r.error]
        if Outcome.UNREACHABLE in statuses.values():
            status = Outcome.UNREACHABLE
        elif Outcome.FAILED in statuses.values() or Action.ROLLBACK in statuses:
            status = Outcome.FAILED
        elif statuses.get(Action.UPDATE) is Outcome.SUCCESS:
            status = Outcome.SUCCESS
        else:
            status = Outcome.SKIPPED
            skipped = actions.get(Action.UPDATE)
            errors = [skipped.error] if skipped and skipped.error else errors
        outcomes.append(
            HostOutcome(
                environment, component, host, status, statuses, errors[0] if errors else None
            )
        )
    return tuple(outcomes)


def _prune(schedule: Schedule, store: HistoryStore, now: datetime) -> None:
    days = schedule.history_retention_days
    if not days:
        return
    for old in store.prune(now - timedelta(days=days)):
        if old.artifact_dir is not None:
            sliced = old.artifact_dir.name == SLICES_DIR
            run_dir = old.artifact_dir.parent if sliced else old.artifact_dir.parent.parent
            if run_dir.parent == schedule.state_dir / "runs":
                shutil.rmtree(run_dir, ignore_errors=True)
