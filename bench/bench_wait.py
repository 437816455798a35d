"""Wait-bound benchmark: N local hosts whose update sleeps S seconds (issue 19, targets 3, 6).

Times, interleaved in one run (the order rotating each round): stock ``ansible-playbook``
(forks 5, Ansible's defaults) of a plain play with one ``shell: sleep S`` task per host, and
``agentmaint run --force`` of the same update in the variants asked for (``--variants``):

* ``agentmaint``: whatever the installed package does by default;
* ``forks=hosts``: ``execution.forks`` = the number of hosts;
* ``forks=50``: ``execution.forks: 50`` (the cap before 0.x: two waves above 50 hosts);
* ``background``: ``execution.background: true`` (``forks=50 background``: both);
* ``linear`` / ``linear forks=hosts`` / ``linear background``: the same under Ansible's
  ``linear`` strategy instead of mitogen;
* ``fused=false``: one task per step;
* ``mitogen``: ``execution.strategy: mitogen_linear`` (whatever `auto` would choose);
* ``baseline``: the default of the installation in ``--baseline-venv`` (the same schedule
  as ``agentmaint``, run by that installation's agentmaint and Ansible);
* ``pipelining=false``: ``execution.pipelining: false`` (the fused task then runs as a
  module, with AnsiballZ: no direct path), alone or with ``linear`` / ``mitogen``.

``--cycles N`` runs each agentmaint variant N times in a row in the same state directory,
each cycle shown apart (``agentmaint #2``): from the second on, the history holds the
earlier cycles (what ``execution.background: auto`` reads: a fleet's second maintenance).

The ideal is S seconds (one wave). Stock above ``--stock-max-hosts`` is not run: it takes at
least ceil(hosts / 5) waves of S seconds, printed as its lower bound. Every command's peak
memory is sampled from /proc every 0.5 s, for the controller (agentmaint, ansible-playbook
and its forks: workers, mitogen's mux) and for the whole tree (the processes standing in for
the local hosts too): the sum of PSS (``/proc/PID/smaps_rollup``: a shared page is split
between the processes sharing it: what the machine pays) and the sum of RSS (an upper
bound: a page shared by forked processes counts once per process).

``--venv DIR`` takes agentmaint, ansible-playbook and the stock hosts' Python from DIR/bin
(a user's installation) instead of this interpreter's. ``bench_fleet.py --wait-curve`` draws
this series (agentmaint's default, stock, the ideal) beside the controller-bound one.

    .venv/bin/python bench/bench_wait.py --hosts 60 --sleep 3 --repeat 1
    /tmp/venv/bin/python bench/bench_wait.py --hosts 200,500 --sleep 10 --no-stock \
        --variants agentmaint,forks=50,background
    .venv/bin/python bench/bench_wait.py --venv /tmp/venv --hosts 10,60 --sleep 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from proctree import children_map, memory

BIN = Path(sys.executable).parent
PAGE = os.sysconf("SC_PAGE_SIZE")
VARIANTS = (
    "agentmaint",
    "forks=hosts",
    "forks=50",
    "background",
    "waves",
    "forks=50 background",
    "linear",
    "linear forks=hosts",
    "linear background",
    "fused=false",
    "mitogen",
    "pipelining=false",
    "linear pipelining=false",
    "mitogen pipelining=false",
    "baseline",
)


def _execution(variant: str, hosts: int) -> dict[str, Any]:
    """The schedule's ``execution`` section of `variant`."""
    execution: dict[str, Any] = {}
    for word in variant.split():
        if word == "forks=hosts":
            execution["forks"] = hosts
        elif word.startswith("forks="):
            execution["forks"] = int(word.removeprefix("forks="))
        elif word == "background":
            execution["background"] = True
        elif word == "waves":  # the background mode off: waves of forks
            execution["background"] = False
        elif word == "linear":
            execution["strategy"] = "linear"
        elif word == "mitogen":
            execution["strategy"] = "mitogen_linear"
        elif word == "pipelining=false":
            execution["pipelining"] = False
        elif word == "fused=false":
            execution["fused"] = False
        elif word not in ("agentmaint", "baseline"):
            sys.exit(f"unknown variant word {word!r} in {variant!r}")
    return execution


def _schedule(directory: Path, hosts: int, sleep: float, *, execution: dict[str, Any]) -> Path:
    document = {
        "environments": {
            "fleet": {
                "hosts": {f"w{i}": {"ansible_connection": "local"} for i in range(hosts)},
                "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "24h"},
            }
        },
        "components": {"app": {"update_command": f"sleep {sleep:g}", "frequency": "daily"}},
        "execution": execution,
        "state_dir": str(directory / "state"),
    }
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def python_of(bin_dir: Path) -> Path:
    """The Python of the installation in `bin_dir` (this interpreter for its own)."""
    return Path(sys.executable) if bin_dir == BIN else bin_dir / "python"


