"""What a stopped run does about its background jobs, without Ansible (run.background)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import stop_playbook
from agentmaint.ansible.runner import Job, JobOutcome
from agentmaint.run import background
from agentmaint.run.background import BackgroundJobs, stop_background_jobs
from agentmaint.run.jobdir import remote_hosts
from tests.schedules import MakeSchedule, always_open

PLAY = "Maintain app | fleet"


def _schedule(make_schedule: MakeSchedule) -> Any:
    hosts = {
        "local": {"ansible_connection": "local"},
        "r1": {"ansible_host": "192.0.2.1"},
        "r2": {"ansible_host": "192.0.2.2"},
        "r3": {"ansible_host": "192.0.2.3"},
    }
    return make_schedule(
        always_open(
            hosts,
            {"app": {"update_command": "true", "frequency": "daily"}},
            become={"user": "ops"},
        )
    )


def _result(host: str, res: Mapping[str, Any], event: str = "runner_on_ok") -> dict[str, Any]:
    return {"event": event, "event_data": {"host": host, "play": PLAY, "res": dict(res)}}


def _jobs(make_schedule: MakeSchedule) -> BackgroundJobs:
    schedule = _schedule(make_schedule)
    target = Target("fleet", "app", ("local", "r1", "r2", "r3"))
    return BackgroundJobs(schedule, remote_hosts(schedule, [target]), "run")


def test_started_jobs_are_pending_until_their_wait_ends(make_schedule: MakeSchedule) -> None:
    jobs = _jobs(make_schedule)
    assert jobs.remote == {"r1", "r2", "r3"}
    for host in ("local", "r1", "r2"):
        jobs.note(_result(host, {"agentmaint_job": f"run-app-{host}", "finished": False}))
    # a start that failed started nothing; a wait that gave up leaves its job running
    jobs.note(_result("r2", {"finished": False}, "runner_on_failed"))
    jobs.note(_result("local", {"finished": True, "agentmaint_steps": []}))
    assert jobs.pending == {("fleet", "app"): {"r1": "run-app-r1", "r2": "run-app-r2"}}
    # every pending update is interrupted by a stop, local or not
    assert jobs.interrupted() == {("r1", PLAY, "Update | app"), ("r2", PLAY, "Update | app")}
    jobs.note(_result("r1", {"finished": True, "failed": True, "msg": "ended"}, "runner_on_failed"))
    assert jobs.remote_pending() == {("fleet", "app"): {"r2": "run-app-r2"}}
    jobs.note(_result("r2", {"finished": True}))
    assert jobs.pending == {}


def test_a_job_counts_from_its_start_s_beginning(make_schedule: MakeSchedule) -> None:
    """A run stopped while a start ran may have started the job without hearing of it."""
    jobs = _jobs(make_schedule)
    for host in ("r1", "r2"):
        data = {"host": host, "play": PLAY, "task": "Update: start in the background | app"}
        jobs.note({"event": "runner_on_start", "event_data": data})
    jobs.note({"event": "runner_on_start", "event_data": {"host": "r1", "play": PLAY, "task": "x"}})
    assert jobs.pending == {("fleet", "app"): {"r1": "run-app-r1", "r2": "run-app-r2"}}
    failed = {"failed": True, "msg": "background job run-app-r2 could not start", "finished": True}
    jobs.note(_result("r2", failed, "runner_on_failed"))
    jobs.note(_result("r1", {"unreachable": True, "msg": "lost"}, "runner_on_unreachable"))
    assert jobs.pending == {("fleet", "app"): {"r1": "run-app-r1"}}  # it may run


def test_local_jobs_are_not_stopped_remotely(make_schedule: MakeSchedule) -> None:
    jobs = _jobs(make_schedule)
    jobs.note(_result("local", {"agentmaint_job": "run-app-local"}))
    assert jobs.interrupted() == {("local", PLAY, "Update | app")}
    assert jobs.remote_pending() == {}


def test_the_stop_play_runs_as_the_update_did(make_schedule: MakeSchedule) -> None:
    schedule = _schedule(make_schedule)
    (play,) = stop_playbook(schedule, {("fleet", "app"): {"r1": "j1", "r2": "{{ x }}"}})
    assert play["hosts"] == "r1,r2"
    assert play["become"] is True and play["become_user"] == "ops"
    assert not play["name"].startswith("Maintain ")  # never read as a maintenance play
    (task,) = play["tasks"]
    assert task["ansible.builtin.import_role"]["tasks_from"] == "fused_stop"
    assert task["vars"]["agentmaint_fused_stop_jobs"] == {"r1": "j1", "r2": "{{ x }}"}


def _job(tmp_path: Path) -> Job:
    return Job(tmp_path, "site.yml", tmp_path / "hosts.yml", "run-1", timeout=3600)


@pytest.mark.parametrize("status", ["successful", "failed"])
def test_a_job_that_ran_to_its_end_stops_nothing(
    make_schedule: MakeSchedule, tmp_path: Path, status: str
) -> None:
    jobs = _jobs(make_schedule)
    jobs.note(_result("r1", {"agentmaint_job": "run-app-r1"}))
    outcome = JobOutcome(status, 0, tmp_path)
    assert (
        stop_background_jobs(
            jobs, _job(tmp_path), outcome, cancel=threading.Event(), hidden=(set(), [])
        )
        is None
    )
    assert not (tmp_path / "background-stop").exists()


def test_a_stopped_job_runs_a_short_stop_job_that_a_second_cancel_ends(
    make_schedule: MakeSchedule, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _jobs(make_schedule)
    for host in ("r1", "r2", "r3", "local"):
        jobs.note(_result(host, {"agentmaint_job": f"run-app-{host}"}))
    cancel = threading.Event()
    cancel.set()  # the first Ctrl-C
    seen: dict[str, Any] = {}

    def fake_run_job(job: Job, on_event: Any, *, cancel: threading.Event, **_: Any) -> JobOutcome:
        seen["job"] = job
        seen["cleared"] = not cancel.is_set()
        seen["cancel"] = cancel
        on_event(_result("r1", {"stopped": True, "changed": True}))
        on_event(_result("r2", {"msg": "unreachable: no route"}, "runner_on_unreachable"))
        on_event(_result("r3", {"stopped": False, "changed": False}))
        return JobOutcome("successful", 0, tmp_path)

    monkeypatch.setattr(background, "run_job", fake_run_job)
    outcome = JobOutcome("canceled", None, tmp_path)
    said = stop_background_jobs(jobs, _job(tmp_path), outcome, cancel=cancel, hidden=(set(), []))
    assert said == (
        "background jobs stopped on r1; no background job was running on r3; "
        "background jobs could not be stopped on r2 (r2: unreachable: no route)"
    )
    job = seen["job"]
    assert seen["cleared"] and seen["cancel"] is cancel  # a second cancel reaches it
    assert cancel.is_set()  # and the run's cancel stays set
    assert job.timeout == background.STOP_SECONDS and job.ident == "run-1-stop"
    assert job.inventory == tmp_path / "hosts.yml"  # the run's own inventory
    (play,) = yaml.safe_load(
        (job.private_data_dir / "project" / job.playbook).read_text().replace("!unsafe", "")
    )
    assert play["hosts"] == "r1,r2,r3"  # not the local host: its job ended with the run
