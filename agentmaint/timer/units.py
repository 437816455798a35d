"""The two systemd units of a schedule: ``agentmaint-NAME.service`` and ``.timer``.

The service is ``Type=oneshot`` and runs ``agentmaint run FILE --scheduled`` after the
network is up; the timer fires it at every window start of every environment (the
``OnCalendar=`` lines of `agentmaint.planning.calendar`). Both files begin with
`HEADER`, by which ``agentmaint timer remove`` recognises the files it may delete.

Strings from outside (paths) are written the way systemd reads them back: ``%`` is a
specifier and ``$`` a variable in ``ExecStart=``, so both are doubled; an argument with
spaces, quotes, backslashes or control characters is double-quoted with C escapes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from agentmaint.config.durations import format_duration
from agentmaint.errors import UsageError
from agentmaint.planning.calendar import CalendarEvent, WindowCalendar

__all__ = [
    "HEADER",
    "EnvironmentCalendar",
    "TimerUnits",
    "exec_argument",
    "render_units",
    "unit_base",
    "validate_name",
]

#: The first line of every unit file agentmaint writes (and the only ones it removes).
HEADER = "# Written by agentmaint timer install; agentmaint timer remove deletes this file."
#: systemd's unit-name characters, minus ``@`` (templates) and ``\\`` (escapes).
_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
#: The longest unit name systemd accepts.
_MAX_UNIT_NAME = 255
#: Characters an ExecStart= argument may hold without quotes (``%`` and ``$`` are doubled).
_PLAIN = re.compile(r"[A-Za-z0-9/._+:@=,%$-]+")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def unit_base(name: str) -> str:
    """``agentmaint-NAME``: the units' name without the suffix."""
    return f"agentmaint-{name}"


def validate_name(name: str, *, where: str = "--name") -> str:
    """Return `name` if ``agentmaint-NAME.service`` is a plain unit name; else `UsageError`."""
    if not _NAME.fullmatch(name) or name.startswith((".", "-")):
        raise UsageError(
            f"{where}: {name!r} cannot name a unit (use letters, digits and _ . : -, "
            "not starting with . or -); pass --name"
        )
    if len(unit_base(name) + ".service") > _MAX_UNIT_NAME:
        raise UsageError(f"{where}: {name!r} is too long for a unit name")
    return name


def exec_argument(text: str, *, executable: bool = False) -> str:
    """One ``ExecStart=`` word, escaped so systemd reads back exactly `text`.

    `executable` is the command's path, which systemd neither expands ``$`` in nor
    accepts quotes, backslashes or control characters in (`UsageError`).
    """
    if not text:
        return '""'
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{text!r} is not valid UTF-8: a unit file cannot hold it") from None
    if executable and any(c in "\\\"'" or ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise UsageError(
            f"systemd refuses an executable path with quotes, backslashes or control "
            f"characters: {text!r}"
        )
    doubled = text.replace("%", "%%")
    if not executable:
        doubled = doubled.replace("$", "$$")
    if _PLAIN.fullmatch(text):
        return doubled
    escaped = []
    for char in doubled:
        if char in _C_ESCAPES:
            escaped.append(_C_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\x{ord(char):02x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _comment(text: str) -> str:
    """One comment line's text: whitespace (newlines included) collapsed, no final backslash."""
    return " ".join(text.split()).rstrip("\\")


@dataclass(frozen=True, slots=True)
class EnvironmentCalendar:
    """One environment's name, schedule description and calendar events."""

    name: str
    description: str
    calendar: WindowCalendar


@dataclass(frozen=True, slots=True)
class TimerUnits:
    """The rendered texts of a schedule's service and timer units."""

    name: str
    service: str
    timer: str

    @property
    def service_name(self) -> str:
        """``agentmaint-NAME.service``."""
        return f"{unit_base(self.name)}.service"

    @property
    def timer_name(self) -> str:
        """``agentmaint-NAME.timer``."""
        return f"{unit_base(self.name)}.timer"


def _service(name: str, executable: Path, schedule_file: Path) -> str:
    command = " ".join(
        [
            exec_argument(str(executable), executable=True),
            *(exec_argument(part) for part in ("run", str(schedule_file), "--scheduled")),
        ]
    )
    return "\n".join(
        [
            HEADER,
            "# Runs what is due in an open window; outside one it exits 0 (run --scheduled).",
            "[Unit]",
            f"Description=agentmaint scheduled maintenance ({name})",
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "Type=oneshot",
            f"ExecStart={command}",
            "",
        ]
    )


def _timer(name: str, environments: Sequence[EnvironmentCalendar], jitter: timedelta | None) -> str:
    lines = [
        HEADER,
        "[Unit]",
        f"Description=agentmaint maintenance windows ({name})",
        "",
        "[Timer]",
    ]
    written: set[str] = set()

    def add(events: Sequence[CalendarEvent], comment: str) -> None:
        specs = [spec for spec in (e.systemd() for e in events) if spec not in written]
        if specs:
            lines.append(f"# {_comment(comment)}")
            for spec in specs:
                written.add(spec)
                lines.append(f"OnCalendar={spec}")

    for env in environments:
        calendar = env.calendar
        add(calendar.starts, f"environment {env.name!r}: {env.description}")
        add(
            calendar.moved_starts,
            f"{env.name!r}: starts a spring-forward gap moves (systemd skips times in a gap)",
        )
        add(calendar.ticks, f"{env.name!r}: poll ticks inside the windows")
        lines.extend(f"# {_comment(note)}" for note in calendar.notes)
    lines += [
        f"Unit={unit_base(name)}.service",
        "# Fire on the second, not within systemd's default minute of slack.",
        "AccuracySec=1s",
    ]
    if jitter is not None:
        seconds = int(jitter.total_seconds())
        lines += [
            f"# Spread hosts over {format_duration(jitter)}; each host keeps its own delay.",
            f"RandomizedDelaySec={seconds}s",
            "FixedRandomDelay=true",
        ]
    lines += [
        "# No Persistent=true, on purpose: a window missed while the machine was off or",
        "# asleep must not run late at boot or resume; the next window runs it instead",
        "# (and run --scheduled re-checks the window when it starts).",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ]
    return "\n".join(lines)


def render_units(
    name: str,
    *,
    executable: Path,
    schedule_file: Path,
    environments: Sequence[EnvironmentCalendar],
    jitter: timedelta | None = None,
) -> TimerUnits:
    """The service and timer units of a schedule file (absolute paths expected)."""
    validate_name(name)
    for path, what in ((executable, "the agentmaint executable"), (schedule_file, "FILE")):
        if not path.is_absolute():
            raise UsageError(f"{what} must be an absolute path, got {path}")
    return TimerUnits(
        name=name,
        service=_service(name, executable, schedule_file),
        timer=_timer(name, environments, jitter),
    )
