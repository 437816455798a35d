"""Where the library's log goes from the command line: stderr and a file, text or JSON lines.

The library only logs (to the ``agentmaint`` loggers: `agentmaint.run.logging_observer`
tells a run's story); this module gives one command's records their handlers, for as
long as the command runs:

* stderr, always: WARNING and above by default; for ``run`` when stdout is not a
  terminal (a timer, cron, journald, a pipe), INFO, so that each finished action shows
  as it happens and the end of the run is summed up; for ``daemon``, INFO always (its
  decisions are all it says). Each ``-v`` is one level more
  (WARNING, INFO, DEBUG), each ``-q`` one less (ERROR, CRITICAL).
* ``--log-file PATH``: INFO by default (whoever asks for a file wants the run's
  story; ``-v``/``-q`` move it the same way), appended to, never truncated, created
  0600, never through a symlink.
* ``--log-format json``: one JSON object per line (``time`` in ISO 8601 UTC, ``level``,
  ``event``, ``message``, and ``run_id``, ``environment``, ``component``, ``host``,
  ``action``, ``status``, ``error`` when known); ``text``: ``time LEVEL message``.
  With JSON, the command's own error lines go to the log too, so that stderr holds
  nothing but JSON lines.

In text, what the command reports itself anyway (``run``: nothing due, an environment
locked; ``recover``: the runs it recovered; ``daemon``: a run skipped, nothing due or
locked) is not repeated on stderr; JSON lines and the log file keep every record.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from agentmaint.errors import UsageError
from agentmaint.nofollow import open_regular

if TYPE_CHECKING:  # made by the caller: ``agentmaint events --json`` never imports rich
    from rich.console import Console

__all__ = ["CliLog", "add_log_options", "report_error", "wrap_line"]

#: The library's root logger: every module logs to a child of it.
LOGGER = "agentmaint"
#: Record attributes (``extra``) a JSON line carries as keys when they are set, in order.
FIELDS = (
    "run_id",
    "environment",
    "component",
    "host",
    "action",
    "status",
    "error",
    "task",
    "hosts",
    "failed_hosts",
    "counts",
    "channel",
    "problems",
)
#: Events a command reports on its own (its one line, its error, its list): not repeated
#: as text on stderr.
_SAID_BY = {
    "run": frozenset({"nothing_due", "locked", "lock_wait_canceled"}),
    "recover": frozenset({"run_recovered", "run_recorded_late"}),
    # The daemon's own "skipped: nothing due at ..." / "skipped: previous run still going".
    "daemon": frozenset({"nothing_due", "locked"}),
}

_log = logging.getLogger(__name__)


def add_log_options(parser: argparse.ArgumentParser, *, subcommand: bool) -> None:
    """The global logging options, on the main parser and (`subcommand`) on each command's.

    A subcommand's parser leaves an option it was not given unset (``SUPPRESS``): given
    before the command, the main parser's value stands; after it, the command's wins.
    Counts are kept apart (``sub_verbose``) and added: ``-v run -v`` is two steps.
    """
    group = parser.add_argument_group("logging (before or after the command)")
    group.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=argparse.SUPPRESS if subcommand else "text",
        help="log lines on stderr (and --log-file) as text or one JSON object per line",
    )
    group.add_argument(
        "--log-file",
        type=Path,
        default=argparse.SUPPRESS if subcommand else None,
        metavar="PATH",
        help="also append the log to PATH (created 0600; a symlink is refused)",
    )
    prefix = "sub_" if subcommand else ""
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        dest=f"{prefix}verbose",
        help="log more (repeatable: INFO, then DEBUG)",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="count",
        default=0,
        dest=f"{prefix}quiet",
        help="log less (repeatable: ERROR, then CRITICAL)",
    )


def report_error(args: argparse.Namespace, console: Console, text: str, **fields: Any) -> None:
    """The command's error line: printed on `console`, or a log record with JSON logs."""
    if getattr(args, "log_format", "text") == "json":
        _log.error("%s", text, extra={"event": "error", **fields})
    else:
        console.print(text, markup=False, highlight=False)


