"""The ``environments`` section: hosts, update windows (weekly or cron), blackouts."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agentmaint.config.cron import CronExpression
from agentmaint.config.parse.base import Path_, become_setting
from agentmaint.config.parse.secrets import _Secrets
from agentmaint.config.schedule import (
    WEEKDAY_NAMES,
    Blackout,
    Environment,
    Host,
    HostVarValue,
    PromotionGate,
    Rollout,
    UpdateSchedule,
    is_password_variable,
)
from agentmaint.config.secret import Secret, is_reference, referenced_variables
from agentmaint.config.suggest import did_you_mean
from agentmaint.errors import CronError

DEFAULT_DURATION = timedelta(hours=1)
#: The longest window: a weekly window this long never closes, and finding the window open
#: at an instant walks every start within one duration before it.
MAX_WINDOW = timedelta(days=7)
_DAY_NUMBERS = {name.lower(): number for number, name in enumerate(WEEKDAY_NAMES)} | {
    name[:3].lower(): number for number, name in enumerate(WEEKDAY_NAMES)
}


_HOST_KEYS = ("servers", "hosts")
_PORT_VARIABLES = ("ansible_port", "ansible_ssh_port")


class _Environments(_Secrets):
    """Builds environments, their hosts and connection settings, update windows, blackouts."""

    def environment(
        self, name: str, raw: Any, path: Path_, default_zone: ZoneInfo
    ) -> Environment | None:
        if not isinstance(raw, dict):
            return None
        hosts = self.hosts(raw, path)
        if "servers" not in raw and "hosts" not in raw:
            self.fail(path, "needs 'servers' (a list of host names) or 'hosts' (a mapping)")
        elif not hosts and all(isinstance(raw.get(k), list | dict | None) for k in _HOST_KEYS):
            self.fail(path, "has no hosts: list at least one in 'servers' or 'hosts'")
        schedule = self.update_schedule(
            raw.get("update_schedule"), [*path, "update_schedule"], default_zone
        )
        zone = schedule.timezone if schedule else default_zone
        rollout_raw = raw.get("rollout") if isinstance(raw.get("rollout"), dict) else {}
        assert isinstance(rollout_raw, dict)
        serial = rollout_raw.get("serial")
        fail_pct = rollout_raw.get("max_fail_percentage")
        rollout = Rollout(
            serial=serial
            if isinstance(serial, int | str) and not isinstance(serial, bool)
            else None,
            max_fail_percentage=float(fail_pct) if isinstance(fail_pct, int | float) else None,
            max_failures=budget
            if isinstance(budget := rollout_raw.get("max_failures"), int | str)
            and not isinstance(budget, bool)
            else None,
        )
        gate = None
        promote = raw.get("promote_from")
        if isinstance(promote, dict) and isinstance(promote.get("environment"), str):
            gate = PromotionGate(
                environment=promote["environment"],
                soak=self.duration(
                    promote.get("soak"), [*path, "promote_from", "soak"], timedelta(0), zero=True
                ),
            )
        blackouts = self.blackouts(raw.get("blackouts"), [*path, "blackouts"], zone)
        connection, connection_secrets = self.connection_vars(
            raw.get("connection"), [*path, "connection"]
        )
        if schedule is None:
            return None
        return Environment(
            name=name,
            hosts=hosts,
            schedule=schedule,
            rollout=rollout,
            promote_from=gate,
            blackouts=blackouts,
            execution_node=node if isinstance(node := raw.get("execution_node"), str) else None,
            connection=connection,
            connection_secrets=connection_secrets,
            become=become_setting(raw.get("become")),
        )

    def connection_vars(
        self, raw: Any, path: Path_
    ) -> tuple[dict[str, HostVarValue], dict[str, Secret]]:
        """Connection variables split into plain ones and password-like secrets.

        A password-like variable (`is_password_variable`) must be a ``${ENV}`` or
        ``file:`` reference unless ``allow_literal_secrets: true``; it is kept as a
        `Secret` and never rendered into a file.
        """
        plain: dict[str, HostVarValue] = {}
        secrets: dict[str, Secret] = {}
        if not isinstance(raw, dict):
            return plain, secrets
        self.check_ports(raw, path)
        for key, value in raw.items():
            if not isinstance(value, str | int | float | bool):
                continue
            name = str(key)
            if not is_password_variable(name):
                plain[name] = value
                continue
            text = str(value) if not isinstance(value, bool) else ""
            if not text:
                self.fail([*path, name], "must be a non-empty string (a password)")
                continue
            if not is_reference(text) and not self.allow_literal_secrets:
                self.fail(
                    [*path, name],
                    "is a password written in the schedule file: give a ${ENV_VAR} or "
                    "file:/path reference (or set allow_literal_secrets: true)",
                )
                continue
            self.connection_variables.extend(referenced_variables(text))
            secret = self._secret(text, [*path, name], check=None)
            if secret is not None:
                secrets[name] = secret
        return plain, secrets

    def hosts(self, raw: dict[str, Any], path: Path_) -> tuple[Host, ...]:
        hosts: dict[str, Host] = {}
        servers = raw.get("servers")
        for index, server in enumerate(servers if isinstance(servers, list) else []):
            if not isinstance(server, str):
                continue
            if server in hosts:
                self.fail([*path, "servers", index], f"host {server!r} is listed twice")
            hosts[server] = Host(server)
        mapping = raw.get("hosts")
        for host, variables in (mapping if isinstance(mapping, dict) else {}).items():
            if host in hosts and isinstance(servers, list):
                self.fail([*path, "hosts", host], f"host {host!r} is also listed in 'servers'")
            clean, secrets = self.connection_vars(variables, [*path, "hosts", str(host)])
            hosts[str(host)] = Host(str(host), clean, secrets)
        return tuple(hosts.values())

    def check_ports(self, variables: dict[str, Any], path: Path_) -> None:
        """A port written as a string is 1-65535 too (the schema bounds integers and digits)."""
        for name in _PORT_VARIABLES:
            value = variables.get(name)
            if not isinstance(value, str) or not value.isdigit():
                continue  # absent, an integer, or not digits: the schema reports those
            if not 0 < int(value) < 65536:
                self.fail([*path, name], f"{value!r} is not a port number (1-65535)")

    def update_schedule(
        self, raw: Any, path: Path_, default_zone: ZoneInfo
    ) -> UpdateSchedule | None:
        if not isinstance(raw, dict):
            return None
        zone = self.zone(raw.get("timezone"), [*path, "timezone"], default_zone)
        duration = self.duration(
            raw.get("duration"),
            [*path, "duration"],
            DEFAULT_DURATION,
            at_most=MAX_WINDOW,
            hint="a window lasts from 1s to 7d; for one that is always open use "
            "day_of_week: daily with duration: 24h",
        )
        cutoff = self.duration(raw.get("cutoff"), [*path, "cutoff"], timedelta(0), zero=True)
        if "cutoff" in raw and cutoff >= duration:
            self.fail(
                [*path, "cutoff"],
                f"{raw['cutoff']!r} leaves no time to start: it must be shorter than the "
                f"window's duration",
            )
        if "cron" in raw:
            for key in ("day_of_week", "time"):
                if key in raw:
                    self.fail([*path, key], "cannot be combined with 'cron'")
            text = raw["cron"]
            if not isinstance(text, str):
                return None
            try:
                cron = CronExpression.parse(text)
            except CronError as exc:
                self.fail([*path, "cron"], f"{text!r} is not a valid cron expression: {exc}")
                return None
            return UpdateSchedule(timezone=zone, duration=duration, cutoff=cutoff, cron=cron)
        if "day_of_week" not in raw:
            self.fail([*path, "day_of_week"], "is required (or give 'cron' instead)")
        if "time" not in raw:
            self.fail([*path, "time"], "is required (or give 'cron' instead)")
        days = self.days(raw.get("day_of_week"), [*path, "day_of_week"])
        at = raw.get("time")
        if days is None or not isinstance(at, str):
            return None
        try:
            hour, minute = (int(part) for part in at.split(":"))
            at_time = time(hour, minute)
        except ValueError:
            return None  # the schema's pattern already reported it
        return UpdateSchedule(
            timezone=zone, duration=duration, cutoff=cutoff, days=days, at_time=at_time
        )

    def days(self, raw: Any, path: Path_) -> frozenset[int] | None:
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list):
            return None
        numbers: set[int] = set()
        valid = True
        for index, name in enumerate(names):
            where = path if isinstance(raw, str) else [*path, index]
            if not isinstance(name, str):
                valid = False
                continue
            key = name.strip().lower()
            if key == "daily":
                numbers.update(range(7))
            elif key in _DAY_NUMBERS:
                numbers.add(_DAY_NUMBERS[key])
            else:
                hint = did_you_mean(name, [*WEEKDAY_NAMES, "daily"])
                self.fail(
                    where,
                    f"{name!r} is not a day of the week (Monday..Sunday, Mon..Sun or daily){hint}",
                )
                valid = False
        return frozenset(numbers) if valid and numbers else None

    def blackouts(self, raw: Any, path: Path_, zone: ZoneInfo) -> tuple[Blackout, ...]:
        result: list[Blackout] = []
        for index, item in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(item, dict):
                continue
            where = [*path, index]
            start = self.instant(item.get("start"), [*where, "start"], zone, end=False)
            end = self.instant(item.get("end"), [*where, "end"], zone, end=True)
            if start is None or end is None:
                continue
            if end <= start:
                self.fail([*where, "end"], f"{item['end']!r} is not after start {item['start']!r}")
                continue
            reason = item.get("reason")
            result.append(Blackout(start, end, reason if isinstance(reason, str) else ""))
        return tuple(result)
