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

    `counts` are derived from the individual events; `stats` are the numbers of
    ``playbook_on_stats`` (None when the run never got there). `partial` is True
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
        """A JSON-ready summary: status, rc, partial, error, per-host counts, task results."""
        return {
            "status": self.status.value,
            "rc": self.rc,
            "partial": self.partial,
            "error": self.error,
            "hosts": {host: counts.to_dict() for host, counts in self.counts.items()},
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
