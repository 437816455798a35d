"""Window rules as systemd calendar events: fields, cron's day rule, DST gaps, poll ticks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agentmaint.config.cron import CronExpression
from agentmaint.config.schedule import UpdateSchedule
from agentmaint.errors import UsageError
from agentmaint.planning.calendar import CalendarEvent, window_calendar
from agentmaint.planning.dst import largest_shift, spring_forward_gaps
from agentmaint.planning.windows import upcoming_windows

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
UTC_ZONE = ZoneInfo("UTC")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def days(
    at: str, on: set[int], zone: ZoneInfo = UTC_ZONE, hours: float = 1, cutoff: int = 0
) -> UpdateSchedule:
    hour, minute = map(int, at.split(":"))
    return UpdateSchedule(
        timezone=zone,
        duration=timedelta(hours=hours),
        cutoff=timedelta(minutes=cutoff),
        days=frozenset(on),
        at_time=time(hour, minute),
    )


def cron(expression: str, zone: ZoneInfo = UTC_ZONE, hours: float = 1) -> UpdateSchedule:
    return UpdateSchedule(
        timezone=zone, duration=timedelta(hours=hours), cron=CronExpression.parse(expression)
    )


def specs(schedule: UpdateSchedule, **kwargs: object) -> list[str]:
    calendar = window_calendar(schedule, from_year=2026, **kwargs)  # type: ignore[arg-type]
    return [event.systemd() for event in calendar.window_events]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (days("01:00", {MON}), ["Mon *-*-* 01:00:00 UTC"]),
        (days("23:30", set(range(7))), ["*-*-* 23:30:00 UTC"]),
        (days("02:05", {MON, TUE, WED, FRI}), ["Mon..Wed,Fri *-*-* 02:05:00 UTC"]),
        (cron("*/15 2 * * *"), ["*-*-* 02:00/15:00 UTC"]),
        (cron("0 1-5 * * 1-5"), ["Mon..Fri *-*-* 01..05:00:00 UTC"]),
        (cron("0,30 3,9 * 1,7 *"), ["*-01,07-* 03,09:00,30:00 UTC"]),
        (cron("5 4 */2 * *"), ["*-*-01/2 04:05:00 UTC"]),
        (cron("0 0 * * 7"), ["Sun *-*-* 00:00:00 UTC"]),
        (cron("@monthly"), ["*-*-01 00:00:00 UTC"]),
        # Vixie's day rule: "*/2" is unrestricted, so odd days AND Sundays (one event).
        (cron("30 1 */2 * SUN"), ["Sun *-*-01/2 01:30:00 UTC"]),
        # Both restricted: the 1st OR a Monday, as two events.
        (cron("0 0 1 * MON"), ["*-*-01 00:00:00 UTC", "Mon *-*-* 00:00:00 UTC"]),
    ],
)
def test_rules_translate_exactly(schedule: UpdateSchedule, expected: list[str]) -> None:
    assert specs(schedule) == expected


@pytest.mark.parametrize(
    "expression", ["*/7 */5 */3 */2 *", "0 0 1 * MON", "15 2 1,15 JAN-MAR 0", "30 1 */2 * SUN"]
)
def test_cron_events_match_the_same_minutes(expression: str) -> None:
    """Over a year of minutes (hour granularity), the events match exactly cron's matches."""
    schedule = cron(expression)
    calendar = window_calendar(schedule, from_year=2026)
    assert schedule.cron is not None
    when = datetime(2026, 1, 1)
    while when < datetime(2027, 1, 1):
        fired = any(
            event.matches_date(when.date()) and when.hour * 60 + when.minute in event.times_of_day()
            for event in calendar.window_events
        )
        assert fired == schedule.cron.matches(when), when
        when += timedelta(minutes=7 if when.minute < 50 else 1)


def test_spring_forward_gaps_of_three_zones() -> None:
    berlin = spring_forward_gaps(BERLIN, 2027, 1)
    assert [(g.start, g.shift) for g in berlin] == [(datetime(2027, 3, 28, 2), timedelta(hours=1))]
    new_york = spring_forward_gaps(NEW_YORK, 2027, 1)
    assert [g.start for g in new_york] == [datetime(2027, 3, 14, 2)]
    lord_howe = spring_forward_gaps(LORD_HOWE, 2027, 1)
    assert [(g.start, g.end) for g in lord_howe] == [
        (datetime(2027, 10, 3, 2), datetime(2027, 10, 3, 2, 30))
    ]
    assert largest_shift(LORD_HOWE, 2027, 1) == timedelta(minutes=30)
    assert largest_shift(UTC_ZONE, 2027, 5) == timedelta(0)
    assert spring_forward_gaps(UTC_ZONE, 2027, 5) == ()


