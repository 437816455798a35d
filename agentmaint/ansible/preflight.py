"""What each host needs before a window, and the one read-only play that probes it.

`host_needs` derives, from the schedule, which checks apply to which host (every
component applies to every host of every environment): reachable (a login, without
Python: ``raw``); privilege escalation, probed as the runs will escalate (the schedule's
``become`` setting, else the root-needing roles' default escalation on a host not logged
in as root, else the host's own ``ansible_become``), and root where a component's role
needs it (os_packages); a Python that runs Ansible 2.19's modules (>= 3.8); apt (apt-get,
dpkg-query) or dnf (dnf, rpm) on PATH for os_packages; for backups of paths, a writable
backup directory (or its nearest existing parent) with enough free space and tar and
gzip on PATH; docker with the compose plugin (or the component's ``compose_command``, e.g. a
standalone docker-compose) for docker components; a writable model root (or nearest
existing parent) for model components.

`preflight_playbook` writes one play for all those hosts. Every task is a probe
(``changed_when: false``, ``check_mode: false``: it runs, and reports nothing changed,
even under ``--check``) or an ``assert`` evaluated on the controller; none writes to
the host. Checks are tasks named ``Check | <name>`` whose message is the detail of the
check (the assert's success or failure message); a failed check is ignored so that the
host's other checks still run. Schedule strings (paths, binaries) reach the host only as
positional arguments of fixed shell scripts, never inside them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from agentmaint.ansible.render import ROOT_ROLES, Unsafe, login_user, unsafe_tree
from agentmaint.config.roles import ROLES_PATH, role_name, variable
from agentmaint.config.schedule import Become, Schedule

__all__ = [
    "CHECK_PREFIX",
    "MIN_BACKUP_FREE_BYTES",
    "MIN_PYTHON",
    "PLAY_NAME",
    "CheckName",
    "HostNeeds",
    "host_needs",
    "preflight_playbook",
]

PLAY_NAME = "Preflight"
CHECK_PREFIX = "Check | "
#: ansible-core 2.19's oldest supported Python on managed nodes.
MIN_PYTHON = (3, 8)
#: Free space a host needs where backups go, however small the backed-up paths are.
MIN_BACKUP_FREE_BYTES = 64 * 1024 * 1024
#: The free space needed is this many times the size of the backed-up paths (uncompressed).
BACKUP_SIZE_FACTOR = 2


class CheckName:
    """The names of the checks, in the order they are reported."""

    REACHABLE = "reachable"
    PRIVILEGE = "privilege"
    PYTHON = "python"
    PACKAGE_MANAGER = "package_manager"
    BACKUP = "backup"
    DOCKER = "docker"
    MODEL_ROOT = "model_root"

    ORDER = (REACHABLE, PRIVILEGE, PYTHON, PACKAGE_MANAGER, BACKUP, DOCKER, MODEL_ROOT)


@dataclass(frozen=True, slots=True)
class DockerNeeds:
    """The docker CLI and compose program a docker component's role runs."""

    binary: str
    compose: tuple[str, ...] = ()  # the compose command; empty: the binary's compose plugin
    environment: Mapping[str, str] | None = None

    def probe_arguments(self) -> list[str]:
        """The docker probe's arguments: binary, number of compose words, the words."""
        return [self.binary, str(len(self.compose)), *self.compose]


