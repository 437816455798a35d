"""`InfrastructureMaintenance`: the seed's public interface, made real.

Scripts written against the original class keep working: the same constructor,
`check_update_schedule()`, `perform_updates(environment, components)` and
`maintenance_history`, with the same return shapes. Behind them, updates really
run through Ansible, a failed backup really stops the host's update, windows are
compared as instants (not "HH:MM" strings), and the history survives restarts
in the SQLite store under the schedule's `state_dir`.

Differences from the seed, all deliberate: a configuration file that exists but
is invalid raises `ScheduleError` instead of silently falling back to the
defaults (the defaults are used only when the file does not exist, as before);
backups run per host before its update instead of once per environment.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentmaint.config.loader import load_file
from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.history.store import open_history
from agentmaint.maintenance import run_maintenance
from agentmaint.planning.planner import plan
from agentmaint.records import Outcome

#: The configuration the seed's `_load_config` falls back to, unchanged.
SEED_DEFAULT_CONFIG: dict[str, Any] = {
    "environments": {
        "testing": {
            "servers": ["test-server-1", "test-server-2"],
            "update_schedule": {"day_of_week": "Monday", "time": "01:00"},
        },
        "production": {
            "servers": ["prod-server-1", "prod-server-2", "prod-server-3"],
            "update_schedule": {"day_of_week": "Wednesday", "time": "03:00"},
        },
    },
    "components": {
        "os": {
            "update_command": "sudo apt-get update && sudo apt-get upgrade -y",
            "frequency": "weekly",
        },
        "docker": {"update_command": "docker system prune -af", "frequency": "weekly"},
        "python": {
            "update_command": "pip install --upgrade -r requirements.txt",
            "frequency": "monthly",
        },
        "models": {"update_command": "python scripts/update_models.py", "frequency": "monthly"},
    },
    "notification": {"email": "admin@example.com", "slack_webhook": ""},
    "backup": {
        "pre_update": True,
        "backup_command": "python scripts/backup.py",
        "retention_days": 30,
    },
}


class InfrastructureMaintenance:
    """Manages infrastructure maintenance for AI agent systems (the seed's interface)."""

    def __init__(self, config_file: str = "config/infrastructure.json") -> None:
        """Load the schedule from `config_file`, or the seed's defaults if it does not exist."""
        path = Path(config_file)
        if path.exists():
            document = load_file(path)
            base = path.resolve().parent
        else:
            document = copy.deepcopy(SEED_DEFAULT_CONFIG)
            base = Path.cwd()
        self.config: dict[str, Any] = document
        self.schedule: Schedule = parse_schedule(document, source=str(path), base_dir=base)

    @property
    def maintenance_history(self) -> list[dict[str, Any]]:
        """Every recorded action, oldest first, in the seed's entry shape."""
        with open_history(self.schedule.history_url, self.schedule.state_dir) as store:
            return [record.to_dict() for record in reversed(store.records())]

    def check_update_schedule(self) -> dict[str, list[str]]:
        """Environments mapped to the components due now (per the windows and the history)."""
        with open_history(self.schedule.history_url, self.schedule.state_dir) as store:
            result = plan(self.schedule, store, datetime.now(UTC))
        due: dict[str, list[str]] = {}
        for decision in result.due:
            due.setdefault(decision.environment, []).append(decision.component)
        return due

    def perform_updates(self, environment: str, components: list[str]) -> dict[str, Any]:
        """Update `components` on every server of `environment` now; the seed's result shape.

        Unknown components are skipped (as in the seed); an unknown environment raises
        `ValueError`.
        """
        if environment not in self.schedule.environments:
            raise ValueError(f"Environment {environment} not found in configuration")
        known = [c for c in components if c in self.schedule.components]
        servers = self.schedule.environments[environment].host_names
        results: dict[str, Any] = {
            "environment": environment,
            "timestamp": time.time(),
            "servers": {server: {"components": {}} for server in servers},
            "overall_status": "success",
        }
        if not known:
            return results
        run = run_maintenance(
            self.schedule,
            environments=[environment],
            components=known,
            force=True,
            trigger="compat",
        )
        for outcome in run.outcomes:
            # A skipped update (its backup failed, the rollout stopped) did not update: failed.
            status = "success" if outcome.status is Outcome.SUCCESS else "failed"
            results["servers"][outcome.host]["components"][outcome.component] = {
                "status": status,
                "error": None if status == "success" else outcome.error or outcome.status.value,
            }
            if status != "success":
                results["overall_status"] = "partial_failure"
        return results
