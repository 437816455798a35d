"""The record of one notification delivery: which channel, which event, how it went.

Channels are described without secrets (`Channel.describe`); errors are redacted
before they are put in a `Delivery`, so a delivery may be shown and stored as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from agentmaint.config.schedule import NotifyEvent


class DeliveryStatus(StrEnum):
    """Whether a notification reached its channel (after all retries)."""

    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification sent (or not) through one channel."""

    channel: str  # redacted description, e.g. "webhook 'ops' https://hooks.example.com/***"
    event: NotifyEvent
    status: DeliveryStatus
    attempts: int
    at: datetime
    error: str | None = None  # redacted

    @property
    def delivered(self) -> bool:
        """True when the channel accepted the notification."""
        return self.status is DeliveryStatus.DELIVERED

    def to_dict(self) -> dict[str, Any]:
        """The delivery as JSON-ready data."""
        return {
            "channel": self.channel,
            "event": self.event.value,
            "status": self.status.value,
            "attempts": self.attempts,
            "error": self.error,
            "at": self.at.isoformat(),
        }
