"""Build a typed `Schedule` from a schedule file or mapping, reporting every problem.

Validation runs in two passes that both always run, so that one invocation
reports everything: the JSON Schema (shapes, types, patterns), then the
semantics the schema cannot express (time zones, cron expressions, promotion
cycles, hosts listed twice, blackouts that end before they start, a cutoff
longer than its window). Semantic checks skip values the schema already
rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentmaint.config.cron import CronError, CronExpression
from agentmaint.config.durations import parse_duration
from agentmaint.config.loader import load_file
from agentmaint.config.roles import COMPONENT_ROLES, DEFAULT_ROLE, check_vars
from agentmaint.config.schedule import (
    DEFAULT_WHEN,
    LOCAL_NODE,
    RUN_EVENTS,
    WEEKDAY_NAMES,
    WHEN_ALWAYS,
    Backup,
    Blackout,
    Channel,
    ChannelType,
    Component,
    Environment,
    Execution,
    ExecutionNode,
    Frequency,
    HealthCheck,
    Host,
    HostVarValue,
    Notification,
    NotifyEvent,
    PromotionGate,
    Rollout,
    Schedule,
    SmtpSettings,
    TLSMode,
    UpdateSchedule,
)
from agentmaint.config.secret import Secret, SecretReferenceError, referenced_variables
from agentmaint.config.secret import resolve as resolve_secret
from agentmaint.config.validation import schema_problems
from agentmaint.errors import Problem, ScheduleError, format_path

UTC = ZoneInfo("UTC")
DEFAULT_DURATION = timedelta(hours=1)
#: The seed's frequencies, with its day counts (a "month" is 30 days).
NAMED_FREQUENCIES = {
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=30),
    "quarterly": timedelta(days=90),
}
_DAY_NUMBERS = {name.lower(): number for number, name in enumerate(WEEKDAY_NAMES)} | {
    name[:3].lower(): number for number, name in enumerate(WEEKDAY_NAMES)
}
Path_ = list[str | int]
_TLS_WORDS = tuple(mode.value for mode in TLSMode)
_CHANNEL_WORDS = tuple(kind.value for kind in ChannelType)


def load_schedule(path: str | Path) -> Schedule:
    """Read, validate and build the schedule in `path` (YAML, or JSON by its suffix).

    Raises `ScheduleError` listing every problem found.
    """
    file = Path(path)
    document = load_file(file)
    return parse_schedule(document, source=str(file), base_dir=file.resolve().parent)


def validate_file(path: str | Path) -> list[Problem]:
    """Every problem of the schedule in `path`; empty when it is valid."""
    try:
        load_schedule(path)
    except ScheduleError as exc:
        return list(exc.problems)
    return []


def parse_schedule(
    document: Any, *, source: str = "<memory>", base_dir: Path | None = None
) -> Schedule:
    """Validate a schedule document (plain data, as loaded from YAML/JSON) and build it.

    `base_dir` anchors a relative `state_dir` (default: the current directory).
    Raises `ScheduleError` listing every problem found.
    """
    problems = schema_problems(document)
    if not isinstance(document, dict):
        if not problems:
            problems.append(Problem("", "the document must be a mapping"))
        raise ScheduleError(source, problems)
    builder = _Builder(problems)
    schedule = builder.schedule(document, source, base_dir or Path.cwd())
    if problems:
        unique = sorted(set(problems), key=lambda p: (p.path, p.message))
        raise ScheduleError(source, unique)
    assert schedule is not None
    return schedule


class _Builder:
    """Turns a (possibly invalid) document into typed objects, collecting problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.secret_variables: list[str] = []

    def fail(self, path: Path_, message: str) -> None:
        self.problems.append(Problem(format_path(path), message))

    # -- scalars -------------------------------------------------------------------------

    def zone(self, value: Any, path: Path_, default: ZoneInfo) -> ZoneInfo:
        if not isinstance(value, str) or not value:
            return default
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(path, f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin, UTC)")
            return default

    def duration(self, value: Any, path: Path_, default: timedelta) -> timedelta:
        if not isinstance(value, str):
            return default
        try:
            return parse_duration(value)
        except ValueError:
            return default  # the schema's pattern already reported it

    def instant(self, value: Any, path: Path_, zone: ZoneInfo, *, end: bool) -> datetime | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                if end:  # a date as the end includes that whole day
                    day += timedelta(days=1)
                return datetime.combine(day, time(0), zone).astimezone(UTC)
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            self.fail(path, f"{value!r} is not a valid date or date-time ({exc})")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)

    # -- sections ------------------------------------------------------------------------

    def schedule(self, doc: dict[str, Any], source: str, base_dir: Path) -> Schedule | None:
        zone = self.zone(doc.get("timezone"), ["timezone"], UTC)
        raw_envs = doc.get("environments")
        raw_envs = raw_envs if isinstance(raw_envs, dict) else {}
        environments: dict[str, Environment] = {}
        for name, raw in raw_envs.items():
            env = self.environment(str(name), raw, ["environments", str(name)], zone)
            if env is not None:
                environments[env.name] = env
        self.check_hosts_unique(environments)
        self.check_promotions(raw_envs)
        raw_components = doc.get("components")
        raw_components = raw_components if isinstance(raw_components, dict) else {}
        components: dict[str, Component] = {}
        for name, raw in raw_components.items():
            component = self.component(str(name), raw)
            if component is not None:
                components[component.name] = component
        state_dir = Path(doc["state_dir"]) if isinstance(doc.get("state_dir"), str) else None
        if state_dir is None:
            state_dir = Path(".agentmaint")
        if not state_dir.is_absolute():
            state_dir = base_dir / state_dir
        notification = self.notification(doc.get("notification"))
        execution = self.execution(doc.get("execution"), base_dir)
        self.check_placement(environments, execution)
        history = doc.get("history") if isinstance(doc.get("history"), dict) else {}
        assert isinstance(history, dict)
        history_url = self.history_url(history.get("url"))
        if self.problems:
            return None
        return Schedule(
            environments=environments,
            components=components,
            timezone=zone,
            state_dir=state_dir,
            notification=notification,
            backup=self.backup(doc.get("backup")),
            blackouts=self.blackouts(doc.get("blackouts"), ["blackouts"], zone),
            execution=execution,
            ansible_cfg={
                str(section): {str(k): _ini_value(v) for k, v in values.items()}
                for section, values in (doc.get("ansible_cfg") or {}).items()
            },
            history_retention_days=history.get("retention_days"),
            history_url=history_url,
            history_env_names=tuple(referenced_variables(history.get("url") or "")),
            source=source,
        )

    def environment(
        self, name: str, raw: Any, path: Path_, default_zone: ZoneInfo
    ) -> Environment | None:
        if not isinstance(raw, dict):
            return None
        hosts = self.hosts(raw, path)
        if "servers" not in raw and "hosts" not in raw:
            self.fail(path, "needs 'servers' (a list of host names) or 'hosts' (a mapping)")
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
        )
        gate = None
        promote = raw.get("promote_from")
        if isinstance(promote, dict) and isinstance(promote.get("environment"), str):
            gate = PromotionGate(
                environment=promote["environment"],
                soak=self.duration(
                    promote.get("soak"), [*path, "promote_from", "soak"], timedelta(0)
                ),
            )
        blackouts = self.blackouts(raw.get("blackouts"), [*path, "blackouts"], zone)
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
        )

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
            clean: dict[str, HostVarValue] = {}
            if isinstance(variables, dict):
                clean = {
                    str(k): v
                    for k, v in variables.items()
                    if isinstance(v, str | int | float | bool)
                }
            hosts[str(host)] = Host(str(host), clean)
        return tuple(hosts.values())

    def update_schedule(
        self, raw: Any, path: Path_, default_zone: ZoneInfo
    ) -> UpdateSchedule | None:
        if not isinstance(raw, dict):
            return None
        zone = self.zone(raw.get("timezone"), [*path, "timezone"], default_zone)
        duration = self.duration(raw.get("duration"), [*path, "duration"], DEFAULT_DURATION)
        cutoff = self.duration(raw.get("cutoff"), [*path, "cutoff"], timedelta(0))
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
                self.fail(
                    where, f"{name!r} is not a day of the week (Monday..Sunday, Mon..Sun or daily)"
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

    def check_hosts_unique(self, environments: Mapping[str, Environment]) -> None:
        owner: dict[str, str] = {}
        for env in environments.values():
            for host in env.host_names:
                if host in owner:
                    self.fail(
                        ["environments", env.name],
                        f"host {host!r} is also in environment {owner[host]!r}; a host "
                        "belongs to one environment",
                    )
                else:
                    owner[host] = env.name

    def check_promotions(self, raw_envs: dict[str, Any]) -> None:
        edges: dict[str, str] = {}
        for name, raw in raw_envs.items():
            promote = raw.get("promote_from") if isinstance(raw, dict) else None
            target = promote.get("environment") if isinstance(promote, dict) else None
            if not isinstance(target, str):
                continue
            where: Path_ = ["environments", name, "promote_from", "environment"]
            if target not in raw_envs:
                self.fail(
                    where,
                    f"names no environment: {target!r} is not defined "
                    f"(defined: {', '.join(sorted(raw_envs))})",
                )
            elif target == name:
                self.fail(where, "an environment cannot promote from itself")
            else:
                edges[name] = target
        reported: set[str] = set()
        for start in edges:
            chain = [start]
            while chain[-1] in edges and edges[chain[-1]] not in chain:
                chain.append(edges[chain[-1]])
            if chain[-1] in edges and edges[chain[-1]] in chain:
                cycle = chain[chain.index(edges[chain[-1]]) :]
                key = "->".join(sorted(cycle))
                if key not in reported:
                    reported.add(key)
                    loop = " -> ".join([*cycle, cycle[0]])
                    self.fail(
                        ["environments", cycle[0], "promote_from", "environment"],
                        f"promotion cycle: {loop}",
                    )

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
            try:
                interval = parse_duration(text)
            except ValueError:
                return None
        rollback = raw.get("rollback_command")
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
        return HealthCheck(
            command=command if isinstance(command, str) else None,
            url=url if isinstance(url, str) else None,
            status=int(raw.get("status", 200)),
            contains=contains if isinstance(contains, str) else None,
            retries=int(raw.get("retries", 3)),
            delay=self.duration(raw.get("delay"), [*path, "delay"], timedelta(seconds=5)),
        )

    def execution(self, raw: Any, base_dir: Path) -> Execution:
        if not isinstance(raw, dict):
            return Execution()
        timeout = raw.get("timeout")
        forks = raw.get("forks")
        nodes = raw.get("nodes") if isinstance(raw.get("nodes"), list) else []
        assert isinstance(nodes, list)
        parsed = [
            self.execution_node(item, ["execution", "nodes", index], base_dir)
            for index, item in enumerate(nodes)
        ]
        seen: set[str] = set()
        for index, node in enumerate(parsed):
            if node is not None and node.name in seen:
                self.fail(["execution", "nodes", index, "name"], f"{node.name!r} is used twice")
            seen.add(node.name if node is not None else "")
        return Execution(
            timeout=self.duration(timeout, ["execution", "timeout"], timedelta(0)) or None,
            forks=forks if isinstance(forks, int) else None,
            pipelining=bool(raw.get("pipelining", True)),
            strategy=strategy if isinstance(strategy := raw.get("strategy"), str) else "auto",
            nodes=tuple(n for n in parsed if n is not None),
            local_slices=None if (slices := raw.get("local_slices", 1)) == "auto" else slices,
        )

    def execution_node(self, raw: Any, path: Path_, base_dir: Path) -> ExecutionNode | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        url = raw.get("url")
        if not isinstance(url, str):
            return None
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
            self.fail([*path, "url"], f"{url!r} has an invalid port")
        if port is not None and not 0 < port < 65536:
            self.fail([*path, "url"], f"{url!r} has an invalid port")
        if parts.scheme != "ssh" or not parts.hostname:
            return None  # the schema's pattern already said why
        key = raw.get("key")
        options = raw.get("ssh_options") if isinstance(raw.get("ssh_options"), dict) else {}
        assert isinstance(options, dict)
        return ExecutionNode(
            name=raw["name"],
            host=parts.hostname,
            user=parts.username or None,
            port=port,
            key=(base_dir / Path(key).expanduser()) if isinstance(key, str) else None,
            ansible_runner=str(raw.get("ansible_runner") or "ansible-runner"),
            ssh_options={str(k): _ini_value(v) for k, v in options.items()},
            work_dir=str(raw.get("work_dir") or "/tmp"),
        )

    def check_placement(
        self, environments: Mapping[str, Environment], execution: Execution
    ) -> None:
        """Every `execution_node` names a declared node (or ``local``)."""
        names = list(dict.fromkeys(n.name for n in execution.nodes))
        for env in environments.values():
            node = env.execution_node
            if node is None or node == LOCAL_NODE or node in names:
                continue
            known = ", ".join([*names, LOCAL_NODE])
            self.fail(
                ["environments", env.name, "execution_node"],
                f"{node!r} is not an execution node (known: {known})",
            )

    def history_url(self, value: Any) -> Secret | None:
        """``history.url``, resolved like any secret (it may carry a password)."""
        if not isinstance(value, str) or not value:
            return None
        try:
            return resolve_secret(value)
        except SecretReferenceError as exc:
            self.fail(["history", "url"], str(exc))
            return None

    def notification(self, raw: Any) -> Notification:
        if not isinstance(raw, dict):
            return Notification()
        path: Path_ = ["notification"]
        default_when = self.when(raw.get("when"), DEFAULT_WHEN)
        emails = _addresses(raw.get("email"))
        webhook = self.secret(raw.get("slack_webhook"), [*path, "slack_webhook"])
        if webhook is not None:
            self.check_url(webhook, [*path, "slack_webhook"])
        smtp = self.smtp(raw.get("smtp"), [*path, "smtp"])
        channels: list[Channel] = []
        if emails:
            channels.append(Channel(ChannelType.EMAIL, when=default_when, to=emails))
        if webhook is not None:
            channels.append(Channel(ChannelType.SLACK, when=default_when, url=webhook))
        raw_channels = raw.get("channels")
        for index, item in enumerate(raw_channels if isinstance(raw_channels, list) else []):
            channel = self.channel(item, [*path, "channels", index], default_when)
            if channel is not None:
                channels.append(channel)
        if smtp is None and any(c.type is ChannelType.EMAIL for c in channels):
            smtp = SmtpSettings()
        return Notification(
            emails=emails,
            slack_webhook=webhook,
            smtp=smtp,
            channels=tuple(channels),
            env_names=tuple(dict.fromkeys(self.secret_variables)),
        )

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

    def check_url(self, url: Secret, path: Path_) -> None:
        if not url.reveal().startswith(("http://", "https://")):
            self.fail(path, "is not an http:// or https:// URL (value not shown: it is secret)")

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
            timeout=self.duration(raw.get("timeout"), [*path, "timeout"], timedelta(seconds=30))
            or timedelta(seconds=30),
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
        url = self.secret(raw.get("url"), [*path, "url"])
        if kind is not ChannelType.EMAIL:
            if url is None and "url" not in raw:
                self.fail([*path, "url"], f"is required for a {kind.value} channel")
            elif url is not None:
                self.check_url(url, [*path, "url"])
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


def _addresses(raw: Any) -> tuple[str, ...]:
    """Email addresses from a string or list; an empty string means none."""
    items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(a for a in items if isinstance(a, str) and a)


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)
