"""The ``cancel`` command: stop a run another process or controller started."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from agentmaint.cli.helptext import add_command
from agentmaint.cli.options import _duration_option
from agentmaint.cli.output import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, _print_json
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import open_history
from agentmaint.run.cancel import CancelOutcome, cancel_run

__all__ = ["add_cancel_parser", "cancel_command"]

_EXIT = {
    CancelOutcome.ENDED: EXIT_OK,
    CancelOutcome.NOT_RUNNING: EXIT_FAILED,
    CancelOutcome.STILL_RUNNING: EXIT_LOCKED,
}


def add_cancel_parser(sub: Any) -> None:
    """The ``cancel`` command's arguments."""
    cancel = add_command(
        sub,
        "cancel",
        help="stop a running run (started by another process or controller) and wait for "
        "its end: exit 0 ended, 1 nothing running, 2 unknown run, 3 still running",
        examples=[
            "agentmaint cancel schedule.yaml",
            "agentmaint cancel schedule.yaml RUN_ID --timeout 10m --json",
        ],
        exit_codes={
            0: "the run ended (recorded canceled)",
            1: "no run was running",
            2: "no such run, or invalid input",
            3: "the run is still running after --timeout",
        },
    )
    cancel.add_argument(
        "run_id", nargs="?", metavar="RUN_ID", help="the run to stop (default: the one running)"
    )
    cancel.add_argument(
        "--timeout",
        default="5m",
        metavar="DURATION",
        help="how long to wait for the run to end (default 5m)",
    )
    cancel.add_argument("--json", action="store_true", help="machine-readable output")


def cancel_command(args: argparse.Namespace, out: Console) -> int:
    """Cancel the run and say how it ended."""
    schedule = load_schedule(args.file)
    timeout = _duration_option("--timeout", args.timeout)
    assert timeout is not None  # it has a default
    with open_history(schedule.history_url, schedule.state_dir) as history:
        result = cancel_run(history, schedule.state_dir, args.run_id, timeout=timeout)
    if args.json:
        _print_json(
            {
                "outcome": result.outcome.value,
                "message": result.message,
                "run": result.run.to_dict() if result.run else None,
            }
        )
    else:
        out.print(result.message, markup=False, highlight=False)
    return _EXIT[result.outcome]
