"""The ``components`` section (role arguments, health checks) and ``backup``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from agentmaint.config.parse.base import Path_, _BuilderBase, become_setting
from agentmaint.config.roles import COMPONENT_ROLES, DEFAULT_ROLE, check_vars
from agentmaint.config.schedule import (
    Backup,
    Component,
    Frequency,
    HealthCheck,
)
from agentmaint.config.secret import http_url_problem

#: The seed's frequencies, with its day counts (a "month" is 30 days).
NAMED_FREQUENCIES = {
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=30),
    "quarterly": timedelta(days=90),
}


class _Components(_BuilderBase):
    """Builds components (with their role arguments and health checks) and backups."""

    def component(self, name: str, raw: Any) -> Component | None:
        if not isinstance(raw, dict):
            return None
        text = raw.get("frequency")
        command = raw.get("update_command")
        role = raw.get("role", DEFAULT_ROLE)
        if not isinstance(text, str) or role not in COMPONENT_ROLES:
            return None
        variables = raw.get("vars") or {}
        if not isinstance(variables, dict) or not self.role_arguments(name, raw, role, variables):
            return None
        if text in NAMED_FREQUENCIES:
            interval = NAMED_FREQUENCIES[text]
        else:
            interval = self.duration(text, ["components", name, "frequency"], timedelta(0))
            if not interval:
                return None  # reported: zero here, or a bad pattern by the schema
        rollback = raw.get("rollback_command")
        description = raw.get("description")
        return Component(
            name=name,
            update_command=command if isinstance(command, str) else None,
            frequency=Frequency(interval=interval, label=text),
            healthcheck=self.healthcheck(
                raw.get("healthcheck"), ["components", name, "healthcheck"]
            ),
            rollback_command=rollback if isinstance(rollback, str) else None,
            role=role,
            vars=dict(variables),
            become=become_setting(raw.get("become")),
            description=description if isinstance(description, str) else "",
        )

    def role_arguments(
        self, name: str, raw: dict[str, Any], role: str, given: dict[str, Any]
    ) -> bool:
        """Check the role-specific keys of a component; False when it cannot be built."""
        path: Path_ = ["components", name]
        ok = True
        if role == DEFAULT_ROLE:
            if not isinstance(raw.get("update_command"), str):
                if "update_command" not in raw:
                    self.fail([*path, "update_command"], "is required (or choose another 'role')")
                return False
            if given:
                self.fail([*path, "vars"], "is only for the roles other than 'command'")
                return False
            return True
        for own in ("update_command", "rollback_command"):
            if own in raw:
                self.fail([*path, own], f"is only for role 'command' (this is role {role!r})")
                ok = False
        for key, message in check_vars(role, given):
            self.fail([*path, "vars", *([key] if key is not None else [])], message)
            ok = False
        return ok

    def healthcheck(self, raw: Any, path: Path_) -> HealthCheck | None:
        if isinstance(raw, str):
            return HealthCheck(command=raw)
        if not isinstance(raw, dict):
            return None
        command, url = raw.get("command"), raw.get("url")
        if (command is None) == (url is None):
            self.fail(path, "needs exactly one of 'command' and 'url'")
            return None
        contains = raw.get("contains")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            # The schema checked the scheme; this checks the host and port.
            problem = http_url_problem(url)
            if problem:
                self.fail([*path, "url"], f"{url!r} {problem}")
        return HealthCheck(
            command=command if isinstance(command, str) else None,
            url=url if isinstance(url, str) else None,
            status=int(raw.get("status", 200)),
            contains=contains if isinstance(contains, str) else None,
            retries=int(raw.get("retries", 3)),
            delay=self.duration(
                raw.get("delay"), [*path, "delay"], timedelta(seconds=5), zero=True
            ),
        )

    def check_backup(self, raw: Any) -> None:
        """Report backup settings that would silently do nothing."""
        if not isinstance(raw, dict):
            return
        paths = raw.get("paths")
        # A blank backup_command is the schema's to report.
        if raw.get("pre_update") is True and "backup_command" not in raw and not paths:
            self.fail(
                ["backup", "pre_update"],
                "is true but there is nothing to back up: give backup_command or paths",
            )
        if raw.get("restore_on_failure") is True and (
            raw.get("pre_update") is not True or not paths
        ):
            self.fail(
                ["backup", "restore_on_failure"],
                "needs pre_update: true and paths (it restores the archive of 'paths' taken "
                "before the update)",
            )

    def backup(self, raw: Any) -> Backup:
        if not isinstance(raw, dict):
            return Backup()
        command = raw.get("backup_command")
        paths = raw.get("paths")
        directory = raw.get("directory")
        return Backup(
            pre_update=bool(raw.get("pre_update", False)),
            backup_command=command if isinstance(command, str) and command else None,
            retention_days=int(raw.get("retention_days", 30)),
            paths=tuple(p for p in paths if isinstance(p, str)) if isinstance(paths, list) else (),
            directory=directory if isinstance(directory, str) else None,
            restore_on_failure=raw.get("restore_on_failure") is True,
        )
