"""A run's slices while they execute: one job each, all at once, events in one thread.

A run is one job on the controller, or one job per slice (`agentmaint.ansible.slicing`:
execution nodes, local slices). Every slice's events are parsed as they arrive and
every finished task is reported to the run's observer, in the thread that called
`run_slices`; a slice that fails (a node that is down) does not stop the others.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentmaint.ansible.budget import STOP_DIR
from agentmaint.ansible.events import EventParser
from agentmaint.ansible.naming import Target, classify, parse_play
from agentmaint.ansible.remote import remote_dir, run_remote_job, touch_node_file
from agentmaint.ansible.runner import Job, JobOutcome, run_job
from agentmaint.ansible.slicing import SLICES_DIR, Slice, slice_targets
from agentmaint.ansible.strategy import Strategy
from agentmaint.config.schedule import ExecutionNode, Schedule
from agentmaint.planning.history import DurationReader
from agentmaint.records import TaskResult, TaskStatus
from agentmaint.run.background import BackgroundJobs, stop_background_jobs
from agentmaint.run.background_choice import PlayChoice
from agentmaint.run.jobdir import background_choices, prepare_run_dir, remote_hosts
from agentmaint.run.observer import RunObserver, tell_task_started
from agentmaint.run.outside import record_node_jobs
from agentmaint.run.results import Progress, TaskStart

__all__ = [
    "BudgetWatch",
    "SliceRun",
    "is_plain",
    "prepare_slices",
    "progress_of",
    "run_slices",
    "start_of",
]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class SliceRun:
    """One slice of a run while it executes: its job, parser and what is in flight."""

    slice: Slice
    job: Job
    parser: EventParser = field(default_factory=EventParser)
    seen: int = 0
    #: (host, play, task) started and not yet finished: what a stop cuts short.
    in_flight: set[tuple[str, str, str]] = field(default_factory=set)
    #: (host, task uuid) -> what `in_flight` holds for it.
    starts: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    outcome: JobOutcome | None = None
    #: The run's directory of error-budget stop files (None: the run needs none).
    budget_dir: Path | None = None
    #: Its remote hosts' background jobs not yet waited for (None: it starts none).
    background: BackgroundJobs | None = None
    #: What ending them after a stop did (`agentmaint.run.background`), for the run's message.
    background_note: str | None = None

    @property
    def local(self) -> bool:
        """Whether the slice runs on the controller (not on an execution node)."""
        return self.slice.node is None

    def feed(
        self,
        event: Mapping[str, Any],
        observer: RunObserver,
        watch: Callable[[TaskResult], None] | None = None,
    ) -> None:
        """Parse one event of the job's stream; report every task it finished (to `watch` too)."""
        self.parser.feed(event)
        if self.background is not None:
            self.background.note(event)
        if event.get("event") == "runner_on_start":
            data = event.get("event_data") or {}
            host, play, task = str(data.get("host")), str(data.get("play")), str(data.get("task"))
            self.in_flight.add((host, play, task))
            self.starts[(host, str(data.get("task_uuid")))] = (host, play, task)
            tell_task_started(observer, start_of(host, play, task))
        fresh = self.parser.results_since(self.seen)
        for result in fresh:
            self.in_flight.discard((result.host, result.play, result.task))
            # A fused task's result stands under the name of its last step (same uuid).
            self.in_flight.discard(self.starts.pop((result.host, str(result.task_uuid)), ()))
            observer.task_finished(progress_of(result))
            if watch is not None:
                watch(result)
        self.seen += len(fresh)


def progress_of(result: TaskResult) -> Progress:
    """What the live display shows of one task result (environment, component, action).

    A step that failed shows as ``failed`` even when the parser already knows that the
    play's rescue took it over (``rescued``: the fused task's steps are read back whole):
    that is how the per-task play's own failure event shows it when it happens, and the
    rescue (rollback) follows as its own step. The history keeps ``rescued``.
    """
    if result.status is TaskStatus.RESCUED:
        result = replace(result, status=TaskStatus.FAILED)
    key = classify(result.play, result.task)
    if key is None:
        play = parse_play(result.play) or ("", "")
        return Progress(play[0], play[1], result.host, None, result)
    return Progress(key[0], key[1], result.host, key[2], result)


def start_of(host: str, play: str, task: str) -> TaskStart:
    """What the live display shows of one started task (environment, component, action)."""
    key = classify(play, task)
    if key is None:
        environment, component = parse_play(play) or ("", "")
        return TaskStart(environment, component, host, None, task)
    return TaskStart(key[0], key[1], host, key[2], task)


def is_plain(slices: list[SliceRun]) -> bool:
    """Whether a run is one job on the controller (the layout without ``slices/``)."""
    return len(slices) == 1 and slices[0].local


