"""Standard 5-field cron expressions, parsed and matched against naive wall-clock times.

An expression has five whitespace-separated fields::

    minute  hour  day-of-month  month  day-of-week
    0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)

Each field is ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or
``a/n`` (short for ``a-<max>/n``), or a comma-separated list of these. Months
may be written ``JAN``..``DEC`` and days of the week ``SUN``..``SAT`` (any
case), also as range ends (``MON-FRI``). The macros ``@yearly`` (``@annually``),
``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and ``@hourly`` stand for
their usual expansions.

Days follow Vixie cron: when both day-of-month and day-of-week are restricted
(the field does not start with ``*``), a day matches when *either* matches
(``0 0 1 * MON`` runs on the 1st and on every Monday); otherwise both must.

Everything works on naive datetimes at minute precision; time zones (and the
daylight-saving gaps and repeats they bring) are the caller's business, see
`agentmaint.planning.windows`. Expressions that can never match (``0 0 30 2 *``) are
rejected when parsed, so the searches always find an answer.

This module imports only `agentmaint.errors` and the standard library.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, datetime, timedelta

from agentmaint.errors import CronError

__all__ = ["CronExpression"]

_MINUTE = timedelta(minutes=1)
#: The Gregorian calendar repeats every 400 years, so any day pattern that can
#: occur at all occurs within this many years of any starting point.
_SEARCH_YEARS = 400
_NUMBER = re.compile(r"[0-9]+")
_ALLOWED = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ*/,-")
_MACROS: Mapping[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
# calendar.day_abbr starts on Monday (index 0); cron counts from Sunday = 0.
_DAY_NAMES = {name.upper(): (index + 1) % 7 for index, name in enumerate(calendar.day_abbr)}
#: The most days each month can have (February in leap years).
_MAX_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class _Field:
    """How one of the five fields is read."""

    name: str
    low: int
    high: int
    #: The upper end of ``*`` and of ``a/n`` (6 for day-of-week, where 7 is only an alias).
    star_high: int
    names: Mapping[str, int]


_FIELDS = (
    _Field("minute", 0, 59, 59, {}),
    _Field("hour", 0, 23, 23, {}),
    _Field("day-of-month", 1, 31, 31, {}),
    _Field("month", 1, 12, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, 6, _DAY_NAMES),
)


def _value(field: _Field, token: str, element: str) -> int:
    """Read one number or name of `field` (from list element `element`), range-checked."""
    if not token:
        raise CronError(f"{field.name}: missing number in {element!r}")
    if _NUMBER.fullmatch(token):
        number = int(token)
        if not field.low <= number <= field.high:
            raise CronError(f"{field.name}: {number} is out of range {field.low}-{field.high}")
        return number
    if token.isalpha():
        if not field.names:
            raise CronError(f"{field.name}: {token!r} is not a number")
        try:
            return field.names[token.upper()]
        except KeyError:
            raise CronError(f"{field.name}: unknown name {token!r}") from None
    raise CronError(f"{field.name}: {token!r} is not a number")


def _element(field: _Field, element: str) -> range:
    """Expand one list element (``*``, ``a``, ``a-b``, each with an optional ``/n``)."""
    base, slash, step_text = element.partition("/")
    step = 1
    if slash:
        if not _NUMBER.fullmatch(step_text) or int(step_text) < 1:
            raise CronError(f"{field.name}: step must be a positive integer, got {step_text!r}")
        step = int(step_text)
    if base == "*":
        return range(field.low, field.star_high + 1, step)
    if base.count("-") == 1:
        first_text, _, last_text = base.partition("-")
        first, last = _value(field, first_text, element), _value(field, last_text, element)
        if first > last:
            raise CronError(f"{field.name}: range {base} is reversed")
        return range(first, last + 1, step)
    if "-" in base:
        raise CronError(f"{field.name}: {base!r} is not a range")
    first = _value(field, base, element)
    return range(first, max(first, field.star_high) + 1 if slash else first + 1, step)


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    """All values a whole field names (day-of-week 7 folded onto 0)."""
    bad = next((char for char in text if char not in _ALLOWED), None)
    if bad is not None:
        raise CronError(f"{field.name}: invalid character {bad!r} in {text!r}")
    values: set[int] = set()
    for element in text.split(","):
        if not element:
            raise CronError(f"{field.name}: empty list element in {text!r}")
        values.update(_element(field, element))
    if field.high == 7 and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def _english_list(words: list[str], conjunction: str = "or") -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _floor_minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


def _require_naive(when: datetime, method: str) -> None:
    if when.tzinfo is not None:
        raise ValueError(f"CronExpression.{method} needs a naive wall-clock datetime, got {when}")


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed 5-field cron expression; build one with `CronExpression.parse`.

    The value sets hold what each field allows; `days_of_week` counts
    0 = Sunday .. 6 = Saturday. `dom_restricted` / `dow_restricted` say whether
    the day-of-month / day-of-week field does not start with ``*``, which selects
    the Vixie day rule (either matches when both are restricted, else both must).
    """

    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_restricted: bool
    dow_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        """Parse `text` (5 fields or a macro such as ``@daily``); raise `CronError` if invalid.

        Besides syntax and ranges this rejects expressions that can never match,
        such as ``0 0 30 2 *`` (``0 0 29 2 *`` is fine: leap years).
        """
        source = text.strip()
        fields = source.split()
        if fields and fields[0].startswith("@"):
            macro = fields[0].lower()
            if macro not in _MACROS:
                known = _english_list(list(_MACROS))
                raise CronError(f"unknown macro {fields[0]!r} (use {known})")
            if len(fields) > 1:
                raise CronError(f"{fields[0]} takes no fields, got {' '.join(fields[1:])!r}")
            fields = _MACROS[macro].split()
        if len(fields) != len(_FIELDS):
            raise CronError(f"expected {len(_FIELDS)} fields, got {len(fields)}")
        minutes, hours, doms, months, dows = (
            _parse_field(field, part) for field, part in zip(_FIELDS, fields, strict=True)
        )
        expression = cls(
            source=source,
            minutes=minutes,
            hours=hours,
            days_of_month=doms,
            months=months,
            days_of_week=dows,
            dom_restricted=not fields[2].startswith("*"),
            dow_restricted=not fields[4].startswith("*"),
        )
        expression._check_satisfiable()
        return expression

    def _check_satisfiable(self) -> None:
        """Raise unless some real day matches.

        With the either-rule every week has a matching day. Otherwise a day must
        be in `days_of_month` and `months`; each such date falls on every weekday
        in some year of the 400-year Gregorian cycle, so it is enough that one of
        the days exists in one of the months.
        """
        if self.dom_restricted and self.dow_restricted:
            return
        if any(day <= _MAX_DAYS[month] for day in self.days_of_month for month in self.months):
            return
        days = sorted(self.days_of_month)
        noun, verb = ("day", "does") if len(days) == 1 else ("days", "do")
        day_text = _english_list([str(day) for day in days], "and")
        month_text = _english_list([calendar.month_name[month] for month in sorted(self.months)])
        raise CronError(f"never matches: {noun} {day_text} {verb} not occur in {month_text}")

    def __str__(self) -> str:
        """Return the expression as written (stripped of surrounding whitespace)."""
        return self.source

    def _day_matches(self, year: int, month: int, day: int) -> bool:
        in_dom = day in self.days_of_month
        # calendar.weekday counts Monday = 0; cron counts Sunday = 0.
        in_dow = (calendar.weekday(year, month, day) + 1) % 7 in self.days_of_week
        if self.dom_restricted and self.dow_restricted:
            return in_dom or in_dow
        return in_dom and in_dow

    def _candidate_days(self, year: int, month: int) -> list[int]:
        """List the days of one month that match, ascending."""
        length = calendar.monthrange(year, month)[1]
        if self.dom_restricted and self.dow_restricted:
            days: list[int] = list(range(1, length + 1))
        else:
            days = [day for day in sorted(self.days_of_month) if day <= length]
        return [day for day in days if self._day_matches(year, month, day)]

    def matches(self, when: datetime) -> bool:
        """Whether the minute containing naive `when` matches (seconds are ignored)."""
        _require_naive(when, "matches")
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.month in self.months
            and self._day_matches(when.year, when.month, when.day)
        )

    def _forward(self, start: datetime, last_year: int) -> Iterator[datetime]:
        """Every match at or after minute `start`, ascending, through the end of `last_year`.

        Months and days that cannot match are skipped whole.
        """
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        for year in range(start.year, last_year + 1):
            for month in sorted(self.months):
                if (year, month) < (start.year, start.month):
                    continue
                for day in self._candidate_days(year, month):
                    if (year, month, day) < (start.year, start.month, start.day):
                        continue
                    on_first_day = (year, month, day) == (start.year, start.month, start.day)
                    for hour in hours:
                        if on_first_day and hour < start.hour:
                            continue
                        for minute in minutes:
                            if on_first_day and (hour, minute) < (start.hour, start.minute):
                                continue
                            yield datetime(year, month, day, hour, minute)

    def _backward(self, end: datetime, first_year: int) -> Iterator[datetime]:
        """Every match at or before minute `end`, descending, back to the start of `first_year`."""
        hours, minutes = sorted(self.hours, reverse=True), sorted(self.minutes, reverse=True)
        for year in range(end.year, first_year - 1, -1):
            for month in sorted(self.months, reverse=True):
                if (year, month) > (end.year, end.month):
                    continue
                for day in reversed(self._candidate_days(year, month)):
                    if (year, month, day) > (end.year, end.month, end.day):
                        continue
                    on_last_day = (year, month, day) == (end.year, end.month, end.day)
                    for hour in hours:
                        if on_last_day and hour > end.hour:
                            continue
                        for minute in minutes:
                            if on_last_day and (hour, minute) > (end.hour, end.minute):
                                continue
                            yield datetime(year, month, day, hour, minute)

    def next_after(self, when: datetime) -> datetime:
        """Return the first matching minute strictly after naive `when` (seconds dropped).

        Raises `CronError` if there is none before the end of the calendar
        (year 9999) or within 400 years, which a parsed expression never hits
        otherwise.
        """
        _require_naive(when, "next_after")
        try:
            start = _floor_minute(when) + _MINUTE
        except OverflowError:  # the last minute of year 9999
            start = None
        if start is not None:
            for found in self._forward(start, min(start.year + _SEARCH_YEARS, MAXYEAR)):
                return found
        raise CronError(f"never matches: no time after {when} matches {self.source!r}")

    def previous_at_or_before(self, when: datetime) -> datetime:
        """Return the last matching minute at or before naive `when` (minute precision).

        Raises `CronError` if there is none after the start of the calendar
        (year 1) or within 400 years.
        """
        _require_naive(when, "previous_at_or_before")
        end = _floor_minute(when)
        for found in self._backward(end, max(end.year - _SEARCH_YEARS, MINYEAR)):
            return found
        raise CronError(f"never matches: no time at or before {when} matches {self.source!r}")

    def iter_between(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Every matching minute in ``[start, end)`` (naive), ascending.

        A `start` with seconds begins at the next whole minute. Lazy: the
        searches skip non-matching days, so wide spans of rare expressions are cheap.
        """
        _require_naive(start, "iter_between")
        _require_naive(end, "iter_between")
        first = _floor_minute(start)
        if first < start:
            try:
                first += _MINUTE
            except OverflowError:  # seconds into the last minute of year 9999
                return
        if first >= end:
            return
        for found in self._forward(first, end.year):
            if found >= end:
                return
            yield found
