"""The `agentmaint` command line: rich tables for people, ``--json`` for scripts.

The front end over the whole pipeline; nothing in the library imports it.

Exit codes: 0 success, 2 invalid input or usage (with ``path: message`` lines
on standard error, never a traceback). This is the only package that prints.

Modules: `app` (the argument parser, dispatch and error boundary: `main`, `run`),
`output` (exit codes, printing), `options` (option values, the history and plan
commands read), one module per group of commands (`reading`: validate, plan,
windows; `running`: run; `render`; `history`: history, history import, events;
`tryout`: demo, notify-test), `console` (rich rendering) and `demo` (the demo
fleet).
"""

from agentmaint.cli.app import main, run
from agentmaint.cli.options import parse_instant
from agentmaint.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_LOCKED, EXIT_OK

__all__ = [
    "EXIT_FAILED",
    "EXIT_INVALID",
    "EXIT_LOCKED",
    "EXIT_OK",
    "main",
    "parse_instant",
    "run",
]
