"""A whole schedule document: loading, validating and building it.

`parse_schedule` runs the JSON Schema pass, then the builder composed of one
class per section, which reports the semantic problems.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from agentmaint.config.lines import SourceLines
from agentmaint.config.loader import read_document
from agentmaint.config.parse.base import UTC, _ini_value, become_setting
from agentmaint.config.parse.checks import _Checks
from agentmaint.config.parse.components import _Components
from agentmaint.config.parse.environments import _Environments
from agentmaint.config.parse.execution import _Execution
from agentmaint.config.parse.notification import _Notification
from agentmaint.config.schedule import Component, Environment, Metrics, Schedule
from agentmaint.config.secret import referenced_variables
from agentmaint.config.validation import schema_problems
from agentmaint.errors import Problem, ScheduleError

__all__ = ["load_schedule", "parse_schedule", "validate_file"]


def load_schedule(path: str | Path, *, resolve_secrets: bool = True) -> Schedule:
    """Read, validate and build the schedule in `path` (YAML, or JSON by its suffix).

    `resolve_secrets`: see `parse_schedule`. Raises `ScheduleError` listing every
    problem found.
    """
    file = Path(path)
    document = read_document(file)
    return parse_schedule(
        document.data,
        source=str(file),
        base_dir=file.resolve().parent,
        resolve_secrets=resolve_secrets,
        lines=document.lines,
    )


def validate_file(path: str | Path, *, resolve_secrets: bool = True) -> list[Problem]:
    """Every problem of the schedule in `path`; empty when it is valid.

    With ``resolve_secrets=False`` secret references are checked for form only, so a
    schedule can be linted where its secrets are not set (CI).
    """
    try:
        load_schedule(path, resolve_secrets=resolve_secrets)
    except ScheduleError as exc:
        return list(exc.problems)
    return []


def parse_schedule(
    document: Any,
    *,
    source: str = "<memory>",
    base_dir: Path | None = None,
    resolve_secrets: bool = True,
    lines: SourceLines | None = None,
) -> Schedule:
    """Validate a schedule document (plain data, as loaded from YAML/JSON) and build it.

    `base_dir` anchors a relative `state_dir` (default: the current directory).
    Secret references (``${ENV_VAR}``, ``file:/path``) are always checked for form;
    `resolve_secrets` (the default) also resolves them, each failure a problem at its
    setting path. With ``resolve_secrets=False`` nothing is read: each reference
    stays a `SecretReference` until `Schedule.resolve_secrets` resolves it (a command
    that never uses a secret needs none of them set).
    `lines`: where each setting is in the YAML file (`load_schedule` passes it); each
    problem gets its line, and so do the later problems of `Schedule.resolve_secrets`.
    Raises `ScheduleError` listing every problem found.
    """
    lines = lines or SourceLines()
    problems = schema_problems(document)
    if not isinstance(document, dict):
        if not problems:
            problems.append(Problem("", "the document must be a mapping"))
        raise ScheduleError(source, lines.locate(problems))
    builder = _Builder(problems, resolve_secrets=resolve_secrets)
    schedule = builder.schedule(document, source, base_dir or Path.cwd())
    if problems:
        unique = sorted(set(problems), key=lambda p: (p.path, p.message))
        raise ScheduleError(source, lines.locate(unique))
    assert schedule is not None
    return replace(schedule, lines=lines) if lines.lines else schedule


class _Builder(_Environments, _Components, _Execution, _Notification, _Checks):
    """Turns a (possibly invalid) document into typed objects, collecting problems."""

    def schedule(self, doc: dict[str, Any], source: str, base_dir: Path) -> Schedule | None:
        zone = self.zone(doc.get("timezone"), ["timezone"], UTC)
        self.allow_literal_secrets = doc.get("allow_literal_secrets") is True
        raw_envs = doc.get("environments")
        raw_envs = raw_envs if isinstance(raw_envs, dict) else {}
        environments: dict[str, Environment] = {}
        for name, raw in raw_envs.items():
            env = self.environment(str(name), raw, ["environments", str(name)], zone)
            if env is not None:
                environments[env.name] = env
        self.check_hosts_unique(environments)
        self.check_name_clashes(environments, raw_envs)
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
        self.check_backup(doc.get("backup"))
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
            metrics=_metrics(doc.get("metrics"), base_dir),
            become=become_setting(doc.get("become")),
            allow_literal_secrets=self.allow_literal_secrets,
            connection_env_names=tuple(dict.fromkeys(self.connection_variables)),
            source=source,
        )


def _metrics(raw: Any, base_dir: Path) -> Metrics | None:
    """The ``metrics`` section (already checked by the schema); None when absent."""
    if not isinstance(raw, dict) or not isinstance(raw.get("textfile"), str):
        return None
    # Relative to the schedule file, like state_dir and the execution nodes' keys.
    return Metrics(textfile=base_dir / Path(raw["textfile"]).expanduser())
