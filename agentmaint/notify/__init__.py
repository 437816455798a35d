"""Notifications about runs: email over SMTP, Slack incoming webhooks, generic JSON webhooks.

`notify_run` sends what a finished (or starting) run means to every channel whose
``when`` includes the run's event (`event_of`), with retries and exponential
backoff (`RETRY_DELAYS`), and returns one `Delivery` per channel. It never raises
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
them; every error kept in a `Delivery` is redacted first. This module never prints
and never logs.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import smtplib
import ssl
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from agentmaint.config.durations import format_duration
from agentmaint.config.schedule import (
    Channel,
    ChannelType,
    NotifyEvent,
    Schedule,
    SmtpSettings,
    TLSMode,
)
from agentmaint.config.secret import redact
from agentmaint.history.delivery import Delivery, DeliveryStatus
from agentmaint.planning.planner import Plan
from agentmaint.records import Outcome, RunStatus
from agentmaint.run.results import RunResult

#: Pauses between attempts: 3 tries, 1 s then 2 s apart. Tests pass their own.
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0)
#: Seconds an HTTP delivery may take.
HTTP_TIMEOUT = 10.0
SIGNATURE_HEADER = "X-Agentmaint-Signature"
NEEDS_ATTENTION = " (NEEDS ATTENTION: the host may be half-updated)"
EVENT_HEADER = "X-Agentmaint-Event"
_MAX_ERROR = 500
_SLACK_TEXT_LIMIT = 2900
_BAD = (Outcome.FAILED, Outcome.UNREACHABLE)
_BAD_RUN = (
    RunStatus.FAILED,
    RunStatus.TIMEOUT,
    RunStatus.ERROR,
    RunStatus.INTERRUPTED,
    RunStatus.CANCELED,
)

Sleep = Callable[[float], None]


# --------------------------------------------------------------------------- events


def event_of(result: RunResult) -> NotifyEvent | None:
    """The event a finished run is: success, partial, failure; None when nothing ran.

    ``partial``: some hosts failed (or the run ended badly) and others succeeded.
    ``failure``: no host succeeded and a host failed or the run ended badly.
    """
    run = result.run
    if run is None:
        return None
    succeeded = any(o.status is Outcome.SUCCESS for o in result.outcomes)
    bad = bool(result.failed_hosts) or run.status in _BAD_RUN
    if not bad:
        return NotifyEvent.SUCCESS
    return NotifyEvent.PARTIAL if succeeded else NotifyEvent.FAILURE


def wants(channel: Channel, event: NotifyEvent) -> bool:
    """Whether `channel` hears about `event` (every channel hears test messages)."""
    return event is NotifyEvent.TEST or event in channel.when


# --------------------------------------------------------------------------- content


def summarize(schedule: Schedule, result: RunResult, event: NotifyEvent) -> dict[str, Any]:
    """What a notification says, as JSON-ready data (the webhook payload's ``summary``)."""
    history = f"agentmaint history {schedule.source}"
    run = result.run
    if event is NotifyEvent.TEST or run is None:
        return {
            "event": event.value,
            "title": "agentmaint: test notification",
            "text": f"This is a test message from agentmaint for {schedule.source}; "
            "if you can read it, this channel works.",
            "schedule": schedule.source,
            "history_command": history,
        }
    outcomes = [
        {
            "environment": o.environment,
            "component": o.component,
            "host": o.host,
            "status": o.status.value,
            "rolled_back": o.rolled_back,
            "error": o.error,
        }
        for o in result.outcomes
    ]
    hosts = list(dict.fromkeys(o.host for o in result.outcomes))
    failed = [o for o in outcomes if o["status"] == Outcome.FAILED.value]
    unreachable = [o for o in outcomes if o["status"] == Outcome.UNREACHABLE.value]
    rollbacks = [
        {
            "environment": o.environment,
            "component": o.component,
            "host": o.host,
            "status": o.actions[action].value,
        }
        for o in result.outcomes
        for action in o.actions
        if action.value == "rollback"
    ]
    end = run.finished or datetime.now(UTC)
    duration = max(end - run.started, timedelta(0))
    environments = list(run.environments)
    bad_hosts = list(result.failed_hosts)
    if event is NotifyEvent.START:
        headline = f"maintenance started on {', '.join(environments)}"
    elif event is NotifyEvent.SUCCESS:
        headline = f"{len(hosts)} host(s) maintained in {', '.join(environments)}"
    else:
        headline = f"{len(bad_hosts)} of {len(hosts)} host(s) failed in {', '.join(environments)}"
        if not hosts:
            headline = f"run {run.status.value} in {', '.join(environments)}"
    return {
        "event": event.value,
        "title": f"agentmaint {event.value}: {headline}",
        "schedule": schedule.source,
        "run_id": run.id,
        "status": run.status.value,
        "trigger": run.trigger,
        "check": run.check_mode,
        "environments": environments,
        "components": list(run.components),
        "started": run.started.astimezone(UTC).isoformat(),
        "finished": run.finished.astimezone(UTC).isoformat() if run.finished else None,
        "duration_seconds": round(duration.total_seconds(), 3),
        "duration": format_duration(timedelta(seconds=round(duration.total_seconds()))) or "0s",
        "message": run.message,
        "hosts": {
            "total": len(hosts),
            "succeeded": len([h for h in hosts if h not in bad_hosts]),
            "failed": bad_hosts,
        },
        "outcomes": outcomes,
        "failed": failed,
        "unreachable": unreachable,
        "rollbacks": rollbacks,
        "history_command": history,
    }


_COLUMNS = ("environment", "component", "host", "status", "rolled_back", "error")


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if key == "rolled_back":
        return "yes" if value else ""
    return "" if value is None else str(value)


def _table_text(rows: Sequence[dict[str, Any]]) -> str:
    headers = [c.replace("_", " ") for c in _COLUMNS]
    cells = [[_cell(r, c).replace("\n", " ") for c in _COLUMNS] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    widths[-1] = 0  # the error column is not padded

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in cells)])


