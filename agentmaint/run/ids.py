"""Run ids: sortable by start and unique."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

__all__ = ["new_run_id"]


def new_run_id(now: datetime) -> str:
    """A sortable, unique run id: ``20261123T013000Z-1a2b3c``."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
