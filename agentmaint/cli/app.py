"""The command line's entry points: the argument parser, dispatch, the error boundary.

`main` maps a command to its function and turns agentmaint's errors into
``path: message`` lines on standard error and exit codes, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from agentmaint import __version__
from agentmaint.cli.cancel import add_cancel_parser, cancel_command
from agentmaint.cli.check import add_check_parser, check_command
from agentmaint.cli.daemon import add_daemon_parser, daemon_command
from agentmaint.cli.history import _events, _history, _recover
from agentmaint.cli.logs import CliLog, add_log_options, report_error
from agentmaint.cli.metrics import _metrics
from agentmaint.cli.output import EXIT_INVALID, EXIT_LOCKED, _print_json
from agentmaint.cli.reading import _plan, _validate, _windows
from agentmaint.cli.render import _render
from agentmaint.cli.running import _run
from agentmaint.cli.runs import _runs, _show, _status
from agentmaint.cli.timer import add_timer_parser, timer_command
from agentmaint.cli.tryout import _demo, _notify_test
from agentmaint.errors import AgentmaintError, LockHeldError, Problem, ScheduleError

__all__ = ["main", "run"]


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (its default, minus the usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


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
    validate.add_argument(
        "--no-secrets",
        action="store_true",
        help="check secret references (${VAR}, file:/path) for form only; read none (CI lint)",
    )

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

    _add_run(sub)
    add_daemon_parser(sub)
    add_check_parser(sub)

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

    _add_history(sub)
    _add_read_commands(sub)

    _metrics_parser(sub)

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
        help=(
            "where to create the demo fleet: a new or empty directory, or one an earlier "
            "demo created (reset each time); anything else is refused"
        ),
    )
    demo.add_argument("--json", action="store_true")

    add_cancel_parser(sub)
    add_timer_parser(sub)
    return _with_log_options(parser, sub.choices.values())


def _with_log_options(
    parser: argparse.ArgumentParser, commands: Iterable[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    """The logging options, before the command (`parser`) and after it (each of `commands`)."""
    add_log_options(parser, subcommand=False)
    for command in commands:
        add_log_options(command, subcommand=True)
        # Commands with their own subcommands (``timer render``) take them after those too.
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                for nested in action.choices.values():
                    add_log_options(nested, subcommand=True)
    return parser


def _add_run(sub: Any) -> None:
    """The ``run`` command's arguments."""
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
    run_cmd.add_argument(
        "--scheduled",
        action="store_true",
        help="started by a timer, cron or the daemon: outside a window or with nothing due, "
        "exit 0 with one line; an environment still locked by a previous run: exit 0 "
        "(execution.overlap: skip) or wait until the window closes (wait)",
    )
    run_cmd.add_argument(
        "--limit",
        action="append",
        dest="hosts",
        metavar="HOST",
        help="only these hosts: a name or a shell-style pattern such as 'web-*' (repeatable)",
    )
    run_cmd.add_argument(
        "--failed",
        metavar="RUN_ID|last",
        help="rerun now, regardless of windows, what failed or was unreachable in that run, "
        "on those hosts only (trigger relaunch)",
    )
    run_cmd.add_argument("--json", action="store_true", help="print the run record as JSON")


class _HistoryCommands(argparse._SubParsersAction):  # type: ignore[type-arg]
    """``history``'s subcommands; any other first word is the FILE of ``history FILE [filters]``.

    That form predates the subcommands and keeps working: it is the ``list`` subcommand.
    """

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        """Dispatch to the subcommand named first, else to ``list`` with every word."""
        if values[0] not in self._name_parser_map:
            values = [_HISTORY_LIST, *values]
        super().__call__(parser, namespace, values, option_string)


_HISTORY_LIST = "list"


class _HistoryParser(_Parser):
    """The ``history`` parser: its first word need not name a subcommand (see above)."""

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if not isinstance(action, _HistoryCommands):
            super()._check_value(action, value)


