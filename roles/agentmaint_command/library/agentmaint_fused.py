#!/usr/bin/python
"""agentmaint's fused maintenance module: backup, update, health check and rollback in one task.

Runs on the managed host. Each step is a shell command run as the ``shell`` module runs
it (``/bin/sh -c``, output without its trailing newline), and the result of each is
returned in ``agentmaint_steps`` so that agentmaint records the same per-action history
as when every step is its own task.
"""

from __future__ import annotations

import os
import select
import stat
import time

from ansible.module_utils.basic import AnsibleModule

# Over the direct path (the action plugin) the host's Python starts, compiles and imports this
# program at every task, and most of its cost was imports: so it imports only what costs
# little (BENCHMARKS.md, "The host's program: imports and compile"). No typing (annotations
# are never evaluated, and mypy takes any TYPE_CHECKING as true), no subprocess (`_command`),
# no json's regular expressions (`_dumps`, `_loads`), no contextlib (`_Suppress`), no datetime
# (`_isoformat`, `_delta`), and signal's C module rather than signal, whose enums import enum.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from typing import Any
else:
    try:
        import _signal as signal
    except ImportError:  # not CPython
        import signal

DOCUMENTATION = r"""
---
module: agentmaint_fused
short_description: Back up, update, check and roll back a component in one task
description:
  - Runs the backup command, the update command and the health check command (with its
    retries and delay); when the update or the health check fails, runs the rollback command.
  - Returns the result of every step in C(agentmaint_steps), each with the fields of the
    shell module's result (rc, stdout, stderr, start, end, changed, failed, msg).
  - In check mode nothing runs; every step is reported as it would have run.
options:
  component:
    description: Name of the component.
    type: str
    required: true
  update:
    description: Shell command that updates the component.
    type: str
    required: true
  rollback:
    description: Shell command that undoes the update ("" = none).
    type: str
    default: ""
  backup:
    description: Shell command run before the update ("" = no backup).
    type: str
    default: ""
  healthcheck:
    description: Shell command that must exit 0 after the update ("" = no health check).
    type: str
    default: ""
  healthcheck_contains:
    description: Text the health check's output must contain.
    type: str
    default: ""
  healthcheck_retries:
    description: Retries of the health check after the first try.
    type: int
    default: 3
  healthcheck_delay:
    description: Seconds between tries of the health check.
    type: int
    default: 5
  failure_msg:
    description: Message of a failed update or health check once the rescue ran.
    type: str
    default: update or health check failed
  mode:
    description:
      - C(run) runs the steps and returns their results.
      - C(start) starts them in the background as job C(job_name) and returns at once;
        C(wait) waits at most C(wait) seconds for that job and returns its results
        (C(finished) says whether it ended).
      - C(stop) ends that job's commands (its process group) if it still runs and removes
        its files (C(stopped) says whether it was running): a cancelled run's.
    type: str
    choices: [run, start, wait, stop]
    default: run
  job_name:
    description: >-
      Name of a background job: while it runs, its process group id and its daemon's pid
      are in C(~/.ansible_async/agentmaint/<job_name>.pid) and its results go to
      C(<job_name>.json) next to it (a private directory the module creates).
    type: str
    default: ""
  timeout:
    description: Seconds a background job may run before its commands are ended (0 = no limit).
    type: int
    default: 0
  wait:
    description: Seconds C(wait) waits for the job before it returns unfinished.
    type: int
    default: 30
author: agentmaint
"""

RETURN = r"""
agentmaint_steps:
  description: One result per step run, in order.
  returned: always
  type: list
  elements: dict
"""

_SKIP_MSG = "Command would have run if not in check mode"


def _now() -> int:
    """Microseconds since the epoch, as ``datetime.now(timezone.utc)`` reads the clock."""
    return time.time_ns() // 1000


def _isoformat(micros: int) -> str:
    """``datetime.now(timezone.utc).isoformat()`` of `_now`'s time (datetime costs 1.5 ms)."""
    seconds, fraction = divmod(micros, 1_000_000)
    year, month, day, hour, minute, second = time.gmtime(seconds)[:6]
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}+00:00" if fraction else f"{text}+00:00"


def _delta(micros: int) -> str:
    """``str(timedelta(microseconds=micros))``: ``H:MM:SS[.ffffff]``, after ``N day(s), ``."""
    days, micros = divmod(micros, 86_400_000_000)  # negative days, as timedelta's
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    text = f"{hours}:{minutes:02d}:{seconds:02d}"
    if fraction:
        text += f".{fraction:06d}"
    if days:
        text = f"{days} day{'s' if abs(days) != 1 else ''}, {text}"
    return text


