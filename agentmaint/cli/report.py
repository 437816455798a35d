"""The ``report`` command: the fleet, the latest runs and one run as one HTML file."""

from __future__ import annotations

import argparse

from rich.console import Console

from agentmaint import __version__
from agentmaint.cli.options import _history_reader, parse_instant, read_schedule
from agentmaint.cli.output import EXIT_OK
from agentmaint.errors import UsageError
from agentmaint.report import build_report, render_report, write_report

__all__ = ["report_command"]


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
