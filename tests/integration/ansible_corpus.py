"""ansible-core's own integration playbooks as a corpus for the event parser.

The sdist of the *installed* ansible-core (it ships ``test/integration/targets/``)
is downloaded once with ``pip download`` and cached outside the repository, in
``~/.cache/agentmaint-tests/`` (``AGENTMAINT_TEST_CACHE`` overrides it); nothing
of it is committed.

`select_playbooks` picks every target playbook that can run on localhost with
builtin modules and no network. A target is a directory of ``targets/``; its
playbooks are its top-level ``*.yml`` files that are lists of plays, and a role
target (``tasks/main.yml``) is run by a generated play, as ansible-test does.
Targets are skipped by group, each for one reason (`SKIP_REASONS`), checked in
this order:

* ``not-posix``: Windows, network devices, Galaxy, cloud: other platforms.
* ``changes-machine``: ``destructive``, ``needs/root``, ``needs/privileged``:
  they install packages, add users, change system files.
* ``network``: ``needs/httptester``, ``needs/ssh``, or a module that fetches
  (``get_url``, ``uri``, ``git``, ``pip``, a package manager).
* ``collections``: ``needs/target/collection`` or ``ansible-test`` (target), a
  ``collections/`` or ``ansible_collections`` tree, a ``collections:`` keyword:
  they need content from outside ansible-core.
* ``support``: ``hidden``, ``setup_*`` and ``prepare_*`` targets, which only
  serve other targets (they are still on the roles path).
* ``cli-tools``: ``ansible-*`` targets and ``runme.sh`` targets that only call
  ansible tools with an environment their script sets up (vault passwords,
  config files, prompts), and so have no playbook to run on their own.
* ``interactive``: ``pause``, ``vars_prompt``, ``wait_for``, the debugger,
  ``reboot``: they wait for a person, a port or a reboot.
* ``slow``: targets that take more than `RUN_TIMEOUT` seconds even alone
  (listed by name in `SLOW`), which the CI budget cannot afford.

Each selected playbook is then run (`run_one`) through ``ansible_runner.run``
under a strategy (``linear`` or ``free``, through ``ANSIBLE_STRATEGY``; a play's
own ``strategy:`` wins) and an inventory (`INVENTORIES`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import ansible_runner
import yaml

from agentmaint.ansible.events import EventParser, read_artifact_dir
from agentmaint.records import HostCounts

RUN_TIMEOUT = 60  # seconds a run may take before ansible-runner stops it

#: The lines the corpus test leaves for the terminal summary (tests/integration/conftest.py).
SUMMARY: list[str] = []

#: Why each group of targets is skipped (see the module doc).
SKIP_REASONS = {
    "not-posix": "another platform (Windows, network devices, Galaxy, cloud)",
    "changes-machine": "destructive or needs root: changes the machine",
    "network": "needs the network (httptester, ssh, downloads, package managers)",
    "collections": "needs collections from outside ansible-core",
    "support": "support target (setup_*, prepare_*, hidden): used by other targets",
    "cli-tools": "drives ansible tools with an environment set up by runme.sh; no playbook",
    "interactive": "waits for a prompt, a pause, a port or a reboot",
    "slow": "takes longer than the CI budget allows for one playbook",
}

#: Targets that run longer than `RUN_TIMEOUT` seconds (async sleeps, timeouts by design).
SLOW = frozenset(
    {
        "async",  # sleeps for minutes while polling
        "async_fail",
        "task-timeout",
        "module_utils_common.respawn",
        "fork_safe_stdio",
        "signal_propagation",
        "python_module_rlimit_nofile",
        "unexpected_executor_exception",
        "handler_race",
        "includes_race",
    }
)

#: Targets whose ``needs/root`` and ``needs/ssh`` only serve other platforms (delegate_to:
#: network interfaces on macOS and FreeBSD); on Linux they run as they are.
ROOT_ELSEWHERE = frozenset({"delegate_to"})

_NOT_POSIX = re.compile(r"^(windows|network|cloud/|shippable/(windows|galaxy|ios)/)")
_MACHINE = re.compile(r"^(destructive|needs/root|needs/privileged)\b")
_NETWORK_ALIAS = re.compile(r"^(needs/httptester|needs/ssh)\b")
_COLLECTION_ALIAS = re.compile(r"^needs/target/(collection|ansible-test)")
_NETWORK_MODULE = re.compile(
    r"^\s*-?\s*(ansible\.builtin\.)?"
    r"(get_url|uri|git|pip|apt|apt_key|apt_repository|dnf|dnf5|yum|yum_repository|package"
    r"|deb822_repository|rpm_key|subversion):",
    re.MULTILINE,
)
_COLLECTIONS_KEYWORD = re.compile(r"^\s*-?\s*collections:", re.MULTILINE)
_INTERACTIVE = re.compile(
    r"^\s*-?\s*(vars_prompt:|(ansible\.builtin\.)?(pause|wait_for|wait_for_connection|reboot|expect):"
    r"|debugger:)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Playbook:
    """A playbook of a target; `name` is None for a role target's generated play."""

    target: str
    name: str | None = None

    @property
    def label(self) -> str:
        """``target/playbook.yml``, or ``target (role)``."""
        return f"{self.target}/{self.name}" if self.name else f"{self.target} (role)"


