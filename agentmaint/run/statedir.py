"""The state directory: checked before a run touches any host.

Its ``runs`` and ``locks`` subdirectories are agentmaint's own: a symlink in their
place is refused, never followed (run directories and lock files would be written,
and pruned, wherever it points).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from agentmaint.errors import StateDirError

__all__ = ["CHECKS_SUBDIR", "MIN_FREE_BYTES", "OWN_SUBDIRS", "check_state_dir", "make_run_dir"]

#: The subdirectories of state_dir that agentmaint creates, writes and prunes.
OWN_SUBDIRS = ("runs", "locks")
#: Where ``agentmaint check`` prepares its job directories (each removed after its check).
CHECKS_SUBDIR = "checks"

#: Free space a run needs in state_dir before it touches any host (artifacts, history).
MIN_FREE_BYTES = 64 * 1024 * 1024


def check_state_dir(state_dir: Path) -> None:
    """Fail before any host is touched when `state_dir` is not writable or nearly full."""
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state_dir, prefix=".probe-") as probe:
            probe.write(b"\0" * 65536)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise StateDirError(
            f"state_dir {state_dir} is not a writable directory: {exc.strerror or exc}"
        ) from None
    for name in OWN_SUBDIRS:
        sub = state_dir / name
        if os.path.islink(sub):
            raise StateDirError(
                f"{sub} is a symlink; agentmaint never follows one there: "
                "remove it (a real directory is created in its place)"
            )
        if os.path.lexists(sub) and not sub.is_dir():
            raise StateDirError(f"{sub} is not a directory: remove it")
    free = shutil.disk_usage(state_dir).free
    if free < MIN_FREE_BYTES:
        raise StateDirError(
            f"state_dir {state_dir} has only {free // 1024} KiB free; a run needs at least "
            f"{MIN_FREE_BYTES // (1024 * 1024)} MiB for its artifacts and history"
        )


def make_run_dir(state_dir: Path, run_id: str, *, under: str = "runs") -> Path:
    """Create the private directory ``state_dir/runs/<run_id>``, never through a symlink.

    `under` names another subdirectory of state_dir for it (``checks`` for preflight checks).

    Created relative to an open ``runs`` directory (``O_NOFOLLOW``), so a ``runs`` made a
    symlink after `check_state_dir` (a run may wait minutes for its locks in between) is
    refused rather than followed; the path is then checked to name what was created.
    """
    runs = state_dir / under
    try:
        state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(runs, 0o700)
        fd = os.open(runs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise StateDirError(
            f"{runs} is not a real directory ({exc.strerror or exc}); agentmaint never "
            "follows a symlink there: remove it (a real directory is created in its place)"
        ) from None
    try:
        try:
            os.mkdir(run_id, 0o700, dir_fd=fd)
        except OSError as exc:
            raise StateDirError(f"cannot create {runs / run_id}: {exc.strerror or exc}") from None
        made = os.stat(run_id, dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)
    run_dir = runs / run_id
    seen = os.lstat(run_dir)
    if not os.path.samestat(made, seen) or os.path.islink(runs):
        raise StateDirError(
            f"{runs} was replaced while the run was starting; agentmaint never follows a "
            "symlink there: nothing was run"
        )
    return run_dir
