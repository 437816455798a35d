"""Execution nodes through a local pipe: the real transmit -> worker -> process protocol, with
an `ssh` stand-in that runs the node's command on this machine (no root, no network).

The same runs over real SSH to namespaced nodes are in tests/ssh/test_execution_nodes.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.runner import run_processes
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.planning.planner import plan
from agentmaint.records import RunStatus
from agentmaint.run.observer import BaseObserver
from tests.schedules import MakeSchedule, always_open, history_shape

pytestmark = pytest.mark.integration
RUNNER = str(Path(sys.executable).parent / "ansible-runner")

# ssh [options] -- destination command: runs `command` here; destination "down" fails as
# an unreachable node does.
FAKE_SSH = """#!/bin/sh
while [ "$1" != "--" ]; do shift; done
shift
if [ "$1" = "root@down" ]; then
    echo "ssh: connect to host down port 22: Connection refused" >&2
    exit 255
fi
shift
exec sh -c "$1"
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(FAKE_SSH)
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")


def temporary_entries(run_id: str) -> list[str]:
    """What the system's temporary directory (the nodes' work_dir too) holds of a run."""
    return sorted(name for name in os.listdir(tempfile.gettempdir()) if run_id in name)


def hosts(*names: str) -> dict[str, dict[str, Any]]:
    # On a node, local hosts keep the node's interpreter: name this one (the "node" is here).
    return {
        n: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for n in names
    }


