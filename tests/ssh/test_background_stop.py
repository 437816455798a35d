"""A cancelled or timed-out run ends the background jobs it started on SSH hosts.

Each host's update writes its shell's pid and then waits for a file that never comes; the
run is cancelled (or times out) once every host's job runs. The processes must be gone
afterwards: the run's own kill on the controller cannot reach them (they are children of
the hosts' sshd, without the run's job id), only the stop job (`agentmaint.run.background`).
"""

from __future__ import annotations

from typing import Any

import pytest

from agentmaint.maintenance import run_maintenance
from agentmaint.records import Outcome, RunStatus
from agentmaint.run.results import RunResult
from tests.cancelling import run_cancelled_when
from tests.hosts.netns import TestHost, stop_ssh_clients
from tests.schedules import MakeSchedule, always_open
from tests.ssh.test_run_over_ssh import inventory, on_host, unique_dir

pytestmark = pytest.mark.integration


def _update(directory: str) -> str:
    return (
        f'mkdir -p {directory} && echo $$ > {directory}/"$AGENTMAINT_HOST" && '
        f"for i in $(seq 1200); do test -e {directory}/gate && break; sleep 0.1; done"
    )


def _schedule(
    make_schedule: MakeSchedule,
    hosts: list[TestHost],
    directory: str,
    *,
    before: dict[str, Any] | None = None,
    **execution: Any,
) -> Any:
    return make_schedule(
        always_open(
            inventory(hosts),
            {**(before or {}), "app": {"update_command": _update(directory), "frequency": "daily"}},
            # more hosts than forks: the play runs in the background
            execution={"forks": 1, "background": True, **execution},
        )
    )


def _pids(hosts: list[TestHost], directory: str) -> dict[str, int]:
    found = {}
    for host in hosts:
        text = host.ssh(f"cat {directory}/{host.name} 2>/dev/null").stdout.strip()
        if text.isdigit():
            found[host.name] = int(text)
    return found


def _running(host: TestHost, pid: int) -> bool:
    """Whether `pid` runs on `host` (a zombie has ended)."""
    state = host.ssh(f"cut -d')' -f2 /proc/{pid}/stat 2>/dev/null | cut -c2").stdout.strip()
    return state not in {"", "Z"}


def _assert_stopped(result: RunResult, hosts: list[TestHost], pids: dict[str, int]) -> None:
    assert result.run is not None
    assert sorted(pids) == sorted(h.name for h in hosts)
    for host in hosts:
        assert not _running(host, pids[host.name]), f"{host.name}: the update outlived the run"
        # the job's own files are removed with it
        on_host(host, "! ls ~/.ansible_async/agentmaint/ | grep -q -- '-app-'")
    message = result.run.message or ""
    assert f"background jobs stopped on {', '.join(sorted(pids))}" in message, message
    # the history still says what happened: every update was interrupted
    updates = [r for r in result.records if r.action.value == "update" and r.component == "app"]
    assert {r.server for r in updates} == set(pids)
    assert all(r.status is Outcome.FAILED for r in updates), updates
    assert all("interrupted" in (r.error or "") for r in updates), updates


def test_a_cancel_ends_the_background_jobs_on_ssh_hosts(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule
) -> None:
    hosts = sshd_fleet[:2]
    directory = unique_dir()
    schedule = _schedule(make_schedule, hosts, directory)
    result, cancel = run_cancelled_when(
        schedule, lambda: len(_pids(hosts, directory)) == len(hosts)
    )
    try:
        assert result.run is not None and result.run.status is RunStatus.CANCELED
        assert cancel.is_set()  # set again after the stop job
        _assert_stopped(result, hosts, _pids(hosts, directory))
    finally:
        for host in hosts:
            host.ssh(f"touch {directory}/gate")
        stop_ssh_clients(h.address for h in hosts)


def test_a_timeout_ends_the_background_jobs_on_ssh_hosts(
    sshd_fleet: list[TestHost], make_schedule: MakeSchedule
) -> None:
    hosts = sshd_fleet[:2]
    directory = unique_dir()
    # A job may run as long as the run (its own limit): those that start later than the
    # run outlive its timeout. `app`'s start 15 s after the run's, behind `aa` (components
    # run in name order).
    first = {"aa": {"update_command": "sleep 15", "frequency": "daily"}}
    schedule = _schedule(make_schedule, hosts, directory, before=first, timeout="25s")
    result = run_maintenance(schedule, force=True)
    try:
        assert result.run is not None and result.run.status is RunStatus.TIMEOUT
        _assert_stopped(result, hosts, _pids(hosts, directory))
    finally:
        for host in hosts:
            host.ssh(f"touch {directory}/gate")
        stop_ssh_clients(h.address for h in hosts)
