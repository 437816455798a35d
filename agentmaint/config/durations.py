"""Durations as operators write them: ``90m``, ``2h``, ``1h30m``, ``14d``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
#: The pattern the JSON Schema uses for the same syntax (kept equal by a test).
DURATION_PATTERN = _DURATION.pattern


def duration_seconds(text: str) -> int | None:
    """The length of `text` in seconds (0 for ``0m``), or None when it is not the syntax."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        return None
    return sum(
        int(value) * _UNITS[unit]
        for value, unit in zip(match.groups(), _UNITS, strict=True)
        if value
    )


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``90m`` or ``1h30m`` (units w, d, h, m, s, in that order).

    Raises `ValueError` naming the text when it is not a positive duration.
    """
    seconds = duration_seconds(text)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90m, 2h, 1h30m, 14d)")
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Render a duration in the same syntax, largest units first (``1d2h``, ``1m30s``)."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue  # weeks read worse than days in reasons ("14d", not "2w")
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
