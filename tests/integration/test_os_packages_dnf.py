"""os_packages' dnf path with real dnf 4 and rpm, against an RPM repository built by the test.

This machine is Debian: Debian's `dnf`, `python3-dnf`, `rpm` and `createrepo-c` packages
give a working dnf 4 whose rpm database is per user (``~/.rpmdb``). The managed "host" is
the controller itself (local connection) seen through an interpreter wrapper that runs
every module in a private mount namespace of its own, where

- ``/etc/dnf`` is the test's directory: a dnf.conf whose repository directory, cache,
  persistent state and logs are all under the test's directory, and one repository,
  ``file://`` on an RPM repository made with rpmbuild and createrepo_c;
- ``/srv`` is the test's directory, where the test package installs its one file;
- ``HOME`` is the test's directory, so rpm's database is the test's own.

So dnf and rpm run for real (the role's ``rpm --query``, ``dnf check-update``,
``dnf repoquery`` and Ansible's dnf module) and nothing of the machine's own state
changes. Debian's ``pkg_mgr`` fact is apt: the component says ``manager: dnf``. The
module's interpreter is Debian's /usr/bin/python3, which can import dnf (the virtualenv's
Python cannot).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from agentmaint.run.preflight import check_hosts
from tests.schedules import MakeSchedule, always_open

pytestmark = pytest.mark.integration

PACKAGE = "agentmaint-dnf-test"

SPEC = """\
Name: agentmaint-dnf-test
Version: %{pkgversion}
Release: 1
Summary: agentmaint os_packages test package
License: MIT
BuildArch: noarch

%description
One file that names the package's version.

%install
mkdir -p %{buildroot}/srv/agentmaint-dnf-test
echo %{pkgversion} > %{buildroot}/srv/agentmaint-dnf-test/version

%files
/srv/agentmaint-dnf-test/version
"""

# BASE: the test's directory (shell-quoted). The arguments: python3's own.
WRAPPER = """\
#!/bin/sh
# The managed host of test_os_packages_dnf: this machine, with the test's dnf
# configuration, rpm database and /srv, in a mount namespace of this process's own.
exec unshare --mount --propagation private /bin/sh -c '
base=$1; shift
mount --bind "$base/etc-dnf" /etc/dnf && mount --bind "$base/srv" /srv &&
HOME="$base/home" exec /usr/bin/python3 "$@"' sh BASE "$@"
"""


@dataclass(frozen=True)
class DnfHost:
    """The test's dnf world: where it lives and how to run a command inside it."""

    base: Path
    repo: Path
    interpreter: str

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """`argv` run inside the host's namespace (through the module interpreter)."""
        code = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
        return subprocess.run(
            [self.interpreter, "-c", code, *argv],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def installed(self) -> str:
        done = self.run("rpm", "--query", PACKAGE)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def publish(self, version: str) -> None:
        """Build `version` of the test package and add it to the repository."""
        build = self.base / "build"
        done = subprocess.run(
            [
                "rpmbuild",
                "--define",
                f"_topdir {build}",
                "--define",
                f"_rpmdir {self.repo}",
                "--define",
                f"pkgversion {version}",
                "-bb",
                str(self.base / "test.spec"),
            ],
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.base / "home")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        done = subprocess.run(
            ["createrepo_c", "--quiet", "--update", str(self.repo)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr


@pytest.fixture
def dnf_host(tmp_path: Path) -> DnfHost:
    for tool in ("dnf", "rpm", "rpmbuild", "createrepo_c", "unshare"):
        assert shutil.which(tool), f"{tool} is needed (apt-get install dnf rpm createrepo-c)"
    done = subprocess.run(["/usr/bin/python3", "-c", "import dnf"], check=False)
    assert done.returncode == 0, "python3-dnf is needed (apt-get install python3-dnf)"
    base = tmp_path / "dnf-host"
    repo = base / "repo"
    for directory in ("etc-dnf/repos.d", "srv", "home", "state", "build", "repo"):
        (base / directory).mkdir(parents=True)
    (base / "test.spec").write_text(SPEC)
    (base / "etc-dnf" / "dnf.conf").write_text(
        "[main]\n"
        "gpgcheck=False\n"
        "reposdir=/etc/dnf/repos.d\n"
        f"cachedir={base}/state/cache\n"
        f"persistdir={base}/state/persist\n"
        f"logdir={base}/state/log\n"
        "skip_if_unavailable=False\n"
    )
    (base / "etc-dnf" / "repos.d" / "agentmaint-test.repo").write_text(
        "[agentmaint-test]\n"
        "name=agentmaint test repository\n"
        f"baseurl=file://{repo}\n"
        "gpgcheck=0\n"
        "metadata_expire=0\n"
    )
    wrapper = base / "python3"
    wrapper.write_text(WRAPPER.replace("BASE", shlex.quote(str(base))))
    wrapper.chmod(0o755)
    host = DnfHost(base=base, repo=repo, interpreter=str(wrapper))
    host.publish("1.0")
    installed = host.run("dnf", "--assumeyes", "--quiet", "install", PACKAGE)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert host.installed() == f"{PACKAGE}-1.0-1.noarch"
    return host


def test_dnf_upgrade_and_rollback(
    dnf_host: DnfHost, make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    version_file = "/srv/agentmaint-dnf-test/version"

    def run(healthy: str) -> tuple[RunStatus, dict[str, tuple[str, str | None]]]:
        component = {
            "role": "os_packages",
            "frequency": "weekly",
            "vars": {"manager": "dnf", "state_dir": str(dnf_host.base / "os-packages-state")},
            # Runs on the host, so in its namespace: reads the test package's own file.
            "healthcheck": {"command": f"cat {version_file}", "contains": healthy},
        }
        host = {"ansible_connection": "local", "ansible_python_interpreter": dnf_host.interpreter}
        schedule = make_schedule(
            always_open({"el-host": host}, {"os": component}, state_dir=str(tmp_path / "state"))
        )
        # The preflight sees what the role will use: dnf, and rpm (not the fact's apt).
        (readiness,) = check_hosts(schedule).hosts
        checks = {check.name: (check.ok, check.detail) for check in readiness.checks}
        dnf, rpm = shutil.which("dnf"), shutil.which("rpm")
        assert checks["package_manager"] == (True, f"dnf ({dnf}, {rpm})"), checks
        result = run_maintenance(schedule, force=True)
        assert result.run is not None
        with HistoryStore.open(schedule.state_dir) as store:
            records = {
                r.action.value: (r.status.value, r.error)
                for r in store.records(run_id=result.run.id)
            }
        return result.run.status, records

    # 1.0 -> 2.0: the upgrade, and the state file keeps the version it replaced.
    dnf_host.publish("2.0")
    status, records = run(healthy="2.0")
    assert status is RunStatus.SUCCESSFUL, records
    assert records["update"] == ("success", None)
    assert dnf_host.installed() == f"{PACKAGE}-2.0-1.noarch"
    assert (dnf_host.base / "srv" / "agentmaint-dnf-test" / "version").read_text() == "2.0\n"
    previous = (dnf_host.base / "os-packages-state" / "os.previous").read_text()
    assert '"package_manager": "dnf"' in previous and '"1.0-1"' in previous

    # 2.0 -> 3.0 fails its health check: the rollback reinstalls 2.0 from the repository.
    dnf_host.publish("3.0")
    status, records = run(healthy="2.0")
    assert status is RunStatus.FAILED
    assert records["update"] == ("success", None)
    assert records["healthcheck"][0] == "failed"
    assert records["rollback"] == ("success", None)
    assert dnf_host.installed() == f"{PACKAGE}-2.0-1.noarch"
