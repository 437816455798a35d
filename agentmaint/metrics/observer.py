"""The run observer that rewrites the metrics textfile when a run ends.

`run_maintenance` attaches it (when the schedule has ``metrics``) with the observers told
of the end of the run after the environment locks are released: by then the recorder has
written the run to the history, which the metrics are read from.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from agentmaint.config.schedule import Schedule
from agentmaint.errors import AgentmaintError
from agentmaint.history.store import HistoryStore
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import RunResult

__all__ = ["MetricsWriter"]

_log = logging.getLogger(__name__)


class MetricsWriter(BaseObserver):
    """Writes the schedule's metrics textfile at `run_finished`; its failure only logs.

    Metrics that cannot be written (a symlink refused, a full disk) must not turn a run
    into an error: the failure is logged and kept in `error`, like a notification's.
    """

    def __init__(
        self, schedule: Schedule, history: HistoryStore, *, at: datetime | None = None
    ) -> None:
        """Read the metrics from `history` (the run's store); plan at `at` (default: now)."""
        self._schedule = schedule
        self._history = history
        self._at = at
        #: The file written at the end of the last run, or None.
        self.written: Path | None = None
        #: Why the file could not be written, or None.
        self.error: str | None = None

    def run_finished(self, result: RunResult) -> None:
        """Rewrite the textfile from the history, which now holds the run."""
        # Imported here: prometheus_client (about 50 ms) is loaded by the runs that write
        # metrics (this observer is attached only then), not by every run that imports it.
        from agentmaint.metrics.textfile import write_metrics  # noqa: PLC0415

        try:
            self.written = write_metrics(self._schedule, history=self._history, at=self._at)
        except AgentmaintError as exc:
            self.error = str(exc)
            _log.error("metrics not written: %s", exc)
        except Exception as exc:  # a bug here must not fail a run that is already recorded
            self.error = f"{type(exc).__name__}: {exc}"
            _log.exception("metrics not written")
