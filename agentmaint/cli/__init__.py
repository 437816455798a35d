"""The `agentmaint` command line: rich tables for people, ``--json`` for scripts.

Exit codes: 0 success, 2 invalid input or usage (with ``path: message`` lines
on standard error, never a traceback). This is the only module that prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentmaint import __version__
from agentmaint.ansible.events import ParsedRun, read_artifact_dir
from agentmaint.ansible.remote import ssh_argv, worker_command
from agentmaint.ansible.render import Target, targets_from_decisions
from agentmaint.ansible.slicing import Slice, slice_targets
from agentmaint.cli.console import LiveProgress, history_table, plan_table, result_table
from agentmaint.cli.demo import FAILING_HOST, create_demo
from agentmaint.config.durations import parse_duration
from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import LOCAL_NODE, Schedule
from agentmaint.errors import AgentmaintError, ScheduleError, UsageError
from agentmaint.history.delivery import Delivery
from agentmaint.history.store import (
    HistoryStore,
    MissingHistoryError,
    open_history,
    records_to_json,
    write_records_csv,
)
from agentmaint.maintenance import (
    RunResult,
    forced_plan,
    new_run_id,
    prepare_run_dir,
    run_maintenance,
)
from agentmaint.notify import send_test
from agentmaint.planning.history import HistoryReader, MemoryHistory
from agentmaint.planning.planner import Plan, plan
from agentmaint.planning.windows import upcoming_windows
from agentmaint.records import HostCounts, RunRecord
from agentmaint.run.importer import import_run
from agentmaint.run.locks import LockHeldError
from agentmaint.run.recovery import recover_history

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_LOCKED = 3


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (its default, minus the usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def parse_instant(text: str) -> datetime:
    """``--at`` values: ISO 8601, ``Z`` or an offset; without one the time is UTC; or ``now``."""
    if text == "now":
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--at: {text!r} is not an ISO 8601 date-time (e.g. 2026-11-23T01:30Z)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="agentmaint",
        description="Keep fleets serving AI agents patched, backed up and current.",
    )
    parser.add_argument("--version", action="version", version=f"agentmaint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    validate = sub.add_parser("validate", help="check a schedule file; report every problem")
    validate.add_argument("file", type=Path)
    validate.add_argument("--json", action="store_true", help="machine-readable output")

    plan_cmd = sub.add_parser("plan", help="show what is due now (or --at an instant)")
    _selection(plan_cmd)
    plan_cmd.add_argument("--json", action="store_true", help="machine-readable output")

    windows = sub.add_parser("windows", help="list the next maintenance windows")
    windows.add_argument("file", type=Path)
    windows.add_argument("--count", "-n", type=int, default=5, help="windows per environment")
    windows.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    windows.add_argument(
        "--environment",
        "-e",
        action="append",
        dest="environments",
        metavar="ENV",
        help="only this environment (repeatable)",
    )
    windows.add_argument("--json", action="store_true", help="machine-readable output")

    run_cmd = sub.add_parser("run", help="run what is due and record it")
    _selection(run_cmd)
    run_cmd.add_argument(
        "--force",
        action="store_true",
        help="run the chosen environments/components regardless of windows and history",
    )
    run_cmd.add_argument("--check", action="store_true", help="Ansible check mode (dry run)")
    run_cmd.add_argument(
        "--wait",
        type=str,
        default=None,
        metavar="DURATION",
        help="wait this long for a locked environment instead of exiting 3",
    )
    run_cmd.add_argument("--json", action="store_true", help="print the run record as JSON")

    render = sub.add_parser("render", help="write the inventory and playbook without running")
    _selection(render)
    render.add_argument("--out", type=Path, required=True, help="directory to write into")
    render.add_argument(
        "--force", action="store_true", help="all hosts of the chosen environments/components"
    )
    render.add_argument(
        "--node",
        help="only the slice of this execution node, as a self-contained job directory "
        "(for ansible-runner transmit, e.g. through Receptor)",
    )

    history = sub.add_parser(
        "history", help="show the maintenance history (or: history import FILE ARTIFACT_DIR)"
    )
    history.add_argument("args", nargs="+", metavar="FILE | import FILE ARTIFACT_DIR")
    history.add_argument("--environment", "-e")
    history.add_argument("--component", "-c")
    history.add_argument("--server", "-s")
    history.add_argument("--since", help="ISO 8601 instant")
    history.add_argument("--limit", "-n", type=int, default=None)
    fmt = history.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")

    recover = sub.add_parser(
        "recover", help="record the runs whose controller died (and upgrade the history)"
    )
    recover.add_argument("file", type=Path)
    recover.add_argument("--json", action="store_true", help="machine-readable output")

    events = sub.add_parser("events", help="parse an ansible-runner artifact directory")
    events.add_argument("artifact_dir", type=Path)
    events.add_argument("--json", action="store_true")

    notify_test = sub.add_parser(
        "notify-test", help="send a test message through every notification channel"
    )
    notify_test.add_argument("file", type=Path)
    notify_test.add_argument("--json", action="store_true", help="machine-readable output")

    demo = sub.add_parser("demo", help="set up the demo fleet and run a full maintenance cycle")
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path(".agentmaint-demo"),
        help="where to create the demo fleet (reset each time)",
    )
    demo.add_argument("--json", action="store_true")
    return parser


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path)
    parser.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    parser.add_argument(
        "--environment",
        "-e",
        action="append",
        dest="environments",
        metavar="ENV",
        help="only this environment (repeatable)",
    )
    parser.add_argument(
        "--component",
        "-c",
        action="append",
        dest="components",
        metavar="COMPONENT",
        help="only this component (repeatable)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _build_parser().parse_args(argv)
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        return _COMMANDS[args.command](args, out)
    except ScheduleError as exc:
        if getattr(args, "json", False) and args.command == "validate":
            _print_json(
                {
                    "valid": False,
                    "problems": [{"path": p.path, "message": p.message} for p in exc.problems],
                }
            )
        else:
            err.print(f"[bold red]{exc.source}[/]: invalid schedule", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False, highlight=False)
        return EXIT_INVALID
    except LockHeldError as exc:
        err.print(f"agentmaint: {exc}", markup=False, highlight=False)
        return EXIT_LOCKED
    except AgentmaintError as exc:
        err.print(f"agentmaint: error: {exc}", markup=False, highlight=False)
        return EXIT_INVALID


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _validate(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    hosts = sum(len(env.hosts) for env in schedule.environments.values())
    if args.json:
        _print_json(
            {
                "valid": True,
                "problems": [],
                "environments": len(schedule.environments),
                "components": len(schedule.components),
                "hosts": hosts,
            }
        )
        return EXIT_OK
    out.print(
        f"[green]valid[/]: {args.file}: {len(schedule.environments)} environment(s), "
        f"{hosts} host(s), {len(schedule.components)} component(s)",
        highlight=False,
    )
    return EXIT_OK


def _plan(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    result = _selected_plan(schedule, parse_instant(args.at), args)
    if args.json:
        _print_json(result.to_dict())
    else:
        _print_plan(result, schedule, out)
    return EXIT_OK


def _selected_plan(
    schedule: Schedule, at: datetime, args: argparse.Namespace, *, force: bool = False
) -> Plan:
    """The plan for the CLI's --environment/--component selection (all hosts with force)."""
    if force:
        return forced_plan(schedule, at, args.environments, args.components)
    with _history_reader(schedule) as history:
        return plan(
            schedule, history, at, environments=args.environments, components=args.components
        )


