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

from agentmaint.config.schedule import ChannelType, NotifyEvent, Schedule
from agentmaint.errors import StoreError
from agentmaint.history.delivery import Delivery
from agentmaint.history.store import HistoryStore
from agentmaint.notify import Stop, notify_run
from agentmaint.notify.attachment import ReportAttachment, run_report
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
            sent = notify_run(
                self._schedule, result, event, stop=self._stop, report=self._report(result, event)
            )
            if sent and result.run is not None and self._store is not None:
                self._store.add_notifications(result.run.id, sent)
        except StoreError as exc:
            # The deliveries happened: they stay in the run's result (and the CLI's report).
            _log.warning(
                "run %s: %d notification delivery(ies) not recorded in the history: %s",
                result.run.id if result.run is not None else "?",
                len(sent),
                exc,
                extra={"event": "notifications_unrecorded", "run_id": _run_id(result)},
            )
        except Exception as exc:  # the boundary: a notification never aborts or changes a run
            # Only the type: an unexpected error's text could quote a channel's secret.
            _log.warning(
                "run %s: notifications not sent: unexpected %s",
                _run_id(result) or "?",
                type(exc).__name__,
                extra={"event": "notification_failed", "run_id": _run_id(result)},
            )
        _log_deliveries(result, sent)
        self.deliveries += sent

    def _report(self, result: RunResult, event: NotifyEvent | None) -> ReportAttachment | None:
        """The run's HTML report, for a finished run when ``notification.report`` asks."""
        wanted = self._schedule.notification.report and event is None
        if not wanted or self._store is None or result.run is None:
            return None
        if not any(c.type is ChannelType.EMAIL for c in self._schedule.notification.channels):
            return None
        return run_report(self._schedule, self._store, result.run.id)


def _run_id(result: RunResult) -> str | None:
    return result.run.id if result.run is not None else None


def _log_deliveries(result: RunResult, deliveries: tuple[Delivery, ...]) -> None:
    """One line per delivery: INFO delivered, WARNING failed (channel and error redacted)."""
    for d in deliveries:
        extra = {
            "event": "notification_delivered" if d.delivered else "notification_failed",
            "run_id": _run_id(result),
            "channel": d.channel,
            "status": d.status.value,
            "error": d.error,
        }
        if d.delivered:
            _log.info("notification %s delivered via %s", d.event.value, d.channel, extra=extra)
        else:
            _log.warning(
                "notification %s FAILED via %s after %d attempt(s): %s",
                d.event.value,
                d.channel,
                d.attempts,
                d.error,
                extra=extra,
            )
