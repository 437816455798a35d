"""The daemon: when it wakes up (windows, poll ticks, blackouts, zones), reloads, survives.

The loop runs with a fake clock and a fake sleep (each sleep advances the clock), and a
fake runner in place of `run_maintenance`: what is asserted is what the daemon decided
and when, never how long anything took.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.daemon import Daemon, ScheduleFile
from agentmaint.errors import LockHeldError
from agentmaint.planning.planner import Plan
from agentmaint.planning.wakeups import next_wake_up, startable_environments
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.results import RunResult
from tests.conftest import utc

HOSTS = {"h1": {"ansible_connection": "local"}}
COMPONENTS = {"app": {"update_command": "true", "frequency": "daily"}}


def env(window: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"hosts": HOSTS, "update_schedule": window, **extra}


def schedule_of(environments: dict[str, Any], **extra: Any) -> Schedule:
    """The environments, each with its own host (a host belongs to one environment)."""
    for name, environment in environments.items():
        if environment["hosts"]:
            environment["hosts"] = {f"{name}-1": {"ansible_connection": "local"}}
    return parse_schedule({"environments": environments, "components": COMPONENTS, **extra})


# 2026-12-07 is a Monday, 2026-12-08 a Tuesday.
TUESDAY_BERLIN = {
    "day_of_week": "tuesday",
    "time": "02:00",
    "duration": "2h",
    "timezone": "Europe/Berlin",
}


def test_next_window_start_in_the_windows_zone() -> None:
    schedule = schedule_of({"fleet": env(TUESDAY_BERLIN)})
    wake = next_wake_up(schedule, utc("2026-12-07T12:00"))
    assert wake is not None
    assert wake.at == utc("2026-12-08T01:00")  # 02:00 in Berlin (UTC+1)
    assert wake.environments == ("fleet",)
    assert wake.reason == (
        "fleet: window opens 2026-12-08 02:00 Europe/Berlin (until 2026-12-08 04:00 Europe/Berlin)"
    )


def test_the_earliest_environment_wins_and_simultaneous_ones_share_the_wake_up() -> None:
    schedule = schedule_of(
        {
            "berlin": env(TUESDAY_BERLIN),
            # 20:00 on Monday in New York is 01:00 UTC on Tuesday: the same instant.
            "newyork": env(
                {"day_of_week": "monday", "time": "20:00", "timezone": "America/New_York"}
            ),
            "tokyo": env({"day_of_week": "wednesday", "time": "01:00", "timezone": "Asia/Tokyo"}),
        }
    )
    wake = next_wake_up(schedule, utc("2026-12-07T12:00"))
    assert wake is not None
    assert (wake.at, wake.environments) == (utc("2026-12-08T01:00"), ("berlin", "newyork"))
    later = next_wake_up(schedule, wake.at)
    assert later is not None
    # Wednesday 01:00 in Tokyo is Tuesday 16:00 UTC.
    assert (later.at, later.environments) == (utc("2026-12-08T16:00"), ("tokyo",))


def test_poll_ticks_only_inside_open_windows_and_before_the_cutoff() -> None:
    window = {"day_of_week": "daily", "time": "02:00", "duration": "2h", "cutoff": "30m"}
    schedule = schedule_of({"fleet": env(window)})
    poll = timedelta(minutes=45)

    def wake_after(text: str) -> datetime:
        wake = next_wake_up(schedule, utc(text), poll=poll)
        assert wake is not None
        return wake.at

    assert wake_after("2026-12-07T12:00") == utc("2026-12-08T02:00")  # no tick outside
    assert wake_after("2026-12-08T02:00") == utc("2026-12-08T02:45")
    assert wake_after("2026-12-08T02:10") == utc("2026-12-08T02:45")
    # 03:30 is the last start (04:00 minus 30m): no tick there; the next window opens.
    assert wake_after("2026-12-08T02:45") == utc("2026-12-09T02:00")
    tick = next_wake_up(schedule, utc("2026-12-08T02:00"), poll=poll)
    assert tick is not None
    assert tick.reason == "fleet: poll tick every 45m in the window open until 2026-12-08 04:00 UTC"


def test_poll_ticks_count_elapsed_time_across_a_dst_change() -> None:
    # 2026-10-25: Berlin falls back at 03:00 CEST -> 02:00 CET. A 2h window opening at
    # 01:30 CEST (23:30 UTC) closes at 01:30 UTC (02:30 CET); ticks every hour of real time.
    window = {"day_of_week": "sunday", "time": "01:30", "duration": "2h"}
    schedule = schedule_of({"fleet": env({**window, "timezone": "Europe/Berlin"})})
    poll = timedelta(hours=1)
    start = next_wake_up(schedule, utc("2026-10-24T12:00"), poll=poll)
    assert start is not None and start.at == utc("2026-10-24T23:30")
    tick = next_wake_up(schedule, start.at, poll=poll)
    assert tick is not None and tick.at == utc("2026-10-25T00:30")
    after = next_wake_up(schedule, tick.at, poll=poll)
    assert after is not None and after.at == utc("2026-11-01T00:30")  # next Sunday, CET


def test_a_blackout_moves_the_wake_up_to_its_end_inside_the_window() -> None:
    window = {"day_of_week": "daily", "time": "02:00", "duration": "4h"}
    schedule = schedule_of(
        {"fleet": env(window)},
        blackouts=[{"start": "2026-12-08T01:00", "end": "2026-12-08T03:00", "reason": "db"}],
    )
    wake = next_wake_up(schedule, utc("2026-12-07T12:00"))
    assert wake is not None
    assert wake.at == utc("2026-12-08T03:00")
    assert wake.reason == (
        "fleet: blackout ends 2026-12-08 03:00 UTC inside the window "
        "(no new start after 2026-12-08 06:00 UTC)"
    )
    assert startable_environments(schedule, utc("2026-12-08T02:30")) == ()
    assert startable_environments(schedule, utc("2026-12-08T03:00")) == ("fleet",)


def test_overlapping_blackouts_and_a_blackout_over_the_whole_window() -> None:
    window = {"day_of_week": "daily", "time": "02:00", "duration": "4h"}
    chained = schedule_of(
        {"fleet": env(window)},
        blackouts=[
            {"start": "2026-12-08T01:00", "end": "2026-12-08T03:00"},
            {"start": "2026-12-08T02:30", "end": "2026-12-08T04:00"},
        ],
    )
    wake = next_wake_up(chained, utc("2026-12-07T12:00"))
    assert wake is not None and wake.at == utc("2026-12-08T04:00")
    whole = schedule_of(
        {"fleet": env(window)},
        blackouts=[{"start": "2026-12-08", "end": "2026-12-09"}],  # through the 9th's 00:00
    )
    wake = next_wake_up(whole, utc("2026-12-07T12:00"), poll=timedelta(minutes=10))
    assert wake is not None and wake.at == utc("2026-12-10T02:00")


def test_an_environments_blackout_holds_back_only_that_environment() -> None:
    window = {"day_of_week": "daily", "time": "02:00", "duration": "1h"}
    blackout = [{"start": "2026-12-08T00:00", "end": "2026-12-08T12:00"}]
    schedule = schedule_of({"frozen": env(window, blackouts=blackout), "open": env(window)})
    wake = next_wake_up(schedule, utc("2026-12-07T12:00"))
    assert wake is not None
    assert (wake.at, wake.environments) == (utc("2026-12-08T02:00"), ("open",))
    following = next_wake_up(schedule, wake.at)
    assert following is not None
    assert (following.at, following.environments) == (
        utc("2026-12-09T02:00"),
        ("frozen", "open"),
    )


def test_cron_windows_and_environments_without_hosts() -> None:
    schedule = schedule_of(
        {
            "cron": env({"cron": "*/20 9-17 * * 1-5", "duration": "10m"}),
            "later": env({"day_of_week": "daily", "time": "09:10"}),
        }
    )
    wake = next_wake_up(schedule, utc("2026-12-07T09:05"))
    assert wake is not None and (wake.at, wake.environments) == (
        utc("2026-12-07T09:10"),
        ("later",),
    )
    # An environment without hosts (a library caller's schedule) never wakes the daemon.
    later = replace(schedule.environments["later"], hosts=())
    only_cron = replace(schedule, environments={**schedule.environments, "later": later})
    wake = next_wake_up(only_cron, utc("2026-12-07T09:05"))
    assert wake is not None and (wake.at, wake.environments) == (utc("2026-12-07T09:20"), ("cron",))
    cron = replace(schedule.environments["cron"], hosts=())
    nobody = replace(only_cron, environments={"cron": cron, "later": later})
    assert next_wake_up(nobody, utc("2026-12-07T09:05")) is None
    assert startable_environments(nobody, utc("2026-12-07T09:20")) == ()


# --- the loop -------------------------------------------------------------------------


class World:
    """A fake clock, a sleep that advances it, and a runner that records its calls."""

    def __init__(self, path: Path, now: str) -> None:
        self.path = path
        self.now = utc(now)
        self.stop = threading.Event()
        self.runs: list[tuple[datetime, Schedule]] = []
        self.sleeps: list[float] = []
        #: Called after each sleep with the clock advanced (tests change the file here).
        self.on_sleep: Callable[[World], None] = lambda world: None
        #: What each run does: return a result or raise.
        self.on_run: Callable[[World, Schedule], RunResult] = nothing_due
        self.max_runs = 3

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> bool:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        self.on_sleep(self)
        return self.stop.is_set()

    def runner(self, schedule: Schedule, cancel: threading.Event) -> RunResult:
        assert cancel is self.stop  # the run's cancel is the daemon's stop
        self.runs.append((self.now, schedule))
        try:
            return self.on_run(self, schedule)
        finally:
            if len(self.runs) >= self.max_runs:
                self.stop.set()

    def daemon(self, **options: Any) -> Daemon:
        return Daemon(
            ScheduleFile.load(self.path),
            stop=self.stop,
            runner=self.runner,
            clock=self.clock,
            sleep=self.sleep,
            **options,
        )

    @property
    def run_times(self) -> list[datetime]:
        return [at for at, _ in self.runs]


def nothing_due(world: World, _schedule: Schedule) -> RunResult:
    return RunResult(plan=Plan(at=world.now))


def write(path: Path, window: dict[str, Any]) -> None:
    document = {"environments": {"fleet": env(window)}, "components": COMPONENTS}
    path.write_text(yaml.safe_dump(document))


DAILY_0200 = {"day_of_week": "daily", "time": "02:00", "duration": "1h"}


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def test_runs_at_each_window_start_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentmaint")
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    daemon = world.daemon()
    daemon.serve()
    assert world.run_times == [
        utc("2026-12-08T02:00"),
        utc("2026-12-09T02:00"),
        utc("2026-12-10T02:00"),
    ]
    assert max(world.sleeps) <= Daemon.reload_every  # the file is looked at while sleeping
    wakes = [r.getMessage() for r in events(caplog, "wake_up")]
    assert wakes[0] == (
        "next wake-up 2026-12-08 02:00:00 UTC (in 14h): fleet: window opens 2026-12-08 02:00 UTC "
        "(until 2026-12-08 03:00 UTC)"
    )
    assert len(events(caplog, "run_skipped")) == 3  # each run found nothing due
    assert daemon.interrupted_run is False
    assert len(events(caplog, "daemon_stopped")) == 1


def test_started_inside_an_open_window_runs_at_once_then_polls(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-08T02:10")
    world.daemon(poll=timedelta(minutes=20)).serve()
    assert world.run_times == [
        utc("2026-12-08T02:10"),
        utc("2026-12-08T02:20"),
        utc("2026-12-08T02:40"),
    ]


def test_a_valid_change_is_picked_up_while_sleeping(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentmaint")
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    world.max_runs = 1

    def change_once(w: World) -> None:
        if len(w.sleeps) == 1:
            write(path, {"day_of_week": "daily", "time": "13:00", "duration": "1h"})

    world.on_sleep = change_once
    daemon = world.daemon()
    daemon.serve()
    # Sooner than the old 02:00 start: the new schedule decided the wake-up and ran.
    assert world.run_times == [utc("2026-12-07T13:00")]
    [(_, schedule)] = world.runs
    assert schedule.environments["fleet"].schedule.at_time is not None
    assert schedule.environments["fleet"].schedule.at_time.hour == 13
    assert len(events(caplog, "schedule_reloaded")) == 1


def test_a_reload_at_the_wake_up_instant_does_not_skip_it(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-08T01:59:58")
    world.max_runs = 1

    def touch_at_two(w: World) -> None:
        if w.now == utc("2026-12-08T02:00"):  # the same window, a longer duration
            write(path, {**DAILY_0200, "duration": "2h"})

    world.on_sleep = touch_at_two
    world.daemon().serve()
    assert world.run_times == [utc("2026-12-08T02:00")]
    assert world.runs[0][1].environments["fleet"].schedule.duration == timedelta(hours=2)


def test_an_invalid_change_keeps_the_old_schedule_and_says_why_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentmaint")
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    world.max_runs = 1
    original = ScheduleFile.load(path).schedule

    def break_once(w: World) -> None:
        if len(w.sleeps) == 1:
            write(path, {"day_of_week": "someday", "time": "25:00"})

    world.on_sleep = break_once
    daemon = world.daemon()
    daemon.serve()
    assert world.run_times == [utc("2026-12-08T02:00")]  # the old schedule's start
    assert world.runs[0][1] == original
    assert len(world.sleeps) > 100  # many looks at the broken file...
    [invalid] = events(caplog, "schedule_invalid")  # ...one report of it
    assert invalid.levelno == logging.ERROR
    problems: list[str] = invalid.problems  # type: ignore[attr-defined]
    assert any("day_of_week" in p for p in problems), problems
    assert any("time" in p for p in problems), problems
    assert "keeping the schedule in force" in invalid.getMessage()
    assert events(caplog, "schedule_reloaded") == []


def test_an_unreadable_file_keeps_the_old_schedule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentmaint")
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    world.max_runs = 1

    def break_once(w: World) -> None:
        if len(w.sleeps) == 1:
            path.write_text("environments: [unclosed")

    world.on_sleep = break_once
    world.daemon().serve()
    assert world.run_times == [utc("2026-12-08T02:00")]
    assert len(events(caplog, "schedule_invalid")) == 1


def test_a_failing_run_is_logged_and_the_loop_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentmaint")
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    outcomes: list[Callable[[World, Schedule], RunResult]] = []

    def boom(_w: World, _s: Schedule) -> RunResult:
        raise RuntimeError("disk full")

    def locked(_w: World, _s: Schedule) -> RunResult:
        raise LockHeldError("fleet", {"pid": 4242})

    def finished(w: World, _s: Schedule) -> RunResult:
        run = RunRecord(id="r1", trigger="scheduled", started=w.now, status=RunStatus.SUCCESSFUL)
        return RunResult(plan=Plan(at=w.now), run=run)

    outcomes.extend([boom, locked, finished])
    world.on_run = lambda w, s: outcomes[len(w.runs) - 1](w, s)
    daemon = world.daemon()
    daemon.serve()
    assert len(world.runs) == 3  # the error did not end the loop
    [error] = events(caplog, "run_error")
    assert error.getMessage() == "run failed: disk full; the daemon goes on"
    assert error.exc_info is not None  # an unexpected error keeps its traceback
    [skipped] = events(caplog, "run_skipped")
    assert "previous run still going" in skipped.getMessage()
    [done] = events(caplog, "daemon_run_finished")
    assert done.getMessage() == "run r1 finished: successful"
    assert done.levelno == logging.DEBUG  # the run's observer logs its end at INFO
    # The third run ended because the stop was set during it (the fake runner did).
    assert daemon.interrupted_run is True


def test_a_stop_while_sleeping_ends_the_loop_at_once(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    world.on_sleep = lambda w: w.stop.set()
    daemon = world.daemon()
    daemon.serve()
    assert world.runs == []
    assert len(world.sleeps) == 1
    assert daemon.interrupted_run is False


def test_the_command_refuses_an_invalid_file_and_poll(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "schedule.yaml"
    write(path, {"day_of_week": "someday", "time": "02:00"})
    assert main(["daemon", str(path)]) == 2
    assert "environments.fleet.update_schedule" in capsys.readouterr().err
    write(path, DAILY_0200)
    assert main(["daemon", str(path), "--poll", "soon"]) == 2
    assert "--poll" in capsys.readouterr().err
    assert main(["daemon", str(path), "--poll", "0s"]) == 2


def test_a_reload_does_not_run_a_start_of_the_new_file_that_passed_long_ago(
    tmp_path: Path,
) -> None:
    path = tmp_path / "schedule.yaml"
    write(path, DAILY_0200)
    world = World(path, "2026-12-07T12:00")
    world.max_runs = 1

    def change_once(w: World) -> None:
        if w.now == utc("2026-12-07T20:00"):  # 13:00 passed since the daemon started
            write(path, {"day_of_week": "daily", "time": "13:00", "duration": "1h"})

    world.on_sleep = change_once
    world.daemon().serve()
    assert world.run_times == [utc("2026-12-08T13:00")]
