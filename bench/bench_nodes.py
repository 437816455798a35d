"""Run time of the same fleet through 1 and 2 execution nodes (issue 8).

Starts 2 execution nodes and N target hosts as namespaced sshd hosts (root; see
tests/hosts/netns.py: the nodes have ansible-runner installed in their own Python), then
times, interleaved in the same run (these machines are noisy), `agentmaint run --force`
of one maintenance (backup, update, health check: three tasks per host, as in
bench_fleet.py) of all N targets:

* 1 node:     execution.nodes = [n1]: one streamed job with every host;
* 2 nodes:    execution.nodes = [n1, n2]: two slices of N/2 hosts, streamed at once;
* controller: no nodes: the controller runs the job itself (for reference).

Ratio: 1 node / 2 nodes. All hosts, nodes and the controller share this machine's CPU
cores, so a CPU-bound maintenance cannot go faster through two nodes here (they would be
two machines in real life). `--sleep S` makes each update wait S seconds (like a package
download: bound by waiting, not CPU) and `--forks N` caps each job's parallel hosts (a
node's capacity), which is where a second node pays off even on one machine.

Usage (from the repository root, as root):
  .venv/bin/python bench/bench_nodes.py --hosts 40 --repeat 3
  .venv/bin/python bench/bench_nodes.py --hosts 40 --repeat 3 --forks 10 --sleep 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

# The same maintenance and environment (bench/ is this script's directory).
from bench_fleet import bench_env, document

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def schedule(
    directory: Path, targets: list[Any], nodes: list[Any], *, forks: int | None, sleep: float
) -> Path:
    """bench_fleet's maintenance of `targets`, through `nodes` (none: the controller)."""
    hosts = {t.name: dict(t.ansible_vars()) for t in targets}
    doc = document(hosts, work="/var/tmp/agentmaint-bench", wait=sleep)
    doc["execution"] = {
        "nodes": [node.execution_node(f"n{i}") for i, node in enumerate(nodes, 1)],
        **({"forks": forks} if forks else {}),
    }
    directory.mkdir(parents=True)
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(path: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "agentmaint"), "run", str(path), "--force", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"agentmaint run {path} failed (rc {done.returncode}):\n{done.stdout}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=40, help="target hosts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forks", type=int, help="cap each job's parallel hosts")
    parser.add_argument("--sleep", type=float, default=0, help="seconds each update waits")
    args = parser.parse_args()
    options = {"forks": args.forks, "sleep": args.sleep}
    from tests.hosts.netns import sshd_hosts, stop_ssh_clients

    env = bench_env()
    samples: dict[str, list[float]] = {"1 node": [], "2 nodes": [], "controller": []}
    with (
        sshd_hosts(2 + args.hosts, nodes=2, prefix="bnode") as hosts,
        tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp,
    ):
        nodes, targets = hosts[:2], hosts[2:]
        paths = {
            "1 node": schedule(Path(tmp) / "one", targets, nodes[:1], **options),
            "2 nodes": schedule(Path(tmp) / "two", targets, nodes, **options),
            "controller": schedule(Path(tmp) / "controller", targets, [], **options),
        }
        try:
            for path in paths.values():
                run(path, env)  # warm-up, not timed
            for _ in range(args.repeat):
                for label, path in paths.items():
                    samples[label].append(run(path, env))
        finally:
            stop_ssh_clients(h.address for h in hosts)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    result = {
        "hosts": args.hosts,
        "forks": args.forks,
        "sleep_s": args.sleep,
        "median_s": {k: round(v, 2) for k, v in medians.items()},
        "samples_s": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "ratio_1_node_over_2_nodes": round(medians["1 node"] / medians["2 nodes"], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result), flush=True)
    print()
    print("| targets | forks | update waits | 1 node | 2 nodes | controller | 1 node / 2 nodes |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    m = result["median_s"]
    print(
        f"| {args.hosts} | {args.forks or 'default'} | {args.sleep} s | {m['1 node']} s "
        f"| {m['2 nodes']} s | {m['controller']} s "
        f"| {result['ratio_1_node_over_2_nodes']}x |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
