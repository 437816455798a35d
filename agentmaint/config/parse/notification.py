"""The ``notification`` section: email, Slack and webhook channels, SMTP settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from agentmaint.config.parse.base import Path_
from agentmaint.config.parse.secrets import _Secrets
from agentmaint.config.schedule import (
    DEFAULT_WHEN,
    RUN_EVENTS,
    WHEN_ALWAYS,
    Channel,
    ChannelType,
    Notification,
    NotifyEvent,
    SmtpSettings,
    TLSMode,
)
from agentmaint.config.secret import Secret

_TLS_WORDS = tuple(mode.value for mode in TLSMode)
_CHANNEL_WORDS = tuple(kind.value for kind in ChannelType)


class _Notification(_Secrets):
    """Builds the notification settings and channels (their secrets checked, maybe resolved)."""

    def notification(self, raw: Any) -> Notification:
        if not isinstance(raw, dict):
            return Notification()
        path: Path_ = ["notification"]
        default_when = self.when(raw.get("when"), DEFAULT_WHEN)
        emails = _addresses(raw.get("email"))
        webhook = self.secret(raw.get("slack_webhook"), [*path, "slack_webhook"], http_url=True)
        smtp = self.smtp(raw.get("smtp"), [*path, "smtp"])
        channels: list[Channel] = []
        if emails:
            channels.append(Channel(ChannelType.EMAIL, when=default_when, to=emails))
        if webhook is not None:
            channels.append(Channel(ChannelType.SLACK, when=default_when, url=webhook))
        raw_channels = raw.get("channels")
        names: set[str] = set()
        for index, item in enumerate(raw_channels if isinstance(raw_channels, list) else []):
            channel = self.channel(item, [*path, "channels", index], default_when)
            if channel is None:
                continue
            if channel.name is not None and channel.name in names:
                self.fail(
                    [*path, "channels", index, "name"],
                    f"{channel.name!r} names another channel too: results could not tell "
                    "them apart",
                )
            names.add(channel.name or "")
            channels.append(channel)
        if smtp is None and any(c.type is ChannelType.EMAIL for c in channels):
            smtp = SmtpSettings()
        return Notification(
            emails=emails,
            slack_webhook=webhook,
            smtp=smtp,
            channels=tuple(channels),
            env_names=tuple(dict.fromkeys(self.secret_variables)),
            report=raw.get("report") is True,
        )

    def when(self, raw: Any, default: frozenset[NotifyEvent]) -> frozenset[NotifyEvent]:
        if not isinstance(raw, list):
            return default
        words = {w for w in raw if isinstance(w, str)}
        if WHEN_ALWAYS in words:
            return RUN_EVENTS
        return frozenset(NotifyEvent(w) for w in words if w in RUN_EVENTS)

    def smtp(self, raw: Any, path: Path_) -> SmtpSettings | None:
        if not isinstance(raw, dict):
            return None
        tls_word = raw.get("tls")
        tls = TLSMode(tls_word) if tls_word in _TLS_WORDS else TLSMode.NONE
        default_port = {TLSMode.NONE: 25, TLSMode.STARTTLS: 587, TLSMode.SSL: 465}[tls]
        port = raw.get("port")
        username = raw.get("username")
        password = self.secret(raw.get("password"), [*path, "password"])
        if isinstance(username, str) and password is None and "password" not in raw:
            self.fail([*path, "password"], "is required with 'username'")
        if "password" in raw and "username" not in raw:
            self.fail(
                [*path, "password"],
                "needs 'username': without one agentmaint does not log in",
            )
        ca_file = raw.get("ca_file")
        host = raw.get("host")
        sender = raw.get("from")
        return SmtpSettings(
            host=host if isinstance(host, str) else "localhost",
            port=port if isinstance(port, int) and not isinstance(port, bool) else default_port,
            sender=sender if isinstance(sender, str) else "agentmaint@localhost",
            tls=tls,
            username=username if isinstance(username, str) else None,
            password=password,
            timeout=self.duration(
                raw.get("timeout"),
                [*path, "timeout"],
                timedelta(seconds=30),
                hint="omit it for the default, 30s",
            ),
            ca_file=Path(ca_file) if isinstance(ca_file, str) else None,
        )

    def channel(
        self, raw: Any, path: Path_, default_when: frozenset[NotifyEvent]
    ) -> Channel | None:
        if not isinstance(raw, dict) or raw.get("type") not in _CHANNEL_WORDS:
            return None
        kind = ChannelType(raw["type"])
        allowed = {
            ChannelType.EMAIL: {"to"},
            ChannelType.SLACK: {"url"},
            ChannelType.WEBHOOK: {"url", "secret", "headers"},
        }[kind]
        for key in ("to", "url", "secret", "headers"):
            if key in raw and key not in allowed:
                self.fail([*path, key], f"does not apply to a {kind.value} channel")
        to = _addresses(raw.get("to"))
        if kind is ChannelType.EMAIL and not to:
            self.fail([*path, "to"], "is required for an email channel (one or more addresses)")
        url = self.secret(raw.get("url"), [*path, "url"], http_url=kind is not ChannelType.EMAIL)
        if kind is not ChannelType.EMAIL and url is None and "url" not in raw:
            self.fail([*path, "url"], f"is required for a {kind.value} channel")
        headers: dict[str, Secret] = {}
        raw_headers = raw.get("headers")
        for header, value in (raw_headers if isinstance(raw_headers, dict) else {}).items():
            resolved = self.secret(value, [*path, "headers", str(header)])
            if resolved is not None:
                headers[str(header)] = resolved
        name = raw.get("name")
        return Channel(
            type=kind,
            when=self.when(raw.get("when"), default_when),
            to=to,
            url=url,
            secret=self.secret(raw.get("secret"), [*path, "secret"]),
            headers=headers,
            name=name if isinstance(name, str) else None,
        )


def _addresses(raw: Any) -> tuple[str, ...]:
    """Email addresses from a string or list; an empty string means none."""
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(a for a in items if isinstance(a, str) and a)
