"""Splitting a run into slices, one per execution node (like AWX's job slicing).

The controller's own hosts may be dealt over ``execution.local_slices`` local slices,
several ansible-playbook processes at once (default 1; auto: one per core, at most one
per 10 hosts, and an environment with ``max_fail_percentage`` or ``max_failures``
stays in one local slice). With nodes:

* an environment pinned with ``execution_node: <node>`` runs all of its hosts on that
  node (``execution_node: local`` keeps it on the controller);
* the hosts of any other environment are dealt round-robin over the nodes, by their
  position in the environment (so a host goes to the same node for every component,
  run after run, and never to two nodes at once);
* each node gets one slice (one streamed job) holding every play it has hosts for.

Rolling batches keep their meaning across slices: a count ``serial: N`` is the most
hosts of the environment updated at once over the whole fleet, so the environment is
dealt over ``k = min(N, nodes)`` nodes and each slice's play gets ``serial: N // k``
(together never more than N at a time). A percentage applies to each slice's share
(the same percentage of the whole). ``max_fail_percentage`` applies to the batches
of each slice: a slice whose batch fails too much stops its own rollout (and, like
Ansible itself, the rest of its job), while the other slices go on. ``max_failures``
(the error budget, `agentmaint.ansible.budget`) is computed over all slices and every
slice's plays carry it whole: the controller stops every slice once the environment's
failures in all of them together exceed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentmaint.ansible.budget import with_budgets
from agentmaint.ansible.naming import Target
from agentmaint.config.schedule import LOCAL_NODE, Environment, ExecutionNode, Schedule

#: The directory of a run (``runs/<id>/``) that holds its slices' job directories.
SLICES_DIR = "slices"


@dataclass(frozen=True, slots=True)
class Slice:
    """One streamed job of a run: its node (None: the controller) and its plays."""

    index: int  # 1-based, in node order (the controller's slice last)
    node: ExecutionNode | None
    targets: tuple[Target, ...]

    @property
    def name(self) -> str:
        """The node's name, or ``local`` for the controller."""
        return self.node.name if self.node is not None else LOCAL_NODE

    @property
    def directory(self) -> str:
        """The slice's job directory name under the run's `SLICES_DIR`: ``<n>-<node>``."""
        return f"{self.index}-{self.name}"

    @property
    def hosts(self) -> tuple[str, ...]:
        """The slice's hosts, each once, in play order."""
        return tuple(dict.fromkeys(h for t in self.targets for h in t.hosts))


def slice_targets(
    schedule: Schedule, targets: Sequence[Target], *, cpus: int = 1
) -> tuple[Slice, ...]:
    """The slices of a run's targets (see the module's documentation); empty ones dropped.

    The hosts the controller runs itself are dealt, the same way, over
    ``execution.local_slices`` local slices (auto: one per CPU of `cpus`, at most one
    per `HOSTS_PER_LOCAL_SLICE` hosts).
    """
    if not targets:
        return ()
    # Before dealing: a percentage budget is of the environment's due hosts in all slices.
    targets = with_budgets(schedule, targets)
    nodes = [n.name for n in schedule.execution.nodes]
    local = _local_names(schedule, targets, nodes, cpus)
    auto = schedule.execution.local_slices is None
    plays: dict[str, list[Target]] = {name: [] for name in [*nodes, *local]}
    for target in targets:
        env = schedule.environments[target.environment]
        if env.execution_node is not None and env.execution_node != LOCAL_NODE:
            pool = [env.execution_node]
        elif env.execution_node == LOCAL_NODE or not nodes:
            pool = local
            stoppable = (env.rollout.max_fail_percentage, env.rollout.max_failures)
            if auto and any(limit is not None for limit in stoppable):
                pool = local[:1]  # auto never splits a rollout that must stop as a whole
        else:
            pool = nodes
        for name, part in _deal(env, target, pool):
            plays[name].append(part)
    by_name = {n.name: n for n in schedule.execution.nodes}
    slices: list[Slice] = []
    for name, parts in plays.items():
        if parts:
            slices.append(Slice(len(slices) + 1, by_name.get(name), tuple(parts)))
    return tuple(slices)


#: ``local_slices: auto`` gives a local slice at most this many hosts or more each.
HOSTS_PER_LOCAL_SLICE = 10


def _local_names(
    schedule: Schedule, targets: Sequence[Target], nodes: list[str], cpus: int
) -> list[str]:
    """Names of the local slices (internal: every local slice is called ``local``)."""
    count = schedule.execution.local_slices
    if count is None:
        local_hosts = {
            h
            for t in targets
            for h in t.hosts
            if schedule.environments[t.environment].execution_node == LOCAL_NODE or not nodes
        }
        count = max(1, min(cpus, len(local_hosts) // HOSTS_PER_LOCAL_SLICE))
    return [f"{LOCAL_NODE}\0{i}" for i in range(max(1, count))]


def _deal(env: Environment, target: Target, nodes: list[str]) -> list[tuple[str, Target]]:
    """(slice, part of the target) pairs: the target's hosts dealt round-robin over `nodes`."""
    serial = target.serial if target.serial is not None else env.rollout.serial
    count = len(nodes)
    if isinstance(serial, int):
        count = max(1, min(count, serial))
        serial = serial // count
    position = {host: i for i, host in enumerate(env.host_names)}
    shares: dict[str, list[str]] = {}
    for host in target.hosts:
        node = nodes[position.get(host, 0) % count]
        shares.setdefault(node, []).append(host)
    return [
        (node, Target(target.environment, target.component, tuple(hosts), serial, target.budget))
        for node, hosts in shares.items()
    ]