@dataclass(frozen=True)
class Selection:
    """The playbooks selected, and the targets skipped by reason."""

    playbooks: tuple[Playbook, ...]
    skipped: dict[str, tuple[str, ...]] = field(default_factory=dict)


#: The inventories every playbook can be run with: host -> "local" or "unreachable".
#: ``testhost`` is the host of ansible-test's own inventory; the role targets' play
#: runs on ``testhost`` under "one" and on all hosts under the others.
INVENTORIES: dict[str, dict[str, str]] = {
    "one": {"testhost": "local", "testhost2": "local"},
    "aliases": {"testhost": "local", "testhost2": "local", "testhost3": "local"},
    "unreachable": {"testhost": "local", "testhost2": "local", "unreachable1": "unreachable"},
    "own-unreachable": {"testhost": "local", "testhost2": "unreachable", "testhost3": "local"},
}
STRATEGIES = ("linear", "free")


def cache_dir() -> Path:
    """Where downloads are kept: ``AGENTMAINT_TEST_CACHE`` or ``~/.cache/agentmaint-tests``."""
    configured = os.environ.get("AGENTMAINT_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "agentmaint-tests"


def targets_dir() -> Path:
    """``test/integration/targets`` of the installed ansible-core's sdist, downloaded once."""
    release = version("ansible-core")
    root = cache_dir() / f"ansible-core-{release}"
    targets = root / "test" / "integration" / "targets"
    if targets.is_dir():
        return targets
    cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir()) as work:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"ansible-core=={release}",
                "-d",
                work,
            ],
            check=True,
        )
        (sdist,) = Path(work).glob("ansible_core-*.tar.gz")
        unpacked = Path(work) / "unpacked"
        prefix = f"{sdist.name.removesuffix('.tar.gz')}/"
        with tarfile.open(sdist) as archive:
            members = [
                m
                for m in archive.getmembers()
                if m.name.startswith(prefix + "test/integration/targets/")
            ]
            archive.extractall(unpacked, members=members, filter="data")
        # a concurrent session may have won the race: its copy is as good as ours
        if not root.exists():
            (unpacked / prefix).rename(root)
    return targets


def _aliases(target: Path) -> list[str]:
    path = target / "aliases"
    if not path.is_file():
        return []
    return [line.split("#")[0].strip() for line in path.read_text().splitlines()]


def _texts(target: Path) -> str:
    parts = []
    for path in sorted(target.rglob("*")):
        if path.suffix in (".yml", ".yaml", ".sh") and path.is_file():
            parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


def _is_playbook(path: Path) -> bool:
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return (
        isinstance(data, list)
        and bool(data)
        and all(
            isinstance(play, dict)
            and ("hosts" in play or any(str(key).endswith("import_playbook") for key in play))
            for play in data
        )
    )


