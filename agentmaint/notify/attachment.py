"""The HTML report attached to the emails of a finished run (``notification.report: true``).

`run_report` renders what ``agentmaint report --run RUN_ID`` writes, from the history
the run was just recorded in. A report that cannot be built never stops a notification:
it is logged, and the email goes without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import PurePath

from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore

__all__ = ["ReportAttachment", "run_report"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReportAttachment:
    """An HTML report to attach: its file name and page."""

    filename: str
    html: str


def run_report(schedule: Schedule, store: HistoryStore, run_id: str) -> ReportAttachment | None:
    """The report of run `run_id` (None, logged, when it cannot be built)."""
    # Imported here: the report loads Jinja2 (about 50 ms), which a run whose emails
    # attach no report (every run without ``notification.report``) has no need of.
    from agentmaint.report import build_report, render_report  # noqa: PLC0415

    try:
        report = build_report(
            schedule,
            store,
            datetime.now(UTC),
            source=PurePath(schedule.source).name,
            run_id=run_id,
        )
        # Read as agentmaint.__version__ is: the package itself is above this layer.
        html = render_report(report, version=version("agentmaint"))
    except Exception as exc:  # the boundary: the email still goes, without the report
        _log.warning(
            "run %s: the HTML report is not attached: %s",
            run_id,
            type(exc).__name__,
            extra={"event": "report_not_attached", "run_id": run_id},
        )
        return None
    return ReportAttachment(f"agentmaint-report-{run_id}.html", html)
