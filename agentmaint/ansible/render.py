"""Generate the Ansible inventory, playbook and ansible.cfg of a run.

Nothing from the schedule file becomes Jinja2 or YAML structure: documents are
built as plain data and written with a YAML dumper; every string that came from
the schedule is wrapped in `Unsafe` and emitted with Ansible's ``!unsafe`` tag,
so Ansible never templates it (a command containing ``{{ lookup('pipe', 'id') }}``
runs literally). Host, environment and component names are validated by the
schema (letters, digits, ``_ . -``) before they get here.

Plays and tasks are named by `agentmaint.ansible.naming` (``Maintain <component> |
<environment>`` plays, ``<Action> | <component>`` tasks), the contract the roll-up reads
back, so every event maps back to its environment, component and action.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentmaint.ansible.budget import done_task, gate_task, with_budgets
from agentmaint.ansible.naming import (
    INTERNAL,
    TASK_SEPARATOR,
    Target,
    play_name,
    task_name,
)
from agentmaint.ansible.secrets import PLUGIN_DIR, PLUGIN_NAME
from agentmaint.ansible.strategy import ISOLATION_VARIABLE, Strategy
from agentmaint.config.roles import (
    DEFAULT_ROLE,
    ROLES_PATH,
    component_variable,
    role_name,
    variable,
)
from agentmaint.config.schedule import (
    Backup,
    Become,
    Component,
    Environment,
    HostVarValue,
    Schedule,
)
from agentmaint.planning.planner import Decision
from agentmaint.records import Action

__all__ = [
    "DEFAULT_BECOME",
    "ESCALATE_VARIABLE",
    "ROOT_ROLES",
    "SSH_ARGS_SHARED",
    "SSH_ARGS_SINGLE",
    "Background",
    "Unsafe",
    "ansible_cfg",
    "can_fuse",
    "dump_yaml",
    "inventory",
    "playbook",
    "stop_playbook",
    "targets_from_decisions",
    "unsafe_tree",
]


#: Component roles that need root: they escalate by default when the login user is not root.
ROOT_ROLES = frozenset({"os_packages", "docker"})
#: The host variable saying that a host's login user is not root (set only then): what a
#: root-needing task's default ``become`` reads. Our own variable, never the schedule's.
ESCALATE_VARIABLE = "agentmaint_escalate"
#: The default ``become`` of the tasks that need root (our own template).
DEFAULT_BECOME = "{{ agentmaint_escalate | default(false) }}"
_USER_VARIABLES = ("ansible_user", "ansible_ssh_user", "ansible_remote_user")


@dataclass(frozen=True, slots=True)
class Background:
    """How a fused play with more hosts than `forks` runs in the background.

    `plays` are the (environment, component) of the plays that do (the choice of
    ``execution.background``, `agentmaint.run.background_choice`); None: every such play.
    """

    forks: int  # the run's forks: plays with more hosts than this go to the background
    timeout: int  # seconds a background job may take (Ansible's ``async``)
    plays: frozenset[tuple[str, str]] | None = None

    def takes(self, target: Target) -> bool:
        """Whether `target`'s play (a fused one) runs in the background."""
        return len(target.hosts) > self.forks and (
            self.plays is None or (target.environment, target.component) in self.plays
        )


class Unsafe(str):
    """A string Ansible must use literally (emitted as ``!unsafe``)."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """SafeDumper that tags `Unsafe` strings and never writes anchors/aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_PLAIN_STR = "tag:yaml.org,2002:str"


def _represent_unsafe(dumper: yaml.SafeDumper, data: Unsafe) -> yaml.ScalarNode:
    text = str(data)
    # ansible-core re-resolves an `!unsafe` scalar as if it were unquoted, so `!unsafe 'true'`
    # would load as the boolean True. A value that resolves to anything but a string has no
    # "{" and so cannot hold a template: it is written as a plain quoted string instead.
    resolved = dumper.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if resolved != _PLAIN_STR:
        return dumper.represent_scalar(_PLAIN_STR, text, style="'")
    return dumper.represent_scalar("!unsafe", text, style="'")


_Dumper.add_representer(Unsafe, _represent_unsafe)


