"""What a run creates outside its run directory, written down there so recovery can remove it.

A run keeps nearly everything under ``state_dir/runs/<id>/``. Two things cannot be there:

* its SSH ControlPath directory, in the system's temporary directory
  (``/tmp/agentmaint-cp-<run id>-XXXXXXXX``): a Unix socket path must fit in 108 bytes
  and ssh appends about 40 characters to it;
* on each execution node, the directory its job is unpacked in
  (``<work_dir>/agentmaint-<run id>-<n>``, see `agentmaint.ansible.remote`).

A run that ends, however (a cancel, a timeout, an error), removes them itself. A run
whose controller is killed cannot: so before it creates any of them, it writes them
down in ``runs/<id>/outside.json``, and `remove_outside` (called by the recovery of
that run) removes them:

* the ControlPath directory, after ending the SSH masters still serving it, only if it
  is a real directory (not a symlink) owned by this user, named by that run;
* on each node, over SSH, the job's processes, then its directory (only a real
  directory of the node's user). A node that cannot be reached then keeps them: the
  recovery says so in its log, and the job's processes there end on their own when
  they find their stream gone, or run to their end; the directory stays until removed
  by hand (``<work_dir>/agentmaint-<run id>-<n>``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agentmaint.ansible.remote import end_node_job, remote_dir, ssh_argv
from agentmaint.ansible.runner import kill_run_processes
from agentmaint.config.schedule import ExecutionNode
from agentmaint.errors import StateDirError

__all__ = [
    "CONTROL_PATH_PREFIX",
    "OUTSIDE_NAME",
    "make_control_path_dir",
    "record_node_jobs",
    "remove_outside",
]

_log = logging.getLogger(__name__)

#: The file, in a run's directory, that names what the run created outside it.
OUTSIDE_NAME = "outside.json"
#: How every ControlPath directory of agentmaint is named (then the run id, ``-``, random).
CONTROL_PATH_PREFIX = "agentmaint-cp-"
_MAX_BYTES = 1 << 20
_RANDOM = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True, slots=True)
class _NodeJob:
    """A job of the run on an execution node: how to reach it, and its directory there."""

    ident: str
    node: str
    ssh: tuple[str, ...]  # `ssh_argv` without the remote command
    directory: str


@dataclass(frozen=True, slots=True)
class _Outside:
    """What ``outside.json`` says."""

    temporary_dir: str | None = None  # where the ControlPath directory was made
    node_jobs: tuple[_NodeJob, ...] = ()


def make_control_path_dir(run_dir: Path, run_id: str) -> Path:
    """Create the run's private ControlPath directory, written down in `run_dir` first.

    Written down before it is created, so no kill can leave one unrecorded: what is
    recorded is where it is made and how it is named (``agentmaint-cp-<run id>-``).
    Raises `StateDirError` when either cannot be done.
    """
    parent = tempfile.gettempdir()
    _write(run_dir, _Outside(temporary_dir=parent))
    try:
        return Path(tempfile.mkdtemp(prefix=f"{CONTROL_PATH_PREFIX}{run_id}-", dir=parent))
    except OSError as exc:
        raise StateDirError(
            f"cannot create the run's SSH ControlPath directory in {parent}: {exc.strerror or exc}"
        ) from None


def record_node_jobs(run_dir: Path, jobs: Iterable[tuple[str, ExecutionNode]]) -> None:
    """Add the run's (job ident, node) jobs on execution nodes to what `run_dir` records.

    Called before any job reaches its node. Raises `StateDirError` when it cannot be
    written (as `make_control_path_dir`).
    """
    found = [
        _NodeJob(ident, node.name, tuple(ssh_argv(node, "")[:-1]), remote_dir(node, ident))
        for ident, node in jobs
    ]
    if found:
        outside = _read(run_dir, run_dir.name) or _Outside()
        _write(run_dir, _Outside(outside.temporary_dir, (*outside.node_jobs, *found)))


def remove_outside(run_dir: Path, run_id: str) -> None:
    """Remove what the dead run `run_id` left outside its directory `run_dir` (see the module).

    Safe to repeat (what is gone is not looked for again) and never fails: what cannot be
    removed is logged and left.
    """
    outside = _read(run_dir, run_id)
    if outside is None:
        return
    if outside.temporary_dir is not None:
        for path in _control_path_dirs(Path(outside.temporary_dir), run_id):
            # Its SSH masters rewrote their environment: they are found by the path.
            kill_run_processes(run_id, control_path_dir=path)
            try:
                shutil.rmtree(path)
            except OSError as exc:
                _log.warning("run %s: cannot remove %s: %s", run_id, path, exc)
            else:
                _log.info("run %s: removed its ControlPath directory %s", run_id, path)
    for job in outside.node_jobs:
        if not _is_the_runs(job, run_id):
            _log.warning("run %s: %s names a job of another run; left", run_id, OUTSIDE_NAME)
            continue
        failed = end_node_job(job.ssh, job.ident, job.directory)
        if failed is None:
            _log.info("run %s: ended job %s on node %s", run_id, job.ident, job.node)
        else:
            _log.warning(
                "run %s: cannot reach node %s (%s): its processes of job %s, if any, and %s "
                "stay there",
                run_id,
                job.node,
                failed,
                job.ident,
                job.directory,
            )


def _control_path_dirs(parent: Path, run_id: str) -> list[Path]:
    """The run's ControlPath directories in `parent`: real directories of this user only."""
    prefix = f"{CONTROL_PATH_PREFIX}{run_id}-"
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(parent):
            rest = entry.name.removeprefix(prefix)
            if rest == entry.name or not _RANDOM.fullmatch(rest):
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # removed meanwhile
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
                found.append(Path(entry.path))
    return found


