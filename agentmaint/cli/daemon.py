"""The ``daemon`` command: serve a schedule in the foreground until SIGTERM/SIGINT.

Exit codes: 0 when a signal stops the daemon while it waits (nothing was interrupted:
the stop an orchestrator asks for), 128 + the signal when it cancelled a running
maintenance (recorded ``canceled``), 2 when the schedule file is invalid at start.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from agentmaint.cli.helptext import add_command
from agentmaint.cli.options import _duration_option
from agentmaint.cli.output import EXIT_OK
from agentmaint.cli.running import _cancel_on_signals
from agentmaint.daemon import Daemon, ScheduleFile
from agentmaint.errors import UsageError


def add_daemon_parser(sub: Any) -> None:
    """The ``daemon`` command's arguments."""
    daemon = add_command(
        sub,
        "daemon",
        help="run scheduled maintenance in the foreground when windows open (containers, "
        "hosts without systemd); reloads FILE when it changes; stops on SIGTERM/SIGINT",
        examples=[
            "agentmaint daemon schedule.yaml",
            "agentmaint daemon schedule.yaml --poll 15m --log-format json",
        ],
        exit_codes={
            0: "stopped by SIGTERM/SIGINT while it waited",
            2: "invalid schedule file (at start) or option",
            "128+N": "signal N cancelled a running maintenance (recorded canceled)",
        },
    )
    daemon.add_argument(
        "--poll",
        metavar="DURATION",
        help="also wake every DURATION inside open windows (retries hosts left due); "
        "default: window starts only",
    )


def daemon_command(args: argparse.Namespace, _out: Console) -> int:
    """Serve `args.file` until a signal; the daemon's story goes to the log (stderr)."""
    poll = _duration_option("--poll", args.poll)
    if poll is not None and poll.total_seconds() < 1:
        raise UsageError("--poll: must be at least 1s")
    loaded = ScheduleFile.load(args.file)
    with _cancel_on_signals() as (stop, received):
        daemon = Daemon(loaded, stop=stop, poll=poll)
        daemon.serve()
    if received and daemon.interrupted_run:
        return 128 + received[0]
    return EXIT_OK
