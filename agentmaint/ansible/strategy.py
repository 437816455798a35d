"""Which Ansible strategy a run uses: mitogen's when it is installed, else Ansible's own.

Mitogen (a regular dependency of agentmaint) replaces Ansible's per-task module
shipping with long-lived interpreters on each host, which makes fleet runs several
times faster. ``execution.strategy: auto`` (the default) uses ``mitogen_linear``
when mitogen is installed and accepts this ansible-core, and falls back to
Ansible's ``linear`` otherwise (e.g. an ansible-core newer than mitogen supports);
``linear``/``free`` turn it off; ``mitogen_linear``/``mitogen_free`` require it. The
environment variable ``AGENTMAINT_STRATEGY`` overrides the schedule (e.g.
``AGENTMAINT_STRATEGY=linear`` to rule mitogen out while investigating a problem).

One exception to `auto`'s choice of mitogen, made per job once its plays are known
(`fit`): a job whose plays are all fused (one task per host) uses Ansible's ``linear``
when the fused task takes its direct path (the module's code run by the host's Python over
the pipelined connection, no AnsiballZ: pipelining on; in the background too), whatever
the number of hosts; when any of its hosts is reached over SSH (not ``ansible_connection:
local``); or when it has fewer than `FUSED_LINEAR_BELOW` hosts. Mitogen's start-up (an
interpreter per host, its modules shipped to each) pays for itself over many tasks per
host; for one task per host it only adds start-up time, except where the fused task runs
as a module (AnsiballZ, ``module_utils`` compiled at every task) on many local hosts,
whose tasks mitogen's interpreters run with ``module_utils`` already loaded
(BENCHMARKS.md, "Small fleets: mitogen or linear" and "All-fused jobs: linear at any
size").
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import itertools
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from agentmaint.errors import UsageError

AUTO = "auto"
STRATEGIES = (AUTO, "linear", "free", "mitogen_linear", "mitogen_free")
ENVIRONMENT_VARIABLE = "AGENTMAINT_STRATEGY"
# mitogen's host variable: `fork` runs each task in a child forked from the host's context
# (whose own calls run one at a time), so hosts sharing one context still run in parallel.
ISOLATION_VARIABLE = "mitogen_task_isolation"
#: `auto` uses Ansible's linear strategy for an all-fused job on fewer local hosts than this
#: even when its fused task runs as a module (no direct path); with the direct path, always.
FUSED_LINEAR_BELOW = 25

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Strategy:
    """The strategy plugin of a run, and where to find it (None: built into Ansible)."""

    name: str
    plugin_dir: Path | None = None
    note: str | None = None  # why `auto` chose what it chose
    auto: bool = False  # chosen by `auto`: `fit` may still choose otherwise for a job

    @property
    def mitogen(self) -> bool:
        """Whether the run goes through mitogen."""
        return self.plugin_dir is not None


@functools.cache
def mitogen_plugins() -> Path | str | None:
    """Mitogen's strategy plugin directory, or a string saying why it cannot be used.

    Mitogen is found without importing it: importing ``ansible_mitogen`` loads Ansible's
    plugin machinery into the controller, a quarter of a second at every start for a
    process that never runs a play itself. The ansible-core versions it accepts are read
    from its ``loaders`` module (the check it runs when Ansible loads the strategy).
    """
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None or not spec.submodule_search_locations:
        return "mitogen is not installed (ansible_mitogen)"
    if importlib.util.find_spec("mitogen") is None:
        return "mitogen is not installed (mitogen)"
    package = Path(next(iter(spec.submodule_search_locations))).resolve()
    directory = package / "plugins" / "strategy"
    if not (directory / "mitogen_linear.py").is_file():
        return f"mitogen is installed but has no strategy plugins in {directory}"
    problem = _unsupported_ansible(package / "loaders.py")
    return f"mitogen cannot be used with this Ansible: {problem}" if problem else directory


_LIMITS = ("ANSIBLE_VERSION_MIN", "ANSIBLE_VERSION_MAX")  # mitogen's names in its loaders.py


def _unsupported_ansible(loaders: Path) -> str | None:
    """Why this ansible-core is outside the range mitogen's `loaders` accepts, if it is."""
    version = _ansible_version()
    if version is None:
        return "ansible-core is not installed"
    installed = _version_tuple(version)
    limits: dict[str, tuple[int, ...]] = {}
    try:
        tree = ast.parse(loaders.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError) as exc:
        return f"cannot read {loaders}: {exc}"
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in _LIMITS:
                with contextlib.suppress(ValueError, TypeError):
                    limits[target.id] = tuple(ast.literal_eval(node.value))
    low, high = limits.get("ANSIBLE_VERSION_MIN"), limits.get("ANSIBLE_VERSION_MAX")
    shown = ".".join(map(str, installed))
    if low is not None and installed[: len(low)] < low:
        return f"ansible-core {shown} is older than {'.'.join(map(str, low))}"
    if high is not None and installed[: len(high)] > high:
        return f"ansible-core {shown} is newer than {'.'.join(map(str, high))}"
    return None


