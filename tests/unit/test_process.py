"""A controller's process identity (boot id and start time), and the scan for a job's processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmaint.ansible.runner import JOB_ID_VARIABLE, _processes_mentioning, run_processes
from agentmaint.run.process import controller_alive, process_identity

BOOT = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


@pytest.fixture
def odd_name(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command name holds what a naive /proc/<pid>/stat parser trips on."""
    program = tmp_path / "x) S 1 2 3 4"
    program.symlink_to("/bin/sleep")
    process = subprocess.Popen([str(program), "60"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _ticks(identity: str | None) -> int:
    assert identity is not None
    boot, _, start = identity.rpartition(":")
    assert boot == BOOT
    return int(start)


def test_identity_is_the_boot_id_and_the_start_time(
    odd_name: subprocess.Popen[bytes],
) -> None:
    assert "x) S 1 2 3" in Path(f"/proc/{odd_name.pid}/stat").read_text()  # the trap is set
    mine, child = process_identity(), process_identity(odd_name.pid)
    assert process_identity(os.getpid()) == mine
    # Started after this process (a later start time), and stable while it lives.
    assert _ticks(child) >= _ticks(mine)
    assert process_identity(odd_name.pid) == child
    assert controller_alive(odd_name.pid, child)
    assert not controller_alive(odd_name.pid, f"{BOOT}:{_ticks(child) + 1}")
    assert not controller_alive(odd_name.pid, f"another-boot:{_ticks(child)}")
    assert controller_alive(odd_name.pid, None)  # no identity recorded: the pid decides


def test_a_dead_process_has_no_identity_and_is_not_alive() -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    assert process_identity(process.pid) is None
    assert not controller_alive(process.pid, None)
    assert not controller_alive(process.pid, f"{BOOT}:1")


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def test_a_jobs_processes_are_found_by_their_environment_and_command_line(
    tmp_path: Path,
) -> None:
    ours = subprocess.Popen(["sleep", "60"], env={**os.environ, JOB_ID_VARIABLE: "job-1"})
    longer = subprocess.Popen(["sleep", "60"], env={**os.environ, JOB_ID_VARIABLE: "job-10"})
    dead = subprocess.Popen(["true"], env={**os.environ, JOB_ID_VARIABLE: "job-1"})
    # A process whose command line keeps the path (``sh -c "sleep 60" PATH`` would not: dash
    # execs the command's last program, after which only ``sleep 60`` is left to read).
    mentioning = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", str(tmp_path)]
    )
    try:
        while not _zombie(dead.pid):  # ended and not reaped: still listed in /proc
            pass
        assert run_processes("job-1") == [ours.pid]  # not job-10's, not the zombie
        assert run_processes("job-10") == [longer.pid]
        assert _processes_mentioning(str(tmp_path)) == [mentioning.pid]
    finally:
        for process in (ours, longer, dead, mentioning):
            process.kill()
            process.wait()