def _print_plan(result: Plan, schedule: Schedule, out: Console) -> None:
    sizes = {name: len(env.hosts) for name, env in schedule.environments.items()}
    out.print(plan_table(result, sizes))
    out.print(f"{len(result.due)} due, {len(result.not_due)} not due", highlight=False)


def _windows(args: argparse.Namespace, out: Console) -> int:
    if args.count < 1:
        raise UsageError("--count must be at least 1")
    schedule = load_schedule(args.file)
    at = parse_instant(args.at)
    names = args.environments or list(schedule.environments)
    unknown = [n for n in names if n not in schedule.environments]
    if unknown:
        raise UsageError(f"unknown environment(s): {', '.join(unknown)}")
    document: dict[str, Any] = {"at": at.astimezone(UTC).isoformat(), "environments": {}}
    for name in names:
        env = schedule.environments[name]
        rows = []
        for window in upcoming_windows(env.schedule, at, args.count):
            blackouts = [
                b
                for b in (*schedule.blackouts, *env.blackouts)
                if b.start < window.end and window.start < b.end
            ]
            rows.append(
                {
                    "start": window.local_start.isoformat(),
                    "end": window.local_end.isoformat(),
                    "start_utc": window.start.astimezone(UTC).isoformat(),
                    "end_utc": window.end.astimezone(UTC).isoformat(),
                    "last_start": window.last_start.astimezone(window.timezone).isoformat(),
                    "timezone": env.schedule.timezone.key,
                    "open": window.contains(at),
                    "blackouts": [b.reason or "blackout" for b in blackouts],
                }
            )
        document["environments"][name] = {"schedule": env.schedule.describe(), "windows": rows}
    if args.json:
        _print_json(document)
        return EXIT_OK
    for name, data in document["environments"].items():
        table = Table(title=f"{name}: {data['schedule']}", title_justify="left")
        for column in ("#", "Opens", "Closes", "Opens (UTC)"):
            table.add_column(column, no_wrap=True)
        table.add_column("Note")
        for index, row in enumerate(data["windows"], 1):
            note = "[bold green]open now[/]" if row["open"] else ""
            if row["blackouts"]:
                note = (
                    (note + " " if note else "")
                    + "[red]blackout: "
                    + ", ".join(row["blackouts"])
                    + "[/]"
                )
            zone = ZoneInfo(row["timezone"])
            start = datetime.fromisoformat(row["start"]).astimezone(zone)
            end = datetime.fromisoformat(row["end"]).astimezone(zone)
            closes = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %H:%M}"
            utc_start = datetime.fromisoformat(row["start_utc"])
            table.add_row(
                str(index),
                f"{start:%a %Y-%m-%d %H:%M %Z}",
                closes,
                f"{utc_start:%Y-%m-%d %H:%M}",
                note,
            )
        out.print(table)
    return EXIT_OK


