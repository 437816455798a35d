"""One lock per environment under ``state_dir/locks/``, across processes.

`flock(2)` locks belong to the open file: the kernel releases them when the
holder exits, however it dies, so a lock left by a dead process is free again
at once. The file also records who holds it (pid, start time, run id) so that
a refused run can name the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentmaint.errors import AgentmaintError

_POLL_SECONDS = 0.2


class LockHeldError(AgentmaintError, RuntimeError):
    """Another run holds the lock of an environment this run needs."""

    def __init__(self, environment: str, holder: dict[str, object]) -> None:
        """Record the environment and what the lock file says of its holder."""
        self.environment = environment
        self.holder = holder
        who = ", ".join(f"{k} {v}" for k, v in holder.items()) or "unknown holder"
        super().__init__(f"environment {environment!r} is locked by another run ({who})")


@contextlib.contextmanager
def environment_locks(
    state_dir: Path,
    environments: Iterable[str],
    *,
    run_id: str,
    wait: timedelta | None = None,
) -> Iterator[None]:
    """Hold the locks of `environments` (taken in sorted order) for the `with` body.

    Raises `LockHeldError` at once, or after `wait` when given.
    """
    directory = state_dir / "locks"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    deadline = time.monotonic() + wait.total_seconds() if wait else None
    with contextlib.ExitStack() as stack:
        for name in sorted(set(environments)):
            stack.enter_context(_lock(directory / f"{name}.lock", name, run_id, deadline))
        yield


@contextlib.contextmanager
def _lock(path: Path, name: str, run_id: str, deadline: float | None) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is None or time.monotonic() >= deadline:
                    raise LockHeldError(name, _holder(fd)) from None
                time.sleep(_POLL_SECONDS)
        info = {"pid": os.getpid(), "started": datetime.now(UTC).isoformat(), "run": run_id}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock


def _holder(fd: int) -> dict[str, object]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
