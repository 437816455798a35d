"""Scale benchmark of the history store and the planner.

Builds a temporary history of 10,000 hosts x 10 components with 1,000,000 roll-up
records (5 runs x 2 records per host and component), inserted through the public
API: one `HistoryStore.record_run` call per run, i.e. one `executemany` in one
transaction, followed by one set-based recomputation of attempts and host states.

Then it times, as medians of 5 runs:

* the baseline: ``SELECT COUNT(*) FROM records`` (a full scan) on a plain connection;
* `HistoryStore.states()` for all 100,000 (server, component) pairs;
* `HistoryStore.records()` newest 100, unfiltered and filtered by server or component;
* `agentmaint.planning.planner.plan()` over a schedule of 10 environments x 1,000 hosts x 10
  components with a daily window open at the planning instant (if the planner
  and parser import).

With ``--before CHECKOUT``, ``plan()`` of that source checkout is timed too, in a child
process over the same history, then this checkout's in a child process too, between two
timings of this one's in this process (issue 19's target:
``plan()`` <= 0.5 s at this size; CPU time is printed beside wall time, as this shared
machine's load moves wall time the most).

Run: ``.venv/bin/python bench/bench_plan_scale.py [--before CHECKOUT]``. Prints one line
per figure; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentmaint.history.store import HistoryStore, RunRecording
from agentmaint.records import Action, MaintenanceRecord, Outcome, RunRecord, RunStatus

HOSTS = 10_000
COMPONENTS = 10
ENVIRONMENTS = 10
RUNS = 5
REPEATS = 5
BASE = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # runs start daily at 01:00 UTC
AT = BASE + timedelta(days=RUNS, minutes=30)  # planning instant, inside the daily window

HOST_NAMES = [f"host-{i:05d}" for i in range(HOSTS)]
COMPONENT_NAMES = [f"comp{c}" for c in range(COMPONENTS)]
PER_ENV = HOSTS // ENVIRONMENTS


def env_of(host_index: int) -> str:
    return f"env{host_index // PER_ENV}"


def run_records(run: int) -> Iterator[MaintenanceRecord]:
    """An update and a health check per host and component; about 1 in 17 fails."""
    started = BASE + timedelta(days=run)
    for i, server in enumerate(HOST_NAMES):
        env = env_of(i)
        at = started + timedelta(seconds=i % 3600)
        for c, component in enumerate(COMPONENT_NAMES):
            yield MaintenanceRecord(at, env, server, component, Action.UPDATE, Outcome.SUCCESS)
            failed = (i + c + run) % 17 == 0
            yield MaintenanceRecord(
                at + timedelta(seconds=30),
                env,
                server,
                component,
                Action.HEALTHCHECK,
                Outcome.FAILED if failed else Outcome.SUCCESS,
                "health check timed out" if failed else None,
            )


def median_seconds(func: Callable[[], Any], cpu: list[float] | None = None) -> float:
    """The median wall time of REPEATS calls (their median CPU time appended to `cpu`)."""
    times, cpus = [], []
    for _ in range(REPEATS):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    if cpu is not None:
        cpu.append(statistics.median(cpus))
    return statistics.median(times)


# plan() of another checkout over the same history: prints its median wall and CPU ms.
# The checkout's modules are imported first: importing the benchmark puts this repository
# first on sys.path, and would otherwise bring this repository's agentmaint.
CHILD = """
import statistics, sys, time
from pathlib import Path
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from agentmaint.config.parse import parse_schedule
from agentmaint.history.store import HistoryStore
from agentmaint.planning.planner import plan
import bench_plan_scale as b
schedule = parse_schedule(b.schedule_document())
with HistoryStore.open(Path(sys.argv[3])) as store:
    cpu = []
    wall = b.median_seconds(lambda: plan(schedule, store, b.AT), cpu)
print(f"{wall * 1000:.1f} {cpu[0] * 1000:.1f}")
"""


def plan_of(checkout: Path, state_dir: Path) -> tuple[float, float]:
    """(wall, CPU) median seconds of `plan()` as `checkout` has it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(checkout), str(Path(__file__).parent), str(state_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=checkout,
    )
    wall, cpu = done.stdout.split()
    return float(wall) / 1000, float(cpu) / 1000


