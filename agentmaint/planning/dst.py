"""A time zone's clock changes, as wall-clock gaps and shifts, found through `zoneinfo`.

A calendar that names wall-clock times (systemd's ``OnCalendar=``) needs to know where
those times do not exist: systemd skips a calendar time that falls into a spring-forward
gap, where `agentmaint.planning.windows` opens the window at the corresponding instant
after it. `spring_forward_gaps` lists those gaps; `largest_shift` bounds how far wall
clock and elapsed time can drift apart across one change.

The changes are read from the same `zoneinfo` data the windows are computed with, by
comparing UTC offsets day by day and narrowing each change down to the second, so the
zone's future rules need no parsing of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["ClockChange", "Gap", "clock_changes", "largest_shift", "spring_forward_gaps"]

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class ClockChange:
    """One change of a zone's UTC offset at instant `at` (UTC), from `before` to `after`."""

    at: datetime
    before: timedelta
    after: timedelta

    @property
    def shift(self) -> timedelta:
        """How far the wall clock jumps (positive: forward, a gap; negative: a repeat)."""
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class Gap:
    """Wall-clock times ``[start, end)`` (naive, local) that do not exist: the clock skips them."""

    start: datetime
    end: datetime

    @property
    def shift(self) -> timedelta:
        """The gap's length (how far the clock jumps forward)."""
        return self.end - self.start

    def contains(self, wall: datetime) -> bool:
        """Whether naive wall-clock time `wall` falls into the gap."""
        return self.start <= wall < self.end


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset


def _change_within(zone: ZoneInfo, low: datetime, high: datetime) -> ClockChange:
    """The change between instants `low` and `high` (offsets differ there), to the second."""
    before, after = _offset(zone, low), _offset(zone, high)
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return ClockChange(at=high, before=before, after=after)


def clock_changes(zone: ZoneInfo, first_year: int, years: int) -> tuple[ClockChange, ...]:
    """Every change of `zone`'s UTC offset from `first_year` on, for `years` years, in order.

    Offsets are compared at each UTC midnight; a zone changing twice within one day
    (none does) would show as one change or none.
    """
    changes: list[ClockChange] = []
    day = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(first_year + years, 1, 1, tzinfo=UTC)
    offset = _offset(zone, day)
    while day < end:
        following = day + _DAY
        next_offset = _offset(zone, following)
        if next_offset != offset:
            changes.append(_change_within(zone, day, following))
            offset = next_offset
        day = following
    return tuple(changes)


def spring_forward_gaps(zone: ZoneInfo, first_year: int, years: int) -> tuple[Gap, ...]:
    """The wall-clock gaps of `zone` from `first_year` on, for `years` years, in order."""
    gaps = []
    for change in clock_changes(zone, first_year, years):
        if change.shift > timedelta(0):
            local = (change.at + change.before).replace(tzinfo=None)
            gaps.append(Gap(start=local, end=local + change.shift))
    return tuple(gaps)


def largest_shift(zone: ZoneInfo, first_year: int, years: int) -> timedelta:
    """The largest clock jump (either way) of `zone` in those years; zero without changes."""
    return max(
        (abs(change.shift) for change in clock_changes(zone, first_year, years)),
        default=timedelta(0),
    )
