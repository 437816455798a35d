"""Fleet speed, controller overhead and the scaling curves (issue 7 targets 1, 2, 5; 19 target 6).

One maintenance of N hosts: a component with a backup, an update and a health check (the
schedule's commands), which agentmaint renders as one fused task per host (one module
running the three steps; `execution.fused: false` would make them three tasks), so stock
and tuned below run that fused play too: against a plain playbook of the same steps as
`shell` tasks, see `bench_install.py`. Every
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

The scaling curves (one PNG, two panels; the figures drawn are kept beside it as JSON,
``--data``, so that one series can be measured again, or the picture redrawn with
``--replot``, without the other: each panel's title says when its series was measured):

* controller-bound (``--curve 10,50,100,200``): the maintenance above (three short steps per
  local host), stock, tuned and agentmaint;
* wait-bound (``--wait-curve 10,60,200,500 --sleep 10``): one ``sleep`` update per local
  host, measured by ``bench_wait.measure`` (stock ``ansible-playbook`` with forks 5 up to
  ``--stock-max-hosts``, above which its lower bound ceil(hosts / 5) waves x sleep is drawn
  instead; ``agentmaint run`` as installed; the ideal, one wave = the sleep), with the
  controller's peak PSS in a panel of its own.

``--venv DIR`` runs agentmaint and ansible-playbook from DIR/bin (a user's ``pip install``,
default extras) while this script runs in a Python that has matplotlib (the ``bench``
extra: ``.venv/bin/pip install -e '.[dev,bench]'``).

Usage (from the repository root):
  .venv/bin/python bench/bench_fleet.py --hosts 50 --connection local --repeat 3
  .venv/bin/python bench/bench_fleet.py --hosts 50 --mix model --repeat 3       # roles' mix
  .venv/bin/python bench/bench_fleet.py --hosts 50 --connection ssh --repeat 3   # root: sshd hosts
  .venv/bin/python bench/bench_fleet.py --venv /tmp/venv --repeat 1 --curve 10,50,100,200 \
      --wait-curve 10,60,200,500 --sleep 10 --png bench/scaling.png
  .venv/bin/python bench/bench_fleet.py --replot --png bench/scaling.png  # from bench/scaling.json
Prints one JSON line per measurement and a summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from bench_wait import measure as measure_wait
from bench_wait import python_of
from bench_wait import table as wait_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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


def local_hosts(count: int, bin_dir: Path = BIN) -> dict[str, dict[str, Any]]:
    python = str(python_of(bin_dir))
    return {
        f"h{i:03d}": {"ansible_connection": "local", "ansible_python_interpreter": python}
        for i in range(count)
    }


@contextlib.contextmanager
def ssh_hosts(count: int) -> Iterator[dict[str, dict[str, Any]]]:
    from tests.hosts.netns import sshd_hosts

    with sshd_hosts(count, prefix="bench") as hosts:
        yield {h.name: dict(h.ansible_vars()) for h in hosts}


def render(path: Path, out: Path, bin_dir: Path) -> tuple[Path, Path, Path]:
    """Render the plays once: (inventory, playbook, agentmaint's ansible.cfg)."""
    done = subprocess.run(
        [str(bin_dir / "agentmaint"), "render", str(path), "--force", "--out", str(out)],
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


def stock_cfg(directory: Path, bin_dir: Path) -> Path:
    """Ansible's defaults (forks 5), and the bundled roles of the installation in `bin_dir`."""
    roles = subprocess.run(
        [
            str(python_of(bin_dir)),
            "-c",
            "from agentmaint.config.roles import ROLES_PATH as p; print(p)",
        ],
        cwd=directory,  # not the repository: `-c` imports from the working directory first
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cfg = directory / "stock.cfg"
    cfg.write_text(f"[defaults]\nroles_path = {roles}\nforks = 5\n")
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
    artifact_dir: Path, copy_to: Path, env: dict[str, str], bin_dir: Path
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
            str(bin_dir / "ansible-playbook"),
            "-i",
            str(target / "inventory" / "hosts.yml"),
            str(target / "project" / "maintenance.yml"),
        ]
        commands.append((argv, {**env, "ANSIBLE_CONFIG": str(config)}))
    return commands


def agentmaint_run(path: Path, env: dict[str, str], bin_dir: Path) -> tuple[float, dict[str, Any]]:
    argv = [str(bin_dir / "agentmaint"), "run", str(path), "--force", "--json"]
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"agentmaint run failed (rc {done.returncode}):\n{done.stdout[-3000:]}")
    return seconds, json.loads(done.stdout)


def bench_env(bin_dir: Path) -> dict[str, str]:
    """The environment of every timed command: this one without Ansible settings.

    agentmaint runs as installed: its modules compiled to bytecode once, as pip does
    for a regular install (an editable install under PYTHONDONTWRITEBYTECODE would
    compile ~40 modules at every start; Ansible's are compiled at install already).
    """
    if bin_dir == BIN:  # this interpreter's agentmaint: the repository's (editable)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(ROOT / "agentmaint")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANSIBLE_") and k not in {"PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV"}
    }
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def measure(
    hosts: dict[str, dict[str, Any]],
    repeat: int,
    label: str,
    mix: str = "shell",
    bin_dir: Path = BIN,
) -> dict[str, Any]:
    base_env = bench_env(bin_dir)
    load_before = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    samples: dict[str, list[float]] = {"stock": [], "tuned": [], "replay": [], "agentmaint": []}
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        work = Path(tmp)
        path = schedule(work, hosts, mix)
        inventory, playbook, tuned_cfg = render(path, work / "rendered", bin_dir)
        stock = stock_cfg(work, bin_dir)
        strategy = next(
            (
                line.split("=", 1)[1].strip()
                for line in tuned_cfg.read_text().splitlines()
                if line.startswith("strategy =")
            ),
            "linear",
        )
        # One run first (not timed): warms the caches and gives the job directories to replay.
        _, first = agentmaint_run(path, base_env, bin_dir)
        replay = replay_commands(
            Path(first["run"]["artifact_dir"]), work / "replay", base_env, bin_dir
        )
        for _ in range(repeat):
            fresh_hosts()
            samples["stock"].append(
                timed(
                    [str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                    {**base_env, "ANSIBLE_CONFIG": str(stock)},
                )
            )
            fresh_hosts()
            samples["tuned"].append(
                timed(
                    [str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(playbook)],
                    {**base_env, "ANSIBLE_CONFIG": str(tuned_cfg)},
                )
            )
            fresh_hosts()
            samples["replay"].append(timed_all(replay))
            fresh_hosts()
            shutil.rmtree(work / ".agentmaint", ignore_errors=True)  # a fresh history each time
            samples["agentmaint"].append(agentmaint_run(path, base_env, bin_dir)[0])
    medians = {k: statistics.median(v) for k, v in samples.items()}
    # Per round (the four commands ran back to back): steadier than the ratio of medians
    # when the machine's speed drifts during the run.
    paired = [a / r for a, r in zip(samples["agentmaint"], samples["replay"], strict=True)]
    result = {
        "label": label,
        "mix": mix,
        "hosts": len(hosts),
        "started_utc": started,
        "load_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
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


# -- the scaling curves' picture -----------------------------------------------------------------

SERIES = ("controller_bound", "wait_bound")


def load_data(path: Path) -> dict[str, Any]:
    """The series measured so far (``--data``): {"controller_bound": ..., "wait_bound": ...}."""
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def save_series(path: Path, data: dict[str, Any], name: str, series: dict[str, Any]) -> None:
    """Store one measured series in `data` and the file at once (a later failure keeps it)."""
    data[name] = series
    path.write_text(json.dumps(data, indent=1) + "\n")


def _when(rows: list[dict[str, Any]]) -> str:
    """The panel's subtitle: when its rows were measured and the load average meanwhile."""
    loads = [x for r in rows for x in r.get("load_before_after", ())]
    load = f", load {min(loads):g}-{max(loads):g}" if loads else ""
    if "started_utc" not in rows[0]:
        return ""
    day, first = rows[0]["started_utc"].split()[:2]
    last = rows[-1]["started_utc"].split()[1]
    return f"measured {day}, rows started {first}-{last} UTC{load}"


def _controller_panel(axis: Axes, rows: list[dict[str, Any]]) -> None:
    sizes = [r["hosts"] for r in rows]
    # The strategy agentmaint chose (auto: linear for a fused job on few local hosts).
    strategies: dict[str, int] = {}
    for r in rows:
        strategies.setdefault(r["strategy"], r["hosts"])
    chosen = ", ".join(f"{name} from {hosts} hosts" for name, hosts in strategies.items())
    for key, name, style in (
        ("stock", "stock ansible-playbook of the rendered play (forks 5, linear)", "o-"),
        ("tuned", "tuned: the same with agentmaint's ansible.cfg", "s-"),
        ("agentmaint", f"agentmaint run ({chosen})", "^-"),
    ):
        axis.plot(sizes, [r["median_s"][key] for r in rows], style, label=name)
    for index, r in enumerate(rows):
        last = index == len(rows) - 1
        axis.annotate(
            f"{r['fleet_speed_ratio']:.1f}x stock",
            (r["hosts"], r["median_s"]["agentmaint"]),
            textcoords="offset points",
            xytext=(-6 if last else 6, -12),
            ha="right" if last else "left",
            fontsize=8,
            color="C2",
        )
    axis.set_xticks(sizes)
    axis.set_xlabel("hosts (ansible_connection: local)")
    axis.set_ylabel("wall time (s)")
    axis.set_title(
        "Controller-bound: backup + update + health check,\nshort shell steps per host\n"
        + _when(rows),
        fontsize=10,
    )
    axis.set_ylim(bottom=0)
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=8, loc="upper left")


def _wait_panels(timing: Axes, memory: Axes, rows: list[dict[str, Any]]) -> None:
    import matplotlib.ticker

    sleep = rows[0]["sleep"]
    sizes = [r["hosts"] for r in rows]
    ran = [r for r in rows if r["stock_s"] is not None]
    if ran:
        timing.plot(
            [r["hosts"] for r in ran],
            [r["stock_s"] for r in ran],
            "o-",
            color="C0",
            label="stock ansible-playbook (forks 5), measured",
        )
    limit = f"; not run above {ran[-1]['hosts']} hosts" if ran and len(ran) < len(rows) else ""
    timing.plot(
        sizes,
        [math.ceil(h / 5) * sleep for h in sizes],
        "o--",
        color="C0",
        markerfacecolor="none",
        label=f"stock's lower bound: ceil(hosts / 5) waves x {sleep:g} s{limit}",
    )
    seconds = [r["median_s"]["agentmaint"] for r in rows]
    timing.plot(
        sizes, seconds, "^-", color="C2", label="agentmaint run (pip install, default extras)"
    )
    for index, (hosts, value) in enumerate(zip(sizes, seconds, strict=True)):
        last = index == len(sizes) - 1
        timing.annotate(
            f"{value:.0f} s = {value / sleep:.1f}x ideal",
            (hosts, value),
            textcoords="offset points",
            xytext=(-4 if last else 5, 5 if last else -3),
            ha="right" if last else "left",
            va="bottom" if last else "top",
            fontsize=8,
            color="C2",
        )
    timing.axhline(sleep, color="black", linestyle=":", label=f"ideal: one wave = {sleep:g} s")
    timing.set_yscale("log")
    # Labelled 1-2-5 ticks: a log axis labels only the powers of ten by default.
    top = max([*seconds, *(math.ceil(h / 5) * sleep for h in sizes)])
    ticks = [
        m * 10**e for e in range(-1, 5) for m in (1, 2, 5) if sleep / 2 <= m * 10**e <= top * 2
    ]
    timing.set_yticks(ticks, [f"{t:g}" for t in ticks])
    timing.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    timing.set_ylabel("wall time (s, log scale)")
    timing.set_title(
        f"Wait-bound: one update per host = sleep {sleep:g} s\n" + _when(rows), fontsize=10
    )
    timing.grid(True, which="both", alpha=0.3)
    timing.legend(fontsize=8, loc="upper left")
    timing.tick_params(labelbottom=False)
    for key, name, style, color in (
        ("stock", "stock ansible-playbook", "o-", "C0"),
        ("agentmaint", "agentmaint run", "^-", "C2"),
    ):
        measured = [r for r in rows if key in r["peak_pss_mb"]]
        if measured:
            memory.plot(
                [r["hosts"] for r in measured],
                [r["peak_pss_mb"][key] for r in measured],
                style,
                color=color,
                label=name,
            )
            for r in measured if key == "agentmaint" else ():  # stock's: flat, in the table
                memory.annotate(
                    f"{r['peak_pss_mb'][key]}",
                    (r["hosts"], r["peak_pss_mb"][key]),
                    textcoords="offset points",
                    xytext=(0, 5),
                    ha="center",
                    fontsize=7,
                    color=color,
                )
    memory.axhline(2048, color="C3", linestyle="--", label="2 GiB (issue 19's budget)")
    memory.set_ylim(bottom=0, top=2600)
    memory.set_xticks(sizes)
    memory.set_xlabel("hosts (ansible_connection: local)")
    memory.set_ylabel("controller peak\nPSS (MiB)")
    memory.grid(True, alpha=0.3)
    memory.legend(fontsize=8, loc="upper left")


def plot(data: dict[str, Any], png: Path) -> None:
    """Draw the series in `data` into `png`: one panel per series, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    controller = data.get("controller_bound", {}).get("rows", [])
    wait = data.get("wait_bound", {}).get("rows", [])
    columns = [c for c in (controller, wait) if c]
    if not columns:
        raise SystemExit(f"nothing to draw: no series measured ({png.with_suffix('.json')})")
    figure = plt.figure(figsize=(6.5 * len(columns), 6.5), dpi=100)
    grid = figure.add_gridspec(2, len(columns), height_ratios=(2.2, 1.1))
    if controller:
        _controller_panel(figure.add_subplot(grid[:, 0]), controller)
    if wait:
        timing = figure.add_subplot(grid[0, len(columns) - 1])
        _wait_panels(timing, figure.add_subplot(grid[1, len(columns) - 1], sharex=timing), wait)
    figure.tight_layout()
    figure.savefig(png)


def controller_table(results: list[dict[str, Any]]) -> str:
    """The controller-bound rows as Markdown."""
    lines = [
        "| run | mix | hosts | slices | stock | tuned ansible-playbook | replay (same slices) "
        "| agentmaint | speed (stock/agentmaint) | overhead (agentmaint/replay; paired) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        m = r["median_s"]
        speed, overhead = r["fleet_speed_ratio"], r["controller_overhead_ratio"]
        lines.append(
            f"| {r['label']} ({r['strategy']}) | {r['mix']} | {r['hosts']} | {r['slices']} "
            f"| {m['stock']} s | {m['tuned']} s | {m['replay']} s | {m['agentmaint']} s "
            f"| {speed}x | {overhead}; {r['controller_overhead_paired']} |"
        )
    return "\n".join(lines)


def curves(args: argparse.Namespace, bin_dir: Path) -> None:
    """Measure the series asked for, keep them in ``--data``, draw ``--png``, print tables."""
    data_path: Path = args.data or args.png.with_suffix(".json")
    data = load_data(data_path)
    if args.curve:
        sizes = [int(x) for x in args.curve.split(",")]
        rows = [
            measure(local_hosts(n, bin_dir), args.repeat, f"local-{n}", args.mix, bin_dir)
            for n in sizes
        ]
        save_series(
            data_path, data, "controller_bound", {"venv": str(bin_dir.parent), "rows": rows}
        )
    if args.wait_curve:
        options = argparse.Namespace(
            sleep=args.sleep,
            repeat=args.repeat,
            no_stock=False,
            stock_max_hosts=args.stock_max_hosts,
        )
        rows = []
        for n in (int(x) for x in args.wait_curve.split(",")):
            rows.append(measure_wait(n, options, ["agentmaint"], bin_dir))
            print(json.dumps(rows[-1]), flush=True)
        save_series(data_path, data, "wait_bound", {"venv": str(bin_dir.parent), "rows": rows})
    plot(data, args.png)
    print(f"wrote {args.png} (its figures: {data_path})\n")
    if "controller_bound" in data:
        print(controller_table(data["controller_bound"]["rows"]), end="\n\n")
    if "wait_bound" in data:
        print(wait_table(data["wait_bound"]["rows"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--connection", choices=("local", "ssh"), default="local")
    parser.add_argument(
        "--mix", choices=MIXES, default="shell", help="the maintenance (model: local hosts only)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--curve", help="controller-bound curve: comma-separated host counts")
    parser.add_argument("--wait-curve", help="wait-bound curve: comma-separated host counts")
    parser.add_argument("--sleep", type=float, default=10, help="the wait-bound update (s)")
    parser.add_argument(
        "--stock-max-hosts",
        type=int,
        default=100,
        help="wait-bound: above this, stock is not run (its lower bound is drawn)",
    )
    parser.add_argument("--replot", action="store_true", help="draw --data again, measure nothing")
    parser.add_argument("--png", type=Path, default=ROOT / "bench" / "scaling.png")
    parser.add_argument("--data", type=Path, help="the curves' figures (default: --png's .json)")
    parser.add_argument(
        "--venv", type=Path, help="agentmaint and ansible-playbook from VENV/bin (a user's install)"
    )
    args = parser.parse_args()
    bin_dir = args.venv / "bin" if args.venv else BIN
    if args.curve or args.wait_curve or args.replot:
        curves(args, bin_dir)
        return 0
    if args.connection == "ssh":
        if args.mix != "shell":
            parser.error("--mix model runs on local hosts only (its files are reset between runs)")
        with ssh_hosts(args.hosts) as hosts:
            results = [measure(hosts, args.repeat, f"ssh-{args.hosts}", bin_dir=bin_dir)]
    else:
        label = f"local-{args.hosts}"
        results = [measure(local_hosts(args.hosts, bin_dir), args.repeat, label, args.mix, bin_dir)]
    print()
    print(controller_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
