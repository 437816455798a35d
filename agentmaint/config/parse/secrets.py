"""Secret fields: ``${ENV}`` and ``file:`` references checked, resolved, their variables kept.

Every secret field is checked for form first (`reference_problem`), in both modes.
Then a reference is resolved at once, or kept as a `SecretReference` when the
schedule is loaded with ``resolve_secrets=False`` (`Schedule.resolve_secrets`
resolves it later). Literals are `Secret`s either way.

The variables the notification secrets were read from are remembered
(`Notification.env_names`) so that they are kept out of Ansible jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentmaint.config.parse.base import Path_, _BuilderBase
from agentmaint.config.secret import (
    Secret,
    SecretReference,
    hidden,
    history_url_problem,
    http_url_problem,
    is_reference,
    reference_problem,
    referenced_variables,
    url_problem,
)
from agentmaint.errors import SecretReferenceError, format_path


class _Secrets(_BuilderBase):
    """Checks and resolves secret fields, reporting a reference that is malformed or fails."""

    def history_url(self, value: Any) -> Secret | None:
        """``history.url``, resolved like any secret (it may carry a password)."""
        return self._secret(value, ["history", "url"], check=history_url_problem)

    def secret(self, value: Any, path: Path_, *, http_url: bool = False) -> Secret | None:
        """A notification secret (``${ENV}``, ``file:``); None when absent, empty or wrong.

        `http_url`: the value must be an http:// or https:// URL.
        """
        if isinstance(value, str) and reference_problem(value) is None:
            self.secret_variables.extend(referenced_variables(value))
        return self._secret(value, path, check=http_url_problem if http_url else None)

    def _secret(
        self, value: Any, path: Path_, *, check: Callable[[str], str | None] | None
    ) -> Secret | None:
        """A secret field: its form checked, then its value by `check`.

        A literal's value is checked now, a reference's when it is resolved; a problem
        never shows the value.
        """
        if not isinstance(value, str) or not value:
            return None
        problem = reference_problem(value) or (
            url_problem(value) if check is http_url_problem else None
        )
        if problem is not None:
            self.fail(path, problem)
            return None
        if not is_reference(value):
            if check is not None and (problem := check(value)) is not None:
                self.fail(path, hidden(problem))
                return None
            return Secret(value)
        reference = SecretReference(value, format_path(path), check=check)
        if not self.resolve_secrets:
            return reference
        try:
            return reference.resolve()
        except SecretReferenceError as exc:
            self.fail(path, str(exc))
            return None
