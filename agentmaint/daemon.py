"""The daemon: a foreground loop that runs scheduled maintenance when windows open.

For containers and hosts without systemd or cron. `Daemon.serve` repeats:

1. ask `agentmaint.planning.wakeups` for the next wake-up (a window start, a poll
   tick inside an open window, a blackout's end) and log it with its reason;
2. sleep until then, in slices of at most `Daemon.reload_every` seconds: between slices
   the schedule file is read again, and a changed file is reloaded (an invalid one keeps
   the schedule in force, and the log says why, with its problems); the wall clock is
   read again too, so a clock that jumps (a suspended host) is followed;
3. run exactly what ``agentmaint run FILE --scheduled`` runs (`run_maintenance` with
   ``scheduled=True``, trigger ``scheduled``): the planner decides again what is due, so
   a wake-up never runs anything outside a window. Nothing due and an environment still
   locked by another run are logged and refresh the metrics; a run that raises is
   logged with its error and the loop goes on.

At start, a window that accepts a start already gets its run at once. Setting the
`stop` event (the CLI does on SIGTERM/SIGINT) ends the sleep at once, or cancels the
running maintenance through the same event (recorded ``canceled``, its processes
stopped), and `serve` returns. Nothing here prints: every decision is a log record of
the ``agentmaint.daemon`` logger with an ``event``: ``daemon_started``, ``wake_up``,
``no_wake_up``, ``schedule_reloaded``, ``schedule_invalid``, ``run_skipped``,
``daemon_run_finished``, ``run_error``, ``daemon_stopped``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import (
    LockHeldError,
    LockWaitCanceledError,
    MetricsError,
    ScheduleError,
    StoreError,
)
from agentmaint.maintenance import run_maintenance
from agentmaint.metrics import write_metrics
from agentmaint.planning.planner import format_instant
from agentmaint.planning.wakeups import WakeUp, next_wake_up, startable_environments
from agentmaint.run.results import RunResult

__all__ = ["Daemon", "ScheduleFile", "scheduled_run"]

_log = logging.getLogger(__name__)

#: Runs maintenance for the daemon: the schedule and the stop event (the run's cancel).
Runner = Callable[[Schedule, threading.Event], RunResult]
#: Sleeps up to the given seconds; returns early (True) when the stop event is set.
Sleeper = Callable[[float], bool]


def scheduled_run(schedule: Schedule, cancel: threading.Event) -> RunResult:
    """What ``agentmaint run FILE --scheduled`` runs, cancelled by `cancel`."""
    return run_maintenance(schedule, scheduled=True, cancel=cancel)


@dataclass(frozen=True, slots=True)
class ScheduleFile:
    """A schedule as loaded from its file, and the digest of the bytes it was loaded from.

    The schedule keeps its secret references unresolved: each run resolves them again
    (`run_maintenance` does), so a rotated ``file:`` secret is read by the next run.
    """

    path: Path
    schedule: Schedule
    digest: str

    @classmethod
    def load(cls, path: Path) -> ScheduleFile:
        """Load and check `path`, secrets included; raises `ScheduleError` listing problems."""
        digest = file_digest(path)
        schedule = load_schedule(path, resolve_secrets=False)
        schedule.resolve_secrets()  # a secret that cannot be read is a problem of the file now
        return cls(path=path, schedule=schedule, digest=digest)


def file_digest(path: Path) -> str:
    """The SHA-256 of `path`'s bytes ("" when it cannot be read: the loader says why)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class Daemon:
    """The loop of ``agentmaint daemon``: sleep until a wake-up, run, log, repeat.

    `clock` (aware, UTC) and `sleep` are injectable so that tests drive time; by default
    the wall clock and `stop.wait`, which a signal handler setting `stop` ends at once.
    """

    #: The longest sleep between two looks at the schedule file and the clock (seconds).
    reload_every: float = 5.0

    def __init__(
        self,
        loaded: ScheduleFile,
        *,
        stop: threading.Event,
        poll: timedelta | None = None,
        runner: Runner = scheduled_run,
        clock: Callable[[], datetime] | None = None,
        sleep: Sleeper | None = None,
    ) -> None:
        """Serve the schedule `loaded` until `stop` is set."""
        self.loaded = loaded
        self._stop = stop
        self._poll = poll
        self._runner = runner
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep or stop.wait
        #: The digest of the file as last read, valid or not: a broken file is reported
        #: once per change, not at every look.
        self._seen = loaded.digest
        #: Runs started, and whether the stop interrupted one (the CLI's exit code).
        self.runs = 0
        self.interrupted_run = False
        #: The next wake-up is the first after this instant: the start, then the end of
        #: the last run. A reloaded schedule is asked from the same instant, so that a
        #: start the reload coincides with (or one the new file adds) is not skipped.
        self._since = self._clock()

    @property
    def schedule(self) -> Schedule:
        """The schedule in force."""
        return self.loaded.schedule

    def serve(self) -> None:
        """Run until `stop` is set; `interrupted_run` then says whether a run was cut short."""
        _log.info(
            "daemon started: %s, poll %s",
            self.loaded.path,
            _poll_text(self._poll),
            extra={"event": "daemon_started"},
        )
        open_now = startable_environments(self.schedule, self._since)
        if open_now:
            _log.info(
                "window open now in %s: running what is due",
                ", ".join(open_now),
                extra={"event": "wake_up", "environment": ",".join(open_now)},
            )
            self._run_once()
        while not self._stop.is_set():
            self.check_reload()  # a run may have lasted long: the file as it is now
            wake = self._next()
            if not self._sleep_until(wake):
                continue  # stopped, or the schedule changed: decide again
            self._run_once()
        _log.info(
            "daemon stopped%s",
            " (the running maintenance was canceled)" if self.interrupted_run else "",
            extra={"event": "daemon_stopped"},
        )

    def _next(self) -> WakeUp | None:
        now = self._clock()
        wake = next_wake_up(self.schedule, self._since, poll=self._poll)
        if wake is None:
            _log.info(
                "no environment has hosts: waiting for %s to change",
                self.loaded.path,
                extra={"event": "no_wake_up"},
            )
        else:
            _log.info(
                "next wake-up %s (%s): %s",
                f"{wake.at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
                f"in {_rounded(wake.at - now)}" if wake.at > now else "now",
                wake.reason,
                extra={"event": "wake_up", "environment": ",".join(wake.environments)},
            )
        return wake

    def _sleep_until(self, wake: WakeUp | None) -> bool:
        """Sleep until `wake`: True when it came, False when stopped or the schedule changed."""
        while not self._stop.is_set():
            now = self._clock()
            if wake is not None and now >= wake.at:
                return True
            slice_ = self.reload_every
            if wake is not None:
                slice_ = min(slice_, (wake.at - now).total_seconds())
            if self._sleep(max(slice_, 0.0)):
                return False
            if self.check_reload():
                return False
        return False

    def check_reload(self) -> bool:
        """Reload the schedule if its file changed; True when a new schedule is in force.

        An invalid file keeps the schedule in force and logs its problems (once per
        change of the file).
        """
        digest = file_digest(self.loaded.path)
        if digest == self._seen:
            return False
        self._seen = digest
        try:
            loaded = ScheduleFile.load(self.loaded.path)
        except ScheduleError as exc:
            problems = [p.located(exc.source) for p in exc.problems]
            _log.error(
                "%s changed but is invalid; keeping the schedule in force: %s",
                self.loaded.path,
                "; ".join(problems),
                extra={"event": "schedule_invalid", "problems": problems},
            )
            return False
        self.loaded = loaded
        # Wake-ups are asked for from the last run's end (see `_since`), but not from long
        # ago: a start of the new file that passed before this look would be a late run.
        self._since = max(self._since, self._clock() - timedelta(seconds=2 * self.reload_every))
        _log.info(
            "%s changed: schedule reloaded (%d environment(s))",
            loaded.path,
            len(loaded.schedule.environments),
            extra={"event": "schedule_reloaded"},
        )
        return True

    def _run_once(self) -> None:
        """One scheduled run; whatever it raises is logged and the loop goes on."""
        try:
            self._run_logged()
        finally:
            self._since = self._clock()

    def _run_logged(self) -> None:
        self.runs += 1
        schedule = self.schedule
        try:
            result = self._runner(schedule, self._stop)
        except LockWaitCanceledError:
            self.interrupted_run = True
            return
        except LockHeldError as exc:
            _log.info(
                "skipped: previous run still going: %s",
                exc,
                extra={"event": "run_skipped", "status": "locked"},
            )
            _refresh_metrics(schedule)
            return
        except Exception as exc:
            _log.error(
                "run failed: %s; the daemon goes on",
                exc,
                exc_info=not isinstance(exc, ScheduleError | StoreError),
                extra={"event": "run_error", "error": str(exc)},
            )
            self.interrupted_run = self._stop.is_set()
            return
        if result.nothing_due:
            _log.info(
                "skipped: nothing due at %s",
                format_instant(result.plan.at),
                extra={"event": "run_skipped", "status": "nothing due"},
            )
            _refresh_metrics(schedule)
            return
        run = result.run
        assert run is not None
        self.interrupted_run = self._stop.is_set()
        # The run's own logging observer already said how it ended, with its outcomes; this
        # line is for following the daemon's loop, so only at debug level.
        _log.debug(
            "run %s finished: %s",
            run.id,
            run.status.value,
            extra={"event": "daemon_run_finished", "run_id": run.id, "status": run.status.value},
        )


def _refresh_metrics(schedule: Schedule) -> None:
    """Rewrite the metrics after a wake-up that ran nothing; a failure is only a warning."""
    try:
        write_metrics(schedule)
    except (MetricsError, StoreError) as exc:
        _log.warning("metrics not written: %s", exc, extra={"event": "metrics_not_written"})


def _poll_text(poll: timedelta | None) -> str:
    return "off (window starts only)" if poll is None else f"every {_rounded(poll)} in windows"


def _rounded(span: timedelta) -> str:
    """A duration to the second, e.g. ``1h2m3s`` (``0s`` when not positive)."""
    seconds = max(int(span.total_seconds() + 0.999), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{seconds}s" if seconds or not text else "")
