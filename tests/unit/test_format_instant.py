"""`format_instant`: its quick path for UTC instants says what the zone conversion says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from agentmaint.planning.planner import format_instant


def slow(instant: datetime, zone: ZoneInfo | None = None) -> str:
    zone = zone or ZoneInfo("UTC")
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 11, 20, 1, 17, 59, 999999, tzinfo=UTC),
        datetime(2026, 11, 20, 1, 17, tzinfo=UTC),
        datetime.fromisoformat("2026-03-29T00:59:30Z"),
        datetime(999, 1, 2, 3, 4, tzinfo=UTC),  # strftime does not pad the year
        datetime(2026, 11, 20, 1, 17, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 20, 1, 17, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
)
def test_format_instant_is_the_zone_conversion(instant: datetime) -> None:
    assert format_instant(instant) == slow(instant)
    berlin = ZoneInfo("Europe/Berlin")
    assert format_instant(instant, berlin) == slow(instant, berlin)
