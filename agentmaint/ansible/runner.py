"""The adapter around ansible-runner: the only module that imports it.

Pitfalls handled here (see the project's ansible-runner notes):

* the event handler only enqueues and returns True (a slow handler makes
  ansible-runner raise pexpect TIMEOUT; returning False drops the job_events files);
  the caller's thread drains the queue and does the real work;
* every run gets a fresh private_data_dir (ansible-runner never overwrites `env/`
  files, so a reused directory silently keeps stale values);
* cancellation and timeouts SIGKILL ansible-playbook's process group, but
  ansible-core's task workers call `setsid()` and survive as orphans: every process
  of a job carries ``AGENTMAINT_JOB_ID=<id>`` in its environment, and after the job
  ends, any process still carrying it is killed;
* ansible-playbook is looked up on the PATH of the job, so this interpreter's
  `bin/` directory is put first;
* the end of a job is signalled by ansible-runner's `finished_callback`, not found by
  polling, and, while a job runs, ptyprocess's close delay is skipped for its child once
  reaped (see `_close_reaped_without_delay`): together 0.1-0.2 s of every job.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import ptyprocess

from agentmaint.ansible.secrets import SOCKET_VARIABLE, SecretServer
from agentmaint.config.secret import Secret

#: Every process of a job carries its id in this variable (how leftovers are found).
JOB_ID_VARIABLE = "AGENTMAINT_JOB_ID"
_POLL_SECONDS = 0.1
_KILL_WAIT_SECONDS = 10.0
_NOT_FOUND = 127  # the shell's "command not found"


@dataclass(frozen=True, slots=True)
class Job:
    """One ansible-runner job: a prepared private_data_dir and how to run it."""

    private_data_dir: Path
    playbook: str
    inventory: Path
    ident: str
    envvars: Mapping[str, str] = field(default_factory=dict)
    timeout: int | None = None
    check: bool = False
    control_path_dir: Path | None = None  # the run's own SSH ControlPersist sockets
    #: Host -> password-like connection variable -> value, served by `SecretServer`.
    connection_secrets: Mapping[str, Mapping[str, Secret]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """How a job ended: ansible-runner's status and rc, and where its artifacts are."""

    status: str
    rc: int | None
    artifact_dir: Path
    orphans_killed: int = 0
    error: str | None = None


EventSink = Callable[[Mapping[str, Any]], None]
StatusSink = Callable[[str], None]
_STATUS_KEY = "__agentmaint_status__"
_FINISHED_KEY = "__agentmaint_finished__"
# Jobs started at once (a run's slices) must not see each other's edits of os.environ.
_ENVIRONMENT_LOCK = threading.Lock()


def job_path() -> str:
    """PATH for a job: this interpreter's bin directory first (ansible-playbook lives there)."""
    here = str(Path(sys.executable).parent)
    return os.pathsep.join([here, os.environ.get("PATH", "/usr/bin:/bin")])


def job_arguments(job: Job, envvars: Mapping[str, str]) -> dict[str, Any]:
    """ansible-runner's arguments for `job`, local or streamed: `envvars` plus the job's id."""
    arguments: dict[str, Any] = {
        "private_data_dir": str(job.private_data_dir),
        "playbook": job.playbook,
        "ident": job.ident,
        "envvars": {**envvars, JOB_ID_VARIABLE: job.ident},
        "settings": {"suppress_ansible_output": True},
    }
    if job.timeout:
        arguments["timeout"] = job.timeout
    if job.check:
        arguments["cmdline"] = "--check"
    return arguments


