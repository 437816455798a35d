"""The ``daemon`` command: serve a schedule in the foreground until SIGTERM/SIGINT.

Exit codes: 0 when a signal stops the daemon while it waits (nothing was interrupted:
the stop an orchestrator asks for), 128 + the signal when it cancelled a running
maintenance (recorded ``canceled``), 2 when the schedule file is invalid at start.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from agentmaint.cli.options import _duration_option
from agentmaint.cli.output import EXIT_OK
from agentmaint.cli.running import _cancel_on_signals
from agentmaint.daemon import Daemon, ScheduleFile
from agentmaint.errors import UsageError


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