def prepare_slices(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    run_id: str,
    run_dir: Path,
    timeout: int | None,
    check: bool,
    control_dir: Path,
    strategy: Strategy,
    durations: DurationReader | None = None,
) -> list[SliceRun]:
    """One job per slice.

    A run that is one local slice keeps the plain layout (``runs/<id>/artifacts/<id>``);
    slices go to ``runs/<id>/slices/<n>-<node>/``. The jobs bound for execution nodes are
    written down in `run_dir` (`agentmaint.run.outside`). `durations` (the history) tell
    ``execution.background: auto`` how long the components' updates take
    (`agentmaint.run.background_choice`).
    """
    slices = slice_targets(schedule, targets, cpus=os.cpu_count() or 1)
    plain = len(slices) == 1 and slices[0].node is None
    # One process counts its own failures exactly; several also heed the controller's
    # stop files (`agentmaint.ansible.budget`): the run's for local slices, each job's
    # own directory for a node's (where the controller writes them over SSH).
    stops = not plain and any(t.budget is not None for part in slices for t in part.targets)
    if stops:
        (run_dir / STOP_DIR).mkdir(mode=0o700, exist_ok=True)
    choices = [
        background_choices(schedule, part.targets, check=check, durations=durations)
        for part in slices
    ]
    prepared = [
        SliceRun(
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
                budget_stop=_stop_dir(run_dir, part, f"{run_id}-{part.index}") if stops else None,
                choices=chosen,
            ),
            budget_dir=run_dir / STOP_DIR if stops else None,
            background=_background(schedule, part, chosen, run_id),
        )
        for part, chosen in zip(slices, choices, strict=True)
    ]
    # Before any job reaches its node: what a killed controller leaves there is known.
    record_node_jobs(
        run_dir, [(p.job.ident, p.slice.node) for p in prepared if p.slice.node is not None]
    )
    return prepared


def _background(
    schedule: Schedule, part: Slice, choices: tuple[PlayChoice, ...], run_id: str
) -> BackgroundJobs | None:
    """What follows a local slice's background jobs (None: it starts none).

    A node's slice is left out: its hosts may be reachable from the node alone, and its
    events reach the controller only as the node relays them.
    """
    if part.node is not None or not any(c.background for c in choices):
        return None
    return BackgroundJobs(schedule, remote_hosts(schedule, part.targets), run_id)


def _stop_dir(run_dir: Path, part: Slice, ident: str) -> str:
    """Where a slice's gates look for the stop files: on the controller, or on its node."""
    if part.node is None:
        return str((run_dir / STOP_DIR).absolute())
    return f"{remote_dir(part.node, ident)}/{STOP_DIR}"