def dump_yaml(document: Any) -> str:
    """Serialise generated data (with `Unsafe` strings tagged) as YAML."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def targets_from_decisions(decisions: Iterable[Decision]) -> tuple[Target, ...]:
    """The plays for the due decisions of a plan (only due hosts are targeted)."""
    return tuple(
        Target(d.environment, d.component, d.servers) for d in decisions if d.due and d.servers
    )


def inventory(
    schedule: Schedule,
    environments: Iterable[str] | None = None,
    *,
    mitogen: bool = False,
    on_controller: bool = True,
) -> dict[str, Any]:
    """The YAML inventory: one group per environment, hosts with their connection variables.

    Hosts with ``ansible_connection: local`` get ``ansible_python_interpreter`` set to this
    Python unless the schedule sets one: interpreter discovery on a controller with pyenv
    or conda picks shims that do not run. Under `mitogen`, local hosts with the same
    interpreter (named by the schedule or not) share one mitogen context, whose calls run
    one at a time, so their tasks would run one host after the other; when there are
    several, each local host gets ``mitogen_task_isolation: fork`` (unless the schedule
    sets it), which runs each of its tasks in a child forked from that context, so local
    hosts run in parallel as they do without mitogen. An inventory for an execution node
    (not `on_controller`) leaves interpreters to the node's discovery.
    """
    names = list(environments) if environments is not None else list(schedule.environments)
    # A lone local host has nothing to run in parallel with: it keeps the cheaper calls.
    isolate = mitogen and on_controller and _local_hosts(schedule, names) > 1
    children: dict[str, Any] = {}
    for name in names:
        env = schedule.environments[name]
        hosts: dict[str, Any] = {}
        for host in env.hosts:
            # Password-like variables are not here: see `agentmaint.ansible.secrets`.
            variables: dict[str, Any] = unsafe_tree(dict(host.vars))
            effective = env.host_variables(host)
            if login_user(effective) != "root":
                variables[ESCALATE_VARIABLE] = True
            local = on_controller and effective.get("ansible_connection") == "local"
            if local and "ansible_python_interpreter" not in effective:
                variables["ansible_python_interpreter"] = sys.executable
            if local and isolate and ISOLATION_VARIABLE not in effective:
                # A fork per task costs far less than an interpreter per host (which
                # made short tasks 3x slower): see BENCHMARKS.md.
                variables[ISOLATION_VARIABLE] = "fork"
            hosts[host.name] = variables or None
        children[name] = {"hosts": hosts}
        if env.connection:
            children[name]["vars"] = unsafe_tree(dict(env.connection))
    return {"all": {"children": children}}


def _local_hosts(schedule: Schedule, environments: Iterable[str]) -> int:
    """How many hosts of these environments Ansible reaches with a local connection."""
    return sum(
        1
        for name in environments
        for host in schedule.environments[name].hosts
        if {**schedule.environments[name].connection, **host.vars}.get("ansible_connection")
        == "local"
    )


def login_user(variables: Mapping[str, HostVarValue]) -> str:
    """The user Ansible logs in as with these connection variables.

    ``ansible_user`` (or its older names) when set and the connection is not local;
    otherwise the controller's own user, which is what a local connection runs as and
    what ssh logs in as by default.
    """
    local = variables.get("ansible_connection") == "local"
    for name in () if local else _USER_VARIABLES:
        if name in variables:
            return str(variables[name])
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""  # no name for this uid: assume not root, escalation decides


def playbook(
    schedule: Schedule,
    targets: Iterable[Target],
    *,
    run_id: str,
    budget_stop: str | None = None,
    fused: bool = False,
    background: Background | None = None,
) -> list[dict[str, Any]]:
    """One play per target, in order: backup, update, health check; rollback on failure.

    A component whose steps are all shell commands (the ``command`` role, a backup by
    command or none, a health check by command or none) gets one task per host when
    `fused`: the bundled ``agentmaint_fused`` module runs every step on the host
    (`agentmaint.ansible.events.fused` reads its steps back as the separate tasks'
    results). With `background`, a fused play with more hosts than its forks (of its
    `Background.plays`) runs that task in the background (async, poll 0), so that waiting
    hosts do not hold forks.

    An environment with an error budget (``rollout.max_failures``) gets a gate before each
    batch and a marker at the end of each play (`agentmaint.ansible.budget`); targets
    without a computed `Target.budget` get theirs from these targets. `budget_stop` is
    the directory of the controller's stop files, as the play will see it (None: a
    run of one process, which needs none).
    """
    given = tuple(targets)
    if any(t.budget is None for t in given):
        given = with_budgets(schedule, given)
    plays: list[dict[str, Any]] = []
    earlier: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    for index, t in enumerate(given):
        env = schedule.environments[t.environment]
        component = schedule.components[t.component]
        if fused and can_fuse(schedule, component):
            wait = background if background is not None and background.takes(t) else None
            play = _fused_play(
                schedule, env, component, t.hosts, run_id, serial=t.serial, background=wait
            )
        else:
            play = _play(schedule, env, component, t.hosts, run_id, serial=t.serial)
        if t.budget is not None:
            stop = f"{budget_stop.rstrip('/')}/{env.name}" if budget_stop is not None else None
            before = earlier.setdefault(env.name, [])
            gate = gate_task(env.name, t.budget, before, stop, Unsafe)
            play["tasks"] = [gate, *play["tasks"], done_task(env.name, index)]
            before.append((index, t.hosts))
        plays.append(play)
    return plays


def can_fuse(schedule: Schedule, component: Component) -> bool:
    """Whether every step of `component` is a plain shell command (see `playbook`)."""
    backup = schedule.backup
    check = component.healthcheck
    return (
        component.role == DEFAULT_ROLE
        and component.update_command is not None
        and (not backup.enabled or (not backup.paths and bool(backup.backup_command)))
        and (check is None or check.command is not None)
    )


#: Seconds each background wait's round trip waits for its job (the role's default too).
_FUSED_WAIT = 20


def _fused_play(
    schedule: Schedule,
    env: Environment,
    component: Component,
    hosts: tuple[str, ...],
    run_id: str,
    *,
    serial: int | str | None,
    background: Background | None,
) -> dict[str, Any]:
    """The play of a fusable component: one task per host (two in the background)."""
    play = _play(schedule, env, component, hosts, run_id, serial=serial)
    variables: dict[str, Any] = {
        "agentmaint_command_update": Unsafe(component.update_command or ""),
        "agentmaint_command_rollback": Unsafe(component.rollback_command or ""),
        "agentmaint_fused_failure_msg": Unsafe(_failure_message(component)),
    }
    if schedule.backup.enabled:
        variables["agentmaint_fused_backup"] = Unsafe(schedule.backup.backup_command or "")
    check = component.healthcheck
    if check is not None:
        variables["agentmaint_fused_healthcheck"] = Unsafe(check.command or "")
        variables["agentmaint_fused_healthcheck_retries"] = check.retries
        variables["agentmaint_fused_healthcheck_delay"] = int(check.delay.total_seconds())
        if check.contains is not None:
            variables["agentmaint_fused_healthcheck_contains"] = Unsafe(check.contains)
    entry = "fused"
    if background is not None:
        entry = "fused_async"
        variables["agentmaint_fused_async"] = background.timeout
        # As the role's defaults compute them, without a filter in each worker.
        variables["agentmaint_command_fused_wait"] = _FUSED_WAIT
        variables["agentmaint_command_fused_retries"] = background.timeout // _FUSED_WAIT + 2
        variables["agentmaint_fused_run_id"] = Unsafe(run_id)
    variables["agentmaint_command_fused_args"] = _fused_args(component.name, variables)
    task = _role(Action.UPDATE, component.name, "command", variables, tasks_from=entry)
    play["tasks"] = [task]
    return play


#: The prefix of the plays that stop a cancelled run's background jobs (`stop_playbook`).
STOP_PLAY_PREFIX = "Stop background jobs | "


def stop_playbook(
    schedule: Schedule, jobs: Mapping[tuple[str, str], Mapping[str, str]]
) -> list[dict[str, Any]]:
    """The plays that end background jobs a stopped run started and never waited for.

    `jobs` maps (environment, component) to host -> job name. Each play runs as the play
    that started those jobs (the same ``become``: the jobs' directory is the login or
    escalated user's), its one task the fused module's ``stop`` (``fused_stop``). Its
    names are not a maintenance play's: its events are never read as an update's.
    """
    plays: list[dict[str, Any]] = []
    for (environment, component), names in jobs.items():
        play: dict[str, Any] = {
            "name": Unsafe(f"{STOP_PLAY_PREFIX}{play_name(environment, component)}"),
            "hosts": ",".join(names),
            "gather_facts": False,
        }
        become = schedule.become_for(environment, component)
        if become is not None:
            play.update(_become_keywords(become))
        task = {
            "name": "Stop the background job",
            "ansible.builtin.import_role": {
                "name": role_name("command"),
                "tasks_from": "fused_stop",
                "rolespec_validate": False,
            },
            "vars": {"agentmaint_fused_stop_jobs": unsafe_tree(dict(names))},
        }
        play["tasks"] = [task]
        plays.append(play)
    return plays


#: The fused module's arguments (`_fused_args`) -> (the variable that carries it, its default).
_FUSED_ARGS: dict[str, tuple[str, Any]] = {
    "update": ("agentmaint_command_update", ""),
    "rollback": ("agentmaint_command_rollback", ""),
    "backup": ("agentmaint_fused_backup", ""),
    "healthcheck": ("agentmaint_fused_healthcheck", ""),
    "healthcheck_contains": ("agentmaint_fused_healthcheck_contains", ""),
    "healthcheck_retries": ("agentmaint_fused_healthcheck_retries", 3),
    "healthcheck_delay": ("agentmaint_fused_healthcheck_delay", 5),
    "failure_msg": ("agentmaint_fused_failure_msg", ""),
}


def _fused_args(component: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The fused task's arguments as one literal mapping (``agentmaint_command_fused_args``).

    The fused action reads them whole from that variable (the role's run task, and its
    background start under the start's own mode, job name and timeout): no template for each
    host's worker to compile, and no filter (whose first use loads every filter plugin into
    the worker). In the background too (BENCHMARKS.md, "Where the controller's time per host
    goes").
    """
    arguments: dict[str, Any] = {"component": Unsafe(component)}
    for name, (carrier, default) in _FUSED_ARGS.items():
        arguments[name] = variables.get(carrier, default)
    return arguments


def _failure_message(component: Component) -> str:
    """What the rescue's last task says of a failed update or health check."""
    # The same words as the per-task play's rescue (a fused component restores no paths).
    return f"{component.name}: update or health check failed" + (
        "; rolled back" if component.rollback_command else "; no rollback command"
    )


def _play(
    schedule: Schedule,
    env: Environment,
    component: Component,
    hosts: tuple[str, ...],
    run_id: str,
    *,
    serial: int | str | None = None,
) -> dict[str, Any]:
    play: dict[str, Any] = {
        "name": play_name(env.name, component.name),
        "hosts": ",".join(hosts),
        "gather_facts": False,
    }
    serial = serial if serial is not None else env.rollout.serial
    if serial is not None:
        play["serial"] = serial
    if env.rollout.max_fail_percentage is not None:
        play["max_fail_percentage"] = env.rollout.max_fail_percentage
    become = schedule.become_for(env.name, component.name)
    if become is not None:
        play.update(_become_keywords(become))
    # Without a setting, the tasks that need root escalate on hosts not logged in as root.
    default = DEFAULT_BECOME if become is None else None
    play["environment"] = {
        "AGENTMAINT_RUN_ID": Unsafe(run_id),
        "AGENTMAINT_ENVIRONMENT": Unsafe(env.name),
        "AGENTMAINT_COMPONENT": Unsafe(component.name),
        # Our own template, not the schedule's: each host sees its inventory name.
        "AGENTMAINT_HOST": "{{ inventory_hostname }}",
    }
    tasks: list[dict[str, Any]] = []
    backup = schedule.backup
    if backup.enabled:
        # A failed backup fails the host here, so its update never starts.
        tasks.append(
            _role(
                Action.BACKUP,
                component.name,
                "backup",
                _backup_vars(backup),
                tasks_from=None if backup.paths else "command",
                become=default if backup.paths else None,
            )
        )
    update, rollback = _component_roles(
        component, become=default if component.role in ROOT_ROLES else None
    )
    block = [update]
    if component.healthcheck is not None:
        block.append(_healthcheck(component))
    rescue: list[dict[str, Any]] = [rollback] if rollback is not None else []
    if backup.enabled and backup.paths and backup.restore_on_failure:
        rescue.append(
            _role(
                Action.ROLLBACK,
                component.name,
                "backup",
                _backup_vars(backup),
                tasks_from="restore",
                become=default,
            )
        )
        rollback = rollback or rescue[-1]
    rescue.append(
        {
            "name": f"{INTERNAL}{TASK_SEPARATOR}{component.name}",
            "ansible.builtin.fail": {
                "msg": Unsafe(
                    f"{component.name}: update or health check failed"
                    + ("; rolled back" if rollback is not None else "; no rollback command")
                )
            },
        }
    )
    tasks.append(
        {"name": task_name(Action.UPDATE, component.name), "block": block, "rescue": rescue}
    )
    play["tasks"] = tasks
    return play


def _become_keywords(become: Become) -> dict[str, Any]:
    """Play keywords for an explicit setting (user and method are validated, not Jinja)."""
    if not become.enabled:
        return {"become": False}
    return {
        "become": True,
        "become_user": Unsafe(become.user_or_root),
        "become_method": become.method_or_sudo.value,
    }


def _backup_vars(backup: Backup) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "agentmaint_backup_paths": unsafe_tree(backup.paths),
        "agentmaint_backup_retention_days": backup.retention_days,
    }
    if backup.backup_command:
        variables["agentmaint_backup_command"] = Unsafe(backup.backup_command)
    if backup.directory:
        variables["agentmaint_backup_dir"] = Unsafe(backup.directory)
    return variables


