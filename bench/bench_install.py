"""agentmaint as a user installs it, against plain ansible-playbook (issue 19, targets 1, 2, 6).

Installs the package the way a user does: a fresh virtual environment (``python3 -m
venv``) and ``pip install <this repository>`` with the default extras only (no ``-e``, no
dev tools), then times, in that environment, on local hosts (``ansible_connection: local``,
each naming the venv's Python as ``ansible_python_interpreter``, as a maintenance run on the
managed hosts themselves does):

* stock:      ``ansible-playbook`` of a plain playbook with the same steps as ``shell``
              tasks, Ansible's defaults (forks 5, linear, no pipelining), no fact gathering;
* tuned:      the same plain playbook with forks = hosts and pipelining (Ansible's linear
              strategy: what a user tunes without agentmaint);
* agentmaint: ``agentmaint run --force`` of a schedule with those steps (whatever the
              installed package renders and runs: this script only reads its exit status).

Before and after (``--baseline-venv DIR``): an agentmaint installed earlier in DIR (used as
it is) runs the same schedule as ``baseline``, interleaved with the others in each round;
``baseline / agentmaint`` is then a column. ``--startup N`` also times, N rounds,
``agentmaint --help`` and ``agentmaint validate`` of each installation (the fixed cost of
every command).

Two series:

* controller-bound (``--hosts 30,50 --steps 1,3``): 1 step = the update; 3 steps = backup,
  update, health check; each short commands writing under ``/tmp/agentmaint-bench-install-<pid>``;
* wait-bound (``--wait-hosts 10,60 --sleep 3``): one step, the update is ``sleep N``; the
  ideal is one wave (N seconds). Stock above ``--stock-max-hosts`` is not run (it is at
  least ceil(hosts / 5) waves of N seconds: that bound is printed instead).

The commands of one configuration run interleaved, ``--repeat`` rounds, the order rotating
each round; the ratios are taken per round (this machine is shared: only ratios within one
run mean something). Every command's peak memory is sampled from /proc over its process
tree (with local hosts the tree holds the hosts' processes too): the sum of PSS
(``/proc/PID/smaps_rollup``: a page shared by several processes is split between them, what
the machine pays), the sum of RSS (an upper bound: pages shared between forked processes
count once per process), and the largest single process's peak
(``getrusage(RUSAGE_CHILDREN)``). Prints one JSON line per configuration and
a Markdown table.

``--connection ssh`` runs the controller-bound series on namespaced sshd hosts instead
(``tests.hosts.netns.sshd_hosts``: needs root, and the repository importable, so run it from
the repository root; agentmaint and ansible-playbook still come from the user's venv). The
inventories carry the fixture's variables (address, port, user, key, ssh options, the hosts'
own ``/usr/bin/python3``); the steps write under the same path on each host's own file system.
Each plain playbook run there logs in to every host itself, as ``agentmaint run`` does
(`own_masters`); ``tuned_warm`` is the tuned playbook with every host's ssh master already up.

Usage (from the repository root; any Python 3.11+ runs it, nothing is imported from the repo
unless ``--connection ssh``):
  python3 bench/bench_install.py --hosts 30 --steps 1,3 --repeat 3 --no-wait
  python3 bench/bench_install.py --no-controller --wait-hosts 10,60 --sleep 3 --repeat 2
  python3 bench/bench_install.py --venv /tmp/am-venv --reuse ...   # install once, run often
  sudo python3 bench/bench_install.py --connection ssh --hosts 50 --steps 1,3 --repeat 2 --no-wait
  sudo python3 bench/bench_install.py --connection ssh --hosts 50 --steps 1 --no-wait \
      --ssh-extra-args "-o KexAlgorithms=curve25519-sha256"   # every command, the same ssh option
  python3 bench/bench_install.py --venv /tmp/new --baseline-venv /tmp/old --hosts 1,3 \
      --steps 1 --repeat 5 --no-wait --startup 5      # a small fleet: the fixed cost, before/after
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proctree import children_map, memory

ROOT = Path(__file__).resolve().parent.parent
# Where the local hosts' steps write: one directory per benchmark process, so that two runs
# at once (a shared machine) never remove each other's files.
WORK = f"/tmp/agentmaint-bench-install-{os.getpid()}"
WINDOW = {"day_of_week": "daily", "time": "00:00", "duration": "24h"}


# -- the user's installation ----------------------------------------------------------------


def install(venv: Path, *, reuse: bool) -> Path:
    """A venv with ``pip install ROOT`` (default extras); its bin directory."""
    bin_dir = venv / "bin"
    if reuse and (bin_dir / "agentmaint").exists():
        return bin_dir
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(bin_dir / "pip"), "install", "--quiet", str(ROOT)],
        check=True,
        env={**clean_env(bin_dir), "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    return bin_dir


def installed(bin_dir: Path) -> dict[str, str]:
    """Versions of what the venv holds (agentmaint, ansible-core, mitogen or none)."""
    code = (
        "import importlib.metadata as m, json\n"
        "out = {}\n"
        "for n in ('agentmaint', 'ansible-core', 'ansible-runner', 'mitogen'):\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: out[n] = 'not installed'\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(bin_dir / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def clean_env(bin_dir: Path) -> dict[str, str]:
    """This environment without Ansible settings, the venv's bin first on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANSIBLE_", "AGENTMAINT_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


