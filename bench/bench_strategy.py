"""Small fleets: mitogen against Ansible's linear strategy (issue 19, target 1).

Times ``agentmaint run --force`` of the same schedule with ``AGENTMAINT_STRATEGY`` =
``mitogen_linear`` and = ``linear``, interleaved (order rotating each round), for each host
count and two kinds of work:

* fused: one command component with a backup command and a health check: the fused path,
  one task per host (``agentmaint_fused``);
* model: bench_fleet's ``model`` mix: the bundled backup (paths) and model roles and a
  health check, a dozen tasks per host.

and, for the fused work, a plain ``ansible-playbook`` of the same three shell steps with
Ansible's defaults (forks 5, no pipelining) as the reference of target 1. Hosts are local
(``ansible_connection: local``, the venv's Python) or namespaced sshd hosts
(``--connection ssh``: tests.hosts.netns, root; started once, the first N used). agentmaint
and ansible-playbook come from ``--bin`` (a user's venv, e.g. bench_install.py's ``--venv``);
the state directory is removed before each run, so every run is a first run as after install.

Usage (from the repository root, with the dev venv for PyYAML):
  .venv/bin/python bench/bench_strategy.py --bin /tmp/am-venv/bin --hosts 1,2,3,5,8,10 \
      --connection local --repeat 3
Prints one JSON line per (hosts, work) and a Markdown table: medians and the per-round
ratio linear / mitogen (> 1: mitogen faster).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_fleet import MODEL_WORK, document, model_document  # noqa: E402
from bench_install import clean_env  # noqa: E402

# Where the fused work writes: this process's own directory (two benchmarks at once must not
# remove each other's files); the model mix writes under bench_fleet's MODEL_WORK.
SHELL_WORK = f"/tmp/agentmaint-bench-strategy-{os.getpid()}"

STRATEGIES = ("mitogen_linear", "linear")


@contextlib.contextmanager
def fleet(connection: str, count: int, python: Path) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """(inventory variables by host, the sshd TestHosts or [])."""
    if connection == "local":
        yield (
            {
                f"h{i:03d}": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": str(python),
                }
                for i in range(count)
            },
            [],
        )
        return
    from tests.hosts.netns import sshd_hosts

    with sshd_hosts(count, prefix="bstr") as hosts:
        # a loaded machine: more than the default 10 s to connect, for either strategy
        yield {h.name: {**h.ansible_vars(), "ansible_timeout": 30} for h in hosts}, hosts


def plain(directory: Path, hosts: dict[str, Any]) -> Path:
    """The fused work's three steps as a plain playbook (stock Ansible), beside an inventory."""
    body = document(hosts, work=SHELL_WORK)
    component = body["components"]["app"]
    steps = {
        "backup": body["backup"]["backup_command"],
        "update": component["update_command"],
        "healthcheck": component["healthcheck"]["command"],
    }
    (directory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    tasks = [{"name": n, "ansible.builtin.shell": c} for n, c in steps.items()]
    play = {
        "hosts": "all",
        "gather_facts": False,
        "environment": {"AGENTMAINT_HOST": "{{ inventory_hostname }}"},
        "tasks": tasks,
    }
    (directory / "stock.cfg").write_text("[defaults]\nforks = 5\n")
    path = directory / "plain.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def clean(ssh: list[Any]) -> None:
    """Remove what the last run left on the hosts (local ones: only with local hosts)."""
    if not ssh:
        shutil.rmtree(SHELL_WORK, ignore_errors=True)
        shutil.rmtree(MODEL_WORK, ignore_errors=True)
    for host in ssh:
        host.ssh(f"rm -rf {SHELL_WORK} {MODEL_WORK}")


def timed(argv: list[str], env: dict[str, str], label: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label} failed (rc {done.returncode}):\n{done.stdout[-3000:]}")
    return seconds


def measure(  # noqa: PLR0917 - a bench helper
    bin_dir: Path, hosts: dict[str, Any], ssh: list[Any], work: str, repeat: int, label: str
) -> dict[str, Any]:
    env = clean_env(bin_dir)
    with tempfile.TemporaryDirectory(prefix="bench-strategy-") as tmp:
        directory = Path(tmp)
        body = (
            document(hosts, work=SHELL_WORK)
            if work == "fused"
            else model_document(hosts, directory)
        )
        path = directory / "schedule.yaml"
        path.write_text(yaml.safe_dump(body))
        run = [str(bin_dir / "agentmaint"), "run", str(path), "--force", "--json"]
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            s: (run, {**env, "AGENTMAINT_STRATEGY": s}) for s in STRATEGIES
        }
        if work == "fused":
            playbook = plain(directory, hosts)
            commands["stock"] = (
                [
                    str(bin_dir / "ansible-playbook"),
                    "-i",
                    str(directory / "hosts.yml"),
                    str(playbook),
                ],
                {**env, "ANSIBLE_CONFIG": str(directory / "stock.cfg")},
            )
        clean(ssh)
        timed(*commands["mitogen_linear"], label="warm-up")
        samples: dict[str, list[float]] = {}
        names = list(commands)
        for round_ in range(repeat):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                clean(ssh)
                shutil.rmtree(directory / ".agentmaint", ignore_errors=True)
                samples.setdefault(name, []).append(timed(*commands[name], label=name))
    ratio = [
        round(lin / mit, 2)
        for lin, mit in zip(samples["linear"], samples["mitogen_linear"], strict=True)
    ]
    row = {
        "label": label,
        "hosts": len(hosts),
        "work": work,
        "median_s": {k: round(statistics.median(v), 2) for k, v in samples.items()},
        "samples_s": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "linear/mitogen": ratio,
        "linear/mitogen_median": round(statistics.median(ratio), 2),
        "load": os.getloadavg()[0],
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bin", type=Path, required=True, help="the user venv's bin directory")
    parser.add_argument("--hosts", default="1,2,3,5,8,10")
    parser.add_argument("--work", default="fused,model")
    parser.add_argument("--connection", choices=("local", "ssh"), default="local")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counts = [int(x) for x in args.hosts.split(",")]
    rows = []
    with fleet(args.connection, max(counts), args.bin / "python") as (everything, ssh):
        for count in counts:
            names = list(everything)[:count]
            hosts = {n: everything[n] for n in names}
            chosen = [h for h in ssh if h.name in names]
            for work in args.work.split(","):
                label = f"{count} {args.connection}, {work}"
                rows.append(measure(args.bin, hosts, chosen, work, args.repeat, label))
    print()
    print(
        "| hosts | work | stock ansible-playbook | mitogen_linear | linear "
        "| linear / mitogen (per round) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        m = r["median_s"]
        stock = f"{m['stock']:.2f} s" if "stock" in m else "-"
        per = ", ".join(f"{x:.2f}" for x in r["linear/mitogen"])
        print(
            f"| {r['label']} | {r['work']} | {stock} | {m['mitogen_linear']:.2f} s "
            f"| {m['linear']:.2f} s | **{r['linear/mitogen_median']:.2f}** ({per}) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
