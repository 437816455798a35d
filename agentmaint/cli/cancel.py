"""The ``cancel`` command: stop a run another process or controller started."""

from __future__ import annotations

import argparse

from rich.console import Console

from agentmaint.cli.options import _duration_option
from agentmaint.cli.output import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, _print_json
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import open_history
from agentmaint.run.cancel import CancelOutcome, cancel_run

__all__ = ["cancel_command"]

_EXIT = {
    CancelOutcome.ENDED: EXIT_OK,
    CancelOutcome.NOT_RUNNING: EXIT_FAILED,
    CancelOutcome.STILL_RUNNING: EXIT_LOCKED,
}


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
