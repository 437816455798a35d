"""Event ingest: parse and store 100,000 events from an artifact directory.

The events are a real recorded run (tests/data/artifacts/fail_one_of_three) replicated
with fresh counters into one artifact directory of N events. Measured in the same run,
alternating, medians of ROUNDS repetitions:

* baseline: read every job_events/*.json file with ``Path.read_bytes`` and
  ``json.loads`` it (the obvious way to read the directory);
* floor: the same with the cheapest plain reads (``os.listdir``, then ``os.open``
  relative to the directory, one ``os.read``, ``os.close``) and ``json.loads``: about
  what reading and decoding alone cost, whatever is done with the events;
* floor with orjson: the same reads, decoded with ``orjson.loads`` (what agentmaint
  decodes the files with): the floor for a reader that uses the faster decoder too;
* agentmaint: `read_artifact_dir` (read, parse into typed results) + store the task
  results and host counts in a fresh SQLite history (the store part also on its own);
* the CLI (issue 19's figure): ``agentmaint events --json DIR`` as a user runs it (a new
  process, its modules compiled to bytecode as an install does, stdout to /dev/null),
  against both floors of the same round: the whole command, start-up and JSON included;
  with ``--before CHECKOUT``, that source checkout's CLI too (``python -m agentmaint`` with
  it first on ``PYTHONPATH``), interleaved (``--baseline-venv VENV``: a venv's installed CLI);
* parse only: the events already decoded in memory, as during a live run (kept out of
  the garbage collector's way, as a live run holds one event at a time);
* memory: peak RSS (VmHWM) of a child process doing what a live run's controller does
  with the N events (feed them one by one to `EventParser`, follow `results_since`,
  `finish`, store the results and counts), against a child that only loads the modules.

Usage: .venv/bin/python bench/bench_ingest.py [N] [--before CHECKOUT] [--cli-only]
[--venv VENV] [--baseline-venv VENV] (default 100000 events; --cli-only: only the baseline,
the floors and the CLI; --venv, --baseline-venv: the CLIs installed in these venvs, as a user
runs them, instead of this checkout's and --before's; --help)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "artifacts" / "fail_one_of_three" / "job_events"
ROUNDS = 5


def replicate(target: Path, count: int) -> None:
    events = sorted(
        (json.loads(p.read_text()) for p in SOURCE.glob("*.json")), key=lambda e: e["counter"]
    )
    body = [e for e in events if e["event"] not in {"playbook_on_start", "playbook_on_stats"}]
    start = [e for e in events if e["event"] == "playbook_on_start"]
    stats = [e for e in events if e["event"] == "playbook_on_stats"]
    (target / "job_events").mkdir(parents=True)
    # exactly `count` events (the last round cut short), ending with the recap
    rounds, extra = divmod(max(0, count - len(start) - len(stats)), len(body))
    sequence = start + body * rounds + body[:extra] + stats
    for counter, event in enumerate(sequence, 1):
        copy = dict(event, counter=counter, uuid=f"{counter:08d}-bench")
        (target / "job_events" / f"{counter}-{copy['uuid']}.json").write_text(json.dumps(copy))
    (target / "status").write_text("failed")
    (target / "rc").write_text("2")


Times = tuple[float, float]  # (wall, CPU of this process) in seconds


def clocks() -> Times:
    return time.perf_counter(), time.process_time()


def since(start: Times) -> Times:
    wall, cpu = clocks()
    return wall - start[0], cpu - start[1]


def baseline(directory: Path) -> Times:
    started = clocks()
    for path in (directory / "job_events").iterdir():
        json.loads(path.read_bytes())
    return since(started)


def floor(directory: Path, loads: Callable[[bytes], Any] = json.loads) -> Times:
    started = clocks()
    events = directory / "job_events"
    dir_fd = os.open(events, os.O_RDONLY)
    try:
        for name in os.listdir(events):
            fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
            try:
                data = os.read(fd, 1 << 16)
            finally:
                os.close(fd)
            loads(data)
    finally:
        os.close(dir_fd)
    return since(started)


def cli_env(before: Path | None) -> dict[str, str]:
    """The CLI's environment: bytecode compiled once (as pip does), and kept."""
    for root in (ROOT, before):
        if root is not None:
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", str(root / "agentmaint")],
                check=True,
                stdout=subprocess.DEVNULL,
            )
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def children_cpu() -> float:
    """CPU time (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli(
    directory: Path, env: dict[str, str], code: Path | None = None, venv: Path | None = None
) -> Times:
    """(wall, CPU) of ``agentmaint events --json``: of this checkout, of checkout `code`, or
    as installed in `venv` (its own Python, run outside any checkout)."""
    python, cwd = sys.executable, code or ROOT
    if venv is not None:
        python, cwd = str(venv / "bin" / "python"), directory.parent
    elif code is not None:
        env = dict(env, PYTHONPATH=str(code))
    started, started_cpu = time.perf_counter(), children_cpu()
    subprocess.run(
        [python, "-m", "agentmaint", "events", "--json", str(directory)],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    return time.perf_counter() - started, children_cpu() - started_cpu


def agentmaint_ingest(directory: Path, state: Path) -> tuple[Times, Times]:
    """(read + parse + store, store alone)."""
    from datetime import UTC, datetime

    from agentmaint.ansible.events import read_artifact_dir
    from agentmaint.history.store import HistoryStore, RunRecording
    from agentmaint.records import RunRecord, RunStatus

    started = clocks()
    parsed = read_artifact_dir(directory)
    storing = clocks()
    with HistoryStore.open(state) as store:
        run_id = f"bench-{time.monotonic_ns()}"
        now = datetime.now(UTC)
        store.begin_run(RunRecord(id=run_id, trigger="bench", started=now))
        run = RunRecord(run_id, "bench", now, status=RunStatus.FAILED, finished=now, runner_rc=2)
        store.record_run(RunRecording(run, parsed.results, parsed.counts))
    return since(started), since(storing)


# A live run's controller: events arrive one by one (here from the files, in counter
# order, named as `replicate` names them), progress follows `results_since`, and the
# results and counts are stored at the end.
CHILD = """
import json, os, sys, tempfile
from datetime import UTC, datetime
from pathlib import Path
import agentmaint.ansible.events, agentmaint.history.store
from agentmaint.records import RunRecord, RunStatus
if sys.argv[2] == "run":
    events = os.path.join(sys.argv[1], "job_events")
    parser, seen = agentmaint.ansible.events.EventParser(), 0
    for counter in range(1, int(sys.argv[3]) + 1):
        with open(os.path.join(events, f"{counter}-{counter:08d}-bench.json"), "rb") as f:
            parser.feed(json.loads(f.read()))
        seen += len(parser.results_since(seen))
    parsed = parser.finish(status="failed", rc=2)
    with tempfile.TemporaryDirectory() as state:
        with agentmaint.history.store.HistoryStore.open(Path(state)) as store:
            now = datetime.now(UTC)
            store.begin_run(RunRecord(id="r", trigger="bench", started=now))
            run = RunRecord("r", "bench", now, status=RunStatus.FAILED, finished=now)
            store.record_run(
                agentmaint.history.store.RunRecording(run, parsed.results, parsed.counts)
            )