def _is_the_runs(job: _NodeJob, run_id: str) -> bool:
    """Whether `job` is one of run `run_id`'s (so ending it ends nothing else)."""
    index = job.ident.removeprefix(f"{run_id}-")
    return (
        index != job.ident
        and index.isdigit()
        and job.directory.endswith(f"/agentmaint-{job.ident}")
        and bool(job.ssh)
    )


def _write(run_dir: Path, outside: _Outside) -> None:
    """Replace ``run_dir/OUTSIDE_NAME`` (a private file, never through a symlink)."""
    document = {
        "temporary_dir": outside.temporary_dir,
        "node_jobs": [
            {"ident": j.ident, "node": j.node, "ssh": list(j.ssh), "directory": j.directory}
            for j in outside.node_jobs
        ],
    }
    temporary = f".{OUTSIDE_NAME}.tmp"
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=fd)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            handle = os.open(temporary, flags, 0o600, dir_fd=fd)
            with os.fdopen(handle, "w") as file:
                json.dump(document, file)
            os.rename(temporary, OUTSIDE_NAME, src_dir_fd=fd, dst_dir_fd=fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StateDirError(
            f"cannot write {run_dir / OUTSIDE_NAME}: {exc.strerror or exc}"
        ) from None


def _read(run_dir: Path, run_id: str) -> _Outside | None:
    """What ``run_dir/OUTSIDE_NAME`` says; None if nothing (or nothing usable: logged)."""
    path = run_dir / OUTSIDE_NAME
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            handle = os.open(OUTSIDE_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        finally:
            os.close(fd)
        with os.fdopen(handle, "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
                raise ValueError("not a regular file of this user")
            document = json.loads(file.read(_MAX_BYTES))
        jobs = tuple(
            _NodeJob(str(j["ident"]), str(j["node"]), tuple(map(str, j["ssh"])), j["directory"])
            for j in document["node_jobs"]
        )
        temporary = document["temporary_dir"]
        if not (temporary is None or isinstance(temporary, str)):
            raise ValueError("temporary_dir is not a path")
        if not all(isinstance(j.directory, str) for j in jobs):
            raise ValueError("a node job's directory is not a path")
        return _Outside(temporary, jobs)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _log.warning("run %s: %s is unusable (%s): left untouched", run_id, path, exc)
        return None
