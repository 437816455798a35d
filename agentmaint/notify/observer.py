"""Notifications as an observer of a run: the start and the end, sent and recorded.

A notification never aborts or changes a run: `Notifier` catches every error of its
own (`notify_run` already turns delivery failures into failed `Delivery` records).
Deliveries the history cannot record (it is not writable) are logged and kept in
`Notifier.deliveries`, which the run's result carries.
Every delivery is bounded in time (`agentmaint.notify.deadline`); once the run's
`cancel` event is set, the deliveries still to come get `CANCEL_GRACE` seconds in all.
"""

from __future__ import annotations

import logging
import threading

from agentmaint.config.schedule import NotifyEvent, Schedule
from agentmaint.errors import StoreError
from agentmaint.history.delivery import Delivery
from agentmaint.history.store import HistoryStore
from agentmaint.notify import Stop, notify_run
from agentmaint.planning.planner import Plan
from agentmaint.records import RunRecord
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import RunResult

__all__ = ["Notifier"]

_log = logging.getLogger(__name__)


class Notifier(BaseObserver):
    """Sends a run's notifications and records each delivery with the run."""

    def __init__(
        self,
        schedule: Schedule,
        store: HistoryStore | None,
        cancel: threading.Event | None = None,
    ) -> None:
        """Notify the channels of `schedule`; record deliveries in `store` (if any).

        `cancel` is the run's cancel event: once set, deliveries are cut short.
        """
        self._schedule = schedule
        self._store = store
        self._stop = Stop(cancel)
        #: Every delivery of the run so far, in order (channels and errors redacted).
        self.deliveries: tuple[Delivery, ...] = ()

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Tell the channels that want it that the run started."""
        self._send(RunResult(plan=plan, run=run), NotifyEvent.START)

    def run_finished(self, result: RunResult) -> None:
        """Tell the channels that want it how the run ended."""
        self._send(result, None)

    def _send(self, result: RunResult, event: NotifyEvent | None) -> None:
        sent: tuple[Delivery, ...] = ()
        try:
            sent = notify_run(self._schedule, result, event, stop=self._stop)
            if sent and result.run is not None and self._store is not None:
                self._store.add_notifications(result.run.id, sent)
        except StoreError as exc:
            # The deliveries happened: they stay in the run's result (and the CLI's report).
            _log.warning(
                "run %s: %d notification delivery(ies) not recorded in the history: %s",
                result.run.id if result.run is not None else "?",
                len(sent),
                exc,
            )
        except Exception:  # the boundary: a notification never aborts or changes a run
            pass
        self.deliveries += sent
