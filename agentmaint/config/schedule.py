"""The typed schedule: what a validated schedule file means.

Instances are built by `agentmaint.config.parse` (from a file or a mapping) and are
immutable. Times are aware datetimes; durations are `timedelta`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo

from agentmaint.config.cron import CronExpression
from agentmaint.config.lines import SourceLines
from agentmaint.config.secret import MASK, Secret, SecretReference, SecretResolver

#: Weekday numbers as `datetime.weekday()` gives them.
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

HostVarValue = str | int | float | bool

#: Connection variables that hold a password or passphrase (``ansible_password``,
#: ``ansible_ssh_pass``, ``ansible_become_password``, ``ansible_sudo_pass``,
#: ``ansible_ssh_private_key_passphrase``, ...): secrets, never written to disk.
_PASSWORD_VARIABLE = re.compile(r"^ansible(?:_[a-z0-9_]+)?_(?:pass|password|passphrase)$")


def is_password_variable(name: str) -> bool:
    """Whether the connection variable `name` holds a password (and so is a secret)."""
    return _PASSWORD_VARIABLE.match(name.lower()) is not None


class BecomeMethod(StrEnum):
    """How Ansible escalates privileges on a host."""

    SUDO = "sudo"
    SU = "su"
    DOAS = "doas"


@dataclass(frozen=True, slots=True)
class Become:
    """A ``become`` setting: escalate or not, and as whom and how.

    As written at one level (top, environment, component), `user` and `method` are None
    when not given; `merged_become` combines the levels, and `user_or_root` and
    `method_or_sudo` give the defaults.
    """

    enabled: bool
    user: str | None = None
    method: BecomeMethod | None = None

    @property
    def user_or_root(self) -> str:
        """The user to become (root unless given)."""
        return self.user or "root"

    @property
    def method_or_sudo(self) -> BecomeMethod:
        """The escalation method (sudo unless given)."""
        return self.method or BecomeMethod.SUDO


def merged_become(*levels: Become | None) -> Become | None:
    """The effective setting of `levels`, least specific first; None when none is set.

    A more specific ``false`` turns escalation off and ``true`` on, each keeping the user
    and method a less specific mapping gave (for a still more specific ``true``); a
    mapping turns it on and overrides the user and method it names.
    """
    result: Become | None = None
    for level in levels:
        if level is None:
            continue
        if result is None:
            result = level
        else:
            user, method = level.user or result.user, level.method or result.method
            result = Become(level.enabled, user, method)
    return result


@dataclass(frozen=True, slots=True)
class UpdateSchedule:
    """When an environment's maintenance windows open, how long they last, in which zone.

    Exactly one of (`days`, `at_time`) and `cron` is set.
    """

    timezone: ZoneInfo
    duration: timedelta
    cutoff: timedelta = timedelta(0)
    days: frozenset[int] | None = None
    at_time: time | None = None
    cron: CronExpression | None = None

    def describe(self) -> str:
        """A short human description, e.g. ``Monday 01:00 Europe/Berlin for 1h``."""
        from agentmaint.config.durations import format_duration  # noqa: PLC0415 - avoid a cycle at import

        if self.cron is not None:
            when = f"cron '{self.cron.source}'"
        else:
            assert self.days is not None and self.at_time is not None
            if len(self.days) == 7:
                day_text = "daily"
            else:
                day_text = ",".join(WEEKDAY_NAMES[d][:3] for d in sorted(self.days))
            when = f"{day_text} {self.at_time:%H:%M}"
        text = f"{when} {self.timezone.key} for {format_duration(self.duration)}"
        if self.cutoff:
            text += f" (cutoff {format_duration(self.cutoff)})"
        return text


@dataclass(frozen=True, slots=True)
class Host:
    """An inventory host and its Ansible connection variables."""

    name: str
    vars: Mapping[str, HostVarValue] = field(default_factory=dict)
    #: Password-like connection variables (`is_password_variable`): never rendered to disk.
    secrets: Mapping[str, Secret] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Blackout:
    """A period [start, end) during which no maintenance starts."""

    start: datetime
    end: datetime
    reason: str = ""

    def contains(self, instant: datetime) -> bool:
        """Whether `instant` falls inside the blackout."""
        return self.start <= instant < self.end


@dataclass(frozen=True, slots=True)
class Rollout:
    """Rolling batches: Ansible's `serial` and `max_fail_percentage`, and an error budget.

    `max_fail_percentage` counts per batch (Ansible's); `max_failures`, a count or a
    percentage such as ``"10%"``, counts over the environment's whole run (like AWS
    SSM's MaxErrors): see `failure_budget`.
    """

    serial: int | str | None = None
    max_fail_percentage: float | None = None
    max_failures: int | str | None = None

    def failure_budget(self, due_hosts: int) -> int | None:
        """How many of `due_hosts` may fail before no new batch starts (None: no budget).

        A percentage is of the due hosts, rounded down: ``10%`` of 15 hosts allows 1
        failure, and the second stops the rollout (never more failures than the
        percentage says).
        """
        budget = self.max_failures
        if budget is None:
            return None
        if isinstance(budget, int):
            return budget
        return due_hosts * int(budget.rstrip("%")) // 100


@dataclass(frozen=True, slots=True)
class PromotionGate:
    """Due here only after success on every host of `environment` at least `soak` ago."""

    environment: str
    soak: timedelta = timedelta(0)


@dataclass(frozen=True, slots=True)
class Environment:
    """A group of hosts sharing an update schedule."""

    name: str
    hosts: tuple[Host, ...]
    schedule: UpdateSchedule
    rollout: Rollout = Rollout()
    promote_from: PromotionGate | None = None
    blackouts: tuple[Blackout, ...] = ()
    execution_node: str | None = None  # a node of `Execution.nodes`, or LOCAL_NODE
    #: Connection variables of every host (a host's own `Host.vars` override them).
    connection: Mapping[str, HostVarValue] = field(default_factory=dict)
    #: The password-like ones among them (`is_password_variable`).
    connection_secrets: Mapping[str, Secret] = field(default_factory=dict)
    become: Become | None = None

    @property
    def host_names(self) -> tuple[str, ...]:
        """The names of the environment's hosts, in file order."""
        return tuple(host.name for host in self.hosts)

    def host_variables(self, host: Host) -> dict[str, HostVarValue]:
        """`host`'s connection variables: its own over the environment's `connection`."""
        return {**self.connection, **host.vars}

    def _resolved(self, resolver: SecretResolver) -> Environment:
        return replace(
            self,
            connection_secrets={k: resolver.secret(v) for k, v in self.connection_secrets.items()},
            hosts=tuple(
                replace(h, secrets={k: resolver.secret(v) for k, v in h.secrets.items()})
                for h in self.hosts
            ),
        )


@dataclass(frozen=True, slots=True)
class Frequency:
    """How often a component must be updated; `label` is what the file said."""

    interval: timedelta
    label: str


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """How to tell that a host is healthy after an update: a command or an HTTP URL.

    Exactly one of `command` and `url` is set. A check passes when the command exits
    0 (and its output contains `contains`, if set) or the URL answers `status` (and
    its body contains `contains`), within `retries` retries `delay` apart.
    """

    command: str | None = None
    url: str | None = None
    status: int = 200
    contains: str | None = None
    retries: int = 3
    delay: timedelta = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class Component:
    """Something on every host that needs updating: OS packages, a model, a command."""

    name: str
    update_command: str | None  # role "command" (the default) only
    frequency: Frequency
    healthcheck: HealthCheck | None = None
    rollback_command: str | None = None
    role: str = "command"  # a bundled role: see `agentmaint.config.roles.COMPONENT_ROLES`
    vars: Mapping[str, Any] = field(default_factory=dict)  # the role's arguments, unprefixed
    become: Become | None = None
    description: str = ""  # free text for people (the HTML report shows it)


#: The `Environment.execution_node` that keeps an environment on the controller.
LOCAL_NODE = "local"


@dataclass(frozen=True, slots=True)
class ExecutionNode:
    """A remote execution node: `ansible-runner worker` reached over SSH.

    A run streams each of its slices to a node with ansible-runner's
    transmit -> worker -> process protocol (see `agentmaint.ansible.remote`).
    """

    name: str
    host: str
    user: str | None = None
    port: int | None = None
    key: Path | None = None  # the SSH identity file (else the controller's ssh defaults)
    ansible_runner: str = "ansible-runner"  # the worker's command on the node
    ssh_options: Mapping[str, str] = field(default_factory=dict)  # ``-o key=value``
    work_dir: str = "/tmp"  # where the worker unpacks each job (deleted after it)

    @property
    def url(self) -> str:
        """``ssh://user@host:port`` (what the schedule said, normalised)."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{self.host}{port}"


@dataclass(frozen=True, slots=True)
class Execution:
    """How runs execute: job timeout, parallelism, SSH pipelining, execution nodes."""

    timeout: timedelta | None = None
    forks: int | None = None
    pipelining: bool = True
    #: One task per host for components made of shell commands (`agentmaint.ansible.render`).
    fused: bool = True
    #: Fused plays with more hosts than forks in the background: True, False, or None (auto:
    #: where their recorded durations say it wins, `agentmaint.run.background_choice`).
    background: bool | None = None
    strategy: str = "auto"  # see `agentmaint.ansible.strategy`
    nodes: tuple[ExecutionNode, ...] = ()
    local_slices: int | None = 1  # None: auto (see `agentmaint.ansible.slicing`)
    #: A scheduled run finding an environment locked: ``skip`` (exit 0) or ``wait``.
    overlap: str = "skip"

    def node(self, name: str) -> ExecutionNode | None:
        """The execution node called `name`, or None."""
        return next((n for n in self.nodes if n.name == name), None)


class NotifyEvent(StrEnum):
    """What a notification is about: a run starting, its outcome, or a test message."""

    START = "start"
    SUCCESS = "success"
    FAILURE = "failure"  # every targeted host failed, or the run died with no success
    PARTIAL = "partial"  # some hosts failed, others succeeded
    TEST = "test"  # `agentmaint notify-test`: sent through every channel regardless of `when`


#: The values of a channel's `when` list: the events, plus ``always`` for all of them.
WHEN_ALWAYS = "always"
#: When a channel is used unless it says otherwise: a quiet night sends nothing.
DEFAULT_WHEN: frozenset[NotifyEvent] = frozenset({NotifyEvent.FAILURE, NotifyEvent.PARTIAL})
#: Every event a channel can be subscribed to (``always`` expands to these).
RUN_EVENTS: frozenset[NotifyEvent] = frozenset(
    {NotifyEvent.START, NotifyEvent.SUCCESS, NotifyEvent.FAILURE, NotifyEvent.PARTIAL}
)


class ChannelType(StrEnum):
    """How a notification is delivered."""

    EMAIL = "email"
    SLACK = "slack"
    WEBHOOK = "webhook"


class TLSMode(StrEnum):
    """How the SMTP connection is protected."""

    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"  # implicit TLS (SMTPS)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The SMTP server email channels send through. `password` is a `Secret`."""

    host: str = "localhost"
    port: int = 25
    sender: str = "agentmaint@localhost"
    tls: TLSMode = TLSMode.NONE
    username: str | None = None
    password: Secret | None = None
    timeout: timedelta = timedelta(seconds=30)
    ca_file: Path | None = None

    def describe(self) -> str:
        """``smtp.example.com:587 (starttls)``: never the password."""
        return f"{self.host}:{self.port} ({self.tls.value})"


@dataclass(frozen=True, slots=True)
class Channel:
    """One notification channel. `url`, `secret` and header values are `Secret`s.

    `to` is for email; `url` for Slack and webhooks; `secret` (HMAC key) and
    `headers` for webhooks. `when` is the set of events the channel hears about.
    """

    type: ChannelType
    when: frozenset[NotifyEvent] = DEFAULT_WHEN
    to: tuple[str, ...] = ()
    url: Secret | None = None
    secret: Secret | None = None
    headers: Mapping[str, Secret] = field(default_factory=dict)
    name: str | None = None

    def describe(self) -> str:
        """A redacted description: the type, the name or recipients, and the URL's host only."""
        label = f" {self.name!r}" if self.name else ""
        if self.type is ChannelType.EMAIL:
            return f"email{label} to {', '.join(self.to)}"
        host = ""
        if isinstance(self.url, SecretReference):
            host = f" (URL from {self.url.describe()}, not resolved)"
        elif self.url is not None:
            parts = urlsplit(self.url.reveal())
            port_no = _safe_port(parts)
            port = f":{port_no}" if port_no else ""
            host = f" {parts.scheme}://{parts.hostname}{port}/{MASK}"
        return f"{self.type.value}{label}{host}"

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret value of the channel (for redaction)."""
        found = [s for s in (self.url, self.secret) if s is not None]
        return (*found, *self.headers.values())

    def _resolved(self, resolver: SecretResolver) -> Channel:
        return replace(
            self,
            url=resolver.secret(self.url),
            secret=resolver.secret(self.secret),
            headers={name: resolver.secret(value) for name, value in self.headers.items()},
        )


def _safe_port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Notification:
    """Who hears about results, and how. Secrets are `Secret`s and render as ``***``.

    `emails` and `slack_webhook` are the seed's fields; `channels` lists every
    channel, those two included (an email channel to `emails`, a Slack channel).
    """

    emails: tuple[str, ...] = ()
    slack_webhook: Secret | None = None
    smtp: SmtpSettings | None = None
    channels: tuple[Channel, ...] = ()
    #: Names of the environment variables secrets were read from: kept out of Ansible jobs.
    env_names: tuple[str, ...] = ()
    #: Attach the run's HTML report to the emails that tell how a run ended.
    report: bool = False

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret value of the configuration (for redaction)."""
        found: list[Secret] = []
        if self.slack_webhook is not None:
            found.append(self.slack_webhook)
        if self.smtp is not None and self.smtp.password is not None:
            found.append(self.smtp.password)
        for channel in self.channels:
            found.extend(channel.secrets())
        return tuple(found)

    def _resolved(self, resolver: SecretResolver) -> Notification:
        smtp = self.smtp
        if smtp is not None:
            smtp = replace(smtp, password=resolver.secret(smtp.password))
        return replace(
            self,
            slack_webhook=resolver.secret(self.slack_webhook),
            smtp=smtp,
            channels=tuple(channel._resolved(resolver) for channel in self.channels),
        )


@dataclass(frozen=True, slots=True)
class Backup:
    """Backups taken on each host before it is updated."""

    pre_update: bool = False
    backup_command: str | None = None
    retention_days: int = 30
    paths: tuple[str, ...] = ()  # archived by the agentmaint_backup role
    directory: str | None = None  # where the archives go (the role's default when None)
    restore_on_failure: bool = False

    @property
    def enabled(self) -> bool:
        """Whether hosts are backed up before their update."""
        return self.pre_update and (bool(self.backup_command) or bool(self.paths))


@dataclass(frozen=True, slots=True)
class Metrics:
    """Prometheus metrics written for node_exporter's textfile collector (see `agentmaint.metrics`).

    `textfile` (absolute; a ``.prom`` file) is rewritten atomically after every run and
    every scheduled run that found nothing to do.
    """

    textfile: Path


@dataclass(frozen=True, slots=True)
class Schedule:
    """A whole validated schedule file."""

    environments: Mapping[str, Environment]
    components: Mapping[str, Component]
    timezone: ZoneInfo
    state_dir: Path
    notification: Notification = Notification()
    backup: Backup = Backup()
    blackouts: tuple[Blackout, ...] = ()
    execution: Execution = Execution()
    ansible_cfg: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    history_retention_days: int | None = None
    history_url: Secret | None = None  # sqlite:///... or postgresql://... (None: the embedded file)
    history_env_names: tuple[str, ...] = ()  # variables `history_url` was read from
    metrics: Metrics | None = None  # None: no textfile is written
    become: Become | None = None
    #: Whether password-like connection variables may be literals in the file.
    allow_literal_secrets: bool = False
    connection_env_names: tuple[str, ...] = ()  # variables connection secrets were read from
    source: str = "<memory>"
    #: Where each setting is in the YAML file, for the line numbers of later problems.
    lines: SourceLines = field(default_factory=SourceLines, compare=False, repr=False)

    def become_for(self, environment: str, component: str) -> Become | None:
        """The ``become`` setting of a play: component, then environment, then top level.

        None when no level sets it (each role then escalates by its own default).
        """
        return merged_become(
            self.become,
            self.environments[environment].become,
            self.components[component].become,
        )

    def connection_secrets(self) -> tuple[Secret, ...]:
        """Every password-like connection variable of every environment and host."""
        found: list[Secret] = []
        for env in self.environments.values():
            found.extend(env.connection_secrets.values())
            for host in env.hosts:
                found.extend(host.secrets.values())
        return tuple(found)

    def host_secrets(self, host: str) -> dict[str, Secret]:
        """The password-like connection variables of `host` (its own over its environment's)."""
        env = self.environment_of(host)
        if env is None:
            return {}
        own = next(h for h in env.hosts if h.name == host)
        merged = {k: v for k, v in env.connection_secrets.items() if k not in own.vars}
        merged.update(own.secrets)
        return merged

    def unresolved_secrets(self) -> tuple[SecretReference, ...]:
        """The secret references not resolved yet (loaded with ``resolve_secrets=False``)."""
        found = [*self.notification.secrets(), self.history_url, *self.connection_secrets()]
        unique = {s.path: s for s in found if isinstance(s, SecretReference)}
        return tuple(unique[path] for path in sorted(unique))

    def resolve_secrets(
        self,
        *,
        notification: bool = True,
        history: bool = True,
        connection: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> Schedule:
        """The schedule with its secret references resolved (itself when it has none).

        `notification`: the notification secrets (SMTP password, Slack and webhook URLs,
        webhook keys and headers); `history`: ``history.url``; `connection`: the
        password-like connection variables of environments and hosts. A command resolves only
        what it uses (``plan`` the history URL, ``run`` everything, before it touches a
        host). `environ` defaults to the process environment. Raises `ScheduleError`
        naming the setting path and the variable or file of each reference that cannot
        be resolved (never a value).
        """
        if not self.unresolved_secrets():
            return self
        resolver = SecretResolver(environ)
        resolved = replace(
            self,
            notification=self.notification._resolved(resolver)
            if notification
            else self.notification,
            history_url=resolver.secret(self.history_url) if history else self.history_url,
            environments={
                name: env._resolved(resolver) if connection else env
                for name, env in self.environments.items()
            },
        )
        resolver.raise_problems(self.source, self.lines)
        return resolved

    def environment_of(self, host: str) -> Environment | None:
        """The environment a host belongs to (host names are unique across environments)."""
        for environment in self.environments.values():
            if host in environment.host_names:
                return environment
        return None