@dataclass(frozen=True, slots=True)
class HostNeeds:
    """What one host must offer for the schedule's components (and so which checks apply)."""

    environment: str
    host: str
    become: bool = False  # the runs escalate on this host (so the check does)
    become_user: str = "root"  # as whom, and how, when they do
    become_method: str = "sudo"
    root_for: tuple[str, ...] = ()  # components whose role needs root
    backup_dir: str | None = None  # where the backup role archives (None: no archives)
    backup_paths: tuple[str, ...] = ()
    package_manager: bool = False  # an os_packages component: apt or dnf
    manager: str = "auto"  # os_packages' `manager` (auto: Ansible's pkg_mgr fact)
    docker: tuple[DockerNeeds, ...] = ()  # one per distinct docker component setting
    model_roots: tuple[str, ...] = ()

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks that apply to this host, in report order."""
        applies = {
            CheckName.REACHABLE: True,
            CheckName.PRIVILEGE: self.become or bool(self.root_for),
            CheckName.PYTHON: True,
            CheckName.PACKAGE_MANAGER: self.package_manager,
            CheckName.BACKUP: self.backup_dir is not None,
            CheckName.DOCKER: bool(self.docker),
            CheckName.MODEL_ROOT: bool(self.model_roots),
        }
        return tuple(name for name in CheckName.ORDER if applies[name])


@functools.cache
def _role_default(role: str, key: str) -> Any:
    """A bundled role's default for `key` (its ``defaults/main.yml``), or None."""
    path = ROLES_PATH / role_name(role) / "defaults" / "main.yml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError:
        return None
    return document.get(variable(role, key)) if isinstance(document, dict) else None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on", "y", "t"}
    return bool(value)


def host_needs(
    schedule: Schedule, environments: Iterable[str] | None = None
) -> tuple[HostNeeds, ...]:
    """The needs of every host of `environments` (default: all), in file order."""
    names = list(environments) if environments is not None else list(schedule.environments)
    components = list(schedule.components.values())
    root_for = tuple(c.name for c in components if c.role == "os_packages")
    managers = [
        str(c.vars.get("manager") or c.vars.get(variable("os_packages", "manager")) or "auto")
        for c in components
        if c.role == "os_packages"
    ]
    manager = next((m for m in managers if m != "auto"), "auto")
    docker: list[DockerNeeds] = []
    for component in components:
        if component.role == "docker":
            binary = component.vars.get("binary") or _role_default("docker", "binary") or "docker"
            compose = component.vars.get("compose_command") or ()
            environment = component.vars.get("environment") or {}
            entry = DockerNeeds(
                binary=str(binary),
                compose=tuple(str(word) for word in compose),
                environment={str(k): str(v) for k, v in dict(environment).items()},
            )
            if entry not in docker:
                docker.append(entry)
    model_roots: list[str] = []
    for component in components:
        if component.role == "model":
            root = component.vars.get("root") or str(_role_default("model", "root") or "")
            # The role's default names the component through a template; resolve it here.
            root = str(root).replace("{{ agentmaint_model_component }}", component.name)
            if root and root not in model_roots:
                model_roots.append(root)
    backup = schedule.backup
    backup_dir = None
    if backup.enabled and backup.paths:
        backup_dir = backup.directory or str(_role_default("backup", "dir"))
    escalation = schedule.ansible_cfg.get("privilege_escalation", {})
    cfg_become = _truthy(escalation.get("become", ""))
    # What the host's own variables (or ansible.cfg) say, when the schedule does not.
    cfg_user = str(escalation.get("become_user") or "root")
    cfg_method = str(escalation.get("become_method") or "sudo")
    needs: list[HostNeeds] = []
    for name in names:
        env = schedule.environments[name]
        for host in env.hosts:
            effective = env.host_variables(host)
            become = _escalation(schedule, name, login_user(effective) != "root")
            if become is None:
                become = Become(
                    _truthy(effective.get("ansible_become", cfg_become)), cfg_user, None
                )
            needs.append(
                HostNeeds(
                    environment=name,
                    host=host.name,
                    become=become.enabled,
                    become_user=become.user_or_root,
                    become_method=(become.method.value if become.method else cfg_method),
                    root_for=root_for,
                    backup_dir=backup_dir,
                    backup_paths=backup.paths if backup_dir is not None else (),
                    package_manager=bool(root_for),
                    manager=manager,
                    docker=tuple(docker),
                    model_roots=tuple(model_roots),
                )
            )
    return tuple(needs)


