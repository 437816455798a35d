"""The live view of a run: bounded, the running batch first, outcomes grouped.

A simulated run of 40 hosts (``rollout.serial: 5``) fed to `LiveProgress` with a fixed
clock: the view names the running batch (never ``app-01``..``app-19`` and ``...``), each
running host's step and how long it has run, the hosts done of the total, the done hosts
grouped by outcome (a rollback shows as such) and the hosts waiting; the playbook's
internal task names never appear. Snapshots at 80 and 160 columns (tests/snapshots/).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from agentmaint.ansible.naming import INTERNAL, play_name, task_name
from agentmaint.cli.live import MAX_RUNNING, LiveProgress, elapsed
from agentmaint.planning.planner import Decision, HostDecision, Plan
from agentmaint.records import Action, RunRecord, RunStatus, TaskResult, TaskStatus
from agentmaint.run.results import Progress, RunResult, TaskStart
from tests.snapshot import assert_readable, assert_snapshot, render

AT = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
ENV, COMPONENT = "production", "app-config"
HOSTS = tuple(f"app-{n:02d}" for n in range(1, 41))


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def started(view: LiveProgress, host: str, action: Action | None, task: str = "") -> None:
    task = task or task_name(action or Action.UPDATE, COMPONENT)
    view.task_started(TaskStart(ENV, COMPONENT, host, action, task))


def finished(
    view: LiveProgress, host: str, action: Action | None, status: TaskStatus, task: str = ""
) -> None:
    task = task or task_name(action or Action.UPDATE, COMPONENT)
    result = TaskResult(host, play_name(ENV, COMPONENT), task, status)
    view.task_finished(Progress(ENV, COMPONENT, host, action, result))


def step(view: LiveProgress, host: str, action: Action, status: TaskStatus) -> None:
    started(view, host, action)
    finished(view, host, action, status)


def forty_hosts(clock: Clock, serial: int | str = 5) -> LiveProgress:
    """20 hosts done (app-07 failed its health check, rolled back), 21-25 running, 15 waiting."""
    view = LiveProgress(
        None,  # built, never shown
        final_actions={COMPONENT: Action.HEALTHCHECK},
        serial={ENV: serial},
        clock=clock,
    )
    decision = Decision(
        ENV, COMPONENT, True, "due", tuple(HostDecision(h, True, "due") for h in HOSTS)
    )
    view.run_started(
        RunRecord(id="20261206T020000Z-4242", trigger="manual", started=AT),
        Plan(at=AT, decisions=(decision,)),
    )
    view.status_changed("running")
    for host in HOSTS[:20]:
        step(view, host, Action.BACKUP, TaskStatus.OK)
        step(view, host, Action.UPDATE, TaskStatus.CHANGED)
        if host == "app-07":
            step(view, host, Action.HEALTHCHECK, TaskStatus.RESCUED)
            step(view, host, Action.ROLLBACK, TaskStatus.CHANGED)
            internal = f"{INTERNAL} | {COMPONENT}"
            started(view, host, None, internal)
            finished(view, host, None, TaskStatus.FAILED, internal)
        else:
            step(view, host, Action.HEALTHCHECK, TaskStatus.OK)
    clock.now += 65
    # The running batch: each host at another step.
    step(view, "app-21", Action.BACKUP, TaskStatus.OK)
    started(view, "app-21", Action.UPDATE)
    started(view, "app-22", Action.BACKUP)
    step(view, "app-23", Action.BACKUP, TaskStatus.OK)
    step(view, "app-23", Action.UPDATE, TaskStatus.CHANGED)
    step(view, "app-23", Action.HEALTHCHECK, TaskStatus.FAILED)
    started(view, "app-23", Action.ROLLBACK)
    started(view, "app-24", None, f"{INTERNAL} | {COMPONENT}")  # never shown by name
    started(view, "app-25", Action.HEALTHCHECK)
    clock.now += 12
    return view


def test_forty_hosts_show_the_running_batch_and_group_the_rest() -> None:
    text = render(forty_hosts(Clock()).render(), 80)
    lines = text.splitlines()
    assert lines[0] == "Run 20261206T020000Z-4242: running  1m17s elapsed  hosts 20/40 done"
    assert lines[1] == "Current batch 5 of 8 (serial 5):"
    assert "  app-21  app-config  update (12s)" in lines
    assert "  app-23  app-config  rollback (12s)" in lines
    assert "  app-25  app-config  healthcheck (12s)" in lines
    assert "  app-config succeeded: app-01..app-06, app-08..app-20 (19 hosts)" in lines
    assert "  app-config failed, rolled back: app-07 (1 host)" in lines
    assert lines[-1] == "Waiting for app-config: app-26..app-40 (15 hosts)"
    assert len(lines) <= 12
    assert "Failed |" not in text and "..." not in text.replace("..app", "")
    # No finished host is listed one by one.
    assert not any(line.strip().startswith("app-0") for line in lines)


@pytest.mark.parametrize(
    ("serial", "heading"),
    [
        (5, "Current batch 5 of 8 (serial 5):"),
        ("25%", "Current batch 3 of 4 (serial 25%):"),  # 10 hosts a batch
        ("1%", "Current batch 21 of 40 (serial 1%):"),  # rounded down, at least 1
        (40, "Current batch 1 of 1 (serial 40):"),
    ],
)
def test_the_batch_heading_numbers_the_running_batch(serial: int | str, heading: str) -> None:
    lines = render(forty_hosts(Clock(), serial).render(), 80).splitlines()
    assert lines[1] == heading


@pytest.mark.parametrize("width", [80, 160])
def test_live_view_snapshot(width: int) -> None:
    text = render(forty_hosts(Clock()).render(), width)
    assert_readable(text, width, ["app-21", "app-25", "app-config", "update", "rollback"])
    assert_snapshot(f"live-40-hosts-{width}", text)


def test_a_batch_wider_than_the_view_is_grouped() -> None:
    clock = Clock()
    view = forty_hosts(clock)
    for host in HOSTS[25:]:
        started(view, host, Action.BACKUP)
    lines = render(view.render(), 80).splitlines()
    running = [line for line in lines if re.match(r"  app-\d\d  ", line)]
    assert len(running) == MAX_RUNNING
    assert "  and app-29..app-40 (12 hosts) more" in lines
    assert not any(line.startswith("Waiting") for line in lines)


def test_the_end_of_the_run_shows_in_the_view() -> None:
    clock = Clock()
    view = forty_hosts(clock)
    for host in HOSTS[20:]:
        step(view, host, Action.BACKUP, TaskStatus.UNREACHABLE)
    view.run_finished(
        RunResult(
            plan=Plan(at=AT),
            run=RunRecord(
                id="20261206T020000Z-4242", trigger="manual", started=AT, status=RunStatus.FAILED
            ),
        )
    )
    lines = render(view.render(), 80).splitlines()
    assert lines[0].endswith("hosts 40/40 done")
    assert "  app-config unreachable: app-21..app-40 (20 hosts)" in lines
    assert "Current batch" not in "".join(lines)


def test_a_host_that_failed_does_not_reach_its_next_component() -> None:
    """Like the demo: demo-3 fails agent-config, so its model update never starts."""
    clock = Clock()
    view = LiveProgress(
        None,  # built, never shown
        final_actions={"agent-config": Action.HEALTHCHECK, "model": Action.UPDATE},
        clock=clock,
    )
    hosts = ("demo-1", "demo-2", "demo-3")
    decisions = tuple(
        Decision("demo", c, True, "due", tuple(HostDecision(h, True, "due") for h in hosts))
        for c in ("agent-config", "model")
    )
    run = RunRecord(id="r1", trigger="manual", started=AT)
    view.run_started(run, Plan(at=AT, decisions=decisions))
    play = play_name("demo", "agent-config")

    def done(host: str, component: str, action: Action | None, status: TaskStatus) -> None:
        task = task_name(action, component) if action else f"{INTERNAL} | {component}"
        view.task_started(TaskStart("demo", component, host, action, task))
        result = TaskResult(host, play, task, status)
        view.task_finished(Progress("demo", component, host, action, result))

    for host in hosts:
        done(host, "agent-config", Action.UPDATE, TaskStatus.CHANGED)
    done("demo-1", "agent-config", Action.HEALTHCHECK, TaskStatus.OK)
    done("demo-3", "agent-config", Action.HEALTHCHECK, TaskStatus.RESCUED)
    assert "  demo-3  agent-config  healthcheck failed" in render(view.render(), 80)
    done("demo-3", "agent-config", Action.ROLLBACK, TaskStatus.CHANGED)
    done("demo-3", "agent-config", None, TaskStatus.FAILED)
    lines = render(view.render(), 80).splitlines()
    assert "  agent-config failed, rolled back: demo-3 (1 host)" in lines
    assert "  model not reached: demo-3 (1 host)" in lines
    assert "Waiting for model: demo-1, demo-2 (2 hosts)" in lines
    view.run_finished(RunResult(plan=Plan(at=AT), run=replace(run, status=RunStatus.CANCELED)))
    lines = render(view.render(), 80).splitlines()
    assert lines[0] == "Run r1: canceled  0s elapsed  hosts 3/3 done"
    assert "  model not reached: demo-1..demo-3 (3 hosts)" in lines
    assert "  agent-config starting" not in "\n".join(lines)


def test_a_step_under_way_when_the_run_is_canceled_was_interrupted() -> None:
    """Ctrl-C during an update: the host was interrupted, not "not reached" (never started)."""
    view = LiveProgress(None, final_actions={"slow": Action.UPDATE}, clock=Clock())
    hosts = ("lab-1", "lab-2", "lab-3")
    decision = Decision(
        "lab", "slow", True, "due", tuple(HostDecision(h, True, "due") for h in hosts)
    )
    run = RunRecord(id="r1", trigger="manual", started=AT)
    view.run_started(run, Plan(at=AT, decisions=(decision,)))
    for host in hosts[:2]:
        view.task_started(
            TaskStart("lab", "slow", host, Action.UPDATE, task_name(Action.UPDATE, "slow"))
        )
    view.run_finished(RunResult(plan=Plan(at=AT), run=replace(run, status=RunStatus.CANCELED)))
    lines = render(view.render(), 80).splitlines()
    assert lines[0] == "Run r1: canceled  0s elapsed  hosts 3/3 done"
    assert "  slow interrupted: lab-1, lab-2 (2 hosts)" in lines
    assert "  slow not reached: lab-3 (1 host)" in lines


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59.9, "59s"), (65, "1m05s"), (3725, "1h02m")]
)
def test_elapsed(seconds: float, text: str) -> None:
    assert elapsed(seconds) == text
