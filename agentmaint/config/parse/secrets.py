"""Secret fields: ``${ENV}`` and ``file:`` references resolved, their variables kept.

The variables the notification secrets were read from are remembered
(`Notification.env_names`) so that they are kept out of Ansible jobs.
"""

from __future__ import annotations

from typing import Any

from agentmaint.config.parse.base import Path_, _BuilderBase
from agentmaint.config.secret import Secret, referenced_variables
from agentmaint.config.secret import resolve as resolve_secret
from agentmaint.errors import SecretReferenceError


class _Secrets(_BuilderBase):
    """Resolves secret fields, reporting a reference that cannot be resolved."""

    def history_url(self, value: Any) -> Secret | None:
        """``history.url``, resolved like any secret (it may carry a password)."""
        if not isinstance(value, str) or not value:
            return None
        try:
            return resolve_secret(value)
        except SecretReferenceError as exc:
            self.fail(["history", "url"], str(exc))
            return None

    def secret(self, value: Any, path: Path_) -> Secret | None:
        """A secret field resolved (``${ENV}``, ``file:``); None when absent or empty."""
        if not isinstance(value, str) or not value:
            return None
        self.secret_variables.extend(referenced_variables(value))
        try:
            return resolve_secret(value)
        except SecretReferenceError as exc:
            self.fail(path, str(exc))
            return None
