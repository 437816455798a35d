"""Event ingest: parse and store 100,000 events from an artifact directory.

The events are a real recorded run (tests/data/artifacts/fail_one_of_three) replicated
with fresh counters into one artifact directory of N events. Measured in the same run:

* baseline: read every job_events/*.json file and json-decode it (the I/O floor);
* agentmaint: `read_artifact_dir` (parse into typed results) + store the task results
  and host counts in a fresh SQLite history;
* memory: peak RSS of a child process that streams the N events through `EventParser`
  (as a live run does), against a child that only loads the same modules.

Usage: .venv/bin/python bench/bench_ingest.py [N]   (default 100000)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "artifacts" / "fail_one_of_three" / "job_events"


def replicate(target: Path, count: int) -> None:
    events = sorted(
        (json.loads(p.read_text()) for p in SOURCE.glob("*.json")), key=lambda e: e["counter"]
    )
    body = [e for e in events if e["event"] not in {"playbook_on_start", "playbook_on_stats"}]
    start = [e for e in events if e["event"] == "playbook_on_start"]
    stats = [e for e in events if e["event"] == "playbook_on_stats"]
    (target / "job_events").mkdir(parents=True)
    rounds = max(1, (count - len(start) - len(stats)) // len(body))
    sequence = start + body * rounds + stats
    for counter, event in enumerate(sequence[:count], 1):
        copy = dict(event, counter=counter, uuid=f"{counter:08d}-bench")
        (target / "job_events" / f"{counter}-{copy['uuid']}.json").write_text(json.dumps(copy))
    (target / "status").write_text("failed")
    (target / "rc").write_text("2")


def baseline(directory: Path) -> float:
    started = time.perf_counter()
    for path in (directory / "job_events").iterdir():
        json.loads(path.read_bytes())
    return time.perf_counter() - started


def agentmaint_ingest(directory: Path, state: Path) -> float:
    from datetime import UTC, datetime

    from agentmaint.events import read_artifact_dir
    from agentmaint.records import RunRecord
    from agentmaint.store import HistoryStore

    started = time.perf_counter()
    parsed = read_artifact_dir(directory)
    with HistoryStore.open(state) as store:
        run_id = f"bench-{time.monotonic_ns()}"
        store.begin_run(RunRecord(id=run_id, trigger="bench", started=datetime.now(UTC)))
        store.add_task_results(run_id, parsed.results)
        store.set_host_counts(run_id, parsed.counts)
    return time.perf_counter() - started


CHILD = """
import json, sys
from pathlib import Path
import agentmaint.events, agentmaint.store
if sys.argv[2] == "stream":
    parser = agentmaint.events.EventParser()
    for path in sorted(Path(sys.argv[1], "job_events").iterdir(),
                       key=lambda p: int(p.name.split("-")[0])):
        parser.feed(json.loads(path.read_bytes()))
    parser.finish()
# VmHWM: this process's own peak (ru_maxrss would include the parent's, kept over exec)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(int(hwm.split()[1]) // 1024)
"""


def peak_rss_mb(directory: Path, mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def parse_only(directory: Path) -> float:
    from agentmaint.events import EventParser

    events = [json.loads(p.read_bytes()) for p in (directory / "job_events").iterdir()]
    events.sort(key=lambda e: e["counter"])
    started = time.perf_counter()
    parser = EventParser()
    for event in events:
        parser.feed(event)
    parser.finish()
    return time.perf_counter() - started


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "artifacts" / "bench"
        replicate(directory, count)
        base, ours, parse = [], [], []
        for round_ in range(3):
            base.append(baseline(directory))
            ours.append(agentmaint_ingest(directory, Path(tmp) / f"state{round_}"))
            parse.append(parse_only(directory))
        b, o, p = (statistics.median(x) for x in (base, ours, parse))
        print(f"events: {count:,}")
        print(f"baseline read+json.loads of the files: median {b:.2f} s")
        print(f"agentmaint read+parse+store:           median {o:.2f} s ({o / b:.2f}x baseline)")
        print(f"agentmaint parse only (events in memory, as in a live run): median {p:.2f} s")
        idle, streaming = peak_rss_mb(directory, "idle"), peak_rss_mb(directory, "stream")
        print(
            f"peak RSS: modules only {idle} MB, streaming {count:,} events {streaming} MB "
            f"(+{streaming - idle} MB)"
        )


if __name__ == "__main__":
    main()