def document(
    out: Path,
    nodes: list[str],
    command: str | None = None,
    execution_timeout: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    execution: dict[str, Any] = {
        "nodes": [
            {"name": f"n{i}", "url": f"ssh://root@{node}", "ansible_runner": RUNNER}
            for i, node in enumerate(nodes, 1)
        ]
    }
    if execution_timeout is not None:
        execution["timeout"] = execution_timeout
    return always_open(
        hosts("h1", "h2", "h3", "h4"),
        {
            "app": {
                "update_command": command or f"echo updated > {out}/$AGENTMAINT_HOST",
                "frequency": "weekly",
            }
        },
        execution=execution,
        **extra,
    )


@pytest.mark.usefixtures("fake_ssh")
def test_two_nodes_record_what_a_local_run_records(
    tmp_path: Path, make_schedule: MakeSchedule
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    sliced = make_schedule(document(out, ["node-a", "node-b"], state_dir=str(tmp_path / "s1")))
    result = run_maintenance(sliced)
    assert result.run is not None and result.run.status is RunStatus.SUCCESSFUL, result.run
    assert sorted(p.name for p in out.iterdir()) == ["h1", "h2", "h3", "h4"]
    run_dir = sliced.state_dir / "runs" / result.run.id
    assert result.run.artifact_dir == run_dir / "slices"
    for directory, ident, names in (("1-n1", "1", {"h1", "h3"}), ("2-n2", "2", {"h2", "h4"})):
        artifacts = run_dir / "slices" / directory / "artifacts" / f"{result.run.id}-{ident}"
        assert (artifacts / "rc").read_text() == "0"
        assert (artifacts / "status").read_text() == "successful"
        events = "".join(p.read_text() for p in (artifacts / "job_events").glob("*.json"))
        assert all(f'"host": "{h}"' in events for h in names)
        assert not any(f'"host": "{h}"' in events for h in {"h1", "h2", "h3", "h4"} - names)

    for p in out.iterdir():
        p.unlink()
    local = make_schedule(document(out, [], state_dir=str(tmp_path / "s2")))
    plain = run_maintenance(local)
    assert plain.run is not None and plain.run.status is RunStatus.SUCCESSFUL
    with HistoryStore.open(sliced.state_dir) as a, HistoryStore.open(local.state_dir) as b:
        assert history_shape(a, result.run.id) == history_shape(b, plain.run.id)


@pytest.mark.usefixtures("fake_ssh")
def test_unreachable_node_fails_its_slice_only(tmp_path: Path, make_schedule: MakeSchedule) -> None:
    out = tmp_path / "out"
    out.mkdir()
    schedule = make_schedule(document(out, ["node-a", "down"]))
    result = run_maintenance(schedule)
    assert result.run is not None and result.run.status is RunStatus.FAILED
    reason = (
        "execution node n2 (ssh://root@down): ssh: connect to host down port 22: Connection refused"
    )
    assert result.run.message == f"slice 2 (n2): {reason}"
    assert sorted(p.name for p in out.iterdir()) == ["h1", "h3"]  # the other slice went on
    with HistoryStore.open(schedule.state_dir) as store:
        records = {(r.server, r.status.value, r.error) for r in store.records(run_id=result.run.id)}
        assert records == {
            ("h1", "success", None),
            ("h3", "success", None),
            ("h2", "skipped", reason),
            ("h4", "skipped", reason),
        }
        # The unreachable slice's hosts are due again at once; the others are done.
        (decision,) = plan(schedule, store, result.plan.at).decisions
        assert decision.servers == ("h2", "h4")


@pytest.mark.usefixtures("fake_ssh")
def test_cancel_ends_the_job_on_the_node(tmp_path: Path, make_schedule: MakeSchedule) -> None:
    schedule = make_schedule(document(tmp_path, ["node-a", "node-b"], command="sleep 60"))
    cancel = threading.Event()
    started: list[str] = []

    class CancelWhenRunning(BaseObserver):
        def status_changed(self, status: str) -> None:
            if status == "running" and not started:
                started.append(status)
                threading.Timer(3.0, cancel.set).start()

    result = run_maintenance(schedule, cancel=cancel, observers=[CancelWhenRunning()])
    assert started
    assert result.run is not None and result.run.status is RunStatus.CANCELED
    with HistoryStore.open(schedule.state_dir) as store:
        statuses = {(r.server, r.status.value) for r in store.records(run_id=result.run.id)}
    assert statuses == {(h, "failed") for h in ("h1", "h2", "h3", "h4")}  # cut short mid-update
    # The killed workers never removed their job directories on the "nodes": the cancel did.
    assert temporary_entries(result.run.id) == []
    # The autouse check then finds no process of the run left, here or on the "nodes".


@pytest.mark.usefixtures("fake_ssh")
def test_rendered_node_slice_runs_by_hand_and_imports(
    tmp_path: Path, make_schedule: MakeSchedule
) -> None:
    """`render --node` + the pipeline it prints (what the README's Receptor recipe does)."""
    out = tmp_path / "out"
    out.mkdir()
    schedule = make_schedule(document(out, ["node-a", "node-b"]))
    source = str(tmp_path / "schedule.yaml")
    agentmaint = str(Path(sys.executable).parent / "agentmaint")
    job = tmp_path / "slice"
    rendered = subprocess.run(
        [agentmaint, "render", source, "--force", "--node", "n2", "--out", str(job)],
        capture_output=True,
        text=True,
        check=True,
    )
    pipeline = rendered.stdout.splitlines()[-1].removeprefix("send with: ")
    subprocess.run(["bash", "-c", pipeline], capture_output=True, check=True, timeout=300)
    assert sorted(p.name for p in out.iterdir()) == ["h2", "h4"]  # n2's share only
    (artifacts,) = (job / "artifacts").iterdir()
    imported = subprocess.run(
        [agentmaint, "history", "import", source, str(artifacts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    with HistoryStore.open(schedule.state_dir) as store:
        (run,) = store.runs()
        assert {(r.server, r.status.value) for r in store.records(run_id=run.id)} == {
            ("h2", "success"),
            ("h4", "success"),
        }
    missing = subprocess.run(
        [agentmaint, "render", source, "--force", "--node", "n9", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 2
    assert "--node: 'n9' is not an execution node (known: n1, n2, local)" in missing.stderr


@pytest.mark.usefixtures("fake_ssh")
def test_controller_killed_during_a_sliced_run(tmp_path: Path, make_schedule: MakeSchedule) -> None:
    """SIGKILL of the controller mid-run: `agentmaint recover` ends every slice's processes and
    records what each slice's artifacts hold."""
    started = tmp_path / "started"
    started.mkdir()
    command = f'touch {started}/"$AGENTMAINT_HOST"; sleep 120'
    schedule = make_schedule(document(tmp_path, ["node-a", "node-b"], command=command))
    source = tmp_path / "schedule.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "agentmaint", "run", str(source), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(list(started.iterdir())) < 4:
        assert time.monotonic() < deadline, "the updates never started"
        time.sleep(0.2)
    process.kill()
    process.wait(timeout=30)
    with HistoryStore.open(schedule.state_dir) as store:
        (run,) = store.runs()
    assert run.status is RunStatus.RUNNING
    assert run_processes(f"{run.id}-1") != [] and run_processes(f"{run.id}-2") != []
    # Its ControlPath directory here, and each job's directory on its "node" (here too).
    jobs = [f"agentmaint-{run.id}-1", f"agentmaint-{run.id}-2"]
    (control,) = set(temporary_entries(run.id)) - set(jobs)
    assert control.startswith(f"agentmaint-cp-{run.id}-")
    assert sorted(temporary_entries(run.id)) == sorted([control, *jobs])

    listed = subprocess.run(
        [str(Path(sys.executable).parent / "agentmaint"), "recover", str(source), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert run_processes(f"{run.id}-1") == [] and run_processes(f"{run.id}-2") == []
    assert temporary_entries(run.id) == []  # the recovery ended the jobs on their nodes
    with HistoryStore.open(schedule.state_dir) as store:
        recovered = store.get_run(run.id)
        assert recovered is not None and recovered.status is RunStatus.INTERRUPTED
        records = {(r.server, r.action.value, r.status.value, r.error) for r in store.records()}
    assert records == {
        (h, "update", "failed", "interrupted while running: the controller died")
        for h in ("h1", "h2", "h3", "h4")
    }


@pytest.mark.usefixtures("fake_ssh")
def test_timeout_travels_with_the_job(tmp_path: Path, make_schedule: MakeSchedule) -> None:
    """execution.timeout is enforced by the node's worker; the run is recorded timeout."""
    schedule = make_schedule(
        document(tmp_path, ["node-a", "node-b"], command="sleep 60", execution_timeout="5s")
    )
    started = time.monotonic()
    result = run_maintenance(schedule)
    assert time.monotonic() - started < 45
    assert result.run is not None and result.run.status is RunStatus.TIMEOUT
    with HistoryStore.open(schedule.state_dir) as store:
        statuses = {(r.server, r.status.value) for r in store.records(run_id=result.run.id)}
    assert statuses == {(h, "failed") for h in ("h1", "h2", "h3", "h4")}
