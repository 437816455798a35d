"""The commands that read recorded runs: ``runs``, ``show`` and ``status``.

They open the history read-only (`_history_reader`): they never write it, and say
"No history yet" rather than print an empty table. Run ids, hosts, components, actions
and statuses are never wrapped (a 80-column terminal folds the other columns instead).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentmaint.cli.console import FOLD, WHOLE, fitted_table, result_table
from agentmaint.cli.options import _history_reader, parse_instant, read_schedule
from agentmaint.cli.output import EXIT_INVALID, EXIT_OK, _print_deliveries, _print_json
from agentmaint.errors import UsageError
from agentmaint.history.store import HistoryStore
from agentmaint.records import RunRecord, RunStatus
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
        out.print(runs_table(summaries, out.width))
    return EXIT_OK


def _run_status(text: str | None) -> RunStatus | None:
    if text is None:
        return None
    try:
        return RunStatus(text)
    except ValueError:
        known = ", ".join(s.value for s in RunStatus)
        raise UsageError(f"--status: {text!r} is not a run status ({known})") from None


def runs_table(summaries: list[RunSummary], width: int | None = None) -> Table:
    """The run list: id and status, trigger, start, duration, hosts by outcome, message.

    Run ids, statuses, triggers and host counts stay whole at 80 columns (stacked in
    pairs when they cannot sit side by side); the start, duration and message wrap. The
    host counts are named (``3 ok``, ``1 failed``): no legend to look up.
    """
    rows = []
    for summary in summaries:
        run, hosts = summary.run, summary.hosts
        trigger = [summary.trigger]
        if summary.forced:
            trigger.append("(force)")
        if run.check_mode:
            trigger.append("(check)")
        took = "" if summary.duration_s is None else _age(timedelta(seconds=summary.duration_s))
        counts = [
            f"{count} {name}"
            for count, name in (
                (hosts.success, "ok"),
                (hosts.failed, "failed"),
                (hosts.unreachable, "unreachable"),
                (hosts.skipped, "skipped"),
                (hosts.rolled_back, "rolled back"),
                (hosts.needs_attention, "need attention"),
            )
            if count
        ]
        rows.append(
            (
                run.id,
                run.status.value,
                escape("\n".join(trigger)),
                f"{run.started.astimezone(UTC):%m-%d %H:%M}",
                took,
                "\n".join(counts) or "-",
                escape(run.message or ""),
            )
        )
    return fitted_table(
        "Runs (times UTC)",
        (
            ("Run", WHOLE, 0),
            ("Status", WHOLE, 0),
            ("Trigger", WHOLE, 0),
            ("Started", FOLD, 7),
            ("Took", FOLD, 4),
            ("Hosts", WHOLE, 0),
            ("Message", FOLD, 7),
        ),
        rows,
        width,
    )


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
    for line in run_heading(run):
        out.print(line, markup=False, highlight=False)
    if run.message:
        # Prose: wrapped at words to the terminal (the console soft-wraps by default).
        out.print(f"message: {run.message}", markup=False, highlight=False, soft_wrap=False)
    out.print(f"artifacts: {run.artifact_dir or '-'}", markup=False, highlight=False)
    if result.outcomes:
        out.print(result_table(result, out.width))
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


def run_heading(run: RunRecord) -> tuple[str, str]:
    """``show``'s first lines: the run and its status, then how and when it ran.

    Two lines, each within 80 columns, so that a terminal never breaks them mid-word.
    """
    kind, forced = trigger_kind(run.trigger)
    when = f"started {run.started.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if run.finished:
        when += f", finished {run.finished.astimezone(UTC):%H:%M:%S}"
    return (
        f"run {run.id}: {run.status.value}",
        f"trigger {kind}{' (force)' if forced else ''}, {when}",
    )


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
    out.print(status_table(rows, at, out.width))
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


def status_table(rows: list[dict[str, object]], at: datetime, width: int | None = None) -> Table:
    """The fleet matrix: one row per environment, component and host.

    Component, host and last outcome stay whole at 80 columns (stacked in pairs when
    they cannot sit side by side); the last success over the next due instant, and the
    planner's reason, wrap.
    """
    cells = []
    for row in rows:
        success = row["last_success"]
        when = "never"
        if isinstance(success, str):
            moment = datetime.fromisoformat(success)
            when = f"{moment:%Y-%m-%d %H:%M}\n({_age(at - moment)} ago)"
        due = row["next_due"]
        if row["due_now"]:
            when += "\ndue now"
        elif isinstance(due, str):
            moment = datetime.fromisoformat(due)
            when += f"\nnext in {_age(moment - at)}:\n{moment:%Y-%m-%d %H:%M}"
        else:
            when += "\nnot due"
        last = str(row["last_outcome"]).replace("_", " ")
        if row["needs_attention"]:
            last += "\n[bold red]needs[/]\n[bold red]attention[/]"
        cells.append(
            (
                escape(str(row["environment"])),
                escape(str(row["component"])),
                escape(str(row["host"])),
                last,
                when,
                escape(str(row["reason"])),
            )
        )
    return fitted_table(
        f"Fleet at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        (
            ("Environment", FOLD, 4),
            ("Component", WHOLE, 0),
            ("Host", WHOLE, 0),
            ("Last", WHOLE, 0),
            ("Success / Next", FOLD, 16),
            ("Reason", FOLD, 7),
        ),
        cells,
        width,
    )
