"""Notifications about runs: email over SMTP, Slack incoming webhooks, generic JSON webhooks.

The last stage of the pipeline: `agentmaint.notify.observer.Notifier` watches a run
(a `RunObserver`) and tells people how it started and ended.

`notify_run` sends what a finished (or starting) run means to every channel whose
``when`` includes the run's event (`event_of`), with retries and exponential
backoff (`RETRY_DELAYS`), and returns one `Delivery` per channel. Every attempt has
a total deadline (`ATTEMPT_DEADLINE`), every channel a budget for all its attempts
(`CHANNEL_BUDGET`), and a cancelled run (`Stop`) a grace (`CANCEL_GRACE`): a server
that never answers, or drips its answer, cannot hold a run. It never raises
and never changes the run's result: a channel that fails is a failed `Delivery`.
`send_test` sends a test message through every channel.

Payloads
    email
        ``multipart/alternative``: plain text and HTML (everything escaped).
    slack
        ``{"text": <title>, "blocks": [...]}``; user text is mrkdwn-escaped.
    webhook
        ``POST`` of ``application/json``: the ``agentmaint run --json`` document
        (`RunResult.to_dict`) plus ``"event"`` (start, success, failure, partial,
        test) and ``"summary"`` (see `summarize`). Headers: ``X-Agentmaint-Event``
        and, when the channel has a ``secret``, ``X-Agentmaint-Signature:
        sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>``.

Secrets (`agentmaint.config.secret.Secret`) are revealed only to the transport that needs
them; every error kept in a `Delivery` is redacted first. This package never prints
and never logs.

Modules: `deadline` (the bounds above and how an attempt is cut short), `summary`
(what a notification says: the run's event, its summary and plain text), one module
per channel (`email`, `slack`, `webhook`), `retry` (attempts with retries, one
`Delivery` per channel) and `send` (`notify_run`, `send_test`: which channels hear a
run, and each channel's sender).
"""

from agentmaint.notify.deadline import ATTEMPT_DEADLINE, CANCEL_GRACE, CHANNEL_BUDGET, Stop
from agentmaint.notify.email import email_message, render_html
from agentmaint.notify.retry import Sleep
from agentmaint.notify.send import RETRY_DELAYS, notify_run, send_test, wants
from agentmaint.notify.slack import mrkdwn_escape, slack_payload
from agentmaint.notify.summary import NEEDS_ATTENTION, event_of, render_text, summarize
from agentmaint.notify.webhook import (
    EVENT_HEADER,
    HTTP_TIMEOUT,
    SIGNATURE_HEADER,
    sign,
    webhook_payload,
)

__all__ = [
    "ATTEMPT_DEADLINE",
    "CANCEL_GRACE",
    "CHANNEL_BUDGET",
    "EVENT_HEADER",
    "HTTP_TIMEOUT",
    "NEEDS_ATTENTION",
    "RETRY_DELAYS",
    "SIGNATURE_HEADER",
    "Sleep",
    "Stop",
    "email_message",
    "event_of",
    "mrkdwn_escape",
    "notify_run",
    "render_html",
    "render_text",
    "send_test",
    "sign",
    "slack_payload",
    "summarize",
    "wants",
    "webhook_payload",
]
