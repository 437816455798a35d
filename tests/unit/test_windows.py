"""Windows in absolute time: midnight, DST (also 30-minute and 2-hour changes), cron, cutoff."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from agentmaint.config.cron import CronExpression
from agentmaint.config.schedule import UpdateSchedule
from agentmaint.planning.windows import next_window_after, open_window, upcoming_windows

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
ALL_DAYS = frozenset(range(7))


def days(
    when: str,
    on: frozenset[int] | set[int] = ALL_DAYS,
    zone: ZoneInfo = UTC_ZONE,
    duration: str = "1h",
    cutoff: str = "0m",
) -> UpdateSchedule:
    hour, minute = map(int, when.split(":"))
    return UpdateSchedule(
        timezone=zone,
        duration=_td(duration),
        cutoff=_td(cutoff),
        days=frozenset(on),
        at_time=time(hour, minute),
    )


def cron(expr: str, zone: ZoneInfo = UTC_ZONE, duration: str = "1h") -> UpdateSchedule:
    return UpdateSchedule(timezone=zone, duration=_td(duration), cron=CronExpression.parse(expr))


def _td(text: str) -> timedelta:
    unit = {"h": "hours", "m": "minutes"}[text[-1]]
    return timedelta(**{unit: int(text[:-1])})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (id, schedule, instant (UTC), expected window start in UTC or None)
OPEN_CASES = [
    ("seed-monday-0130", days("01:00", {MON}), "2026-11-23T01:30", "2026-11-23T01:00"),
    ("seed-monday-start-inclusive", days("01:00", {MON}), "2026-11-23T01:00", "2026-11-23T01:00"),
    ("seed-monday-end-exclusive", days("01:00", {MON}), "2026-11-23T02:00", None),
    ("seed-tuesday-closed", days("01:00", {MON}), "2026-11-24T01:30", None),
    ("seed-wednesday-0330", days("03:00", {WED}), "2026-11-25T03:30", "2026-11-25T03:00"),
    ("midnight-2330-open-at-0015", days("23:30", {MON}), "2026-11-24T00:15", "2026-11-23T23:30"),
    ("midnight-2330-before", days("23:30", {MON}), "2026-11-23T23:29", None),
    ("midnight-2330-closed-0030", days("23:30", {MON}), "2026-11-24T00:30", None),
    ("midnight-sunday-to-monday", days("23:30", {SUN}), "2026-11-23T00:10", "2026-11-22T23:30"),
    ("day-list-thursday", days("02:00", {MON, THU}), "2026-11-26T02:59", "2026-11-26T02:00"),
    ("day-list-wednesday", days("02:00", {MON, THU}), "2026-11-25T02:30", None),
    (
        "long-window-spans-day",
        days("22:00", {FRI}, duration="30h"),
        "2026-11-22T03:00",
        "2026-11-20T22:00",
    ),
    # Europe/Berlin spring forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist
    # and is read with the pre-gap offset, i.e. 02:30 CET = 01:30 UTC = 03:30 CEST.
    (
        "berlin-spring-gap-open",
        days("02:30", {SUN}, BERLIN),
        "2026-03-29T01:45",
        "2026-03-29T01:30",
    ),
    ("berlin-spring-gap-not-early", days("02:30", {SUN}, BERLIN), "2026-03-29T00:45", None),
    (
        "berlin-spring-normal-day-after",
        days("02:30", ALL_DAYS, BERLIN),
        "2026-03-30T00:45",
        "2026-03-30T00:30",
    ),
    # Europe/Berlin fall back 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 happens twice; the
    # window opens once, at the first (CEST, 00:30 UTC), and lasts 1h of elapsed time.
    (
        "berlin-fall-first-occurrence",
        days("02:30", {SUN}, BERLIN),
        "2026-10-25T00:30",
        "2026-10-25T00:30",
    ),
    (
        "berlin-fall-elapsed-hour",
        days("02:30", {SUN}, BERLIN),
        "2026-10-25T01:15",
        "2026-10-25T00:30",
    ),
    ("berlin-fall-no-second-window", days("02:30", {SUN}, BERLIN), "2026-10-25T01:45", None),
    ("berlin-winter-offset", days("03:00", {WED}, BERLIN), "2026-11-25T02:30", "2026-11-25T02:00"),
    ("berlin-summer-offset", days("03:00", {WED}, BERLIN), "2026-07-01T01:30", "2026-07-01T01:00"),
    # America/New_York spring forward 2026-03-08 02:00 EST -> 03:00 EDT.
    ("ny-spring-gap", days("02:30", ALL_DAYS, NEW_YORK), "2026-03-08T07:40", "2026-03-08T07:30"),
    ("ny-spring-gap-not-early", days("02:30", ALL_DAYS, NEW_YORK), "2026-03-08T07:20", None),
    # America/New_York fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 EDT first.
    ("ny-fall-first", days("01:30", ALL_DAYS, NEW_YORK), "2026-11-01T05:45", "2026-11-01T05:30"),
    ("ny-fall-no-second", days("01:30", ALL_DAYS, NEW_YORK), "2026-11-01T06:40", None),
    (
        "ny-window-across-change",
        days("00:30", ALL_DAYS, NEW_YORK, duration="2h"),
        "2026-11-01T06:20",
        "2026-11-01T04:30",
    ),
    ("cron-wednesday-berlin", cron("0 3 * * WED", BERLIN), "2026-11-25T02:10", "2026-11-25T02:00"),
    ("cron-closed", cron("0 3 * * WED", BERLIN), "2026-11-25T03:00", None),
    (
        "cron-midnight-crossing",
        cron("45 23 * * *", duration="1h"),
        "2026-11-24T00:30",
        "2026-11-23T23:45",
    ),
    (
        "cron-overlapping-latest",
        cron("*/20 * * * *", duration="1h"),
        "2026-11-23T10:50",
        "2026-11-23T10:40",
    ),
    ("cron-spring-gap-berlin", cron("30 2 * * *", BERLIN), "2026-03-29T01:45", "2026-03-29T01:30"),
    ("cron-fall-once-berlin", cron("30 2 * * *", BERLIN), "2026-10-25T01:45", None),
    ("cron-last-day-feb", cron("0 4 28 2 *"), "2027-02-28T04:59", "2027-02-28T04:00"),
]


@pytest.mark.parametrize(
    ("schedule", "instant", "expected"), [c[1:] for c in OPEN_CASES], ids=[c[0] for c in OPEN_CASES]
)
def test_open_window(schedule: UpdateSchedule, instant: str, expected: str | None) -> None:
    window = open_window(schedule, utc(instant))
    if expected is None:
        assert window is None
    else:
        assert window is not None
        assert window.start == utc(expected)
        assert window.end - window.start == schedule.duration
        assert window.timezone == schedule.timezone


def test_window_is_in_its_own_zone_and_dst_shifted_start_reads_as_0330() -> None:
    window = open_window(days("02:30", {SUN}, BERLIN), utc("2026-03-29T01:45"))
    assert window is not None
    assert window.local_start.strftime("%H:%M %Z") == "03:30 CEST"


def test_fall_back_window_closes_by_elapsed_time() -> None:
    window = open_window(days("02:30", {SUN}, BERLIN), utc("2026-10-25T01:00"))
    assert window is not None
    assert window.local_start.strftime("%H:%M %Z") == "02:30 CEST"
    assert window.local_end.strftime("%H:%M %Z") == "02:30 CET"


CUTOFF_CASES = [
    # (id, instant UTC, contains, accepts_start)
    ("start", "2026-11-25T03:00", True, True),
    ("before-cutoff", "2026-11-25T04:29", True, True),
    ("at-cutoff", "2026-11-25T04:30", True, False),
    ("inside-cutoff", "2026-11-25T04:45", True, False),
    ("after", "2026-11-25T05:00", False, False),
]


@pytest.mark.parametrize(
    ("instant", "contains", "accepts"),
    [c[1:] for c in CUTOFF_CASES],
    ids=[c[0] for c in CUTOFF_CASES],
)
def test_cutoff(instant: str, contains: bool, accepts: bool) -> None:
    schedule = days("03:00", {WED}, duration="2h", cutoff="30m")
    window = open_window(schedule, utc(instant)) or next_window_after(schedule, utc(instant))
    assert window.contains(utc(instant)) is contains
    assert window.accepts_start(utc(instant)) is accepts


UPCOMING_CASES = [
    (
        "seed-testing",
        days("01:00", {MON}),
        "2026-11-23T01:30",
        ["2026-11-23T01:00", "2026-11-30T01:00", "2026-12-07T01:00"],
    ),
    (
        "after-close",
        days("01:00", {MON}),
        "2026-11-23T02:00",
        ["2026-11-30T01:00", "2026-12-07T01:00", "2026-12-14T01:00"],
    ),
    (
        "berlin-across-spring",
        days("02:30", {SUN}, BERLIN),
        "2026-03-21T12:00",
        ["2026-03-22T01:30", "2026-03-29T01:30", "2026-04-05T00:30"],
    ),
    (
        "cron-weekdays",
        cron("0 22 * * MON-FRI"),
        "2026-11-27T12:00",
        ["2026-11-27T22:00", "2026-11-30T22:00", "2026-12-01T22:00"],
    ),
    (
        "cron-spring-dedupe",
        cron("30 2,3 29 3 *", BERLIN),
        "2026-03-28T00:00",
        ["2026-03-29T01:30", "2027-03-29T00:30", "2027-03-29T01:30"],
    ),
]


@pytest.mark.parametrize(
    ("schedule", "instant", "starts"),
    [c[1:] for c in UPCOMING_CASES],
    ids=[c[0] for c in UPCOMING_CASES],
)
def test_upcoming_windows(schedule: UpdateSchedule, instant: str, starts: list[str]) -> None:
    windows = upcoming_windows(schedule, utc(instant), len(starts))
    assert [w.start for w in windows] == [utc(s) for s in starts]


def test_next_window_after_is_strictly_after() -> None:
    schedule = days("01:00", {MON})
    assert next_window_after(schedule, utc("2026-11-23T01:00")).start == utc("2026-11-30T01:00")
    assert next_window_after(schedule, utc("2026-11-23T00:59")).start == utc("2026-11-23T01:00")


# DST changes that are not one whole hour on the hour (2026). A start moved out of a
# gap must not hide, nor repeat, a start that exists.
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # 30 min: 02:00 -> 02:30 (Oct), 02:00 -> 01:30 (Apr)
CHATHAM = ZoneInfo("Pacific/Chatham")  # 1h at 02:45: 02:45 -> 03:45 (Sep), 03:45 -> 02:45 (Apr)
TROLL = ZoneInfo("Antarctica/Troll")  # 2h: 01:00 -> 03:00 (Mar), 03:00 -> 01:00 (Oct)

ODD_CHANGE_CASES = [
    # (id, schedule, instant, expected starts (UTC), the same in local time)
    (
        "lord-howe-gap-moved-start-after-real-one",
        cron("20,35 2 * * *", LORD_HOWE),
        "2026-10-03T00:00",
        ["2026-10-03T15:35", "2026-10-03T15:50", "2026-10-04T15:20"],
        ["02:35 +11", "02:50 +11", "02:20 +11"],
    ),
    (
        "lord-howe-gap-daily-time",
        days("02:15", zone=LORD_HOWE),
        "2026-10-03T00:00",
        ["2026-10-03T15:45", "2026-10-04T15:15"],
        ["02:45 +11", "02:15 +11"],
    ),
    (
        "lord-howe-repeat-first-occurrence-once",
        cron("15,45 1 * * *", LORD_HOWE),
        "2026-04-04T13:00",
        ["2026-04-04T14:15", "2026-04-04T14:45", "2026-04-05T14:45"],
        ["01:15 +11", "01:45 +11", "01:15 +1030"],
    ),
    (
        "chatham-gap-at-0245",
        cron("10,50 3 * * *", CHATHAM),
        "2026-09-26T12:00",
        ["2026-09-26T14:05", "2026-09-26T14:25", "2026-09-27T13:25"],
        ["03:50 +1345", "04:10 +1345", "03:10 +1345"],
    ),
    (
        "chatham-gap-moved-onto-real-start-once",
        cron("0 3,4 * * *", CHATHAM),
        "2026-09-26T12:00",
        ["2026-09-26T14:15", "2026-09-27T13:15"],
        ["04:00 +1345", "03:00 +1345"],
    ),
    (
        "chatham-repeat-first-occurrence-once",
        cron("0 3 * * *", CHATHAM),
        "2026-04-04T12:00",
        ["2026-04-04T13:15", "2026-04-05T14:15"],
        ["03:00 +1345", "03:00 +1245"],
    ),
    (
        "troll-two-hour-gap",
        cron("10,50 2,3 * * *", TROLL),
        "2026-03-28T12:00",
        ["2026-03-29T01:10", "2026-03-29T01:50", "2026-03-29T02:10", "2026-03-29T02:50"],
        ["03:10 +02", "03:50 +02", "04:10 +02", "04:50 +02"],
    ),
    (
        "troll-two-hour-repeat",
        cron("30 1,2 * * *", TROLL),
        "2026-10-24T12:00",
        ["2026-10-24T23:30", "2026-10-25T00:30", "2026-10-26T01:30"],
        ["01:30 +02", "02:30 +02", "01:30 +00"],
    ),
]


@pytest.mark.parametrize(
    ("schedule", "instant", "starts", "local"),
    [c[1:] for c in ODD_CHANGE_CASES],
    ids=[c[0] for c in ODD_CHANGE_CASES],
)
def test_changes_that_are_not_one_whole_hour(
    schedule: UpdateSchedule, instant: str, starts: list[str], local: list[str]
) -> None:
    windows = upcoming_windows(schedule, utc(instant), len(starts))
    assert [w.start for w in windows] == [utc(s) for s in starts]
    assert [_local(w.local_start) for w in windows] == local


def test_lord_howe_issue_example_next_window() -> None:
    # The issue's example: 02:35 exists and opens before the moved 02:20 (02:50).
    schedule = cron("20,35 2 * * *", LORD_HOWE)
    assert next_window_after(schedule, utc("2026-10-03T00:00")).start == utc("2026-10-03T15:35")
    assert next_window_after(schedule, utc("2026-10-03T15:35")).start == utc("2026-10-03T15:50")


END_CASES = [
    # (id, schedule, instant the window is open at, its start and end in local time)
    # Elapsed time across a gap: the skipped wall-clock time does not count.
    (
        "berlin-across-gap",
        days("01:30", zone=BERLIN),
        "2026-03-29T01:10",
        "01:30 CET",
        "03:30 CEST",
    ),
    (
        "lord-howe-across-gap",
        cron("45 1 * * *", LORD_HOWE, duration="1h"),
        "2026-10-03T16:00",
        "01:45 +1030",
        "03:15 +11",
    ),
    (
        "chatham-moved-start",
        cron("0 3 * * *", CHATHAM, duration="1h"),
        "2026-09-26T15:00",
        "04:00 +1345",
        "05:00 +1345",
    ),
    # Across a repeat: the window closes by elapsed time, at a wall time seen before.
    (
        "troll-across-repeat",
        cron("30 2 * * *", TROLL, duration="2h"),
        "2026-10-25T02:00",
        "02:30 +02",
        "02:30 +00",
    ),
    (
        "chatham-across-repeat",
        cron("0 3 * * *", CHATHAM, duration="1h"),
        "2026-04-04T14:00",
        "03:00 +1345",
        "03:00 +1245",
    ),
]


@pytest.mark.parametrize(
    ("schedule", "instant", "local_start", "local_end"),
    [c[1:] for c in END_CASES],
    ids=[c[0] for c in END_CASES],
)
def test_window_end_is_elapsed_time_across_changes(
    schedule: UpdateSchedule, instant: str, local_start: str, local_end: str
) -> None:
    window = open_window(schedule, utc(instant))
    assert window is not None
    assert window.end - window.start == schedule.duration
    assert _local(window.local_start) == local_start
    assert _local(window.local_end) == local_end
    assert open_window(schedule, window.end - timedelta(microseconds=1)) == window
    assert open_window(schedule, window.end) is None


def _local(when: datetime) -> str:
    """``HH:MM`` and the zone's abbreviation, or its offset where it has none (``+1345``)."""
    name = when.strftime("%Z")
    if name.startswith(("+", "-")):
        return when.strftime("%H:%M ") + name
    return when.strftime("%H:%M %Z")
