"""``execution.background``: auto (the default) weighs waves against the background per play.

The choice without Ansible: which fused plays the job's playbook starts in the background,
for each setting, from the durations a `DurationReader` gives.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.naming import Target, play_name
from agentmaint.cli import main
from agentmaint.errors import ScheduleError
from agentmaint.history.recording import RunRecording
from agentmaint.history.store import HistoryStore
from agentmaint.planning.history import MemoryHistory, StepDuration
from agentmaint.records import (
    Action,
    MaintenanceRecord,
    Outcome,
    RunRecord,
    RunStatus,
    TaskResult,
    TaskStatus,
)
from agentmaint.run.background_choice import (
    EXTRA_SECONDS_PER_HOST,
    choose,
    expected_seconds,
    waves,
)
from agentmaint.run.forks import MAX_FUSED_FORKS
from agentmaint.run.jobdir import background_choices, prepare_run_dir
from tests.schedules import MakeSchedule, always_open, local_hosts

COMMAND = {"update_command": "true", "frequency": "daily"}


class Unread:
    """A reader that fails the test when asked anything."""

    def step_durations(
        self, play: str, component: str, hosts: Collection[str], runs: int
    ) -> Sequence[StepDuration]:
        raise AssertionError("the history was read")


def _schedule(make: MakeSchedule, count: int, **execution: Any) -> Any:
    hosts = local_hosts(*(f"h{i}" for i in range(count)))
    return make(always_open(hosts, {"app": COMMAND}, execution=execution))


def _target(count: int, serial: int | str | None = None) -> Target:
    return Target("fleet", "app", tuple(f"h{i}" for i in range(count)), serial=serial)


def _recorded(seconds: float, hosts: int = 4, runs: int = 1) -> MemoryHistory:
    """A history in which each host's update of app took `seconds` (plus a 0 s backup)."""
    steps = [
        StepDuration(f"r{run}", f"h{host}", task, value)
        for run in range(runs)
        for host in range(hosts)
        for task, value in (
            ("Backup: run the backup command | app", 0.0),
            ("Update | app", seconds),
        )
    ]
    return MemoryHistory(durations=steps)


def _tasks_from(make_schedule: MakeSchedule, tmp_path: Path, count: int, **kw: Any) -> str:
    schedule = _schedule(make_schedule, count, **kw.pop("execution", {}))
    job = prepare_run_dir(
        schedule, (_target(count),), run_id="r1", directory=tmp_path / "job", **kw
    )
    text = (job.private_data_dir / "project" / job.playbook).read_text()
    return "fused_async" if "tasks_from: fused_async" in text else "fused"


def test_auto_is_the_default_and_true_false_keep_their_meaning(
    make_schedule: MakeSchedule,
) -> None:
    assert _schedule(make_schedule, 1).execution.background is None
    assert _schedule(make_schedule, 1, background="auto").execution.background is None
    assert _schedule(make_schedule, 1, background=True).execution.background is True
    assert _schedule(make_schedule, 1, background=False).execution.background is False


def test_a_bad_value_is_refused_by_path(make_schedule: MakeSchedule) -> None:
    with pytest.raises(
        ScheduleError, match=r"execution\.background: .* is not true, false or auto"
    ):
        _schedule(make_schedule, 1, background="sometimes")


@pytest.mark.parametrize("hosts", [30, 50, 60, MAX_FUSED_FORKS])
def test_no_more_hosts_than_forks_is_never_a_choice(
    make_schedule: MakeSchedule, tmp_path: Path, hosts: int
) -> None:
    # The controller-bound rows of issue 19 (default forks = their hosts): one wave,
    # today's path, and the history is not even read.
    schedule = _schedule(make_schedule, hosts)
    assert background_choices(schedule, (_target(hosts),), durations=Unread()) == ()
    assert _tasks_from(make_schedule, tmp_path, hosts, durations=Unread()) == "fused"


