"""Cron expressions: parsing, rejections, matching, searches and their properties."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agentmaint.config.cron import CronExpression
from agentmaint.errors import CronError

MINUTE = timedelta(minutes=1)


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def parse(text: str) -> CronExpression:
    return CronExpression.parse(text)


# --- parsing -------------------------------------------------------------------------------

PARSED_FIELDS = [
    ("star-minute", "* * * * *", "minutes", set(range(60))),
    ("star-hour", "* * * * *", "hours", set(range(24))),
    ("star-dom", "* * * * *", "days_of_month", set(range(1, 32))),
    ("star-month", "* * * * *", "months", set(range(1, 13))),
    ("star-dow", "* * * * *", "days_of_week", set(range(7))),
    ("number", "7 * * * *", "minutes", {7}),
    ("leading-zero", "07 * * * *", "minutes", {7}),
    ("range", "10-14 * * * *", "minutes", {10, 11, 12, 13, 14}),
    ("single-value-range", "5-5 * * * *", "minutes", {5}),
    ("star-step", "*/15 * * * *", "minutes", {0, 15, 30, 45}),
    ("star-step-hours", "0 */6 * * *", "hours", {0, 6, 12, 18}),
    ("star-step-dom-starts-at-1", "0 0 */10 * *", "days_of_month", {1, 11, 21, 31}),
    ("star-step-larger-than-span", "*/100 * * * *", "minutes", {0}),
    ("range-step", "0 9-17/2 * * *", "hours", {9, 11, 13, 15, 17}),
    ("start-step-means-to-max", "5/20 * * * *", "minutes", {5, 25, 45}),
    ("start-step-month", "0 0 1 2/3 *", "months", {2, 5, 8, 11}),
    ("list", "1,2,3 * * * *", "minutes", {1, 2, 3}),
    ("mixed-list", "1,5-7,10-20/5 * * * *", "minutes", {1, 5, 6, 7, 10, 15, 20}),
    ("overlapping-list", "1-5,3-7 * * * *", "minutes", set(range(1, 8))),
    ("month-names", "0 0 1 JAN,jul,Dec *", "months", {1, 7, 12}),
    ("month-name-range", "0 0 1 JAN-MAR *", "months", {1, 2, 3}),
    ("month-name-range-step", "0 0 1 jan-dec/3 *", "months", {1, 4, 7, 10}),
    ("month-name-and-number", "0 0 1 2-APR *", "months", {2, 3, 4}),
    ("dow-names", "0 0 * * mon,WED,Fri", "days_of_week", {1, 3, 5}),
    ("dow-name-range", "0 0 * * MON-FRI", "days_of_week", {1, 2, 3, 4, 5}),
    ("dow-sunday-zero", "0 0 * * 0", "days_of_week", {0}),
    ("dow-sunday-seven", "0 0 * * 7", "days_of_week", {0}),
    ("dow-range-to-seven", "0 0 * * 5-7", "days_of_week", {0, 5, 6}),
    ("dow-sun-sat", "0 0 * * SUN-SAT", "days_of_week", set(range(7))),
    ("dow-star-step", "0 0 * * */2", "days_of_week", {0, 2, 4, 6}),
    ("dow-start-step-stops-at-saturday", "0 0 * * 1/2", "days_of_week", {1, 3, 5}),
    ("dow-explicit-range-step-to-seven", "0 0 * * 1-7/2", "days_of_week", {0, 1, 3, 5}),
    ("dow-seven-step", "0 0 * * 7/3", "days_of_week", {0}),
    ("max-values", "59 23 31 12 6", "minutes", {59}),
]


@pytest.mark.parametrize(
    ("text", "attribute", "expected"),
    [case[1:] for case in PARSED_FIELDS],
    ids=[case[0] for case in PARSED_FIELDS],
)
def test_parse_field_values(text: str, attribute: str, expected: set[int]) -> None:
    assert getattr(parse(text), attribute) == frozenset(expected)


RESTRICTION = [
    ("both-star", "* * * * *", False, False),
    ("dom-number", "0 0 1 * *", True, False),
    ("dom-list", "0 0 1,15 * *", True, False),
    ("dom-star-step-is-unrestricted", "0 0 */2 * *", False, False),
    ("dow-number", "0 0 * * 1", False, True),
    ("dow-name-range", "0 0 * * MON-FRI", False, True),
    ("dow-star-step-is-unrestricted", "0 0 * * */2", False, False),
    ("both-restricted", "0 0 1 * MON", True, True),
    ("star-list-is-unrestricted", "0 0 *,5 * *,1", False, False),
]


@pytest.mark.parametrize(
    ("text", "dom", "dow"),
    [case[1:] for case in RESTRICTION],
    ids=[case[0] for case in RESTRICTION],
)
def test_restriction_flags(text: str, dom: bool, dow: bool) -> None:
    expression = parse(text)
    assert (expression.dom_restricted, expression.dow_restricted) == (dom, dow)


MACROS = [
    ("yearly", "@yearly", "0 0 1 1 *"),
    ("annually", "@annually", "0 0 1 1 *"),
    ("monthly", "@monthly", "0 0 1 * *"),
    ("weekly", "@weekly", "0 0 * * 0"),
    ("daily", "@daily", "0 0 * * *"),
    ("midnight", "@midnight", "0 0 * * *"),
    ("hourly", "@hourly", "0 * * * *"),
    ("upper-case", "@DAILY", "0 0 * * *"),
    ("surrounding-space", "  @hourly\n", "0 * * * *"),
]


@pytest.mark.parametrize(
    ("text", "expansion"), [case[1:] for case in MACROS], ids=[case[0] for case in MACROS]
)
def test_macros_expand(text: str, expansion: str) -> None:
    macro, expanded = parse(text), parse(expansion)
    assert macro.source == text.strip()
    assert dataclasses.replace(macro, source=expansion) == expanded


def test_source_is_stripped_text_and_str() -> None:
    expression = parse("  0\t9 * * MON-FRI \n")
    assert expression.source == "0\t9 * * MON-FRI"
    assert str(expression) == "0\t9 * * MON-FRI"
    assert expression.hours == frozenset({9})


def test_expression_is_frozen_and_hashable() -> None:
    expression = parse("0 0 * * *")
    with pytest.raises(dataclasses.FrozenInstanceError):
        expression.source = "x"  # type: ignore[misc]
    assert hash(expression) == hash(parse("0 0 * * *"))
    assert expression == parse("0 0 * * *")


# --- rejections ----------------------------------------------------------------------------

REJECTED = [
    ("empty", "", "expected 5 fields, got 0"),
    ("blank", "   ", "expected 5 fields, got 0"),
    ("four-fields", "1 2 3 4", "expected 5 fields, got 4"),
    ("six-fields", "0 0 * * * *", "expected 5 fields, got 6"),
    ("minute-60", "60 * * * *", "minute: 60 is out of range 0-59"),
    ("hour-24", "0 24 * * *", "hour: 24 is out of range 0-23"),
    ("dom-0", "0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
    ("dom-32", "0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
    ("month-0", "0 0 1 0 *", "month: 0 is out of range 1-12"),
    ("month-13", "0 0 1 13 *", "month: 13 is out of range 1-12"),
    ("dow-8", "0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
    ("out-of-range-in-range", "0 20-25 * * *", "hour: 25 is out of range 0-23"),
    ("out-of-range-in-list", "0 0 1,40 * *", "day-of-month: 40 is out of range 1-31"),
    ("reversed-range", "5-1 * * * *", "minute: range 5-1 is reversed"),
    ("reversed-name-range", "0 0 * * FRI-MON", "day-of-week: range FRI-MON is reversed"),
    ("step-zero", "*/0 * * * *", "minute: step must be a positive integer, got '0'"),
    ("step-zero-range", "0 1-5/0 * * *", "hour: step must be a positive integer, got '0'"),
    ("step-missing", "*/ * * * *", "minute: step must be a positive integer, got ''"),
    ("step-name", "*/MON * * * *", "minute: step must be a positive integer"),
    ("double-step", "1/2/3 * * * *", "minute: step must be a positive integer, got '2/3'"),
    ("empty-list-element", "1,,2 * * * *", "minute: empty list element in '1,,2'"),
    ("trailing-comma", "0 1, * * *", "hour: empty list element in '1,'"),
    ("leading-comma", "0 0 * ,1 *", "month: empty list element in ',1'"),
    ("hash", "0 0 * * 1#2", "day-of-week: invalid character '#'"),
    ("question-mark", "0 0 ? * *", "day-of-month: invalid character '?'"),
    ("last-day-l", "0 0 L * *", "day-of-month: 'L' is not a number"),
    ("negative", "-1 * * * *", "minute: missing number in '-1'"),
    ("open-range", "0 0 * * MON-", "day-of-week: missing number in 'MON-'"),
    ("bare-step", "/5 * * * *", "minute: missing number in '/5'"),
    ("double-range", "1-2-3 * * * *", "minute: '1-2-3' is not a range"),
    ("star-glued", "1* * * * *", "minute: '1*' is not a number"),
    ("star-range", "*-5 * * * *", "minute: '*' is not a number"),
    ("unicode-digit", "\u0661 * * * *", "minute: invalid character"),
    ("decimal", "1.5 * * * *", "minute: invalid character '.'"),
    ("name-in-minute", "MON * * * *", "minute: 'MON' is not a number"),
    ("unknown-dow-name", "0 0 * * FOO", "day-of-week: unknown name 'FOO'"),
    ("full-dow-name", "0 0 * * Monday", "day-of-week: unknown name 'Monday'"),
    ("unknown-month-name", "0 0 1 jan-foo *", "month: unknown name 'foo'"),
    ("dow-name-in-month", "0 0 1 MON *", "month: unknown name 'MON'"),
    ("month-name-in-dow", "0 0 * * JAN", "day-of-week: unknown name 'JAN'"),
    ("unknown-macro", "@reboot", "unknown macro '@reboot'"),
    ("macro-with-fields", "@daily 0", "@daily takes no fields"),
    ("feb-30", "0 0 30 2 *", "never matches: day 30 does not occur in February"),
    ("feb-30-31", "0 0 30,31 2 *", "never matches: days 30 and 31 do not occur in February"),
    (
        "day-31-short-months",
        "0 0 31 4,6,9,11 *",
        "never matches: day 31 does not occur in April, June, September or November",
    ),
    ("feb-30-and-star-step-dow", "0 0 30 2 */2", "never matches: day 30 does not occur"),
]


@pytest.mark.parametrize(
    ("text", "fragment"), [case[1:] for case in REJECTED], ids=[case[0] for case in REJECTED]
)
def test_rejections(text: str, fragment: str) -> None:
    with pytest.raises(CronError) as caught:
        parse(text)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


ACCEPTED_EDGE_CASES = [
    ("feb-29-leap-years", "0 0 29 2 *"),
    ("feb-29-plus-short-month", "0 0 31 2,3 *"),
    ("feb-30-with-dow-or-rule", "0 0 30 2 MON"),
    ("day-31-in-april-or-sunday", "0 0 31 4 7"),
    ("feb-29-on-sundays-only", "0 0 29 2 */7"),
]


@pytest.mark.parametrize(
    "text", [case[1] for case in ACCEPTED_EDGE_CASES], ids=[case[0] for case in ACCEPTED_EDGE_CASES]
)
def test_rarely_matching_expressions_are_accepted(text: str) -> None:
    expression = parse(text)
    found = expression.next_after(dt("2026-01-01T00:00"))
    assert expression.matches(found)


# --- matching ------------------------------------------------------------------------------

MATCHES = [
    ("exact", "30 10 * * *", "2026-05-04T10:30", True),
    ("seconds-ignored", "30 10 * * *", "2026-05-04T10:30:59.999999", True),
    ("wrong-minute", "30 10 * * *", "2026-05-04T10:31", False),
    ("wrong-hour", "30 10 * * *", "2026-05-04T11:30", False),
    ("wrong-month", "0 0 * JAN *", "2026-02-01T00:00", False),
    ("weekday-monday", "0 9 * * MON-FRI", "2026-05-04T09:00", True),
    ("weekday-saturday", "0 9 * * MON-FRI", "2026-05-09T09:00", False),
    ("sunday-as-7", "0 0 * * 7", "2026-03-01T00:00", True),
    ("sunday-as-0", "0 0 * * 0", "2026-03-01T00:00", True),
    ("leap-day", "0 0 29 2 *", "2028-02-29T00:00", True),
    # Vixie: both day fields restricted -> either matches.
    ("or-rule-friday-not-13th", "0 0 13 * FRI", "2026-05-08T00:00", True),
    ("or-rule-13th-not-friday", "0 0 13 * FRI", "2026-05-13T00:00", True),
    ("or-rule-friday-13th", "0 0 13 * FRI", "2026-03-13T00:00", True),
    ("or-rule-neither", "0 0 13 * FRI", "2026-05-12T00:00", False),
    ("or-rule-first-week-gotcha", "0 0 1-7 * MON", "2026-05-25T00:00", True),
    ("or-rule-still-needs-month", "0 0 13 JAN FRI", "2026-05-08T00:00", False),
    # Only one day field restricted -> both must match ("*" matches every day).
    ("dom-only", "0 0 13 * *", "2026-05-08T00:00", False),
    ("dow-only", "0 0 * * FRI", "2026-05-13T00:00", False),
    # A star-prefixed field counts as unrestricted even with a step -> both must match.
    ("and-rule-star-step-dom-both", "0 0 */2 * FRI", "2026-05-15T00:00", True),
    ("and-rule-star-step-dom-even-friday", "0 0 */2 * FRI", "2026-05-08T00:00", False),
    ("and-rule-star-step-dom-odd-wednesday", "0 0 */2 * FRI", "2026-05-13T00:00", False),
    ("and-rule-star-step-dow", "0 0 13 * */7", "2026-05-13T00:00", False),
    ("and-rule-star-step-dow-both", "0 0 13 * */7", "2026-09-13T00:00", True),
]


@pytest.mark.parametrize(
    ("text", "when", "expected"), [case[1:] for case in MATCHES], ids=[case[0] for case in MATCHES]
)
def test_matches(text: str, when: str, expected: bool) -> None:
    assert parse(text).matches(dt(when)) is expected


# --- searches ------------------------------------------------------------------------------

NEXT_AFTER = [
    ("every-minute", "* * * * *", "2026-05-04T10:20", "2026-05-04T10:21"),
    ("seconds-dropped", "* * * * *", "2026-05-04T10:20:30", "2026-05-04T10:21"),
    ("strictly-after-a-match", "30 10 * * *", "2026-05-04T10:30", "2026-05-05T10:30"),
    ("seconds-into-a-match", "30 10 * * *", "2026-05-04T10:30:59", "2026-05-05T10:30"),
    ("later-same-hour", "45 10 * * *", "2026-05-04T10:30", "2026-05-04T10:45"),
    ("quarter-hours", "*/15 * * * *", "2026-05-04T10:44:59", "2026-05-04T10:45"),
    ("hour-boundary", "0 * * * *", "2026-05-04T10:59", "2026-05-04T11:00"),
    ("day-boundary", "15 0 * * *", "2026-05-04T23:59", "2026-05-05T00:15"),
    ("hour-steps-wrap-day", "0 */6 * * *", "2026-05-04T18:00", "2026-05-05T00:00"),
    ("month-boundary", "0 12 * * *", "2026-04-30T12:00", "2026-05-01T12:00"),
    ("day-31-skips-april", "0 0 31 * *", "2026-04-01T00:00", "2026-05-31T00:00"),
    ("year-boundary", "0 0 1 1 *", "2026-12-31T23:59", "2027-01-01T00:00"),
    ("yearly-from-its-match", "@yearly", "2027-01-01T00:00", "2028-01-01T00:00"),
    ("last-minute-of-year", "59 23 31 12 *", "2026-12-31T23:58:59", "2026-12-31T23:59"),
    ("february-only-next-year", "0 0 * 2 *", "2027-02-28T00:00", "2028-02-01T00:00"),
    ("leap-day-instantly", "0 0 29 2 *", "2027-03-01T00:00", "2028-02-29T00:00"),
    ("feb-28-then-29-in-leap-year", "0 0 28,29 2 *", "2028-02-28T00:00", "2028-02-29T00:00"),
    ("feb-28-then-next-year-otherwise", "0 0 28,29 2 *", "2027-02-28T00:00", "2028-02-28T00:00"),
    ("leap-day-skips-2100", "0 0 29 2 *", "2096-03-01T00:00", "2104-02-29T00:00"),
    ("leap-day-2000-is-leap", "0 0 29 2 *", "1996-03-01T00:00", "2000-02-29T00:00"),
    ("weekdays-friday-to-monday", "0 9 * * MON-FRI", "2026-05-08T09:00", "2026-05-11T09:00"),
    ("weekly-sunday", "@weekly", "2026-03-01T00:00", "2026-03-08T00:00"),
    ("sunday-as-7", "0 0 * * 7", "2026-03-01T00:00", "2026-03-08T00:00"),
    ("month-names", "0 0 1 JAN,JUL *", "2026-07-01T00:00", "2027-01-01T00:00"),
    ("or-rule-friday-first", "0 0 13 * FRI", "2026-05-04T00:00", "2026-05-08T00:00"),
    ("or-rule-13th-first", "0 0 13 * FRI", "2026-05-08T00:00", "2026-05-13T00:00"),
    ("and-rule-sunday-13th", "0 0 13 * */7", "2026-05-01T00:00", "2026-09-13T00:00"),
    ("feb-1-monday-11-years", "0 0 */31 2 1", "2027-03-01T00:00", "2038-02-01T00:00"),
    ("leap-sunday-28-years", "0 0 29 2 */7", "2004-03-01T00:00", "2032-02-29T00:00"),
    ("leap-sunday-40-years-over-2100", "0 0 29 2 */7", "2090-01-01T00:00", "2128-02-29T00:00"),
    ("end-of-calendar", "* * * * *", "9999-12-31T23:58", "9999-12-31T23:59"),
]


@pytest.mark.parametrize(
    ("text", "when", "expected"),
    [case[1:] for case in NEXT_AFTER],
    ids=[case[0] for case in NEXT_AFTER],
)
def test_next_after(text: str, when: str, expected: str) -> None:
    found = parse(text).next_after(dt(when))
    assert found == dt(expected)
    assert found.tzinfo is None


PREVIOUS = [
    ("exact-match-included", "30 10 * * *", "2026-05-04T10:30", "2026-05-04T10:30"),
    ("seconds-into-a-match", "30 10 * * *", "2026-05-04T10:30:45", "2026-05-04T10:30"),
    ("minute-before-a-match", "30 10 * * *", "2026-05-04T10:29:59", "2026-05-03T10:30"),
    ("hour-boundary", "59 * * * *", "2026-05-04T10:00", "2026-05-04T09:59"),
    ("day-boundary", "0 12 * * *", "2026-05-01T11:59", "2026-04-30T12:00"),
    ("day-31-skips-back", "0 0 31 * *", "2026-05-30T00:00", "2026-03-31T00:00"),
    ("year-boundary", "0 0 1 1 *", "2026-12-31T23:59", "2026-01-01T00:00"),
    ("year-boundary-back", "59 23 31 12 *", "2027-01-01T00:00", "2026-12-31T23:59"),
    ("leap-day", "0 0 29 2 *", "2028-02-28T23:59", "2024-02-29T00:00"),
    ("leap-day-skips-2100", "0 0 29 2 *", "2104-02-28T00:00", "2096-02-29T00:00"),
    ("weekdays-monday-to-friday", "0 9 * * MON-FRI", "2026-05-11T08:59", "2026-05-08T09:00"),
    ("or-rule", "0 0 13 * FRI", "2026-05-12T00:00", "2026-05-08T00:00"),
    ("leap-sunday-40-years-over-2100", "0 0 29 2 */7", "2127-12-31T00:00", "2088-02-29T00:00"),
    ("start-of-calendar", "0 0 1 1 *", "0001-01-01T00:00", "0001-01-01T00:00"),
]


@pytest.mark.parametrize(
    ("text", "when", "expected"),
    [case[1:] for case in PREVIOUS],
    ids=[case[0] for case in PREVIOUS],
)
def test_previous_at_or_before(text: str, when: str, expected: str) -> None:
    assert parse(text).previous_at_or_before(dt(when)) == dt(expected)


def test_next_after_end_of_calendar_raises() -> None:
    with pytest.raises(CronError, match="no time after"):
        parse("* * * * *").next_after(dt("9999-12-31T23:59:30"))
    with pytest.raises(CronError, match="no time after"):
        parse("0 0 1 1 *").next_after(dt("9999-06-01T00:00"))


def test_previous_before_start_of_calendar_raises() -> None:
    with pytest.raises(CronError, match="no time at or before"):
        parse("0 0 2 1 *").previous_at_or_before(dt("0001-01-01T05:00"))


def test_unsatisfiable_hand_built_expression_raises_instead_of_looping() -> None:
    # parse() refuses this; a hand-built instance must still terminate.
    never = dataclasses.replace(parse("0 0 30 1 *"), months=frozenset({2}))
    with pytest.raises(CronError, match="never matches"):
        never.next_after(dt("2026-01-01T00:00"))
    with pytest.raises(CronError, match="never matches"):
        never.previous_at_or_before(dt("2026-01-01T00:00"))


@pytest.mark.parametrize("method", ["matches", "next_after", "previous_at_or_before"])
def test_aware_datetimes_are_refused(method: str) -> None:
    with pytest.raises(ValueError, match="naive"):
        getattr(parse("* * * * *"), method)(datetime(2026, 1, 1, tzinfo=UTC))


def test_iter_between_refuses_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        list(parse("* * * * *").iter_between(datetime(2026, 1, 1, tzinfo=UTC), dt("2026-01-02")))


# --- iter_between --------------------------------------------------------------------------

ITER_COUNTS = [
    ("quarter-hours-in-a-day", "*/15 * * * *", "2026-05-04T00:00", "2026-05-05T00:00", 96),
    ("minutes-in-an-hour", "* * * * *", "2026-05-04T10:00", "2026-05-04T11:00", 60),
    ("minutes-in-a-year", "* * * * *", "2026-01-01T00:00", "2027-01-01T00:00", 525_600),
    ("hours-in-a-day", "@hourly", "2026-05-04T00:00", "2026-05-05T00:00", 24),
    ("end-is-exclusive", "0 * * * *", "2026-05-04T10:00", "2026-05-04T11:00", 1),
    ("start-seconds-rounds-up", "* * * * *", "2026-05-04T10:00:30", "2026-05-04T10:05", 4),
    ("end-seconds-includes-minute", "* * * * *", "2026-05-04T10:00", "2026-05-04T10:05:01", 6),
    ("empty-span", "* * * * *", "2026-05-04T10:00", "2026-05-04T10:00", 0),
    ("reversed-span", "* * * * *", "2026-05-04T11:00", "2026-05-04T10:00", 0),
    ("weekdays-in-a-week", "0 9 * * MON-FRI", "2026-05-04T00:00", "2026-05-11T00:00", 5),
    ("days-in-2026", "@daily", "2026-01-01T00:00", "2027-01-01T00:00", 365),
    ("days-in-leap-2028", "@daily", "2028-01-01T00:00", "2029-01-01T00:00", 366),
    ("leap-days-in-a-century", "0 0 29 2 *", "2000-01-01T00:00", "2100-01-01T00:00", 25),
    ("no-leap-day-2100", "0 0 29 2 *", "2097-01-01T00:00", "2104-01-01T00:00", 0),
    ("or-rule-firsts-and-mondays", "0 0 1 * MON", "2026-01-01T00:00", "2027-01-01T00:00", 63),
    ("or-rule-first-week-gotcha", "0 0 1-7 * MON", "2026-01-01T00:00", "2027-01-01T00:00", 124),
    ("and-rule-sunday-13th", "0 0 13 * */7", "2026-01-01T00:00", "2027-01-01T00:00", 2),
    ("or-rule-13ths-and-fridays", "0 0 13 * 5", "2026-01-01T00:00", "2027-01-01T00:00", 61),
    ("monthly-across-years", "@monthly", "2025-11-15T00:00", "2027-02-01T00:00", 14),
]


@pytest.mark.parametrize(
    ("text", "start", "end", "count"),
    [case[1:] for case in ITER_COUNTS],
    ids=[case[0] for case in ITER_COUNTS],
)
def test_iter_between_counts(text: str, start: str, end: str, count: int) -> None:
    expression = parse(text)
    found = list(expression.iter_between(dt(start), dt(end)))
    assert len(found) == count
    assert found == sorted(set(found))
    assert all(dt(start) <= when < dt(end) and expression.matches(when) for when in found)


def test_iter_between_values() -> None:
    found = list(parse("0 9-17/4 * * SAT,SUN").iter_between(dt("2026-05-08"), dt("2026-05-11")))
    assert found == [
        dt("2026-05-09T09:00"),
        dt("2026-05-09T13:00"),
        dt("2026-05-09T17:00"),
        dt("2026-05-10T09:00"),
        dt("2026-05-10T13:00"),
        dt("2026-05-10T17:00"),
    ]


def test_iter_between_is_lazy() -> None:
    iterator = parse("* * * * *").iter_between(dt("2026-01-01"), dt("9999-01-01"))
    assert [next(iterator) for _ in range(3)] == [
        dt("2026-01-01T00:00"),
        dt("2026-01-01T00:01"),
        dt("2026-01-01T00:02"),
    ]


# --- properties ----------------------------------------------------------------------------

# (low, high, star_high, names) per field, as in crontab(5).
FIELD_RANGES = [
    (0, 59, 59, ()),
    (0, 23, 23, ()),
    (1, 31, 31, ()),
    (
        1,
        12,
        12,
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"),
    ),
    (0, 7, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
]


@st.composite
def field_element(draw: st.DrawFn, index: int) -> str:
    low, high, star_high, names = FIELD_RANGES[index]
    offset = 1 if index == 3 else 0

    def value(number: int) -> str:
        if names and number - offset < len(names) and draw(st.booleans()):
            return (
                str(names[number - offset]).lower()
                if draw(st.booleans())
                else names[number - offset]
            )
        return str(number)

    step = draw(st.integers(1, star_high - low + 2))
    first = draw(st.integers(low, high))
    last = draw(st.integers(first, high))
    kind = draw(
        st.sampled_from(["star", "star-step", "value", "range", "range-step", "start-step"])
    )
    if kind == "star":
        return "*"
    if kind == "star-step":
        return f"*/{step}"
    if kind == "value":
        return value(first)
    if kind == "range":
        return f"{value(first)}-{value(last)}"
    if kind == "range-step":
        return f"{value(first)}-{value(last)}/{step}"
    return f"{first}/{step}"


@st.composite
def field_text(draw: st.DrawFn, index: int) -> str:
    return ",".join(draw(st.lists(field_element(index), min_size=1, max_size=3)))


@st.composite
def expressions(draw: st.DrawFn) -> CronExpression:
    text = " ".join(draw(field_text(index)) for index in range(5))
    try:
        return parse(text)
    except CronError as error:
        assert str(error).startswith("never matches"), text
        assume(False)
        raise  # unreachable: assume(False) aborts the example


@st.composite
def frequent_expressions(draw: st.DrawFn) -> CronExpression:
    """Matches at least once a week: any minutes, hours and days of the week, every day/month."""
    minute, hour, dow = draw(field_text(0)), draw(field_text(1)), draw(field_text(4))
    return parse(f"{minute} {hour} * * {dow}")


moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2300, 1, 1))
BRUTE_FORCE_SPAN = timedelta(days=8)


def assert_no_match_strictly_between(
    expression: CronExpression, low: datetime, high: datetime
) -> None:
    minute = low.replace(second=0, microsecond=0) + MINUTE
    while minute < high:
        assert not expression.matches(minute), minute
        minute += MINUTE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(expression=expressions(), when=moments)
def test_searches_agree_with_matches(expression: CronExpression, when: datetime) -> None:
    after = expression.next_after(when)
    assert expression.matches(after)
    assert after > when
    assert after.second == after.microsecond == 0
    assert expression.previous_at_or_before(after) == after

    before = expression.previous_at_or_before(when)
    assert expression.matches(before)
    assert before <= when
    assert before.second == before.microsecond == 0
    # Nothing matches in (before, when], so both searches agree on the gap around `when`.
    assert expression.next_after(before) == after
    assert list(expression.iter_between(before, after + MINUTE)) == [before, after]

    if after - when <= BRUTE_FORCE_SPAN:
        assert_no_match_strictly_between(expression, when, after)
    if when - before <= BRUTE_FORCE_SPAN:
        assert_no_match_strictly_between(
            expression, before, when.replace(second=0, microsecond=0) + MINUTE
        )


@settings(max_examples=100, deadline=None)
@given(expression=frequent_expressions(), when=moments)
def test_next_after_brute_force_for_frequent_expressions(
    expression: CronExpression, when: datetime
) -> None:
    after = expression.next_after(when)
    assert when < after <= when + timedelta(days=7)
    assert expression.matches(after)
    assert_no_match_strictly_between(expression, when, after)


@settings(max_examples=50, deadline=None)
@given(expression=frequent_expressions(), day=st.dates(min_value=date(1970, 1, 1)))
def test_iter_between_equals_brute_force_over_a_day(expression: CronExpression, day: date) -> None:
    start = datetime.combine(day, time())
    minutes = [start + MINUTE * index for index in range(24 * 60)]
    expected = [minute for minute in minutes if expression.matches(minute)]
    assert list(expression.iter_between(start, start + timedelta(days=1))) == expected