class _Suppress:
    """``contextlib.suppress``: contextlib imports collections and functools (3 ms a host)."""

    def __init__(self, *errors: type[BaseException]) -> None:
        self.errors = errors

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, self.errors)


try:
    # json's C half, the very functions json.dumps and json.loads call, without json's Python
    # half, which imports re and compiles its patterns (a quarter of this program's start).
    from _json import encode_basestring_ascii as _quote
    from _json import make_scanner
except ImportError:  # not CPython: json itself
    _quote = None  # type: ignore[assignment]


def _dumps(value: object) -> str:
    """``json.dumps(value)``: the same text, made here for what the module returns."""
    if _quote is not None:
        # The types the results hold; anything else (none so far) as json.dumps writes it,
        # which composes: a container's text joins its items' texts with these separators.
        if type(value) is str:
            return _quote(value)
        if value is None:
            return "null"
        if type(value) is bool:
            return "true" if value else "false"
        if type(value) is int:
            return repr(value)
        if type(value) is list or type(value) is tuple:
            return "[" + ", ".join(_dumps(item) for item in value) + "]"
        if type(value) is dict and all(type(key) is str for key in value):
            return "{" + ", ".join(f"{_quote(k)}: {_dumps(v)}" for k, v in value.items()) + "}"
    import json  # noqa: PLC0415 - only for what the fast path does not write

    return json.dumps(value)


class _Decoding:
    """What ``_json``'s scanner reads of a ``json.JSONDecoder``: json.loads's defaults."""

    strict = True
    object_hook = object_pairs_hook = array_hook = None
    parse_float = parse_constant = float  # float("NaN"), float("-Infinity"): json's own
    parse_int = int


def _loads(text: str) -> Any:
    """``json.loads(text)``, for the result files the module writes with `_dumps`."""
    if _quote is not None:
        with _Suppress(Exception):  # json.loads below says what is wrong, if anything is
            value, end = make_scanner(_Decoding())(text, 0)  # type: ignore[arg-type]
            if end == len(text):
                return value
    import json  # noqa: PLC0415 - only when the fast path does not apply

    return json.loads(text)


#: Where the open descriptors are listed (Linux; macOS and the BSDs).
_FD_DIRS = ("/proc/self/fd", "/dev/fd")
#: Descriptors are dealt with up to this one where the open ones cannot be listed.
_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024


def _open_descriptors() -> list[int]:
    """The process's open descriptors above standard error (perhaps one closed since).

    Listed where the system lists them: on a Python or libc without ``close_range``, going
    through every number up to the limit is a system call for each, perhaps a million.
    """
    for directory in _FD_DIRS:
        try:
            return [number for number in map(int, os.listdir(directory)) if number > 2]
        except OSError:
            continue
    return list(range(3, _MAX_FD))


def _close_inherited() -> None:
    """Close every descriptor but standard input, output and error."""
    for descriptor in _open_descriptors():
        with _Suppress(OSError):  # the listing's own descriptor, closed since
            os.close(descriptor)


#: The signals Python ignores and subprocess restores for the commands it runs.
_RESTORED = tuple(
    getattr(signal, n) for n in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, n)
)


def _command(cmd: str) -> tuple[int, bytes, bytes]:
    """Run `cmd` as ``subprocess.run(cmd, shell=True, stdin=DEVNULL, capture_output=True)``.

    ``/bin/sh -c cmd`` with /dev/null for its standard input, no descriptor of this process
    but its output and error, and SIGPIPE and SIGXFSZ at their defaults (Python ignores
    them); the two read together to their ends (neither pipe can fill up and stall the
    command); its return code, minus the signal's number if a signal ended it. The same
    as subprocess, which costs a host 10 ms of imports, and as fast: ``posix_spawn``
    (Python 3.8 and later, as ansible-core's managed nodes) rather than ``fork``, which
    copies this process and waits for a CPU before the command can start.
    """
    out_read, out_write = os.pipe()  # both close-on-exec, as every descriptor Python opens
    err_read, err_write = os.pipe()
    try:
        for descriptor in _open_descriptors():  # any the process inherited: not the command's
            with _Suppress(OSError):
                os.set_inheritable(descriptor, False)
        pid = os.posix_spawn(
            "/bin/sh",
            ["/bin/sh", "-c", cmd],
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
            ],
            setsigdef=_RESTORED,
        )
    finally:
        os.close(out_write)
        os.close(err_write)
    chunks: dict[int, list[bytes]] = {out_read: [], err_read: []}
    try:
        pending = [out_read, err_read]
        while pending:
            for descriptor in select.select(pending, [], [])[0]:
                chunk = os.read(descriptor, 65536)
                if chunk:
                    chunks[descriptor].append(chunk)
                else:
                    pending.remove(descriptor)
    finally:
        os.close(out_read)
        os.close(err_read)
    status = os.waitpid(pid, 0)[1]
    rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return rc, b"".join(chunks[out_read]), b"".join(chunks[err_read])


