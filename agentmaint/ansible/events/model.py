"""The frozen outcome of parsing one run's events, `ParsedRun`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentmaint.records import HostCounts, RunStatus, TaskResult

__all__ = ["ParsedRun"]


@dataclass(frozen=True)
class ParsedRun:
    """Everything the event stream of one run says, frozen.

    `counts` are derived from the individual events, with the failures and
    unreachables they leave ambiguous settled by `stats` (the numbers of
    ``playbook_on_stats``; None when the run never got there). `partial` is True
    when the stream was truncated or malformed, so that `results` and `counts`
    are incomplete. `warnings` explain `partial`, ambiguities, and any
    difference between `counts` and `stats`.

    `directory` is the ``artifacts/<ident>/`` directory read (None for a stream fed
    live) and `ident` the ansible-runner ident its events name (``runner_ident``; the
    directory's name when they name none).
    """

    status: RunStatus
    rc: int | None
    results: tuple[TaskResult, ...]
    counts: Mapping[str, HostCounts]
    stats: Mapping[str, HostCounts] | None
    error: str | None = None
    partial: bool = False
    warnings: tuple[str, ...] = ()
    directory: Path | None = None
    ident: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: status, rc, partial, error, warnings, counts, task results.

        ``hosts`` are the counts derived from the events, ``stats`` those of
        ``playbook_on_stats`` (null without it); ``warnings`` say where they differ
        and which failures the events left ambiguous.
        """
        return {
            "status": self.status.value,
            "rc": self.rc,
            "partial": self.partial,
            "error": self.error,
            "warnings": list(self.warnings),
            "hosts": {host: counts.to_dict() for host, counts in self.counts.items()},
            "stats": (
                None
                if self.stats is None
                else {host: counts.to_dict() for host, counts in self.stats.items()}
            ),
            "tasks": [_task_dict(result) for result in self.results],
        }


def _task_dict(result: TaskResult) -> dict[str, Any]:
    return {
        "host": result.host,
        "play": result.play,
        "task": result.task,
        "role": result.role,
        "module": result.module,
        "status": result.status.value,
        "start": result.start.isoformat() if result.start else None,
        "end": result.end.isoformat() if result.end else None,
        "duration": result.duration,
        "rc": result.rc,
        "message": result.message,
    }
