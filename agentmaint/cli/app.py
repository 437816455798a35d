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
from typing import TYPE_CHECKING, Any, NoReturn

from agentmaint.cli.helptext import (
    EXITS_READ,
    EXITS_RUN,
    add_command,
    add_environment_option,
    failed,
)
from agentmaint.cli.logs import CliLog, add_log_options, report_error
from agentmaint.cli.output import EXIT_INVALID, EXIT_LOCKED, _print_json
from agentmaint.cli.parsers import (
    add_cancel_parser,
    add_check_parser,
    add_daemon_parser,
    add_report_parser,
    add_timer_parser,
)
from agentmaint.errors import AgentmaintError, LockHeldError, Problem, ScheduleError

if TYPE_CHECKING:  # made on first use (see `_Consoles`)
    from rich.console import Console

__all__ = ["main", "run"]


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (its default, minus the usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser, sub = _top_parser()

    validate = add_command(
        sub,
        "validate",
        help="check a schedule file; report every problem",
        examples=[
            "agentmaint validate schedule.yaml",
            "agentmaint validate schedule.yaml --no-secrets --json   # in CI",
        ],
        exit_codes={0: "the schedule is valid", 2: "it is not: every problem is listed"},
    )
    _json_option(validate)
    validate.add_argument(
        "--no-secrets",
        action="store_true",
        help="check secret references (${VAR}, file:/path) for form only; read none (CI lint)",
    )

    plan_cmd = add_command(
        sub,
        "plan",
        help="show what is due now (or --at an instant)",
        examples=[
            "agentmaint plan schedule.yaml",
            "agentmaint plan schedule.yaml --at 2026-11-23T01:30Z -e production --json",
        ],
        exit_codes=EXITS_READ,
    )
    _selection(plan_cmd)
    _json_option(plan_cmd)

    windows = add_command(
        sub,
        "windows",
        help="list the next maintenance windows",
        examples=[
            "agentmaint windows schedule.yaml",
            "agentmaint windows schedule.yaml -n 10 -e production --json",
        ],
        exit_codes=EXITS_READ,
    )
    windows.add_argument("--count", "-n", type=int, default=5, help="windows per environment")
    windows.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    add_environment_option(windows)
    _json_option(windows)

    _add_run(sub)
    add_daemon_parser(sub)
    add_check_parser(sub)

    render = add_command(
        sub,
        "render",
        help="write the inventory and playbook without running",
        examples=[
            "agentmaint render schedule.yaml --out job/",
            "agentmaint render schedule.yaml --out job/ --force -e testing",
            "agentmaint render schedule.yaml --out job-gpu/ --node gpu-node   # a node's slice",
        ],
        exit_codes=EXITS_READ,
    )
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

    recover = add_command(
        sub,
        "recover",
        help="record the runs whose controller died (and upgrade the history)",
        examples=["agentmaint recover schedule.yaml", "agentmaint recover schedule.yaml --json"],
        exit_codes=EXITS_READ,
    )
    _json_option(recover)

    _add_events(sub)

    notify_test = add_command(
        sub,
        "notify-test",
        help="send a test message through every notification channel",
        examples=["agentmaint notify-test schedule.yaml"],
        exit_codes=failed("a channel did not deliver (or none is configured)"),
    )
    _json_option(notify_test)

    demo = add_command(
        sub,
        "demo",
        help="set up the demo fleet and run a full maintenance cycle",
        examples=["agentmaint demo", "agentmaint demo --dir /tmp/agentmaint-demo --json"],
        exit_codes=failed("the demo did not go as designed (only its one host fails)"),
        file=False,
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path(".agentmaint-demo"),
        help=(
            "where to create the demo fleet: a new or empty directory, or one an earlier "
            "demo created (reset each time); anything else is refused"
        ),
    )
    _json_option(demo)

    add_cancel_parser(sub)
    add_timer_parser(sub)
    add_report_parser(sub)
    return _with_log_options(parser, sub.choices.values())


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    """The parser before its commands: ``--version``, and where the commands go."""
    parser = _Parser(
        prog="agentmaint",
        description="Keep fleets serving AI agents patched, backed up and current.",
        epilog="Examples:\n"
        "  agentmaint validate schedule.yaml\n"
        "  agentmaint plan schedule.yaml\n"
        "  agentmaint run schedule.yaml\n"
        "  agentmaint COMMAND --help      (each command's options, examples, exit codes)\n"
        "\nExit codes:\n"
        "  0      success\n"
        "  1      a run, a check or a test message failed\n"
        "  2      invalid input: schedule file, option or argument\n"
        "  3      an environment is locked by another run\n"
        "  128+N  ended by signal N\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    return parser, parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=_Parser,
        metavar="COMMAND",
        help="what to do (agentmaint COMMAND --help: its options, examples and exit codes)",
    )


class _Version(argparse.Action):
    """``--version``: the installed version, read only when asked for (importlib.metadata)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from agentmaint import __version__  # noqa: PLC0415 -- on request only

        sys.stdout.write(f"agentmaint {__version__}\n")
        parser.exit()


def _add_events(sub: Any) -> None:
    events = add_command(
        sub,
        "events",
        help="parse an ansible-runner artifact directory",
        examples=[
            "agentmaint events .agentmaint/runs/RUN_ID/artifacts/RUN_ID",
            "agentmaint events ARTIFACT_DIR --json",
        ],
        exit_codes={0: "parsed (a partial directory is said so)", 2: "it cannot be read"},
        file=False,
    )
    events.add_argument(
        "artifact_dir",
        type=Path,
        help="the directory ansible-runner wrote (holding job_events/)",
    )
    _json_option(events)


def _events_parser() -> argparse.ArgumentParser:
    """The parser of ``agentmaint events ...`` alone: the same options and messages.

    Reading a big artifact directory should cost little more than reading its files: the
    whole parser imports no command's modules (`agentmaint.cli.parsers`), but still builds
    every command's options.
    """
    parser, sub = _top_parser()
    _add_events(sub)
    return _with_log_options(parser, sub.choices.values())


def _json_option(parser: argparse._ActionsContainer, text: str = "machine-readable output") -> None:
    """``--json``: what the command prints, as JSON (`text` says what it is)."""
    parser.add_argument("--json", action="store_true", help=text)


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
    run_cmd = add_command(
        sub,
        "run",
        help="run what is due and record it",
        examples=[
            "agentmaint run schedule.yaml",
            "agentmaint run schedule.yaml --force -e testing -c os --check   # dry run now",
            "agentmaint run schedule.yaml --failed last        # relaunch on the failed hosts",
            "agentmaint run schedule.yaml --scheduled          # from a timer, cron or the daemon",
        ],
        exit_codes=EXITS_RUN,
    )
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
    _json_option(run_cmd, "print the run record as JSON")


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


#: ``history list``'s own options: given first (``history -s web1 FILE``), they mean ``list``.
_HISTORY_LIST_OPTIONS = frozenset(
    {"-e", "--environment", "-c", "--component", "-s", "--server", "--since", "-n", "--limit"}
    | {"--json", "--csv"}
)


class _HistoryParser(_Parser):
    """The ``history`` parser: its first word need not name a subcommand (see above)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """``history -n 5 FILE`` is ``history list -n 5 FILE``, as ``history FILE -n 5`` is."""
        if args and args[0].split("=", 1)[0] in _HISTORY_LIST_OPTIONS:
            args = [_HISTORY_LIST, *args]
        return super().parse_known_args(args, namespace)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if not isinstance(action, _HistoryCommands):
            super()._check_value(action, value)


def _add_history(sub: Any) -> None:
    """The ``history`` command: list (the default), import, check and prune."""
    parser_class = sub._parser_class
    sub._parser_class = _HistoryParser
    history = add_command(
        sub,
        "history",
        help="show the maintenance history: history [list] FILE [filters]; "
        "history import FILE ARTIFACT_DIR; history check FILE; "
        "history prune FILE (--older-than DURATION | --keep-last N)",
        examples=[
            "agentmaint history schedule.yaml -e production --since 2026-11-01",
            "agentmaint history import schedule.yaml ARTIFACT_DIR",
            "agentmaint history check schedule.yaml",
            "agentmaint history prune schedule.yaml --older-than 90d",
        ],
        exit_codes={0: "success", 2: "invalid input, or (check) a damaged history"},
        file=False,
    )
    sub._parser_class = parser_class
    history.register("action", "history_commands", _HistoryCommands)
    words = history.add_subparsers(
        dest="history_command",
        required=True,
        parser_class=_Parser,
        action="history_commands",
        metavar="{list,import,check,prune} | FILE",
        help="what to do (default: list)",
    )
    listing = add_command(
        words,
        _HISTORY_LIST,
        help="the roll-up records, newest first (default)",
        examples=[
            "agentmaint history list schedule.yaml -n 20",
            "agentmaint history schedule.yaml -s web1 -c os --csv > web1.csv",
        ],
        exit_codes=EXITS_READ,
    )
    listing.add_argument("--environment", "-e", help="only this environment")
    listing.add_argument("--component", "-c", help="only this component")
    listing.add_argument("--server", "-s", help="only this host")
    listing.add_argument("--since", help="only records at or after this ISO 8601 instant")
    listing.add_argument(
        "--limit", "-n", type=int, default=None, help="at most N records (the newest)"
    )
    fmt = listing.add_mutually_exclusive_group()
    _json_option(fmt)
    fmt.add_argument("--csv", action="store_true", help="CSV with a header line")

    imported = add_command(
        words,
        "import",
        help="record a run made with ansible-runner directly",
        examples=["agentmaint history import schedule.yaml /srv/runner/artifacts/RUN_ID"],
        exit_codes=EXITS_READ,
    )
    imported.add_argument(
        "artifact_dir", type=Path, help="the run's artifact directory (holding job_events/)"
    )

    check = add_command(
        words,
        "check",
        help="the full integrity check, exit 2 if damaged",
        examples=["agentmaint history check schedule.yaml --json"],
        exit_codes={0: "the history is sound", 2: "it is damaged (each problem listed)"},
    )
    _json_option(check)

    prune = add_command(
        words,
        "prune",
        help="delete old runs with their records and run directories (never a running run)",
        examples=[
            "agentmaint history prune schedule.yaml --older-than 90d",
            "agentmaint history prune schedule.yaml --keep-last 100 --json",
        ],
        exit_codes=EXITS_READ,
    )
    keep = prune.add_mutually_exclusive_group(required=True)
    keep.add_argument("--older-than", metavar="DURATION", help="runs started longer ago (30d)")
    keep.add_argument("--keep-last", type=int, metavar="N", help="keep the newest N runs")
    _json_option(prune)


def _add_read_commands(sub: Any) -> None:
    """``runs``, ``show`` and ``status``: read the history, never write it."""
    runs = add_command(
        sub,
        "runs",
        help="the recorded runs, newest first, with host counts",
        examples=[
            "agentmaint runs schedule.yaml -n 10",
            "agentmaint runs schedule.yaml --status failed --since 2026-11-01 --json",
        ],
        exit_codes=EXITS_READ,
    )
    runs.add_argument("--limit", "-n", type=int, default=None, help="at most N runs (the newest)")
    runs.add_argument("--status", help="only runs with this status (successful, failed, ...)")
    runs.add_argument("--since", help="only runs started at or after this ISO 8601 instant")
    _json_option(runs)

    show = add_command(
        sub,
        "show",
        help="one run in full (RUN_ID, or last)",
        examples=[
            "agentmaint show schedule.yaml last",
            "agentmaint show schedule.yaml RUN_ID --json",
        ],
        exit_codes={0: "success (or no run yet, for last)", 2: "no such run, or invalid input"},
    )
    show.add_argument("run_id", metavar="RUN_ID|last", help="a run's id (see runs), or last")
    _json_option(show, "the run --json document of the run")

    status = add_command(
        sub,
        "status",
        help="the fleet: last success, last outcome and next due per host",
        examples=[
            "agentmaint status schedule.yaml",
            "agentmaint status schedule.yaml --at 2026-12-01T00:00Z --json",
        ],
        exit_codes=EXITS_READ,
    )
    status.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    _json_option(status)


def _metrics_parser(sub: argparse._SubParsersAction[_Parser]) -> None:
    metrics = add_command(
        sub,
        "metrics",
        help="print the Prometheus metrics of the history and the plan (what metrics.textfile "
        "holds); reads the history, never writes it",
        examples=[
            "agentmaint metrics schedule.yaml",
            "agentmaint metrics schedule.yaml | promtool check metrics",
        ],
        exit_codes=EXITS_READ,
    )
    metrics.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")


def _selection(parser: argparse.ArgumentParser) -> None:
    """``--at``, ``--environment`` and ``--component``: which plan (FILE comes first)."""
    parser.add_argument("--at", type=str, default="now", help="ISO 8601 instant (default: now)")
    add_environment_option(parser)
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
    consoles = _Consoles()
    try:
        log = CliLog(args, stdout_terminal=lambda: consoles.out.is_terminal)
    except AgentmaintError as exc:
        consoles.err.print(f"agentmaint: error: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    with log:
        return _dispatch(args, consoles)


class _Consoles:
    """The rich consoles of stdout and stderr, each made when first used.

    ``agentmaint events --json`` prints its JSON and nothing else: without a console to
    make, it never imports rich (about a sixth of its start-up in instructions).
    """

    def __init__(self) -> None:
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        """The console of standard output."""
        if self._out is None:
            from rich.console import Console  # noqa: PLC0415 -- on first use, see the class

            self._out = Console(soft_wrap=True)
        return self._out

    @property
    def err(self) -> Console:
        """The console of standard error."""
        if self._err is None:
            from rich.console import Console  # noqa: PLC0415 -- on first use, see the class

            self._err = Console(stderr=True, soft_wrap=True)
        return self._err


def _dispatch(args: argparse.Namespace, consoles: _Consoles) -> int:
    """Run the command; agentmaint's errors become lines on stderr (or log records) and codes."""
    try:
        if getattr(args, "json", False) and args.command in _JSON_COMMANDS:
            module, function = _JSON_COMMANDS[args.command]
            printer: Callable[[argparse.Namespace], int] = getattr(
                importlib.import_module(module), function
            )
            return printer(args)  # no console to make (see `_Consoles`)
        return _command(args.command)(args, consoles.out)
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
                consoles.err,
                f"{exc.source}: invalid schedule: {'; '.join(problems)}",
                problems=problems,
            )
        else:
            err = consoles.err
            err.print(f"[bold red]{exc.source}[/]: invalid schedule", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem.located(exc.source)}", markup=False, highlight=False)
        return EXIT_INVALID
    except LockHeldError as exc:
        report_error(args, consoles.err, f"agentmaint: {exc}", environment=exc.environment)
        return EXIT_LOCKED
    except AgentmaintError as exc:
        report_error(args, consoles.err, f"agentmaint: error: {exc}")
        return EXIT_INVALID


def _problem_json(problem: Problem) -> dict[str, Any]:
    """A problem for ``validate --json``: its line only when the file is YAML."""
    shown: dict[str, Any] = {"path": problem.path, "message": problem.message}
    if problem.line is not None:
        shown["line"] = problem.line
    return shown


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
    "report": ("agentmaint.cli.report", "report_command"),
}


# Commands whose ``--json`` output is printed without a console, by module: the function
# takes only the arguments (the JSON form of these commands needs no rich).
_JSON_COMMANDS: dict[str, tuple[str, str]] = {
    "events": ("agentmaint.cli.events", "print_events_json"),
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