# -- the work ---------------------------------------------------------------------------------


def steps(count: int, sleep: float) -> dict[str, str]:
    """The shell command of each step (backup, update, healthcheck), for `count` 1 or 3."""
    here = f"{WORK}/$AGENTMAINT_HOST"
    update = f"sleep {sleep:g}" if sleep else f"mkdir -p {here} && date +%s%N > {here}/version"
    if count == 1:
        return {"update": update}
    return {
        "backup": f"mkdir -p {here} && touch {here}/bak",
        "update": update,
        "healthcheck": f"test -s {here}/version" if not sleep else "true",
    }


def host_names(count: int) -> list[str]:
    return [f"h{i:03d}" for i in range(count)]


# -- the hosts: local, or namespaced sshd hosts -----------------------------------------------

#: Inventory variables of each host by name (local hosts: the venv's Python; ssh: the fixture's).
HostVars = dict[str, dict[str, Any]]


def local_hosts(count: int, python: Path) -> HostVars:
    return {
        name: {"ansible_connection": "local", "ansible_python_interpreter": str(python)}
        for name in host_names(count)
    }


@contextlib.contextmanager
def ssh_hosts(count: int, timeout: int, extra_args: str = "") -> Iterator[HostVars]:
    """`count` namespaced sshd hosts (tests.hosts.netns, needs root) for as long as it lasts.

    Every host also gets ``ansible_timeout`` = `timeout` (the connection timeout, the same
    for the three commands): with 50 hosts connecting at once on a loaded 2-core machine,
    Ansible's default 10 s is not always enough for mitogen's connections (unreachable,
    "Connection timed out"). `extra_args`, when given, is every host's
    ``ansible_ssh_extra_args`` (the same for every command: e.g. ``-o
    KexAlgorithms=curve25519-sha256``, an operator's choice measured like with like).
    """
    sys.path.insert(0, str(ROOT))
    from tests.hosts.netns import sshd_hosts  # only for --connection ssh

    with sshd_hosts(count, prefix="bins") as hosts:
        extra = {"ansible_ssh_extra_args": extra_args} if extra_args else {}
        yield {h.name: {**h.ansible_vars(), "ansible_timeout": timeout, **extra} for h in hosts}


def ini_line(name: str, variables: dict[str, Any]) -> str:
    """One inventory line; values with spaces quoted (the ssh common args)."""
    cells = [name]
    for key, value in variables.items():
        text = str(value)
        cells.append(f"{key}={json.dumps(text)}" if " " in text else f"{key}={text}")
    return " ".join(cells) + "\n"


def write_schedule(directory: Path, hosts: HostVars, work: dict[str, str]) -> Path:
    component: dict[str, Any] = {"update_command": work["update"], "frequency": "weekly"}
    if "healthcheck" in work:
        component["healthcheck"] = {"command": work["healthcheck"], "retries": 1}
    document: dict[str, Any] = {
        "environments": {
            "fleet": {
                "hosts": hosts,
                "update_schedule": WINDOW,
            }
        },
        "components": {"app": component},
        "history": {"retention_days": 30},
    }
    if "backup" in work:
        document["backup"] = {"pre_update": True, "backup_command": work["backup"]}
    path = directory / "schedule.json"  # JSON is YAML: no YAML writer needed here
    path.write_text(json.dumps(document, indent=1))
    return path