class CliLog:
    """The ``agentmaint`` logger's handlers for one command; removed (and closed) on exit.

    Raises `UsageError` for a ``--log-file`` that cannot be used.
    """

    def __init__(
        self, args: argparse.Namespace, *, stdout_terminal: bool | Callable[[], bool]
    ) -> None:
        """Prepare the handlers for `args` (the parsed command line).

        `stdout_terminal` (or a function that tells) is asked only for ``run``.
        """
        steps = (
            args.quiet
            + getattr(args, "sub_quiet", 0)
            - args.verbose
            - getattr(args, "sub_verbose", 0)
        )
        # The daemon's decisions are its whole output: always at INFO.
        story = args.command == "daemon" or (
            args.command == "run"
            and not (stdout_terminal() if callable(stdout_terminal) else stdout_terminal)
        )
        formatter: logging.Formatter = (
            JsonFormatter() if args.log_format == "json" else TextFormatter()
        )
        stderr = _StderrHandler()
        stderr.setLevel(_level(logging.INFO if story else logging.WARNING, steps))
        stderr.setFormatter(formatter)
        said = _SAID_BY.get(args.command, frozenset())
        if args.log_format != "json" and said:
            stderr.addFilter(lambda record: getattr(record, "event", None) not in said)
        self._handlers: list[logging.Handler] = [stderr]
        if args.log_file is not None:
            handler = logging.StreamHandler(open_log_file(args.log_file))
            handler.setLevel(_level(logging.INFO, steps))
            handler.setFormatter(formatter)
            self._handlers.append(handler)
        self._saved: int | None = None

    @property
    def levels(self) -> tuple[int, ...]:
        """The level of each handler: stderr's, then the log file's (if any)."""
        return tuple(h.level for h in self._handlers)

    def __enter__(self) -> CliLog:
        """Attach the handlers (records still propagate: a caller's own handlers see them)."""
        logger = logging.getLogger(LOGGER)
        self._saved = logger.level
        for handler in self._handlers:
            logger.addHandler(handler)
        logger.setLevel(min(self.levels))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Detach and close the handlers; the logger is as it was."""
        logger = logging.getLogger(LOGGER)
        for handler in self._handlers:
            logger.removeHandler(handler)
            handler.close()
        if self._saved is not None:
            logger.setLevel(self._saved)
        for handler in self._handlers[1:]:
            assert isinstance(handler, logging.StreamHandler)
            handler.stream.close()


def open_log_file(path: Path) -> TextIO:
    """`path` opened for appending, line-buffered: created 0600, never through a symlink.

    Raises `UsageError` when it is a symlink, not a regular file, or cannot be opened.
    """
    # O_NONBLOCK: a FIFO without a reader would otherwise hang the open (it is refused).
    fd = open_regular(
        path,
        os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK,
        what="--log-file",
        hint="name the file itself",
        error=UsageError,
    )
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


class TextFormatter(logging.Formatter):
    """``2026-12-08T01:10:00.123Z INFO message``: one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line (a traceback, when logged, follows on its own lines)."""
        line = f"{_time(record)} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, event, message, then the known `FIELDS`."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        document: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "event": getattr(record, "event", None) or "log",
            "message": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (rich's live display swaps it).

    On a terminal, a text line longer than the terminal is wrapped at words, the rest
    indented, so that an 80-column terminal does not break it mid-word; anywhere else
    (a file, a pipe, journald, cron) and in JSON, each record stays one line.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record; wrapped to the terminal's width when text goes to one."""
        text = super().format(record)
        if not isinstance(self.formatter, TextFormatter) or not _is_terminal(self.stream):
            return text
        width = shutil.get_terminal_size().columns
        return "\n".join(wrap_line(line, width) for line in text.split("\n"))


def wrap_line(line: str, width: int) -> str:
    """`line` wrapped at words to `width`, continuation lines indented by two spaces.

    A word longer than the width (a path, a URL) is kept whole rather than cut.
    """
    if len(line) <= width or width < 20:
        return line
    return textwrap.fill(
        line,
        width=width,
        subsequent_indent="  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or exotic stream
        return False


def _level(base: int, steps: int) -> int:
    return min(max(base + 10 * steps, logging.DEBUG), logging.CRITICAL)


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
