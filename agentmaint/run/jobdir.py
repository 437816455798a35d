"""A job's private_data_dir: inventory, playbook and ansible.cfg, written fresh.

ansible-runner never overwrites files it finds in ``env/``, so every job gets a new
directory (created private, 0700) under ``state_dir/runs/<run id>/``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from agentmaint.ansible.naming import PLAYBOOK_NAME, Target
from agentmaint.ansible.render import (
    Background,
    ansible_cfg,
    dump_yaml,
    inventory,
    playbook,
)
from agentmaint.ansible.runner import Job
from agentmaint.ansible.secrets import PLUGIN_DIR, PLUGIN_NAME
from agentmaint.ansible.strategy import Strategy, Workload
from agentmaint.ansible.strategy import fit as fit_strategy
from agentmaint.ansible.strategy import on_node as strategy_on_node
from agentmaint.ansible.strategy import resolve as resolve_strategy
from agentmaint.config.roles import ROLES_PATH
from agentmaint.config.schedule import BecomeMethod, ExecutionNode, HostVarValue, Schedule
from agentmaint.errors import StateDirError
from agentmaint.planning.history import DurationReader
from agentmaint.planning.planner import Plan
from agentmaint.run.background_choice import PlayChoice, background_for, choose, log_choices
from agentmaint.run.forks import MAX_DEFAULT_FORKS, all_fused, default_forks
from agentmaint.run.outside import OUTSIDE_NAME

__all__ = [
    "MAX_DEFAULT_FORKS",
    "MIN_TIMEOUT",
    "background_choices",
    "job_timeout",
    "prepare_run_dir",
    "remote_hosts",
]

MIN_TIMEOUT = timedelta(minutes=1)
_NODE_PLUGIN_DIR = "vars_plugins"  # in a node job's project, beside its roles
#: Seconds a background fused job may take in a run without a timeout (Ansible's ``async``).
BACKGROUND_TIMEOUT = 24 * 3600


_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})  # Ansible's false booleans


def _targeted_variables(
    schedule: Schedule, targets: Iterable[Target]
) -> Iterator[tuple[str, dict[str, HostVarValue]]]:
    """Each host of `targets` (once per target that names it) and its connection variables."""
    for t in targets:
        env = schedule.environments[t.environment]
        wanted = set(t.hosts)
        for host in env.hosts:
            if host.name in wanted:
                yield host.name, env.host_variables(host)


def remote_hosts(schedule: Schedule, targets: Iterable[Target]) -> frozenset[str]:
    """The hosts of `targets` that Ansible reaches other than with a local connection."""
    return frozenset(
        name
        for name, variables in _targeted_variables(schedule, targets)
        if variables.get("ansible_connection") != "local"
    )


def _pipelined(schedule: Schedule, targets: tuple[Target, ...]) -> bool:
    """Whether these targets' local hosts run modules pipelined (as the job's ansible.cfg says).

    ``execution.pipelining``, unless the schedule's ``ansible_cfg`` (its ``[connection]``
    section, which Ansible reads after ``[defaults]``) or a host's ``ansible_pipelining``
    turns it off: the fused task's direct path needs it.
    """
    if not schedule.execution.pipelining:
        return False
    if str(schedule.ansible_cfg.get("connection", {}).get("pipelining", "")).lower() in _FALSE:
        return False
    return not any(
        str(variables.get("ansible_pipelining", "")).lower() in _FALSE
        for _, variables in _targeted_variables(schedule, targets)
    )


#: Ansible's own ssh connection, as a host may name it.
_SSH_CONNECTIONS = frozenset({"ssh", "ansible.builtin.ssh", "ansible.legacy.ssh"})
#: The escalation known to keep a command pipelined (``su`` turns pipelining off: the module
#: is then copied over and run in several sessions).
_PIPELINED_BECOME = frozenset({"", "sudo", "ansible.builtin.sudo"})


def _one_session_per_host(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    strategy: Strategy,
    workload: Workload,
    background: Background | None,
) -> bool:
    """Whether each SSH host of the job gets exactly one ssh session (no master is needed).

    So when every play is fused and waits in the foreground (one task per host), under
    Ansible's own strategies (mitogen keeps its own connections), pipelined (one command, the
    module's code on its standard input, escalating by sudo if at all: ``su`` turns
    pipelining off) with the host's Python named (no interpreter discovery, which is a
    session of its own), each host in one play only. Each host then pays the one login it
    pays anyway, without a master's fork and the session through its socket. A job without
    SSH hosts keeps the default.
    """
    if not _one_session_job(
        schedule, targets, strategy=strategy, workload=workload, background=background
    ):
        return False
    seen: set[str] = set()
    for name, variables in _targeted_variables(schedule, targets):
        if str(variables.get("ansible_connection", "ssh")) not in _SSH_CONNECTIONS:
            continue
        if name in seen or not _one_session_host(variables):
            return False
        seen.add(name)
    return bool(seen)


def _one_session_job(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    strategy: Strategy,
    workload: Workload,
    background: Background | None,
) -> bool:
    """`_one_session_per_host` as far as the job's plays and the schedule's settings go.

    `workload` is the job's, as `prepare_run_dir` weighed it for the strategy (whether
    every play is fused, whether the fused task takes the direct path: pipelined).
    """
    if strategy.mitogen or not workload.fused or not workload.direct:
        return False
    if background is not None and any(background.takes(t) for t in targets):
        return False
    ssh_cfg = schedule.ansible_cfg.get("ssh_connection", {})
    escalation = schedule.ansible_cfg.get("privilege_escalation", {})
    if (
        str(ssh_cfg.get("pipelining", "")).lower() in _FALSE
        or str(escalation.get("become_method", "")) not in _PIPELINED_BECOME
    ):
        return False
    for t in targets:
        become = schedule.become_for(t.environment, t.component)
        if become is not None and become.enabled and become.method_or_sudo is not BecomeMethod.SUDO:
            return False
    return True


def _one_session_host(variables: Mapping[str, HostVarValue]) -> bool:
    """`_one_session_per_host` as far as one SSH host's own variables go."""
    return (
        bool(variables.get("ansible_python_interpreter"))
        and str(variables.get("ansible_ssh_pipelining", "")).lower() not in _FALSE
        and str(variables.get("ansible_become_method", "")) in _PIPELINED_BECOME
    )