def _ansible_version() -> str | None:
    """ansible-core's version: its ``ansible/release.py``, else its distribution's metadata.

    Read from the file without importing Ansible or `importlib.metadata` (which with its
    search of every installed distribution costs 10-20 ms at the start of every run, before
    ansible-playbook can start); the metadata only when the file says nothing.
    """
    spec = importlib.util.find_spec("ansible")
    if spec is not None and spec.submodule_search_locations:
        release = Path(next(iter(spec.submodule_search_locations))) / "release.py"
        with contextlib.suppress(OSError, SyntaxError, ValueError):
            for node in ast.parse(release.read_text(encoding="utf-8")).body:
                if (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id == "__version__"
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                ):
                    return node.value.value
    from importlib import metadata  # noqa: PLC0415 -- only when release.py says nothing

    try:
        return metadata.version("ansible-core")
    except metadata.PackageNotFoundError:
        return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def resolve(setting: str = AUTO) -> Strategy:
    """The strategy for ``execution.strategy`` = `setting` (after the environment override).

    Raises `UsageError` when a mitogen strategy is required but mitogen cannot be used,
    or the name is unknown.
    """
    chosen = os.environ.get(ENVIRONMENT_VARIABLE) or setting
    if chosen not in STRATEGIES:
        raise UsageError(
            f"unknown strategy {chosen!r} (from {_source(setting)}); "
            f"choose one of {', '.join(STRATEGIES)}"
        )
    if chosen in {"linear", "free"}:
        return Strategy(chosen)
    found = mitogen_plugins()
    if chosen == AUTO:
        if isinstance(found, Path):
            return Strategy("mitogen_linear", found, "mitogen is installed", auto=True)
        return Strategy("linear", None, f"{found}: using Ansible's linear strategy", auto=True)
    if isinstance(found, Path):
        return Strategy(chosen, found)
    raise UsageError(
        f"strategy {chosen} (from {_source(setting)}) needs mitogen: {found}; "
        "it is a dependency of agentmaint: reinstall agentmaint, or pip install 'mitogen<0.4'"
    )


@dataclass(frozen=True, slots=True)
class Workload:
    """What `auto` weighs for one job: its hosts, how many over SSH, whether all are fused.

    `direct`: whether its fused tasks can take the direct path (pipelining on for its
    local hosts); see the role's ``agentmaint_fused`` action.
    """

    hosts: int
    fused: bool
    remote: int = 0  # hosts not reached with ``ansible_connection: local``
    direct: bool = True


def fit(strategy: Strategy, workload: Workload) -> Strategy:
    """`strategy` for a job of `workload`: `auto` takes linear for all-fused jobs, mostly.

    All-fused jobs go to Ansible's linear when their fused task takes the direct path, when
    a host is remote, or when they are small; mitogen keeps only all-fused jobs on
    `FUSED_LINEAR_BELOW` or more local hosts whose fused task runs as a module, and every
    job with a per-step play. Only a strategy `auto` chose changes (one named by
    ``execution.strategy`` or ``AGENTMAINT_STRATEGY`` is kept); the reason is logged at
    DEBUG and kept in the note.
    """
    if not strategy.auto:
        return strategy
    fused = "auto: every play is fused (one task per host)"
    if not strategy.mitogen:
        pass  # auto found no mitogen: linear already, with the reason in its note
    elif workload.fused and workload.remote:
        strategy = _linear(
            f"{fused} and {workload.remote} host(s) connect remotely: "
            "Ansible's linear is faster than mitogen's start-up per host"
        )
    elif workload.fused and workload.direct:
        strategy = _linear(
            f"{fused} and runs without AnsiballZ over the pipelined connection on "
            f"{workload.hosts} local host(s): Ansible's linear is faster than mitogen"
        )
    elif workload.fused and workload.hosts < FUSED_LINEAR_BELOW:
        strategy = _linear(
            f"{fused} on {workload.hosts} local host(s), fewer than {FUSED_LINEAR_BELOW}: "
            "Ansible's linear starts faster"
        )
    else:
        why = (
            "not every play is fused"
            if not workload.fused
            else f"{workload.hosts} local hosts run the fused task as a module (no pipelining)"
        )
        strategy = replace(strategy, note=f"auto: mitogen is installed ({why})")
    _LOG.debug("strategy %s: %s", strategy.name, strategy.note)
    return strategy


def _linear(note: str) -> Strategy:
    return Strategy("linear", None, note, auto=True)


def on_node(strategy: Strategy) -> Strategy:
    """The strategy a job uses on an execution node: Ansible's own of the same kind.

    Mitogen's plugins live in the controller's Python; the node runs its own Ansible.
    """
    if not strategy.mitogen:
        return strategy
    name = strategy.name.removeprefix("mitogen_")
    return Strategy(name, None, f"{strategy.name} on the controller only: {name} on nodes")


def _source(setting: str) -> str:
    if os.environ.get(ENVIRONMENT_VARIABLE):
        return f"${ENVIRONMENT_VARIABLE}"
    return "execution.strategy" if setting != AUTO else "the default"