@pytest.mark.parametrize(
    ("schedule", "moved"),
    [
        (days("02:30", {SUN}, BERLIN), ["Sun *-03-25..31 03:30:00 Europe/Berlin"]),
        (days("02:30", {WED}, BERLIN), []),  # the gap is on a Sunday
        (days("01:30", {SUN}, BERLIN), []),  # before the gap
        (days("02:00", {SUN}, NEW_YORK), ["Sun *-03-08..14 03:00:00 America/New_York"]),
        (days("02:15", {SUN}, LORD_HOWE), ["Sun *-10-01..07 02:45:00 Australia/Lord_Howe"]),
        (days("02:30", {SUN}, LORD_HOWE), []),  # the gap ends at 02:30
        # The 1st of the month is a gap day only when it is the first Sunday of October.
        (cron("15 2 1 * *", LORD_HOWE), ["Sun *-10-01 02:45:00 Australia/Lord_Howe"]),
        (cron("15 2 2-31 3,4,5 *", LORD_HOWE), []),
        (
            cron("*/20 2 * * *", BERLIN),
            ["Sun *-03-25..31 03:00/20:00 Europe/Berlin"],
        ),
    ],
)
def test_starts_in_a_gap_move_past_it(schedule: UpdateSchedule, moved: list[str]) -> None:
    calendar = window_calendar(schedule, from_year=2026)
    assert [event.systemd() for event in calendar.moved_starts] == moved


def test_moved_starts_are_where_the_windows_open() -> None:
    schedule = days("02:30", {SUN}, BERLIN)
    calendar = window_calendar(schedule, from_year=2026)
    (event,) = calendar.moved_starts
    windows = upcoming_windows(schedule, datetime(2027, 3, 27, tzinfo=UTC), 1)
    opens = windows[0].local_start
    assert (opens.month, opens.day, opens.hour, opens.minute) == (3, 28, 3, 30)
    assert event.matches_date(opens.date())
    assert opens.hour * 60 + opens.minute in event.times_of_day()


def test_poll_ticks_stay_inside_the_window() -> None:
    # UTC: no clock changes, so ticks run from one poll after the start to the last start.
    calendar = window_calendar(
        days("01:00", {MON}, hours=2, cutoff=30), from_year=2026, poll=timedelta(minutes=30)
    )
    assert [e.systemd() for e in calendar.ticks] == [
        "Mon *-*-* 01:30:00 UTC",
        "Mon *-*-* 02:00:00 UTC",
    ]
    assert calendar.notes == ()


def test_poll_ticks_keep_the_clock_shift_away_from_both_ends() -> None:
    # Berlin 02:30 can start in the gap: ticks from 1h after the start to 1h before the end.
    calendar = window_calendar(
        days("02:30", {SUN}, BERLIN, hours=3), from_year=2026, poll=timedelta(minutes=30)
    )
    assert [e.systemd() for e in calendar.ticks] == [
        "Sun *-*-* 03:30:00 Europe/Berlin",
        "Sun *-*-* 04:00:00 Europe/Berlin",
    ]
    # 01:00 never starts in a gap: ticks from the first poll on.
    calendar = window_calendar(
        days("01:00", {SUN}, BERLIN, hours=2), from_year=2026, poll=timedelta(minutes=30)
    )
    assert [e.systemd() for e in calendar.ticks] == ["Sun *-*-* 01:30:00 Europe/Berlin"]


def test_poll_ticks_past_midnight_shift_the_weekday() -> None:
    calendar = window_calendar(
        days("23:00", {SUN}, hours=3), from_year=2026, poll=timedelta(hours=1)
    )
    assert [e.systemd() for e in calendar.ticks] == ["Mon *-*-* 00,01:00:00 UTC"]


def test_poll_ticks_past_midnight_of_a_day_of_month_are_left_out_with_a_note() -> None:
    calendar = window_calendar(cron("0 23 1 * *", hours=3), from_year=2026, poll=timedelta(hours=1))
    assert [e.systemd() for e in calendar.ticks] == []
    assert len(calendar.notes) == 1
    assert "month's end" in calendar.notes[0]


def test_no_ticks_fit_in_a_short_window_says_so() -> None:
    calendar = window_calendar(
        days("02:30", {SUN}, BERLIN, hours=2), from_year=2026, poll=timedelta(minutes=30)
    )
    assert calendar.ticks == ()
    assert "no poll ticks" in calendar.notes[0]


@pytest.mark.parametrize("poll", [timedelta(seconds=30), timedelta(seconds=90)])
def test_poll_must_be_whole_minutes(poll: timedelta) -> None:
    with pytest.raises(UsageError, match="whole number of minutes"):
        window_calendar(days("01:00", {MON}), from_year=2026, poll=poll)


def test_poll_too_dense_is_refused() -> None:
    with pytest.raises(UsageError, match="ticks"):
        window_calendar(cron("* * * * *", hours=100), from_year=2026, poll=timedelta(minutes=1))


def test_cron_fields_of_an_event() -> None:
    event = CalendarEvent("UTC", frozenset({2}), frozenset({0, 30}), weekdays=frozenset({SUN, MON}))
    assert event.cron() == "0,30 2 * * 0,1"
    both = CalendarEvent(
        "UTC", frozenset({2}), frozenset({0}), frozenset({SUN}), days=frozenset({1})
    )
    with pytest.raises(UsageError, match="either"):
        both.cron()
