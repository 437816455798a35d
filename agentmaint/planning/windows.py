"""Maintenance windows: when they open and close, in absolute time, across DST.

A window opens at a wall-clock time in its time zone and lasts `duration` of
elapsed time: ``[start, start + duration)``. Comparing instants, never "HH:MM"
strings, is what makes a 23:30 window still open at 00:15 the next day.

Daylight-saving rules (the same as RFC 5545 and Vixie cron):

* A start time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin
  on the last Sunday of March) is read with the offset in force before the gap,
  so the window opens at the corresponding instant after it (03:30 CEST); it is
  neither skipped nor run twice.
* A start time that exists twice (fall back, 02:30 on the last Sunday of
  October) opens once, at the first occurrence (02:30 CEST).
* The duration is elapsed time: a 1h window opening at 01:30 CEST on the
  fall-back night closes at 02:30 CEST, whatever the clock shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from agentmaint.config.schedule import UpdateSchedule

_MINUTE = timedelta(minutes=1)
#: How far back a cron search looks for an open window beyond the duration.
_DST_SLACK = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class Window:
    """One occurrence of a maintenance window.

    `start` and `end` are in UTC: Python compares and subtracts datetimes that share
    a `tzinfo` by wall clock, ignoring `fold`, which is wrong across a DST change.
    `local_start` and `local_end` show them in the window's own time zone.
    """

    start: datetime
    end: datetime
    timezone: ZoneInfo
    cutoff: timedelta = timedelta(0)

    @property
    def local_start(self) -> datetime:
        """`start` in the window's time zone."""
        return self.start.astimezone(self.timezone)

    @property
    def local_end(self) -> datetime:
        """`end` in the window's time zone."""
        return self.end.astimezone(self.timezone)

    @property
    def last_start(self) -> datetime:
        """No new maintenance starts at or after this instant (`end` minus the cutoff)."""
        return self.end - self.cutoff

    def contains(self, instant: datetime) -> bool:
        """Whether the window is open at `instant`."""
        return self.start <= instant < self.end

    def accepts_start(self, instant: datetime) -> bool:
        """Whether new maintenance may start at `instant` (open and before the cutoff)."""
        return self.start <= instant < self.last_start

    @property
    def duration(self) -> timedelta:
        """The window's length in elapsed time."""
        return self.end - self.start


def localize(wall: datetime, schedule: UpdateSchedule) -> datetime:
    """The instant (in UTC) a naive wall-clock time names in the schedule's zone.

    See the module's rules: fold=0 picks the first occurrence of a repeated time
    and the pre-gap offset for a skipped one.
    """
    return wall.replace(tzinfo=schedule.timezone, fold=0).astimezone(UTC)


def _window(start: datetime, schedule: UpdateSchedule) -> Window:
    return Window(
        start=start,
        end=start + schedule.duration,
        timezone=schedule.timezone,
        cutoff=schedule.cutoff,
    )


def _wall(instant: datetime, schedule: UpdateSchedule) -> datetime:
    return instant.astimezone(schedule.timezone).replace(tzinfo=None)


def _starts_from(schedule: UpdateSchedule, wall_from: datetime) -> Iterator[datetime]:
    """Window starts (aware, ascending, deduplicated) for wall-clock times >= `wall_from`."""
    previous: datetime | None = None
    if schedule.cron is not None:
        wall = wall_from - _MINUTE
        while True:
            wall = schedule.cron.next_after(wall)
            start = localize(wall, schedule)
            if previous is None or start > previous:
                previous = start
                yield start
    assert schedule.days is not None and schedule.at_time is not None
    day: date = wall_from.date()
    while True:
        if day.weekday() in schedule.days:
            wall = datetime.combine(day, schedule.at_time)
            if wall >= wall_from:
                start = localize(wall, schedule)
                if previous is None or start > previous:
                    previous = start
                    yield start
        day += timedelta(days=1)


def _search_from(schedule: UpdateSchedule, instant: datetime) -> datetime:
    """A wall-clock time early enough that every window still open at `instant` starts after it."""
    return _wall(instant, schedule) - schedule.duration - _DST_SLACK


def open_window(schedule: UpdateSchedule, instant: datetime) -> Window | None:
    """The window open at `instant` (the latest-starting one if several overlap), else None."""
    found: Window | None = None
    for start in _starts_from(schedule, _search_from(schedule, instant)):
        if start > instant:
            break
        window = _window(start, schedule)
        if window.contains(instant):
            found = window
    return found


def upcoming_windows(schedule: UpdateSchedule, instant: datetime, count: int) -> list[Window]:
    """The next `count` windows that are open at `instant` or open after it, in order."""
    windows: list[Window] = []
    if count <= 0:
        return windows
    for start in _starts_from(schedule, _search_from(schedule, instant)):
        window = _window(start, schedule)
        if window.end <= instant:
            continue
        windows.append(window)
        if len(windows) == count:
            break
    return windows


def next_window_after(schedule: UpdateSchedule, instant: datetime) -> Window:
    """The first window that opens strictly after `instant`."""
    for start in _starts_from(schedule, _wall(instant, schedule) - _DST_SLACK):
        if start > instant:
            return _window(start, schedule)
    raise AssertionError("unreachable: window starts are infinite")  # pragma: no cover
