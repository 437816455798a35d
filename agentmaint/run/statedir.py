"""The state directory: checked before a run touches any host.

Its ``runs`` and ``locks`` subdirectories are agentmaint's own: a symlink in their
place is refused, never followed (run directories and lock files would be written,
and pruned, wherever it points).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from agentmaint.errors import StateDirError

__all__ = ["MIN_FREE_BYTES", "OWN_SUBDIRS", "check_state_dir"]

#: The subdirectories of state_dir that agentmaint creates, writes and prunes.
OWN_SUBDIRS = ("runs", "locks")

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
