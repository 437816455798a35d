"""The `agentmaint` command line: rich tables for people, ``--json`` for scripts.

Exit codes: 0 success, 2 invalid input or usage (with ``path: message`` lines
on standard error, never a traceback). This is the only module that prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from agentmaint import __version__
from agentmaint.errors import AgentmaintError, ScheduleError, UsageError
from agentmaint.history import MemoryHistory
from agentmaint.parse import load_schedule
from agentmaint.planner import Plan, format_instant, plan
from agentmaint.schedule import Schedule
from agentmaint.windows import upcoming_windows

EXIT_OK = 0
EXIT_INVALID = 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (its default, minus the usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def parse_instant(text: str) -> datetime:
    """``--at`` values: ISO 8601, ``Z`` or an offset; without one the time is UTC; or ``now``."""
    if text == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at: {text!r} is not an ISO 8601 date-time (e.g. 2026-11-23T01:30Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="agentmaint",
        description="Keep fleets serving AI agents patched, backed up and current.",
    )
    parser.add_argument("--version", action="version", version=f"agentmaint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = sub.add_parser("validate", help="check a schedule file; report every problem")
    validate.add_argument("file", type=Path)
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    plan_cmd = sub.add_parser("plan", help="show what is due now (or --at an instant)")
    plan_cmd.add_argument("file", type=Path)
    plan_cmd.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    plan_cmd.add_argument(
        "--environment",
        "-e",
        action="append",
        dest="environments",
        metavar="ENV",
        help="only this environment (repeatable)",
    )
    plan_cmd.add_argument(
        "--component",
        "-c",
        action="append",
        dest="components",
        metavar="COMPONENT",
        help="only this component (repeatable)",
    )
    plan_cmd.add_argument("--json", action="store_true", help="machine-readable output")

    windows = sub.add_parser("windows", help="list the next maintenance windows")
    windows.add_argument("file", type=Path)
    windows.add_argument("--count", "-n", type=int, default=5, help="windows per environment")
    windows.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    windows.add_argument(
        "--environment",
        "-e",
        action="append",
        dest="environments",
        metavar="ENV",
        help="only this environment (repeatable)",
    )
    windows.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _build_parser().parse_args(argv)
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        if args.command == "validate":
            return _validate(args, out)
        if args.command == "plan":
            return _plan(args, out)
        if args.command == "windows":
            return _windows(args, out)
    except ScheduleError as exc:
        if getattr(args, "json", False) and args.command == "validate":
            _print_json(
                {
                    "valid": False,
                    "problems": [{"path": p.path, "message": p.message} for p in exc.problems],
                }
            )
        else:
            err.print(f"[bold red]{exc.source}[/]: invalid schedule", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False, highlight=False)
        return EXIT_INVALID
    except AgentmaintError as exc:
        err.print(f"agentmaint: error: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _validate(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    hosts = sum(len(env.hosts) for env in schedule.environments.values())
    if args.json:
        _print_json(
            {
                "valid": True,
                "problems": [],
                "environments": len(schedule.environments),
                "components": len(schedule.components),
                "hosts": hosts,
            }
        )
        return EXIT_OK
    out.print(
        f"[green]valid[/]: {args.file}: {len(schedule.environments)} environment(s), "
        f"{hosts} host(s), {len(schedule.components)} component(s)",
        highlight=False,
    )
    return EXIT_OK


def _plan(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    at = parse_instant(args.at)
    result = plan(
        schedule, MemoryHistory(), at, environments=args.environments, components=args.components
    )
    if args.json:
        _print_json(result.to_dict())
    else:
        _print_plan(result, schedule, out)
    return EXIT_OK


def _print_plan(result: Plan, schedule: Schedule, out: Console) -> None:
    table = Table(title=f"Plan at {format_instant(result.at)}", title_justify="left")
    table.add_column("Environment")
    table.add_column("Component")
    table.add_column("Due")
    table.add_column("Hosts")
    table.add_column("Reason", overflow="fold")
    for decision in result.decisions:
        env = schedule.environments[decision.environment]
        hosts = ", ".join(decision.servers) if decision.due else f"0/{len(env.hosts)}"
        table.add_row(
            decision.environment,
            decision.component,
            "[bold green]yes[/]" if decision.due else "[dim]no[/]",
            hosts,
            decision.reason,
        )
    out.print(table)
    out.print(f"{len(result.due)} due, {len(result.not_due)} not due", highlight=False)


def _windows(args: argparse.Namespace, out: Console) -> int:
    if args.count < 1:
        raise UsageError("--count must be at least 1")
    schedule = load_schedule(args.file)
    at = parse_instant(args.at)
    names = args.environments or list(schedule.environments)
    unknown = [n for n in names if n not in schedule.environments]
    if unknown:
        raise UsageError(f"unknown environment(s): {', '.join(unknown)}")
    document: dict[str, Any] = {"at": at.astimezone(UTC).isoformat(), "environments": {}}
    for name in names:
        env = schedule.environments[name]
        rows = []
        for window in upcoming_windows(env.schedule, at, args.count):
            blackouts = [
                b
                for b in (*schedule.blackouts, *env.blackouts)
                if b.start < window.end and window.start < b.end
            ]
            rows.append(
                {
                    "start": window.local_start.isoformat(),
                    "end": window.local_end.isoformat(),
                    "start_utc": window.start.astimezone(UTC).isoformat(),
                    "end_utc": window.end.astimezone(UTC).isoformat(),
                    "last_start": window.last_start.astimezone(window.timezone).isoformat(),
                    "timezone": env.schedule.timezone.key,
                    "open": window.contains(at),
                    "blackouts": [b.reason or "blackout" for b in blackouts],
                }
            )
        document["environments"][name] = {"schedule": env.schedule.describe(), "windows": rows}
    if args.json:
        _print_json(document)
        return EXIT_OK
    for name, data in document["environments"].items():
        table = Table(title=f"{name}: {data['schedule']}", title_justify="left")
        for column in ("#", "Opens", "Closes", "Opens (UTC)"):
            table.add_column(column, no_wrap=True)
        table.add_column("Note")
        for index, row in enumerate(data["windows"], 1):
            note = "[bold green]open now[/]" if row["open"] else ""
            if row["blackouts"]:
                note = (
                    (note + " " if note else "")
                    + "[red]blackout: "
                    + ", ".join(row["blackouts"])
                    + "[/]"
                )
            zone = ZoneInfo(row["timezone"])
            start = datetime.fromisoformat(row["start"]).astimezone(zone)
            end = datetime.fromisoformat(row["end"]).astimezone(zone)
            closes = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %H:%M}"
            utc_start = datetime.fromisoformat(row["start_utc"])
            table.add_row(
                str(index),
                f"{start:%a %Y-%m-%d %H:%M %Z}",
                closes,
                f"{utc_start:%Y-%m-%d %H:%M}",
                note,
            )
        out.print(table)
    return EXIT_OK


def run() -> NoReturn:
    """Entry point for ``python -m agentmaint``."""
    sys.exit(main())
