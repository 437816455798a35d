"""Every gap and repeat of every zone, 2026-2030: the starts listed are the documented ones.

For each offset change of each zone in ``zoneinfo.available_timezones()`` (found by
tests/zones.py without the ``fold`` attribute agentmaint relies on), cron schedules
are listed over the wall times around it and compared with the rule written out
independently (`Transition.first_instant`): a wall time that exists opens at its
first occurrence, one inside a gap opens the gap's length later, and each instant
is listed once, in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from agentmaint.config.cron import CronExpression
from agentmaint.config.schedule import UpdateSchedule
from agentmaint.planning.windows import Window, open_window, upcoming_windows
from tests.zones import Transition, all_transitions

FIRST_YEAR, LAST_YEAR = 2026, 2030
#: How far either side of a change's wall times the starts are compared.
_AROUND = timedelta(hours=1)
_DURATION = timedelta(minutes=5)


def _gap_hour_pairs(transition: Transition) -> Iterator[str]:
    """``h,h+1`` for each wall hour a gap skips into: a moved start overtakes the next hour."""
    if not transition.is_gap:
        return
    hour = transition.wall_before.replace(minute=0, second=0)
    while hour < transition.wall_after:
        yield f"{hour.hour},{(hour.hour + 1) % 24}"
        hour += timedelta(hours=1)


def _expressions(transition: Transition) -> list[str]:
    # Every 5 minutes (every change is on a quarter hour): each wall time that exists is
    # listed once, a moved start that falls on one that exists too. Every 7 minutes: a
    # start moved out of a gap that is not a whole hour lands between real ones. Two
    # hours: a start moved by a 2h gap (Antarctica/Troll) lands after the next hour's.
    pairs = (f"*/7 {hours} * * *" for hours in _gap_hour_pairs(transition))
    return ["*/5 * * * *", "*/7 * * * *", *pairs]


def _listed(schedule: UpdateSchedule, first: datetime, end: datetime, most: int) -> list[Window]:
    """The windows starting in ``[first, end)``, asking for one more than can start there."""
    # upcoming_windows also lists the windows still open at `first`, which start before it.
    windows = upcoming_windows(schedule, first, most + 1 + _DURATION // timedelta(minutes=1))
    assert windows[-1].start >= end, "the listing stopped before the end of the span"
    return [window for window in windows if first <= window.start < end]


def _check_listing(transition: Transition, expression: str) -> tuple[list[Window], datetime]:
    """Assert the windows of `expression` around `transition` start where the rule says.

    Return them and the end of the span they were listed over.
    """
    cron = CronExpression.parse(expression)
    schedule = UpdateSchedule(timezone=transition.zone, duration=_DURATION, cron=cron)
    wall_first = min(transition.wall_before, transition.wall_after) - _AROUND
    wall_end = max(transition.wall_before, transition.wall_after) + _AROUND
    walls = list(cron.iter_between(wall_first, wall_end))
    first, end = transition.first_instant(wall_first), transition.first_instant(wall_end)
    # A start moved out of a long gap can land after the span (Troll's 02:30 opens at 04:30).
    instants = (transition.first_instant(wall) for wall in walls)
    expected = sorted({instant for instant in instants if first <= instant < end})
    windows = _listed(schedule, first, end, len(walls))
    where = f"{expression!r} in {transition}"
    assert [window.start for window in windows] == expected, where
    for window in windows:
        assert window.end - window.start == _DURATION, where
    return windows, end


def _check_open(transition: Transition, expression: str) -> None:
    """Assert `open_window` near `transition` finds the latest-starting window containing it."""
    windows, end = _check_listing(transition, expression)
    schedule = UpdateSchedule(
        timezone=transition.zone, duration=_DURATION, cron=CronExpression.parse(expression)
    )
    starts = [window.start for window in windows]
    near_first = transition.at - timedelta(minutes=15)
    near_end = min(end, transition.at + abs(transition.after - transition.before) + _AROUND)
    checked = 0
    for window in windows:
        for instant in (window.start, window.end - timedelta(microseconds=1)):
            if not near_first <= instant < near_end:
                continue
            latest = max(start for start in starts if start <= instant < start + _DURATION)
            found = open_window(schedule, instant)
            assert found is not None, f"{expression!r} in {transition}: nothing open at {instant}"
            assert found.start == latest, f"{expression!r} in {transition}: at {instant}"
            assert found.end == latest + _DURATION
            checked += 1
    assert checked > 0


def test_the_sample_has_gaps_and_repeats_of_every_kind() -> None:
    transitions = all_transitions(FIRST_YEAR, LAST_YEAR)
    zones = {transition.zone.key for transition in transitions}
    assert {"Australia/Lord_Howe", "Pacific/Chatham", "Antarctica/Troll"} <= zones
    assert len(zones) > 100
    changes = {transition.after - transition.before for transition in transitions}
    assert {timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2)} <= changes
    assert {-timedelta(minutes=30), -timedelta(hours=1), -timedelta(hours=2)} <= changes


@pytest.mark.parametrize("year", range(FIRST_YEAR, LAST_YEAR + 1))
def test_every_zone_gap_and_repeat_lists_the_starts_that_exist(year: int) -> None:
    checked = 0
    for transition in all_transitions(FIRST_YEAR, LAST_YEAR):
        if transition.at.year == year:
            for expression in _expressions(transition):
                _check_listing(transition, expression)
            checked += 1
    assert checked > 300


def test_open_window_across_every_kind_of_change() -> None:
    """`open_window` looks back far enough for every change (each kind once: it is slower).

    A kind is the wall-clock time the change happens at and the offsets before and
    after it; the date and the zone's name do not enter the result.
    """
    kinds: dict[tuple[object, ...], Transition] = {}
    for transition in all_transitions(FIRST_YEAR, LAST_YEAR):
        key = (transition.wall_before.time(), transition.before, transition.after)
        kinds.setdefault(key, transition)
    assert len(kinds) > 20
    for transition in kinds.values():
        _check_open(transition, "*/7 * * * *")
