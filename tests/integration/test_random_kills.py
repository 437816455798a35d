"""SIGKILL at random moments: the history still tells the truth, each fact once.

A bounded number of kills at random offsets of real runs on local hosts: during the
run (wherever it is: planning, the job, the recording), at a random statement inside
the recording transaction, and at a random statement inside the recording of a
recovery. Between the kills, each new command recovers what the dead one left. Then
one clean run finishes what is left, and the test checks what an operator relies on:

- every update that happened on a host (the host's marker file, written by the update
  command as its last step, names the run) is in the history exactly once, as a
  success of that same run, and nothing the hosts did not do is recorded as done;
- no run is left ``running``, and no process of any run is left;
- no host is maintained twice in one window (each component is weekly, the window is
  always open: one marker line per host and component).

The seed is random per session and printed with every failure;
``AGENTMAINT_KILL_SEED=N`` replays one, ``AGENTMAINT_KILLS=N`` sets the number of kills.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from agentmaint.ansible.runner import run_processes
from agentmaint.history.store import open_history
from agentmaint.records import RunStatus
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ("h1", "h2", "h3", "h4")
KILLS = int(os.environ.get("AGENTMAINT_KILLS", "8"))
#: Statements a recording makes for these runs are a few dozen: kill among the first ones.
STATEMENTS = 16


def write_schedule(path: Path, components: int, markers: Path, history_url: str | None) -> None:
    """`components` weekly components; each update leaves the run id in a marker, last."""
    update = (
        "sleep 0.$((RANDOM % 6)); "
        f'echo "$AGENTMAINT_RUN_ID" >> {markers}/"$AGENTMAINT_COMPONENT-$AGENTMAINT_HOST"'
    )
    document = always_open(
        local_hosts(*HOSTS),
        {f"app{i}": {"update_command": update, "frequency": "weekly"} for i in range(components)},
    )
    # hosts in waves (not in the background, which auto would choose with no history yet):
    # kills land in every phase
    document["execution"] = {"forks": 2, "background": False}
    if history_url is not None:
        document["history"] = {"url": history_url}
    path.write_text(yaml.safe_dump(document))


def agentmaint(*argv: str | Path, **env: int) -> subprocess.Popen[str]:
    """``agentmaint ARGV`` with the recording fault hook (tests/integration/record_faults.py)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.record_faults", *map(str, argv)],
        cwd=ROOT,
        env={**os.environ, **{k: str(v) for k, v in env.items()}},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = process.communicate(timeout=600)
    return process.returncode, err


def test_random_sigkills_leave_a_truthful_history(tmp_path: Path, history_url: str | None) -> None:
    seed = int(os.environ.get("AGENTMAINT_KILL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    path, markers = tmp_path / "schedule.yaml", tmp_path / "markers"
    markers.mkdir()
    done: list[str] = []

    for kill in range(KILLS):
        # Each kill brings a new component (due everywhere) on top of what is left due.
        write_schedule(path, kill + 1, markers, history_url)
        how = rng.choice(("during the run", "inside its recording", "inside a recovery"))
        if how == "during the run":
            process = agentmaint("run", path)
            time.sleep(rng.uniform(0.0, 4.0))
            process.kill()
            code, err = finish(process)
        elif how == "inside its recording":
            code, err = finish(agentmaint("run", path, FAULT_KILL_AT=rng.randrange(STATEMENTS)))
        else:
            process = agentmaint("run", path)  # a dead run for the recovery to record
            time.sleep(rng.uniform(0.5, 4.0))
            process.kill()
            finish(process)
            code, err = finish(agentmaint("recover", path, FAULT_KILL_AT=rng.randrange(STATEMENTS)))
        assert "Traceback" not in err, (seed, kill, how, err)
        assert code in (-9, 0, 1), (seed, kill, how, code, err)  # killed, or it ended first
        done.append(f"{how}: exit {code}")

    # What is left due is done by one clean run (which first recovers the last dead one).
    code, err = finish(agentmaint("run", path))
    assert code == 0, (seed, done, err)
    code, err = finish(agentmaint("recover", path))
    assert code == 0, (seed, done, err)

    context = (seed, done)
    with open_history(history_url, tmp_path / ".agentmaint", readonly=True) as store:
        runs = store.runs()
        assert [r.id for r in runs if r.status is RunStatus.RUNNING] == [], context
        for run in runs:
            assert run_processes(run.id) == [], (context, run.id)
        records = store.records()
        facts = [
            (t.host, t.play, t.task, t.counter, run.id)
            for run in runs
            for t in store.task_results(run.id)
        ]
    assert len(facts) == len(set(facts)), context  # no task result twice

    actions = Counter((r.run_id, r.server, r.component, r.action.value) for r in records)
    assert [key for key, n in actions.items() if n > 1] == [], context  # no record twice
    updates: dict[tuple[str, str], list[tuple[str, str, str | None]]] = {}
    for r in records:
        if r.action.value == "update":
            updates.setdefault((r.component, r.server), []).append(
                (r.run_id, r.status.value, r.error)
            )
    for component in (f"app{i}" for i in range(KILLS)):
        for host in HOSTS:
            marker = markers / f"{component}-{host}"
            lines = marker.read_text().split() if marker.exists() else []
            history = updates.get((component, host), [])
            successes = [run for run, status, _ in history if status == "success"]
            cut = [run for run, _, error in history if "interrupted while running" in (error or "")]
            where = (context, component, host, lines, history)
            # Never maintained twice in the window.
            assert len(lines) <= 1, where
            # A success in the history happened on the host, in that run, and only once.
            assert successes == lines or not successes, where
            if lines and not successes:
                # Done on the host while its controller died, before the result reached
                # any record: the history says the outcome was cut short in that run (and
                # the host waits for the next window rather than risk a second update).
                assert lines[0] in cut, where
            # Nothing is silently abandoned: done, or recorded as cut short in a run.
            assert successes or cut, where
