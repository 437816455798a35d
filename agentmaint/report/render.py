"""The report as one self-contained HTML file: Jinja2 templates shipped in the package.

The Environment escapes every value (``autoescape=True``): names, descriptions,
commands, reasons and error messages come from the schedule and the history and may
hold ``<``, ``&`` or quotes. The page has inline CSS and SVG only, no script and no
external URL, so it reads the same from a file, a mail attachment or an offline host.
`write_report` writes it without ever following a symlink at the path.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from agentmaint.errors import UsageError
from agentmaint.nofollow import open_regular
from agentmaint.report.model import Report

__all__ = ["render_report", "write_report"]

_TEMPLATE = "report.html.j2"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("agentmaint.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["utc"] = _utc
    environment.filters["took"] = _took
    return environment


def render_report(report: Report, *, version: str) -> str:
    """The HTML page of `report` (`version`: agentmaint's, for the footer)."""
    template = _environment().get_template(_TEMPLATE)
    return template.render(report=report, version=version)


def write_report(path: Path, html: str) -> None:
    """Write `html` to `path` (created 0600, or replaced if a regular file).

    Raises `UsageError` naming the path when it is a symlink (never followed), not a
    regular file, or cannot be written (no such directory, no permission).
    """
    fd = open_regular(
        path,
        os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        what="report file",
        hint="name the real file, or another path",
        error=UsageError,
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
    except OSError as exc:
        raise UsageError(f"cannot write report file {path}: {exc.strerror or exc}") from None


def _utc(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant as UTC text ('-' for none)."""
    return "-" if moment is None else moment.astimezone(UTC).strftime(fmt)


def _took(seconds: float | None) -> str:
    """A duration as 42s, 3m 05s or 2h 10m ('-' for a run still going)."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