def _escalation(schedule: Schedule, environment: str, not_root: bool) -> Become | None:
    """How the runs escalate on a host of `environment`, as the play renderer decides.

    The components that need root come first (os_packages, docker, backups of paths): their
    ``become`` setting, or without one the roles' default (escalate to root with sudo when
    the login user is not root). Otherwise the first component that escalates explicitly.
    None when the schedule decides nothing (the host's ``ansible_become`` then does).
    """
    backup_paths = schedule.backup.enabled and bool(schedule.backup.paths)
    settings = [
        (component.role in ROOT_ROLES or backup_paths, schedule.become_for(environment, name))
        for name, component in schedule.components.items()
    ]
    for needs_root, become in settings:
        if needs_root:
            if become is not None:
                return become
            if not_root:
                return Become(True)
    enabled = [become for _, become in settings if become is not None and become.enabled]
    if enabled:
        return enabled[0]
    if any(become is not None for _, become in settings):
        return Become(False)
    return None


# The shell probes. Arguments come after ``sh``: the script itself is fixed text.
# Backup: the nearest existing directory of $1, its free KiB, writable or not, the KiB
# of the existing paths $2... (what one more archive can at worst take, uncompressed), and
# which of the programs the role archives with (tar --gzip) are not on PATH.
_BACKUP_PROBE = r"""
d=$1; shift
while [ ! -d "$d" ]; do d=$(dirname -- "$d"); done
echo "$d"
df -Pk -- "$d" | { read -r _; read -r _ _ _ free _; echo "$free"; }
if [ -w "$d" ]; then echo writable; else echo not-writable; fi
total=0
for p; do
  if [ -e "$p" ]; then total=$((total + $(du -sk -- "$p" | tail -n 1 | cut -f 1))); fi
done
echo "$total"
missing=""
for t in tar gzip; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
echo "missing:$missing"
"""
# Docker: entries of a binary, a count N and N words of a compose command. The binary is
# found, and its compose plugin answers (N = 0) or the compose command does.
_DOCKER_PROBE = r"""
compose() {
  # $1 = N, then the N words, then the other entries: keep the N words only.
  n=$1; shift; rest=$(($# - n)); i=0
  while [ "$i" -lt "$n" ]; do set -- "$@" "$1"; shift; i=$((i + 1)); done
  i=0
  while [ "$i" -lt "$rest" ]; do shift; i=$((i + 1)); done
  c=$1; shift
  if ! q=$(command -v -- "$c"); then
    echo "compose command $c not found on PATH ($PATH)"; return 1
  fi
  if ! v=$("$q" "$@" version --short 2>&1); then
    echo "compose command $q $* failed: 'version --short' said: $(echo "$v" | tail -n 1)"
    return 1
  fi
  echo "$q${*:+ $*} is compose $v"
}
while [ "$#" -gt 0 ]; do
  b=$1; n=$2; shift 2
  if ! p=$(command -v -- "$b"); then
    hint=""
    if [ "$n" -eq 0 ] && command -v docker-compose >/dev/null 2>&1; then
      hint=" (docker-compose is installed: set the component's compose_command to use it)"
    fi
    echo "$b not found on PATH ($PATH)$hint"; exit 1
  fi
  if [ "$n" -gt 0 ]; then
    found=$(compose "$n" "$@") || { echo "$found"; exit 1; }
    echo "$p, $found"
    i=0
    while [ "$i" -lt "$n" ]; do shift; i=$((i + 1)); done
    continue
  fi
  if ! v=$("$p" compose version --short 2>&1); then
    echo "$p has no compose plugin: 'docker compose version' said: $(echo "$v" | tail -n 1)"
    if command -v docker-compose >/dev/null 2>&1; then
      echo "docker-compose is installed: set the component's compose_command to use it"
    fi
    exit 1
  fi
  echo "$p with compose $v"
done
"""
# Package manager: the programs $1... the os_packages role runs are on PATH (found: their
# paths; else only the missing ones, exit 1).
_PACKAGES_PROBE = r"""
found=""; missing=""
for t; do
  if p=$(command -v -- "$t"); then found="$found $p"; else missing="$missing $t"; fi
done
if [ -n "$missing" ]; then printf '%s\n' $missing; exit 1; fi
printf '%s\n' $found
"""
# Model roots: for each $1..., the nearest existing ancestor must be a writable directory.
_MODEL_PROBE = r"""
bad=0
for r; do
  d=$r
  while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done
  if [ -d "$d" ] && [ -w "$d" ]; then
    echo "$r writable (at $d)"
  else
    echo "$r not writable: $d is not a writable directory"; bad=1
  fi
done
exit $bad
"""

