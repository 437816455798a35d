"""Load benchmark: reading and validating a schedule of 10,000 hosts.

Writes a schedule of 10 environments x 1,000 hosts (block-style YAML, each host with
``ansible_host`` and ``ansible_user``: about 50,000 values and 30,000 lines) and times,
as medians of 5 runs of the process's CPU time (the machine is shared: wall time there
measures the neighbours):

* the baseline: ``yaml.load`` with PyYAML's pure-Python ``SafeLoader``;
* `agentmaint.config.loader.load_file`: the safe loader, its checks and the path -> line
  map of the document;
* `agentmaint.config.parse.load_schedule`: all of the above, the JSON Schema and the
  semantic checks.

Run: ``.venv/bin/python bench/bench_load.py [--hosts N]``. Prints one line per figure;
asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentmaint.config.loader import load_file
from agentmaint.config.parse import load_schedule

ENVIRONMENTS = 10
REPEATS = 5


def schedule_text(hosts: int) -> str:
    """A valid schedule of `hosts` hosts spread over `ENVIRONMENTS` environments."""
    lines = ["timezone: Europe/Berlin", "environments:"]
    per_env = hosts // ENVIRONMENTS
    for env in range(ENVIRONMENTS):
        lines += [f"  env{env}:", "    hosts:"]
        for i in range(per_env):
            index = env * per_env + i
            lines += [
                f"      host-{index:05d}:",
                f"        ansible_host: 10.{index // 65536}.{index // 256 % 256}.{index % 256}",
                "        ansible_user: deploy",
            ]
        lines += [
            "    update_schedule:",
            "      day_of_week: daily",
            '      time: "01:00"',
            "      duration: 2h",
        ]
    lines += [
        "components:",
        "  os:",
        "    update_command: apt-get upgrade -y",
        "    frequency: weekly",
    ]
    return "\n".join(lines) + "\n"


def median_seconds(work: Callable[[], Any]) -> float:
    """The median CPU time of `REPEATS` calls of `work`."""
    times = []
    for _ in range(REPEATS):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    """Write the schedule, time each figure, print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000, help="hosts in the schedule")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "schedule.yaml"
        text = schedule_text(args.hosts)
        path.write_text(text)
        print(f"{args.hosts} hosts, {text.count(chr(10))} lines, {len(text) // 1024} KiB")
        baseline = median_seconds(lambda: yaml.load(path.read_text(), Loader=yaml.SafeLoader))
        print(f"yaml.load (SafeLoader)  {baseline:7.3f} s  1.00x")
        for name, work in (
            ("load_file", lambda: load_file(path)),
            ("load_schedule", lambda: load_schedule(path, resolve_secrets=False)),
        ):
            seconds = median_seconds(work)
            print(f"{name:<23} {seconds:7.3f} s  {seconds / baseline:.2f}x")


if __name__ == "__main__":
    main()
