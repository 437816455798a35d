"""Delivery attempts with retries: one `Delivery` per channel, its error redacted.

Errors are redacted with every secret of the notification settings and cut to a
bounded length before they are kept (they reach the history).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from agentmaint.config.schedule import Channel, NotifyEvent, Schedule
from agentmaint.config.secret import redact
from agentmaint.history.delivery import Delivery, DeliveryStatus

__all__ = ["Sleep"]

_MAX_ERROR = 500

Sleep = Callable[[float], None]


def _error_text(exc: BaseException, schedule: Schedule) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    text = redact(text, schedule.notification.secrets())
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def _deliver(
    schedule: Schedule,
    channel: Channel,
    *,
    event: NotifyEvent,
    attempt: Callable[[], None],
    delays: Sequence[float],
    sleep: Sleep,
) -> Delivery:
    tries = len(delays) + 1
    error = None
    for number in range(1, tries + 1):
        try:
            attempt()
        except Exception as exc:
            error = _error_text(exc, schedule)
            if number < tries:
                sleep(delays[number - 1])
            continue
        return Delivery(
            channel.describe(), event, DeliveryStatus.DELIVERED, number, datetime.now(UTC)
        )
    return Delivery(
        channel.describe(), event, DeliveryStatus.FAILED, tries, datetime.now(UTC), error
    )