def _component_roles(
    component: Component, *, become: str | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The update task of a component and its rollback task (None: nothing to roll back).

    `become`: the tasks' own ``become`` keyword (the default of the roles that need root).
    """
    if component.role == DEFAULT_ROLE:
        assert component.update_command is not None  # checked when the schedule was parsed
        update = _role(
            Action.UPDATE,
            component.name,
            "command",
            {"agentmaint_command_update": Unsafe(component.update_command)},
        )
        if not component.rollback_command:
            return update, None
        rollback = _role(
            Action.ROLLBACK,
            component.name,
            "command",
            {"agentmaint_command_rollback": Unsafe(component.rollback_command)},
            tasks_from="rollback",
        )
        return update, rollback
    arguments = {variable(component.role, k): unsafe_tree(v) for k, v in component.vars.items()}
    return (
        _role(Action.UPDATE, component.name, component.role, arguments, become=become),
        _role(
            Action.ROLLBACK,
            component.name,
            component.role,
            arguments,
            tasks_from="rollback",
            become=become,
        ),
    )


def unsafe_tree(value: Any) -> Any:
    """`value` with every string in it, keys included, marked `Unsafe`."""
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, Mapping):
        return {unsafe_tree(k): unsafe_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unsafe_tree(item) for item in value]
    return value


def _role(
    action: Action,
    component: str,
    role: str,
    variables: dict[str, Any],
    *,
    tasks_from: str | None = None,
    become: str | None = None,
) -> dict[str, Any]:
    """A static import of a bundled role (the roles name their own tasks by the contract).

    `become` is the task's ``become`` keyword: only our own template, never schedule text.

    Plays use the narrowest entry point (e.g. the health check's ``command``), so that a
    host runs one task per phase rather than a list of skipped alternatives.
    """
    arguments: dict[str, Any] = {"name": role_name(role)}
    if tasks_from is not None:
        arguments["tasks_from"] = tasks_from
    # The variables were checked against the role's argument specs when the schedule was
    # loaded (`agentmaint.config.roles.check_vars`); Ansible's own check would add a task per
    # host and role to every run.
    arguments["rolespec_validate"] = False
    task: dict[str, Any] = {
        "name": task_name(action, component),
        "ansible.builtin.import_role": arguments,
        "vars": {component_variable(role): Unsafe(component), **variables},
    }
    if become is not None:
        task["become"] = become
    return task


def _healthcheck(component: Component) -> dict[str, Any]:
    check = component.healthcheck
    assert check is not None
    variables: dict[str, Any] = {
        "agentmaint_healthcheck_retries": check.retries,
        "agentmaint_healthcheck_delay": int(check.delay.total_seconds()),
        "agentmaint_healthcheck_status": check.status,
    }
    if check.command is not None:
        variables["agentmaint_healthcheck_command"] = Unsafe(check.command)
    if check.url is not None:
        variables["agentmaint_healthcheck_url"] = Unsafe(check.url)
    if check.contains is not None:
        variables["agentmaint_healthcheck_contains"] = Unsafe(check.contains)
    kind = "command" if check.command is not None else "http"
    return _role(Action.HEALTHCHECK, component.name, "healthcheck", variables, tasks_from=kind)


def _joined(given: str | None, wanted: str, separator: str) -> str:
    """The list setting `given` with `wanted` added (once) at its end."""
    parts = [part.strip() for part in (given or "").split(separator) if part.strip()]
    return separator.join(parts if wanted in parts else [*parts, wanted])


#: A job's ssh arguments (Ansible's own default): each host's first ssh becomes its master,
#: which the host's later sessions of the job reuse (no second login).
SSH_ARGS_SHARED = "-C -o ControlMaster=auto -o ControlPersist=60s"
#: For a job with one ssh session per host: no master of ours (its fork and the session
#: through its socket save nothing when nothing comes after; BENCHMARKS.md, "Where an SSH
#: host's time goes"). No Control option at all, so the operator's ssh_config decides, as
#: for a plain ``ssh`` (ssh's own default: no master).
SSH_ARGS_SINGLE = "-C"


def ansible_cfg(
    schedule: Schedule,
    *,
    forks: int,
    local_tmp: Path,
    overrides: Mapping[str, Mapping[str, str]],
    control_path_dir: Path | None = None,
    strategy: Strategy | None = None,
    roles_path: Path = ROLES_PATH,
    connection_secrets: bool = False,
    secrets_plugin_dir: Path = PLUGIN_DIR,
    share_connections: bool = True,
) -> str:
    """The ansible.cfg of a run: fast defaults, then the schedule's `ansible_cfg` on top.

    Relative paths (as jobs for execution nodes use) are relative to the file itself.
    `connection_secrets`: enable the vars plugin that hands over password-like
    connection variables (`agentmaint.ansible.secrets`), whatever the overrides say,
    found in `secrets_plugin_dir` (a job for a node carries its own copy).
    `share_connections`: ssh masters (`SSH_ARGS_SHARED`); False when the job opens one
    ssh session per host, which no master would serve twice (`SSH_ARGS_SINGLE`).
    """
    sections: dict[str, dict[str, str]] = {
        "defaults": {
            "roles_path": str(roles_path),
            "forks": str(forks),
            "gathering": "explicit",
            # Facts only as ansible_facts[...] (what every bundled role and rendered play
            # reads): ansible-playbook then skips copying each host's facts into top-level
            # ansible_* variables after every task (clean_facts, a few ms per host and task).
            "inject_facts_as_vars": "False",
            "retry_files_enabled": "False",
            "interpreter_python": "auto_silent",
            "local_tmp": str(local_tmp),
        },
        # Every job's inventory is the YAML file agentmaint writes: only the plugin that reads
        # it, not Ansible's five others tried in turn (``auto`` parses the whole file first
        # and gives up: a second parse of every host's variables, and six plugins loaded).
        "inventory": {"enable_plugins": "yaml"},
        # Pipelining for every connection that has it (local hosts too: a module's code on
        # the host's standard input, no temporary files; the fused task's direct path).
        "connection": {"pipelining": str(schedule.execution.pipelining)},
        "ssh_connection": {
            "pipelining": str(schedule.execution.pipelining),
            "ssh_args": SSH_ARGS_SHARED if share_connections else SSH_ARGS_SINGLE,
        },
    }
    if strategy is not None:
        sections["defaults"]["strategy"] = strategy.name
        if strategy.plugin_dir is not None:
            sections["defaults"]["strategy_plugins"] = str(strategy.plugin_dir)
    if control_path_dir is not None:
        # Per run, so its masters can be found and ended, and never reused by a later run.
        sections["ssh_connection"]["control_path_dir"] = str(control_path_dir)
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    if connection_secrets:
        defaults = sections["defaults"]
        defaults["vars_plugins"] = _joined(
            defaults.get("vars_plugins"), str(secrets_plugin_dir), ":"
        )
        defaults["vars_plugins_enabled"] = _joined(
            defaults.get("vars_plugins_enabled") or "host_group_vars", PLUGIN_NAME, ","
        )
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)
