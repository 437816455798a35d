"""Connection secrets on an execution node: a become password from ``${ENV}``, for real.

A namespaced sshd node runs the job; its managed host needs a sudo password for the login
user ``deploy``. The password travels from the controller's memory to the node's
ansible-playbook through a socket forwarded over the job's own ssh connection
(`agentmaint.ansible.remote`). While the run goes, every process's environ and cmdline
(the node's are visible from here: its pid namespace is a child of ours) is searched for
the password; after it, every file under the controller's state directory and /tmp and
the node's /tmp, /var/tmp and /root. The node's secrets directory and the controller's
socket directory must be gone after the run, and after a canceled run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import RunStatus
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import TestHost, stop_ssh_clients
from tests.integration.test_connection_secrets import ProcessScan, files_holding
from tests.schedules import MakeSchedule, always_open
from tests.ssh.test_become import add_user, as_root, sudo_deb

pytestmark = pytest.mark.integration

VARIABLE = "AM_TEST_NODE_BECOME_PASSWORD"


def leftovers(run_id: str) -> str:
    """What a run's jobs leave in the node's work directory (/tmp) while they run."""
    return f"ls -d /tmp/agentmaint-{run_id}* 2>/dev/null; true"


class Scan(ProcessScan):
    """`ProcessScan` that also keeps the command line of each process it found a value in."""

    def __init__(self, values: list[str]) -> None:
        super().__init__(values)
        self.commands: dict[str, str] = {}

    def scan(self) -> None:
        known = len(self.found)
        super().scan()
        for where in self.found[known:]:
            with contextlib.suppress(OSError):
                raw = Path(where).with_name("cmdline").read_bytes()
                self.commands[where] = raw.replace(b"\0", b" ").decode(errors="replace")


def controller_sockets() -> set[Path]:
    """The controller's secret-server socket directories (`tempfile.mkdtemp`'s)."""
    return set(Path(tempfile.gettempdir()).glob("agentmaint-secrets-*"))


def without_password() -> dict[str, str]:
    """This process's environment less the password (the test's own ssh must not carry it)."""
    return {k: v for k, v in os.environ.items() if k != VARIABLE}


def on_node(node: TestHost, command: str, data: bytes | None = None) -> str:
    done = subprocess.run(
        node.ssh_argv(command),
        input=data,
        capture_output=True,
        timeout=120,
        check=False,
        env=without_password(),
    )
    assert done.returncode in {0, 1}, done.stderr.decode()
    return done.stdout.decode()


def node_files_holding(node: TestHost, value: str) -> list[str]:
    """Files on the node holding `value` (given on stdin: never on a command line)."""
    found = on_node(
        node, "grep -rlF --no-messages -f /dev/stdin /tmp /var/tmp /root", value.encode()
    )
    return found.splitlines()


class WatchNode:
    """Polls the node, while a run goes, for the job's secrets directory and its socket."""

    def __init__(self, node: TestHost, cancel: threading.Event | None = None) -> None:
        self.node, self.cancel = node, cancel
        self.seen: list[str] = []
        self.stranger = ""  # what another user got when it tried the node's socket
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        command = "stat -c '%a %U %F %n' /tmp/agentmaint-*.secrets /tmp/agentmaint-*.secrets/*"
        while not self.stop.is_set() and not self.seen:
            done = subprocess.run(
                self.node.ssh_argv(command),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=without_password(),
            )
            if done.returncode == 0:
                self.seen = done.stdout.splitlines()
                self.stranger = self.connect_as_nobody()
            else:
                self.stop.wait(0.2)
        if self.cancel is not None:
            time.sleep(1.0)  # the update task is running on the target by now
            self.cancel.set()

    def socket_path(self) -> str:
        """The node socket's path, as the poll saw it (another user cannot even list it)."""
        (line,) = [line for line in self.seen if " socket " in line]
        return line.split(" ", 3)[3]

    def connect_as_nobody(self) -> str:
        """Another user of the node tries to read the socket: how it ended."""
        script = (
            "import socket\n"
            f"path = {self.socket_path()!r}\n"
            "client = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            "    client.connect(path)\n"
            "    print('read', len(client.recv(65536)))\n"
            "except OSError as exc:\n"
            "    print(type(exc).__name__)\n"
        )
        done = subprocess.run(
            self.node.ssh_argv("setpriv --reuid=nobody --regid=nogroup --clear-groups python3"),
            input=script,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=without_password(),
        )
        return (done.stdout + done.stderr).strip()

    def __enter__(self) -> WatchNode:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def schedule_for(
    make_schedule: MakeSchedule, tmp_path: Path, node: TestHost, target: TestHost, update: str
) -> Any:
    variables = {**target.ansible_vars(), "ansible_user": "deploy"}
    return make_schedule(
        always_open(
            {target.name: variables},
            {"rootonly": {"update_command": update, "frequency": "weekly"}},
            state_dir=str(tmp_path / secrets.token_hex(4)),
            become=True,
            environment={
                "connection": {"ansible_become_password": f"${{{VARIABLE}}}"},
                "execution_node": "n1",
            },
            execution={"timeout": "2m", "nodes": [node.execution_node("n1")]},
        )
    )


