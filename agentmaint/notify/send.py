"""`notify_run` and `send_test`: which channels hear about a run, and their senders.

Each channel's message is built once (`_sender`), then sent with retries
(`agentmaint.notify.retry`); nothing here raises for a failed channel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from agentmaint.config.schedule import Channel, ChannelType, NotifyEvent, Schedule, SmtpSettings
from agentmaint.history.delivery import Delivery, DeliveryStatus
from agentmaint.notify.attachment import ReportAttachment
from agentmaint.notify.deadline import ATTEMPT_DEADLINE, CHANNEL_BUDGET, Stop
from agentmaint.notify.email import _send_email, email_message
from agentmaint.notify.retry import Attempt, Sleep, _deliver, _error_text, describe
from agentmaint.notify.slack import slack_payload
from agentmaint.notify.summary import event_of, summarize
from agentmaint.notify.webhook import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    _post_json,
    sign,
    webhook_payload,
)
from agentmaint.planning.planner import Plan
from agentmaint.run.results import RunResult

__all__ = ["RETRY_DELAYS", "notify_run", "send_test", "wants"]

#: Pauses between attempts: 3 tries, 1 s then 2 s apart (within the channel's
#: `CHANNEL_BUDGET`). Tests pass their own.
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0)


def wants(channel: Channel, event: NotifyEvent) -> bool:
    """Whether `channel` hears about `event` (every channel hears test messages)."""
    return event is NotifyEvent.TEST or event in channel.when


def _sender(
    schedule: Schedule,
    channel: Channel,
    result: RunResult,
    summary: dict[str, Any],
    report: ReportAttachment | None = None,
) -> Attempt:
    """A function that makes one delivery attempt through `channel` (emails attach `report`)."""
    if channel.type is ChannelType.EMAIL:
        smtp = schedule.notification.smtp or SmtpSettings()
        message = email_message(smtp, channel.to, summary, report)
        return lambda abort, timeout: _send_email(smtp, channel.to, message, abort, timeout)
    assert channel.url is not None
    url = channel.url.reveal()
    headers = {"Content-Type": "application/json", "User-Agent": "agentmaint"}
    if channel.type is ChannelType.SLACK:
        body = json.dumps(slack_payload(summary)).encode()
    else:
        body = json.dumps(webhook_payload(result, summary)).encode()
        headers |= {name: value.reveal() for name, value in channel.headers.items()}
        headers[EVENT_HEADER] = summary["event"]
        if channel.secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, channel.secret.reveal())
    return lambda abort, timeout: _post_json(url, body, headers, abort, timeout)


def notify_run(
    schedule: Schedule,
    result: RunResult,
    event: NotifyEvent | None = None,
    *,
    delays: Sequence[float] | None = None,
    sleep: Sleep | None = None,
    stop: Stop | None = None,
    report: ReportAttachment | None = None,
) -> tuple[Delivery, ...]:
    """Send `event` (default: `event_of(result)`) to every channel that wants it.

    Emails carry `report` as an attachment when given.

    Each channel gets up to ``len(delays) + 1`` attempts, `delays` seconds apart
    (default `RETRY_DELAYS`; `sleep` pauses, default a wait that `stop` cuts short),
    each within `ATTEMPT_DEADLINE` and all within `CHANNEL_BUDGET` seconds. Once
    `stop`'s run is cancelled, deliveries end within its grace. Never raises (except
    for BaseExceptions such as KeyboardInterrupt); failures come back as failed
    deliveries, redacted.
    """
    stop = stop or Stop(None)
    pauses = RETRY_DELAYS if delays is None else tuple(delays)
    try:
        event = event or event_of(result)
        if event is None:
            return ()
        channels = [c for c in schedule.notification.channels if wants(c, event)]
        if not channels:
            return ()
        summary = summarize(schedule, result, event)
    except Exception as exc:
        now = datetime.now(UTC)
        failed = DeliveryStatus.FAILED
        return (
            Delivery(
                "notifications",
                event or NotifyEvent.FAILURE,
                failed,
                0,
                now,
                _error_text(exc, schedule),
            ),
        )
    deliveries = []
    for channel in channels:
        try:
            attempt = _sender(schedule, channel, result, summary, report)
            deliveries.append(
                _deliver(
                    schedule,
                    channel,
                    event=event,
                    attempt=attempt,
                    delays=pauses,
                    sleep=sleep,
                    stop=stop,
                    # Read here, not bound as defaults, so that tests can shorten them.
                    attempt_deadline=ATTEMPT_DEADLINE,
                    budget=CHANNEL_BUDGET,
                )
            )
        except Exception as exc:
            deliveries.append(
                Delivery(
                    describe(schedule, channel),
                    event,
                    DeliveryStatus.FAILED,
                    0,
                    datetime.now(UTC),
                    _error_text(exc, schedule),
                )
            )
    return tuple(deliveries)


def send_test(
    schedule: Schedule, *, delays: Sequence[float] | None = None, sleep: Sleep | None = None
) -> tuple[Delivery, ...]:
    """Send a test message through every configured channel; one `Delivery` per channel."""
    empty = RunResult(plan=Plan(at=datetime.now(UTC), decisions=()))
    return notify_run(schedule, empty, NotifyEvent.TEST, delays=delays, sleep=sleep)
