"""How many forks a run gets when the schedule does not say (``execution.forks``).

Ansible forks one worker process per host and task it runs at once, so forks bound both
the concurrency and the controller's memory. A run whose plays are all fused (one task
per host, `agentmaint.ansible.render.can_fuse`) mostly waits on its hosts (updates that
take seconds to minutes): there more forks are what keeps a wave from becoming several, so
its cap is higher than for per-step plays, whose tasks are short and controller-bound
(more forks there only add processes on a 2-core controller). Each fork costs the
controller about 16 MB (PSS, measured with `bench/bench_wait.py`, BENCHMARKS.md: 500 hosts,
1.3 GB at 50 forks, 2.1 GB at 100): 80 keeps a large wait-bound run under 2 GiB.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import can_fuse
from agentmaint.config.schedule import Schedule

__all__ = ["MAX_DEFAULT_FORKS", "MAX_FUSED_FORKS", "all_fused", "default_forks"]

#: The default cap on forks of a run with any per-step (unfused) play.
MAX_DEFAULT_FORKS = 50
#: The default cap on forks of a run whose plays are all fused (wait-bound).
MAX_FUSED_FORKS = 80


def default_forks(schedule: Schedule, targets: Iterable[Target]) -> int:
    """The forks of a run of `targets`: ``execution.forks`` when set, else sized to the hosts.

    Without ``execution.forks``: one per host, at most `MAX_FUSED_FORKS` when every
    target's play is fused (``execution.fused``, the default, and a fusable component),
    else at most `MAX_DEFAULT_FORKS`; at least 1. ``rollout.serial`` is not needed here:
    Ansible never runs more hosts at once than a batch holds, whatever the forks.
    """
    given = tuple(targets)
    if schedule.execution.forks:
        return schedule.execution.forks
    hosts = len({h for t in given for h in t.hosts})
    cap = MAX_FUSED_FORKS if all_fused(schedule, given) else MAX_DEFAULT_FORKS
    return max(1, min(cap, hosts))


def all_fused(schedule: Schedule, targets: Iterable[Target]) -> bool:
    """Whether every play of `targets` is fused (one task per host; see `playbook`)."""
    given = tuple(targets)
    return (
        bool(given)
        and schedule.execution.fused
        and all(can_fuse(schedule, schedule.components[t.component]) for t in given)
    )
