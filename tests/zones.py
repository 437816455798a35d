"""Daylight-saving transitions of the installed time zones, found by sampling UTC offsets.

The tests of `agentmaint.planning.windows` check gaps and folds against this table,
which is computed without the ``fold`` attribute the module itself relies on: an offset
change is located by sampling ``astimezone`` every few days and bisecting to the second.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

#: No zone changes its offset twice within this long (Morocco's Ramadan pauses, the
#: closest pair in the database, are about a month apart).
_SAMPLE = timedelta(days=4)


@dataclass(frozen=True)
class Transition:
    """One change of a zone's UTC offset: at instant `at` (UTC) from `before` to `after`."""

    zone: ZoneInfo
    at: datetime
    before: timedelta
    after: timedelta

    @property
    def wall_before(self) -> datetime:
        """The (naive) wall-clock time the clock leaves: where a gap or a repeat begins."""
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        """The (naive) wall-clock time the clock is set to."""
        return (self.at + self.after).replace(tzinfo=None)

    @property
    def is_gap(self) -> bool:
        """Whether the clock jumps forward (wall times between are skipped)."""
        return self.after > self.before

    def in_gap(self, wall: datetime) -> bool:
        """Whether naive `wall` is skipped by this (forward) change."""
        return self.is_gap and self.wall_before <= wall < self.wall_after

    def first_instant(self, wall: datetime) -> datetime:
        """Where a start at naive `wall` near this change opens, by the documented rule.

        Before the change's wall times (and inside a gap or a repeat) a wall time is
        read with the offset before it: the first occurrence of a repeated time, and
        a skipped time moved later by the gap's length. After them, the offset after.
        """
        offset = self.before if wall < max(self.wall_before, self.wall_after) else self.after
        return (wall - offset).replace(tzinfo=UTC)

    def __str__(self) -> str:
        """Say which zone and change, for assertion messages."""
        kind = "gap" if self.is_gap else "repeat"
        return f"{self.zone.key} {kind} at {self.at:%Y-%m-%dT%H:%M}Z ({self.before}->{self.after})"


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _bisect(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second in ``(low, high]`` with `high`'s offset (which `low` does not have)."""
    target = _offset(zone, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == target:
            high = middle
        else:
            low = middle
    return high


def zone_transitions(zone: ZoneInfo, first_year: int, last_year: int) -> list[Transition]:
    """Every offset change of `zone` from `first_year` through `last_year` (UTC years)."""
    found: list[Transition] = []
    instant = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    offset = _offset(zone, instant)
    while instant < end:
        following = min(instant + _SAMPLE, end)
        next_offset = _offset(zone, following)
        if next_offset != offset:
            at = _bisect(zone, instant, following)
            found.append(Transition(zone, at, offset, next_offset))
        instant, offset = following, next_offset
    return found


@functools.cache
def all_transitions(first_year: int, last_year: int) -> tuple[Transition, ...]:
    """The offset changes of every zone in ``zoneinfo.available_timezones()``, zone by zone."""
    return tuple(
        transition
        for name in sorted(zoneinfo.available_timezones())
        for transition in zone_transitions(ZoneInfo(name), first_year, last_year)
    )
