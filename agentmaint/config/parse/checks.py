"""Cross-field checks: what no single section can see on its own.

A host belongs to one environment, ``promote_from`` names another environment
and forms no cycle, and ``execution_node`` names a declared node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentmaint.config.parse.base import Path_, _BuilderBase
from agentmaint.config.schedule import LOCAL_NODE, Environment, Execution

#: Groups every Ansible inventory has; agentmaint renders one more per environment.
RESERVED_GROUPS = ("all", "ungrouped")


class _Checks(_BuilderBase):
    """Checks across sections and entries, reporting each problem once."""

    def check_hosts_unique(self, environments: Mapping[str, Environment]) -> None:
        owner: dict[str, str] = {}
        for env in environments.values():
            for host in env.host_names:
                if host in owner:
                    self.fail(
                        ["environments", env.name],
                        f"host {host!r} is also in environment {owner[host]!r}; a host "
                        "belongs to one environment",
                    )
                else:
                    owner[host] = env.name

    def check_name_clashes(
        self, environments: Mapping[str, Environment], raw_envs: Mapping[str, Any]
    ) -> None:
        """No host is named like a group of the rendered inventory.

        Ansible keeps hosts and groups in one namespace: a host named like a group
        (``all``, ``ungrouped``, or any environment, since each environment is a group)
        loses its variables and its place in plays without a word.
        """
        groups = set(RESERVED_GROUPS) | set(environments)
        for name in environments:
            if name in RESERVED_GROUPS:
                self.fail(
                    ["environments", name],
                    f"environment name {name!r} clashes with the Ansible group every inventory "
                    "has: rename the environment",
                )
        for env in environments.values():
            for host in env.host_names:
                if host not in groups:
                    continue
                raw = raw_envs.get(env.name)
                servers = raw.get("servers") if isinstance(raw, dict) else None
                where: Path_ = ["environments", env.name, "hosts", host]
                if isinstance(servers, list) and host in servers:
                    where = ["environments", env.name, "servers", servers.index(host)]
                what = (
                    f"an Ansible group agentmaint always renders ({host!r})"
                    if host in RESERVED_GROUPS
                    else f"environment {host!r} (every environment is an inventory group)"
                )
                self.fail(
                    where,
                    f"host name {host!r} clashes with {what}: Ansible would give the host no "
                    "variables; rename the host (ansible_host can keep its address)",
                )

    def check_promotions(self, raw_envs: dict[str, Any]) -> None:
        edges: dict[str, str] = {}
        for name, raw in raw_envs.items():
            promote = raw.get("promote_from") if isinstance(raw, dict) else None
            target = promote.get("environment") if isinstance(promote, dict) else None
            if not isinstance(target, str):
                continue
            where: Path_ = ["environments", name, "promote_from", "environment"]
            if target not in raw_envs:
                self.fail(
                    where,
                    f"names no environment: {target!r} is not defined "
                    f"(defined: {', '.join(sorted(raw_envs))})",
                )
            elif target == name:
                self.fail(where, "an environment cannot promote from itself")
            else:
                edges[name] = target
        reported: set[str] = set()
        for start in edges:
            chain = [start]
            while chain[-1] in edges and edges[chain[-1]] not in chain:
                chain.append(edges[chain[-1]])
            if chain[-1] in edges and edges[chain[-1]] in chain:
                cycle = chain[chain.index(edges[chain[-1]]) :]
                key = "->".join(sorted(cycle))
                if key not in reported:
                    reported.add(key)
                    loop = " -> ".join([*cycle, cycle[0]])
                    self.fail(
                        ["environments", cycle[0], "promote_from", "environment"],
                        f"promotion cycle: {loop}",
                    )

    def check_placement(
        self, environments: Mapping[str, Environment], execution: Execution
    ) -> None:
        """Every `execution_node` names a declared node (or ``local``)."""
        names = list(dict.fromkeys(n.name for n in execution.nodes))
        for env in environments.values():
            node = env.execution_node
            if not node or node == LOCAL_NODE or node in names:  # "" is the schema's to report
                continue
            known = ", ".join([*names, LOCAL_NODE])
            self.fail(
                ["environments", env.name, "execution_node"],
                f"{node!r} is not an execution node (known: {known})",
            )
