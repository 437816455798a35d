"""Cross-field checks: what no single section can see on its own.

A host belongs to one environment, ``promote_from`` names another environment
and forms no cycle, and ``execution_node`` names a declared node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentmaint.config.parse.base import Path_, _BuilderBase
from agentmaint.config.schedule import LOCAL_NODE, Environment, Execution


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
