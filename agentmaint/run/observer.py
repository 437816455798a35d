"""Observers of a run: the one extension point for side effects that watch it.

A run (`agentmaint.run_maintenance`) is a fixed sequence of stages; everything that
only *watches* it implements `RunObserver` (like nornir's ``Processor``): the
history recorder, notifications, retention, the CLI's live progress, and whatever
a caller adds (metrics, logs, reports). Nobody has to subclass anything: any object
with these four methods will do; `BaseObserver` gives no-op defaults to override.
An observer may also define ``task_started(start: TaskStart)`` (one task started on one
host, as the job's ``runner_on_start`` event arrives: what a live display shows as
running); it is optional, so that an observer written for the four methods still works
(`tell_task_started` calls it when it is there).

Observers are called in the thread that called `run_maintenance`, in the order
given, and must return quickly from `task_finished` (it runs between two events of
the job's stream). An exception from `run_started` aborts the run before any host is
touched; from `task_finished` or `status_changed` it cancels the run (which is then
finished and recorded as usual); from `run_finished` it propagates to the caller
once every observer has seen the end of the run. Observers whose failure must never affect a
run (notifications) catch their own errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from agentmaint.planning.planner import Plan
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.results import Progress, RunResult, TaskStart, Unrecorded

__all__ = ["BaseObserver", "FinishLater", "Observers", "RunObserver", "tell_task_started"]


@runtime_checkable
class RunObserver(Protocol):
    """What watches a run, from its start to its typed result."""

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """The run was decided and is about to touch hosts (`run` is ``running``)."""

    def task_finished(self, progress: Progress) -> None:
        """One task finished on one host."""

    def status_changed(self, status: str) -> None:
        """ansible-runner's status of a job changed (starting, running, successful, ...)."""

    def run_finished(self, result: RunResult) -> None:
        """The run ended (whatever way) and this is its final, typed result."""


def tell_task_started(observer: RunObserver, start: TaskStart) -> None:
    """Call `observer`'s optional ``task_started`` hook, if it has one."""
    hook = getattr(observer, "task_started", None)
    if hook is not None:
        hook(start)


class BaseObserver:
    """A `RunObserver` that does nothing: subclass it and override what you need."""

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Do nothing."""

    def task_started(self, start: TaskStart) -> None:
        """Do nothing (the optional hook: one task started on one host)."""

    def task_finished(self, progress: Progress) -> None:
        """Do nothing."""

    def status_changed(self, status: str) -> None:
        """Do nothing."""

    def run_finished(self, result: RunResult) -> None:
        """Do nothing."""


class Observers(BaseObserver):
    """Several observers called in order, as one."""

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        """Call `observers` in this order."""
        self._observers = tuple(observers)

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Tell every observer, in order.

        If one raises, the observers already told see the run finish as an error
        (nothing was run) before the exception propagates: a history never keeps a run
        ``running`` that never ran.
        """
        for told, observer in enumerate(self._observers):
            try:
                observer.run_started(run, plan)
            except BaseException as exc:
                aborted = replace(
                    run,
                    status=RunStatus.ERROR,
                    finished=datetime.now(UTC),
                    message=f"not started: {exc}",
                )
                Observers(self._observers[:told]).run_finished(RunResult(plan=plan, run=aborted))
                raise

    def task_started(self, start: TaskStart) -> None:
        """Tell every observer that has the hook, in order."""
        for observer in self._observers:
            tell_task_started(observer, start)

    def task_finished(self, progress: Progress) -> None:
        """Tell every observer, in order."""
        for observer in self._observers:
            observer.task_finished(progress)

    def status_changed(self, status: str) -> None:
        """Tell every observer, in order."""
        for observer in self._observers:
            observer.status_changed(status)

    def run_finished(self, result: RunResult) -> None:
        """Tell every observer, in order; the first exception propagates after all ran."""
        error: BaseException | None = None
        for observer in self._observers:
            try:
                observer.run_finished(result)
            except BaseException as exc:  # the others still see the end of the run
                error = error or exc
        if error is not None:
            raise error


class FinishLater(BaseObserver):
    """Observers told of everything at once, except the end of the run: that on `finish`.

    The run's composition root wraps the observers that need not run under the
    environment locks (notifications, the caller's) in this, and calls `finish` once
    it has left the locks: a slow channel then delays no other run.
    """

    def __init__(self, observers: Sequence[RunObserver]) -> None:
        """Call `observers` in this order; keep the end of the run for `finish`."""
        self._observers = Observers(observers)
        self._results: list[RunResult] = []

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Tell every observer now."""
        self._observers.run_started(run, plan)

    def task_started(self, start: TaskStart) -> None:
        """Tell every observer now."""
        self._observers.task_started(start)

    def task_finished(self, progress: Progress) -> None:
        """Tell every observer now."""
        self._observers.task_finished(progress)

    def status_changed(self, status: str) -> None:
        """Tell every observer now."""
        self._observers.status_changed(status)

    def run_finished(self, result: RunResult) -> None:
        """Keep `result` for `finish`."""
        self._results.append(result)

    def finish(self, unrecorded: Unrecorded | None = None) -> None:
        """Tell every observer how the run ended (if it did); the first error propagates.

        `unrecorded`: the history could not record the run (known only once the recorder,
        an observer under the locks, has tried): the observers hear it with the result.
        """
        results, self._results = self._results, []
        for result in results:
            self._observers.run_finished(
                replace(result, unrecorded=unrecorded or result.unrecorded)
            )
