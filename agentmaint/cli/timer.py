"""The ``timer`` commands: render, install, remove and check a schedule's systemd timer.

``timer render FILE --out DIR`` writes ``agentmaint-NAME.service`` and ``.timer`` (or,
with ``--cron``, a crontab); ``timer install`` writes them into /etc/systemd/system and
enables the timer, only where systemd runs; ``timer remove`` undoes that; ``timer
status`` lists each environment's next window starts next to the timer's next elapses
(``systemd-analyze calendar``), and whether the timer is installed and enabled.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentmaint.cli.output import EXIT_INVALID, EXIT_OK, _print_json
from agentmaint.config.durations import format_duration, parse_duration
from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import UsageError
from agentmaint.planning.calendar import WindowCalendar, window_calendar
from agentmaint.planning.windows import next_window_after
from agentmaint.timer import install
from agentmaint.timer.analyze import calendar_elapses
from agentmaint.timer.crontab import CronEnvironment, render_crontab
from agentmaint.timer.install import UnitState, unit_state, write_unit
from agentmaint.timer.units import EnvironmentCalendar, TimerUnits, render_units, validate_name

__all__ = ["timer_command"]


def _name(args: argparse.Namespace) -> str:
    if args.name is not None:
        return validate_name(args.name)
    return validate_name(args.file.stem, where=f"the name from {args.file.name!r}")


def agentmaint_executable() -> Path:
    """The absolute path of the ``agentmaint`` command running now (or of this install's)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "agentmaint" and argv0.is_file():
        return Path(os.path.abspath(argv0))
    sibling = Path(sys.executable).parent / "agentmaint"
    if sibling.is_file():
        return Path(os.path.abspath(sibling))
    found = shutil.which("agentmaint")
    if found is not None:
        return Path(os.path.abspath(found))
    raise UsageError("cannot find the agentmaint executable (is it installed on PATH?)")


def _duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _calendars(schedule: Schedule, poll: timedelta | None) -> dict[str, WindowCalendar]:
    year = datetime.now(UTC).year
    calendars = {}
    for name, env in schedule.environments.items():
        try:
            calendars[name] = window_calendar(env.schedule, from_year=year, poll=poll)
        except UsageError as exc:
            raise UsageError(f"environment {name!r} ({env.schedule.describe()}): {exc}") from None
    return calendars


def _check_jitter(schedule: Schedule, jitter: timedelta | None) -> None:
    """A jitter as long as a window would start runs after the window has closed."""
    if jitter is None:
        return
    for name, env in schedule.environments.items():
        usable = env.schedule.duration - env.schedule.cutoff
        if jitter >= usable:
            raise UsageError(
                f"--jitter {format_duration(jitter)} is not shorter than environment {name!r}'s "
                f"window ({format_duration(usable)} to start in): runs would miss it"
            )


def _units(args: argparse.Namespace) -> tuple[Schedule, dict[str, WindowCalendar], TimerUnits]:
    name = _name(args)
    poll = _duration(args.poll, "--poll")
    jitter = _duration(args.jitter, "--jitter")
    schedule = load_schedule(args.file)
    _check_jitter(schedule, jitter)
    calendars = _calendars(schedule, poll)
    units = render_units(
        name,
        executable=agentmaint_executable(),
        schedule_file=Path(os.path.abspath(args.file)),
        environments=[
            EnvironmentCalendar(env, schedule.environments[env].schedule.describe(), calendar)
            for env, calendar in calendars.items()
        ],
        jitter=jitter,
    )
    return schedule, calendars, units


def _print_notes(calendars: dict[str, WindowCalendar]) -> None:
    err = Console(stderr=True, soft_wrap=True)
    for env, calendar in calendars.items():
        for note in calendar.notes:
            err.print(f"warning: environment {env!r}: {note}", markup=False, highlight=False)


def _out_dir(directory: Path) -> Path:
    if os.path.islink(directory):
        raise UsageError(f"--out: {directory} is a symlink; agentmaint never writes through one")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create {directory}: {exc.strerror or exc}") from None
    if not directory.is_dir():
        raise UsageError(f"--out: {directory} is not a directory")
    return directory


def _write_files(directory: Path, files: dict[str, str]) -> list[Path]:
    paths = [directory / name for name in files]
    foreign = [str(p) for p in paths if unit_state(p) is UnitState.FOREIGN]
    if foreign:
        raise UsageError(
            f"--out: will not overwrite {', '.join(foreign)}: not written by agentmaint"
        )
    for path in paths:
        try:
            write_unit(path, files[path.name])
        except OSError as exc:
            raise UsageError(f"--out: cannot write {path}: {exc.strerror or exc}") from None
    return paths


def _render(args: argparse.Namespace, out: Console) -> int:
    if args.cron:
        return _render_cron(args, out)
    if args.out is None:
        raise UsageError("timer render: --out DIR is required (or --cron to print crontab lines)")
    _schedule, calendars, units = _units(args)
    _print_notes(calendars)
    directory = _out_dir(args.out)
    for path in _write_files(
        directory, {units.service_name: units.service, units.timer_name: units.timer}
    ):
        out.print(f"wrote {path}", markup=False, highlight=False)
    return EXIT_OK


def _render_cron(args: argparse.Namespace, out: Console) -> int:
    name = _name(args)
    if args.jitter is not None:
        raise UsageError("--jitter: cron has no jitter setting (use the systemd timer)")
    schedule = load_schedule(args.file)
    calendars = _calendars(schedule, _duration(args.poll, "--poll"))
    _print_notes(calendars)
    text = render_crontab(
        executable=agentmaint_executable(),
        schedule_file=Path(os.path.abspath(args.file)),
        environments=[
            CronEnvironment(env, schedule.environments[env].schedule, calendar)
            for env, calendar in calendars.items()
        ],
    )
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    for path in _write_files(_out_dir(args.out), {f"agentmaint-{name}.cron": text}):
        out.print(f"wrote {path}", markup=False, highlight=False)
    return EXIT_OK


def _no_systemd(command: str, out: Console) -> int:
    err = Console(stderr=True, soft_wrap=True)
    err.print(
        f"agentmaint: timer {command}: systemd is not running on this machine "
        f"({install.SYSTEMD_RUN_DIR} does not exist): nothing written. Use "
        "'agentmaint timer render --cron' for cron, or render the units and install them "
        "on a host that runs systemd.",
        markup=False,
        highlight=False,
    )
    return EXIT_INVALID


def _install(args: argparse.Namespace, out: Console) -> int:
    if not install.systemd_booted():
        return _no_systemd("install", out)
    _schedule, calendars, units = _units(args)
    _print_notes(calendars)
    paths = install.install_units(units, unit_dir=install.UNIT_DIR, systemctl=install.run_systemctl)
    for path in paths:
        out.print(f"wrote {path}", markup=False, highlight=False)
    out.print(f"enabled and started {units.timer_name}", markup=False, highlight=False)
    return EXIT_OK


def _remove(args: argparse.Namespace, out: Console) -> int:
    name = _name(args)
    if not install.systemd_booted():
        return _no_systemd("remove", out)
    for path in install.remove_units(
        name, unit_dir=install.UNIT_DIR, systemctl=install.run_systemctl
    ):
        out.print(f"removed {path}", markup=False, highlight=False)
    return EXIT_OK


def _enabled(timer_name: str) -> str | None:
    """``systemctl is-enabled``'s answer, or None where systemd does not run."""
    if not install.systemd_booted():
        return None
    done = subprocess.run(
        ["systemctl", "is-enabled", timer_name], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def _status(args: argparse.Namespace, out: Console) -> int:
    if args.count < 1:
        raise UsageError("--count must be at least 1")
    name = _name(args)
    schedule = load_schedule(args.file)
    calendars = _calendars(schedule, None)
    now = datetime.now(UTC)
    timer_name = f"agentmaint-{name}.timer"
    state = unit_state(install.UNIT_DIR / timer_name)
    document: dict[str, Any] = {
        "timer": timer_name,
        "systemd_running": install.systemd_booted(),
        "installed": state.value,
        "enabled": _enabled(timer_name),
        "environments": {},
    }
    for env_name, calendar in calendars.items():
        env = schedule.environments[env_name]
        specs = [event.systemd() for event in calendar.window_events]
        elapses = sorted({e for spec in specs for e in calendar_elapses(spec, args.count)})
        starts: list[datetime] = []
        while len(starts) < args.count:
            starts.append(next_window_after(env.schedule, starts[-1] if starts else now).start)
        fires = elapses[: args.count]
        document["environments"][env_name] = {
            "schedule": env.schedule.describe(),
            "on_calendar": specs,
            "window_starts": [s.isoformat() for s in starts],
            "timer_elapses": [e.isoformat() for e in fires],
            "match": starts == fires,
        }
    if args.json:
        _print_json(document)
        return EXIT_OK
    enabled = document["enabled"] or "unknown (systemd is not running here)"
    out.print(
        f"{timer_name}: installed: {document['installed']}, enabled: {enabled}",
        markup=False,
        highlight=False,
    )
    for env_name, data in document["environments"].items():
        zone = schedule.environments[env_name].schedule.timezone
        table = Table(title=f"{env_name}: {data['schedule']}", title_justify="left")
        for column in ("#", "Window opens", "Timer fires", "Match"):
            table.add_column(column, no_wrap=True)
        rows = max(len(data["window_starts"]), len(data["timer_elapses"]))
        for index in range(rows):
            cells = []
            for key in ("window_starts", "timer_elapses"):
                values = data[key]
                cells.append(
                    f"{datetime.fromisoformat(values[index]).astimezone(zone):%a %Y-%m-%d %H:%M %Z}"
                    if index < len(values)
                    else ""
                )
            same = (
                index < len(data["window_starts"])
                and index < len(data["timer_elapses"])
                and (data["window_starts"][index] == data["timer_elapses"][index])
            )
            table.add_row(str(index + 1), *cells, "ok" if same else "[red]differs[/]")
        out.print(table)
    return EXIT_OK


_TIMER_COMMANDS = {"render": _render, "install": _install, "remove": _remove, "status": _status}


def timer_command(args: argparse.Namespace, out: Console) -> int:
    """Run ``agentmaint timer SUBCOMMAND``."""
    return _TIMER_COMMANDS[args.timer_command](args, out)
