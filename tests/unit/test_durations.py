from __future__ import annotations

from datetime import timedelta

import pytest

from agentmaint.config.durations import format_duration, parse_duration

PARSE = [
    ("90m", timedelta(minutes=90)),
    ("2h", timedelta(hours=2)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("14d", timedelta(days=14)),
    ("2w", timedelta(days=14)),
    ("1d12h", timedelta(days=1, hours=12)),
    ("45s", timedelta(seconds=45)),
]


@pytest.mark.parametrize(("text", "expected"), PARSE, ids=[t for t, _ in PARSE])
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0m", "h", "1.5h", "30m1h", "1 h", "-1h", "10x"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


FORMAT = [
    (timedelta(hours=1), "1h"),
    (timedelta(minutes=90), "1h30m"),
    (timedelta(days=14), "14d"),
    (timedelta(0), "0s"),
    (timedelta(days=1, seconds=5), "1d5s"),
]


@pytest.mark.parametrize(("delta", "text"), FORMAT, ids=[t for _, t in FORMAT])
def test_format(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text
    if delta:
        assert parse_duration(text) == delta
