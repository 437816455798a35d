"""The commands on recorded runs: ``history`` (``import``, ``check``, ``prune``), ``recover``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from agentmaint.cli.console import history_table
from agentmaint.cli.options import (
    _duration_option,
    _history_reader,
    parse_instant,
    read_schedule,
)
from agentmaint.cli.output import EXIT_INVALID, EXIT_OK, _print_json, _print_partial
from agentmaint.config.schedule import Schedule
from agentmaint.errors import MissingHistoryError, UsageError
from agentmaint.history.db import check_database, check_sqlite_file, is_sqlite_file
from agentmaint.history.store import HistoryStore, open_history, records_to_json, write_records_csv
from agentmaint.records import RunStatus
from agentmaint.run.importer import import_run, read_import
from agentmaint.run.recorder import remove_run_directory
from agentmaint.run.recovery import recover_history


def _history(args: argparse.Namespace, out: Console) -> int:
    command: str = args.history_command
    if command == "check":
        return _history_check(args.file, out, as_json=args.json)
    if command == "import":
        return _history_import(args.file, args.artifact_dir, out)
    if command == "prune":
        return _history_prune(args, out)
    schedule = read_schedule(args.file, history=True)
    since = parse_instant(args.since) if args.since else None
    with _history_reader(schedule) as history:
        records = (
            history.records(
                environment=args.environment,
                component=args.component,
                server=args.server,
                since=since,
                limit=args.limit,
            )
            if isinstance(history, HistoryStore)
            else []
        )
    if args.json:
        sys.stdout.write(records_to_json(records) + "\n")
    elif args.csv:
        write_records_csv(records, sys.stdout)
    elif not records:
        out.print(_no_records(schedule, args), markup=False, highlight=False)
    else:
        out.print(history_table(records, out.width))
    return EXIT_OK


def _no_records(schedule: Schedule, args: argparse.Namespace) -> str:
    """What an empty listing says instead of an empty table: why nothing is shown."""
    hosts = {h for env in schedule.environments.values() for h in env.host_names}
    if args.server is not None and args.server not in hosts:
        return f"{args.server}: no such host in the schedule, and no history for it"
    if args.environment is not None and args.environment not in schedule.environments:
        return f"{args.environment}: no such environment in the schedule, and no history for it"
    if args.component is not None and args.component not in schedule.components:
        return f"{args.component}: no such component in the schedule, and no history for it"
    if args.server or args.environment or args.component or args.since:
        return "No record matches"
    return "No history yet"


def _history_prune(args: argparse.Namespace, out: Console) -> int:
    """Delete old runs (records, results, run directories); a running run is never pruned."""
    if args.keep_last is not None and args.keep_last < 0:
        raise UsageError("--keep-last must be 0 or more")
    older = _duration_option("--older-than", args.older_than)
    schedule = read_schedule(args.file, history=True)
    try:
        store = open_history(schedule.history_url, schedule.state_dir, readonly=True)
    except MissingHistoryError:
        out.print("No history yet (nothing to prune)", highlight=False)
        return EXIT_OK
    store.close()
    with open_history(schedule.history_url, schedule.state_dir) as store:
        cutoff = None if older is None else datetime.now(UTC) - older
        pruned = store.prune(cutoff, keep_last=args.keep_last)
        running = [run.id for run in store.runs(status=RunStatus.RUNNING)]
    removed = [remove_run_directory(schedule.state_dir, run) for run in pruned]
    if args.json:
        _print_json(
            {
                "pruned": [run.id for run in pruned],
                "removed_directories": [str(path) for path in removed if path is not None],
                "kept_running": running,
            }
        )
        return EXIT_OK
    out.print(
        f"pruned {len(pruned)} run(s), removed {sum(p is not None for p in removed)} run "
        "director(ies)",
        highlight=False,
    )
    for run in pruned:
        out.print(f"  {run.id} ({run.status.value})", markup=False, highlight=False)
    for run_id in running:
        out.print(f"kept {run_id}: still running", markup=False, highlight=False)
    return EXIT_OK


def _history_import(file: Path, artifact_dir: Path, out: Console) -> int:
    schedule = read_schedule(file, history=True)
    with open_history(schedule.history_url, schedule.state_dir) as store:
        parsed = read_import(store, artifact_dir)
        run = import_run(schedule, store, parsed, artifact_dir)
    out.print(f"imported run {run.id} ({run.status.value}) from {artifact_dir}", highlight=False)
    _print_partial(parsed, out)
    return EXIT_OK


def _history_check(file: Path, out: Console, *, as_json: bool) -> int:
    """The full integrity check of FILE's history, or of FILE itself if it is a SQLite file."""
    if is_sqlite_file(file):  # a history file itself (a backup to check before restoring it)
        report = check_sqlite_file(file)
    else:
        schedule = read_schedule(file, history=True)
        url = schedule.history_url.reveal() if schedule.history_url is not None else None
        report = check_database(url, schedule.state_dir)
    code = EXIT_OK if report.ok else EXIT_INVALID
    if as_json:
        _print_json(
            {
                "location": report.location,
                "exists": report.exists,
                "ok": report.ok,
                "checked": report.checked,
                "problems": list(report.problems),
            }
        )
        return code
    if not report.exists:
        out.print(f"{report.location}: no history yet (nothing to check)", highlight=False)
    elif report.ok:
        out.print(f"{report.location}: ok (checked: {report.checked})", highlight=False)
    else:
        out.print(f"{report.location}: {len(report.problems)} problem(s)", highlight=False)
        for problem in report.problems:
            out.print(f"  {problem}", markup=False, highlight=False)
        out.print(
            "Move it aside and restore the history from a backup that this command finds "
            "sound; `sqlite3 FILE .recover` may salvage a damaged SQLite file.",
            highlight=False,
        )
    return code


def _recover(args: argparse.Namespace, out: Console) -> int:
    schedule = read_schedule(args.file, history=True)
    runs = recover_history(schedule.history_url, schedule.state_dir)
    if args.json:
        _print_json({"recovered": [run.to_dict() for run in runs]})
        return EXIT_OK
    for run in runs:
        out.print(f"recovered run {run.id} ({run.status.value}): {run.message}", highlight=False)
    if not runs:
        out.print("nothing to recover", highlight=False)
    return EXIT_OK
