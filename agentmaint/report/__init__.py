"""The HTML report: fleet, runs and one run in detail, in one self-contained file.

`build_report` reads the schedule and the history into frozen records (`model`, with
the fleet matrix of `fleet` and the timeline geometry of `timeline`); `render_report`
renders them with the package's Jinja2 templates (autoescaped) and `write_report`
writes the page without following a symlink. ``agentmaint report`` is the front end.
"""

from __future__ import annotations

from agentmaint.report.model import Report, build_report
from agentmaint.report.render import render_report, write_report

__all__ = ["Report", "build_report", "render_report", "write_report"]