def _problem_lines(summary: dict[str, Any]) -> list[str]:
    lines = []
    for row in [*summary["failed"], *summary["unreachable"]]:
        error = f": {row['error']}" if row["error"] else ""
        lines.append(
            f"{row['host']} ({row['environment']}/{row['component']}) {row['status']}{error}"
        )
    return lines


def _rollback_lines(summary: dict[str, Any]) -> list[str]:
    return [
        f"{r['host']} ({r['environment']}/{r['component']}): rollback {r['status']}"
        + (NEEDS_ATTENTION if r["status"] == Outcome.FAILED.value else "")
        for r in summary["rollbacks"]
    ]


def render_text(summary: dict[str, Any]) -> str:
    """The plain-text body of a notification."""
    if "run_id" not in summary:
        return f"{summary['title']}\n\n{summary['text']}\n"
    parts = [
        summary["title"],
        "",
        f"Run:          {summary['run_id']} ({summary['status']}, trigger {summary['trigger']}"
        + (", check mode" if summary["check"] else "")
        + ")",
        f"Environments: {', '.join(summary['environments'])}",
        f"Components:   {', '.join(summary['components'])}",
        f"Duration:     {summary['duration']}",
    ]
    if summary["message"]:
        parts.append(f"Message:      {summary['message']}")
    if summary["outcomes"]:
        parts += ["", _table_text(summary["outcomes"])]
    problems = _problem_lines(summary)
    if problems:
        parts += ["", "Failed and unreachable hosts:", *(f"  - {p}" for p in problems)]
    rollbacks = _rollback_lines(summary)
    if rollbacks:
        parts += ["", "Rollbacks:", *(f"  - {r}" for r in rollbacks)]
    parts += ["", f"Full history: {summary['history_command']}"]
    return "\n".join(parts) + "\n"


