"""The ``execution`` section: timeouts, forks, strategy, slices and execution nodes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentmaint.config.parse.base import Path_, _BuilderBase, _ini_value
from agentmaint.config.schedule import Execution, ExecutionNode


class _Execution(_BuilderBase):
    """Builds the execution settings and the execution nodes."""

    def execution(self, raw: Any, base_dir: Path) -> Execution:
        if not isinstance(raw, dict):
            return Execution()
        timeout = raw.get("timeout")
        forks = raw.get("forks")
        nodes = raw.get("nodes") if isinstance(raw.get("nodes"), list) else []
        assert isinstance(nodes, list)
        parsed = [
            self.execution_node(item, ["execution", "nodes", index], base_dir)
            for index, item in enumerate(nodes)
        ]
        seen: set[str] = set()
        for index, node in enumerate(parsed):
            if node is not None and node.name in seen:
                self.fail(["execution", "nodes", index, "name"], f"{node.name!r} is used twice")
            seen.add(node.name if node is not None else "")
        if raw.get("background") is True and raw.get("fused") is False:
            # A setting that would silently do nothing: only fused plays run in the background.
            self.fail(
                ["execution", "background"],
                "runs fused plays in the background, and execution.fused is false: "
                "remove one of the two",
            )
        return Execution(
            timeout=self.duration(
                timeout,
                ["execution", "timeout"],
                timedelta(0),
                hint="omit it to stop a run when its window closes",
            )
            or None,
            forks=forks if isinstance(forks, int) else None,
            pipelining=bool(raw.get("pipelining", True)),
            fused=bool(raw.get("fused", True)),
            background=background
            if isinstance(background := raw.get("background"), bool)
            else None,
            strategy=strategy if isinstance(strategy := raw.get("strategy"), str) else "auto",
            nodes=tuple(n for n in parsed if n is not None),
            local_slices=None if (slices := raw.get("local_slices", 1)) == "auto" else slices,
            overlap=str(raw.get("overlap", "skip")),
        )

    def execution_node(self, raw: Any, path: Path_, base_dir: Path) -> ExecutionNode | None:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            return None
        url = raw.get("url")
        if not isinstance(url, str):
            return None
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
            self.fail([*path, "url"], f"{url!r} has an invalid port")
        if port is not None and not 0 < port < 65536:
            self.fail([*path, "url"], f"{url!r} has an invalid port")
        if parts.scheme != "ssh" or not parts.hostname:
            return None  # the schema's pattern already said why
        key = raw.get("key")
        options = raw.get("ssh_options") if isinstance(raw.get("ssh_options"), dict) else {}
        assert isinstance(options, dict)
        return ExecutionNode(
            name=raw["name"],
            host=parts.hostname,
            user=parts.username or None,
            port=port,
            key=(base_dir / Path(key).expanduser()) if isinstance(key, str) else None,
            ansible_runner=str(raw.get("ansible_runner") or "ansible-runner"),
            ssh_options={str(k): _ini_value(v) for k, v in options.items()},
            work_dir=str(raw.get("work_dir") or "/tmp"),
        )
