"""The ``metrics`` command, and the metrics textfile of the ``run`` commands that do nothing."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from rich.console import Console

from agentmaint import metrics
from agentmaint.cli.options import parse_instant
from agentmaint.cli.output import EXIT_OK
from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import MetricsError, StoreError


def _metrics(args: argparse.Namespace, out: Console) -> int:
    """Print the exposition the textfile would hold; the history is only read."""
    schedule = load_schedule(args.file)
    at = None if args.at == "now" else parse_instant(args.at)
    sys.stdout.write(metrics.exposition(metrics.read_sample(schedule, at)))
    return EXIT_OK


def _write_metrics_quietly(schedule: Schedule, at: datetime | None) -> None:
    """Rewrite the textfile after a run that did nothing; a failure is a warning, not an error.

    The run itself succeeded (there was nothing to do, or the previous run does it): its exit
    code stays 0, and the warning on standard error says why the metrics are stale.
    """
    if schedule.metrics is None:
        return  # before `metrics.write_metrics`, whose first use loads prometheus_client
    try:
        metrics.write_metrics(schedule, at=at)
    except (MetricsError, StoreError) as exc:
        Console(stderr=True, soft_wrap=True).print(
            f"agentmaint: warning: metrics not written: {exc}", markup=False, highlight=False
        )