class BudgetWatch:
    """The controller's side of the error budget across slices (`agentmaint.ansible.budget`).

    Counts each environment's failed (or unreachable) hosts over all slices as their
    events arrive; once they exceed the environment's budget, writes its stop file for
    every slice: in the run's directory for local slices, on the node (over SSH, in a
    thread of its own so that events keep flowing) for a node's.
    """

    def __init__(
        self, slices: list[SliceRun], stop_dir: Path | None, hidden: tuple[set[str], list[str]]
    ) -> None:
        """Watch `slices`, writing local stop files in `stop_dir` (None: a run without any)."""
        self._slices = slices
        self._stop_dir = stop_dir
        self._hidden = hidden
        self._budgets = {
            t.environment: t.budget
            for p in slices
            for t in p.slice.targets
            if t.budget is not None and stop_dir is not None
        }
        self._failed: dict[str, set[str]] = {}
        self._stopped: set[str] = set()
        self._threads: list[threading.Thread] = []

    def note(self, result: TaskResult) -> None:
        """Count `result` if it failed a host; stop the environment when its budget is spent."""
        if result.status not in {TaskStatus.FAILED, TaskStatus.UNREACHABLE}:
            return
        play = parse_play(result.play)
        if play is None or play[0] not in self._budgets:
            return
        environment = play[0]
        failed = self._failed.setdefault(environment, set())
        failed.add(result.host)
        if environment in self._stopped or len(failed) <= self._budgets[environment]:
            return
        self._stopped.add(environment)
        logger.info(
            "error budget of %s exhausted (%d hosts failed, %d allowed): no new batch starts",
            environment,
            len(failed),
            self._budgets[environment],
        )
        self._stop_local(environment)
        for part in self._slices:
            node = part.slice.node
            if node is not None and any(t.environment == environment for t in part.slice.targets):
                thread = threading.Thread(
                    target=self._stop_node,
                    args=(node, part.job.ident, environment),
                    name=f"budget-{part.slice.index}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def join(self) -> None:
        """Wait for the stop files still being written on nodes."""
        for thread in self._threads:
            thread.join()  # an ssh that outlives its job finds no directory and returns

    def _stop_local(self, environment: str) -> None:
        assert self._stop_dir is not None  # no budgets are watched without it
        path = self._stop_dir / environment
        try:
            # O_NOFOLLOW|O_EXCL: a file of our own, in our own directory, never a link.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            logger.warning("could not write the error budget's stop file %s: %s", path, exc)
            return
        os.close(fd)

    def _stop_node(self, node: ExecutionNode, ident: str, environment: str) -> None:
        error = touch_node_file(node, ident, STOP_DIR, environment, self._hidden)
        if error is not None:
            logger.warning(
                "could not stop %s on node %s (error budget exhausted): %s",
                environment,
                node.name,
                error,
            )


@dataclass(frozen=True, slots=True)
class _Event:
    index: int
    event: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class _Status:
    index: int
    status: str


@dataclass(frozen=True, slots=True)
class _Done:
    index: int
    outcome: JobOutcome | BaseException | None


_Message = _Event | _Status | _Done


def run_slices(
    slices: list[SliceRun],
    *,
    cancel: threading.Event,
    observer: RunObserver,
    hidden: tuple[set[str], list[str]],
) -> None:
    """Run every slice's job at once; events are handled in THIS thread.

    Events keep their stream order within a slice. A slice that fails (a node that is
    down) does not stop the others; its outcome says why. A run canceled before its
    jobs start (a signal during the start notification) starts none: no host is touched.
    A slice stopped (cancel, timeout) while background jobs it started on remote hosts
    still ran ends them before this returns (`agentmaint.run.background`).
    """
    try:
        _run_all(slices, cancel=cancel, observer=observer, hidden=hidden)
    finally:
        for part in slices:
            if part.background is not None:
                part.background_note = stop_background_jobs(
                    part.background, part.job, part.outcome, cancel=cancel, hidden=hidden
                )


def _run_all(
    slices: list[SliceRun],
    *,
    cancel: threading.Event,
    observer: RunObserver,
    hidden: tuple[set[str], list[str]],
) -> None:
    """Run every slice's job at once (see `run_slices`)."""
    if cancel.is_set():
        for part in slices:
            artifacts = part.job.private_data_dir / "artifacts" / part.job.ident
            part.outcome = JobOutcome("canceled", None, artifacts)
        return
    if is_plain(slices):
        only = slices[0]  # the common case: no thread, no second queue
        only.outcome = run_job(
            only.job,
            lambda event: only.feed(event, observer),
            cancel=cancel,
            on_status=observer.status_changed,
            hidden_environment=hidden,
        )
        return
    inbox: queue.SimpleQueue[_Message] = queue.SimpleQueue()

    def work(index: int, part: SliceRun) -> None:
        outcome: JobOutcome | BaseException | None = None
        try:
            node = part.slice.node
            if node is None:
                outcome = run_job(
                    part.job,
                    lambda item: inbox.put(_Event(index, item)),
                    cancel=cancel,
                    on_status=lambda word: inbox.put(_Status(index, word)),
                    hidden_environment=hidden,
                )
            else:
                outcome = run_remote_job(
                    part.job,
                    node,
                    lambda item: inbox.put(_Event(index, item)),
                    cancel=cancel,
                    on_status=lambda word: inbox.put(_Status(index, word)),
                    hidden_environment=hidden,
                )
        except Exception as exc:  # recorded as this slice's error; the others go on
            outcome = exc
        finally:
            inbox.put(_Done(index, outcome))

    watch = BudgetWatch(slices, slices[0].budget_dir, hidden)
    threads = [
        threading.Thread(target=work, args=(i, part), name=f"slice-{part.slice.index}")
        for i, part in enumerate(slices)
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            message = inbox.get()
            part = slices[message.index]
            if isinstance(message, _Event):
                part.feed(message.event, observer, watch.note)
            elif isinstance(message, _Status):
                observer.status_changed(message.status)
            else:
                running -= 1
                part.outcome = _slice_outcome(part, message.outcome)
    finally:
        if running:  # interrupted: stop the slices still running
            cancel.set()
        for thread in threads:
            thread.join()
        watch.join()


def _slice_outcome(part: SliceRun, outcome: JobOutcome | BaseException | None) -> JobOutcome:
    if isinstance(outcome, JobOutcome):
        return outcome
    return JobOutcome(
        "error",
        None,
        part.job.private_data_dir / "artifacts" / part.job.ident,
        error=f"slice {part.slice.index} on {part.slice.name}: {outcome}",
    )
