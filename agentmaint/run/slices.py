"""A run's slices while they execute: one job each, all at once, events in one thread.

A run is one job on the controller, or one job per slice (`agentmaint.ansible.slicing`:
execution nodes, local slices). Every slice's events are parsed as they arrive and
every finished task is reported to the run's observer, in the thread that called
`run_slices`; a slice that fails (a node that is down) does not stop the others.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentmaint.ansible.events import EventParser
from agentmaint.ansible.naming import Target, classify, parse_play
from agentmaint.ansible.remote import run_remote_job
from agentmaint.ansible.runner import Job, JobOutcome, run_job
from agentmaint.ansible.slicing import SLICES_DIR, Slice, slice_targets
from agentmaint.ansible.strategy import Strategy
from agentmaint.config.schedule import Schedule
from agentmaint.records import TaskResult
from agentmaint.run.jobdir import prepare_run_dir
from agentmaint.run.observer import RunObserver
from agentmaint.run.outside import record_node_jobs
from agentmaint.run.results import Progress

__all__ = ["SliceRun", "is_plain", "prepare_slices", "progress_of", "run_slices"]


@dataclass(slots=True)
class SliceRun:
    """One slice of a run while it executes: its job, parser and what is in flight."""

    slice: Slice
    job: Job
    parser: EventParser = field(default_factory=EventParser)
    seen: int = 0
    #: (host, play, task) started and not yet finished: what a stop cuts short.
    in_flight: set[tuple[str, str, str]] = field(default_factory=set)
    outcome: JobOutcome | None = None

    @property
    def local(self) -> bool:
        """Whether the slice runs on the controller (not on an execution node)."""
        return self.slice.node is None

    def feed(self, event: Mapping[str, Any], observer: RunObserver) -> None:
        """Parse one event of the job's stream; report every task it finished."""
        self.parser.feed(event)
        if event.get("event") == "runner_on_start":
            data = event.get("event_data") or {}
            self.in_flight.add(
                (str(data.get("host")), str(data.get("play")), str(data.get("task")))
            )
        fresh = self.parser.results_since(self.seen)
        for result in fresh:
            self.in_flight.discard((result.host, result.play, result.task))
            observer.task_finished(progress_of(result))
        self.seen += len(fresh)


def progress_of(result: TaskResult) -> Progress:
    """What the live display shows of one task result (environment, component, action)."""
    key = classify(result.play, result.task)
    if key is None:
        play = parse_play(result.play) or ("", "")
        return Progress(play[0], play[1], result.host, None, result)
    return Progress(key[0], key[1], result.host, key[2], result)


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
) -> list[SliceRun]:
    """One job per slice.

    A run that is one local slice keeps the plain layout (``runs/<id>/artifacts/<id>``);
    slices go to ``runs/<id>/slices/<n>-<node>/``. The jobs bound for execution nodes are
    written down in `run_dir` (`agentmaint.run.outside`).
    """
    slices = slice_targets(schedule, targets, cpus=os.cpu_count() or 1)
    plain = len(slices) == 1 and slices[0].node is None
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
            ),
        )
        for part in slices
    ]
    # Before any job reaches its node: what a killed controller leaves there is known.
    record_node_jobs(
        run_dir, [(p.job.ident, p.slice.node) for p in prepared if p.slice.node is not None]
    )
    return prepared


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
    """
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
                part.feed(message.event, observer)
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


def _slice_outcome(part: SliceRun, outcome: JobOutcome | BaseException | None) -> JobOutcome:
    if isinstance(outcome, JobOutcome):
        return outcome
    return JobOutcome(
        "error",
        None,
        part.job.private_data_dir / "artifacts" / part.job.ident,
        error=f"slice {part.slice.index} on {part.slice.name}: {outcome}",
    )