def write_plain(directory: Path, hosts: HostVars, work: dict[str, str]) -> Path:
    """The plain playbook: the same steps as shell tasks, the inventory next to it."""
    inventory = directory / "hosts.ini"
    inventory.write_text(
        "[fleet]\n" + "".join(ini_line(name, variables) for name, variables in hosts.items())
    )
    tasks = "".join(
        f"    - name: {name}\n      ansible.builtin.shell: {json.dumps(command)}\n"
        for name, command in work.items()
    )
    playbook = directory / "plain.yml"
    playbook.write_text(
        "- hosts: fleet\n  gather_facts: false\n"
        "  environment:\n    AGENTMAINT_HOST: '{{ inventory_hostname }}'\n"
        f"  tasks:\n{tasks}"
    )
    return playbook


def write_cfg(directory: Path, name: str, forks: int, pipelining: bool) -> Path:
    cfg = directory / f"{name}.cfg"
    cfg.write_text(
        f"[defaults]\nforks = {forks}\n"
        + ("[connection]\npipelining = True\n" if pipelining else "")
    )
    return cfg


@contextlib.contextmanager
def own_masters(env: dict[str, str], directory: Path) -> Iterator[dict[str, str]]:
    """`env` for one ``ansible-playbook`` run over SSH that starts its own ssh masters.

    Ansible's default ControlPath directory (``~/.ansible/cp``) is shared by every run of
    the user, and its masters outlive a run by ControlPersist (60 s): a plain playbook run
    right after another one (stock, then tuned) finds every host's master still up and
    skips all the SSH logins, which ``agentmaint run`` (a ControlPath directory per run,
    its masters ended with the run) and any real run days after the last one always pay.
    Until 2026-12-06 11:00 this bench let stock and tuned share that directory. Each run
    gets a fresh directory here, and its masters are ended after the timed part (as
    ``ansible-playbook`` itself leaves them running after it returns).
    """
    control = Path(tempfile.mkdtemp(prefix="cp-", dir=directory))
    try:
        yield {**env, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)}
    finally:
        end_masters(control)
        shutil.rmtree(control, ignore_errors=True)


def end_masters(control: Path) -> None:
    """Send SIGTERM to the ssh masters whose command line names `control`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        program = argv.split(b"\0", 1)[0].rsplit(b"/", 1)[-1]
        if program == b"ssh" and str(control).encode() in argv:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry.name), 15)


# -- timing -------------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    tree_rss_mb: float  # peak of the summed RSS of the process tree (sampled)
    tree_pss_mb: float  # peak of the summed PSS of the process tree (sampled)
    largest_mb: float  # the largest single descendant's peak RSS (getrusage)


def tree_memory(root: int) -> tuple[int, int]:
    """(RSS, PSS) bytes of `root` and its descendants now, each summed over the tree."""
    children = children_map()
    rss = pss = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        one_pss, one_rss = memory(pid)
        rss += one_rss
        pss += one_pss
    return rss, pss


def timed(argv: list[str], env: dict[str, str], label: str, interval: float = 0.5) -> Sample:
    """Run `argv` to its end; wall seconds and peak memory. Exits on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0, 0]
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    while proc.poll() is None:
        rss, pss = tree_memory(proc.pid)
        peak = [max(peak[0], rss), max(peak[1], pss)]
        # Wait on the process, not a fixed sleep: the wall time ends when it ends (a sleep
        # of `interval` would round every time up to the sampling period).
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=interval)
    seconds = time.perf_counter() - started
    reader.join()
    if proc.returncode != 0:
        text = b"".join(output).decode(errors="replace")[-3000:]
        raise SystemExit(f"{label} failed (rc {proc.returncode}):\n{text}")
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of all children so far: only a new maximum shows.
    return Sample(seconds, peak[0] / 2**20, peak[1] / 2**20, max(largest, before) / 1024)


