"""The rendered timer against systemd itself: ``systemd-analyze calendar`` and ``verify``.

For day/time and cron windows in Europe/Berlin, America/New_York and Australia/Lord_Howe,
chosen to start inside the spring-forward gaps and the fall-back repeats, the elapses
systemd computes for the timer's ``OnCalendar=`` lines over two years are exactly the
window starts `agentmaint.planning.windows` computes, and every poll tick is inside a
window. No systemd needs to run: systemd-analyze computes calendars offline.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.config.parse import load_schedule
from agentmaint.planning.calendar import CalendarEvent, window_calendar
from agentmaint.planning.windows import Window, upcoming_windows
from agentmaint.timer.analyze import calendar_elapses
from agentmaint.timer.units import render_units

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parent.parent.parent
AGENTMAINT = ROOT / ".venv" / "bin" / "agentmaint"
HORIZON = timedelta(days=731)


def _env(schedule: dict[str, Any], host: str = "h") -> dict[str, Any]:
    return {"hosts": {host: {"ansible_connection": "local"}}, "update_schedule": schedule}


#: Windows starting in gaps (Berlin and New York 02:00-03:00, Lord Howe 02:00-02:30)
#: and in repeats (Berlin 02:00-03:00, New York 01:00-02:00, Lord Howe 01:30-02:00).
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "berlin-days": {
        "day_of_week": ["sunday", "wednesday"],
        "time": "02:30",
        "timezone": "Europe/Berlin",
        "duration": "3h",
    },
    "berlin-cron": {"cron": "0,40 2 * * 0", "timezone": "Europe/Berlin", "duration": "3h"},
    "newyork-days": {
        "day_of_week": "sunday",
        "time": "02:30",
        "timezone": "America/New_York",
        "duration": "3h",
    },
    "newyork-repeat": {
        "day_of_week": "sunday",
        "time": "01:30",
        "timezone": "America/New_York",
        "duration": "3h",
        "cutoff": "15m",
    },
    # Vixie's "*/2" counts as unrestricted: odd days AND Sundays.
    "newyork-cron": {"cron": "30 1,2 */2 * SUN", "timezone": "America/New_York", "duration": "3h"},
    "lordhowe-days": {
        "day_of_week": ["sunday", "monday"],
        "time": "02:15",
        "timezone": "Australia/Lord_Howe",
        "duration": "2h",
    },
    # Both day fields restricted: the 1st OR a Sunday.
    "lordhowe-cron": {"cron": "15 2 1 * SUN", "timezone": "Australia/Lord_Howe", "duration": "90m"},
    "lordhowe-repeat": {"cron": "45 1 * 4 0", "timezone": "Australia/Lord_Howe", "duration": "2h"},
}


@pytest.fixture(scope="module")
def schedule_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    document = {
        "environments": {name: _env(rule, f"{name}-host") for name, rule in ENVIRONMENTS.items()},
        "components": {"os": {"update_command": "true", "frequency": "weekly"}},
    }
    path = tmp_path_factory.mktemp("timer") / "fleet.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _iterations(event: CalendarEvent, start: date) -> int:
    """How many elapses `event` has in a little more than the horizon (enough to cover it)."""
    per_day = len(event.times_of_day())
    days = (start + timedelta(days=n) for n in range(HORIZON.days + 3))
    return sum(per_day for day in days if event.matches_date(day)) + 2


def _elapses(event: CalendarEvent, now: datetime) -> list[datetime]:
    """systemd's elapses of `event` in (now, now + HORIZON], checked to cover the horizon."""
    iterations = _iterations(event, now.date())
    found = calendar_elapses(event.systemd(), iterations)
    assert len(found) < iterations or found[-1] > now + HORIZON, event.systemd()
    return [e for e in found if now < e <= now + HORIZON]


def _covering(windows: list[Window], instant: datetime) -> Window | None:
    return next((w for w in windows if w.start <= instant < w.last_start), None)


@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_timer_fires_exactly_at_every_window_start(schedule_file: Path, name: str) -> None:
    schedule = load_schedule(schedule_file).environments[name].schedule
    now = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    calendar = window_calendar(schedule, from_year=now.year, poll=timedelta(minutes=15))
    # Open at `now` or opening within the horizon (a tick may belong to an open window).
    windows = [w for w in upcoming_windows(schedule, now, 2000) if w.start <= now + HORIZON]
    starts = {w.start for w in windows if w.start > now}
    assert len(starts) >= 8  # two years of windows (April Sundays at the least)

    fired = {e for event in calendar.window_events for e in _elapses(event, now)}
    assert sorted(starts - fired) == []  # every window start fires the timer
    assert sorted(fired - starts) == []  # and nothing else does

    # The gap days are among them: the moved starts fire where the windows open.
    gap_days = [w for w in windows if w.local_start.time() != _wall_time(schedule, w)]
    assert all(w.start in fired for w in gap_days)

    ticks = {e for event in calendar.ticks for e in _elapses(event, now)}
    assert ticks, "poll ticks expected for these windows"
    outside = sorted(t for t in ticks if _covering(windows, t) is None)
    assert outside == []


