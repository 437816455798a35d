"""Delivery attempts with retries: one `Delivery` per channel, its error redacted.

Every attempt is bounded by `ATTEMPT_DEADLINE` and all of a channel's attempts and
pauses by `CHANNEL_BUDGET` (`agentmaint.notify.deadline`); once the run is cancelled,
by its `CANCEL_GRACE` too, and no new attempt starts after that.

Errors are redacted with every secret of the notification settings and cut to a
bounded length before they are kept (they reach the history).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from agentmaint.config.schedule import Channel, ChannelType, NotifyEvent, Schedule, SmtpSettings
from agentmaint.config.secret import redact
from agentmaint.history.delivery import Delivery, DeliveryStatus
from agentmaint.notify.deadline import Abort, Stop, bounded

__all__ = ["Sleep", "describe"]

_MAX_ERROR = 500

Sleep = Callable[[float], None]
#: One delivery attempt: called with what cuts it short and the seconds it has left.
Attempt = Callable[[Abort, float], None]


def _error_text(exc: BaseException, schedule: Schedule) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    text = redact(text, schedule.notification.secrets())
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def describe(schedule: Schedule, channel: Channel) -> str:
    """The channel as its deliveries name it; an email's names the SMTP server and port.

    ``email to ops@example.com via smtp.example.com:587 (starttls)``: a failure then says
    which server refused or never answered. Never a secret.
    """
    text = channel.describe()
    if channel.type is ChannelType.EMAIL:
        text += f" via {(schedule.notification.smtp or SmtpSettings()).describe()}"
    return text


def _deliver(
    schedule: Schedule,
    channel: Channel,
    *,
    event: NotifyEvent,
    attempt: Attempt,
    delays: Sequence[float],
    sleep: Sleep | None,
    stop: Stop,
    attempt_deadline: float,
    budget: float,
) -> Delivery:
    """Up to ``len(delays) + 1`` attempts within `budget` seconds; the `Delivery`."""
    tries = len(delays) + 1
    start = time.monotonic()
    spent = start + budget
    error = None
    made = 0
    for number in range(1, tries + 1):
        if number > 1 and (stop.cancelled or time.monotonic() >= spent):
            break  # no new attempt once cancelled or out of budget
        made = number
        try:
            bounded(attempt, until=min(time.monotonic() + attempt_deadline, spent), stop=stop)
        except Exception as exc:
            error = _error_text(exc, schedule)
            if number < tries and not stop.cancelled:
                pause = min(delays[number - 1], max(0.0, spent - time.monotonic()))
                (sleep or stop.wait)(pause)
            continue
        return Delivery(
            describe(schedule, channel), event, DeliveryStatus.DELIVERED, number, datetime.now(UTC)
        )
    if stop.cancelled and error is not None and "cancelled" not in error:
        error += " (the run was cancelled: no further attempt)"
    return Delivery(
        describe(schedule, channel), event, DeliveryStatus.FAILED, made, datetime.now(UTC), error
    )