@dataclass
class Series:
    label: str
    hosts: int
    steps: int
    sleep: float
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    stock_bound: float | None = None  # stock not run: at least this many seconds


def fresh_hosts() -> None:
    shutil.rmtree(WORK, ignore_errors=True)


def measure(
    bin_dir: Path,
    hosts: int,
    *,
    step_count: int,
    sleep: float,
    repeat: int,
    run_stock: bool,
    fleet: HostVars | None = None,
    baseline: Path | None = None,
    ssh: bool = False,
) -> Series:
    """One configuration; `fleet` = the hosts' inventory variables (default: local hosts).

    `ssh` (hosts over SSH): each plain playbook run logs in to every host itself
    (`own_masters`), and ``tuned_warm`` is the tuned playbook run right after an untimed
    run of itself with the same ControlPath directory: every host's ssh master already up
    (what the tuned column measured before, the SSH logins left out).
    """
    env = clean_env(bin_dir)
    work = steps(step_count, sleep)
    kind = f"sleep {sleep:g}" if sleep else f"{step_count} step{'s' if step_count > 1 else ''}"
    where = "local" if fleet is None else "sshd"
    fleet = fleet if fleet is not None else local_hosts(hosts, bin_dir / "python")
    series = Series(f"{hosts} {where} hosts, {kind}", hosts, step_count, sleep)
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        directory = Path(tmp)
        schedule = write_schedule(directory, fleet, work)
        playbook = write_plain(directory, fleet, work)
        inventory = directory / "hosts.ini"
        stock = write_cfg(directory, "stock", 5, pipelining=False)
        tuned = write_cfg(directory, "tuned", hosts, pipelining=True)
        playbook_argv = [str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(playbook)]
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "tuned": (playbook_argv, {**env, "ANSIBLE_CONFIG": str(tuned)}),
            "agentmaint": (
                [str(bin_dir / "agentmaint"), "run", str(schedule), "--force", "--json"],
                env,
            ),
        }
        if baseline is not None:
            commands["baseline"] = (
                [str(baseline / "agentmaint"), "run", str(schedule), "--force", "--json"],
                clean_env(baseline),
            )
        if ssh:
            commands["tuned_warm"] = commands["tuned"]
        if run_stock:
            commands = {"stock": (playbook_argv, {**env, "ANSIBLE_CONFIG": str(stock)}), **commands}
        else:
            series.stock_bound = math.ceil(hosts / 5) * sleep
        # One untimed run of each agentmaint: warms the caches, creates the history database.
        for name in ("agentmaint", "baseline"):
            if name in commands:
                fresh_hosts()
                timed(*commands[name], label=f"{name} (warm-up)")
        names = list(commands)
        for round_ in range(repeat):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                fresh_hosts()
                if name in {"agentmaint", "baseline"}:
                    shutil.rmtree(directory / ".agentmaint", ignore_errors=True)
                argv, command_env = commands[name]
                plain = name in {"stock", "tuned", "tuned_warm"} and ssh
                with (
                    own_masters(command_env, directory)
                    if plain
                    else contextlib.nullcontext(command_env)
                ) as run_env:
                    if name == "tuned_warm":
                        timed(argv, run_env, label=f"{name} (starts the masters)")
                        fresh_hosts()
                    sample = timed(argv, run_env, label=name)
                series.samples.setdefault(name, []).append(sample)
    fresh_hosts()
    return series


def strategy_of(bin_dir: Path) -> str:
    """The strategy `auto` resolves to in the installed package (its own module says)."""
    done = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "from agentmaint.ansible.strategy import resolve; print(resolve('auto').name)",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=clean_env(bin_dir),
    )
    return done.stdout.strip() or "unknown"


# -- report ---------------------------------------------------------------------------------------


