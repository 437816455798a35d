"""The ``report`` command: the fleet, the latest runs and one run as one HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from agentmaint import __version__
from agentmaint.cli.helptext import add_command
from agentmaint.cli.options import _history_reader, parse_instant, read_schedule
from agentmaint.cli.output import EXIT_OK
from agentmaint.errors import UsageError
from agentmaint.report import build_report, render_report, write_report

__all__ = ["add_report_parser", "report_command"]


def add_report_parser(sub: Any) -> None:
    """The ``report`` command's arguments."""
    report = add_command(
        sub,
        "report",
        help="write an HTML report: fleet matrix, latest runs, one run's grid and timeline",
        description="Write one self-contained HTML report: the fleet matrix coloured by "
        "state, the latest runs with their durations, and one run in detail (hosts by "
        "actions, and a timeline of its tasks per host). The page is self-contained (inline "
        "CSS and SVG, no script, no external URL): open it from disk or send it as an "
        "attachment. It reads the history, never writes it.",
        examples=(
            "agentmaint report schedule.yaml --out report.html",
            "agentmaint report schedule.yaml --run last --out /srv/www/latest.html",
        ),
        exit_codes={
            0: "the report was written",
            2: "invalid schedule, no such run, or --out not writable (symlinks refused)",
        },
    )
    report.add_argument(
        "--run",
        default="last",
        metavar="RUN_ID|last",
        help="the run shown in detail (default: last, the latest run)",
    )
    report.add_argument(
        "--out", type=Path, required=True, metavar="PATH.html", help="the HTML file to write"
    )
    report.add_argument(
        "--at",
        default="now",
        metavar="ISO8601",
        help="the instant of the fleet matrix (default: now)",
    )


def report_command(args: argparse.Namespace, out: Console) -> int:
    """Build, render and write the report; say where it is."""
    schedule = read_schedule(args.file, history=True)
    at = parse_instant(args.at)
    if args.out.is_dir():
        raise UsageError(f"--out {args.out} is a directory: name the HTML file to write")
    with _history_reader(schedule) as history:
        report = build_report(schedule, history, at, source=args.file.name, run_id=args.run)
    write_report(args.out, render_report(report, version=__version__))
    shown = report.detail.summary.run.id if report.detail else "no run yet"
    out.print(f"wrote {args.out} (run {shown})", markup=False, highlight=False)
    return EXIT_OK