class _Steps:
    """Runs the steps and keeps their results."""

    def __init__(self, check_mode: bool) -> None:
        self.check_mode = check_mode
        self.results: list[dict[str, Any]] = []

    def shell(self, action: str, cmd: str) -> dict[str, Any]:
        """One run of `cmd` (``/bin/sh -c``), shaped like the shell module's result."""
        if self.check_mode:
            return {
                "action": action,
                "cmd": cmd,
                "rc": 0,
                "stdout": "",
                "stderr": "",
                "start": None,
                "end": None,
                "delta": None,
                "changed": False,
                "failed": False,
                "skipped": True,
                "msg": _SKIP_MSG,
            }
        start = _now()
        rc, stdout, stderr = _command(cmd)
        end = _now()
        return {
            "action": action,
            "cmd": cmd,
            "rc": rc,
            "stdout": stdout.decode("utf-8", "replace").rstrip("\r\n"),
            "stderr": stderr.decode("utf-8", "replace").rstrip("\r\n"),
            "start": _isoformat(start),
            "end": _isoformat(end),
            "delta": _delta(end - start),
            "changed": True,
            "failed": rc != 0,
            "skipped": False,
            "msg": "non-zero return code" if rc != 0 else "",
        }

    def step(self, action: str, cmd: str, *, changed: bool = True) -> bool:
        """Run a step once and keep its result; whether it succeeded."""
        result = self.shell(action, cmd)
        if not changed and not result["skipped"]:
            result["changed"] = False
        self.results.append(result)
        return not result["failed"]

    def check(self, cmd: str, contains: str, retries: int, delay: int) -> bool:
        """The health check, tried 1 + retries times (Ansible's until/retries/delay)."""
        attempts = 1 + max(0, retries)
        result: dict[str, object] = {}
        for attempt in range(1, attempts + 1):
            result = self.shell("healthcheck", cmd)
            result["changed"] = False
            if result["rc"] == 0 and contains in str(result["stdout"]):
                result["failed"] = False
                break
            if result["skipped"]:
                # As Ansible's until does in check mode: the empty output of a command that
                # did not run lacks the text, and the check fails at once.
                result.update(skipped=False, failed=True)
                break
            result["failed"] = True
            if attempt < attempts:
                time.sleep(delay)
        if attempts > 1:
            result["attempts"] = attempt
        self.results.append(result)
        return not result["failed"]


