"""The arguments of the commands whose work loads much: cancel, check, daemon, report, timer.

Apart from their commands' modules (`agentmaint.cli.cancel`, ...), which load the
schedule parser, the history, ansible-runner or the HTML report: building the whole
parser (every ``agentmaint`` invocation, ``--help`` included) loads only argparse, and a
command loads its own modules when it runs (`agentmaint.cli.app`'s dispatch).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentmaint.cli.helptext import EXITS_READ, add_command, add_environment_option, failed

__all__ = [
    "add_cancel_parser",
    "add_check_parser",
    "add_daemon_parser",
    "add_report_parser",
    "add_timer_parser",
]

_TIMER_EXITS: Mapping[int | str, str] = {
    0: "success",
    2: "invalid input, or systemd is not running here (install, remove)",
}


def add_cancel_parser(sub: Any) -> None:
    """The ``cancel`` command's arguments."""
    cancel = add_command(
        sub,
        "cancel",
        help="stop a running run (started by another process or controller) and wait for "
        "its end: exit 0 ended, 1 nothing running, 2 unknown run, 3 still running",
        examples=[
            "agentmaint cancel schedule.yaml",
            "agentmaint cancel schedule.yaml RUN_ID --timeout 10m --json",
        ],
        exit_codes={
            0: "the run ended (recorded canceled)",
            1: "no run was running",
            2: "no such run, or invalid input",
            3: "the run is still running after --timeout",
        },
    )
    cancel.add_argument(
        "run_id", nargs="?", metavar="RUN_ID", help="the run to stop (default: the one running)"
    )
    cancel.add_argument(
        "--timeout",
        default="5m",
        metavar="DURATION",
        help="how long to wait for the run to end (default 5m)",
    )
    cancel.add_argument("--json", action="store_true", help="machine-readable output")


def add_check_parser(sub: Any) -> None:
    """The ``check`` command's arguments."""
    check = add_command(
        sub,
        "check",
        help="preflight: check every host is ready for its window (reachable, Python, "
        "privileges, backup space, apt/dnf, docker, model root); changes nothing; "
        "exit 1 when any host is not ready",
        examples=[
            "agentmaint check schedule.yaml",
            "agentmaint check schedule.yaml -e production --json",
        ],
        exit_codes=failed("a host is not ready (each problem listed)"),
    )
    add_environment_option(check)
    check.add_argument("--json", action="store_true", help="machine-readable output")


def add_daemon_parser(sub: Any) -> None:
    """The ``daemon`` command's arguments."""
    daemon = add_command(
        sub,
        "daemon",
        help="run scheduled maintenance in the foreground when windows open (containers, "
        "hosts without systemd); reloads FILE when it changes; stops on SIGTERM/SIGINT",
        examples=[
            "agentmaint daemon schedule.yaml",
            "agentmaint daemon schedule.yaml --poll 15m --log-format json",
        ],
        exit_codes={
            0: "stopped by SIGTERM/SIGINT while it waited",
            2: "invalid schedule file (at start) or option",
            "128+N": "signal N cancelled a running maintenance (recorded canceled)",
        },
    )
    daemon.add_argument(
        "--poll",
        metavar="DURATION",
        help="also wake every DURATION inside open windows (retries hosts left due); "
        "default: window starts only",
    )


def add_report_parser(sub: Any) -> None:
    """The ``report`` command's arguments."""
    report = add_command(
        sub,
        "report",
        help="write an HTML report: fleet matrix, latest runs, one run's grid and timeline",
        description="Write one self-contained HTML report: the fleet matrix coloured by "
        "state, the latest runs with their durations, and one run in detail (hosts by "
        "actions, and a timeline of its tasks per host). The page is self-contained (inline "
        "CSS and SVG, no script, no external URL): open it from disk or send it as an "
        "attachment. It reads the history, never writes it.",
        examples=(
            "agentmaint report schedule.yaml --out report.html",
            "agentmaint report schedule.yaml --run last --out /srv/www/latest.html",
        ),
        exit_codes={
            0: "the report was written",
            2: "invalid schedule, no such run, or --out not writable (symlinks refused)",
        },
    )
    report.add_argument(
        "--run",
        default="last",
        metavar="RUN_ID|last",
        help="the run shown in detail (default: last, the latest run)",
    )
    report.add_argument(
        "--out", type=Path, required=True, metavar="PATH.html", help="the HTML file to write"
    )
    report.add_argument(
        "--at",
        default="now",
        metavar="ISO8601",
        help="the instant of the fleet matrix (default: now)",
    )


def add_timer_parser(sub: Any) -> None:
    """Add ``timer`` and its subcommands to the top-level subparsers `sub`."""
    timer = add_command(
        sub,
        "timer",
        help="run on a schedule: systemd timer units (or a crontab) for a schedule file",
        examples=[
            "agentmaint timer render schedule.yaml --out units/",
            "sudo agentmaint timer install schedule.yaml --poll 15m",
            "agentmaint timer status schedule.yaml",
        ],
        exit_codes=_TIMER_EXITS,
        file=False,
    )
    commands = timer.add_subparsers(
        dest="timer_command", required=True, metavar="COMMAND", help="what to do"
    )

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--name", help="units agentmaint-NAME.service/.timer (default: the file's stem)"
        )

    def calendar_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--poll",
            metavar="DURATION",
            help="also fire every DURATION inside each window (retries hosts left due)",
        )
        parser.add_argument(
            "--jitter",
            metavar="DURATION",
            help="RandomizedDelaySec (with FixedRandomDelay=true): spread hosts over DURATION",
        )

    render = add_command(
        commands,
        "render",
        help="write the units (or --cron: crontab lines)",
        examples=[
            "agentmaint timer render schedule.yaml --out units/",
            "agentmaint timer render schedule.yaml --cron >> /etc/cron.d/agentmaint",
        ],
        exit_codes=_TIMER_EXITS,
    )
    common(render)
    calendar_options(render)
    render.add_argument("--out", type=Path, help="directory to write into")
    render.add_argument(
        "--cron", action="store_true", help="crontab lines for hosts without systemd"
    )

    install_cmd = add_command(
        commands,
        "install",
        help="install and enable the timer (where systemd runs)",
        examples=["sudo agentmaint timer install schedule.yaml --poll 15m --jitter 5m"],
        exit_codes=_TIMER_EXITS,
    )
    common(install_cmd)
    calendar_options(install_cmd)

    remove = add_command(
        commands,
        "remove",
        help="disable and delete the units agentmaint wrote",
        examples=["sudo agentmaint timer remove schedule.yaml"],
        exit_codes=_TIMER_EXITS,
    )
    common(remove)

    status = add_command(
        commands,
        "status",
        help="next window starts next to the timer's next elapses; installed?",
        examples=["agentmaint timer status schedule.yaml -n 3 --json"],
        exit_codes=EXITS_READ,
    )
    common(status)
    status.add_argument("--count", "-n", type=int, default=5, help="starts per environment")
    status.add_argument("--json", action="store_true", help="machine-readable output")