@contextlib.contextmanager
def _history_reader(schedule: Schedule) -> Iterator[HistoryReader]:
    """The schedule's history opened read-only (read commands never write; no recovery).

    An empty history if none was created yet.
    """
    try:
        store = open_history(schedule.history_url, schedule.state_dir, readonly=True)
    except MissingHistoryError:
        store = None
    if store is None:
        yield MemoryHistory()
        return
    with store:
        yield store


def _recover(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    runs = recover_history(schedule.history_url, schedule.state_dir)
    if args.json:
        _print_json({"recovered": [_run_json(run) for run in runs]})
        return EXIT_OK
    for run in runs:
        out.print(f"recovered run {run.id} ({run.status.value}): {run.message}", highlight=False)
    if not runs:
        out.print("nothing to recover", highlight=False)
    return EXIT_OK


def _run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "trigger": run.trigger,
        "status": run.status.value,
        "started": run.started.isoformat(),
        "finished": run.finished.isoformat() if run.finished else None,
        "pid": run.pid,
        "controller": run.controller,
        "message": run.message,
    }


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
    at = parse_instant(args.at)
    wait = _duration_option("--wait", args.wait)
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
    )
    return _report(result, schedule, out, args.json, received)


def _run_with_display(
    schedule: Schedule, out: Console, *, as_json: bool, **options: Any
) -> tuple[RunResult, list[int]]:
    """Run maintenance with SIGINT/SIGTERM cancelling it, and live progress unless JSON.

    Returns the result and the signals received (empty when none interrupted the run).
    """
    with _cancel_on_signals() as (cancel, received):
        if as_json:
            return run_maintenance(schedule, cancel=cancel, **options), received
        with LiveProgress(out) as progress:
            result = run_maintenance(
                schedule,
                cancel=cancel,
                on_progress=progress,
                on_status=progress.status,
                **options,
            )
        return result, received