def _wall_time(schedule: Any, window: Window) -> Any:
    """The wall time the rule names for `window` (cron: the window's own local time)."""
    if schedule.at_time is not None:
        return schedule.at_time
    return window.local_start.time()


def test_gap_windows_are_covered_by_moved_starts(schedule_file: Path) -> None:
    """Without the moved starts, systemd would skip the spring-forward Sundays."""
    schedule = load_schedule(schedule_file).environments["berlin-days"].schedule
    now = datetime.now(UTC)
    calendar = window_calendar(schedule, from_year=now.year)
    assert [e.systemd() for e in calendar.moved_starts] == [
        "Sun *-03-25..31 03:30:00 Europe/Berlin"
    ]
    plain = set(_elapses(calendar.starts[0], now))
    moved = [
        w.start
        for w in upcoming_windows(schedule, now, 300)
        if w.local_start.hour == 3 and w.start <= now + HORIZON
    ]
    assert moved  # the last Sunday of March, each year
    assert not plain & set(moved)
    assert set(moved) <= set(_elapses(calendar.moved_starts[0], now))


def _verify(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )


def test_systemd_analyze_verify_accepts_the_units(
    schedule_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert AGENTMAINT.is_file()
    out = tmp_path / "units"
    code = main(
        [
            "timer",
            "render",
            str(schedule_file),
            "--out",
            str(out),
            "--poll",
            "30m",
            "--jitter",
            "5m",
        ]
    )
    assert code == 0, capsys.readouterr().err
    service, timer = out / "agentmaint-fleet.service", out / "agentmaint-fleet.timer"
    assert f"ExecStart={AGENTMAINT} run {schedule_file} --scheduled" in service.read_text()
    done = _verify(service, timer)
    assert done.returncode == 0, done.stderr
    assert "agentmaint-fleet" not in done.stderr  # no warning about our units
    text = timer.read_text()
    assert "RandomizedDelaySec=300s" in text
    assert "\nPersistent=" not in text


def test_verify_reads_back_escaped_paths(tmp_path: Path) -> None:
    """Paths with spaces, ``%`` and ``$`` reach systemd as they are.

    systemd checks that the executable exists, so the executable's path is the one
    systemd reads back: unescaped wrongly (``%d`` is a specifier), verify fails.
    """
    folder = tmp_path / "odd dir 100%d $HOME"
    folder.mkdir()
    executable = folder / "agentmaint"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    schedule_file = folder / 'it\'s "nightly" 50%.yaml'
    units = render_units(
        "nightly",
        executable=executable,
        schedule_file=schedule_file,
        environments=[],
    )
    service = tmp_path / units.service_name
    service.write_text(units.service)
    timer = tmp_path / units.timer_name
    timer.write_text(units.timer.replace("[Timer]", "[Timer]\nOnCalendar=daily"))
    done = _verify(service, timer)
    assert done.returncode == 0, done.stderr
    assert "not executable" not in done.stderr

    # The control: the same path with its "%" not doubled is another path to systemd.
    broken = tmp_path / "broken.service"
    broken.write_text(units.service.replace("100%%d", "100%d"))
    done = _verify(broken)
    assert "is not executable" in done.stderr


def test_status_lists_window_starts_next_to_timer_elapses(
    schedule_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["timer", "status", str(schedule_file), "--count", "4", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["timer"] == "agentmaint-fleet.timer"
    assert document["systemd_running"] is False
    assert document["installed"] == "absent"
    assert document["enabled"] is None
    assert set(document["environments"]) == set(ENVIRONMENTS)
    for name, env in document["environments"].items():
        assert len(env["window_starts"]) == 4, name
        assert env["timer_elapses"] == env["window_starts"], name
        assert env["match"] is True
    assert main(["timer", "status", str(schedule_file), "-n", "2"]) == 0
    text = capsys.readouterr().out
    assert "enabled: unknown (systemd is not running here)" in text
    assert "differs" not in text
    assert "Match" in text  # the ok/differs column is named
