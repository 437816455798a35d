"""The ``check`` command: whether every host is ready for its maintenance window."""

from __future__ import annotations

import argparse

from rich.console import Console

from agentmaint.cli.options import read_schedule
from agentmaint.cli.output import EXIT_FAILED, EXIT_OK, _print_json
from agentmaint.run.preflight import check_hosts

__all__ = ["check_command"]


def check_command(args: argparse.Namespace, out: Console) -> int:
    """Run the preflight play; print each host's checks; 0 when all are ready, else 1."""
    schedule = read_schedule(args.file)
    report = check_hosts(schedule, args.environments)
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK if report.ready else EXIT_FAILED
    for host in report.hosts:
        state = "[green]ready[/]" if host.ready else "[red]NOT READY[/]"
        out.print(f"{host.environment}/{host.host}: {state}", highlight=False)
        for check in host.checks:
            mark = "ok     " if check.ok else "PROBLEM"
            out.print(f"  {mark} {check.name}: {check.detail}", markup=False, highlight=False)
    problems = sum(len(host.problems) for host in report.hosts)
    if report.ready:
        out.print(f"{len(report.hosts)} host(s) ready", highlight=False)
    else:
        not_ready = sum(1 for host in report.hosts if not host.ready)
        out.print(
            f"{not_ready} of {len(report.hosts)} host(s) not ready, {problems} problem(s)",
            highlight=False,
        )
    return EXIT_OK if report.ready else EXIT_FAILED
