"""The ``run`` command: a run cancelled by SIGINT/SIGTERM, live progress, the report."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console

from agentmaint.cli.logs import report_error
from agentmaint.cli.metrics import _write_metrics_quietly
from agentmaint.cli.options import _duration_option, parse_instant
from agentmaint.cli.output import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    _print_deliveries,
    _print_json,
)
from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import LockHeldError, LockWaitCanceledError
from agentmaint.history.store import open_history
from agentmaint.maintenance import run_maintenance
from agentmaint.records import Action, RunRecord
from agentmaint.run.relaunch import find_run
from agentmaint.run.results import RunResult, Unrecorded

if TYPE_CHECKING:
    from agentmaint.cli.live import LiveProgress


@contextlib.contextmanager
def _cancel_on_signals() -> Iterator[tuple[threading.Event, list[int]]]:
    """SIGINT/SIGTERM set the event (the run cancels and records itself) instead of raising."""
    cancel = threading.Event()
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        cancel.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel, received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    # None: "now" when each stage needs it (the metrics written at the end of a run plan
    # at the end, not at the start).
    at = None if args.at == "now" else parse_instant(args.at)
    wait = _duration_option("--wait", args.wait)
    if args.failed is not None:
        # "last" named once, here: the run relaunched and the line below say the same run.
        with open_history(schedule.history_url, schedule.state_dir) as history:
            args.failed = find_run(history, args.failed).id
    try:
        result, received = _run_with_display(
            schedule,
            out,
            as_json=args.json,
            at=at,
            environments=args.environments,
            components=args.components,
            force=args.force,
            check=args.check,
            lock_wait=wait,
            scheduled=args.scheduled,
            hosts=args.hosts,
            relaunch=args.failed,
        )
    except LockWaitCanceledError as exc:
        report_error(args, Console(stderr=True, soft_wrap=True), f"agentmaint: {exc}")
        return 128 + exc.signal if exc.signal else EXIT_LOCKED
    except LockHeldError as exc:
        if not args.scheduled:
            raise
        # A timer firing while the previous run still goes is not an error: that run does
        # the work; the next tick (or window) sees what is left.
        _one_line(out, args.json, f"previous run still going: {exc}", skipped="locked")
        _write_metrics_quietly(schedule, at)
        return EXIT_OK
    if result.nothing_due:
        # Every trigger refreshes the metrics: the window and what is due change with time.
        _write_metrics_quietly(schedule, at)
    if result.nothing_due and args.failed and not args.json:
        out.print(
            f"nothing failed or was unreachable in run {args.failed}: nothing to relaunch",
            markup=False,
            highlight=False,
        )
        return EXIT_OK
    if result.nothing_due and (args.scheduled or not args.json):
        when = result.plan.at.strftime("%Y-%m-%d %H:%M UTC")
        _one_line(
            out,
            args.json,
            f"nothing due at {when} (agentmaint plan {schedule.source} shows why)",
            skipped="nothing due",
            document=result.to_dict(),
        )
        return EXIT_OK
    return _report(result, schedule, out, args.json, received)


def _one_line(
    out: Console,
    as_json: bool,
    line: str,
    *,
    skipped: str,
    document: dict[str, Any] | None = None,
) -> None:
    """What a run that did nothing says: one line, or its JSON document with the reason."""
    if as_json:
        _print_json({**(document or {"run": None}), "skipped": skipped, "message": line})
    else:
        out.print(line, markup=False, highlight=False)


def _run_with_display(
    schedule: Schedule, out: Console, *, as_json: bool, **options: Any
) -> tuple[RunResult, list[int]]:
    """Run maintenance with SIGINT/SIGTERM cancelling it, and live progress on a terminal.

    Without a terminal (or with JSON), the progress is the log's: one line per finished
    action and host on stderr as it happens (`agentmaint.cli.logs`). Returns the result
    and the signals received (empty when none interrupted the run).
    """
    with _cancel_on_signals() as (cancel, received), _signal_noted(received):
        if as_json or not out.is_terminal:
            return run_maintenance(schedule, cancel=cancel, **options), received
        with _live_view(schedule, out) as progress:
            result = run_maintenance(schedule, cancel=cancel, observers=[progress], **options)
        return result, received


def _live_view(schedule: Schedule, out: Console) -> LiveProgress:
    """The live view, told which step ends each component and each environment's batches."""
    # Imported here, as `result_table` is: rich's live display and tables are for a
    # terminal; a run with --json or from a timer does without them (about 30 ms).
    from agentmaint.cli.live import LiveProgress  # noqa: PLC0415

    final = {
        name: Action.HEALTHCHECK if component.healthcheck is not None else Action.UPDATE
        for name, component in schedule.components.items()
    }
    serial = {name: env.rollout.serial for name, env in schedule.environments.items()}
    return LiveProgress(out, final_actions=final, serial=serial)


@contextlib.contextmanager
def _signal_noted(received: list[int]) -> Iterator[None]:
    """A lock wait cut short by a signal carries the signal (the exit code is 128 + it)."""
    try:
        yield
    except LockWaitCanceledError as exc:
        exc.signal = received[0] if received else None
        raise


def _report(
    result: RunResult, schedule: Schedule, out: Console, as_json: bool, signals: list[int]
) -> int:
    if as_json:
        _print_json(result.to_dict())
    elif result.nothing_due:
        out.print("nothing due", highlight=False)
    else:
        from agentmaint.cli.console import result_table  # noqa: PLC0415 -- see _live_view

        out.print(result_table(result, out.width))
        run = result.run
        assert run is not None
        out.print(f"history: agentmaint history {schedule.source}", highlight=False)
        if run.message:
            out.print(f"[red]{run.message}[/]", highlight=False)
        _print_deliveries(result.notifications, out, failures_only=False)
        if result.unrecorded is not None:
            _print_unrecorded(result.unrecorded, run, schedule, out)
    if signals:
        return 128 + signals[0]
    return EXIT_OK if result.succeeded else EXIT_FAILED


def _print_unrecorded(
    unrecorded: Unrecorded, run: RunRecord, schedule: Schedule, out: Console
) -> None:
    """Say that the run is not in the history yet, why, and what records it."""
    if unrecorded.kept_in is not None:
        kept = (
            f"its results are kept in {unrecorded.kept_in}; the next `agentmaint run "
            f"{schedule.source}` or `agentmaint recover {schedule.source}` records them"
        )
    else:
        kept = (
            f"its results could not be kept either: they are only in its artifacts "
            f"({run.artifact_dir}); `agentmaint recover {schedule.source}` records what they "
            "hold (as interrupted)"
        )
    out.print(
        f"warning: run {run.id} is NOT recorded in the history yet ({unrecorded.reason}); {kept}",
        style="bold yellow",
        markup=False,
        highlight=False,
    )
