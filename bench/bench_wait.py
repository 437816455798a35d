"""Wait-bound benchmark: N local hosts whose update sleeps S seconds (issue 19, target 3).

Times, interleaved in one run: stock ``ansible-playbook`` (forks 5, Ansible's defaults) of a
plain play with one ``shell: sleep S`` task per host, and ``agentmaint run --force`` of the
same update: fused (the default: one task per host), fused in the background
(``execution.background: true``) and one task per step (``execution.fused: false``).
The ideal is S seconds (one wave).

    .venv/bin/python bench/bench_wait.py --hosts 60 --sleep 3 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent


def _schedule(directory: Path, hosts: int, sleep: float, *, execution: dict[str, bool]) -> Path:
    document = {
        "environments": {
            "fleet": {
                "hosts": {f"w{i}": {"ansible_connection": "local"} for i in range(hosts)},
                "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "24h"},
            }
        },
        "components": {"app": {"update_command": f"sleep {sleep}", "frequency": "daily"}},
        "execution": execution,
        "state_dir": str(directory / "state"),
    }
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _stock(directory: Path, hosts: int, sleep: float) -> list[str]:
    inventory = {
        "all": {
            "hosts": {
                f"w{i}": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                }
                for i in range(hosts)
            }
        }
    }
    (directory / "hosts.yml").write_text(yaml.safe_dump(inventory))
    play = [
        {
            "name": "stock",
            "hosts": "all",
            "gather_facts": False,
            "tasks": [{"name": "update", "ansible.builtin.shell": f"sleep {sleep}"}],
        }
    ]
    (directory / "play.yml").write_text(yaml.safe_dump(play))
    return [str(BIN / "ansible-playbook"), "-i", str(directory / "hosts.yml"), "play.yml"]


def _time(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(
            f"{command[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return elapsed


def main() -> None:
    """Run the rounds and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=60)
    parser.add_argument("--sleep", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-stock", action="store_true", help="skip the (slow) stock run")
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_FORKS", "ANSIBLE_STRATEGY"):
        env.pop(name, None)
    stock_env = {**env, "ANSIBLE_FORKS": "5"}  # Ansible's default, said explicitly
    variants: dict[str, dict[str, bool]] = {
        "agentmaint": {},
        "agentmaint background=true": {"background": True},
        "agentmaint fused=false": {"fused": False},
    }
    times: dict[str, list[float]] = {"stock": [], **{name: [] for name in variants}}
    with tempfile.TemporaryDirectory(prefix="bench-wait-") as tmp:
        base = Path(tmp)
        for round_ in range(args.repeat):
            for name, values in times.items():
                directory = base / f"{round_}-{name.replace(' ', '_').replace('=', '_')}"
                directory.mkdir()
                if name == "stock":
                    if args.no_stock:
                        continue
                    command = _stock(directory, args.hosts, args.sleep)
                else:
                    path = _schedule(directory, args.hosts, args.sleep, execution=variants[name])
                    command = [str(BIN / "agentmaint"), "-q", "run", str(path), "--force"]
                values.append(_time(command, directory, stock_env if name == "stock" else env))
                print(f"round {round_ + 1} {name}: {values[-1]:.2f} s", flush=True)
    ideal = args.sleep
    stock = statistics.median(times["stock"]) if times["stock"] else None
    for name, values in times.items():
        if not values:
            continue
        median = statistics.median(values)
        versus = f", {stock / median:.2f}x stock" if stock else ""
        print(
            f"{name}: median {median:.2f} s ({median / ideal:.2f}x the ideal {ideal:g} s{versus})"
        )


if __name__ == "__main__":
    main()
