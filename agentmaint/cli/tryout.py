"""Trying agentmaint out: ``demo`` (a full cycle on a demo fleet) and ``notify-test``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from rich.console import Console

from agentmaint.cli.console import history_table
from agentmaint.cli.demo import FAILING_HOST, create_demo
from agentmaint.cli.options import _history_reader
from agentmaint.cli.output import EXIT_FAILED, EXIT_OK, _print_deliveries, _print_json, _print_plan
from agentmaint.cli.running import _report, _run_with_display
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import open_history
from agentmaint.notify import send_test
from agentmaint.planning.planner import plan


def _notify_test(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    deliveries = send_test(schedule)
    if args.json:
        _print_json({"deliveries": [d.to_dict() for d in deliveries]})
    elif not deliveries:
        out.print(f"{args.file}: no notification channels configured", highlight=False)
    else:
        _print_deliveries(deliveries, out, failures_only=False)
    return EXIT_OK if deliveries and all(d.delivered for d in deliveries) else EXIT_FAILED


def _demo(args: argparse.Namespace, out: Console) -> int:
    schedule_file = create_demo(args.dir)
    schedule = load_schedule(schedule_file)
    at = datetime.now(UTC)
    if not args.json:
        out.print(
            f"demo fleet in {schedule_file.parent} (schedule: {schedule_file})",
            highlight=False,
            soft_wrap=False,  # wrapped at words: a long path goes whole to its own line
        )
        with _history_reader(schedule) as history:
            _print_plan(plan(schedule, history, at), schedule, out)
    result, received = _run_with_display(schedule, out, as_json=args.json, at=at, trigger="demo")
    code = _report(result, schedule, out, args.json, received)
    if not args.json:
        with open_history(schedule.history_url, schedule.state_dir) as store:
            out.print(history_table(store.records(limit=20), out.width))
        out.print(
            f"{FAILING_HOST} was meant to fail: its health check rejects the new configuration, "
            "which was rolled back from the backup; its model update was not attempted.",
            highlight=False,
            soft_wrap=False,  # prose: wrapped at the terminal's width, at words
        )
        out.print(
            f"next: agentmaint plan {schedule_file} (the updated hosts are no longer due)",
            highlight=False,
            soft_wrap=False,
        )
    if received:
        return code
    # demo-3 is meant to fail and roll back: the demo succeeds when exactly that happened.
    return EXIT_OK if result.failed_hosts == (FAILING_HOST,) else EXIT_FAILED
