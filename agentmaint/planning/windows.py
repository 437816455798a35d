"""Maintenance windows: when they open and close, in absolute time, across DST.

A window opens at a wall-clock time in its time zone and lasts `duration` of
elapsed time: ``[start, start + duration)``. Comparing instants, never "HH:MM"
strings, is what makes a 23:30 window still open at 00:15 the next day.

Daylight-saving rules: RFC 5545's for a local time (section 3.3.5, which its
section 3.3.10 applies to recurrence instances), the same as Python's ``fold=0``:

* A start time that does not exist (spring forward) is read with the UTC offset
  in force before the gap, so the window opens as much later as the gap is long:
  02:30 in Europe/Berlin on the last Sunday of March (02:00 CET -> 03:00 CEST)
  opens at 03:30 CEST, 02:20 in Australia/Lord_Howe's 30-minute gap (02:00 ->
  02:30) at 02:50. It is neither skipped nor run twice, and it does not hide a
  start that exists: Lord_Howe's ``20,35 2 * * *`` opens at 02:35 and at 02:50,
  in that order. A moved start that falls on one that exists (``30 2,3 * * *`` in
  Berlin: 03:30) opens once.
* A start time that exists twice (fall back, 02:30 on the last Sunday of
  October in Berlin) opens once, at the first occurrence (02:30 CEST); this
  holds for ``*`` fields too (``*/15 * * * *`` does not open again in the
  repeated hour).
* The duration is elapsed time: a 1h window opening at 01:30 CEST on the
  fall-back night closes at 02:30 CEST, whatever the clock shows, and one
  opening at 01:30 CET on the spring-forward night closes at 03:30 CEST.

This is not Vixie cron's rule, nor cronsim's (which mimics Debian's Vixie cron):
cron runs a job whose time was skipped right after the jump (03:00 CEST for the
Berlin 02:30 job, and several skipped times once, at 03:00) and, for expressions
with ``*`` in the minute or hour field, skips the gap's times and runs again in
the repeated hour. agentmaint keeps RFC 5545's rule on purpose: it is how an
iCalendar event at that time is read, each start stays its own window (cron
merges the skipped ones), and none opens twice in one night.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from agentmaint.config.schedule import UpdateSchedule

#: How far back (in wall-clock time) a search looks beyond the duration: it covers the
#: largest offset change or gap of a zone (2h, Antarctica/Troll) with room to spare.
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
    and the pre-gap offset for a skipped one (PEP 495), which is RFC 5545's rule.
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


def _in_time_order(walls: Iterable[datetime], schedule: UpdateSchedule) -> Iterator[datetime]:
    """The starts of ascending wall-clock times `walls`: ascending instants, each once.

    Wall times that exist open in wall order (repeated ones at their first
    occurrence), so the only disorder comes from a gap: a start moved out of it
    opens after wall times that follow it (Lord_Howe's 02:20 opens at 02:50, after
    02:35). No wall time after one that exists opens before it (a later gap's
    starts land after that gap), so starts wait in a heap until a wall time that
    exists releases all those not later than its own start.
    """
    pending: list[datetime] = []
    previous: datetime | None = None
    for wall in walls:
        start = localize(wall, schedule)
        heapq.heappush(pending, start)
        if _wall(start, schedule) != wall:  # moved out of a gap: later walls may open first
            continue
        while pending and pending[0] <= start:
            ready = heapq.heappop(pending)
            if ready != previous:  # a moved start that falls on one that exists opens once
                previous = ready
                yield ready


def _cron_walls(schedule: UpdateSchedule, wall_from: datetime) -> Iterator[datetime]:
    assert schedule.cron is not None
    # One lazy pass: each `next_after` call would search its month's days again.
    return schedule.cron.iter_between(wall_from.replace(second=0, microsecond=0), datetime.max)


def _daily_walls(schedule: UpdateSchedule, wall_from: datetime) -> Iterator[datetime]:
    assert schedule.days is not None and schedule.at_time is not None
    day: date = wall_from.date()
    while True:
        if day.weekday() in schedule.days:
            wall = datetime.combine(day, schedule.at_time)
            if wall >= wall_from:
                yield wall
        day += timedelta(days=1)


def _starts_from(schedule: UpdateSchedule, wall_from: datetime) -> Iterator[datetime]:
    """Window starts (aware, ascending, deduplicated) for wall-clock times >= `wall_from`."""
    if schedule.cron is not None:
        return _in_time_order(_cron_walls(schedule, wall_from), schedule)
    return _in_time_order(_daily_walls(schedule, wall_from), schedule)


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
