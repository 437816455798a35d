"""The `agentmaint` command line: rich tables for people, ``--json`` for scripts.

The front end over the whole pipeline; nothing in the library imports it.

Exit codes: 0 success, 2 invalid input or usage (with ``path: message`` lines
on standard error, never a traceback). This is the only package that prints.

Modules: `app` (the argument parser, dispatch and error boundary: `main`, `run`),
`output` (exit codes, printing), `options` (option values, the history and plan
commands read), one module per group of commands (`reading`: validate, plan,
windows; `running`: run; `render`; `history`: history, history import, recover;
`tryout`: demo, notify-test; `events`: events), `parsers` (the arguments of cancel, check,
daemon, report and timer, apart from their modules: building the parser loads no command),
`console` (rich rendering) and `demo` (the demo fleet).

`parse_instant` is imported on first use (it loads the schedule modules, which
``agentmaint events`` has no need of).
"""

from typing import TYPE_CHECKING, Any

from agentmaint.cli.app import main, run
from agentmaint.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_LOCKED, EXIT_OK

if TYPE_CHECKING:
    from agentmaint.cli.options import parse_instant

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_LOCKED",
    "EXIT_OK",
    "main",
    "parse_instant",
    "run",
]


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> Any:
        """Import `parse_instant` on first use, then keep it."""
        if name != "parse_instant":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from agentmaint.cli.options import parse_instant  # noqa: PLC0415 -- see the doc

        globals()[name] = parse_instant
        return parse_instant
