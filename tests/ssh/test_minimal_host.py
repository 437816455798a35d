"""The bundled roles against the most minimal host the sshd harness makes.

README's "What managed hosts need" names the programs a managed host must have. Here a
fresh sshd host's login PATH (sshd's ``SetEnv PATH=...``) holds only those programs:
python3, sh, coreutils, tar, gzip, apt-get and dpkg-query. One agentmaint run then takes
every bundled role but docker through its update: command, healthcheck, backup (archives
of paths), model (a controller file), python_deps (a virtualenv and a wheel from a local
directory) and os_packages (apt, from a flat repository on the host). Every program of
that PATH must be named in README's section: what the roles needed and README does not
say fails here.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import secrets
import zipfile
from pathlib import Path

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import TestHost, stop_ssh_clients
from tests.schedules import MakeSchedule, always_open
from tests.ssh.test_become import as_root
from tests.ssh.test_os_packages_become import PACKAGE, REPO, build_deb, installed, publish

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
MIN_PATH = "/opt/minimal/bin"
#: The programs on the host's login PATH besides coreutils (README names them all).
PROGRAMS = (
    "python3",
    "sh",
    "tar",
    "gzip",
    # os_packages with apt. apt-get runs dpkg with its own PATH (DPkg::Path), so dpkg,
    # dpkg-deb, ldconfig, start-stop-daemon and diff need not be on the login PATH.
    "apt-get",
    "dpkg-query",
)


def readme_list() -> str:
    """The list of README's "What managed hosts need" (not the prose after it)."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n- ", text.index("### What managed hosts need"))
    return text[start : text.index("\n\n", start)]


def wheel(directory: Path) -> Path:
    """A pure-Python wheel ``agentmaint-mini 1.0`` (one module), written by hand."""
    files = {
        "agentmaint_mini.py": b"VERSION = '1.0'\n",
        "agentmaint_mini-1.0.dist-info/METADATA": (
            b"Metadata-Version: 2.1\nName: agentmaint-mini\nVersion: 1.0\n"
        ),
        "agentmaint_mini-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: agentmaint-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = io.StringIO()
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.write(f"{name},sha256={digest},{len(data)}\n")
    record.write("agentmaint_mini-1.0.dist-info/RECORD,,\n")
    path = directory / "agentmaint_mini-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("agentmaint_mini-1.0.dist-info/RECORD", record.getvalue())
    return path


def restrict_path(host: TestHost) -> None:
    """Make `host`'s login PATH hold only coreutils and PROGRAMS (sshd re-reads its config)."""
    as_root(
        host,
        f"mkdir -p {MIN_PATH} && "
        "for p in $(dpkg -L coreutils | grep -E '/s?bin/[^/]+$') "
        f"$(for t in {' '.join(PROGRAMS)}; do command -v $t; done); do "
        f'ln -sf "$p" {MIN_PATH}/; done && '
        f"echo 'SetEnv PATH={MIN_PATH}' >> /etc/ssh/sshd_config && "
        "kill -HUP $(cat /run/sshd.pid)",
    )
    # New logins get the new PATH (sshd re-executes itself on SIGHUP: wait until it answers).
    for _ in range(50):
        done = host.ssh('echo "$PATH"; command -v sed || echo no-sed')
        if done.returncode == 0 and done.stdout.split() == [MIN_PATH, "no-sed"]:
            return
    raise AssertionError(f"{host.name}: the PATH did not change: {done.stdout} {done.stderr}")


@pytest.fixture
def minimal_host(make_sshd_hosts: MakeSshdHosts, tmp_path: Path) -> TestHost:
    (host,) = make_sshd_hosts(1)
    # os_packages' repository, and the test package's 1.0 installed (with the full PATH).
    debs = [build_deb(tmp_path, version) for version in ("1.0", "2.0")]
    publish(host, debs[:1])
    as_root(
        host,
        "rm -f /etc/apt/sources.list.d/* && "
        f"echo 'deb [trusted=yes] file:{REPO} ./' > /etc/apt/sources.list && "
        f"apt-get update -q && apt-get install -y -q {PACKAGE}",
    )
    publish(host, debs)
    built = wheel(tmp_path)
    as_root(host, f"mkdir -p /opt/wheels && cat > /opt/wheels/{built.name}", built.read_bytes())
    restrict_path(host)
    return host


def test_readme_names_every_program_of_the_minimal_path() -> None:
    section = readme_list()
    named = set(re.findall(r"`([^`\s]+)`", section))
    missing = [program for program in PROGRAMS if program not in named]
    assert missing == [], f"README 'What managed hosts need' does not name {missing}"
    assert "coreutils" in section


def test_bundled_roles_on_a_minimal_host(
    minimal_host: TestHost, make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    host = minimal_host
    model = tmp_path / "model.bin"
    model.write_bytes(secrets.token_bytes(4096))
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("agentmaint-mini==1.0\n")
    components = {
        "app": {
            "update_command": "echo updated > /root/app-version",
            "healthcheck": {"command": "cat /root/app-version", "contains": "updated"},
            "frequency": "daily",
        },
        "llm": {
            "role": "model",
            "frequency": "daily",
            "vars": {
                "version": "v1",
                "src": str(model),
                "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
            },
        },
        "deps": {
            "role": "python_deps",
            "frequency": "daily",
            "vars": {
                "venv": "/opt/venv",
                "requirements_src": str(requirements),
                "extra_args": "--no-index --find-links /opt/wheels",
            },
        },
        "os": {"role": "os_packages", "frequency": "weekly", "vars": {"cache_valid_time": 0}},
    }
    schedule = make_schedule(
        always_open(
            {"minimal": host.ansible_vars()},
            components,
            state_dir=str(tmp_path / "state"),
            backup={"pre_update": True, "paths": ["/etc/hostname"]},
            execution={"timeout": "10m", "strategy": "linear"},
        )
    )
    result = run_maintenance(schedule, force=True)
    stop_ssh_clients([host.address])
    assert result.run is not None
    with HistoryStore.open(schedule.state_dir) as store:
        records = {
            (r.component, r.action.value): (r.status.value, r.error)
            for r in store.records(run_id=result.run.id)
        }
    assert result.run.status is RunStatus.SUCCESSFUL, records
    assert {key: status for key, (status, _) in records.items()} == {
        **{(c, action): "success" for c in components for action in ("backup", "update")},
        ("app", "healthcheck"): "success",
    }
    # What each role did, seen on the host.
    assert installed(host) == "2.0"
    assert host.ssh("cat /root/app-version").stdout == "updated\n"
    done = host.ssh(
        "/opt/venv/bin/python -c 'import agentmaint_mini; print(agentmaint_mini.VERSION)'"
    )
    assert done.stdout == "1.0\n", done.stderr
    done = host.ssh("sha256sum /srv/agentmaint/models/llm/current/model.bin")
    assert done.stdout.split()[:1] == [hashlib.sha256(model.read_bytes()).hexdigest()], done
    done = host.ssh("ls /var/backups/agentmaint")
    assert done.returncode == 0 and ".tar.gz" in done.stdout, done.stdout + done.stderr
