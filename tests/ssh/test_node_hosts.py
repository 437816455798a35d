"""Execution-node test hosts: ansible-runner's streaming protocol over real SSH, no agentmaint.

``ansible-runner transmit`` on the controller | ``ssh node ansible-runner worker`` |
``ansible-runner process`` on the controller, with the node's own ansible-runner reaching
target hosts of the same session over SSH; then a node killed mid-run.
"""

from __future__ import annotations

import importlib.metadata
import json
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import yaml

from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import TestHost

pytestmark = pytest.mark.integration
IDENT = "x"
# How the controller notices a node that went silent (no FIN, no RST): ssh keepalives.
KEEPALIVE = ("-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2")


def controller_runner() -> str:
    """The controller's ansible-runner: next to this interpreter (the project's venv)."""
    beside = Path(sys.executable).parent / "ansible-runner"
    found = str(beside) if beside.is_file() else shutil.which("ansible-runner")
    assert found, "ansible-runner not found on the controller"
    return found


def private_data_dir(root: Path, targets: list[TestHost], command: str) -> Path:
    """project/play.yml (one command task on all hosts) and inventory/hosts.yml."""
    (root / "project").mkdir(parents=True)
    (root / "inventory").mkdir()
    task = {"name": "work", "ansible.builtin.command": command}
    play = [{"name": "smoke", "hosts": "all", "gather_facts": False, "tasks": [task]}]
    (root / "project" / "play.yml").write_text(yaml.safe_dump(play))
    hosts = {target.name: target.ansible_vars() for target in targets}
    (root / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return root


@dataclass
class Pipeline:
    """transmit | ssh node worker | process, as three processes joined by pipes."""

    transmit: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    process: subprocess.Popen[bytes]
    out: Path
    logs: list[BinaryIO]

    @property
    def artifacts(self) -> Path:
        return self.out / "artifacts" / IDENT

    def events(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted((self.artifacts / "job_events").glob("*.json")):
            try:
                found.append(json.loads(path.read_text()))
            except ValueError:  # still being written (process writes in place)
                continue
        return found

    def wait(self, timeout: float) -> tuple[int, int, int]:
        deadline = time.monotonic() + timeout
        codes = tuple(
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
            for p in (self.transmit, self.worker, self.process)
        )
        return codes[0], codes[1], codes[2]

    def log(self, name: str) -> str:
        return (self.out.parent / f"{name}.log").read_text(errors="replace")

    def close(self) -> None:
        for proc in (self.transmit, self.worker, self.process):
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        for log in self.logs:
            log.close()


@pytest.fixture
def pipelines() -> Iterator[list[Pipeline]]:
    """Pipelines started by a test: every process is killed and reaped after it."""
    started: list[Pipeline] = []
    yield started
    for pipeline in started:
        pipeline.close()


def start(
    pipelines: list[Pipeline], node: TestHost, data: Path, out: Path, ssh_options: tuple[str, ...]
) -> Pipeline:
    assert node.runner_path is not None
    runner = controller_runner()
    out.parent.mkdir(parents=True, exist_ok=True)
    logs = [(out.parent / f"{name}.log").open("wb") for name in ("transmit", "worker", "process")]
    workdir = f"/tmp/w-{secrets.token_hex(4)}"
    transmit = subprocess.Popen(
        [runner, "transmit", str(data), "-p", "play.yml"], stdout=subprocess.PIPE, stderr=logs[0]
    )
    ssh = node.ssh_argv()
    worker_argv = [ssh[0], *ssh_options, *ssh[1:]]
    worker_argv.append(f"{node.runner_path} worker --private-data-dir {workdir} --delete")
    worker = subprocess.Popen(
        worker_argv, stdin=transmit.stdout, stdout=subprocess.PIPE, stderr=logs[1]
    )
    assert transmit.stdout is not None and worker.stdout is not None
    transmit.stdout.close()  # the worker's end only: transmit sees the worker go
    process = subprocess.Popen(
        [runner, "process", str(out), "--ident", IDENT],
        stdin=worker.stdout,
        stdout=logs[2],
        stderr=subprocess.STDOUT,
    )
    worker.stdout.close()
    pipeline = Pipeline(transmit, worker, process, out, logs)
    pipelines.append(pipeline)
    return pipeline


def answers(address: str, port: int = 22, timeout: float = 3.0) -> str | None:
    """How a TCP connection to the address ends: None when it got no answer at all."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "accepted"
    except ConnectionRefusedError:
        return "refused"
    except OSError:  # timed out, host unreachable (no ARP answer)
        return None


def test_jobs_stream_through_two_nodes_to_their_targets(
    make_sshd_hosts: MakeSshdHosts, pipelines: list[Pipeline], tmp_path: Path
) -> None:
    hosts = make_sshd_hosts(6, nodes=2)
    nodes, targets = hosts[:2], hosts[2:]
    assert [n.runner_path for n in nodes] == ["/opt/agentmaint-node/bin/ansible-runner"] * 2
    assert all(t.runner_path is None for t in targets)
    assert nodes[0].ssh_url() == f"ssh://root@{nodes[0].address}:22"
    versions = f"{importlib.metadata.version('ansible-runner')}\n"
    for node in nodes:
        done = node.ssh(f"{node.runner_path} --version && ansible-playbook --version")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(versions)
        assert f"[core {importlib.metadata.version('ansible-core')}]" in done.stdout
        assert node.ssh(f"stat -c %a:%U {node.private_key}").stdout == "600:root\n"

    # Two shards of two targets each, one per node, at the same time.
    shards = {nodes[0]: targets[:2], nodes[1]: targets[2:]}
    started = [
        start(
            pipelines,
            node,
            private_data_dir(tmp_path / f"data-{i}", shard, "hostname"),
            tmp_path / f"job-{i}" / "out",
            KEEPALIVE,
        )
        for i, (node, shard) in enumerate(shards.items())
    ]
    for pipeline, shard in zip(started, shards.values(), strict=True):
        codes = pipeline.wait(timeout=120)
        assert codes == (0, 0, 0), pipeline.log("worker") + pipeline.log("process")
        assert (pipeline.artifacts / "rc").read_text().strip() == "0"
        assert (pipeline.artifacts / "status").read_text().strip() == "successful"
        ok = {
            e["event_data"]["host"]: e["event_data"]["res"]["stdout"]
            for e in pipeline.events()
            if e["event"] == "runner_on_ok"
        }
        assert ok == {target.name: target.name for target in shard}


@pytest.mark.parametrize("silent", [False, True], ids=["crash", "power-cut"])
def test_a_node_killed_mid_run_ends_its_pipeline(
    make_sshd_hosts: MakeSshdHosts, pipelines: list[Pipeline], tmp_path: Path, silent: bool
) -> None:
    """The node dies while its targets run `sleep 30`: the stream ends, the node is gone."""
    node, *targets = make_sshd_hosts(3, nodes=1)
    data = private_data_dir(tmp_path / "data", targets, "sleep 30")
    pipeline = start(pipelines, node, data, tmp_path / "job" / "out", KEEPALIVE)
    deadline = time.monotonic() + 60
    while {
        e["event_data"]["host"] for e in pipeline.events() if e["event"] == "runner_on_start"
    } != {t.name for t in targets}:  # the events stream back live
        assert pipeline.worker.poll() is None, pipeline.log("worker")
        assert time.monotonic() < deadline, "the sleep task never started on both targets"
        time.sleep(0.1)

    killed = time.monotonic()
    node.kill(silent=silent)
    worker_rc = pipeline.worker.wait(timeout=15)
    ended = time.monotonic() - killed
    pipeline.wait(timeout=15)  # transmit and process end too, whatever their exit code

    assert worker_rc == 255, pipeline.log("worker")  # ssh: the connection was lost
    assert ended < (5 if silent else 2), f"the stream ended {ended:.1f}s after the kill"
    assert not any(e["event"] == "runner_on_ok" for e in pipeline.events())
    assert answers(node.address) is None
    assert node.ssh("true", timeout=20).returncode == 255
    for target in targets:  # the targets live on
        assert target.ssh("true").returncode == 0
