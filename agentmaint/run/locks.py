"""One lock per environment, across processes (and, with a shared history, controllers).

With the history in SQLite (the default), the locks are files under
``state_dir/locks/``: `flock(2)` locks belong to the open file, and the kernel
releases them when the holder exits, however it dies, so a lock left by a dead
process is free again at once. The file also records who holds it (pid, host
name, start time, run id) so that a refused run can name the holder. A lock file
(or the ``locks`` directory) that is a symlink is refused, never followed: opening
it would truncate whatever it points to.

With the history in PostgreSQL (``history.url``), every controller sharing it uses
advisory locks in that database instead (`agentmaint.run.advisory_locks`), with the same
semantics: taken in sorted order, polled until `wait`, released when the holder
dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentmaint.config.secret import Secret
from agentmaint.errors import LockHeldError, LockWaitCanceledError, StateDirError
from agentmaint.history.db.url import PostgresLocation, is_postgres_url, parse_history_url
from agentmaint.nofollow import open_regular
from agentmaint.run.advisory_locks import advisory_locks

__all__ = ["POLL_SECONDS", "environment_locks", "pause"]

_log = logging.getLogger(__name__)

#: Seconds between tries while waiting for a lock.
POLL_SECONDS = 0.2


@contextlib.contextmanager
def environment_locks(
    state_dir: Path,
    environments: Iterable[str],
    *,
    run_id: str,
    wait: timedelta | None = None,
    history_url: str | Secret | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[None]:
    """Hold the locks of `environments` (taken in sorted order) for the `with` body.

    `history_url` is ``history.url``: a ``postgresql://`` URL selects PostgreSQL
    advisory locks in that database; anything else (None, ``sqlite:///...``) the lock
    files under `state_dir`. Raises `LockHeldError` at once, or after `wait` when
    given; `LockWaitCanceledError` as soon as `cancel` is set while waiting (a
    signal must not leave a run waiting for minutes, then starting); `StoreError`
    when the database cannot be used (its message names the URL without its password).
    """
    deadline = time.monotonic() + wait.total_seconds() if wait else None
    url = history_url.reveal() if isinstance(history_url, Secret) else history_url
    if is_postgres_url(url):
        location = parse_history_url(url, state_dir)
        assert isinstance(location, PostgresLocation)  # is_postgres_url said so
        with advisory_locks(
            location,
            environments,
            run_id=run_id,
            pause=lambda: pause(POLL_SECONDS, cancel),
            deadline=deadline,
            on_wait=_waiting,
        ):
            yield
        return
    directory = state_dir / "locks"
    if os.path.islink(directory):
        raise StateDirError(
            f"{directory} is a symlink; agentmaint never follows one there: "
            "remove it (a real directory is created in its place)"
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for name in sorted(set(environments)):
            stack.enter_context(_lock(directory / f"{name}.lock", name, run_id, deadline, cancel))
        yield


@contextlib.contextmanager
def _lock(
    path: Path, name: str, run_id: str, deadline: float | None, cancel: threading.Event | None
) -> Iterator[None]:
    fd = _open_lock_file(path)
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is None or time.monotonic() >= deadline:
                    raise LockHeldError(name, _holder(fd)) from None
                if not told:
                    _waiting(name, _holder(fd))
                    told = True
                if pause(POLL_SECONDS, cancel):
                    raise LockWaitCanceledError(name, _holder(fd)) from None
        info = {
            "pid": os.getpid(),
            "controller": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(),
            "run": run_id,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def _waiting(environment: str, holder: dict[str, object]) -> None:
    """Say once that a run waits for a lock: a queued run must not look hung."""
    who = LockHeldError(environment, holder).who
    _log.info(
        "waiting for environment %r, locked by another run (%s)",
        environment,
        who,
        extra={"event": "lock_wait", "environment": environment},
    )


def pause(seconds: float, cancel: threading.Event | None) -> bool:
    """Wait `seconds` between two tries for a lock; True as soon as `cancel` is set."""
    if cancel is None:
        time.sleep(seconds)
        return False
    return cancel.wait(seconds)


def _open_lock_file(path: Path) -> int:
    """Open (or create) the lock file `path`, never through a symlink; return its fd.

    Not truncated at open: the holder's record is rewritten only once the lock is ours.
    """
    return open_regular(
        path,
        os.O_RDWR | os.O_CREAT | os.O_NONBLOCK,
        what="lock file",
        hint="remove it (no run holds it)",
        error=StateDirError,
    )


def _holder(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