def render_html(summary: dict[str, Any]) -> str:
    """The HTML body of a notification email; every value is escaped."""
    e = html.escape
    if "run_id" not in summary:
        return (
            f"<html><body><h2>{e(summary['title'])}</h2><p>{e(summary['text'])}</p></body></html>"
        )
    facts = [
        ("Run", f"{summary['run_id']} ({summary['status']}, trigger {summary['trigger']})"),
        ("Environments", ", ".join(summary["environments"])),
        ("Components", ", ".join(summary["components"])),
        ("Duration", summary["duration"]),
    ]
    if summary["message"]:
        facts.append(("Message", summary["message"]))
    out = [f"<html><body><h2>{e(summary['title'])}</h2><table>"]
    out += [f"<tr><th align='left'>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts]
    out.append("</table>")
    if summary["outcomes"]:
        out.append("<table border='1' cellpadding='4' cellspacing='0'><tr>")
        out += [f"<th>{e(c.replace('_', ' '))}</th>" for c in _COLUMNS]
        out.append("</tr>")
        for row in summary["outcomes"]:
            out.append("<tr>" + "".join(f"<td>{e(_cell(row, c))}</td>" for c in _COLUMNS) + "</tr>")
        out.append("</table>")
    for heading, lines in (
        ("Failed and unreachable hosts", _problem_lines(summary)),
        ("Rollbacks", _rollback_lines(summary)),
    ):
        if lines:
            out.append(f"<h3>{e(heading)}</h3><ul>")
            out += [f"<li>{e(line)}</li>" for line in lines]
            out.append("</ul>")
    out.append(f"<p>Full history: <code>{e(summary['history_command'])}</code></p></body></html>")
    return "\n".join(out)


def mrkdwn_escape(text: str) -> str:
    """Escape text for Slack mrkdwn (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = _SLACK_TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(summary: dict[str, Any]) -> dict[str, Any]:
    """The Slack incoming-webhook message: a fallback ``text`` and Block Kit ``blocks``."""
    m = mrkdwn_escape
    title = summary["title"]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}}
    ]

    def section(text: str) -> None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(text)}})

    if "run_id" not in summary:
        section(m(summary["text"]))
    else:
        section(
            f"*Run* `{m(summary['run_id'])}` ({m(summary['status'])}, "
            f"trigger {m(summary['trigger'])})\n"
            f"*Environments* {m(', '.join(summary['environments']))}\n"
            f"*Components* {m(', '.join(summary['components']))}\n"
            f"*Duration* {m(summary['duration'])}"
            + (f"\n*Message* {m(summary['message'])}" if summary["message"] else "")
        )
        if summary["outcomes"]:
            section("```" + m(_table_text(summary["outcomes"])) + "```")
        problems = _problem_lines(summary)
        if problems:
            section("*Failed and unreachable hosts*\n" + "\n".join(f"• {m(p)}" for p in problems))
        rollbacks = _rollback_lines(summary)
        if rollbacks:
            section("*Rollbacks*\n" + "\n".join(f"• {m(r)}" for r in rollbacks))
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _clip(f"Full history: `{m(summary['history_command'])}`"),
                }
            ],
        }
    )
    return {"text": m(title), "blocks": blocks}


def webhook_payload(result: RunResult, summary: dict[str, Any]) -> dict[str, Any]:
    """The generic webhook's JSON document: `RunResult.to_dict()` plus event and summary."""
    return {**result.to_dict(), "event": summary["event"], "summary": summary}


def sign(body: bytes, key: str) -> str:
    """The ``X-Agentmaint-Signature`` value of `body`: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def email_message(smtp: SmtpSettings, to: Sequence[str], summary: dict[str, Any]) -> EmailMessage:
    """The notification email: plain text and HTML alternatives."""
    message = EmailMessage()
    message["Subject"] = " ".join(str(summary["title"]).split())[:200]
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="agentmaint")
    message["X-Agentmaint-Event"] = summary["event"]
    message.set_content(render_text(summary))
    message.add_alternative(render_html(summary), subtype="html")
    return message


# --------------------------------------------------------------------------- transports


def _send_email(smtp: SmtpSettings, to: Sequence[str], message: EmailMessage) -> None:
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    timeout = smtp.timeout.total_seconds()
    client: smtplib.SMTP
    if smtp.tls is TLSMode.SSL:
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with client:
        if smtp.tls is TLSMode.STARTTLS:
            client.starttls(context=context)
        if smtp.username is not None:
            password = smtp.password.reveal() if smtp.password is not None else ""
            client.login(smtp.username, password)
        refused = client.send_message(message, to_addrs=list(to))
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)


def _post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


def _sender(
    schedule: Schedule, channel: Channel, result: RunResult, summary: dict[str, Any]
) -> Callable[[], None]:
    """A function that makes one delivery attempt through `channel`."""
    if channel.type is ChannelType.EMAIL:
        smtp = schedule.notification.smtp or SmtpSettings()
        message = email_message(smtp, channel.to, summary)
        return lambda: _send_email(smtp, channel.to, message)
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
    return lambda: _post_json(url, body, headers, HTTP_TIMEOUT)


# --------------------------------------------------------------------------- delivery


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


def notify_run(
    schedule: Schedule,
    result: RunResult,
    event: NotifyEvent | None = None,
    *,
    delays: Sequence[float] | None = None,
    sleep: Sleep = time.sleep,
) -> tuple[Delivery, ...]:
    """Send `event` (default: `event_of(result)`) to every channel that wants it.

    Each channel gets up to ``len(delays) + 1`` attempts, `delays` seconds apart
    (default `RETRY_DELAYS`). Never raises (except for BaseExceptions such as
    KeyboardInterrupt); failures come back as failed deliveries, redacted.
    """
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
            attempt = _sender(schedule, channel, result, summary)
            deliveries.append(
                _deliver(
                    schedule, channel, event=event, attempt=attempt, delays=pauses, sleep=sleep
                )
            )
        except Exception as exc:
            deliveries.append(
                Delivery(
                    channel.describe(),
                    event,
                    DeliveryStatus.FAILED,
                    0,
                    datetime.now(UTC),
                    _error_text(exc, schedule),
                )
            )
    return tuple(deliveries)


def send_test(
    schedule: Schedule, *, delays: Sequence[float] | None = None, sleep: Sleep = time.sleep
) -> tuple[Delivery, ...]:
    """Send a test message through every configured channel; one `Delivery` per channel."""
    empty = RunResult(plan=Plan(at=datetime.now(UTC), decisions=()))
    return notify_run(schedule, empty, NotifyEvent.TEST, delays=delays, sleep=sleep)
