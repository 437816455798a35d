"""Running a job on an execution node with ansible-runner's streaming protocol.

The same three steps AWX uses, with SSH as the transport::

    ansible-runner transmit  ->  ssh node ansible-runner worker  ->  ansible-runner process

1. `transmit` packs the job (its private_data_dir, zipped, and the run arguments) into a
   stream, written to a private file next to the job;
2. that file is the standard input of ``ssh <node> ansible-runner worker --delete``, which
   unpacks it on the node, runs ansible-playbook there, and writes every status change and
   event to its standard output (with a keepalive every few seconds), then the artifacts;
3. `process` reads that output on the controller, calling the same event handler as a local
   job, and unpacks the artifacts into the job's own artifact directory, so the event parser,
   the roll-up and the history see exactly what a local run gives them.

Cancellation and timeouts work as for a local job: the job's timeout travels with it (the
worker enforces it), and cancelling (or a stalled stream) ends the node's processes of the
job (found, like local ones, by ``AGENTMAINT_JOB_ID`` in their environment) with a second
SSH command, which also removes the job's directory there (a killed worker never reaches its
``--delete``), then the local ssh. A controller killed mid-job can do neither: the recovery of
its run does both with `end_node_job` when the node can be reached (see
`agentmaint.run.outside`); otherwise they stay on the node. A node that cannot be reached
or dies mid-job ends the job with status ``error`` and the reason (the last line ssh
printed, or ansible-runner's).

Nothing secret travels: the stream holds the rendered job only (no controller environment),
and the node's own environment stays on the node (its ``command`` artifact comes back,
as for a local job; keep artifacts private).

Password-like connection variables (`agentmaint.ansible.secrets`) reach the node's
ansible-playbook over the job's own ssh connection, never in the stream: before the job, a
short ssh command creates the job's private secrets directory on the node (`secrets_dir`,
``mkdir -m 700``, which fails if anything is already there); the job's ssh then forwards a
socket in it (``-R node_socket:controller_socket`` with ``ExitOnForwardFailure``) to the
controller's `SecretServer`, which answers that ssh process only. The job's stream carries
the node socket's path, nothing else. The directory is removed by the worker's command
when the worker ends, and by the job's end on the node otherwise (`kill_command`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import ansible_runner

from agentmaint.ansible.runner import (
    JOB_ID_VARIABLE,
    EventSink,
    Job,
    JobOutcome,
    StatusSink,
    job_arguments,
    kill_run_processes,
)
from agentmaint.ansible.secrets import SOCKET_VARIABLE, SecretServer
from agentmaint.config.schedule import ExecutionNode

#: Seconds between the worker's keepalive events when it has nothing else to say.
KEEPALIVE_SECONDS = 5
#: A stream silent for this long (no event, no keepalive) means the node is gone.
STALL_SECONDS = 30.0
_SSH_OPTIONS = {
    "BatchMode": "yes",  # never prompt: a job has no terminal
    "ConnectTimeout": "10",
    "ServerAliveInterval": "3",  # a node that vanishes is noticed within ~10 s
    "ServerAliveCountMax": "3",
}
_POLL_SECONDS = 0.1
_END_TIMEOUT_SECONDS = 20  # to reach a node and end a job there (ssh gives up after ~10 s)
_ENDED = {"successful", "failed", "timeout", "canceled"}
_STATUS_KEY = "__agentmaint_status__"
_EOF_KEY = "__agentmaint_eof__"
_SECRETS_SUFFIX = ".secrets"  # beside the job's directory: it exists before the job
_SOCKET_NAME = "socket"
_MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the final NUL


def ssh_argv(
    node: ExecutionNode, command: str, *, forward: tuple[str, Path] | None = None
) -> list[str]:
    """The ``ssh`` command line that runs `command` (a shell string) on `node`.

    `forward` is (socket path on the node, socket path here): the node's socket is
    forwarded to the local one for the connection's lifetime, or ssh fails.
    """
    argv = ["ssh", "-T"]
    options = {**_SSH_OPTIONS, **node.ssh_options}
    if forward is not None:
        # Never run a job whose secrets cannot be reached (or whose socket path was taken).
        options["ExitOnForwardFailure"] = "yes"
        argv += ["-R", f"{forward[0]}:{forward[1]}"]
    for key, value in options.items():
        argv += ["-o", f"{key}={value}"]
    if node.key is not None:
        argv += ["-i", str(node.key), "-o", "IdentitiesOnly=yes"]
    if node.port is not None:
        argv += ["-p", str(node.port)]
    destination = f"{node.user}@{node.host}" if node.user else node.host
    return [*argv, "--", destination, command]


def worker_command(node: ExecutionNode, ident: str, *, secrets: bool = False) -> str:
    """The shell command that runs the job's worker on the node.

    With `secrets`, the job's `secrets_dir` (and the socket sshd made in it) is removed
    when the worker ends.
    """
    runner = node.ansible_runner
    path = ""
    if "/" in runner:  # ansible-playbook lives next to ansible-runner (a virtualenv's bin)
        path = f'PATH={shlex.quote(str(Path(runner).parent))}:"$PATH" '
    worker = (
        f"env {JOB_ID_VARIABLE}={shlex.quote(ident)} {path}{shlex.quote(runner)} worker "
        f"--private-data-dir {shlex.quote(remote_dir(node, ident))} --delete "
        f"--keepalive-seconds {KEEPALIVE_SECONDS}"
    )
    if not secrets:
        return f"exec {worker}"
    directory = shlex.quote(secrets_dir(node, ident))
    socket_path = shlex.quote(f"{secrets_dir(node, ident)}/{_SOCKET_NAME}")
    return f"{worker}; rc=$?; rm -f -- {socket_path}; rmdir -- {directory}; exit $rc"


def remote_dir(node: ExecutionNode, ident: str) -> str:
    """Where the worker unpacks the job on the node (deleted when the job ends)."""
    return f"{node.work_dir.rstrip('/')}/agentmaint-{ident}"


def secrets_dir(node: ExecutionNode, ident: str) -> str:
    """The job's private directory on the node for its connection secrets' socket."""
    return remote_dir(node, ident) + _SECRETS_SUFFIX


def kill_command(ident: str, directory: str | None = None) -> str:
    """A POSIX shell command that SIGKILLs every process of the job on a Linux node.

    Like `agentmaint.ansible.runner.kill_run_processes`: the job's processes carry its id in
    their environment (ansible-core's task workers leave the process group, so a group
    kill would miss them). Two passes catch processes forked during the first. With
    `directory` (the job's `remote_dir`), it is then removed: a killed worker never
    reaches its own ``--delete``; so is the job's secrets directory beside it (its
    forwarded socket). Only a real directory (not a symlink) of the node's user is
    removed, never followed into.
    """
    entry = shlex.quote(f"^{JOB_ID_VARIABLE}={ident}$")
    one_pass = (
        "for p in /proc/[0-9]*; do "
        f'grep -qz {entry} "$p/environ" 2>/dev/null && kill -9 "${{p#/proc/}}" 2>/dev/null; '
        "done"
    )
    remove = ""
    if directory is not None:
        for target in (directory, directory + _SECRETS_SUFFIX):
            path = shlex.quote(target)
            remove += (
                f"; if [ -d {path} ] && [ ! -L {path} ] && [ -O {path} ]; then rm -rf -- {path}; fi"
            )
    return f"{one_pass}; sleep 0.2; {one_pass}{remove}; exit 0"


def end_node_job(ssh: Sequence[str], ident: str, directory: str) -> str | None:
    """End what is left of a job on its node: its processes, then its directory.

    `ssh` is the node's ``ssh`` command line without the remote command (`ssh_argv`
    less its last word). For the recovery of a run whose controller died: nothing
    ended the job on the node then. Returns None when done, else why not (the node is
    unreachable: what the job left there stays).
    """
    return _ssh_briefly([*ssh, kill_command(ident, directory)])


def touch_node_file(
    node: ExecutionNode,
    ident: str,
    directory: str,
    name: str,
    hidden: tuple[set[str], list[str]],
) -> str | None:
    """Create the empty file `name` in `directory` of the job's `remote_dir` on `node`.

    For signals from the controller to a running job (the error budget's stop file): the
    job's own directory is created on the node if missing; nothing is written when the
    job's directory is gone (the job ended) or when either directory is a symlink. Returns
    None when done, else why not.
    """
    root = shlex.quote(remote_dir(node, ident))
    inner = shlex.quote(f"{remote_dir(node, ident)}/{directory}")
    target = shlex.quote(f"{remote_dir(node, ident)}/{directory}/{name}")
    command = (
        f"[ -d {root} ] && [ ! -L {root} ] || exit 0; "
        f"[ -L {inner} ] && exit 1; mkdir -p -m 700 {inner} && : > {target}"
    )
    return _ssh_briefly(ssh_argv(node, command), env=_ssh_environment(ident, hidden))


def _ssh_briefly(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str | None:
    """Run one short ssh command; None when it succeeded, else why not (its last words)."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_END_TIMEOUT_SECONDS,
            check=False,
            env=env,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"ssh exited with {done.returncode}"
    return None


def run_remote_job(
    job: Job,
    node: ExecutionNode,
    on_event: EventSink,
    *,
    cancel: threading.Event | None = None,
    on_status: StatusSink | None = None,
    hidden_environment: tuple[set[str], list[str]] = (set(), []),
) -> JobOutcome:
    """Run `job` on `node`; like `agentmaint.ansible.runner.run_job`, events arrive in THIS thread.

    `job.private_data_dir` must be self-contained (relative paths only: see
    `agentmaint.run.jobdir.prepare_run_dir` with a node). Returns when the job has
    ended on the node (or the node is gone) and every local process of it has ended.
    """
    if not job.connection_secrets:
        return _run_remote(
            job,
            node,
            on_event=on_event,
            cancel=cancel,
            on_status=on_status,
            hidden_environment=hidden_environment,
            secrets=None,
        )
    artifact_dir = job.private_data_dir / "artifacts" / job.ident
    node_socket = f"{secrets_dir(node, job.ident)}/{_SOCKET_NAME}"
    unusable = None
    if len(node_socket.encode()) > _MAX_SOCKET_PATH:
        unusable = f"is longer than {_MAX_SOCKET_PATH} bytes"
    elif ":" in node_socket:  # ssh -R separates its two paths with one
        unusable = "contains ':'"
    if unusable is not None:
        return JobOutcome(
            "error",
            None,
            artifact_dir,
            error=f"execution node {node.name} ({node.url}): the connection secrets' socket "
            f"path {node_socket} {unusable}: use a shorter, plainer work_dir",
        )
    # The directory first, private, and new: sshd binds the socket before any command runs.
    problem = _ssh_briefly(
        ssh_argv(node, f"umask 077 && mkdir -m 700 -- {shlex.quote(secrets_dir(node, job.ident))}"),
        env=_ssh_environment(job.ident, hidden_environment),
    )
    if problem is not None:
        return JobOutcome(
            "error",
            None,
            artifact_dir,
            error=f"execution node {node.name} ({node.url}): cannot create the job's private "
            f"directory for its connection secrets: {problem}",
        )
    peer: list[int] = []  # the job's ssh, once started: the only process answered
    with SecretServer(job.connection_secrets, lambda pid: pid in peer, on_path=True) as server:
        assert server.path is not None
        outcome = _run_remote(
            job,
            node,
            on_event=on_event,
            cancel=cancel,
            on_status=on_status,
            hidden_environment=hidden_environment,
            secrets=(node_socket, server.path, peer),
        )
    if outcome.status == "error":
        # The worker's command may never have run (a refused forward, a lost connection):
        # its cleanup did not either. Best effort: an unreachable node keeps the directory.
        _ssh_briefly(
            ssh_argv(node, kill_command(job.ident, remote_dir(node, job.ident))),
            env=_ssh_environment(job.ident, hidden_environment),
        )
    return outcome


def _run_remote(
    job: Job,
    node: ExecutionNode,
    *,
    on_event: EventSink,
    cancel: threading.Event | None,
    on_status: StatusSink | None,
    hidden_environment: tuple[set[str], list[str]],
    secrets: tuple[str, Path, list[int]] | None,
) -> JobOutcome:
    """Transmit, run and process the job; `secrets` is (node socket, local socket, peer)."""
    stream = job.private_data_dir.parent / f".{job.private_data_dir.name}.transmit"
    envvars = dict(job.envvars)
    forward: tuple[str, Path] | None = None
    if secrets is not None:
        envvars[SOCKET_VARIABLE] = secrets[0]  # a path on the node, not a secret
        forward = (secrets[0], secrets[1])
    _transmit(job, envvars, stream)
    with stream.open("rb") as source:
        ssh = subprocess.Popen(
            ssh_argv(
                node, worker_command(node, job.ident, secrets=secrets is not None), forward=forward
            ),
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_ssh_environment(job.ident, hidden_environment),
            start_new_session=True,  # a Ctrl-C on the terminal is the controller's to handle
        )
    if secrets is not None:
        secrets[2].append(ssh.pid)
    stream.unlink(missing_ok=True)
    pump = _Pump(job, node, ssh, cancel or threading.Event())
    try:
        pump.run(on_event, on_status)
    finally:
        killed = pump.close()
    return pump.outcome(killed)


class _Pump:
    """Feeds the worker's output through ansible-runner's Processor and hands it over."""

    def __init__(
        self,
        job: Job,
        node: ExecutionNode,
        ssh: subprocess.Popen[bytes],
        cancel: threading.Event,
    ) -> None:
        assert ssh.stdout is not None and ssh.stderr is not None
        self.job, self.node, self.ssh, self.cancel = job, node, ssh, cancel
        self.items: queue.SimpleQueue[Mapping[str, Any]] = queue.SimpleQueue()
        self.explanation: list[str] = []
        self.status: str | None = None  # the worker's latest word
        self.stopped: str | None = None  # why the controller ended the job
        self.errors = _Tail(ssh.stderr)
        self.thread = threading.Thread(
            target=self._process, name=f"process-{job.ident}", daemon=True
        )
        self.thread.start()

    def _process(self) -> None:
        try:
            ansible_runner.run(
                streamer="process",
                _input=self.ssh.stdout,
                private_data_dir=str(self.job.private_data_dir),
                ident=self.job.ident,
                event_handler=self._enqueue,
                status_handler=self._enqueue_status,
                quiet=True,
            )
        finally:
            self.items.put({_EOF_KEY: True})

    def _enqueue(self, event: Mapping[str, Any]) -> bool:
        self.items.put(event)
        return True

    def _enqueue_status(self, data: Mapping[str, Any], runner_config: object = None) -> None:
        if data.get("job_explanation"):
            self.explanation.append(str(data["job_explanation"]))
        self.items.put({_STATUS_KEY: str(data.get("status", ""))})

    def run(self, on_event: EventSink, on_status: StatusSink | None) -> None:
        """Hand events and statuses over until the stream ends; stop the job when asked."""
        last_seen = time.monotonic()
        timeout = self.job.timeout
        deadline = last_seen + timeout + STALL_SECONDS if timeout else None
        while True:
            try:
                item = self.items.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                now = time.monotonic()
                if self.stopped is None:
                    self.stopped = self._why_stop(now, last_seen, deadline)
                    if self.stopped is not None:
                        _stop(self.node, self.job.ident, self.ssh)
                        last_seen = now  # give the stream time to end after the kill
                continue
            last_seen = time.monotonic()
            if _EOF_KEY in item:
                return
            if _STATUS_KEY in item:
                self.status = item[_STATUS_KEY]
                if on_status is not None:
                    on_status(self.status)
            else:
                on_event(item)

    def _why_stop(self, now: float, last_seen: float, deadline: float | None) -> str | None:
        if self.cancel.is_set():
            return "canceled"
        if deadline is not None and now > deadline:
            return "timeout"
        if now - last_seen > STALL_SECONDS:
            self.explanation.append(
                f"no word from the node for {STALL_SECONDS:.0f} s (not even a keepalive)"
            )
            return "error"
        return None

    def close(self) -> int:
        """Wait for the stream's end (stopping the job if it has not ended); end local leftovers."""
        if self.thread.is_alive() and self.ssh.poll() is None and self.stopped is None:
            self.stopped = "canceled"  # the caller was interrupted
            _stop(self.node, self.job.ident, self.ssh)
        self.thread.join()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.ssh.wait(timeout=10)
        self.errors.close()
        return kill_run_processes(self.job.ident, control_path_dir=self.job.control_path_dir)

    def outcome(self, killed: int) -> JobOutcome:
        """How the job ended: the worker's final status, else why it was stopped."""
        artifact_dir = self.job.private_data_dir / "artifacts" / self.job.ident
        if self.stopped == "canceled":
            final = "canceled"
        elif self.status in _ENDED:
            final = str(self.status)  # the worker said how the job ended
        else:
            final = self.stopped or "error"
        error = None
        if final == "error":
            reason = self.errors.last() or (self.explanation[-1] if self.explanation else None)
            error = (
                f"execution node {self.node.name} ({self.node.url}): "
                f"{reason or 'no result from the node'}"
            )
        return JobOutcome(final, _read_rc(artifact_dir), artifact_dir, killed, error)


def _transmit(job: Job, envvars: Mapping[str, str], stream: Path) -> None:
    """Pack the job into `stream` (private: it holds the rendered job)."""
    fd = os.open(stream, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as output:
        ansible_runner.run(streamer="transmit", _output=output, **job_arguments(job, envvars))


def _ssh_environment(ident: str, hidden: tuple[set[str], list[str]]) -> dict[str, str]:
    """The local ssh's environment: no secrets, and the job's id (so it is found and ended)."""
    names, values = hidden
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in names and not any(secret in value for secret in values if secret)
    }
    environment[JOB_ID_VARIABLE] = ident
    return environment


def _stop(node: ExecutionNode, ident: str, ssh: subprocess.Popen[bytes]) -> None:
    """End the job and its directory on the node (best effort: it may be gone), then the ssh."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            ssh_argv(node, kill_command(ident, remote_dir(node, ident))),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_END_TIMEOUT_SECONDS,
            check=False,
        )
    if ssh.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            ssh.kill()


def _read_rc(artifact_dir: Path) -> int | None:
    try:
        return int((artifact_dir / "rc").read_text().strip())
    except (OSError, ValueError):
        return None


class _Tail:
    """Reads a stream in the background, keeping its last non-empty line."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._last = ""
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").strip()
            if line and not line.startswith("Warning: Permanently added"):
                self._last = line[:500]

    def last(self) -> str:
        return self._last

    def close(self) -> None:
        self._thread.join(timeout=5)
