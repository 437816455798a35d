"""The commands that read a schedule: ``validate``, ``plan`` and ``windows``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from agentmaint.cli.options import _selected_plan, parse_instant, read_schedule
from agentmaint.cli.output import EXIT_OK, _print_json, _print_plan
from agentmaint.config.parse import load_schedule
from agentmaint.errors import UsageError
from agentmaint.planning.windows import upcoming_windows


def _validate(args: argparse.Namespace, out: Console) -> int:
    # --no-secrets: references checked for form only, nothing read (lint in CI).
    schedule = load_schedule(args.file, resolve_secrets=not args.no_secrets)
    hosts = sum(len(env.hosts) for env in schedule.environments.values())
    unresolved = schedule.unresolved_secrets()
    if args.json:
        _print_json(
            {
                "valid": True,
                "problems": [],
                "environments": len(schedule.environments),
                "components": len(schedule.components),
                "hosts": hosts,
                "secrets": "form-only" if args.no_secrets else "resolved",
                "unresolved_secrets": [s.path for s in unresolved],
            }
        )
        return EXIT_OK
    note = ""
    if args.no_secrets:
        note = f"; {len(unresolved)} secret reference(s) checked for form only, not resolved"
    out.print(
        f"[green]valid[/]: {args.file}: {len(schedule.environments)} environment(s), "
        f"{hosts} host(s), {len(schedule.components)} component(s){note}",
        highlight=False,
    )
    return EXIT_OK


def _plan(args: argparse.Namespace, out: Console) -> int:
    schedule = read_schedule(args.file, history=True)
    result = _selected_plan(schedule, parse_instant(args.at), args)
    if args.json:
        _print_json(result.to_dict())
    else:
        _print_plan(result, schedule, out)
    return EXIT_OK


def _windows(args: argparse.Namespace, out: Console) -> int:
    if args.count < 1:
        raise UsageError("--count must be at least 1")
    schedule = read_schedule(args.file)
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