def summary(series: Series) -> dict[str, Any]:
    med = {k: statistics.median(s.seconds for s in v) for k, v in series.samples.items()}
    am = [s.seconds for s in series.samples["agentmaint"]]
    ratios: dict[str, list[float]] = {}
    for base in ("stock", "tuned", "tuned_warm", "baseline"):
        if base in series.samples:
            ratios[f"{base}/agentmaint"] = [
                round(b.seconds / a, 2) for b, a in zip(series.samples[base], am, strict=True)
            ]
    if series.sleep:
        ratios["agentmaint/ideal"] = [round(a / series.sleep, 2) for a in am]
    return {
        "label": series.label,
        "hosts": series.hosts,
        "steps": series.steps,
        "sleep": series.sleep,
        "median_s": {k: round(v, 2) for k, v in med.items()},
        "samples_s": {k: [round(s.seconds, 2) for s in v] for k, v in series.samples.items()},
        "ratios_per_round": ratios,
        "ratio_medians": {k: round(statistics.median(v), 2) for k, v in ratios.items()},
        "stock_at_least_s": series.stock_bound,
        "peak_tree_rss_mb": {
            k: round(max(s.tree_rss_mb for s in v)) for k, v in series.samples.items()
        },
        "peak_tree_pss_mb": {
            k: round(max(s.tree_pss_mb for s in v)) for k, v in series.samples.items()
        },
        "largest_process_mb": {
            k: round(max(s.largest_mb for s in v)) for k, v in series.samples.items()
        },
    }


def _cell(row: dict[str, Any], key: str) -> str:
    """A ratio's median and its per-round values."""
    ratios = row["ratios_per_round"]
    if key not in ratios:
        return ""
    values = ", ".join(f"{x:.2f}" for x in ratios[key])
    return f"**{row['ratio_medians'][key]:.2f}x** ({values})"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| work | stock (forks 5) | tuned (forks = hosts, pipelining) | `agentmaint run` "
        "| stock / agentmaint (per round) | tuned / agentmaint (per round) | agentmaint / ideal "
        "| peak tree PSS (RSS) stock / tuned / agentmaint |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    if any("baseline" in row["median_s"] for row in rows):
        return _baseline_table(rows)
    for row in rows:
        med = row["median_s"]
        stock = (
            f"{med['stock']:.2f} s"
            if "stock" in med
            else f">= {row['stock_at_least_s']:g} s (not run)"
        )

        rss, pss = row["peak_tree_rss_mb"], row["peak_tree_pss_mb"]
        memory = " / ".join(
            f"{pss[k]} ({rss[k]})" if k in pss else "-" for k in ("stock", "tuned", "agentmaint")
        )
        lines.append(
            f"| {row['label']} | {stock} | {med['tuned']:.2f} s | {med['agentmaint']:.2f} s "
            f"| {_cell(row, 'stock/agentmaint')} | {_cell(row, 'tuned/agentmaint')} "
            f"| {_cell(row, 'agentmaint/ideal')} "
            f"| {memory} MB |"
        )
    return "\n".join(lines)


