"""The command line's entry points: the argument parser, dispatch, the error boundary.

`main` maps a command to its function and turns agentmaint's errors into
``path: message`` lines on standard error and exit codes, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from agentmaint.cli.logs import CliLog, add_log_options, report_error
from agentmaint.cli.output import EXIT_INVALID, EXIT_LOCKED, _print_json
from agentmaint.errors import AgentmaintError, LockHeldError, ScheduleError

__all__ = ["main", "run"]


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (its default, minus the usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    # The commands that bring their own parsers, imported here: each loads its command's
    # modules, which `agentmaint events` (`_events_parser`) has no need of.
    from agentmaint.cli.cancel import add_cancel_parser  # noqa: PLC0415
    from agentmaint.cli.check import add_check_parser  # noqa: PLC0415
    from agentmaint.cli.daemon import add_daemon_parser  # noqa: PLC0415
    from agentmaint.cli.timer import add_timer_parser  # noqa: PLC0415

    parser, sub = _top_parser()

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

    _add_events(sub)

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


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    """The parser before its commands: ``--version``, and where the commands go."""
    parser = _Parser(
        prog="agentmaint",
        description="Keep fleets serving AI agents patched, backed up and current.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    return parser, parser.add_subparsers(dest="command", required=True, parser_class=_Parser)


class _Version(argparse.Action):
    """``--version``: the installed version, read only when asked for (importlib.metadata)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from agentmaint import __version__  # noqa: PLC0415 -- on request only

        sys.stdout.write(f"agentmaint {__version__}\n")
        parser.exit()


def _add_events(sub: Any) -> None:
    events = sub.add_parser("events", help="parse an ansible-runner artifact directory")
    events.add_argument("artifact_dir", type=Path)
    events.add_argument("--json", action="store_true")


def _events_parser() -> argparse.ArgumentParser:
    """The parser of ``agentmaint events ...`` alone: the same options and messages.

    Building the whole parser imports every command's modules (about 0.3 s); reading a
    big artifact directory should cost little more than reading its files.
    """
    parser, sub = _top_parser()
    _add_events(sub)
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
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _events_parser() if argv[:1] == ["events"] else _build_parser()
    args = parser.parse_args(argv)
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
        return _command(args.command)(args, out)
    except ScheduleError as exc:
        if getattr(args, "json", False) and args.command == "validate":
            _print_json(
                {
                    "valid": False,
                    "problems": [{"path": p.path, "message": p.message} for p in exc.problems],
                }
            )
        elif args.log_format == "json":
            problems = [str(p) for p in exc.problems]
            report_error(
                args,
                err,
                f"{exc.source}: invalid schedule: {'; '.join(problems)}",
                problems=problems,
            )
        else:
            err.print(f"[bold red]{exc.source}[/]: invalid schedule", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False, highlight=False)
        return EXIT_INVALID
    except LockHeldError as exc:
        report_error(args, err, f"agentmaint: {exc}", environment=exc.environment)
        return EXIT_LOCKED
    except AgentmaintError as exc:
        report_error(args, err, f"agentmaint: error: {exc}")
        return EXIT_INVALID


# Each command's function, by module: imported when the command runs, so that a command
# loads only its own modules.
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("agentmaint.cli.reading", "_validate"),
    "plan": ("agentmaint.cli.reading", "_plan"),
    "windows": ("agentmaint.cli.reading", "_windows"),
    "run": ("agentmaint.cli.running", "_run"),
    "daemon": ("agentmaint.cli.daemon", "daemon_command"),
    "check": ("agentmaint.cli.check", "check_command"),
    "render": ("agentmaint.cli.render", "_render"),
    "history": ("agentmaint.cli.history", "_history"),
    "runs": ("agentmaint.cli.runs", "_runs"),
    "show": ("agentmaint.cli.runs", "_show"),
    "status": ("agentmaint.cli.runs", "_status"),
    "events": ("agentmaint.cli.events", "events_command"),
    "recover": ("agentmaint.cli.history", "_recover"),
    "metrics": ("agentmaint.cli.metrics", "_metrics"),
    "demo": ("agentmaint.cli.tryout", "_demo"),
    "notify-test": ("agentmaint.cli.tryout", "_notify_test"),
    "timer": ("agentmaint.cli.timer", "timer_command"),
    "cancel": ("agentmaint.cli.cancel", "cancel_command"),
}


def _command(name: str) -> Callable[[argparse.Namespace, Console], int]:
    module, function = _COMMANDS[name]
    command: Callable[[argparse.Namespace, Console], int] = getattr(
        importlib.import_module(module), function
    )
    return command


def run() -> NoReturn:
    """Entry point for ``python -m agentmaint``."""
    sys.exit(main())