def run_job(
    job: Job,
    on_event: EventSink,
    *,
    cancel: threading.Event | None = None,
    on_status: StatusSink | None = None,
    hidden_environment: tuple[set[str], list[str]] = (set(), []),
) -> JobOutcome:
    """Run `job`, calling `on_event` in THIS thread for every event, in stream order.

    `on_status` receives ansible-runner's status changes (starting, running, ...), also
    in this thread. Setting `cancel` stops the job (status ``canceled``). Returns when
    the job and every process it started have ended.

    `hidden_environment` is (variable names, secret values): those variables, and any
    whose value contains a secret, are kept out of the job. ansible-runner copies
    ``os.environ`` into the job (and into the artifacts' ``command`` file) while it sets
    the job up, so they are removed from ``os.environ`` for that call only.
    """
    cancel = cancel or threading.Event()
    envvars = {"PATH": job_path(), **job.envvars}
    with contextlib.ExitStack() as stack:
        if job.connection_secrets:
            server = stack.enter_context(
                SecretServer(job.connection_secrets, lambda pid: _of_job(pid, job.ident))
            )
            envvars[SOCKET_VARIABLE] = server.name
        return _run(job, envvars, on_event, cancel, on_status, hidden=hidden_environment)


def _run(
    job: Job,
    envvars: dict[str, str],
    on_event: EventSink,
    cancel: threading.Event,
    on_status: StatusSink | None,
    *,
    hidden: tuple[set[str], list[str]],
) -> JobOutcome:
    events: queue.SimpleQueue[Mapping[str, Any]] = queue.SimpleQueue()

    def enqueue(event: Mapping[str, Any]) -> bool:
        events.put(event)
        return True

    def enqueue_status(data: Mapping[str, Any], runner_config: object = None) -> None:
        # Only the status word: the status data also carries the job's whole environment.
        events.put({_STATUS_KEY: str(data.get("status", ""))})

    def enqueue_finished(runner: object) -> None:
        events.put({_FINISHED_KEY: True})

    kwargs = {
        **job_arguments(job, envvars),
        "inventory": str(job.inventory),
        "event_handler": enqueue,
        "status_handler": enqueue_status,
        "finished_callback": enqueue_finished,
        "cancel_callback": cancel.is_set,
        "quiet": True,
    }
    artifact_dir = job.private_data_dir / "artifacts" / job.ident
    error: str | None = None
    seen_events = False
    with _close_reaped_without_delay():
        with _ENVIRONMENT_LOCK, _without(*hidden):
            thread, runner = ansible_runner.run_async(**kwargs)
        try:
            while thread.is_alive() or not events.empty():
                try:
                    item = events.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if _FINISHED_KEY in item:
                    break  # the runner's last act: everything it reported is in the queue
                if _STATUS_KEY in item:
                    if on_status is not None:
                        on_status(item[_STATUS_KEY])
                else:
                    seen_events = seen_events or "runner_on_" in str(item.get("event", ""))
                    on_event(item)
        except BaseException:
            cancel.set()  # the caller's handler failed or we were interrupted: stop the job
            thread.join()
            raise
        finally:
            thread.join()
            killed = kill_run_processes(job.ident, control_path_dir=job.control_path_dir)
    status = str(runner.status or "error")
    rc = runner.rc if isinstance(runner.rc, int) else None
    if status == "running":  # the runner thread died with an exception
        status, error = "error", "ansible-runner stopped unexpectedly"
    elif rc == _NOT_FOUND:
        error = f"ansible-playbook was not found on the job's PATH ({envvars['PATH']})"
    elif status in {"failed", "error"} and not seen_events:
        error = _output_tail(artifact_dir) or f"ansible-playbook exited with {rc}"
    return JobOutcome(status, rc, artifact_dir, killed, error)


_PTY_LOCK = threading.Lock()
_pty_jobs = 0
_pty_close: Callable[..., None] | None = None


@contextlib.contextmanager
def _close_reaped_without_delay() -> Iterator[None]:
    """While agentmaint's jobs run, skip ptyprocess's close delay for their reaped children.

    ansible-runner closes a job's pty after `isalive()` has seen ansible-playbook exit
    (and reaped it); ptyprocess's `close` then still sleeps `delayafterclose` (0.1 s) "to
    give the kernel time to update the process status", which it already has. ansible-runner
    creates the pty itself, so the only reach is ptyprocess's class: the change is
    installed while at least one job runs and removed after the last, and it applies
    only to a child started with this module's job id in its environment and already
    reaped. Any other child (another library's, a cancelled job's) keeps the delay.
    """
    global _pty_jobs, _pty_close  # noqa: PLW0603 -- one installation shared by concurrent jobs
    with _PTY_LOCK:
        if _pty_jobs == 0:
            _pty_close = ptyprocess.PtyProcess.close
            ptyprocess.PtyProcess.close = _close_without_delay_if_ours
        _pty_jobs += 1
    try:
        yield
    finally:
        with _PTY_LOCK:
            _pty_jobs -= 1
            if _pty_jobs == 0 and _pty_close is not None:
                ptyprocess.PtyProcess.close = _pty_close
                _pty_close = None