def _add_history(sub: Any) -> None:
    """The ``history`` command: list (the default), import, check and prune."""
    parser_class = sub._parser_class
    sub._parser_class = _HistoryParser
    history = sub.add_parser(
        "history",
        help="show the maintenance history: history [list] FILE [filters]; "
        "history import FILE ARTIFACT_DIR; history check FILE; "
        "history prune FILE (--older-than DURATION | --keep-last N)",
    )
    sub._parser_class = parser_class
    history.register("action", "history_commands", _HistoryCommands)
    words = history.add_subparsers(
        dest="history_command",
        required=True,
        parser_class=_Parser,
        action="history_commands",
        metavar="{list,import,check,prune} | FILE",
    )
    listing = words.add_parser(_HISTORY_LIST, help="the roll-up records, newest first (default)")
    listing.add_argument("file", type=Path)
    listing.add_argument("--environment", "-e")
    listing.add_argument("--component", "-c")
    listing.add_argument("--server", "-s")
    listing.add_argument("--since", help="ISO 8601 instant")
    listing.add_argument("--limit", "-n", type=int, default=None)
    fmt = listing.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")

    imported = words.add_parser("import", help="record a run made with ansible-runner directly")
    imported.add_argument("file", type=Path)
    imported.add_argument("artifact_dir", type=Path)

    check = words.add_parser("check", help="the full integrity check, exit 2 if damaged")
    check.add_argument("file", type=Path)
    check.add_argument("--json", action="store_true", help="machine-readable output")

    prune = words.add_parser(
        "prune",
        help="delete old runs with their records and run directories (never a running run)",
    )
    prune.add_argument("file", type=Path)
    keep = prune.add_mutually_exclusive_group(required=True)
    keep.add_argument("--older-than", metavar="DURATION", help="runs started longer ago (30d)")
    keep.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N runs")
    prune.add_argument("--json", action="store_true", help="machine-readable output")


def _add_read_commands(sub: Any) -> None:
    """``runs``, ``show`` and ``status``: read the history, never write it."""
    runs = sub.add_parser("runs", help="the recorded runs, newest first, with host counts")
    runs.add_argument("file", type=Path)
    runs.add_argument("--limit", "-n", type=int, default=None)
    runs.add_argument("--status", help="only runs with this status (successful, failed, ...)")
    runs.add_argument("--since", help="only runs started at or after this ISO 8601 instant")
    runs.add_argument("--json", action="store_true", help="machine-readable output")

    show = sub.add_parser("show", help="one run in full (RUN_ID, or last)")
    show.add_argument("file", type=Path)
    show.add_argument("run_id", metavar="RUN_ID|last")
    show.add_argument("--json", action="store_true", help="the run --json document of the run")

    status = sub.add_parser(
        "status", help="the fleet: last success, last outcome and next due per host"
    )
    status.add_argument("file", type=Path)
    status.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    status.add_argument("--json", action="store_true", help="machine-readable output")


def _metrics_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    metrics = sub.add_parser(
        "metrics",
        help="print the Prometheus metrics of the history and the plan (what metrics.textfile "
        "holds); reads the history, never writes it",
    )
    metrics.add_argument("file", type=Path)
    metrics.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")


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
        log = CliLog(args, stdout_terminal=out.is_terminal)
    except AgentmaintError as exc:
        err.print(f"agentmaint: error: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    with log:
        return _dispatch(args, out, err)


def _dispatch(args: argparse.Namespace, out: Console, err: Console) -> int:
    """Run the command; agentmaint's errors become lines on stderr (or log records) and codes."""
    try:
        return _COMMANDS[args.command](args, out)
    except ScheduleError as exc:
        if getattr(args, "json", False) and args.command == "validate":
            _print_json(
                {
                    "valid": False,
                    "problems": [_problem_json(p) for p in exc.problems],
                }
            )
        elif args.log_format == "json":
            problems = [p.located(exc.source) for p in exc.problems]
            report_error(
                args,
                err,
                f"{exc.source}: invalid schedule: {'; '.join(problems)}",
                problems=problems,
            )
        else:
            err.print(f"[bold red]{exc.source}[/]: invalid schedule", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem.located(exc.source)}", markup=False, highlight=False)
        return EXIT_INVALID
    except LockHeldError as exc:
        report_error(args, err, f"agentmaint: {exc}", environment=exc.environment)
        return EXIT_LOCKED
    except AgentmaintError as exc:
        report_error(args, err, f"agentmaint: error: {exc}")
        return EXIT_INVALID


def _problem_json(problem: Problem) -> dict[str, Any]:
    """A problem for ``validate --json``: its line only when the file is YAML."""
    shown: dict[str, Any] = {"path": problem.path, "message": problem.message}
    if problem.line is not None:
        shown["line"] = problem.line
    return shown


_COMMANDS: dict[str, Callable[[argparse.Namespace, Console], int]] = {
    "validate": _validate,
    "plan": _plan,
    "windows": _windows,
    "run": _run,
    "daemon": daemon_command,
    "check": check_command,
    "render": _render,
    "history": _history,
    "runs": _runs,
    "show": _show,
    "status": _status,
    "events": _events,
    "recover": _recover,
    "metrics": _metrics,
    "demo": _demo,
    "notify-test": _notify_test,
    "timer": timer_command,
    "cancel": cancel_command,
}


def run() -> NoReturn:
    """Entry point for ``python -m agentmaint``."""
    sys.exit(main())
