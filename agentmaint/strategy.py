"""Which Ansible strategy a run uses: mitogen's when it is installed, else Ansible's own.

Mitogen (``pip install 'agentmaint[fast]'``) replaces Ansible's per-task module
shipping with long-lived interpreters on each host, which makes fleet runs several
times faster. ``execution.strategy: auto`` (the default) uses ``mitogen_linear``
when mitogen is importable and works with this ansible-core, and falls back to
Ansible's ``linear`` otherwise; ``linear``/``free`` turn it off; ``mitogen_linear``/
``mitogen_free`` require it. The environment variable ``AGENTMAINT_STRATEGY``
overrides the schedule (e.g. ``AGENTMAINT_STRATEGY=linear`` to rule mitogen out
while investigating a problem).
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from agentmaint.errors import UsageError

AUTO = "auto"
STRATEGIES = (AUTO, "linear", "free", "mitogen_linear", "mitogen_free")
ENVIRONMENT_VARIABLE = "AGENTMAINT_STRATEGY"


@dataclass(frozen=True, slots=True)
class Strategy:
    """The strategy plugin of a run, and where to find it (None: built into Ansible)."""

    name: str
    plugin_dir: Path | None = None
    note: str | None = None  # why `auto` chose what it chose

    @property
    def mitogen(self) -> bool:
        """Whether the run goes through mitogen."""
        return self.plugin_dir is not None


@functools.cache
def mitogen_plugins() -> Path | str | None:
    """Mitogen's strategy plugin directory, or a string saying why it cannot be used."""
    try:
        # Importing the loaders runs mitogen's own ansible-core version check.
        loaders = importlib.import_module("ansible_mitogen.loaders")
    except ImportError as exc:
        return f"mitogen is not installed ({exc.name or exc})"
    except Exception as exc:
        return f"mitogen cannot be used with this Ansible: {exc}"
    directory = Path(loaders.__file__ or ".").resolve().parent / "plugins" / "strategy"
    if not (directory / "mitogen_linear.py").is_file():
        return f"mitogen is installed but has no strategy plugins in {directory}"
    return directory


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
            return Strategy("mitogen_linear", found, "mitogen is installed")
        return Strategy("linear", None, f"{found}: using Ansible's linear strategy")
    if isinstance(found, Path):
        return Strategy(chosen, found)
    raise UsageError(
        f"strategy {chosen} (from {_source(setting)}) needs mitogen: {found}; "
        "install it with: pip install 'agentmaint[fast]'"
    )


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