def _close_without_delay_if_ours(self: Any, force: bool = True) -> None:
    env = getattr(self, "env", None) or {}
    if self.terminated and JOB_ID_VARIABLE in env:
        self.delayafterclose = 0
    close = _pty_close or _ORIGINAL_PTY_CLOSE
    close(self, force)


_ORIGINAL_PTY_CLOSE: Callable[..., None] = ptyprocess.PtyProcess.close


def _output_tail(artifact_dir: Path, lines: int = 8) -> str | None:
    """The last lines ansible-playbook printed (for runs that died before any task)."""
    text = _read(artifact_dir / "stdout").decode(errors="replace")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()
    return "\n".join(text.splitlines()[-lines:]) or None


@contextlib.contextmanager
def _without(names: set[str], values: list[str]) -> Iterator[None]:
    hidden = names | {k for k, v in os.environ.items() if any(s in v for s in values if s)}
    saved = {name: os.environ.pop(name) for name in hidden if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def kill_run_processes(run_id: str, *, control_path_dir: Path | None = None) -> int:
    """SIGKILL every process of a run and wait until they are gone; return how many.

    A run's processes carry its id in their environment, except the SSH ControlPersist
    masters, which rewrite their process title (and with it their environment): those
    are found by the run's own control path directory in their command line.
    """
    killed = 0
    deadline = time.monotonic() + _KILL_WAIT_SECONDS
    while True:
        pids = run_processes(run_id)
        if control_path_dir is not None:
            pids += _processes_mentioning(str(control_path_dir))
        if not pids:
            return killed
        for pid in set(pids):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass  # ended between the scan and the kill
        if time.monotonic() >= deadline:
            return killed
        time.sleep(0.05)  # SIGKILL is asynchronous: look again until they are gone


def run_processes(run_id: str) -> list[int]:
    """Live pids (other than this one) whose environment carries this job's id, exactly.

    The empty id matches every process of every run (a job's id may extend its run's:
    ``<run id>-<slice>``, so ids are matched whole).
    """
    marker = f"\0{JOB_ID_VARIABLE}={run_id}{chr(0) if run_id else ''}".encode()
    return _live_matching("environ", lambda environ: marker in b"\0" + environ)


def _of_job(pid: int, job_id: str) -> bool:
    """Whether process `pid` carries `job_id` (a process of that job, or a child of one)."""
    marker = f"\0{JOB_ID_VARIABLE}={job_id}\0".encode()
    return marker in b"\0" + _read(Path(f"/proc/{pid}/environ"))


def _processes_mentioning(text: str) -> list[int]:
    needle = text.encode()
    return _live_matching("cmdline", lambda cmdline: needle in cmdline)


def process_alive(pid: int) -> bool:
    """Whether `pid` is a running (not zombie) process."""
    return _running(Path(f"/proc/{pid}"))


def _running(entry: Path) -> bool:
    stat = _read(entry / "stat")
    # The state follows the parenthesised command name; a zombie is already dead.
    return bool(stat) and stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def _live_matching(name: str, matches: Callable[[bytes], bool]) -> list[int]:
    """Pids of the processes but this one, not zombies, whose ``/proc/PID/<name>`` `matches`.

    Every job's end scans every process of the machine (hundreds on a shared one): the
    file is read first and the state only for a match (a zombie's environ and cmdline
    read empty anyway), with plain paths rather than `Path` objects, which halves the
    cost of a scan.
    """
    own = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    return [
        int(entry)
        for entry in entries
        if entry.isdigit()
        and int(entry) != own
        and matches(_read(f"/proc/{entry}/{name}"))
        and _running(Path(f"/proc/{entry}"))
    ]


def _read(path: Path | str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return b""  # gone already, or not ours to read
