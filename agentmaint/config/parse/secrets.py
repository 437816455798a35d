"""Secret fields: ``${ENV}`` and ``file:`` references resolved, their variables kept.

The variables the notification secrets were read from are remembered
(`Notification.env_names`) so that they are kept out of Ansible jobs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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
            url = resolve_secret(value)
        except SecretReferenceError as exc:
            self.fail(["history", "url"], str(exc))
            return None
        problem = _history_url_problem(url.reveal())
        if problem:
            self.fail(["history", "url"], problem)
        return url

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


_SQLITE_PREFIX = "sqlite:///"


def _history_url_problem(url: str) -> str | None:
    """What makes a resolved ``history.url`` unusable, or None; never shows a password.

    The schema checks the scheme as written; this checks the rest once references are
    resolved, by the rules of `agentmaint.history.db.url` (which cannot be imported here).
    """
    if url.startswith(_SQLITE_PREFIX):
        rest = url[len(_SQLITE_PREFIX) :]
        if "?" in rest or "#" in rest:
            return "a sqlite URL takes no query (?) or fragment (#)"
        if not rest.strip("/") or rest.endswith("/"):
            return (
                "names no database file (use sqlite:///relative/path or sqlite:////absolute/path)"
            )
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        return None  # the schema reported the scheme
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "has an invalid port (expected 1-65535; value not shown: it may hold a password)"
    if parts.fragment:
        return "a PostgreSQL URL takes no fragment (#)"
    return None
