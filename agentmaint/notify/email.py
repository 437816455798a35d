"""The email channel: a ``multipart/alternative`` message sent over SMTP.

Plain text and HTML (every value escaped); STARTTLS or implicit TLS, and a login
when the schedule gives a username (the password is revealed to `smtplib` only).
"""

from __future__ import annotations

import html
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from agentmaint.config.schedule import SmtpSettings, TLSMode
from agentmaint.notify.attachment import ReportAttachment
from agentmaint.notify.deadline import Abort, shutdown
from agentmaint.notify.summary import (
    _COLUMNS,
    _cell,
    _problem_lines,
    _rollback_lines,
    render_text,
)

__all__ = ["email_message", "render_html"]


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


def email_message(
    smtp: SmtpSettings,
    to: Sequence[str],
    summary: dict[str, Any],
    report: ReportAttachment | None = None,
) -> EmailMessage:
    """The notification email: plain text and HTML alternatives, and `report` attached."""
    message = EmailMessage()
    message["Subject"] = " ".join(str(summary["title"]).split())[:200]
    message["From"] = smtp.sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="agentmaint")
    message["X-Agentmaint-Event"] = summary["event"]
    message.set_content(render_text(summary))
    message.add_alternative(render_html(summary), subtype="html")
    if report is not None:
        message.add_attachment(report.html, subtype="html", filename=report.filename)
    return message


class _Smtp(smtplib.SMTP):
    """An SMTP client whose socket `abort` can shut down, from the greeting on."""

    def __init__(self, abort: Abort, host: str, port: int, timeout: float) -> None:
        # Registered before connecting: the greeting may already be what never ends.
        abort.on_abort(lambda: shutdown(getattr(self, "sock", None)))
        super().__init__(host, port, timeout=timeout)


class _SmtpSsl(smtplib.SMTP_SSL):
    """An implicit-TLS SMTP client whose socket `abort` can shut down."""

    def __init__(
        self, abort: Abort, host: str, port: int, timeout: float, context: ssl.SSLContext
    ) -> None:
        abort.on_abort(lambda: shutdown(getattr(self, "sock", None)))
        super().__init__(host, port, timeout=timeout, context=context)


def _send_email(
    smtp: SmtpSettings, to: Sequence[str], message: EmailMessage, abort: Abort, timeout: float
) -> None:
    """Send `message`; `smtp.timeout` bounds each command, `timeout` the conversation.

    The client's socket is registered with `abort` (read when aborting: STARTTLS
    replaces it), so the caller can end a conversation that outlives its deadline.
    """
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    per_command = min(smtp.timeout.total_seconds(), timeout)
    client: smtplib.SMTP
    if smtp.tls is TLSMode.SSL:
        client = _SmtpSsl(abort, smtp.host, smtp.port, per_command, context)
    else:
        client = _Smtp(abort, smtp.host, smtp.port, per_command)
    with client:
        if smtp.tls is TLSMode.STARTTLS:
            client.starttls(context=context)
        if smtp.username is not None:
            password = smtp.password.reveal() if smtp.password is not None else ""
            client.login(smtp.username, password)
        refused = client.send_message(message, to_addrs=list(to))
    if refused:
        raise smtplib.SMTPRecipientsRefused(refused)