#: The module's own directory for its background jobs' state, beside Ansible's async jobs.
_JOB_DIR = "~/.ansible_async/agentmaint"
_SUFFIXES = (".pid", ".json", ".json.part")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _job_dir() -> str:
    """The jobs' directory, created private (0700) by this module; refused if anything else."""
    directory = os.path.expanduser(_JOB_DIR)
    os.makedirs(os.path.dirname(directory), mode=0o700, exist_ok=True)
    with _Suppress(FileExistsError):
        os.mkdir(directory, 0o700)
    found = os.lstat(directory)
    # Only a directory of this user that nobody else can write is the module's own: never a
    # symlink (whose target it did not create) nor a directory others could plant files in.
    if (
        not stat.S_ISDIR(found.st_mode)
        or found.st_uid != os.getuid()
        or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise OSError(f"{directory} is not a private directory of this user")
    return directory


def _jobs(module: AnsibleModule) -> str:
    """The jobs' directory, or the task fails saying why not."""
    try:
        return _job_dir()
    except OSError as exc:
        module.fail_json(msg=f"background jobs: {exc}", finished=True)
        raise  # fail_json exits


def _job_path(directory: str, job_name: str, suffix: str) -> str:
    return os.path.join(directory, f"{os.path.basename(job_name)}{suffix}")


def _write_new(path: str, text: str) -> None:
    """Create `path` (never through a symlink, never over an existing file) holding `text`."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read(path: str) -> str | None:
    """The text of `path` (never through a symlink); None when it is not there."""
    try:
        descriptor = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(descriptor, encoding="utf-8") as handle:
        return handle.read()


def _process_stat(pid: str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command's name; None if it is gone.

    The state first (``Z`` for a zombie), then the parent's pid, then the process group.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()
    except OSError:
        return None


def _ended(pid_text: str) -> bool:
    """Whether the job of a pid file (``<process group> <daemon pid>``) has surely ended.

    The daemon gone, or a zombie (whoever adopted it may not have reaped it yet), or in
    another group (its pid reused): its result, if any, is written. Without ``/proc``, the
    group: ended when no process of it is left. An incomplete file (being written) has not.
    """
    words = pid_text.split()
    if len(words) != 2 or not all(w.isdigit() for w in words):
        return False
    group, pid = (str(int(w)) for w in words)  # as the kernel writes them
    if os.path.isdir("/proc/self"):
        fields = _process_stat(pid)
        return fields is None or fields[0] == "Z" or fields[2] != group
    try:
        os.killpg(int(group), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _maintain(steps: _Steps, p: dict[str, Any]) -> str:
    """Run the steps in order; the failure message ("" when every step succeeded)."""
    if p["backup"] and not steps.step("backup", p["backup"]):
        return "backup failed"
    if steps.step("update", p["update"]) and (
        not p["healthcheck"]
        or steps.check(
            p["healthcheck"],
            p["healthcheck_contains"],
            p["healthcheck_retries"],
            p["healthcheck_delay"],
        )
    ):
        return ""
    if p["rollback"] and not steps.step("rollback", p["rollback"]):
        return "rollback failed"
    return str(p["failure_msg"])


def _outcome(steps: _Steps, msg: str) -> dict[str, Any]:
    """The module's result for the steps run."""
    results = steps.results
    if msg:
        changed = any(r["changed"] for r in results)
        return {"failed": True, "msg": msg, "changed": changed, "agentmaint_steps": results}
    if steps.check_mode:
        # Not skipped itself: Ansible drops the result (and so the steps) of a skipped task.
        return {"changed": False, "msg": _SKIP_MSG, "agentmaint_steps": results}
    changed = any(r["changed"] for r in results)
    return {"changed": changed, "msg": "", "agentmaint_steps": results}


def _remove_job(directory: str, job_name: str) -> None:
    """Remove a job's own files (pid, result, partial result), those that are there."""
    for suffix in _SUFFIXES:
        with _Suppress(FileNotFoundError):
            os.unlink(_job_path(directory, job_name, suffix))


def _sweep(directory: str) -> None:
    """Remove the pid files of jobs that ended without a result (a cancelled run's, killed).

    Only in the module's own directory, only a pid file whose daemon has ended with no
    result beside it: its wait, if one ever comes, fails the same way
    without it ("ended without a result"). Results are left for their waits.
    """
    for entry in os.listdir(directory):
        if not entry.endswith(".pid"):
            continue
        path = os.path.join(directory, entry)
        if _ended(_read(path) or "") and not os.path.lexists(path[: -len(".pid")] + ".json"):
            with _Suppress(OSError):
                os.unlink(path)


def _start(module: AnsibleModule, p: dict[str, Any]) -> None:
    """Run the steps in a daemon of their own (a process group with a pid file); exit.

    The pid file is written before this returns, so the first wait always finds the job.
    The daemon keeps none of the connection's descriptors (its standard input, output and
    error become /dev/null): the connection ends with this process, not with the job.
    """
    name = p["job_name"]
    directory = _jobs(module)
    pid_file, result_file = _job_path(directory, name, ".pid"), _job_path(directory, name, ".json")
    _remove_job(directory, name)  # an earlier start of this job's (in the module's own directory)
    _sweep(directory)
    if os.fork() > 0:
        _, status = os.wait()  # the first child exits once the pid file is written
        if status != 0:
            module.fail_json(msg=f"background job {name} could not start", finished=True)
        module.exit_json(changed=False, agentmaint_job=name, finished=False)
    try:
        os.setsid()  # a session and group of its own: the timeout ends every command it started
        daemon = os.fork()
    except BaseException:
        os._exit(1)
    if daemon > 0:
        try:
            _write_new(pid_file, f"{os.getpgrp()} {daemon}\n")
        except BaseException:
            os.kill(daemon, signal.SIGKILL)
            os._exit(1)
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):  # the connection waits for its pipes to close
        os.dup2(null, descriptor)
    _close_inherited()
    if p["timeout"] > 0:
        signal.signal(signal.SIGALRM, lambda *_: os.killpg(os.getpgrp(), signal.SIGKILL))
        signal.alarm(p["timeout"])
    steps = _Steps(check_mode=False)
    try:
        outcome = _outcome(steps, _maintain(steps, p))
    except Exception as exc:  # whatever happens, the waiting task must hear of it
        outcome = {"failed": True, "msg": f"background job failed: {exc}"}
    partial = result_file + ".part"
    with _Suppress(OSError):
        _write_new(partial, _dumps(outcome))
        os.rename(partial, result_file)
    with _Suppress(OSError):
        os.unlink(pid_file)
    os._exit(0)