def test_auto_without_history_goes_to_the_background(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    schedule = _schedule(make_schedule, 4, forks=2)
    for durations in (None, MemoryHistory()):
        (choice,) = background_choices(schedule, (_target(4),), durations=durations)
        assert choice.background
        assert "no duration recorded" in choice.reason
    assert _tasks_from(make_schedule, tmp_path, 4, execution={"forks": 2}) == "fused_async"


def test_auto_with_short_recorded_updates_takes_the_waves(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    schedule = _schedule(make_schedule, 4, forks=2)
    (choice,) = background_choices(schedule, (_target(4),), durations=_recorded(0.01))
    assert not choice.background
    assert "recorded 0.0 s per host" in choice.reason
    tasks_from = _tasks_from(
        make_schedule, tmp_path, 4, execution={"forks": 2}, durations=_recorded(0.01)
    )
    assert tasks_from == "fused"


def test_auto_with_long_recorded_updates_goes_to_the_background(
    make_schedule: MakeSchedule,
) -> None:
    schedule = _schedule(make_schedule, 4, forks=2)
    (choice,) = background_choices(schedule, (_target(4),), durations=_recorded(30))
    assert choice.background
    assert "recorded 30.0 s per host" in choice.reason


def test_the_crossover_follows_the_cost_model(make_schedule: MakeSchedule) -> None:
    # 500 hosts in 7 waves of 80: the background wins once 6 extra waits cost more than
    # 500 second round trips.
    schedule = _schedule(make_schedule, 500)
    crossover = 500 * EXTRA_SECONDS_PER_HOST / (waves(500, None, MAX_FUSED_FORKS) - 1)
    below, above = crossover * 0.9, crossover * 1.1
    for seconds, background in ((below, False), (above, True)):
        (choice,) = choose(
            schedule, (_target(500),), forks=MAX_FUSED_FORKS, durations=_recorded(seconds)
        )
        assert choice.background is background


@pytest.mark.parametrize("forced", [True, False])
def test_true_and_false_are_forced_and_read_no_history(
    make_schedule: MakeSchedule, tmp_path: Path, forced: bool
) -> None:
    schedule = _schedule(make_schedule, 4, forks=2, background=forced)
    (choice,) = background_choices(schedule, (_target(4),), durations=Unread())
    assert choice.background is forced
    tasks_from = _tasks_from(
        make_schedule, tmp_path, 4, execution={"forks": 2, "background": forced}
    )
    assert tasks_from == ("fused_async" if forced else "fused")


def test_check_mode_and_unfused_plays_have_no_choice(make_schedule: MakeSchedule) -> None:
    schedule = _schedule(make_schedule, 4, forks=2)
    assert background_choices(schedule, (_target(4),), check=True, durations=Unread()) == ()
    unfused = _schedule(make_schedule, 4, forks=2, fused=False)
    assert background_choices(unfused, (_target(4),), durations=Unread()) == ()


def test_serial_batches_that_fit_in_the_forks_keep_the_waves(make_schedule: MakeSchedule) -> None:
    schedule = _schedule(make_schedule, 4, forks=2)
    (choice,) = background_choices(schedule, (_target(4, serial=2),), durations=Unread())
    assert not choice.background
    assert "one wave each" in choice.reason
    assert waves(10, 4, 3) == 2 + 2 + 1  # batches 4, 4, 2 of 3 forks
    assert waves(10, "50%", 2) == 3 + 3
    assert waves(10, None, 3) == 4


def test_expected_seconds_is_the_median_host_total_of_its_steps() -> None:
    steps = [
        StepDuration("r1", "h1", "Backup: run the backup command | app", 1.0),
        StepDuration("r1", "h1", "Update | app", 4.0),
        StepDuration("r1", "h1", "Started in the background | app", 100.0),  # not a step
        StepDuration("r1", "h2", "Update | app", 2.0),
        StepDuration("r1", "h2", "Healthcheck | app", 1.0),
        StepDuration("r1", "h3", "Update | app", 50.0),
    ]
    assert expected_seconds(MemoryHistory(durations=steps), "fleet", "app", ["h1"]) == 5.0
    assert expected_seconds(MemoryHistory(), "fleet", "app", ["h1"]) is None


def _four_hosts_two_forks(tmp_path: Path) -> Path:
    """A schedule file of one fused play bigger than its forks (a choice to make)."""
    document = always_open(local_hosts("h1", "h2", "h3", "h4"), {"app": COMMAND})
    document["execution"] = {"forks": 2}
    document["state_dir"] = str(tmp_path / "state")
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_render_command_says_which_way_a_play_waits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _four_hosts_two_forks(tmp_path)
    out = tmp_path / "job"
    assert main(["render", str(path), "--out", str(out), "--force"]) == 0
    said = capsys.readouterr().out
    assert "waits:     fleet | app (4 hosts): in the background: no duration recorded" in said
    assert "tasks_from: fused_async" in (out / "project" / "maintenance.yml").read_text()


def test_render_reads_the_recorded_durations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _four_hosts_two_forks(tmp_path)
    at = datetime(2026, 12, 6, 1, tzinfo=UTC)
    with HistoryStore.open(tmp_path / "state") as store:
        run = RunRecord(id="r1", trigger="manual", started=at)
        store.begin_run(run)
        results = [
            TaskResult(h, play_name("fleet", "app"), "Update | app", TaskStatus.OK, duration=0.01)
            for h in ("h1", "h2", "h3", "h4")
        ]
        records = [
            MaintenanceRecord(at, "fleet", h, "app", Action.UPDATE, Outcome.SUCCESS)
            for h in ("h1", "h2", "h3", "h4")
        ]
        finished = replace(run, status=RunStatus.SUCCESSFUL, finished=at)
        store.record_run(RunRecording(finished, results, {}, records))
    out = tmp_path / "job"
    assert main(["render", str(path), "--out", str(out), "--force"]) == 0
    said = capsys.readouterr().out
    assert "waits:     fleet | app (4 hosts): in waves of forks: recorded 0.0 s per host" in said
    assert "tasks_from: fused_async" not in (out / "project" / "maintenance.yml").read_text()


def test_each_choice_is_logged_with_its_event(
    make_schedule: MakeSchedule, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentmaint.run.background_choice")
    _tasks_from(make_schedule, tmp_path, 4, execution={"forks": 2}, durations=_recorded(0.01))
    (record,) = [r for r in caplog.records if r.name == "agentmaint.run.background_choice"]
    assert record.levelno == logging.INFO
    assert getattr(record, "event", None) == "waves_chosen"
    assert (getattr(record, "environment", None), getattr(record, "component", None)) == (
        "fleet",
        "app",
    )
    assert "fleet | app (4 hosts): in waves of forks: recorded 0.0 s" in record.getMessage()