# VmHWM: this process's own peak (ru_maxrss would include the parent's, kept over exec)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(int(hwm.split()[1]) // 1024)
"""


def peak_rss_mb(directory: Path, mode: str, count: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), mode, str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def parse_only(directory: Path) -> Times:
    from agentmaint.ansible.events import EventParser

    # A live run holds one event at a time, freshly decoded: decode them in stream
    # order (so that memory order is feeding order, not directory order), and keep them
    # out of the garbage collector's passes, which would otherwise walk them all again.
    paths = sorted((directory / "job_events").iterdir(), key=lambda p: int(p.name.split("-", 1)[0]))
    events = [json.loads(p.read_bytes()) for p in paths]
    gc.freeze()
    try:
        started = clocks()
        parser = EventParser()
        for event in events:
            parser.feed(event)
        parser.finish()
        return since(started)
    finally:
        gc.unfreeze()


def median(times: list[Times]) -> Times:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def per_round(times: list[Times], floors: list[Times], which: int) -> str:
    """The ratios of `times` to the floors of the same rounds (0: wall, 1: CPU)."""
    return ", ".join(f"{t[which] / f[which]:.2f}" for t, f in zip(times, floors, strict=True))


def report_cli(
    commands: list[Times], earlier: list[Times], low: list[Times], low_orjson: list[Times]
) -> None:
    """The CLI's figures against both floors (with ``--before``, the checkout's too)."""
    (f, fc), (fo, foc), (c, cc) = median(low), median(low_orjson), median(commands)
    print(
        f"agentmaint events --json (the CLI, a new process): {c:.2f} s ({cc:.2f} s), "
        f"{c / f:.2f}x floor, CPU {cc / fc:.2f}x the floor's (per-round ratios: wall "
        f"{per_round(commands, low, 0)}; CPU {per_round(commands, low, 1)}; target <= 1.3x)"
    )
    print(
        f"  against the orjson floor: {c / fo:.2f}x wall, CPU {cc / foc:.2f}x (per-round: "
        f"wall {per_round(commands, low_orjson, 0)}; CPU {per_round(commands, low_orjson, 1)})"
    )
    if earlier:
        e, ec = median(earlier)
        print(
            f"  the --before (--baseline-venv) CLI: {e:.2f} s ({ec:.2f} s), {e / f:.2f}x floor, "
            f"CPU {ec / fc:.2f}x the floor's (per-round CPU {per_round(earlier, low, 1)}); "
            f"against the orjson floor {e / fo:.2f}x wall, CPU {ec / foc:.2f}x"
        )


def arguments() -> argparse.Namespace:
    """The command line (see the module doc)."""
    parser = argparse.ArgumentParser(
        description="Event ingest: agentmaint's reading, parsing and storing of N events, and "
        "`agentmaint events --json` against the floor of reading and decoding the files.",
    )
    parser.add_argument(
        "count", nargs="?", type=int, default=100_000, help="events to replicate (default 100000)"
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="PATH",
        help="a source checkout whose CLI is timed too, interleaved (python -m agentmaint)",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        metavar="VENV",
        help="time the CLI installed in this venv (as a user installs it) instead of this "
        "checkout's",
    )
    parser.add_argument(
        "--baseline-venv",
        type=Path,
        metavar="VENV",
        help="a venv whose installed CLI is timed too, interleaved (like --before)",
    )
    parser.add_argument(
        "--cli-only",
        action="store_true",
        help="only the baseline, the floors and the CLI (no store, parse-only or memory runs)",
    )
    return parser.parse_args()


def main() -> None:
    args = arguments()
    before: Path | None = args.before.resolve() if args.before is not None else None
    cli_only: bool = args.cli_only
    count: int = args.count
    env = cli_env(before)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "artifacts" / "bench"
        replicate(directory, count)
        base: list[Times] = []
        low: list[Times] = []
        low_orjson: list[Times] = []
        ours: list[Times] = []
        store: list[Times] = []
        commands: list[Times] = []
        earlier: list[Times] = []
        for round_ in range(ROUNDS):
            base.append(baseline(directory))
            low.append(floor(directory))
            low_orjson.append(floor(directory, orjson.loads))
            commands.append(cli(directory, env, venv=args.venv))
            if before is not None or args.baseline_venv is not None:
                earlier.append(cli(directory, env, before, args.baseline_venv))
            if not cli_only:
                total, storing = agentmaint_ingest(directory, Path(tmp) / f"state{round_}")
                ours.append(total)
                store.append(storing)
        (b, bc), (f, fc), (fo, foc) = map(median, (base, low, low_orjson))
        print(
            f"events: {count:,}; medians of {ROUNDS} alternating rounds, wall (CPU); "
            f"load average {load:.1f} before, {os.getloadavg()[0]:.1f} after"
        )
        print(f"baseline read_bytes+json.loads of the files: {b:.2f} s ({bc:.2f} s)")
        print(f"floor os.read+json.loads of the files:       {f:.2f} s ({fc:.2f} s), {f / b:.2f}x")
        print(f"floor os.read+orjson.loads of the files:     {fo:.2f} s ({foc:.2f} s)")
        report_cli(commands, earlier, low, low_orjson)
        if cli_only:
            return
        parse = [parse_only(directory) for _ in range(ROUNDS)]
        (o, oc), (s, sc), (p, pc) = map(median, (ours, store, parse))
        print(
            f"agentmaint read+parse+store:                 {o:.2f} s ({oc:.2f} s), "
            f"{o / b:.2f}x baseline, {o / f:.2f}x floor; storing {s:.2f} s ({sc:.2f} s)"
        )
        print(f"agentmaint parse only (events in memory, as in a live run): {p:.2f} s ({pc:.2f} s)")
        idle, running = peak_rss_mb(directory, "idle", count), peak_rss_mb(directory, "run", count)
        print(
            f"peak RSS: modules only {idle} MB, live-run controller over {count:,} events "
            f"{running} MB (+{running - idle} MB)"
        )


if __name__ == "__main__":
    main()