def schedule_document() -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "environments": {
            f"env{e}": {
                "servers": HOST_NAMES[e * PER_ENV : (e + 1) * PER_ENV],
                "update_schedule": {"day_of_week": "daily", "time": "01:00", "duration": "4h"},
            }
            for e in range(ENVIRONMENTS)
        },
        "components": {
            name: {"update_command": f"update {name}", "frequency": "daily"}
            for name in COMPONENT_NAMES
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Planning at scale: the history store and plan() over 10,000 hosts x 10 "
        "components with 1,000,000 records."
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="a source checkout whose plan() is timed too, over the same history",
    )
    before: Path | None = parser.parse_args().before
    with (
        tempfile.TemporaryDirectory(prefix="agentmaint-bench-") as tmp,
        HistoryStore.open(Path(tmp)) as store,
    ):
        path = store.path
        start = time.perf_counter()
        total = 0
        for run in range(RUNS):
            run_id = f"run-{run}"
            started = BASE + timedelta(days=run)
            store.begin_run(RunRecord(run_id, "schedule", started))
            records = list(run_records(run))
            total += len(records)
            ended = RunRecord(
                run_id,
                "schedule",
                started,
                status=RunStatus.SUCCESSFUL,
                finished=started + timedelta(hours=1),
                runner_rc=0,
            )
            store.record_run(RunRecording(ended, records=records))
        # 200,000 records alive would make every full pass of the garbage collector during
        # the timings below longer; a process that plans holds none of them.
        del records
        insert = time.perf_counter() - start
        print(
            f"insert {total:,} records ({HOSTS:,} hosts x {COMPONENTS} components x "
            f"{RUNS} runs x 2) via record_run: {insert:.2f} s "
            f"({total / insert:,.0f} records/s)"
        )
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        print(f"database size: {size / 2**20:.1f} MiB")

        raw = sqlite3.connect(path)
        try:
            count = raw.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            baseline = median_seconds(
                lambda: raw.execute("SELECT COUNT(*) FROM records").fetchone()
            )
        finally:
            raw.close()
        print(
            f"baseline SELECT COUNT(*) FROM records ({count:,} rows): "
            f"median {baseline * 1000:.1f} ms"
        )

        time_states(store, baseline)

        cases: tuple[tuple[str, dict[str, Any]], ...] = (
            ("newest 100", {}),
            ("server filter, newest 100", {"server": HOST_NAMES[4321]}),
            ("component filter, newest 100", {"component": COMPONENT_NAMES[3]}),
        )
        for label, filters in cases:

            def newest(filters: dict[str, Any] = filters) -> None:
                store.records(limit=100, **filters)

            t_records = median_seconds(newest)
            print(
                f"HistoryStore.records() {label}: median {t_records * 1000:.2f} ms "
                f"({t_records / baseline:.3f}x baseline)"
            )

        time_plan(store, baseline, before, Path(tmp))


def time_states(store: HistoryStore, baseline: float) -> None:
    """Time `HistoryStore.states()` for every (host, component) pair."""
    states: dict[str, int] = {}

    def all_states() -> None:
        states["n"] = len(store.states(HOST_NAMES, COMPONENT_NAMES))

    t_states = median_seconds(all_states)
    print(
        f"HistoryStore.states() for {states['n']:,} keys: median "
        f"{t_states * 1000:.1f} ms ({t_states / baseline:.2f}x baseline)"
    )


def time_plan(store: HistoryStore, baseline: float, before: Path | None, tmp: Path) -> None:
    """Time `plan()` over the whole schedule (and `before`'s, when given)."""
    try:
        from agentmaint.config.parse import parse_schedule
        from agentmaint.planning.planner import plan
    except ImportError as exc:
        print(f"plan(): skipped ({exc})")
        return
    schedule = parse_schedule(schedule_document())
    due: dict[str, int] = {}

    def run_plan() -> None:
        result = plan(schedule, store, AT)
        due["decisions"] = len(result.decisions)
        due["hosts"] = sum(len(d.servers) for d in result.due)

    cpu: list[float] = []
    t_plan = median_seconds(run_plan, cpu)
    print(
        f"plan() {ENVIRONMENTS} environments x {PER_ENV:,} hosts x {COMPONENTS} "
        f"components ({due['decisions']} decisions, {due['hosts']:,} host-components "
        f"due): median {t_plan * 1000:.1f} ms, CPU {cpu[0] * 1000:.1f} ms "
        f"({t_plan / baseline:.2f}x baseline; target <= 500 ms: "
        f"{'met' if t_plan <= 0.5 else 'missed'})"
    )
    if before is not None:
        # Both checkouts in a child process each (a fresh interpreter, as `agentmaint plan`
        # is), then this one again in this process.
        wall, before_cpu = plan_of(before.resolve(), tmp)
        this_wall, this_cpu = plan_of(Path(__file__).resolve().parent.parent, tmp)
        again = median_seconds(run_plan, cpu)
        print(
            f"  {before}: plan() median {wall * 1000:.1f} ms, CPU {before_cpu * 1000:.1f} ms "
            f"({wall / baseline:.2f}x baseline); this checkout in a child process: "
            f"{this_wall * 1000:.1f} ms, CPU {this_cpu * 1000:.1f} ms (before / this: "
            f"{before_cpu / this_cpu:.2f}x in CPU); this checkout again: {again * 1000:.1f} ms, "
            f"CPU {cpu[1] * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
