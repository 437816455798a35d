"""The state directory: checked before a run touches any host."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from agentmaint.errors import StateDirError

__all__ = ["MIN_FREE_BYTES", "check_state_dir"]

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
    free = shutil.disk_usage(state_dir).free
    if free < MIN_FREE_BYTES:
        raise StateDirError(
            f"state_dir {state_dir} has only {free // 1024} KiB free; a run needs at least "
            f"{MIN_FREE_BYTES // (1024 * 1024)} MiB for its artifacts and history"
        )
