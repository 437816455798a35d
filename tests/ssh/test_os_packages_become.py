"""A real OS package upgrade with apt, as a non-root login user: it works only with become.

A fresh sshd host (its own overlay over the cached Debian root file system: apt there
changes the host's upper directory only, never the controller's apt state) gets sudo, a
user ``deploy`` whose sudo asks for a password and a user ``quick`` with NOPASSWD, and
only one apt source: a flat repository under /srv on the host, ``[trusted=yes]``, with a
tiny package built here with dpkg-deb (Packages and Release written by the test). Version
1.0 is installed first; each run publishes the next version and runs os_packages.
"""

from __future__ import annotations

import hashlib
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import TestHost, stop_ssh_clients
from tests.schedules import MakeSchedule, always_open
from tests.ssh.test_become import add_user, as_root, sudo_deb

pytestmark = pytest.mark.integration

PACKAGE = "agentmaint-apt-test"
REPO = "/srv/agentmaint-apt-repo"


def build_deb(directory: Path, version: str) -> Path:
    """`version` of the test package: one file naming its version."""
    root = directory / f"{PACKAGE}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr/share" / PACKAGE).mkdir(parents=True)
    (root / "usr/share" / PACKAGE / "version").write_text(f"{version}\n")
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: agentmaint tests <tests@example.invalid>\n"
        "Description: agentmaint os_packages test package\n"
    )
    deb = directory / f"{PACKAGE}_{version}_all.deb"
    done = subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return deb


def publish(host: TestHost, debs: list[Path]) -> None:
    """Make the host's flat repository hold exactly `debs` (Packages and Release by hand)."""
    stanzas = []
    for deb in debs:
        data = deb.read_bytes()
        control = subprocess.run(
            ["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True
        ).stdout
        stanzas.append(
            control.rstrip("\n")
            + f"\nFilename: ./{deb.name}\nSize: {len(data)}\n"
            + f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
        as_root(host, f"mkdir -p {REPO} && cat > {REPO}/{deb.name}", data)
    packages = "\n".join(stanzas).encode()
    release = (
        "Origin: agentmaint-tests\nLabel: agentmaint-tests\nSuite: stable\nCodename: stable\n"
        f"SHA256:\n {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages\n"
    ).encode()
    as_root(host, f"cat > {REPO}/Packages", packages)
    as_root(host, f"cat > {REPO}/Release", release)


def installed(host: TestHost) -> str:
    done = host.ssh(f"dpkg-query --show --showformat '${{Version}}' {PACKAGE}")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def apt_host(make_sshd_hosts: MakeSshdHosts, tmp_path: Path) -> tuple[TestHost, list[Path]]:
    """A host with sudo, users deploy (password) and quick (NOPASSWD), and 1.0 installed."""
    (host,) = make_sshd_hosts(1)
    as_root(host, "cat > /root/sudo.deb && dpkg -i /root/sudo.deb", sudo_deb().read_bytes())
    as_root(
        host,
        "echo 'deploy ALL=(ALL:ALL) ALL' > /etc/sudoers.d/deploy && "
        "echo 'quick ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/quick && "
        "chmod 0440 /etc/sudoers.d/*",
    )
    debs = [build_deb(tmp_path, version) for version in ("1.0", "2.0", "3.0")]
    publish(host, debs[:1])
    # The host's only source: its Debian mirror is out of reach (no route out).
    as_root(
        host,
        "rm -f /etc/apt/sources.list.d/* && "
        f"echo 'deb [trusted=yes] file:{REPO} ./' > /etc/apt/sources.list && "
        f"apt-get update -q && apt-get install -y -q {PACKAGE}",
    )
    assert installed(host) == "1.0"
    return host, debs


def run(
    make_schedule: MakeSchedule, tmp_path: Path, host: TestHost, user: str, **settings: Any
) -> tuple[RunStatus, str, str | None]:
    """One os_packages run on `host` as `user`: (run status, update status, its error)."""
    variables = {**host.ansible_vars(), "ansible_user": user}
    schedule = make_schedule(
        always_open(
            {"apt-host": variables},
            # Fresh indexes every time: each run publishes a new version.
            {"os": {"role": "os_packages", "frequency": "weekly", "vars": {"cache_valid_time": 0}}},
            state_dir=str(tmp_path / secrets.token_hex(4)),
            **{"execution": {"timeout": "5m"}, **settings},  # a waiting prompt would hang
        )
    )
    result = run_maintenance(schedule, force=True)
    stop_ssh_clients([host.address])
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        (record,) = [r for r in store.records(run_id=result.run.id) if r.action.value == "update"]
    return result.run.status, record.status.value, record.error


def test_an_apt_upgrade_works_only_with_become(
    apt_host: tuple[TestHost, list[Path]],
    make_schedule: MakeSchedule,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, debs = apt_host
    password = f"pw-{secrets.token_hex(8)}"
    add_user(host, "deploy", password)
    add_user(host, "quick", secrets.token_hex(8))
    publish(host, debs[:2])

    # Escalation turned off: apt cannot lock its state as deploy; the host fails, says why.
    status, update, error = run(make_schedule, tmp_path, host, "deploy", become=False)
    assert (status, update) == (RunStatus.FAILED, "failed")
    assert error is not None and "refresh the package indexes: Failed to lock apt" in error
    assert (
        "Could not open lock file /var/lib/apt/lists/lock - open (13: Permission denied)" in error
    )
    assert installed(host) == "1.0"

    # No setting: os_packages escalates by default (deploy is not root), sudo asks for the
    # password, given by ${ENV}.
    monkeypatch.setenv("AM_TEST_APT_BECOME_PASSWORD", password)
    connection = {"ansible_become_password": "${AM_TEST_APT_BECOME_PASSWORD}"}
    status, update, error = run(
        make_schedule, tmp_path, host, "deploy", environment={"connection": connection}
    )
    assert (status, update, error) == (RunStatus.SUCCESSFUL, "success", None)
    assert installed(host) == "2.0"
    assert host.ssh(f"cat /usr/share/{PACKAGE}/version").stdout == "2.0\n"

    # NOPASSWD sudo, escalation asked for explicitly.
    publish(host, debs)
    status, update, error = run(make_schedule, tmp_path, host, "quick", become=True)
    assert (status, update, error) == (RunStatus.SUCCESSFUL, "success", None)
    assert installed(host) == "3.0"