def _report(
    result: RunResult, schedule: Schedule, out: Console, as_json: bool, signals: list[int]
) -> int:
    if as_json:
        _print_json(result.to_dict())
    elif result.nothing_due:
        _print_plan(result.plan, schedule, out)
        out.print("nothing due", highlight=False)
    else:
        out.print(result_table(result))
        run = result.run
        assert run is not None
        out.print(f"history: agentmaint history {schedule.source}", highlight=False)
        if run.message:
            out.print(f"[red]{run.message}[/]", highlight=False)
        _print_deliveries(result.notifications, out, failures_only=False)
    if signals:
        return 128 + signals[0]
    return EXIT_OK if result.succeeded else EXIT_FAILED


def _print_deliveries(deliveries: Sequence[Delivery], out: Console, *, failures_only: bool) -> None:
    """One line per notification (channels and errors are already redacted)."""
    for d in deliveries:
        if d.delivered and not failures_only:
            out.print(
                f"notification {d.event.value}: delivered via {d.channel}",
                markup=False,
                highlight=False,
            )
        elif not d.delivered:
            out.print(
                f"notification {d.event.value}: FAILED via {d.channel} after {d.attempts} "
                f"attempt(s): {d.error}",
                style="red",
                markup=False,
                highlight=False,
            )


