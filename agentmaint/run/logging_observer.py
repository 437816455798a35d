"""The story of a run in the log: what was planned, refused, started, done, how it ended.

Everything goes to the ``agentmaint`` logger hierarchy, never to a stream: whoever runs
the library (the CLI, a caller's own program) decides where log records go and how they
look. Every record carries an ``event``, a short stable name a log shipper can filter on,
and, when known, the fields ``run_id``, ``environment``, ``component``, ``host``,
``action``, ``status`` and ``error`` (as `logging` ``extra`` attributes, so that a
formatter can put them in keys)::

    planned / nothing_due / not_due   what the plan decided (not_due: DEBUG)
    locks_taken / locked / lock_wait_canceled   the environments' locks (taken: DEBUG)
    run_started                       the run's id, what it does, on how many hosts
    task_finished                     one line per finished action and host
    run_finished                      the status, the outcomes counted, the failed hosts

Levels: INFO tells the run's story; WARNING a problem (a failed or unreachable host, a
run that did not succeed); DEBUG the detail (tasks that are no maintenance action,
decisions that are not due, locks taken). A refused lock is INFO: whether it is a
problem is the caller's to say (a timer finding the previous run still going is not).

The only free text from hosts is a failed task's message: it goes through
`RunLog`'s redaction of the schedule's secret values, like everything it logs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from agentmaint.ansible.budget import GATE
from agentmaint.ansible.naming import INTERNAL, TASK_SEPARATOR
from agentmaint.errors import LockHeldError, LockWaitCanceledError
from agentmaint.planning.planner import Plan, format_instant
from agentmaint.records import RunRecord, TaskStatus
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import Progress, RunResult

__all__ = ["RunLog", "log_lock_refused", "log_locks_taken", "log_plan"]

_log = logging.getLogger(__name__)


def _internal_step(task: str) -> str:
    """What a task that is no action is called in a log line (never its raw name).

    The rescue's final ``Failed | <component>`` task is how a failed host ends its
    component ("maintenance failed: ..."); the error budget's gate is "error budget".
    """
    head = task.partition(TASK_SEPARATOR)[0]
    if head == INTERNAL:
        return "maintenance"
    if head == GATE:
        return "error budget"
    return task


#: A task message longer than this is cut in the log (the history keeps it whole).
MAX_ERROR = 500
_MASK = "***"
_BAD = frozenset({TaskStatus.FAILED, TaskStatus.UNREACHABLE})


def log_plan(plan: Plan, *, again: bool = False) -> None:
    """Log what `plan` decided: each due component (INFO), or that nothing is due.

    `again`: the plan made once more under the locks; what is still due was already
    logged (DEBUG now), but nothing due any more is news (another run did the work).
    """
    for decision in plan.not_due:
        _log.debug(
            "not due: %s/%s: %s",
            decision.environment,
            decision.component,
            decision.reason,
            extra={
                "event": "not_due",
                "environment": decision.environment,
                "component": decision.component,
            },
        )
    if not plan.due:
        _log.info(
            "nothing due at %s%s",
            format_instant(plan.at),
            " once the locks were taken (a run that held them did the work)" if again else "",
            extra={"event": "nothing_due"},
        )
        return
    for decision in plan.due:
        _log.log(
            logging.DEBUG if again else logging.INFO,
            "planned: %s/%s on %s: %s",
            decision.environment,
            decision.component,
            ", ".join(decision.servers),
            decision.reason,
            extra={
                "event": "planned",
                "environment": decision.environment,
                "component": decision.component,
                "hosts": list(decision.servers),
            },
        )


def log_locks_taken(environments: Iterable[str], run_id: str) -> None:
    """Log that the run holds the locks of `environments` (DEBUG: `run_started` follows)."""
    names = sorted(environments)
    _log.debug(
        "run %s: locked environment(s) %s",
        run_id,
        ", ".join(names),
        extra={"event": "locks_taken", "run_id": run_id, **_environment(names)},
    )


def log_lock_refused(error: BaseException, run_id: str) -> None:
    """Log why a run did not start if `error` is a lock held by another run (else nothing)."""
    if isinstance(error, LockWaitCanceledError):
        event = "lock_wait_canceled"
    elif isinstance(error, LockHeldError):
        event = "locked"
    else:
        return
    _log.info(
        "run %s not started: %s",
        run_id,
        error,
        extra={"event": event, "run_id": run_id, "environment": error.environment},
    )


class RunLog(BaseObserver):
    """A `RunObserver` that logs a run's start, each finished task, and its end.

    `secrets` are values never to appear in a log line (the schedule's secrets:
    `agentmaint.run.environment.secret_environment`); they are replaced by ``***``.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Log through the ``agentmaint`` loggers, with `secrets` redacted."""
        # Longest first: a secret that contains another is masked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._run_id: str | None = None

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Log the run's id, what it does and on how many hosts."""
        self._run_id = run.id
        hosts = {(d.environment, h) for d in plan.due for h in d.servers}
        what = ", ".join(f"{d.environment}/{d.component}" for d in plan.due)
        mode = ", check mode: a dry run" if run.check_mode else ""
        _log.info(
            "run %s started: %s on %d host(s) (trigger %s%s)",
            run.id,
            what,
            len(hosts),
            run.trigger,
            mode,
            extra={
                "event": "run_started",
                "run_id": run.id,
                "status": run.status.value,
                **_environment(run.environments),
            },
        )

    def task_finished(self, progress: Progress) -> None:
        """Log one finished task on one host: INFO for an action, WARNING if it failed."""
        result = progress.result
        bad = result.status in _BAD
        level = logging.WARNING if bad else logging.INFO if progress.action else logging.DEBUG
        what = progress.action.value if progress.action else _internal_step(result.task)
        if progress.action and result.task and not result.task.lower().startswith(what + " |"):
            what = f"{what} ({result.task})"  # a bundled role's step, e.g. "Update: pull | web"
        error = self._error(result.message) if bad else None
        _log.log(
            level,
            "%s/%s %s: %s %s%s",
            progress.environment,
            progress.component,
            progress.host,
            what,
            result.status.value,
            f": {error}" if error else "",
            extra={
                "event": "task_finished",
                "run_id": self._run_id,
                "environment": progress.environment or None,
                "component": progress.component or None,
                "host": progress.host,
                "action": progress.action.value if progress.action else None,
                "task": result.task,
                "status": result.status.value,
                "error": error,
            },
        )

    def run_finished(self, result: RunResult) -> None:
        """Log how the run ended: its status, its outcomes counted, the failed hosts."""
        run = result.run
        if run is None:
            return
        counts = Counter(o.status.value for o in result.outcomes)
        counted = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
        took = ""
        if run.finished is not None:
            took = f" in {(run.finished - run.started).total_seconds():.0f}s"
        message = f"run {run.id} finished: {run.status.value}{took}; outcomes: {counted}"
        if result.failed_hosts:
            message += f"; failed hosts: {', '.join(result.failed_hosts)}"
        error = self._error(run.message)
        if error:
            message += f"; {error}"
        if result.unrecorded is not None:
            reason = self._error(result.unrecorded.reason)
            message += f"; NOT recorded in the history yet: {reason}"
        _log.log(
            logging.INFO if result.succeeded else logging.WARNING,
            "%s",
            message,
            extra={
                "event": "run_finished",
                "run_id": run.id,
                "status": run.status.value,
                "counts": dict(sorted(counts.items())),
                "failed_hosts": list(result.failed_hosts),
                "error": error,
                **_environment(run.environments),
            },
        )

    def _error(self, text: str | None) -> str | None:
        """`text` on one line, cut to `MAX_ERROR` characters, without any secret."""
        if not text:
            return None
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        line = " ".join(text.split())
        return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 3] + "..."


def _environment(environments: Iterable[str]) -> dict[str, Any]:
    """The ``environment`` field: set when the record concerns exactly one."""
    names = sorted(set(environments))
    return {"environment": names[0]} if len(names) == 1 else {}
