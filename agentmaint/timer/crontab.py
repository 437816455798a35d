"""A crontab for hosts without systemd: one line per window rule, under ``CRON_TZ=``.

Cron (cronie, and Vixie cron with the ``CRON_TZ`` patch) reads each line's fields in the
zone of the ``CRON_TZ=`` line above it, and handles daylight saving the way the windows
do: a time skipped by a spring-forward jump runs right after the jump, a repeated time
runs once. So a window start is its rule, written as it is; unlike the systemd timer no
extra lines are needed for DST. Cron has no jitter and no accuracy settings: every host
starts on the minute.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentmaint.config.schedule import UpdateSchedule
from agentmaint.errors import UsageError
from agentmaint.planning.calendar import WindowCalendar

__all__ = ["CronEnvironment", "render_crontab"]

HEADER = "# Written by agentmaint timer render --cron."


@dataclass(frozen=True, slots=True)
class CronEnvironment:
    """One environment: its name, its schedule and its calendar (for the poll ticks)."""

    name: str
    schedule: UpdateSchedule
    calendar: WindowCalendar


def _command(executable: Path, schedule_file: Path) -> str:
    """The shell command, quoted, with cron's ``%`` (a newline to cron) escaped."""
    text = shlex.join([str(executable), "run", str(schedule_file), "--scheduled"])
    if "\n" in text or "\r" in text:
        raise UsageError("a path with a line break cannot go into a crontab")
    return text.replace("%", "\\%")


def _start_fields(schedule: UpdateSchedule) -> str:
    if schedule.cron is not None:
        # As written: cron's own day rule depends on whether a field starts with "*".
        return " ".join(schedule.cron.source.split())
    assert schedule.days is not None and schedule.at_time is not None
    # Python counts Monday = 0, cron Sunday = 0.
    days = sorted((day + 1) % 7 for day in schedule.days)
    dow = "*" if len(days) == 7 else ",".join(str(day) for day in days)
    return f"{schedule.at_time.minute} {schedule.at_time.hour} * * {dow}"


def render_crontab(
    *, executable: Path, schedule_file: Path, environments: Sequence[CronEnvironment]
) -> str:
    """The crontab text; raises `UsageError` for a poll tick cron cannot express."""
    command = _command(executable, schedule_file)
    lines = [
        HEADER,
        "# cron has no jitter (RandomizedDelaySec) and no accuracy knob: every host",
        "# starts on the minute. A missed window is not run late (there is no catch-up),",
        "# and run --scheduled re-checks the window when it starts.",
    ]
    zone: str | None = None
    for env in environments:
        if env.schedule.timezone.key != zone:
            zone = env.schedule.timezone.key
            lines.append(f"CRON_TZ={zone}")
        lines.append(f"# environment {' '.join(repr(env.name).split())}")
        lines.append(f"{_start_fields(env.schedule)}  {command}")
        for tick in env.calendar.ticks:
            try:
                fields = tick.cron()
            except UsageError as exc:
                raise UsageError(
                    f"environment {env.name!r}: a poll tick cannot be written for cron: {exc}; "
                    "drop --poll or use the systemd timer"
                ) from None
            lines.append(f"{fields}  {command}")
    return "\n".join(lines) + "\n"