_PROBE = {"changed_when": False, "check_mode": False}
_FACTS = "__agentmaint_check_facts"
_LOGIN = "__agentmaint_check_login"
_ESCALATED = "__agentmaint_check_escalated"
_BACKUP = "__agentmaint_check_backup"
_DOCKER = "__agentmaint_check_docker"
_PACKAGES = "__agentmaint_check_packages"
_MODEL = "__agentmaint_check_model"
_NEEDS = "__agentmaint_check_needs"
_ME = f"{_NEEDS}[inventory_hostname]"
#: A host whose login (and escalation, where configured) works: module probes can run.
_USABLE = f"{_ESCALATED} is succeeded"
_PYTHON_OK = f"{_USABLE} and {_FACTS} is succeeded"


def _check(name: str, that: str, success: str, failure: str, when: str | None) -> dict[str, Any]:
    task: dict[str, Any] = {
        "name": f"{CHECK_PREFIX}{name}",
        "ansible.builtin.assert": {
            "that": [that],
            "success_msg": success,
            "fail_msg": failure,
        },
        "ignore_errors": True,
    }
    if when is not None:
        task["when"] = when
    return task


def _probe(name: str, module: dict[str, Any], register: str, when: str) -> dict[str, Any]:
    return {
        "name": f"Probe | {name}",
        **module,
        "register": register,
        "failed_when": False,
        "when": when,
        **_PROBE,
    }


_SCRIPTS = "__agentmaint_check_scripts"


def _shell(script: str, arguments: str) -> dict[str, Any]:
    # `arguments` is our own template naming the host's needs: a list of strings.
    argv = f"{{{{ ['/bin/sh', '-c', {_SCRIPTS}.{script}, 'sh'] + {arguments} }}}}"
    return {"ansible.builtin.command": {"argv": argv}}


