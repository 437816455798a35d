"""The observer composite: order, and what a failing observer does to the others."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentmaint.planning.planner import Plan
from agentmaint.records import Action, RunRecord, RunStatus
from agentmaint.run.observer import BaseObserver, FinishLater, Observers, RunObserver
from agentmaint.run.results import Progress, RunResult, TaskStart
from agentmaint.run.slices import start_of

START = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
PLAN = Plan(at=START, decisions=())
RUN = RunRecord(id="r1", trigger="schedule", started=START)


class Log(BaseObserver):
    def __init__(self, name: str, log: list[tuple[str, str, object]], fail: str = "") -> None:
        self.name, self.log, self.fail = name, log, fail

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        self.log.append((self.name, "started", run.status))
        if self.fail == "started":
            raise RuntimeError(f"{self.name} broke")

    def status_changed(self, status: str) -> None:
        self.log.append((self.name, "status", status))

    def run_finished(self, result: RunResult) -> None:
        assert result.run is not None
        self.log.append((self.name, "finished", (result.run.status, result.run.message)))
        if self.fail == "finished":
            raise RuntimeError(f"{self.name} broke")


def test_observers_are_told_in_order() -> None:
    log: list[tuple[str, str, object]] = []
    both = Observers([Log("a", log), Log("b", log)])
    both.run_started(RUN, PLAN)
    both.status_changed("running")
    both.run_finished(RunResult(plan=PLAN, run=RUN))
    assert [(n, e) for n, e, _ in log] == [
        ("a", "started"),
        ("b", "started"),
        ("a", "status"),
        ("b", "status"),
        ("a", "finished"),
        ("b", "finished"),
    ]


def test_a_failed_start_finishes_the_run_for_those_already_told() -> None:
    log: list[tuple[str, str, object]] = []
    chain = Observers([Log("recorder", log), Log("broken", log, fail="started"), Log("c", log)])
    with pytest.raises(RuntimeError, match="broken broke"):
        chain.run_started(RUN, PLAN)
    assert log[0] == ("recorder", "started", RunStatus.RUNNING)
    assert log[1] == ("broken", "started", RunStatus.RUNNING)
    # Only the recorder was told the run started: it alone hears that it ended, as an error.
    assert log[2:] == [
        ("recorder", "finished", (RunStatus.ERROR, "not started: broken broke")),
    ]


def test_every_observer_sees_the_end_even_after_one_failed() -> None:
    log: list[tuple[str, str, object]] = []
    chain = Observers([Log("a", log, fail="finished"), Log("b", log)])
    with pytest.raises(RuntimeError, match="a broke"):
        chain.run_finished(RunResult(plan=PLAN, run=RUN))
    assert [n for n, _, _ in log] == ["a", "b"]


def test_any_object_with_the_four_methods_is_an_observer() -> None:
    class Plain:
        def run_started(self, run: RunRecord, plan: Plan) -> None: ...
        def task_finished(self, progress: object) -> None: ...
        def status_changed(self, status: str) -> None: ...
        def run_finished(self, result: RunResult) -> None: ...

    assert isinstance(Plain(), RunObserver)
    assert not isinstance(object(), RunObserver)


def test_task_started_reaches_the_observers_that_have_the_hook() -> None:

    class FourMethods:  # written before the optional hook existed
        def run_started(self, run: RunRecord, plan: Plan) -> None: ...
        def task_finished(self, progress: Progress) -> None: ...
        def status_changed(self, status: str) -> None: ...
        def run_finished(self, result: RunResult) -> None: ...

    seen: list[TaskStart] = []

    class Watcher(BaseObserver):
        def task_started(self, start: TaskStart) -> None:
            seen.append(start)

    start = start_of("web-1", "Maintain app | production", "Rollback | app")
    assert start == TaskStart("production", "app", "web-1", Action.ROLLBACK, "Rollback | app")
    internal = start_of("web-1", "Maintain app | production", "Failed | app")
    assert (internal.environment, internal.component, internal.action) == (
        "production",
        "app",
        None,
    )
    Observers([FourMethods(), FinishLater([Watcher()]), Watcher()]).task_started(start)
    assert seen == [start, start]
