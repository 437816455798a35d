"""Opening a file agentmaint writes, never through a symlink, only if it is a regular file.

Lock files, the ``--log-file``: a symlink planted in their place would make agentmaint
write (or truncate) whatever it points to, so it is refused, never followed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["open_regular"]


def open_regular(path: Path, flags: int, *, what: str, hint: str, error: type[Exception]) -> int:
    """Open `path` with `flags` (plus ``O_NOFOLLOW | O_CLOEXEC``, mode 0600 if created).

    Raises `error` naming `what` and `path`: for a symlink (with `hint`: what to do), a
    file that cannot be opened, or one that is not a regular file. Returns the fd.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if os.path.islink(path):
            raise error(
                f"{what} {path} is a symlink; agentmaint never follows one: {hint}"
            ) from None
        raise error(f"cannot open {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise error(f"{what} {path} is not a regular file: remove it or name another")
    return fd
