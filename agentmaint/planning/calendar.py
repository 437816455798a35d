"""Window starts as systemd calendar events (``OnCalendar=``), exactly, across DST.

`window_calendar` turns an environment's `UpdateSchedule` into `CalendarEvent`s whose
elapses are exactly the window starts `agentmaint.planning.windows` computes:

* A day/time window is one event: its weekdays, its time, its zone
  (``Mon,Thu *-*-* 02:30:00 Europe/Berlin``).
* A cron window is one event with the same value sets (``*/15`` becomes ``00/15``,
  ``1-5`` becomes ``1..5``). Cron's day rule, "day-of-month OR day-of-week" when both
  are restricted, is two events, one per field: a timer fires at the union of its
  ``OnCalendar=`` lines, so the OR is exact.
* systemd skips a calendar time that falls into a spring-forward gap; the window opens
  at the corresponding instant after the gap (see `agentmaint.planning.windows`). Extra
  events fire there, on the days the zone's rules put the gap (for Europe/Berlin:
  ``Sun *-03-25..31 03:30:00 Europe/Berlin`` for a 02:30 window). Those days are read
  from 28 years of the zone's clock changes, after which weekdays and dates realign.
  A repeated (fall-back) time needs nothing: systemd, like the windows, takes its first
  occurrence, once.

`poll` adds ticks every `poll` inside each window, so that hosts left due (a failed or
skipped host, a run that ended early) are retried in the same window. A tick is a wall
clock time, and a DST change moves wall clock against elapsed time by up to the zone's
largest shift, so ticks keep that distance from the window's last start (its end minus
the cutoff), and from its start when a start can fall into a gap: a tick may be left
out, but never lands outside a window. Ticks past midnight of a cron window restricted
by day of month or month cannot be written (the day after the 31st is not a calendar
field) and are left out; `WindowCalendar.notes` says so.

Pure: no clock, no files; the caller passes the year the rule scan starts at.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agentmaint.config.durations import format_duration
from agentmaint.config.schedule import UpdateSchedule
from agentmaint.errors import UsageError
from agentmaint.planning.dst import largest_shift, spring_forward_gaps

__all__ = ["RULE_YEARS", "CalendarEvent", "WindowCalendar", "window_calendar"]

#: How many years of clock changes are read: the Gregorian weekday/date pattern repeats
#: every 28 years (between century years), so a yearly rule such as "last Sunday of
#: March" has fallen on each day it can in that time.
RULE_YEARS = 28
#: The most ticks (starts x ticks per start) one window rule may expand to.
MAX_TICKS = 100_000

_MINUTES_PER_DAY = 24 * 60
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ALL_DAYS = frozenset(range(1, 32))
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_WEEKDAYS = frozenset(range(7))


def _runs(values: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted distinct `values`, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for value in sorted(set(values)):
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _systemd_field(values: frozenset[int], low: int, high: int) -> str:
    """A systemd calendar component: ``*``, ``a/step``, or a list of values and ``a..b``."""
    if values == frozenset(range(low, high + 1)):
        return "*"
    ordered = sorted(values)
    if len(ordered) >= 3:
        step = ordered[1] - ordered[0]
        steady = all(b - a == step for a, b in itertools.pairwise(ordered))
        if step > 1 and steady and ordered[-1] + step > high:
            return f"{ordered[0]:02d}/{step}"
    parts = []
    for first, last in _runs(ordered):
        if last - first >= 2:
            parts.append(f"{first:02d}..{last:02d}")
        else:
            parts.extend(f"{value:02d}" for value in range(first, last + 1))
    return ",".join(parts)


def _cron_field(values: frozenset[int] | None) -> str:
    if values is None:
        return "*"
    parts = []
    for first, last in _runs(values):
        if last - first >= 2:
            parts.append(f"{first}-{last}")
        else:
            parts.extend(str(value) for value in range(first, last + 1))
    return ",".join(parts)


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """A wall-clock calendar rule in one zone: every listed minute of every matching day.

    A day matches when it is in `weekdays` (0 = Monday), `months` and `days` (day of
    month), each None for "any"; all three must match, as in systemd.
    """

    timezone: str
    hours: frozenset[int]
    minutes: frozenset[int]
    weekdays: frozenset[int] | None = None
    months: frozenset[int] | None = None
    days: frozenset[int] | None = None

    def systemd(self) -> str:
        """The event as systemd writes a calendar spec, e.g. ``Sun *-03-25..31 03:30:00 UTC``."""
        date_text = "*-{}-{}".format(
            "*" if self.months is None else _systemd_field(self.months, 1, 12),
            "*" if self.days is None else _systemd_field(self.days, 1, 31),
        )
        time_text = f"{_systemd_field(self.hours, 0, 23)}:{_systemd_field(self.minutes, 0, 59)}:00"
        text = f"{date_text} {time_text} {self.timezone}"
        if self.weekdays is not None:
            names = []
            for first, last in _runs(self.weekdays):
                if last - first >= 2:
                    names.append(f"{_WEEKDAYS[first]}..{_WEEKDAYS[last]}")
                else:
                    names.extend(_WEEKDAYS[day] for day in range(first, last + 1))
            text = f"{','.join(names)} {text}"
        return text

    def cron(self) -> str:
        """The five cron fields (minute hour day-of-month month day-of-week).

        Raises `UsageError` when both the weekdays and the days are restricted: cron
        would match either (its day rule), where the event needs both.
        """
        if self.weekdays is not None and self.days is not None:
            raise UsageError(
                f"{self.systemd()!r} restricts both the weekday and the day of the month, "
                "which cron reads as either"
            )
        weekdays = None if self.weekdays is None else frozenset((d + 1) % 7 for d in self.weekdays)
        return " ".join(
            _cron_field(values)
            for values in (self.minutes, self.hours, self.days, self.months, weekdays)
        )

    def matches_date(self, day: date) -> bool:
        """Whether the event fires on `day` (at its times)."""
        return (
            (self.weekdays is None or day.weekday() in self.weekdays)
            and (self.months is None or day.month in self.months)
            and (self.days is None or day.day in self.days)
        )

    def times_of_day(self) -> list[int]:
        """The minutes of the day the event fires at, ascending."""
        return sorted(hour * 60 + minute for hour in self.hours for minute in self.minutes)


@dataclass(frozen=True, slots=True)
class WindowCalendar:
    """The calendar events of one environment's windows.

    `starts` fire at the window starts, `moved_starts` at starts a spring-forward gap
    moved, `ticks` every poll interval inside the windows; `notes` say which ticks could
    not be written.
    """

    starts: tuple[CalendarEvent, ...]
    moved_starts: tuple[CalendarEvent, ...] = ()
    ticks: tuple[CalendarEvent, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def window_events(self) -> tuple[CalendarEvent, ...]:
        """The events that fire at window starts (`starts` and `moved_starts`)."""
        return (*self.starts, *self.moved_starts)


def _optional(values: frozenset[int], every: frozenset[int]) -> frozenset[int] | None:
    return None if values >= every else values


def _start_events(schedule: UpdateSchedule) -> tuple[CalendarEvent, ...]:
    zone = schedule.timezone.key
    cron = schedule.cron
    if cron is None:
        assert schedule.days is not None and schedule.at_time is not None
        return (
            CalendarEvent(
                timezone=zone,
                hours=frozenset({schedule.at_time.hour}),
                minutes=frozenset({schedule.at_time.minute}),
                weekdays=_optional(schedule.days, _ALL_WEEKDAYS),
            ),
        )
    months = _optional(cron.months, _ALL_MONTHS)
    # Cron counts Sunday = 0, systemd and Python Monday = 0.
    weekdays = frozenset((day + 6) % 7 for day in cron.days_of_week)
    if cron.dom_restricted and cron.dow_restricted:
        return (
            CalendarEvent(zone, cron.hours, cron.minutes, months=months, days=cron.days_of_month),
            CalendarEvent(zone, cron.hours, cron.minutes, weekdays=weekdays, months=months),
        )
    return (
        CalendarEvent(
            zone,
            cron.hours,
            cron.minutes,
            weekdays=_optional(weekdays, _ALL_WEEKDAYS),
            months=months,
            days=_optional(cron.days_of_month, _ALL_DAYS),
        ),
    )


def _events_at(
    times: Iterable[int],
    *,
    timezone: str,
    weekdays: frozenset[int] | None = None,
    months: frozenset[int] | None = None,
    days: frozenset[int] | None = None,
) -> list[CalendarEvent]:
    """Events firing at exactly minutes-of-day `times`: one per set of hours sharing minutes."""
    minutes_by_hour: dict[int, set[int]] = defaultdict(set)
    for value in times:
        minutes_by_hour[value // 60].add(value % 60)
    hours_by_minutes: dict[frozenset[int], set[int]] = defaultdict(set)
    for hour, minutes in minutes_by_hour.items():
        hours_by_minutes[frozenset(minutes)].add(hour)
    events = [
        CalendarEvent(timezone, frozenset(hours), minutes, weekdays, months, days)
        for minutes, hours in hours_by_minutes.items()
    ]
    return sorted(events, key=lambda e: (min(e.hours), min(e.minutes)))


def _moved_events(
    schedule: UpdateSchedule, starts: tuple[CalendarEvent, ...], from_year: int
) -> list[CalendarEvent]:
    """Events at the starts that fall into a spring-forward gap, moved past it."""
    # (month, weekday, minute of day) of a moved start -> the days of the month it fell on
    moved: dict[tuple[int, int, int], set[int]] = defaultdict(set)
    for gap in spring_forward_gaps(schedule.timezone, from_year, RULE_YEARS):
        for event in starts:
            times = event.times_of_day()
            for day in {gap.start.date(), (gap.end - timedelta(seconds=1)).date()}:
                if not event.matches_date(day):
                    continue
                midnight = datetime(day.year, day.month, day.day)
                for minute in times:
                    wall = midnight + timedelta(minutes=minute)
                    if gap.contains(wall):
                        # What `windows.localize` does: the offset before the gap.
                        opens = wall + gap.shift
                        key = (opens.month, opens.weekday(), opens.hour * 60 + opens.minute)
                        moved[key].add(opens.day)
    grouped: dict[tuple[int, int, frozenset[int]], set[int]] = defaultdict(set)
    for (month, weekday, minute), on_days in moved.items():
        grouped[(month, weekday, frozenset(on_days))].add(minute)
    events: list[CalendarEvent] = []
    for (month, weekday, moved_days), moved_times in sorted(
        grouped.items(), key=lambda kv: kv[0][:2]
    ):
        events.extend(
            _events_at(
                moved_times,
                timezone=schedule.timezone.key,
                weekdays=frozenset({weekday}),
                months=frozenset({month}),
                days=moved_days,
            )
        )
    return events


def _tick_offsets(
    schedule: UpdateSchedule, poll: timedelta, shift: timedelta, *, any_moved: bool
) -> list[int]:
    """Minutes after a window's start at which its ticks fire (see the module's rules)."""
    if poll < timedelta(minutes=1) or poll % timedelta(minutes=1):
        raise UsageError(f"--poll must be a whole number of minutes, got {format_duration(poll)}")
    earliest = shift if any_moved else timedelta(0)
    latest = schedule.duration - schedule.cutoff - shift  # exclusive
    offsets = []
    offset = poll
    while offset < latest:
        if offset >= earliest:
            offsets.append(int(offset / timedelta(minutes=1)))
        offset += poll
    return offsets


def _tick_events(
    schedule: UpdateSchedule,
    starts: tuple[CalendarEvent, ...],
    offsets: list[int],
) -> tuple[list[CalendarEvent], list[str]]:
    events: list[CalendarEvent] = []
    notes: list[str] = []
    for event in starts:
        times = event.times_of_day()
        if len(times) * len(offsets) > MAX_TICKS:
            raise UsageError(
                f"--poll: {schedule.describe()} would need {len(times) * len(offsets)} ticks "
                f"(at most {MAX_TICKS}); poll less often"
            )
        by_carry: dict[int, set[int]] = defaultdict(set)
        for minute in times:
            for offset in offsets:
                carry, time_of_day = divmod(minute + offset, _MINUTES_PER_DAY)
                by_carry[carry].add(time_of_day)
        for carry, tick_times in sorted(by_carry.items()):
            if carry and (event.days is not None or event.months is not None):
                notes.append(
                    f"ticks of {event.systemd()!r} {carry} day(s) after its start are left "
                    "out: a calendar cannot move a day of the month across a month's end"
                )
                continue
            weekdays = event.weekdays
            if carry and weekdays is not None:
                weekdays = frozenset((day + carry) % 7 for day in weekdays)
            events.extend(
                _events_at(
                    tick_times,
                    timezone=event.timezone,
                    weekdays=weekdays,
                    months=event.months,
                    days=event.days,
                )
            )
    return events, notes


def window_calendar(
    schedule: UpdateSchedule, *, from_year: int, poll: timedelta | None = None
) -> WindowCalendar:
    """The calendar events that fire at every start of `schedule`'s windows (see the module).

    `from_year` is where the scan of the zone's clock changes starts (the current year);
    `poll` adds ticks inside the windows. Raises `UsageError` for a poll interval that is
    not whole minutes or would need too many ticks.
    """
    starts = _start_events(schedule)
    moved = _moved_events(schedule, starts, from_year)
    if poll is None:
        return WindowCalendar(starts=starts, moved_starts=tuple(moved))
    shift = largest_shift(schedule.timezone, from_year, RULE_YEARS)
    offsets = _tick_offsets(schedule, poll, shift, any_moved=bool(moved))
    ticks, notes = _tick_events(schedule, starts, offsets)
    if not offsets:
        notes.append(
            f"no poll ticks fit in the window ({schedule.describe()}): every "
            f"{format_duration(poll)} tick would fall within the zone's clock shift "
            f"({format_duration(shift)}) of its start or last start"
        )
    return WindowCalendar(
        starts=starts, moved_starts=tuple(moved), ticks=tuple(ticks), notes=tuple(notes)
    )