def background_choices(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    check: bool = False,
    durations: DurationReader | None = None,
) -> tuple[PlayChoice, ...]:
    """How each fused play of a job of `targets` bigger than its forks waits for its hosts.

    ``execution.background`` decides (`agentmaint.run.background_choice`; under ``auto``
    from the component's durations in `durations`, None: nothing recorded). Check mode
    runs nothing on the hosts: nothing to wait for in the background, no choice.
    """
    if check:
        return ()
    return choose(schedule, targets, forks=default_forks(schedule, targets), durations=durations)


def prepare_run_dir(
    schedule: Schedule,
    targets: tuple[Target, ...],
    *,
    run_id: str,
    directory: Path,
    timeout: int | None = None,
    check: bool = False,
    control_path_dir: Path | None = None,
    strategy: Strategy | None = None,
    ident: str | None = None,
    node: ExecutionNode | None = None,
    budget_stop: str | None = None,
    durations: DurationReader | None = None,
    choices: tuple[PlayChoice, ...] | None = None,
) -> Job:
    """Write inventory, playbook and ansible.cfg into a fresh private_data_dir.

    `strategy` defaults to what ``execution.strategy`` resolves to, fitted to this job's
    hosts and plays when `auto` chose it (see `agentmaint.ansible.strategy.fit`).
    `directory` must not exist, or be empty (a run's directory made by
    `agentmaint.run.statedir.make_run_dir`, holding at most its ``outside.json``). `ident`
    names the job and its artifact directory (default: `run_id`). For a job that runs on
    an execution `node` the directory is self-contained: the bundled roles are copied
    into it (and the connection secrets' vars plugin when the job needs it), every path in
    ansible.cfg is relative to it, and local hosts keep the node's
    own Python. `budget_stop` is where the plays look for the controller's error-budget
    stop files (`agentmaint.ansible.budget`), as the job sees it. `choices` say which
    fused plays wait for their hosts in the background (default: `background_choices` of
    `durations`, the history's); each is logged.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The run's record of what it creates outside (`agentmaint.run.outside`) comes first.
    if any(entry.name != OUTSIDE_NAME for entry in directory.iterdir()):
        raise StateDirError(f"{directory} is not empty: a job directory must be fresh")
    for sub in ("inventory", "project", "tmp"):
        (directory / sub).mkdir(mode=0o700)
    envs = sorted({t.environment for t in targets})
    hosts = {h for t in targets for h in t.hosts}
    forks = default_forks(schedule, targets)
    inventory_path = directory / "inventory" / "hosts.yml"
    if choices is None:
        choices = background_choices(schedule, targets, check=check, durations=durations)
    log_choices(choices)
    background = background_for(choices, forks=forks, timeout=timeout or BACKGROUND_TIMEOUT)
    workload = Workload(
        len(hosts),
        fused=all_fused(schedule, targets),
        remote=len(remote_hosts(schedule, targets)),
        # Without pipelining the fused task (its start and wait too) runs as a module.
        direct=_pipelined(schedule, targets),
    )
    strategy = fit_strategy(strategy or resolve_strategy(schedule.execution.strategy), workload)
    if node is not None:
        strategy = strategy_on_node(strategy)
    local = node is None
    secrets = {h: found for h in sorted(hosts) if (found := schedule.host_secrets(h))}
    inventory_path.write_text(
        dump_yaml(inventory(schedule, envs, mitogen=strategy.mitogen, on_controller=local))
    )
    project = directory / "project"
    (project / PLAYBOOK_NAME).write_text(
        dump_yaml(
            playbook(
                schedule,
                targets,
                run_id=run_id,
                budget_stop=budget_stop,
                fused=schedule.execution.fused,
                background=background,
            )
        )
    )
    if not local:
        shutil.copytree(ROLES_PATH, project / "roles", ignore=shutil.ignore_patterns("molecule"))
        if secrets:  # the vars plugin travels with the job (the node has no agentmaint)
            (project / _NODE_PLUGIN_DIR).mkdir(mode=0o700)
            shutil.copy2(
                PLUGIN_DIR / f"{PLUGIN_NAME}.py", project / _NODE_PLUGIN_DIR / f"{PLUGIN_NAME}.py"
            )
    config = project / "ansible.cfg"
    config.write_text(
        ansible_cfg(
            schedule,
            forks=forks,
            # On a node, relative to the project directory (ansible-runner's working directory).
            local_tmp=directory / "tmp" if local else Path("../tmp"),
            overrides=schedule.ansible_cfg,
            control_path_dir=control_path_dir if local else Path("../cp"),
            strategy=strategy,
            roles_path=ROLES_PATH if local else Path("roles"),
            connection_secrets=bool(secrets),
            secrets_plugin_dir=PLUGIN_DIR if local else Path(_NODE_PLUGIN_DIR),
            share_connections=not _one_session_per_host(
                schedule, targets, strategy=strategy, workload=workload, background=background
            ),
        )
    )
    return Job(
        private_data_dir=directory,
        playbook=PLAYBOOK_NAME,
        inventory=inventory_path,
        ident=ident or run_id,
        # On a node, ansible.cfg is found in the working directory (the project).
        envvars={"ANSIBLE_CONFIG": str(config) if local else "ansible.cfg"},
        timeout=timeout,
        check=check,
        control_path_dir=control_path_dir if local else None,
        connection_secrets=secrets,
    )


def job_timeout(schedule: Schedule, the_plan: Plan, now: datetime) -> int | None:
    """Seconds a run's jobs may take: ``execution.timeout``, else until its windows close."""
    if schedule.execution.timeout:
        return int(schedule.execution.timeout.total_seconds())
    ends = [d.window.end for d in the_plan.due if d.window is not None]
    if not ends:
        return None  # forced runs have no window
    return int(max(max(ends) - now, MIN_TIMEOUT).total_seconds())
