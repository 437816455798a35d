"""Real ansible-runner runs over SSH, through the whole pipeline, against namespaced sshd hosts.

The fleet is shared by the session: each test works under its own unique paths on the hosts.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.naming import task_name
from agentmaint.ansible.runner import run_processes
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import Action, RunStatus
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import Progress, RunResult
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import ROOTFS, TestHost, spare_address, ssh_processes, stop_ssh_clients
from tests.schedules import MakeSchedule, always_open

pytestmark = pytest.mark.integration


def inventory(hosts: list[TestHost]) -> dict[str, dict[str, Any]]:
    return {host.name: dict(host.ansible_vars()) for host in hosts}


def unique_dir() -> str:
    """A fresh directory path, the same on every host and absent on the controller."""
    return f"/var/tmp/agentmaint-ssh-{secrets.token_hex(6)}"


def records_by(store: HistoryStore, run_id: str) -> dict[tuple[str, str], tuple[str, str | None]]:
    return {
        (r.server, r.action.value): (r.status.value, r.error) for r in store.records(run_id=run_id)
    }


def on_host(host: TestHost, command: str) -> str:
    done = host.ssh(command)
    assert done.returncode == 0, f"{host.name}: {command}: {done.stderr}"
    return done.stdout.strip()


MASTER_LEAK = (
    "ssh ControlPersist masters of the run survive it: agentmaint.ansible.runner finds a run's "
    "processes by AGENTMAINT_JOB_ID in /proc/<pid>/environ, but an ssh mux master "
    "overwrites its argv and environ area with its process title "
    "('ssh: <ControlPath> [mux]'), so it is not found and lives on for ControlPersist (60s)"
)


def assert_nothing_left(result: RunResult, hosts: list[TestHost]) -> None:
    """No process of the run is left; ssh masters are cleared (see the dedicated test)."""
    assert result.run is not None
    assert run_processes(result.run.id) == []
    stop_ssh_clients(h.address for h in hosts)


def test_update_over_ssh_after_backup(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule
) -> None:
    directory = unique_dir()
    schedule = make_schedule(
        always_open(
            inventory(sshd_fleet),
            {
                "app": {
                    # Fails unless the backup ran first, on the same host.
                    "update_command": (
                        f"test -f {directory}/backup && hostname > {directory}/updated"
                    ),
                    "frequency": "weekly",
                }
            },
            backup={
                "pre_update": True,
                "backup_command": (
                    f'mkdir -p {directory} && echo "$AGENTMAINT_HOST" > {directory}/backup'
                ),
            },
        )
    )
    result = run_maintenance(schedule)
    assert result.run is not None and result.run.status is RunStatus.SUCCESSFUL
    assert result.succeeded and result.failed_hosts == ()
    names = [h.name for h in sshd_fleet]
    with HistoryStore.open(schedule.state_dir) as store:
        records = records_by(store, result.run.id)
        assert records == {
            **{(name, "backup"): ("success", None) for name in names},
            **{(name, "update"): ("success", None) for name in names},
        }
        counts = store.host_counts(result.run.id)
        # One changed task per host: the fused task ran the backup and the update (the
        # records above show both).
        assert {name: counts[name].changed for name in names} == dict.fromkeys(names, 1)
    for host in sshd_fleet:
        # Written on the host itself (its own hostname, in its own overlay) ...
        assert on_host(host, f"cat {directory}/backup") == host.name
        assert on_host(host, f"cat {directory}/updated") == host.name
    # ... and neither on the controller nor in the shared root file system.
    assert not Path(directory).exists()
    assert not (ROOTFS / directory.lstrip("/")).exists()
    assert_nothing_left(result, sshd_fleet)


def test_one_failing_host_is_recorded(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule
) -> None:
    failing = sshd_fleet[1]
    directory = unique_dir()
    schedule = make_schedule(
        always_open(
            inventory(sshd_fleet),
            {
                "app": {
                    "update_command": (
                        f'test "$(hostname)" != {failing.name} || {{ echo boom >&2; exit 3; }}; '
                        f"mkdir -p {directory} && touch {directory}/updated"
                    ),
                    "frequency": "weekly",
                }
            },
        )
    )
    result = run_maintenance(schedule)
    assert result.run is not None and result.run.status is RunStatus.FAILED
    assert result.failed_hosts == (failing.name,)
    with HistoryStore.open(schedule.state_dir) as store:
        records = records_by(store, result.run.id)
        assert set(records) == {(h.name, "update") for h in sshd_fleet}
        for host in sshd_fleet:
            if host is not failing:
                assert records[(host.name, "update")] == ("success", None)
        status, error = records[(failing.name, "update")]
        assert status == "failed"
        assert error is not None and "non-zero return code" in error
        (task,) = [
            t
            for t in store.task_results(result.run.id)
            if t.host == failing.name and t.task == task_name(Action.UPDATE, "app")
        ]
        assert task.rc == 3
    for host in sshd_fleet:
        exists = host.ssh(f"test -e {directory}/updated").returncode == 0
        assert exists is (host is not failing), host.name
    assert_nothing_left(result, sshd_fleet)


def test_unreachable_hosts_are_recorded(
    sshd_fleet: list[TestHost], make_sshd_hosts: MakeSshdHosts, make_schedule: MakeSchedule
) -> None:
    # "gone": an address of the test subnet that nobody has (no ARP answer);
    # "stopped": a host of its own, stopped before the run (its address refuses).
    (stopped,) = make_sshd_hosts(1)
    hosts = inventory(sshd_fleet)
    hosts["gone"] = {**sshd_fleet[0].ansible_vars(), "ansible_host": spare_address(sshd_fleet)}
    hosts["stopped"] = dict(stopped.ansible_vars())
    stop_host(stopped)
    schedule = make_schedule(
        always_open(hosts, {"app": {"update_command": "true", "frequency": "daily"}})
    )
    started = time.monotonic()
    result = run_maintenance(schedule)
    assert time.monotonic() - started < 30
    assert sorted(result.failed_hosts) == ["gone", "stopped"]
    with HistoryStore.open(schedule.state_dir) as store:
        assert result.run is not None
        records = records_by(store, result.run.id)
        for host in sshd_fleet:
            assert records[(host.name, "update")] == ("success", None)
        counts = store.host_counts(result.run.id)
        for name in ("gone", "stopped"):
            assert records[(name, "update")][0] == "unreachable"
            assert counts[name].unreachable == 1
    assert_nothing_left(result, [*sshd_fleet, stopped])


def stop_host(host: TestHost) -> None:
    """SIGKILL a host's unshare process (its pid namespace goes with it); wait until refused."""
    os.kill(host.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while host.ssh("true", timeout=10).returncode == 0:
        assert time.monotonic() < deadline, f"{host.name} still accepts logins"
        time.sleep(0.1)


def test_no_ssh_master_or_ansible_process_survives_a_run(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule
) -> None:
    """Without pipelining (modules copied over sftp, -tt sessions): masters seen, then gone."""
    directory = unique_dir()
    schedule = make_schedule(
        always_open(
            inventory(sshd_fleet),
            {
                "app": {
                    "update_command": f"mkdir -p {directory} && touch {directory}/updated",
                    "frequency": "weekly",
                }
            },
            execution={"pipelining": False},
        )
    )
    addresses = [h.address for h in sshd_fleet]
    masters_during_run: list[int] = []

    class Watch(BaseObserver):
        def task_finished(self, progress: Progress) -> None:
            masters_during_run.extend(ssh_processes(addresses))

    result = run_maintenance(schedule, observers=[Watch()])
    assert result.succeeded, result.to_dict()
    assert masters_during_run  # so the check below can see them
    assert result.run is not None
    assert run_processes(result.run.id) == []  # no ansible process of the run is left
    for host in sshd_fleet:
        on_host(host, f"test -e {directory}/updated")
    leftover = stop_ssh_clients(h.address for h in sshd_fleet)
    assert leftover == [], f"{MASTER_LEAK}: {leftover}"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # gone meanwhile


@pytest.mark.parametrize("own", [None, "ansible_ssh_args", "ssh_config"])
def test_a_fused_run_logs_in_once_per_host_without_a_master_unless_the_operator_says(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule, tmp_path: Path, own: str | None
) -> None:
    """One session per host (the fused task, pipelined): no master, unless the operator asks
    for one, in a host's ``ansible_ssh_args`` or in the ssh_config ssh reads: either wins."""
    directory = unique_dir()
    hosts = inventory(sshd_fleet)
    config = tmp_path / "ssh_config"  # the operator's: masters of their own, in their path
    sockets = tempfile.mkdtemp(prefix="am-cm-")  # short: a socket's path has 108 bytes
    config.write_text(
        f"ControlMaster auto\nControlPath {sockets}/%C\nControlPersist 30s\n"
        "GSSAPIAuthentication yes\n"
    )
    for variables in hosts.values():
        if own == "ansible_ssh_args":
            variables["ansible_ssh_args"] = "-C -o ControlMaster=auto -o ControlPersist=60s"
        elif own == "ssh_config":  # -F: as ~/.ssh/config would be, without touching root's
            variables["ansible_ssh_common_args"] = (
                f"{variables['ansible_ssh_common_args']} -F {config}"
            )
    schedule = make_schedule(
        always_open(
            hosts,
            {
                "app": {
                    "update_command": f"mkdir -p {directory} && touch {directory}/updated",
                    "frequency": "weekly",
                }
            },
        )
    )
    addresses = [h.address for h in sshd_fleet]
    seen: list[int] = []

    class Watch(BaseObserver):
        def task_finished(self, progress: Progress) -> None:
            # a master holds the host's TCP connection under its title "ssh: <path> [mux]"
            # (another host's session may still be under way: its own ssh, not a master)
            seen.extend(p for p in ssh_processes(addresses) if b"[mux]" in _cmdline(p))

    result = run_maintenance(schedule, observers=[Watch()])
    assert result.succeeded, result.to_dict()
    for host in sshd_fleet:
        on_host(host, f"test -e {directory}/updated")
    if own is None:
        assert seen == []
    else:
        assert seen != []  # the operator's masters, alive after their sessions
    assert_nothing_left(result, sshd_fleet)  # ends them too
    shutil.rmtree(sockets)


def test_factory_hosts_are_isolated_from_the_fleet(
    sshd_fleet: list[TestHost], make_sshd_hosts: MakeSshdHosts
) -> None:
    directory = unique_dir()
    on_host(sshd_fleet[0], f"mkdir -p {directory} && touch {directory}/mine")
    fresh = make_sshd_hosts(2)
    assert {h.address for h in fresh}.isdisjoint(h.address for h in sshd_fleet)
    for host in [*fresh, *sshd_fleet[1:]]:
        assert on_host(host, f"test ! -e {directory}/mine && hostname") == host.name


def mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line holds `text` (an ssh master's, its path)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return [pid for pid in found if pid != os.getpid()]


def test_recovery_of_a_killed_run_ends_its_ssh_masters_and_removes_their_directory(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    """SIGKILL of the controller mid-update: its ControlPersist masters and their ControlPath
    directory outlive it; `agentmaint recover` ends the one and removes the other."""
    directory = unique_dir()
    schedule = make_schedule(
        always_open(
            inventory(sshd_fleet[:1]),
            {
                "app": {
                    "update_command": f"mkdir -p {directory} && touch {directory}/started; "
                    "sleep 30",
                    "frequency": "weekly",
                }
            },
            # ssh ControlPersist masters: mitogen has none, and a fused job (one session per
            # host) starts none either
            execution={"strategy": "linear", "fused": False},
        )
    )
    agentmaint = str(Path(sys.executable).parent / "agentmaint")
    source = str(tmp_path / "schedule.yaml")
    process = subprocess.Popen(
        [agentmaint, "run", source], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while sshd_fleet[0].ssh(f"test -e {directory}/started").returncode != 0:
            assert time.monotonic() < deadline, "the update never started"
            time.sleep(0.5)
    finally:
        process.kill()
        process.wait(timeout=30)
    with HistoryStore.open(schedule.state_dir) as store:
        (run,) = store.runs()
    control = f"{tempfile.gettempdir()}/agentmaint-cp-{run.id}-"
    (left,) = [n for n in os.listdir(tempfile.gettempdir()) if run.id in n]
    assert left.startswith("agentmaint-cp-")
    assert mentioning(control) != []  # its masters outlived it
    try:
        done = subprocess.run(
            [agentmaint, "recover", source], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert mentioning(control) == []
        assert [n for n in os.listdir(tempfile.gettempdir()) if run.id in n] == []
    finally:
        stop_ssh_clients(h.address for h in sshd_fleet)