def _skip_reason(target: Path) -> str | None:
    aliases = _aliases(target)
    name = target.name
    if any(_NOT_POSIX.match(a) for a in aliases) or not any(
        a.startswith(("shippable/posix", "shippable/generic", "posix")) for a in aliases
    ):
        return "not-posix"
    if any(_MACHINE.match(a) for a in aliases) and name not in ROOT_ELSEWHERE:
        return "changes-machine"
    texts = _texts(target)
    network_alias = any(_NETWORK_ALIAS.match(a) for a in aliases) and name not in ROOT_ELSEWHERE
    if network_alias or _NETWORK_MODULE.search(texts):
        return "network"
    if any(_COLLECTION_ALIAS.match(a) for a in aliases):
        return "collections"
    if "hidden" in aliases or name.startswith(("setup_", "prepare_")):
        return "support"
    if name.startswith("ansible-") or not _playbooks_of(target):
        return "cli-tools"
    if name in SLOW:
        return "slow"
    return None


def _playbook_skip_reason(target: Path, playbook: Playbook) -> str | None:
    """Per playbook: ``collections`` and ``interactive`` (for a role, its tasks)."""
    if playbook.name is None:
        text = _texts(target / "tasks")
    else:
        text = (target / playbook.name).read_text(errors="replace")
    if _COLLECTIONS_KEYWORD.search(text) or "ansible_collections" in text:
        return "collections"
    if _INTERACTIVE.search(text):
        return "interactive"
    return None


def _playbooks_of(target: Path) -> list[Playbook]:
    found = [
        Playbook(target.name, path.name)
        for path in sorted(target.iterdir())
        if path.suffix in (".yml", ".yaml") and path.is_file() and _is_playbook(path)
    ]
    if (target / "tasks" / "main.yml").is_file():
        found.append(Playbook(target.name))
    return found


def select_playbooks(targets: Path) -> Selection:
    """The playbooks to run, and the skipped targets by reason (see the module doc)."""
    chosen: list[Playbook] = []
    skipped: dict[str, list[str]] = {}
    for target in sorted(p for p in targets.iterdir() if p.is_dir()):
        reason = _skip_reason(target)
        if reason is not None:
            skipped.setdefault(reason, []).append(target.name)
            continue
        for playbook in _playbooks_of(target):
            reason = _playbook_skip_reason(target, playbook)
            if reason is None:
                chosen.append(playbook)
            else:
                skipped.setdefault(reason, []).append(playbook.label)
    return Selection(tuple(chosen), {k: tuple(v) for k, v in skipped.items()})


@dataclass(frozen=True)
class Outcome:
    """What one run gave: ansible-runner's status and stats, and agentmaint's reading."""

    label: str
    runner_status: str
    rc: int | None
    runner_stats: dict[str, HostCounts] | None
    status: str
    status_without_stats: str  # of the same events but playbook_on_stats
    counts: dict[str, HostCounts]
    stats: dict[str, HostCounts] | None
    warnings: tuple[str, ...]
    error: str | None
    seconds: float
    directory: str | None  # the private_data_dir, kept when the run differs

    def problems(self) -> list[str]:
        """Every difference between agentmaint's reading and ansible-runner's."""
        found = []
        if self.runner_stats is not None:
            for host in sorted(set(self.counts) | set(self.runner_stats)):
                mine = self.counts.get(host, HostCounts())
                theirs = self.runner_stats.get(host, HostCounts())
                if mine != theirs:
                    found.append(f"{host}: events {_short(mine)} != stats {_short(theirs)}")
            if self.stats != self.runner_stats:
                found.append("playbook_on_stats read differs from ansible-runner's")
        if not _status_agrees(self.status, self.runner_status, self.runner_stats, self.error):
            found.append(f"status {self.status} != ansible-runner's {self.runner_status}")
        if not _status_agrees(
            self.status_without_stats, self.runner_status, self.runner_stats, self.error
        ):
            found.append(
                f"status without playbook_on_stats {self.status_without_stats} "
                f"!= ansible-runner's {self.runner_status}"
            )
        return found


def _status_agrees(mine: str, theirs: str, stats: Any, error: str | None) -> bool:
    """agentmaint's ``error`` (died outside the plays) is ansible-runner's ``failed``."""
    if mine == theirs:
        return True
    return mine == "error" and theirs == "failed" and stats is None


def _short(counts: HostCounts) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.to_dict().items() if v)


def _inventory(hosts: dict[str, str]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    for host, kind in hosts.items():
        if kind == "local":
            entries[host] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
            }
        else:
            entries[host] = {
                "ansible_connection": "ssh",
                "ansible_host": "127.0.0.1",
                "ansible_port": 1,
                "ansible_ssh_common_args": "-o ConnectTimeout=2",
            }
    return {
        "all": {
            "hosts": entries,
            "children": {
                "testgroup": {"hosts": {"testhost": None}},
                "local": {"hosts": dict.fromkeys(h for h, k in hosts.items() if k == "local")},
            },
        }
    }


