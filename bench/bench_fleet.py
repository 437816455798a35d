"""Fleet speed, controller overhead and the scaling curve (issue 7, targets 1, 2 and 5).

One maintenance of N hosts: a component with a backup, an update and a health check, i.e.
three `shell` tasks per host (the schedule's commands). Every
measurement renders the plays once with `agentmaint render --force` and then times, in
the same run and interleaved (these machines are noisy):

* stock:      plain `ansible-playbook` of the rendered inventory and playbook with
              Ansible's defaults: forks 5, linear strategy, no pipelining (only
              `roles_path` is set, so the bundled roles are found);
* tuned:      plain `ansible-playbook` of the same files with agentmaint's rendered
              ansible.cfg (forks sized to the fleet, pipelining, ControlPersist, and the
              mitogen strategy, a regular dependency), one process;
* replay:     plain `ansible-playbook` of exactly what `agentmaint run` ran: the job
              directories of one of its runs (one per slice when the run is sliced over
              several ansible-playbook processes, see execution.local_slices), all started
              at once, each with its own inventory, playbook and ansible.cfg;
* agentmaint: `agentmaint run --force` of the same schedule (plans, renders, runs
              through ansible-runner, parses every event, stores the history).

Ratios: fleet speed = stock / agentmaint (target >= 4 local, >= 3 over SSH); controller
overhead = agentmaint / replay (the identical rendered files and settings; target <= 1.10).

Usage (from the repository root):
  .venv/bin/python bench/bench_fleet.py --hosts 50 --connection local --repeat 3
  .venv/bin/python bench/bench_fleet.py --hosts 50 --mix model --repeat 3       # roles' mix
  .venv/bin/python bench/bench_fleet.py --hosts 50 --connection ssh --repeat 3   # root: sshd hosts
  .venv/bin/python bench/bench_fleet.py --curve 10,50,100,200 --png bench/scaling.png
Prints one JSON line per measurement and a summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
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
BIN = Path(sys.executable).parent
WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "24h"}
SHELL_WORK = "/tmp/agentmaint-bench"  # where the shell mix's local hosts write
MODEL_WORK = "/tmp/agentmaint-bench-model"  # the model mix's


def document(
    hosts: dict[str, dict[str, Any]], *, work: str = SHELL_WORK, wait: float = 0
) -> dict[str, Any]:
    """The benchmark maintenance: one environment of `hosts`, one component, backups on.

    Three tasks per host: the backup command, the update (waiting `wait` seconds first)
    and the health check, working in ``<work>/<host>``.
    """
    work = f"{work}/$AGENTMAINT_HOST"
    pause = f"sleep {wait} && " if wait else ""
    return {
        "environments": {"fleet": {"hosts": hosts, "update_schedule": WINDOW}},
        "components": {
            "app": {
                "update_command": f"{pause}mkdir -p {work} && date +%s%N > {work}/version",
                "healthcheck": {"command": f"test -s {work}/version", "retries": 1},
                "frequency": "weekly",
            }
        },
        "backup": {"pre_update": True, "backup_command": f"mkdir -p {work} && touch {work}/bak"},
        "history": {"retention_days": 30},
    }


def model_document(hosts: dict[str, dict[str, Any]], files: Path) -> dict[str, Any]:
    """The `model` mix: an ML model update through the bundled roles, backups of a directory.

    Per host: the backup role archives a configuration directory (file, command, stat,
    copy, find), the model role installs a model file copied from the controller after
    checking its sha256 and switches the ``current`` link (stat, slurp, file, copy,
    command, find, set_fact, assert), and a health check command reads it: the issue's
    command/file/copy mix as a real maintenance. Each host works under its own
    ``MODEL_WORK/<host>`` (model root and backup directory are host variables).
    """
    model = files / "model.bin"
    model.write_bytes(b"agentmaint benchmark model weights\n" * 2048)
    config = files / "config"
    config.mkdir(exist_ok=True)
    (config / "agent.conf").write_text("workers=4\n")
    per_host = {
        name: {
            **variables,
            "agentmaint_model_root": f"{MODEL_WORK}/{name}/model",
            "agentmaint_backup_dir": f"{MODEL_WORK}/{name}/backups",
        }
        for name, variables in hosts.items()
    }
    return {
        "environments": {"fleet": {"hosts": per_host, "update_schedule": WINDOW}},
        "components": {
            "model": {
                "role": "model",
                "vars": {
                    "version": "v1",
                    "src": str(model),
                    "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
                },
                "healthcheck": {
                    "command": f"test -s {MODEL_WORK}/$AGENTMAINT_HOST/model/current/model.bin",
                    "retries": 1,
                },
                "frequency": "weekly",
            }
        },
        "backup": {"pre_update": True, "paths": [str(config)]},
        "history": {"retention_days": 30},
    }


MIXES = ("shell", "model")


def schedule(directory: Path, hosts: dict[str, dict[str, Any]], mix: str = "shell") -> Path:
    """The benchmark schedule file of `mix` (see `document`, `model_document`) in `directory`."""
    path = directory / "schedule.yaml"
    body = document(hosts) if mix == "shell" else model_document(hosts, directory)
    path.write_text(yaml.safe_dump(body))
    return path


def fresh_hosts() -> None:
    """Remove what a timed run left on the (local) hosts: each run does the whole work."""
    shutil.rmtree(SHELL_WORK, ignore_errors=True)
    shutil.rmtree(MODEL_WORK, ignore_errors=True)


def local_hosts(count: int) -> dict[str, dict[str, Any]]:
    return {
        f"h{i:03d}": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for i in range(count)
    }


@contextlib.contextmanager
def ssh_hosts(count: int) -> Iterator[dict[str, dict[str, Any]]]:
    from tests.hosts.netns import sshd_hosts

    with sshd_hosts(count, prefix="bench") as hosts:
        yield {h.name: dict(h.ansible_vars()) for h in hosts}


def render(path: Path, out: Path) -> tuple[Path, Path, Path]:
    """Render the plays once: (inventory, playbook, agentmaint's ansible.cfg)."""
    done = subprocess.run(
        [str(BIN / "agentmaint"), "render", str(path), "--force", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"render failed: {done.stdout}{done.stderr}")
    return (
        out / "inventory" / "hosts.yml",
        out / "project" / "maintenance.yml",
        out / "project" / "ansible.cfg",
    )


def stock_cfg(directory: Path) -> Path:
    from agentmaint.config.roles import ROLES_PATH

    cfg = directory / "stock.cfg"
    cfg.write_text(f"[defaults]\nroles_path = {ROLES_PATH}\nforks = 5\n")
    return cfg


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0,):
        tail = (done.stdout + done.stderr)[-3000:]
        raise SystemExit(f"{' '.join(argv[:3])} failed (rc {done.returncode}):\n{tail}")
    return seconds


def timed_all(commands: list[tuple[list[str], dict[str, str]]]) -> float:
    """Start every command at once; the seconds until the last one ended."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for argv, env in commands
    ]
    outputs = [proc.communicate()[0] for proc in procs]
    seconds = time.perf_counter() - started
    for proc, output in zip(procs, outputs, strict=True):
        if proc.returncode != 0:
            raise SystemExit(f"replay failed (rc {proc.returncode}):\n{output[-3000:].decode()}")
    return seconds


def replay_commands(
    artifact_dir: Path, copy_to: Path, env: dict[str, str]
) -> list[tuple[list[str], dict[str, str]]]:
    """Copies of the job directories of an agentmaint run, as ansible-playbook commands."""
    jobs = (
        sorted(p for p in artifact_dir.iterdir() if p.is_dir())
        if artifact_dir.name == "slices"
        else [artifact_dir.parent.parent]
    )
    commands = []
    for index, job in enumerate(jobs):
        target = copy_to / str(index)
        shutil.copytree(job, target, ignore=shutil.ignore_patterns("artifacts", "env"))
        config = target / "project" / "ansible.cfg"
        config.write_text(config.read_text().replace(str(job), str(target)))
        argv = [
            str(BIN / "ansible-playbook"),
            "-i",
            str(target / "inventory" / "hosts.yml"),
            str(target / "project" / "maintenance.yml"),
        ]
        commands.append((argv, {**env, "ANSIBLE_CONFIG": str(config)}))
    return commands


def agentmaint_run(path: Path, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    argv = [str(BIN / "agentmaint"), "run", str(path), "--force", "--json"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"agentmaint run failed (rc {done.returncode}):\n{done.stdout[-3000:]}")
    return seconds, json.loads(done.stdout)


def bench_env() -> dict[str, str]:
    """The environment of every timed command: this one without Ansible settings.

    agentmaint runs as installed: its modules compiled to bytecode once, as pip does
    for a regular install (an editable install under PYTHONDONTWRITEBYTECODE would
    compile ~40 modules at every start; Ansible's are compiled at install already).
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "agentmaint")],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANSIBLE_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PATH"] = f"{BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def measure(
    hosts: dict[str, dict[str, Any]], repeat: int, label: str, mix: str = "shell"
) -> dict[str, Any]:
    base_env = bench_env()
    samples: dict[str, list[float]] = {"stock": [], "tuned": [], "replay": [], "agentmaint": []}
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        path = schedule(work, hosts, mix)
        inventory, playbook, tuned_cfg = render(path, work / "rendered")
        stock = stock_cfg(work)
        strategy = next(
            (
                line.split("=", 1)[1].strip()
                for line in tuned_cfg.read_text().splitlines()
                if line.startswith("strategy =")
            ),
            "linear",
        )
        # One run first (not timed): warms the caches and gives the job directories to replay.
        _, first = agentmaint_run(path, base_env)
        replay = replay_commands(Path(first["run"]["artifact_dir"]), work / "replay", base_env)
        for _ in range(repeat):
            fresh_hosts()
            samples["stock"].append(
                timed(
                    [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                    {**base_env, "ANSIBLE_CONFIG": str(stock)},
                )
            )
            fresh_hosts()
            samples["tuned"].append(
                timed(
                    [str(BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                    {**base_env, "ANSIBLE_CONFIG": str(tuned_cfg)},
                )
            )
            fresh_hosts()
            samples["replay"].append(timed_all(replay))
            fresh_hosts()
            shutil.rmtree(work / ".agentmaint", ignore_errors=True)  # a fresh history each time
            samples["agentmaint"].append(agentmaint_run(path, base_env)[0])
    medians = {k: statistics.median(v) for k, v in samples.items()}
    # Per round (the four commands ran back to back): steadier than the ratio of medians
    # when the machine's speed drifts during the run.
    paired = [a / r for a, r in zip(samples["agentmaint"], samples["replay"], strict=True)]
    result = {
        "label": label,
        "mix": mix,
        "hosts": len(hosts),
        "strategy": strategy,
        "slices": len(replay),
        "median_s": {k: round(v, 2) for k, v in medians.items()},
        "samples_s": {k: [round(x, 2) for x in v] for k, v in samples.items()},
        "fleet_speed_ratio": round(medians["stock"] / medians["agentmaint"], 2),
        "controller_overhead_ratio": round(medians["agentmaint"] / medians["replay"], 3),
        "controller_overhead_paired": round(statistics.median(paired), 3),
    }
    print(json.dumps(result), flush=True)
    return result


def plot(results: list[dict[str, Any]], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["hosts"] for r in results]
    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, name in (
        ("stock", "stock ansible-playbook (forks 5, linear, no pipelining)"),
        ("agentmaint", f"agentmaint run ({results[0]['strategy']})"),
    ):
        axis.plot(sizes, [r["median_s"][key] for r in results], marker="o", label=name)
    axis.set_xlabel("hosts (ansible_connection: local, 3 tasks each)")
    axis.set_ylabel("wall time, median (s)")
    axis.set_title("agentmaint vs stock ansible-playbook: fleet run time")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(png)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--connection", choices=("local", "ssh"), default="local")
    parser.add_argument(
        "--mix", choices=MIXES, default="shell", help="the maintenance (model: local hosts only)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--curve", help="comma-separated host counts (local connection)")
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "scaling.png")
    args = parser.parse_args()
    if args.curve:
        sizes = [int(x) for x in args.curve.split(",")]
        results = [measure(local_hosts(n), args.repeat, f"local-{n}", args.mix) for n in sizes]
        plot(results, args.png)
        print(f"wrote {args.png}")
    elif args.connection == "ssh":
        if args.mix != "shell":
            parser.error("--mix model runs on local hosts only (its files are reset between runs)")
        with ssh_hosts(args.hosts) as hosts:
            results = [measure(hosts, args.repeat, f"ssh-{args.hosts}")]
    else:
        label = f"local-{args.hosts}"
        results = [measure(local_hosts(args.hosts), args.repeat, label, args.mix)]
    print()
    print(
        "| run | mix | hosts | slices | stock | tuned ansible-playbook | replay (same slices) "
        "| agentmaint | speed (stock/agentmaint) | overhead (agentmaint/replay; paired) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        m = r["median_s"]
        speed, overhead = r["fleet_speed_ratio"], r["controller_overhead_ratio"]
        print(
            f"| {r['label']} ({r['strategy']}) | {r['mix']} | {r['hosts']} | {r['slices']} "
            f"| {m['stock']} s | {m['tuned']} s | {m['replay']} s | {m['agentmaint']} s "
            f"| {speed}x | {overhead}; {r['controller_overhead_paired']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
