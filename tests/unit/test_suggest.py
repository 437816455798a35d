"""Did-you-mean hints in validation errors: time zones, role names, weekdays (and keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentmaint.config.parse import parse_schedule
from agentmaint.config.suggest import closest, did_you_mean, time_zone_hint
from agentmaint.errors import ScheduleError


def _problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(document, base_dir=Path("/nonexistent"))
    return [str(p) for p in raised.value.problems]


def _document(
    *, window: dict[str, Any] | None = None, component: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "environments": {
            "prod": {
                "servers": ["web1"],
                "update_schedule": window or {"day_of_week": "daily", "time": "00:00"},
            }
        },
        "components": {"comp": component or {"frequency": "weekly", "update_command": "x"}},
        **extra,
    }


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        ("Europe/Berln", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin"),
        ("America/NewYork", "America/New_York"),
        ("utc", "UTC"),
    ],
)
def test_a_mistyped_time_zone_names_the_zone_it_resembles(zone: str, expected: str) -> None:
    assert _problems(_document(timezone=zone)) == [
        f"timezone: {zone!r} is not a known IANA time zone (did you mean {expected!r}?)"
    ]


def test_a_window_time_zone_gets_the_hint_at_its_own_path() -> None:
    window = {"day_of_week": "Monday", "time": "01:00", "timezone": "Asia/Tokio"}
    assert _problems(_document(window=window)) == [
        "environments.prod.update_schedule.timezone: 'Asia/Tokio' is not a known IANA "
        "time zone (did you mean 'Asia/Tokyo'?)"
    ]


def test_a_time_zone_like_no_other_keeps_the_examples() -> None:
    assert _problems(_document(timezone="Mars/Olympus")) == [
        "timezone: 'Mars/Olympus' is not a known IANA time zone (e.g. Europe/Berlin, UTC)"
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [("os_package", "os_packages"), ("comand", "command"), ("Docker", "docker")],
)
def test_a_mistyped_role_names_the_bundled_role_it_resembles(role: str, expected: str) -> None:
    problems = _problems(_document(component={"frequency": "weekly", "role": role}))
    assert any(
        line.startswith(f"components.comp.role: {role!r} is not one of ")
        and line.endswith(f"(did you mean {expected!r}?)")
        for line in problems
    ), problems


def test_a_role_like_no_other_gets_no_hint() -> None:
    problems = _problems(_document(component={"frequency": "weekly", "role": "kubernetes"}))
    role_lines = [line for line in problems if line.startswith("components.comp.role:")]
    assert role_lines and "did you mean" not in role_lines[0]


@pytest.mark.parametrize(
    ("day", "expected"),
    [("Mondy", "Monday"), ("thurs", "Thursday"), ("Wensday", "Wednesday"), ("dayly", "daily")],
)
def test_a_mistyped_weekday_names_the_day_it_resembles(day: str, expected: str) -> None:
    window = {"day_of_week": ["Friday", day], "time": "01:00"}
    assert _problems(_document(window=window)) == [
        f"environments.prod.update_schedule.day_of_week[1]: {day!r} is not a day of the "
        f"week (Monday..Sunday, Mon..Sun or daily) (did you mean {expected!r}?)"
    ]


def test_a_weekday_like_no_other_gets_no_hint() -> None:
    window = {"day_of_week": "weekend", "time": "01:00"}
    (problem,) = _problems(_document(window=window))
    assert "is not a day of the week" in problem and "did you mean" not in problem


def test_closest_ignores_case_and_declines_what_is_not_close() -> None:
    assert closest("FREQUENCY", ["frequency", "role"]) == "frequency"
    assert closest("zzz", ["frequency", "role"]) is None
    assert did_you_mean("frequncy", ["frequency"]) == " (did you mean 'frequency'?)"
    assert did_you_mean("zzz", ["frequency"]) == ""
    assert time_zone_hint("Nowhere/City") == ""
