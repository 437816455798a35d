"""What a notification says: the event a run is, its summary, and its plain text.

`summarize` turns a run's result into JSON-ready data that every channel
renders its own way (the webhook sends it as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from agentmaint.config.durations import format_duration
from agentmaint.config.schedule import NotifyEvent, Schedule
from agentmaint.records import Outcome, RunStatus
from agentmaint.run.results import RunResult

__all__ = ["NEEDS_ATTENTION", "event_of", "render_text", "summarize"]

NEEDS_ATTENTION = " (NEEDS ATTENTION: the host may be half-updated)"
_BAD = (Outcome.FAILED, Outcome.UNREACHABLE)
_BAD_RUN = (
    RunStatus.FAILED,
    RunStatus.TIMEOUT,
    RunStatus.ERROR,
    RunStatus.INTERRUPTED,
    RunStatus.CANCELED,
)


def event_of(result: RunResult) -> NotifyEvent | None:
    """The event a finished run is: success, partial, failure; None when nothing ran.

    ``partial``: some hosts failed (or the run ended badly) and others succeeded.
    ``failure``: no host succeeded and a host failed or the run ended badly.
    """
    run = result.run
    if run is None:
        return None
    succeeded = any(o.status is Outcome.SUCCESS for o in result.outcomes)
    bad = bool(result.failed_hosts) or run.status in _BAD_RUN
    if not bad:
        return NotifyEvent.SUCCESS
    return NotifyEvent.PARTIAL if succeeded else NotifyEvent.FAILURE


def summarize(schedule: Schedule, result: RunResult, event: NotifyEvent) -> dict[str, Any]:
    """What a notification says, as JSON-ready data (the webhook payload's ``summary``)."""
    history = f"agentmaint history {schedule.source}"
    run = result.run
    if event is NotifyEvent.TEST or run is None:
        return {
            "event": event.value,
            "title": "agentmaint: test notification",
            "text": f"This is a test message from agentmaint for {schedule.source}; "
            "if you can read it, this channel works.",
            "schedule": schedule.source,
            "history_command": history,
        }
    outcomes = [
        {
            "environment": o.environment,
            "component": o.component,
            "host": o.host,
            "status": o.status.value,
            "rolled_back": o.rolled_back,
            "error": o.error,
        }
        for o in result.outcomes
    ]
    hosts = list(dict.fromkeys(o.host for o in result.outcomes))
    failed = [o for o in outcomes if o["status"] == Outcome.FAILED.value]
    unreachable = [o for o in outcomes if o["status"] == Outcome.UNREACHABLE.value]
    rollbacks = [
        {
            "environment": o.environment,
            "component": o.component,
            "host": o.host,
            "status": o.actions[action].value,
        }
        for o in result.outcomes
        for action in o.actions
        if action.value == "rollback"
    ]
    end = run.finished or datetime.now(UTC)
    duration = max(end - run.started, timedelta(0))
    environments = list(run.environments)
    bad_hosts = list(result.failed_hosts)
    if event is NotifyEvent.START:
        headline = f"maintenance started on {', '.join(environments)}"
    elif event is NotifyEvent.SUCCESS:
        headline = f"{len(hosts)} host(s) maintained in {', '.join(environments)}"
    else:
        headline = f"{len(bad_hosts)} of {len(hosts)} host(s) failed in {', '.join(environments)}"
        if not hosts:
            headline = f"run {run.status.value} in {', '.join(environments)}"
    return {
        "event": event.value,
        "title": f"agentmaint {event.value}: "
        + ("[check mode, nothing changed] " if run.check_mode else "")
        + headline,
        "schedule": schedule.source,
        "run_id": run.id,
        "status": run.status.value,
        "trigger": run.trigger,
        "check": run.check_mode,
        "environments": environments,
        "components": list(run.components),
        "started": run.started.astimezone(UTC).isoformat(),
        "finished": run.finished.astimezone(UTC).isoformat() if run.finished else None,
        "duration_seconds": round(duration.total_seconds(), 3),
        "duration": format_duration(timedelta(seconds=round(duration.total_seconds()))) or "0s",
        "message": run.message,
        "unrecorded": None if result.unrecorded is None else result.unrecorded.to_dict(),
        "hosts": {
            "total": len(hosts),
            "succeeded": len([h for h in hosts if h not in bad_hosts]),
            "failed": bad_hosts,
        },
        "outcomes": outcomes,
        "failed": failed,
        "unreachable": unreachable,
        "rollbacks": rollbacks,
        "history_command": history,
    }


_COLUMNS = ("environment", "component", "host", "status", "rolled_back", "error")


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if key == "rolled_back":
        return "yes" if value else ""
    return "" if value is None else str(value)


def _table_text(rows: Sequence[dict[str, Any]]) -> str:
    headers = [c.replace("_", " ") for c in _COLUMNS]
    cells = [[_cell(r, c).replace("\n", " ") for c in _COLUMNS] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    widths[-1] = 0  # the error column is not padded

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in cells)])


def _problem_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    for row in [*summary["failed"], *summary["unreachable"]]:
        error = f": {row['error']}" if row["error"] else ""
        lines.append(
            f"{row['host']} ({row['environment']}/{row['component']}) {row['status']}{error}"
        )
    return lines


def _rollback_lines(summary: dict[str, Any]) -> list[str]:
    return [
        f"{r['host']} ({r['environment']}/{r['component']}): rollback {r['status']}"
        + (NEEDS_ATTENTION if r["status"] == Outcome.FAILED.value else "")
        for r in summary["rollbacks"]
    ]


def render_text(summary: dict[str, Any]) -> str:
    """The plain-text body of a notification."""
    if "run_id" not in summary:
        return f"{summary['title']}\n\n{summary['text']}\n"
    parts = [
        summary["title"],
        "",
        f"Run:          {summary['run_id']} ({summary['status']}, trigger {summary['trigger']}"
        + (", check mode" if summary["check"] else "")
        + ")",
        f"Environments: {', '.join(summary['environments'])}",
        f"Components:   {', '.join(summary['components'])}",
        f"Duration:     {summary['duration']}",
    ]
    if summary["message"]:
        parts.append(f"Message:      {summary['message']}")
    if summary.get("unrecorded"):
        parts.append(
            f"NOT RECORDED: the history could not take this run "
            f"({summary['unrecorded']['reason']}); the next agentmaint run or recover "
            "records it"
        )
    if summary["outcomes"]:
        parts += ["", _table_text(summary["outcomes"])]
    problems = _problem_lines(summary)
    if problems:
        parts += ["", "Failed and unreachable hosts:", *(f"  - {p}" for p in problems)]
    rollbacks = _rollback_lines(summary)
    if rollbacks:
        parts += ["", "Rollbacks:", *(f"  - {r}" for r in rollbacks)]
    parts += ["", f"Full history: {summary['history_command']}"]
    return "\n".join(parts) + "\n"
