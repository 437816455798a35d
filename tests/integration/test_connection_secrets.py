"""Password-like connection variables reach Ansible and nothing else.

A real job runs with every password-like connection variable given by reference (each a
distinct random value, from ``${ENV}`` and ``file:``): while it runs, every process's
``/proc/<pid>/environ`` and ``cmdline`` is searched for the values, and after it, every
file under the state directory and /tmp, and the log records. None may hold one.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.runner import JOB_ID_VARIABLE
from agentmaint.ansible.secrets import SOCKET_VARIABLE
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from tests.schedules import MakeSchedule, always_open

pytestmark = pytest.mark.integration

#: Every password-like variable Ansible's connection and become plugins read.
PASSWORD_VARIABLES = (
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_sudo_pass",
    "ansible_su_pass",
    "ansible_ssh_private_key_passphrase",
    "ansible_private_key_passphrase",
)


class ProcessScan:
    """Searches every process's environ and cmdline for `values` until stopped."""

    def __init__(self, values: list[str]) -> None:
        self.needles = [v.encode() for v in values]
        self.found: list[str] = []
        self.job_processes_seen = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        while not self.stop.is_set():
            self.scan()
            self.stop.wait(0.05)
        self.scan()

    def scan(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            for name in ("environ", "cmdline"):
                try:
                    data = (entry / name).read_bytes()
                except OSError:
                    continue
                if name == "environ" and f"{JOB_ID_VARIABLE}=".encode() in data:
                    self.job_processes_seen += 1
                self.found.extend(
                    f"/proc/{entry.name}/{name}" for needle in self.needles if needle in data
                )


def files_holding(values: list[str], *roots: Path) -> list[str]:
    """Files under `roots` (symlinks not followed) that contain any of `values`."""
    argv = ["grep", "-rlF", "--no-messages", *(a for v in values for a in ("-e", v))]
    done = subprocess.run(
        [*argv, *map(str, roots)], capture_output=True, text=True, check=False, timeout=600
    )
    return done.stdout.splitlines()


# mitogen named: `auto` chooses linear for one host's fused play (agentmaint.ansible.strategy)
@pytest.mark.parametrize("strategy", ["linear", "mitogen_linear"])
def test_connection_secrets_reach_ansible_and_nothing_else(
    strategy: str,
    make_schedule: MakeSchedule,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    values = {name: f"pw-{secrets.token_hex(12)}" for name in PASSWORD_VARIABLES}
    secret_dir = Path(os.environ.get("XDG_RUNTIME_DIR") or "/run") / f"am-{secrets.token_hex(6)}"
    secret_dir.mkdir(mode=0o700)
    references: dict[str, Any] = {}
    try:
        for index, (name, value) in enumerate(values.items()):
            if index % 2:
                (secret_dir / name).write_text(value + "\n")
                references[name] = f"file:{secret_dir / name}"
            else:
                variable = f"AM_TEST_{name.upper()}"
                monkeypatch.setenv(variable, value)
                references[name] = f"${{{variable}}}"
        host_level = dict(list(references.items())[:4])
        env_level = dict(list(references.items())[4:])
        schedule = make_schedule(
            always_open(
                {"h1": {"ansible_connection": "local", **host_level}},
                {"app": {"update_command": "sleep 1", "frequency": "weekly"}},
                environment={"connection": env_level},
                state_dir=str(tmp_path / "state"),
                execution={"strategy": strategy},
            )
        )
        scan = ProcessScan(list(values.values()))
        scan.thread.start()
        try:
            result = run_maintenance(schedule)
        finally:
            scan.stop.set()
            scan.thread.join()
    finally:
        for path in secret_dir.iterdir():
            path.unlink()
        secret_dir.rmdir()

    assert result.run is not None
    assert result.run.status is RunStatus.SUCCESSFUL
    assert scan.job_processes_seen > 0  # the scan saw the job's own processes
    assert scan.found == []
    served = [r for r in caplog.records if "handed connection secrets" in r.getMessage()]
    assert served, "ansible-playbook never asked for the connection secrets"
    assert files_holding(list(values.values()), tmp_path, Path("/tmp")) == []
    text = caplog.text
    assert not [v for v in values.values() if v in text]
    inventory = next((tmp_path / "state").rglob("hosts.yml")).read_text()
    assert not [name for name in PASSWORD_VARIABLES if name in inventory]
    envvars = next((tmp_path / "state").rglob("envvars")).read_text()
    assert SOCKET_VARIABLE in envvars
