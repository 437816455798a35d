"""Execution nodes for real: two namespaced sshd hosts with ansible-runner installed, 20
target hosts sharded across them, jobs streamed with transmit -> ssh worker -> process.

The same protocol through a local pipe is in tests/integration/test_remote_pipe.py.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.planning.planner import plan
from agentmaint.records import Action, RunStatus
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import TaskStart
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import TestHost, stop_ssh_clients
from tests.schedules import always_open, history_shape

pytestmark = pytest.mark.integration
TARGETS = 20


def write_schedule(directory: Path, document: dict[str, Any]) -> Schedule:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_schedule(path)


def document(
    targets: list[TestHost], nodes: list[TestHost], work: str, *, update: str, **env: Any
) -> dict[str, Any]:
    return always_open(
        {t.name: dict(t.ansible_vars()) for t in targets},
        {
            "app": {
                "update_command": update,
                "healthcheck": {"command": f"test -s {work}/version", "retries": 1},
                "frequency": "weekly",
            }
        },
        backup={"pre_update": True, "backup_command": f"mkdir -p {work} && touch {work}/backup"},
        execution={"nodes": [node.execution_node(f"n{i}") for i, node in enumerate(nodes, 1)]},
        environment=env,
    )


def on_host(host: TestHost, command: str) -> str:
    done = host.ssh(command)
    assert done.returncode == 0, f"{host.name}: {command}: {done.stderr}"
    return done.stdout.strip()


def test_twenty_hosts_through_two_nodes(make_sshd_hosts: MakeSshdHosts, tmp_path: Path) -> None:
    hosts = make_sshd_hosts(2 + TARGETS, nodes=2)
    nodes, targets = hosts[:2], hosts[2:]
    work = f"/var/tmp/agentmaint-nodes-{secrets.token_hex(4)}"
    update = f"mkdir -p {work} && hostname > {work}/version && echo $AGENTMAINT_RUN_ID > {work}/run"
    try:
        sliced = write_schedule(tmp_path / "a", document(targets, nodes, work, update=update))
        result = run_maintenance(sliced)
        assert result.run is not None
        assert result.run.status is RunStatus.SUCCESSFUL, result.run.message
        assert len(result.outcomes) == TARGETS and result.succeeded
        for target in targets:  # really updated, by this run
            assert on_host(target, f"cat {work}/version") == target.name
            assert on_host(target, f"cat {work}/run") == result.run.id
        # Each node ran its share: the targets dealt round-robin, their events came back.
        run_dir = sliced.state_dir / "runs" / result.run.id / "slices"
        names = sliced.environments["fleet"].host_names  # the order hosts are dealt in
        for index, node in enumerate(nodes, 1):
            artifacts = run_dir / f"{index}-n{index}" / "artifacts" / f"{result.run.id}-{index}"
            assert (artifacts / "status").read_text() == "successful"
            events = "".join(p.read_text() for p in (artifacts / "job_events").glob("*.json"))
            share = names[index - 1 :: 2]
            assert all(f'"host": "{name}"' in events for name in share)
            assert not any(f'"host": "{name}"' in events for name in names if name not in share)
            # The worker cleaned up after itself on the node.
            job_dir = f"/tmp/agentmaint-{result.run.id}-{index}"
            assert on_host(node, f"test -e {job_dir} && echo left || echo gone") == "gone"

        # The same maintenance from the controller directly records the same history.
        direct = write_schedule(
            tmp_path / "b", {**document(targets, [], work, update=update), "execution": {}}
        )
        plain = run_maintenance(direct)
        assert plain.run is not None and plain.run.status is RunStatus.SUCCESSFUL
        with HistoryStore.open(sliced.state_dir) as a, HistoryStore.open(direct.state_dir) as b:
            assert history_shape(a, result.run.id) == history_shape(b, plain.run.id)
    finally:
        stop_ssh_clients(h.address for h in hosts)


def test_a_node_killed_mid_run(make_sshd_hosts: MakeSshdHosts, tmp_path: Path) -> None:
    hosts = make_sshd_hosts(2 + TARGETS, nodes=2)
    nodes, targets = hosts[:2], hosts[2:]
    work = f"/var/tmp/agentmaint-nodes-{secrets.token_hex(4)}"
    update = f"sleep 12 && mkdir -p {work} && hostname > {work}/version"
    # serial 10 over 2 nodes: batches of 5 on each node.
    schedule = write_schedule(
        tmp_path, document(targets, nodes, work, update=update, rollout={"serial": 10})
    )
    names = schedule.environments["fleet"].host_names  # the order hosts are dealt in
    second = set(names[1::2])
    by_name = {t.name: t for t in targets}
    killed: list[str] = []
    timers: list[threading.Timer] = []

    class KillSecondNode(BaseObserver):
        def task_started(self, start: TaskStart) -> None:
            # The second node's first batch has started its steps (the backup, or the one
            # fused task of backup and update); a few seconds later it is in the middle of
            # its 12 s update: kill the node then.
            if not killed and start.host in second and start.action is not None:
                killed.append(start.host)
                timer = threading.Timer(4.0, nodes[1].kill)
                timers.append(timer)
                timer.start()

    try:
        result = run_maintenance(schedule, observers=[KillSecondNode()])
        assert killed
        assert result.run is not None and result.run.status is RunStatus.FAILED
        prefix = f"slice 2 (n2): execution node n2 ({nodes[1].ssh_url()})"
        assert result.run.message is not None and result.run.message.startswith(prefix), (
            result.run.message
        )
        first_node = names[0::2]
        with HistoryStore.open(schedule.state_dir) as store:
            records = store.records(run_id=result.run.id)
            updates = {r.server: r for r in records if r.action is Action.UPDATE}
            # The other slice went on: all of its hosts were updated.
            assert {h: updates[h].status.value for h in first_node} == dict.fromkeys(
                first_node, "success"
            )
            for name in first_node:
                assert on_host(by_name[name], f"cat {work}/version") == name
            # On the dead node: its first batch was cut short mid-update (failed, the host
            # may be half-changed), its second batch never reached (skipped, due again).
            batch1, batch2 = names[1::2][:5], names[1::2][5:]
            for host in batch1:
                assert updates[host].status.value == "failed"
                assert updates[host].error is not None
                assert "interrupted while running: execution node n2" in updates[host].error
            for host in batch2:
                assert updates[host].status.value == "skipped"
                assert updates[host].error is not None
                assert updates[host].error.startswith("execution node n2")
            (decision,) = plan(schedule, store, result.plan.at).decisions
            assert set(decision.servers) == set(batch2)
    finally:
        for timer in timers:
            timer.join()
        stop_ssh_clients(h.address for h in hosts)