def _stock(directory: Path, hosts: int, sleep: float, bin_dir: Path) -> list[str]:
    inventory = {
        "all": {
            "hosts": {
                f"w{i}": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": str(python_of(bin_dir)),
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
            "tasks": [{"name": "update", "ansible.builtin.shell": f"sleep {sleep:g}"}],
        }
    ]
    (directory / "play.yml").write_text(yaml.safe_dump(play))
    return [str(bin_dir / "ansible-playbook"), "-i", str(directory / "hosts.yml"), "play.yml"]


# -- memory -------------------------------------------------------------------------------------


def _controller(pid: int) -> bool:
    """Whether `pid` is agentmaint, ansible-playbook or one of its forks (workers, mux)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
    except OSError:
        return False
    return any(
        w.endswith((b"/ansible-playbook", b"/agentmaint", b"/ansible-runner")) for w in words[:3]
    )


def tree_memory(root: int) -> tuple[int, int, int, int]:
    """Bytes now, summed over `root`'s tree: (controller PSS, controller RSS, all PSS, all RSS).

    The controller is agentmaint, ansible-playbook and its forks (workers, mitogen's mux);
    the rest of the tree is what stands in for the hosts (mitogen's interpreters for the
    local hosts and their forks, module processes, the steps' commands): on real hosts that
    memory is theirs, not the controller's.
    """
    children = children_map()
    totals = [0, 0, 0, 0]
    stack = [(root, True)]
    while stack:
        pid, above = stack.pop()
        controller = above and (pid == root or _controller(pid))
        pss, rss = memory(pid)
        totals[2] += pss
        totals[3] += rss
        if controller:
            totals[0] += pss
            totals[1] += rss
        stack.extend((child, controller) for child in children.get(pid, ()))
    return totals[0], totals[1], totals[2], totals[3]


@dataclass(frozen=True)
class Sample:
    """One timed command."""

    seconds: float
    pss_mb: float  # peak of the controller's summed PSS (sampled)
    rss_mb: float  # peak of the controller's summed RSS (sampled)
    all_pss_mb: float  # peak of the whole tree's summed PSS (the local hosts' side too)
    all_rss_mb: float
    #: CPU seconds (user + system) of the command and every descendant it reaped: the
    #: controller and the local hosts' module processes, not the background daemons.
    cpu_s: float = 0.0


def _timed(command: list[str], cwd: Path, env: dict[str, str], interval: float = 0.5) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    peaks = [0, 0, 0, 0]
    while proc.poll() is None:
        peaks = [max(p, m) for p, m in zip(peaks, tree_memory(proc.pid), strict=True)]
        # Wait on the process, not a fixed sleep: the wall time ends when it ends (a sleep
        # of `interval` would round every time up to the sampling period).
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=interval)
    elapsed = time.monotonic() - start
    reader.join()
    if proc.returncode != 0:
        text = b"".join(output).decode(errors="replace")[-3000:]
        sys.exit(f"{command[0]} failed ({proc.returncode}):\n{text}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Sample(elapsed, *(p / 2**20 for p in peaks), cpu_s=cpu)


# -- the series ---------------------------------------------------------------------------------


def _environment(bin_dir: Path) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_FORKS", "ANSIBLE_STRATEGY", "AGENTMAINT_STRATEGY"):
        env.pop(name, None)
    env.pop("VIRTUAL_ENV", None)  # bin_dir's installation, whichever venv runs this script
    return env


def measure(
    hosts: int, args: argparse.Namespace, variants: list[str], bin_dir: Path = BIN
) -> dict[str, Any]:
    """Every variant (and stock, when asked) for `hosts`, interleaved; the row.

    `args` carries ``sleep``, ``repeat``, ``no_stock``, ``stock_max_hosts``, ``cycles``
    and ``baseline_venv`` (this script's options); agentmaint and ansible-playbook come
    from `bin_dir` (the ``baseline`` variant's from the baseline installation).
    """
    env = _environment(bin_dir)
    cycles = getattr(args, "cycles", 1)
    baseline = getattr(args, "baseline_venv", None)
    baseline_bin = baseline / "bin" if baseline else bin_dir
    stock_env = {**env, "ANSIBLE_FORKS": "5"}  # Ansible's default, said explicitly
    run_stock = not args.no_stock and hosts <= args.stock_max_hosts
    names = (["stock"] if run_stock else []) + variants

    def labels(name: str) -> list[str]:
        if name == "stock" or cycles == 1:
            return [name]
        return [f"{name} #{cycle + 1}" for cycle in range(cycles)]

    samples: dict[str, list[Sample]] = {label: [] for name in names for label in labels(name)}
    load_before = os.getloadavg()[0]  # a shared machine: the figures mean little above ~2
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="bench-wait-") as tmp:
        base = Path(tmp)
        for round_ in range(args.repeat):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                directory = base / f"{round_}-{name.replace(' ', '_').replace('=', '_')}"
                directory.mkdir()
                if name == "stock":
                    command = _stock(directory, hosts, args.sleep, bin_dir)
                    where, with_env = bin_dir, stock_env
                else:
                    execution = _execution(name, hosts)
                    path = _schedule(directory, hosts, args.sleep, execution=execution)
                    where = baseline_bin if name == "baseline" else bin_dir
                    with_env = _environment(where)
                    command = [str(where / "agentmaint"), "-q", "run", str(path), "--force"]
                for label in labels(name):
                    sample = _timed(command, directory, with_env)
                    samples[label].append(sample)
                    print(
                        f"{hosts} hosts, round {round_ + 1}, {label}: {sample.seconds:.2f} s, "
                        f"CPU {sample.cpu_s:.1f} s, load {os.getloadavg()[0]:.1f}, "
                        f"controller PSS {sample.pss_mb:.0f} MB, RSS {sample.rss_mb:.0f} MB; "
                        f"with the local hosts' side PSS {sample.all_pss_mb:.0f} MB, "
                        f"RSS {sample.all_rss_mb:.0f} MB",
                        flush=True,
                    )
    stock = statistics.median(s.seconds for s in samples["stock"]) if run_stock else None
    return {
        "hosts": hosts,
        "sleep": args.sleep,
        "started_utc": started,
        "load_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "stock_s": round(stock, 2) if stock is not None else None,
        "stock_at_least_s": None if run_stock else math.ceil(hosts / 5) * args.sleep,
        "median_s": {
            k: round(statistics.median(s.seconds for s in v), 2) for k, v in samples.items()
        },
        "samples_s": {k: [round(s.seconds, 2) for s in v] for k, v in samples.items()},
        "cpu_s": {k: [round(s.cpu_s, 1) for s in v] for k, v in samples.items()},
        "peak_pss_mb": {k: round(max(s.pss_mb for s in v)) for k, v in samples.items()},
        "peak_rss_mb": {k: round(max(s.rss_mb for s in v)) for k, v in samples.items()},
        "peak_all_pss_mb": {k: round(max(s.all_pss_mb for s in v)) for k, v in samples.items()},
        "peak_all_rss_mb": {k: round(max(s.all_rss_mb for s in v)) for k, v in samples.items()},
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as Markdown: one line per host count and variant."""
    lines = [
        "| hosts x sleep | command | median | vs stock | vs the ideal "
        "| controller peak PSS / RSS | with the local hosts' side PSS / RSS |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        for name, median in row["median_s"].items():
            if name == "stock":
                versus = "1x"
            elif row["stock_s"] is not None:
                versus = f"**{row['stock_s'] / median:.1f}x** faster"
            else:
                bound = row["stock_at_least_s"]
                versus = f">= {bound / median:.1f}x faster (stock >= {bound:g} s)"
            ideal = f"{median / row['sleep']:.2f}x" if row["sleep"] else "-"
            lines.append(
                f"| {row['hosts']} x {row['sleep']:g} s | {name} | {median:.2f} s | {versus} "
                f"| {ideal} "
                f"| {row['peak_pss_mb'][name]} / {row['peak_rss_mb'][name]} MB "
                f"| {row['peak_all_pss_mb'][name]} / {row['peak_all_rss_mb'][name]} MB |"
            )
    return "\n".join(lines)


def main() -> None:
    """Run the rounds and print one JSON line per host count, then a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="60", help="host counts, comma-separated")
    parser.add_argument("--sleep", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-stock", action="store_true", help="skip the (slow) stock run")
    parser.add_argument("--stock-max-hosts", type=int, default=100)
    parser.add_argument(
        "--venv", type=Path, help="agentmaint and ansible-playbook from VENV/bin (a user's install)"
    )
    parser.add_argument(
        "--variants",
        default="agentmaint,background,fused=false",
        help=f"comma-separated, of: {', '.join(VARIANTS)}",
    )
    parser.add_argument(
        "--cycles",
        type=int,
        default=1,
        help="runs of each agentmaint variant in a row in one state directory (its history)",
    )
    parser.add_argument(
        "--baseline-venv", type=Path, help="the installation of the 'baseline' variant"
    )
    args = parser.parse_args()
    if "baseline" in args.variants and args.baseline_venv is None:
        parser.error("the baseline variant needs --baseline-venv")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for variant in variants:
        _execution(variant, 1)  # an unknown word stops here, before anything runs
    rows = []
    for hosts in (int(h) for h in args.hosts.split(",") if h.strip()):
        rows.append(measure(hosts, args, variants, args.venv / "bin" if args.venv else BIN))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nload average {os.getloadavg()}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