def preflight_playbook(needs: Iterable[HostNeeds]) -> list[dict[str, Any]]:
    """The one play that checks every host of `needs` (none of its tasks changes a host)."""
    needs = tuple(needs)
    table = {
        n.host: {
            "checks": list(n.checks),
            "become": n.become,
            "become_user": Unsafe(n.become_user),
            "become_method": Unsafe(n.become_method),
            "root_for": unsafe_tree(n.root_for),
            "backup_dir": Unsafe(n.backup_dir) if n.backup_dir is not None else None,
            "backup_paths": unsafe_tree(n.backup_paths),
            "docker": unsafe_tree([word for d in n.docker for word in d.probe_arguments()]),
            "docker_environment": unsafe_tree(
                {k: v for d in n.docker for k, v in (d.environment or {}).items()}
            ),
            "model_roots": unsafe_tree(n.model_roots),
            "manager": Unsafe(n.manager),
        }
        for n in needs
    }
    minimum = ".".join(map(str, MIN_PYTHON))
    python_version = "ansible_facts.python.version_info[:3] | join('.')"
    tasks: list[dict[str, Any]] = [
        {
            "name": f"{CHECK_PREFIX}{CheckName.REACHABLE}",
            # raw needs no Python on the host: reachability is told apart from Python.
            "ansible.builtin.raw": 'echo "connected as $(id -un)"',
            # Login only: escalation is checked on its own, next.
            "vars": {"ansible_become": False},
            **_PROBE,
        },
        {
            "name": "Probe | privilege escalation",
            "ansible.builtin.raw": "id -u",
            # As the runs will escalate (the host's own ansible_become_* still win).
            "become": f"{{{{ {_ME}.become }}}}",
            "become_user": f"{{{{ {_ME}.become_user }}}}",
            "become_method": f"{{{{ {_ME}.become_method }}}}",
            "register": _ESCALATED,
            "ignore_errors": True,
            **_PROBE,
        },
        _privilege_check(),
        {
            "name": "Probe | python",
            "ansible.builtin.setup": {"gather_subset": ["!all", "min"]},
            "register": _FACTS,
            "ignore_errors": True,
            "when": _USABLE,
            **_PROBE,
        },
        _check(
            CheckName.PYTHON,
            f"{_FACTS} is succeeded and {python_version} is version('{minimum}', '>=')",
            "{{ ('Python ' ~ "
            + python_version
            + " ~ ' at ' ~ ansible_facts.python.executable) if "
            + _FACTS
            + " is succeeded else '' }}",
            "{{ ('Python "
            + minimum
            + " or later is needed (Ansible 2.19 modules), found Python ' ~ "
            + python_version
            + " ~ ' at ' ~ ansible_facts.python.executable) if "
            + _FACTS
            + " is succeeded else ('Ansible modules do not run: ' ~ ("
            + _FACTS
            + ".module_stderr | default("
            + _FACTS
            + ".msg | default('')) | trim)) }}",
            _USABLE,
        ),
        _probe(
            "package manager",
            _shell(
                "packages",
                "({'apt': ['apt-get', 'dpkg-query'], 'dnf': ['dnf', 'rpm'],"
                " 'dnf5': ['dnf5', 'rpm']})[__pkg_mgr] | default([])",
            ),
            _PACKAGES,
            f"{_PYTHON_OK} and '{CheckName.PACKAGE_MANAGER}' in {_ME}.checks",
        ),
        _check(
            CheckName.PACKAGE_MANAGER,
            f"__pkg_mgr in ['apt', 'dnf', 'dnf5'] and {_PACKAGES}.rc == 0",
            "{{ __pkg_mgr ~ ' (' ~ (" + _PACKAGES + ".stdout_lines | join(', ')) ~ ')' }}",
            "{{ ('os_packages needs apt or dnf; this host has ' ~ __pkg_mgr"
            " ~ ' (' ~ ansible_facts.os_family | default('unknown OS family') ~ ')')"
            " if __pkg_mgr not in ['apt', 'dnf', 'dnf5']"
            " else (__pkg_mgr ~ ', but not on PATH: ' ~ ("
            + _PACKAGES
            + ".stdout_lines | join(', '))) }}",
            f"{_PYTHON_OK} and '{CheckName.PACKAGE_MANAGER}' in {_ME}.checks",
        ),
        _probe(
            "backup space",
            _shell("backup", f"[{_ME}.backup_dir] + {_ME}.backup_paths"),
            _BACKUP,
            f"{_PYTHON_OK} and '{CheckName.BACKUP}' in {_ME}.checks",
        ),
        _backup_check(),
        _probe(
            "docker",
            {
                **_shell("docker", f"{_ME}.docker"),
                "environment": f"{{{{ {_ME}.docker_environment }}}}",
            },
            _DOCKER,
            f"{_PYTHON_OK} and '{CheckName.DOCKER}' in {_ME}.checks",
        ),
        _check(
            CheckName.DOCKER,
            f"{_DOCKER}.rc == 0",
            "{{ " + _DOCKER + ".stdout_lines | join('; ') }}",
            "{{ (" + _DOCKER + ".stdout_lines + " + _DOCKER + ".stderr_lines) | join('; ') }}",
            f"{_PYTHON_OK} and '{CheckName.DOCKER}' in {_ME}.checks",
        ),
        _probe(
            "model root",
            _shell("model", f"{_ME}.model_roots"),
            _MODEL,
            f"{_PYTHON_OK} and '{CheckName.MODEL_ROOT}' in {_ME}.checks",
        ),
        _check(
            CheckName.MODEL_ROOT,
            f"{_MODEL}.rc == 0",
            "{{ " + _MODEL + ".stdout_lines | join('; ') }}",
            "{{ ("
            + _MODEL
            + ".stdout_lines + "
            + _MODEL
            + ".stderr_lines) | select | join('; ') }}",
            f"{_PYTHON_OK} and '{CheckName.MODEL_ROOT}' in {_ME}.checks",
        ),
    ]
    hosts = ",".join(n.host for n in needs)
    return [
        {
            "name": PLAY_NAME,
            "hosts": hosts,
            "gather_facts": False,
            "vars": {
                _NEEDS: table,
                # The package manager os_packages will use: its `manager`, else the fact.
                "__pkg_mgr": f"{{{{ ansible_facts.pkg_mgr if {_ME}.manager == 'auto'"
                f" else {_ME}.manager }}}}",
                _SCRIPTS: {
                    "backup": Unsafe(_BACKUP_PROBE),
                    "docker": Unsafe(_DOCKER_PROBE),
                    "packages": Unsafe(_PACKAGES_PROBE),
                    "model": Unsafe(_MODEL_PROBE),
                },
            },
            "tasks": tasks,
        }
    ]