def test_a_become_password_reaches_a_node_job_and_nothing_else(
    make_sshd_hosts: MakeSshdHosts,
    make_schedule: MakeSchedule,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    node, target = make_sshd_hosts(2, nodes=1)
    as_root(target, "cat > /root/sudo.deb && dpkg -i /root/sudo.deb", sudo_deb().read_bytes())
    as_root(target, "echo 'deploy ALL=(ALL:ALL) ALL' > /etc/sudoers.d/deploy")
    password = f"pw-{secrets.token_hex(12)}"
    add_user(target, "deploy", password)
    monkeypatch.setenv(VARIABLE, password)
    before = controller_sockets()
    try:
        # A root-only change on the target, through the node: it needs the sudo password.
        schedule = schedule_for(make_schedule, tmp_path, node, target, "sleep 2; touch /root/done")
        scan = Scan([password])
        scan.thread.start()
        try:
            with WatchNode(node) as watch:
                result = run_maintenance(schedule)
        finally:
            scan.stop.set()
            scan.thread.join()
        assert result.run is not None
        assert result.run.status is RunStatus.SUCCESSFUL, result.run.message
        assert target.ssh("test -f /root/done").returncode == 0
        # The job really ran on the node, with its socket private to the login user.
        assert sorted(line.split(" ", 3)[:3] for line in watch.seen) == [
            ["600", "root", "socket"],
            ["700", "root", "directory"],
        ], watch.seen
        assert watch.stranger == "PermissionError", watch.stranger  # other users cannot ask
        served = [r for r in caplog.records if "handed connection secrets" in r.getMessage()]
        assert served, "the node's ansible-playbook never asked for the connection secrets"
        assert scan.job_processes_seen > 0
        assert scan.found == [], [(f, scan.commands.get(f)) for f in scan.found]
        assert files_holding([password], tmp_path, Path("/tmp")) == []
        assert node_files_holding(node, password) == []
        assert password not in caplog.text
        with HistoryStore.open(schedule.state_dir) as store:
            assert not [r for r in store.records(run_id=result.run.id) if password in str(r)]
        state = schedule.state_dir / "runs" / result.run.id
        inventory = next(state.rglob("hosts.yml")).read_text()
        assert "ansible_become_password" not in inventory
        assert next(state.rglob("vars_plugins/*.py")).is_file()  # it travelled with the job
        # Nothing left: not the node's directories, not the controller's socket.
        assert on_node(node, leftovers(result.run.id)) == ""
        assert controller_sockets() == before

        # Canceled mid-update: the node's directory and socket go with the job.
        cancel = threading.Event()
        schedule = schedule_for(make_schedule, tmp_path, node, target, "sleep 60")
        with WatchNode(node, cancel) as watch:
            result = run_maintenance(schedule, cancel=cancel)
        assert watch.seen and cancel.is_set()
        assert result.run is not None and result.run.status is RunStatus.CANCELED
        assert on_node(node, leftovers(result.run.id)) == ""
        assert controller_sockets() == before
        assert node_files_holding(node, password) == []
    finally:
        stop_ssh_clients([node.address, target.address])
