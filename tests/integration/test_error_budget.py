"""The fleet-wide error budget (``rollout.max_failures``) on real local runs.

Hosts fail by name (``$AGENTMAINT_HOST``); each host that starts its update leaves a
marker file, so the tests see which hosts a stopped rollout never touched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentmaint.ansible.events import EventParser
from agentmaint.ansible.naming import Target
from agentmaint.ansible.runner import run_job
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.planning.planner import plan
from agentmaint.records import TaskStatus
from agentmaint.run.jobdir import prepare_run_dir
from tests.integration.test_remote_pipe import RUNNER, fake_ssh
from tests.integration.test_remote_pipe import hosts as node_hosts
from tests.schedules import MakeSchedule, always_open, local_hosts

pytestmark = pytest.mark.integration

__all__ = ["fake_ssh"]  # the stand-in ssh of the execution-node tests, as a fixture here

SIX = ("h1", "h2", "h3", "h4", "h5", "h6")
EXHAUSTED = "error budget exhausted"


def updates(store: HistoryStore, run_id: str) -> dict[str, tuple[str, str | None]]:
    """Each host's update record: (status, error)."""
    return {
        r.server: (r.status.value, r.error)
        for r in store.records(run_id=run_id)
        if r.action.value == "update"
    }


def test_budget_stops_the_rollout_across_batches(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    """6 hosts, serial 2, max_fail_percentage 50, max_failures 1; h1, h3 and h5 fail.

    No batch fails more than half, so Ansible alone would go on; the budget (1 failure)
    is exceeded by h3 in the second batch, so the third batch (h5, h6) never starts.
    """
    started = tmp_path / "started"
    started.mkdir()
    command = f"touch {started}/$AGENTMAINT_HOST; case $AGENTMAINT_HOST in h1|h3|h5) exit 1;; esac"
    schedule = make_schedule(
        always_open(
            local_hosts(*SIX),
            {"app": {"update_command": command, "frequency": "weekly"}},
            environment={"rollout": {"serial": 2, "max_fail_percentage": 50, "max_failures": 1}},
        )
    )
    result = run_maintenance(schedule)
    assert sorted(p.name for p in started.iterdir()) == ["h1", "h2", "h3", "h4"]
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        records = updates(store, result.run.id)
        assert records["h1"][0] == "failed"
        assert records["h2"] == ("success", None)
        assert records["h3"][0] == "failed"
        assert records["h4"] == ("success", None)
        assert records["h5"] == ("skipped", EXHAUSTED)
        assert records["h6"] == ("skipped", EXHAUSTED)
        # A skipped update is no attempt: h5 and h6 stay due (at the next run, even in
        # this window); h1 and h3 failed in this window, so they wait for the next one.
        (decision,) = plan(schedule, store, datetime.now(UTC)).decisions
        assert decision.servers == ("h5", "h6")
        (later,) = plan(schedule, store, datetime.now(UTC) + timedelta(days=1)).decisions
        assert later.servers == ("h1", "h3", "h5", "h6")


def test_within_budget_the_rollout_goes_on(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    """A percentage budget of the due hosts: 50% of 4 allows 2 failures, and 2 happen.

    (One per batch: a batch whose every host fails stops the play in Ansible itself.)
    """
    command = "case $AGENTMAINT_HOST in h1|h3) exit 1;; esac"
    schedule = make_schedule(
        always_open(
            local_hosts("h1", "h2", "h3", "h4"),
            {"app": {"update_command": command, "frequency": "weekly"}},
            environment={"rollout": {"serial": 2, "max_failures": "50%"}},
        )
    )
    result = run_maintenance(schedule)
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        records = updates(store, result.run.id)
    assert {host: status for host, (status, _) in records.items()} == {
        "h1": "failed",
        "h2": "success",
        "h3": "failed",
        "h4": "success",
    }


def test_budget_counts_failures_of_earlier_components(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    """Component a fails h1; component b fails h2: together over a budget of 1.

    b's second batch (h3, h4 with serial 2) never starts; a's failure on h1 also kept h1
    out of b (Ansible's own rule), recorded as such.
    """
    started = tmp_path / "started"
    started.mkdir()
    schedule = make_schedule(
        always_open(
            local_hosts("h1", "h2", "h3", "h4"),
            {
                "a": {"update_command": 'test "$AGENTMAINT_HOST" != h1', "frequency": "weekly"},
                "b": {
                    "update_command": (
                        f'touch {started}/$AGENTMAINT_HOST; test "$AGENTMAINT_HOST" != h2'
                    ),
                    "frequency": "weekly",
                },
            },
            environment={"rollout": {"serial": 2, "max_failures": 1}},
        )
    )
    result = run_maintenance(schedule)
    assert sorted(p.name for p in started.iterdir()) == ["h2"]
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        b = {
            r.server: (r.status.value, r.error)
            for r in store.records(run_id=result.run.id)
            if r.component == "b" and r.action.value == "update"
        }
    assert b["h1"] == ("skipped", "not reached: the host failed a earlier in this run")
    assert b["h2"][0] == "failed"
    assert b["h3"] == ("skipped", EXHAUSTED)
    assert b["h4"] == ("skipped", EXHAUSTED)


def test_budget_across_two_local_slices(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    """h1 fails in slice 1; slice 2 (h2, h4, h6) must stop too, through the stop file.

    With ``serial: 2`` over 2 slices each slice runs one host at a time. h2 (slice 2's
    first batch) waits until the controller wrote the stop file, so slice 2's next gate
    runs after it, whatever the timing: h4 and h6 must never start.
    """
    started = tmp_path / "started"
    started.mkdir()
    state = tmp_path / "state"
    stop = f"{state}/runs/*/budget/fleet"
    command = (
        f"touch {started}/$AGENTMAINT_HOST; "
        "case $AGENTMAINT_HOST in "
        "h1) exit 1;; "
        f"h2) i=0; until ls {stop} >/dev/null 2>&1; do "
        "i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.1; done;; "
        "esac"
    )
    schedule = make_schedule(
        always_open(
            local_hosts(*SIX),
            {"app": {"update_command": command, "frequency": "weekly"}},
            environment={"rollout": {"serial": 2, "max_failures": 0}},
            execution={"local_slices": 2},
            state_dir=str(state),
        )
    )
    result = run_maintenance(schedule)
    assert sorted(p.name for p in started.iterdir()) == ["h1", "h2"]
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        records = updates(store, result.run.id)
    assert records["h1"][0] == "failed"
    assert records["h2"] == ("success", None)
    for host in ("h3", "h4", "h5", "h6"):
        assert records[host] == ("skipped", EXHAUSTED)


@pytest.mark.usefixtures("fake_ssh")
def test_budget_across_two_execution_nodes(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    """As across local slices, with nodes (a stand-in ssh runs their commands here).

    h1 fails on node n1; the controller writes the stop file into n2's job directory
    over "ssh"; h2 (n2's first batch) waits for it there, so n2's next gate finds it.
    """
    started = tmp_path / "started"
    started.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    stop = f"{work}/agentmaint-*-2/budget/fleet"
    command = (
        f"touch {started}/$AGENTMAINT_HOST; "
        "case $AGENTMAINT_HOST in "
        "h1) exit 1;; "
        f"h2) i=0; until ls {stop} >/dev/null 2>&1; do "
        "i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.1; done;; "
        "esac"
    )
    nodes = [
        {
            "name": f"n{i}",
            "url": f"ssh://root@node-{i}",
            "ansible_runner": RUNNER,
            "work_dir": str(work),
        }
        for i in (1, 2)
    ]
    schedule = make_schedule(
        always_open(
            node_hosts("h1", "h2", "h3", "h4"),
            {"app": {"update_command": command, "frequency": "weekly"}},
            environment={"rollout": {"serial": 2, "max_failures": 0}},
            execution={"nodes": nodes},
        )
    )
    result = run_maintenance(schedule)
    assert sorted(p.name for p in started.iterdir()) == ["h1", "h2"]
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        records = updates(store, result.run.id)
    assert records["h1"][0] == "failed"
    assert records["h2"] == ("success", None)
    assert records["h3"] == ("skipped", EXHAUSTED)
    assert records["h4"] == ("skipped", EXHAUSTED)
    assert list(work.iterdir()) == []  # the nodes' job directories went with their jobs


def test_gate_counts_a_failure_in_an_earlier_plays_last_batch(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    """h4 fails a in a's last batch and is no host of b's play: Ansible's play variables
    of b do not show it, the done markers do, so b (budget 0) never starts."""
    started = tmp_path / "started"
    started.mkdir()
    schedule = make_schedule(
        always_open(
            local_hosts("h1", "h2", "h3", "h4"),
            {
                "a": {"update_command": 'test "$AGENTMAINT_HOST" != h4', "frequency": "weekly"},
                "b": {"update_command": f"touch {started}/$AGENTMAINT_HOST", "frequency": "weekly"},
            },
            environment={"rollout": {"serial": 2, "max_failures": 0}},
        )
    )
    targets = (
        Target("fleet", "a", ("h1", "h2", "h3", "h4")),
        Target("fleet", "b", ("h1", "h2")),
    )
    job = prepare_run_dir(schedule, targets, run_id="budget", directory=tmp_path / "job")
    parser = EventParser()
    outcome = run_job(job, parser.feed)
    assert outcome.status == "failed"
    assert list(started.iterdir()) == []
    failed = {r.host for r in parser.results if r.status is TaskStatus.FAILED}
    assert failed == {"h4"}