def _wait(module: AnsibleModule, p: dict[str, Any]) -> None:
    """Wait at most ``wait`` seconds for a background job; exit with its results if it ended."""
    name = p["job_name"]
    directory = _jobs(module)
    pid_file, result_file = _job_path(directory, name, ".pid"), _job_path(directory, name, ".json")
    deadline = time.monotonic() + max(0, p["wait"])
    while True:
        text = _read(result_file)
        if text is not None:
            outcome = _loads(text)
            with _Suppress(OSError):
                os.unlink(result_file)
            outcome["finished"] = True
            if outcome.get("failed"):
                module.fail_json(**outcome)
            module.exit_json(**outcome)
        job = _read(pid_file)
        if job is None or _ended(job):
            if _read(result_file) is not None:
                continue  # it ended between the two looks
            # Ended without writing its result: killed, or its timeout ended it.
            with _Suppress(OSError):
                os.unlink(pid_file)
            module.fail_json(msg=f"background job {name} ended without a result", finished=True)
        if time.monotonic() >= deadline:
            module.exit_json(changed=False, finished=False)
        time.sleep(0.05)


def _group_alive(group: int) -> bool:
    """Whether a process of `group` still runs (zombies aside, where ``/proc`` tells)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in os.listdir("/proc"):
        fields = _process_stat(entry) if entry.isdigit() else None  # None: gone meanwhile
        if fields is not None and len(fields) > 2 and fields[2] == str(group) and fields[0] != "Z":
            return True
    return False


def _stop(module: AnsibleModule, p: dict[str, Any]) -> None:
    """End a background job that still runs (SIGKILL to its process group); remove its files.

    Only the job of this name's pid file, read in the module's own directory (never
    through a symlink), and only while its daemon is alive in the group the file names
    (`_ended`): a pid since reused by another process is never signalled. Exits with
    ``stopped`` (it was running and is ended now) or fails when it could not be ended.
    """
    name = p["job_name"]
    directory = _jobs(module)
    job = _read(_job_path(directory, name, ".pid"))
    stopped = False
    if job is not None and not _ended(job):
        group = int(job.split()[0])
        try:
            os.killpg(group, signal.SIGKILL)
            stopped = True
        except ProcessLookupError:
            pass  # it ended between the look and the kill
        except PermissionError as exc:
            module.fail_json(
                msg=f"background job {name} could not be stopped: {exc}", stopped=False
            )
        deadline = time.monotonic() + 5
        while stopped and _group_alive(group):  # SIGKILL is asynchronous
            if time.monotonic() >= deadline:
                module.fail_json(
                    msg=f"background job {name} still runs after SIGKILL", stopped=False
                )
            time.sleep(0.05)
    _remove_job(directory, name)  # no wait will come for them
    msg = f"background job {name} stopped" if stopped else f"background job {name} had ended"
    module.exit_json(changed=stopped, stopped=stopped, finished=True, msg=msg)


def main() -> None:
    """Run, start or wait for the steps, as `mode` says."""
    module = AnsibleModule(
        argument_spec={
            "component": {"type": "str", "default": ""},
            "update": {"type": "str", "default": ""},
            "rollback": {"type": "str", "default": ""},
            "backup": {"type": "str", "default": ""},
            "healthcheck": {"type": "str", "default": ""},
            "healthcheck_contains": {"type": "str", "default": ""},
            "healthcheck_retries": {"type": "int", "default": 3},
            "healthcheck_delay": {"type": "int", "default": 5},
            "failure_msg": {"type": "str", "default": "update or health check failed"},
            "mode": {
                "type": "str",
                "default": "run",
                "choices": ["run", "start", "wait", "stop"],
            },
            "job_name": {"type": "str", "default": ""},
            "timeout": {"type": "int", "default": 0},
            "wait": {"type": "int", "default": 30},
        },
        required_if=[
            ("mode", "run", ["update"]),
            ("mode", "start", ["update", "job_name"]),
            ("mode", "wait", ["job_name"]),
            ("mode", "stop", ["job_name"]),
        ],
        supports_check_mode=True,
    )
    p = module.params
    mode = p["mode"]
    if mode == "wait":
        _wait(module, p)
    if mode == "stop":
        _stop(module, p)
    if mode == "start" and not module.check_mode:
        _start(module, p)
    steps = _Steps(check_mode=module.check_mode)
    outcome = _outcome(steps, _maintain(steps, p))
    if outcome.get("failed"):
        module.fail_json(**outcome)
    module.exit_json(**outcome)


if __name__ == "__main__":
    main()
