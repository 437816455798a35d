"""The commands that read recorded runs: ``runs``, ``show`` and ``status``.

They open the history read-only (`_history_reader`): they never write it, and say
"No history yet" rather than print an empty table. Run ids, hosts, components, actions
and statuses are never wrapped (a 80-column terminal folds the other columns instead).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentmaint.cli.console import result_table
from agentmaint.cli.options import _history_reader, parse_instant, read_schedule
from agentmaint.cli.output import EXIT_INVALID, EXIT_OK, _print_deliveries, _print_json
from agentmaint.errors import UsageError
from agentmaint.history.store import HistoryStore
from agentmaint.records import RunStatus
from agentmaint.report.fleet import fleet_status
from agentmaint.run.stored import (
    RunSummary,
    last_run_id,
    run_summaries,
    stored_result,
    trigger_kind,
)

_NO_HISTORY = "No history yet"


def _runs(args: argparse.Namespace, out: Console) -> int:
    schedule = read_schedule(args.file, history=True)
    status = _run_status(args.status)
    since = parse_instant(args.since) if args.since else None
    with _history_reader(schedule) as history:
        summaries = (
            run_summaries(history, limit=args.limit, status=status, since=since)
            if isinstance(history, HistoryStore)
            else []
        )
    if args.json:
        _print_json([s.to_dict() for s in summaries])
    elif not summaries:
        out.print(_NO_HISTORY if status is None and since is None else "No run matches")
    else:
        out.print(runs_table(summaries))
    return EXIT_OK


def _run_status(text: str | None) -> RunStatus | None:
    if text is None:
        return None
    try:
        return RunStatus(text)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise UsageError(f"--status: {text!r} is not a run status ({known})") from None


def runs_table(summaries: list[RunSummary]) -> Table:
    """The run list: id, trigger, start, duration, status, host counts, message."""
    # Run ids and statuses stay whole at 80 columns: the light box leaves room; the
    # other columns fold.
    table = Table(
        title="Runs",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="Hosts: ok/failed/unreachable/skipped/rolled back",
        caption_justify="left",
    )
    table.add_column("Run", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Trigger", overflow="fold")
    table.add_column("Started UTC", overflow="fold")
    table.add_column("Took", overflow="fold")
    table.add_column("Hosts", overflow="fold")
    table.add_column("Message", overflow="fold")
    for summary in summaries:
        run, hosts = summary.run, summary.hosts
        trigger = summary.trigger + (" (force)" if summary.forced else "")
        if run.check_mode:
            trigger += " (check)"
        took = "" if summary.duration_s is None else _age(timedelta(seconds=summary.duration_s))
        table.add_row(
            run.id,
            run.status.value,
            trigger,
            f"{run.started.astimezone(UTC):%m-%d %H:%M}",
            took,
            f"{hosts.success}/{hosts.failed}/{hosts.unreachable}/{hosts.skipped}/"
            f"{hosts.rolled_back}",
            escape(run.message or ""),
        )
    return table


def _show(args: argparse.Namespace, out: Console) -> int:
    schedule = read_schedule(args.file, history=True)
    with _history_reader(schedule) as history:
        if not isinstance(history, HistoryStore):
            out.print(_NO_HISTORY)
            return EXIT_INVALID if args.run_id != "last" else EXIT_OK
        run_id = last_run_id(history) if args.run_id == "last" else args.run_id
        if run_id is None:
            out.print(_NO_HISTORY)
            return EXIT_OK
        result = stored_result(history, run_id)
    if result is None:
        raise UsageError(f"no such run: {args.run_id}")
    if args.json:
        _print_json(result.to_dict())
        return EXIT_OK
    run = result.run
    assert run is not None
    kind, forced = trigger_kind(run.trigger)
    out.print(
        f"run {run.id}: {run.status.value}, trigger {kind}{' (force)' if forced else ''}, "
        f"started {run.started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        + (f", finished {run.finished.astimezone(UTC):%H:%M:%S}" if run.finished else ""),
        markup=False,
        highlight=False,
    )
    if run.message:
        out.print(f"message: {run.message}", markup=False, highlight=False)
    out.print(f"artifacts: {run.artifact_dir or '-'}", markup=False, highlight=False)
    if result.outcomes:
        out.print(result_table(result))
    elif run.check_mode:
        out.print("check mode: a dry run; the history keeps no outcomes for it")
    else:
        out.print("no host outcomes recorded")
    attention = [o for o in result.outcomes if o.needs_attention]
    for outcome in attention:
        out.print(
            f"NEEDS ATTENTION: {outcome.component} on {outcome.host} ({outcome.environment}): "
            "the rollback failed",
            style="bold red",
            markup=False,
            highlight=False,
        )
    if result.notifications:
        _print_deliveries(result.notifications, out, failures_only=False)
    else:
        out.print("no notifications recorded", highlight=False)
    return EXIT_OK


def _status(args: argparse.Namespace, out: Console) -> int:
    schedule = read_schedule(args.file, history=True)
    at = parse_instant(args.at)
    with _history_reader(schedule) as history:
        fleet = fleet_status(schedule, history, at)
    rows = [row.to_dict() for row in fleet.rows]
    if args.json:
        _print_json({"at": at.astimezone(UTC).isoformat(), "hosts": rows})
        return EXIT_OK
    if not fleet.recorded:
        out.print(f"{_NO_HISTORY}: every host is due at its first window", highlight=False)
    out.print(status_table(rows, at))
    return EXIT_OK


def _age(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def status_table(rows: list[dict[str, object]], at: datetime) -> Table:
    """The fleet matrix: one row per environment, component and host."""
    table = Table(
        title=f"Fleet at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for column in ("Env", "Component", "Host", "Last"):
        table.add_column(column, no_wrap=True)
    table.add_column("Success (age)", overflow="fold")
    table.add_column("Next due (UTC)", overflow="fold")
    table.add_column("Reason", overflow="fold")
    for row in rows:
        success = row["last_success"]
        age = ""
        if isinstance(success, str):
            moment = datetime.fromisoformat(success)
            age = f"{moment:%m-%d %H:%M} ({_age(at - moment)})"
        due = row["next_due"]
        due_text = "now" if row["due_now"] else ""
        if isinstance(due, str) and not row["due_now"]:
            due_text = f"{datetime.fromisoformat(due):%Y-%m-%d %H:%M}"
        elif due is None:
            due_text = "-"
        last = str(row["last_outcome"])
        if row["needs_attention"]:
            last += " [bold red]NEEDS ATTENTION[/]"
        table.add_row(
            str(row["environment"]),
            str(row["component"]),
            str(row["host"]),
            last,
            age,
            due_text,
            escape(str(row["reason"])),
        )
    return table