def stats_of(runner_stats: dict[str, Any] | None) -> dict[str, HostCounts] | None:
    """ansible-runner's `stats` (the playbook_on_stats tables) as HostCounts."""
    if runner_stats is None:
        return None
    hosts = set(runner_stats.get("processed", {}))
    names = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
    for name in names:
        hosts.update(runner_stats.get(name, {}))

    def get(name: str, host: str) -> int:
        value: int = runner_stats.get(name, {}).get(host, 0)
        return value

    return {
        host: HostCounts(
            ok=get("ok", host),
            changed=get("changed", host),
            failures=get("failures", host),
            unreachable=get("dark", host),
            skipped=get("skipped", host),
            rescued=get("rescued", host),
            ignored=get("ignored", host),
        )
        for host in sorted(hosts)
    }


#: Every process of a run carries it (with the run's directory): see `_end_leftovers`.
_RUN_MARKER = "AGENTMAINT_CORPUS_RUN"


def _end_leftovers(private: str) -> None:
    """End the processes a run left behind (task workers call setsid: a timeout spares them)."""
    marker = f"{_RUN_MARKER}={private}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # ended meanwhile, or not ours to read
        if marker in environ.split(b"\0"):
            with contextlib.suppress(OSError):  # ended meanwhile
                os.kill(int(entry.name), signal.SIGKILL)


def run_one(targets: str, playbook: Playbook, strategy: str, inventory: str, work: str) -> Outcome:
    """Run one playbook through ansible-runner in a fresh directory under `work`.

    The target is copied (playbooks may write next to themselves); roles resolve
    from ``targets/`` as under ansible-test. Events are read back from the artifact
    directory, as ``agentmaint events`` does.
    """
    label = f"{playbook.label} [{strategy}, {inventory}]"
    private = Path(tempfile.mkdtemp(prefix="corpus-", dir=work))
    project = private / "project"
    shutil.copytree(Path(targets) / playbook.target, project, symlinks=True)
    (private / "inventory").mkdir()
    (private / "inventory" / "hosts.yml").write_text(
        yaml.safe_dump(_inventory(INVENTORIES[inventory]))
    )
    name = playbook.name
    if name is None:
        name = "_corpus_role.yml"
        hosts = "testhost" if inventory == "one" else "all"
        (project / name).write_text(f"- hosts: {hosts}\n  roles:\n    - role: {playbook.target}\n")
    environment = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_STRATEGY": strategy,
        "ANSIBLE_ROLES_PATH": f"{project / 'roles'}{os.pathsep}{targets}",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "OUTPUT_DIR": str(private / "output"),
        _RUN_MARKER: str(private),
    }
    (private / "output").mkdir()
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=name,
        quiet=True,
        timeout=RUN_TIMEOUT,
        envvars=environment,
        # runme.sh scripts choose the strategy of some playbooks with these variables
        extravars={
            "output_dir": str(private / "output"),
            "strategy": strategy,
            "test_strategy": strategy,
        },
    )
    seconds = time.monotonic() - started
    _end_leftovers(str(private))
    parsed = read_artifact_dir(private)
    # The same stream cut before its recap (a run killed at the end, a lost event): the
    # status must still be ansible-runner's.
    cut = EventParser()
    for event in runner.events:
        if event.get("event") != "playbook_on_stats":
            cut.feed(event)
    without_stats = cut.finish(runner.status, runner.rc)
    outcome = Outcome(
        label=label,
        runner_status=runner.status,
        rc=runner.rc,
        runner_stats=stats_of(runner.stats),
        status=parsed.status.value,
        status_without_stats=without_stats.status.value,
        counts=dict(parsed.counts),
        stats=dict(parsed.stats) if parsed.stats is not None else None,
        warnings=parsed.warnings,
        error=parsed.error,
        seconds=seconds,
        directory=str(private),
    )
    if not outcome.problems() and not os.environ.get("AGENTMAINT_CORPUS_KEEP"):
        shutil.rmtree(private, ignore_errors=True)
        outcome = replace(outcome, directory=None)
    return outcome