def _privilege_check() -> dict[str, Any]:
    """The privilege assert: escalation works where configured, root where a role needs it."""
    task = _check(
        CheckName.PRIVILEGE,
        "__escalated is succeeded and (__uid == '0' or not __root_for)",
        "{{ (('privilege escalation works: commands run as uid ' if __become"
        " else 'the login user is uid ') ~ __uid) if __escalated is succeeded else '' }}",
        "{{ ('privilege escalation (become) fails: ' ~ __said)"
        " if __escalated is failed"
        " else ('privilege escalation runs commands as uid ' ~ __uid ~ ', not root: ' ~ __needs)"
        " if __become"
        " else ('the login user is uid ' ~ __uid ~ ', not root, and no privilege escalation"
        " is configured (become): ' ~ __needs) }}",
        f"'{CheckName.PRIVILEGE}' in {_ME}.checks",
    )
    task["vars"] = {
        "__escalated": f"{{{{ {_ESCALATED} }}}}",
        "__uid": f"{{{{ {_ESCALATED}.stdout | default('') | trim }}}}",
        "__become": f"{{{{ {_ME}.become }}}}",
        "__root_for": f"{{{{ {_ME}.root_for }}}}",
        "__needs": f"{{{{ {_ME}.root_for | join(', ') ~ ' need(s) root (role os_packages)' }}}}",
        "__said": f"{{{{ ({_ESCALATED}.msg | default('')) ~ ' ' ~ "
        f"({_ESCALATED}.stderr | default('')) | trim }}}}",
    }
    return task


def _backup_check() -> dict[str, Any]:
    """The backup assert over the probe's five lines (task vars are templated lazily)."""
    lines = f"{_BACKUP}.stdout_lines"
    minimum = f"{MIN_BACKUP_FREE_BYTES // (1024 * 1024)} MiB"
    task = _check(
        CheckName.BACKUP,
        "__measured and __writable and __free >= __needed and not __missing",
        "{{ (__where ~ ': ' ~ (__free | filesizeformat(true)) ~ ' free, '"
        " ~ (__needed | filesizeformat(true)) ~ ' needed') if __measured else '' }}",
        "{{ ('cannot measure ' ~ __where ~ ': ' ~ (" + _BACKUP + ".stderr | default('') | trim))"
        " if not __measured else (__where ~ ' is not writable') if not __writable"
        " else ('the backup role archives with tar --gzip: not on PATH: ' ~ __missing)"
        " if __missing"
        " else (__where ~ ': only ' ~ (__free | filesizeformat(true)) ~ ' free, '"
        " ~ (__needed | filesizeformat(true)) ~ ' needed ("
        + str(BACKUP_SIZE_FACTOR)
        + " x the backed-up paths, at least "
        + minimum
        + ")') }}",
        f"{_PYTHON_OK} and '{CheckName.BACKUP}' in {_ME}.checks",
    )
    task["vars"] = {
        "__measured": f"{{{{ {_BACKUP}.rc == 0 and {lines} | length == 5 }}}}",
        "__missing": f"{{{{ {lines}[4] | default('') | regex_replace('^missing: *', '') }}}}",
        "__writable": f"{{{{ {lines}[2] == 'writable' }}}}",
        "__free": f"{{{{ {lines}[1] | int * 1024 }}}}",
        "__needed": f"{{{{ [{lines}[3] | int * 1024 * {BACKUP_SIZE_FACTOR}, "
        f"{MIN_BACKUP_FREE_BYTES}] | max }}}}",
        "__where": f"{{{{ {_ME}.backup_dir ~ ((' (nearest existing: ' ~ {lines}[0] ~ ')') "
        f"if {lines} | length == 5 and {lines}[0] != {_ME}.backup_dir else '') }}}}",
    }
    return task
