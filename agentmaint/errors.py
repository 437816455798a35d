"""The exception tree of agentmaint: every exception it raises on purpose.

Each derives from `AgentmaintError` and from the built-in it resembles, so callers
may catch either (``except agentmaint.AgentmaintError`` catches them all)::

    Exception
    └── AgentmaintError                     anything agentmaint raises on purpose
        ├── ScheduleError (ValueError)      the schedule file is unreadable or invalid;
        │                                   carries every problem as `Problem(path, message, line)`
        ├── UsageError (ValueError)         an API argument or CLI option is invalid
        ├── CronError (ValueError)          a cron expression is invalid, or never matches
        ├── SecretReferenceError (ValueError)
        │                                   a ``${ENV_VAR}`` or ``file:`` secret cannot be
        │                                   resolved (the message names no value)
        ├── EventsError (ValueError)        an ansible-runner artifact directory is unreadable
        ├── StoreError (RuntimeError)       the history database cannot be opened, read or
        │   │                               written
        │   └── MissingHistoryError (FileNotFoundError)
        │                                   a history opened read-only was never created
        │                                   (readers take it as an empty history)
        ├── DeliveryTimeoutError (TimeoutError)
        │                                   a notification got no complete answer within
        │                                   its total deadline (kept in a failed Delivery)
        ├── DeliveryCanceledError (RuntimeError)
        │                                   a notification was abandoned because the run
        │                                   was cancelled (kept in a failed Delivery)
        ├── LockHeldError (RuntimeError)    another run holds an environment's lock
        │   │                               (the CLI exits 3; every other error exits 2)
        │   └── LockWaitCanceledError (RuntimeError)
        │                                   cancelled while waiting for a lock (``--wait``)
        ├── StateDirError (OSError)         the state directory cannot hold a run's history
        │                                   and artifacts
        └── MetricsError (OSError)          the metrics textfile cannot be written (its
                                            directory is not a real one, it is a symlink,
                                            ...); a run only logs it

This module imports nothing from agentmaint, so any module may import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "AgentmaintError",
    "CronError",
    "DeliveryCanceledError",
    "DeliveryTimeoutError",
    "EventsError",
    "LockHeldError",
    "LockWaitCanceledError",
    "MetricsError",
    "MissingHistoryError",
    "Problem",
    "ScheduleError",
    "SecretReferenceError",
    "StateDirError",
    "StoreError",
    "UsageError",
    "format_path",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a schedule file, located by its path inside the document.

    `path` uses dots between keys and brackets for list indexes and for keys
    that are not plain names, e.g. ``environments.production.update_schedule.time``,
    ``blackouts[0].end`` or ``environments.prod.hosts["web1.example.com"].ansible_port``.
    An empty path means the document as a whole.
    """

    path: str
    message: str
    #: The line of the YAML file where `path` is (1-based); None in a JSON file or in memory.
    #: Not part of equality: the same problem found twice is one problem.
    line: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        """Render as ``path: message`` (or just the message for the whole document)."""
        return f"{self.path}: {self.message}" if self.path else self.message

    def located(self, source: str) -> str:
        """``source:line: path: message`` when the line is known, else ``path: message``.

        The ``file:line:`` form is the one compilers use, which editors and terminals
        turn into a link to the line.
        """
        return f"{source}:{self.line}: {self}" if self.line is not None else str(self)


class AgentmaintError(Exception):
    """Base class of every error agentmaint raises on purpose."""


class ScheduleError(AgentmaintError, ValueError):
    """A schedule file could not be read or is invalid.

    `problems` lists every problem found, not just the first, so that one run of
    `agentmaint validate` shows all that needs fixing.
    """

    def __init__(self, source: str, problems: list[Problem]) -> None:
        """Record the file (or other source) and its problems."""
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p.located(source)}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{lines}")


class UsageError(AgentmaintError, ValueError):
    """An argument given to the API or the CLI is invalid."""


class CronError(AgentmaintError, ValueError):
    """A cron expression is invalid, or a search found no match.

    The message names the field and the problem, e.g. ``hour: 24 is out of
    range 0-23`` or ``never matches: day 30 does not occur in February``.
    """


class SecretReferenceError(AgentmaintError, ValueError):
    """A ``${ENV_VAR}`` or ``file:`` reference cannot be resolved; the message names no value."""


class EventsError(AgentmaintError, ValueError):
    """An ansible-runner artifact directory cannot be read at all."""


class StoreError(AgentmaintError, RuntimeError):
    """The history database cannot be opened, read or written."""


class MissingHistoryError(StoreError, FileNotFoundError):
    """A history opened read-only was never created (no file, or no history schema yet).

    A reader takes it as an empty history.
    """


class DeliveryTimeoutError(AgentmaintError, TimeoutError):
    """A notification got no complete answer within its total deadline."""


class DeliveryCanceledError(AgentmaintError, RuntimeError):
    """A notification was abandoned because the run was cancelled (SIGINT/SIGTERM)."""


class LockHeldError(AgentmaintError, RuntimeError):
    """Another run holds the lock of an environment this run needs."""

    def __init__(self, environment: str, holder: dict[str, object]) -> None:
        """Record the environment and what is known of the lock's holder."""
        self.environment = environment
        self.holder = holder
        super().__init__(f"environment {environment!r} is locked by another run ({self.who})")

    @property
    def who(self) -> str:
        """The holder as known from its lock: ``pid 12, controller c1, run ...``."""
        return ", ".join(f"{k} {v}" for k, v in self.holder.items()) or "unknown holder"


class LockWaitCanceledError(LockHeldError):
    """The run was cancelled (SIGINT/SIGTERM) while it waited for an environment's lock.

    Nothing was run: no host was touched and nothing was recorded.
    """

    def __init__(self, environment: str, holder: dict[str, object]) -> None:
        """Record the environment waited for and what is known of its holder."""
        super().__init__(environment, holder)
        #: The signal that cancelled the wait, when the CLI knows it.
        self.signal: int | None = None
        self.args = (
            f"cancelled while waiting for environment {environment!r}, locked by another "
            f"run ({self.who}): nothing was run",
        )


class StateDirError(AgentmaintError, OSError):
    """The state directory cannot hold a run's history and artifacts."""


class MetricsError(AgentmaintError, OSError):
    """The metrics textfile cannot be written; nothing was written (see `agentmaint.metrics`).

    A symlink in its place, or as its directory, is refused rather than followed.
    """


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(parts: Iterable[str | int]) -> str:
    """Render a document path: ``a.b[0].c``, quoting keys that are not plain names.

    >>> format_path(["environments", "prod", "hosts", "web1.example.com", "ansible_port"])
    'environments.prod.hosts["web1.example.com"].ansible_port'
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += "[" + json.dumps(part) + "]"
    return out
