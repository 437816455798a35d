"""The commands agentmaint runs to reach execution nodes (the real runs are in tests/ssh)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentmaint.ansible.remote import (
    kill_command,
    remote_dir,
    run_remote_job,
    secrets_dir,
    ssh_argv,
    worker_command,
)
from agentmaint.ansible.runner import JOB_ID_VARIABLE, Job, process_alive
from agentmaint.config.schedule import ExecutionNode
from agentmaint.config.secret import Secret


def test_ssh_argv_never_prompts_and_notices_dead_nodes() -> None:
    node = ExecutionNode(
        "n1",
        "10.0.0.5",
        user="runner",
        port=2222,
        key=Path("/keys/node"),
        ssh_options={"StrictHostKeyChecking": "yes", "ConnectTimeout": "3"},
    )
    argv = ssh_argv(node, "true")
    assert argv[:2] == ["ssh", "-T"]
    assert argv[-3:] == ["--", "runner@10.0.0.5", "true"]
    options = [argv[i + 1] for i, a in enumerate(argv) if a == "-o"]
    assert "BatchMode=yes" in options
    assert "ServerAliveInterval=3" in options and "ServerAliveCountMax=3" in options
    assert "ConnectTimeout=3" in options and "ConnectTimeout=10" not in options  # node's wins
    assert "StrictHostKeyChecking=yes" in options
    assert argv[argv.index("-i") + 1] == "/keys/node"
    assert argv[argv.index("-p") + 1] == "2222"


def test_ssh_argv_forwards_a_socket_or_fails() -> None:
    node = ExecutionNode("n1", "node.example")
    argv = ssh_argv(node, "x", forward=("/tmp/a.secrets/socket", Path("/tmp/local/socket")))
    assert argv[argv.index("-R") + 1] == "/tmp/a.secrets/socket:/tmp/local/socket"
    assert "ExitOnForwardFailure=yes" in argv
    assert argv[-2:] == ["node.example", "x"]
    assert "-R" not in ssh_argv(node, "x")


def test_ssh_argv_defaults() -> None:
    argv = ssh_argv(ExecutionNode("n1", "node.example"), "x")
    assert "-i" not in argv and "-p" not in argv
    assert argv[-2:] == ["node.example", "x"]


@pytest.mark.parametrize(
    ("runner", "path_dir"),
    [
        ("ansible-runner", None),
        ("/opt/agentmaint node/bin/ansible-runner", "/opt/agentmaint node/bin"),
        ("/opt/$(reboot)/ansible-runner", "/opt/$(reboot)"),
    ],
)
def test_worker_command_quotes_everything(runner: str, path_dir: str | None) -> None:
    node = ExecutionNode("n1", "h", ansible_runner=runner, work_dir="/var/tmp/")
    words = shlex.split(worker_command(node, "20261124T010000Z-abc123-1"))
    assert words[:3] == ["exec", "env", f"{JOB_ID_VARIABLE}=20261124T010000Z-abc123-1"]
    if path_dir is None:
        assert not any(w.startswith("PATH=") for w in words)
    else:
        assert f"PATH={path_dir}:$PATH" in words  # the shell expands only $PATH
    at = words.index(runner)
    assert words[at + 1 :] == [
        "worker",
        "--private-data-dir",
        "/var/tmp/agentmaint-20261124T010000Z-abc123-1",
        "--delete",
        "--keepalive-seconds",
        "5",
    ]
    assert remote_dir(node, "x") == "/var/tmp/agentmaint-x"


def _sleeper(ident: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, JOB_ID_VARIABLE: ident}
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)


def test_kill_command_ends_exactly_the_jobs_processes() -> None:
    """Run the node-side kill command here: it must kill the job's processes, and not
    those of a job whose id merely starts with the same text."""
    mine, other = _sleeper("run-1"), _sleeper("run-10")
    try:
        time.sleep(0.2)
        done = subprocess.run(
            ["sh", "-c", kill_command("run-1")], capture_output=True, timeout=30, check=False
        )
        assert done.returncode == 0
        mine.wait(timeout=10)
        assert mine.returncode == -9
        assert process_alive(other.pid)
    finally:
        for proc in (mine, other):
            proc.kill()
            proc.wait()


def test_kill_command_removes_the_jobs_directory_never_through_a_symlink(tmp_path: Path) -> None:
    job = tmp_path / "agentmaint-run-1"
    (job / "project").mkdir(parents=True)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data").write_text("keep")
    linked = tmp_path / "agentmaint-run-2"
    linked.symlink_to(precious)
    for ident, directory in (("run-1", job), ("run-2", linked)):
        done = subprocess.run(
            ["sh", "-c", kill_command(ident, str(directory))],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert not job.exists()
    assert linked.is_symlink() and (precious / "data").read_text() == "keep"


def test_worker_command_with_secrets_removes_their_directory_and_keeps_the_exit_code(
    tmp_path: Path,
) -> None:
    """Run the node-side command here, with a fake ansible-runner that fails."""
    runner = tmp_path / "bin" / "ansible-runner"
    runner.parent.mkdir()
    runner.write_text("#!/bin/sh\nexit 3\n")
    runner.chmod(0o755)
    node = ExecutionNode("n1", "h", ansible_runner=str(runner), work_dir=str(tmp_path))
    directory = Path(secrets_dir(node, "run-1"))
    assert directory == tmp_path / "agentmaint-run-1.secrets"
    directory.mkdir(mode=0o700)
    (directory / "socket").touch()
    command = worker_command(node, "run-1", secrets=True)
    done = subprocess.run(["sh", "-c", command], capture_output=True, timeout=30, check=False)
    assert done.returncode == 3, done.stderr
    assert not directory.exists()


def test_kill_command_removes_the_secrets_directory_never_through_a_symlink(
    tmp_path: Path,
) -> None:
    node = ExecutionNode("n1", "h", work_dir=str(tmp_path))
    mine = Path(secrets_dir(node, "run-1"))
    mine.mkdir(mode=0o700)
    (mine / "socket").touch()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "socket").write_text("keep")
    Path(secrets_dir(node, "run-2")).symlink_to(precious)
    for ident in ("run-1", "run-2"):
        command = kill_command(ident, remote_dir(node, ident))
        done = subprocess.run(["sh", "-c", command], capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
    assert not mine.exists()
    assert (precious / "socket").read_text() == "keep"


def test_a_job_with_secrets_and_a_too_long_socket_path_is_an_error_before_any_ssh(
    tmp_path: Path,
) -> None:
    node = ExecutionNode("n1", "192.0.2.1", work_dir="/var/" + "w" * 100)
    job = Job(
        private_data_dir=tmp_path,
        playbook="play.yml",
        inventory=tmp_path / "hosts.yml",
        ident="run-1",
        connection_secrets={"web1": {"ansible_become_password": Secret("pw")}},
    )
    outcome = run_remote_job(job, node, lambda event: None)
    assert outcome.status == "error"
    assert outcome.error is not None
    assert "longer than 107 bytes: use a shorter, plainer work_dir" in outcome.error
    assert "pw" not in outcome.error