def _baseline_table(rows: list[dict[str, Any]]) -> str:
    """The small-fleet table: plain ansible-playbook, agentmaint before and after."""
    lines = [
        "| work | stock | tuned | baseline `agentmaint run` | `agentmaint run` "
        "| baseline / agentmaint (per round) | stock / agentmaint | stock / baseline "
        "| tuned / agentmaint |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        med = row["median_s"]
        before = [
            round(s / b, 2)
            for s, b in zip(row["samples_s"]["stock"], row["samples_s"]["baseline"], strict=True)
        ]
        lines.append(
            f"| {row['label']} | {med['stock']:.2f} s | {med['tuned']:.2f} s "
            f"| {med['baseline']:.2f} s | {med['agentmaint']:.2f} s "
            f"| {_cell(row, 'baseline/agentmaint')} | {_cell(row, 'stock/agentmaint')} "
            f"| **{statistics.median(before):.2f}x** ({', '.join(f'{x:.2f}' for x in before)}) "
            f"| {_cell(row, 'tuned/agentmaint')} |"
        )
    return "\n".join(lines)


def startup(bin_dir: Path, baseline: Path | None, repeat: int) -> dict[str, Any]:
    """Wall seconds of ``agentmaint --help`` and ``agentmaint validate``, interleaved."""
    with tempfile.TemporaryDirectory(prefix="bench-install-startup-") as tmp:
        schedule = write_schedule(Path(tmp), local_hosts(1, bin_dir / "python"), steps(1, 0))
        installs = {"agentmaint": bin_dir} | ({"baseline": baseline} if baseline else {})
        samples: dict[str, list[float]] = {}
        for round_ in range(repeat + 1):  # the first round warms the caches, untimed
            for name, where in installs.items():
                for what, argv in (("help", ["--help"]), ("validate", ["validate", str(schedule)])):
                    seconds = timed(
                        [str(where / "agentmaint"), *argv],
                        clean_env(where),
                        label=f"{name} {what}",
                        interval=0.02,
                    ).seconds
                    if round_:
                        samples.setdefault(f"{name} {what}", []).append(seconds)
    return {
        "startup_median_s": {k: round(statistics.median(v), 3) for k, v in samples.items()},
        "startup_samples_s": {k: [round(x, 3) for x in v] for k, v in samples.items()},
    }


def numbers(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--venv", type=Path, help="where to install (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="reuse --venv if installed")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hosts", default="30,50", help="controller-bound host counts")
    parser.add_argument("--steps", default="1,3", help="steps per host (1 or 3)")
    parser.add_argument("--no-controller", action="store_true", help="skip that series")
    parser.add_argument("--wait-hosts", default="10,60", help="wait-bound host counts")
    parser.add_argument("--sleep", type=float, default=3.0, help="the wait-bound update (s)")
    parser.add_argument("--stock-max-hosts", type=int, default=100)
    parser.add_argument("--no-wait", action="store_true", help="skip the wait-bound series")
    parser.add_argument(
        "--connection",
        choices=("local", "ssh"),
        default="local",
        help="controller-bound series on local hosts or namespaced sshd hosts (root)",
    )
    parser.add_argument(
        "--ssh-timeout", type=int, default=30, help="ansible_timeout of the sshd hosts (s)"
    )
    parser.add_argument(
        "--ssh-extra-args",
        default="",
        help="ansible_ssh_extra_args of every sshd host (all commands alike)",
    )
    parser.add_argument(
        "--baseline-venv", type=Path, help="an earlier agentmaint installed there: run it too"
    )
    parser.add_argument(
        "--startup", type=int, default=0, metavar="N", help="time --help and validate, N rounds"
    )
    args = parser.parse_args()
    baseline = args.baseline_venv / "bin" if args.baseline_venv else None
    with tempfile.TemporaryDirectory(prefix="bench-install-venv-") as tmp:
        bin_dir = install(args.venv or Path(tmp) / "venv", reuse=args.reuse)
        meta: dict[str, Any] = {**installed(bin_dir), "strategy": strategy_of(bin_dir)}
        print(json.dumps({"installed": meta}), flush=True)
        if baseline is not None:
            meta["baseline"] = {**installed(baseline), "strategy": strategy_of(baseline)}
            print(json.dumps({"baseline": meta["baseline"]}), flush=True)
        print(json.dumps({"load_average": os.getloadavg()}), flush=True)
        if args.startup:
            print(json.dumps(startup(bin_dir, baseline, args.startup)), flush=True)
        rows = []
        if not args.no_controller:
            for hosts in numbers(args.hosts):
                with contextlib.ExitStack() as stack:
                    fleet = (
                        stack.enter_context(ssh_hosts(hosts, args.ssh_timeout, args.ssh_extra_args))
                        if args.connection == "ssh"
                        else None
                    )
                    for step_count in numbers(args.steps):
                        series = measure(
                            bin_dir,
                            hosts,
                            step_count=step_count,
                            sleep=0,
                            repeat=args.repeat,
                            run_stock=True,
                            fleet=fleet,
                            baseline=baseline,
                            ssh=args.connection == "ssh",
                        )
                        rows.append(summary(series))
                        print(json.dumps(rows[-1]), flush=True)
        if not args.no_wait:
            for hosts in numbers(args.wait_hosts):
                run_stock = hosts <= args.stock_max_hosts
                series = measure(
                    bin_dir,
                    hosts,
                    step_count=1,
                    sleep=args.sleep,
                    repeat=args.repeat,
                    run_stock=run_stock,
                )
                rows.append(summary(series))
                print(json.dumps(rows[-1]), flush=True)
    print(f"\ninstalled: {meta}\nload average at the end: {os.getloadavg()}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
