"""Privilege escalation over real SSH: a non-root login user, sudo with and without a password.

Fresh hosts (never the shared fleet: users and sudo are added to them). sudo is not in the
hosts' root file system: Debian's package is fetched on the controller (``apt-get
download``, cached) and installed into one host's own overlay.
"""

from __future__ import annotations

import fcntl
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import CACHE_DIR, TestHost, stop_ssh_clients
from tests.integration.test_connection_secrets import ProcessScan, files_holding
from tests.schedules import MakeSchedule, always_open

pytestmark = pytest.mark.integration

DEBS = CACHE_DIR / "debs"


def sudo_deb() -> Path:
    """Debian's sudo package for the hosts' release, downloaded once and cached."""
    DEBS.mkdir(parents=True, exist_ok=True)
    with (DEBS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = sorted(DEBS.glob("sudo_*.deb"))
        if not found:
            done = subprocess.run(
                ["apt-get", "download", "sudo"],
                cwd=DEBS,
                capture_output=True,
                text=True,
                check=False,
                timeout=300,
            )
            found = sorted(DEBS.glob("sudo_*.deb"))
            assert found, f"apt-get download sudo failed: {done.stderr}"
        return found[-1]


def as_root(host: TestHost, command: str, data: bytes | None = None) -> None:
    done = subprocess.run(
        host.ssh_argv(command), input=data, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{host.name}: {command}: {done.stderr.decode()}"


def add_user(host: TestHost, user: str, password: str) -> None:
    """A login user with the session's key and `password` (for sudo)."""
    as_root(
        host,
        f"useradd -m -s /bin/sh {user} && echo '{user}:{password}' | chpasswd && "
        f"mkdir -p /home/{user}/.ssh && cp /root/.ssh/authorized_keys /home/{user}/.ssh/ && "
        f"chown -R {user}: /home/{user}/.ssh",
    )


@pytest.fixture
def hosts(make_sshd_hosts: MakeSshdHosts) -> tuple[TestHost, TestHost]:
    """(a host with sudo, a host without); both have users ``deploy`` and ``quick``."""
    with_sudo, without = make_sshd_hosts(2)
    as_root(with_sudo, "cat > /root/sudo.deb && dpkg -i /root/sudo.deb", sudo_deb().read_bytes())
    as_root(
        with_sudo,
        "echo 'deploy ALL=(ALL:ALL) ALL' > /etc/sudoers.d/deploy && "
        "echo 'quick ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/quick && "
        "chmod 0440 /etc/sudoers.d/*",
    )
    return with_sudo, without


def run(
    make_schedule: MakeSchedule,
    tmp_path: Path,
    host: TestHost,
    user: str,
    marker: str,
    **settings: Any,
) -> tuple[RunStatus, str, str | None]:
    """One run of a root-only command on `host` as `user`: (run status, host status, error)."""
    variables = {**host.ansible_vars(), "ansible_user": user}
    component: dict[str, Any] = {"update_command": f"touch /root/{marker}", "frequency": "weekly"}
    component.update(settings.pop("component", {}))
    state = tmp_path / secrets.token_hex(4)
    schedule = make_schedule(
        always_open(
            {host.name: variables},
            {"rootonly": component},
            state_dir=str(state),
            **{"execution": {"timeout": "2m"}, **settings},  # a waiting prompt would hang
        )
    )
    result = run_maintenance(schedule)
    stop_ssh_clients([host.address])
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        (record,) = [r for r in store.records(run_id=result.run.id) if r.action.value == "update"]
    return result.run.status, record.status.value, record.error


def test_a_root_only_command_works_only_with_become(
    hosts: tuple[TestHost, TestHost],
    make_schedule: MakeSchedule,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, _ = hosts
    password = f"pw-{secrets.token_hex(8)}"
    add_user(host, "deploy", password)
    add_user(host, "quick", secrets.token_hex(8))

    # Without become the login user cannot write in /root.
    status, host_status, error = run(make_schedule, tmp_path, host, "deploy", "plain")
    assert (status, host_status) == (RunStatus.FAILED, "failed")
    assert error is not None and "Permission denied" in error

    # With become and the sudo password from ${ENV}: it works, and the password is in no
    # process's environment or command line while it runs, and in no file after.
    # (Set only now: a run whose schedule does not reference a variable cannot know that
    # it is a secret, and ansible-runner copies the controller's environment into a job.)
    monkeypatch.setenv("AM_TEST_BECOME_PASSWORD", password)
    connection = {"ansible_become_password": "${AM_TEST_BECOME_PASSWORD}"}
    scan = ProcessScan([password])
    scan.thread.start()
    try:
        status, host_status, error = run(
            make_schedule,
            tmp_path,
            host,
            "deploy",
            "with-password",
            become=True,
            environment={"connection": connection},
        )
    finally:
        scan.stop.set()
        scan.thread.join()
    assert (status, host_status, error) == (RunStatus.SUCCESSFUL, "success", None)
    assert host.ssh("test -f /root/with-password").returncode == 0
    assert scan.job_processes_seen > 0 and scan.found == []
    assert files_holding([password], tmp_path, Path("/tmp")) == []

    # A wrong password fails the host with a clear message (no prompt left waiting).
    monkeypatch.setenv("AM_TEST_WRONG_PASSWORD", "wrong-" + password)
    wrong = {"ansible_become_password": "${AM_TEST_WRONG_PASSWORD}"}
    status, host_status, error = run(
        make_schedule,
        tmp_path,
        host,
        "deploy",
        "wrong-password",
        component={"become": {"method": "sudo", "user": "root"}},
        environment={"connection": wrong},
    )
    assert (status, host_status) == (RunStatus.FAILED, "failed")
    # Ansible's own words under linear (auto's choice for one fused host over SSH),
    # mitogen's under mitogen: either names the wrong sudo password.
    assert error is not None
    assert "Incorrect sudo password" in error or "sudo password is incorrect" in error
    assert password not in error
    assert host.ssh("test -e /root/wrong-password").returncode != 0

    # NOPASSWD sudo needs no password.
    status, host_status, error = run(
        make_schedule, tmp_path, host, "quick", "no-password", become=True
    )
    assert (status, host_status, error) == (RunStatus.SUCCESSFUL, "success", None)


#: How a missing sudo is said: by the shell (Ansible's own strategies) or by mitogen.
MISSING_SUDO = re.compile(r"sudo: (?:command )?not found|No such file or directory: 'sudo'")


# mitogen named: `auto` chooses linear for one host's fused play (agentmaint.ansible.strategy)
@pytest.mark.parametrize("strategy", ["linear", "mitogen_linear"])
def test_a_missing_sudo_is_reported_as_such(
    hosts: tuple[TestHost, TestHost], make_schedule: MakeSchedule, tmp_path: Path, strategy: str
) -> None:
    _, host = hosts
    add_user(host, "deploy", secrets.token_hex(8))
    status, host_status, error = run(
        make_schedule,
        tmp_path,
        host,
        "deploy",
        "no-sudo",
        become=True,
        execution={"timeout": "2m", "strategy": strategy},
    )
    assert (status, host_status) == (RunStatus.FAILED, "failed")
    assert error is not None and MISSING_SUDO.search(error), error