def _notify_test(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    deliveries = send_test(schedule)
    if args.json:
        _print_json({"deliveries": [d.to_dict() for d in deliveries]})
    elif not deliveries:
        out.print(f"{args.file}: no notification channels configured", highlight=False)
    else:
        _print_deliveries(deliveries, out, failures_only=False)
    return EXIT_OK if deliveries and all(d.delivered for d in deliveries) else EXIT_FAILED


def _duration_option(name: str, text: str | None) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from None


def _render(args: argparse.Namespace, out: Console) -> int:
    schedule = load_schedule(args.file)
    at = parse_instant(args.at)
    result = _selected_plan(schedule, at, args, force=args.force)
    targets = targets_from_decisions(result.due)
    if not targets:
        out.print("nothing due: nothing rendered (use --force to render anyway)")
        return EXIT_OK
    directory: Path = args.out
    if directory.exists():
        if any(directory.iterdir()):
            raise UsageError(f"--out: {directory} exists and is not empty")
        directory.rmdir()
    run_id = new_run_id(at)
    node = None
    if args.node is not None:
        part = _node_slice(schedule, targets, args.node)
        if part is None:
            out.print(f"nothing due on execution node {args.node}: nothing rendered")
            return EXIT_OK
        targets, node = part.targets, part.node
    job = prepare_run_dir(schedule, targets, run_id=run_id, directory=directory, node=node)
    out.print(f"inventory: {job.inventory}", highlight=False)
    out.print(f"playbook:  {job.private_data_dir / 'project' / job.playbook}", highlight=False)
    if node is not None:
        out.print(
            f"send with: ansible-runner transmit {job.private_data_dir} -p {job.playbook} "
            f"--ident {job.ident} | {shlex.join(ssh_argv(node, worker_command(node, job.ident)))} "
            f"| ansible-runner process {job.private_data_dir} --ident {job.ident}",
            highlight=False,
        )
        return EXIT_OK
    out.print(
        f"run with:  ANSIBLE_CONFIG={job.envvars['ANSIBLE_CONFIG']} ansible-playbook "
        f"-i {job.inventory} {job.private_data_dir / 'project' / job.playbook}",
        highlight=False,
    )
    return EXIT_OK


def _node_slice(schedule: Schedule, targets: tuple[Target, ...], name: str) -> Slice | None:
    """The slice a run would send to execution node `name` (``local``: the controller's)."""
    if name != LOCAL_NODE and schedule.execution.node(name) is None:
        known = ", ".join([*(n.name for n in schedule.execution.nodes), LOCAL_NODE])
        raise UsageError(f"--node: {name!r} is not an execution node (known: {known})")
    parts = [p for p in slice_targets(schedule, targets) if p.name == name]
    if not parts:
        return None
    return Slice(parts[0].index, parts[0].node, tuple(t for p in parts for t in p.targets))


def _history(args: argparse.Namespace, out: Console) -> int:
    words: list[str] = args.args
    if words[0] == "import":
        if len(words) != 3:
            raise UsageError("usage: agentmaint history import FILE ARTIFACT_DIR")
        return _history_import(Path(words[1]), Path(words[2]), out)
    if len(words) != 1:
        raise UsageError("usage: agentmaint history FILE [filters]")
    schedule = load_schedule(Path(words[0]))
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
    else:
        out.print(history_table(records))
    return EXIT_OK


def _history_import(file: Path, artifact_dir: Path, out: Console) -> int:
    schedule = load_schedule(file)
    parsed = read_artifact_dir(artifact_dir)
    with open_history(schedule.history_url, schedule.state_dir) as store:
        run = import_run(schedule, store, parsed, artifact_dir)
    out.print(f"imported run {run.id} ({run.status.value}) from {artifact_dir}", highlight=False)
    _print_partial(parsed, out)
    return EXIT_OK


def _print_partial(parsed: ParsedRun, out: Console) -> None:
    if parsed.partial:
        out.print("[yellow]partial: the artifact directory is incomplete[/]")
    for warning in parsed.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def _events(args: argparse.Namespace, out: Console) -> int:
    parsed = read_artifact_dir(args.artifact_dir)
    if args.json:
        _print_json(parsed.to_dict())
        return EXIT_OK
    table = Table(title=f"Tasks ({parsed.status.value})", title_justify="left")
    for column in ("Host", "Play", "Task", "Status", "Message"):
        table.add_column(column, overflow="fold")
    for result in parsed.results:
        table.add_row(
            result.host, result.play, result.task, result.status.value, result.message or ""
        )
    out.print(table)
    counts = Table(title="Per host", title_justify="left")
    counts.add_column("Host")
    for key in HostCounts().to_dict():
        counts.add_column(key)
    for host, host_counts in parsed.counts.items():
        counts.add_row(host, *(str(v) for v in host_counts.to_dict().values()))
    out.print(counts)
    _print_partial(parsed, out)
    if parsed.error:
        out.print(f"[red]{escape(parsed.error)}[/]", markup=True, highlight=False)
    return EXIT_OK


def _demo(args: argparse.Namespace, out: Console) -> int:
    schedule_file = create_demo(args.dir)
    schedule = load_schedule(schedule_file)
    at = datetime.now(UTC)
    if not args.json:
        out.print(
            f"demo fleet in {args.dir.resolve()} (schedule: {schedule_file})", highlight=False
        )
        with _history_reader(schedule) as history:
            _print_plan(plan(schedule, history, at), schedule, out)
    result, received = _run_with_display(schedule, out, as_json=args.json, at=at, trigger="demo")
    code = _report(result, schedule, out, args.json, received)
    if not args.json:
        with open_history(schedule.history_url, schedule.state_dir) as store:
            out.print(history_table(store.records(limit=20)))
        out.print(
            f"{FAILING_HOST} was meant to fail: its health check rejects the new configuration, "
            "which was rolled back from the backup; its model update was not attempted.",
            highlight=False,
        )
        out.print(
            f"next: agentmaint plan {schedule_file} (the updated hosts are no longer due)",
            highlight=False,
        )
    if received:
        return code
    # demo-3 is meant to fail and roll back: the demo succeeds when exactly that happened.
    return EXIT_OK if result.failed_hosts == (FAILING_HOST,) else EXIT_FAILED


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "validate": _validate,
    "plan": _plan,
    "windows": _windows,
    "run": _run,
    "render": _render,
    "history": _history,
    "events": _events,
    "recover": _recover,
    "demo": _demo,
    "notify-test": _notify_test,
}


def run() -> NoReturn:
    """Entry point for ``python -m agentmaint``."""
    sys.exit(main())
