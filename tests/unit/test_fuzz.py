"""Property tests: validation never raises anything but ScheduleError, whatever the input."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentmaint.config.loader import load_bytes
from agentmaint.config.parse import parse_schedule
from agentmaint.errors import ScheduleError

KEYS = st.sampled_from(
    [
        "environments",
        "components",
        "servers",
        "hosts",
        "update_schedule",
        "day_of_week",
        "time",
        "cron",
        "duration",
        "cutoff",
        "timezone",
        "frequency",
        "update_command",
        "promote_from",
        "environment",
        "soak",
        "blackouts",
        "start",
        "end",
        "reason",
        "rollout",
        "serial",
        "max_fail_percentage",
        "backup",
        "notification",
        "testing",
        "os",
        "x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "Monday",
            "01:00",
            "25:00",
            "1h",
            "UTC",
            "Europe/Berlin",
            "0 3 * * WED",
            "weekly",
            "2026-12-24",
            "testing",
            "daily",
            "*/0",
        ]
    )
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _check(document: Any) -> None:
    try:
        parse_schedule(document)
    except ScheduleError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert isinstance(problem.path, str)
            assert problem.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_parse_schedule_never_raises_unexpectedly(document: Any) -> None:
    _check(document)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS)
def test_yaml_round_trip_never_raises_unexpectedly(document: Any) -> None:
    text = yaml.safe_dump(document).encode()
    try:
        loaded = load_bytes(text, "<fuzz>")
    except ScheduleError:
        return
    _check(loaded)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_bytes_never_raise_unexpectedly(raw: bytes) -> None:
    try:
        loaded = load_bytes(raw, "<fuzz>")
    except ScheduleError:
        return
    _check(loaded)
