"""Installing and removing a schedule's units, in a unit directory given by the caller.

`install_units` writes both files (each replaced atomically; never through a symlink,
never over a unit agentmaint did not write), reloads systemd and enables the timer;
`remove_units` disables the timer and deletes the two files, only when both are
agentmaint's (their first line is `HEADER`). systemctl is a callable the caller passes,
so the logic runs against a temporary directory in tests; `systemd_booted` says whether
systemd is PID 1, the way ``sd_booted()`` does.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path

from agentmaint.errors import UsageError
from agentmaint.timer.units import HEADER, TimerUnits, unit_base

__all__ = [
    "SYSTEMD_RUN_DIR",
    "UNIT_DIR",
    "Systemctl",
    "UnitState",
    "install_units",
    "remove_units",
    "run_systemctl",
    "systemd_booted",
    "unit_state",
    "write_unit",
]

log = logging.getLogger(__name__)

#: Where administrators' units live (and agentmaint installs its own).
UNIT_DIR = Path("/etc/systemd/system")
#: Exists exactly when systemd is PID 1 (what ``sd_booted()`` checks).
SYSTEMD_RUN_DIR = Path("/run/systemd/system")

#: Runs ``systemctl ARGS...``; raises on failure.
Systemctl = Callable[[Sequence[str]], None]


def systemd_booted(run_dir: Path = SYSTEMD_RUN_DIR) -> bool:
    """Whether systemd runs as PID 1 on this machine."""
    return os.path.isdir(run_dir)


def run_systemctl(args: Sequence[str]) -> None:
    """Run the real ``systemctl``; raise `UsageError` with its message when it fails."""
    argv = ["systemctl", *args]
    log.info("running %s", " ".join(argv))
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        raise UsageError(f"{' '.join(argv)} failed (exit {done.returncode}): {detail}")


class UnitState(StrEnum):
    """What is at a unit's path."""

    ABSENT = "absent"
    AGENTMAINT = "agentmaint"  # a regular file agentmaint wrote
    FOREIGN = "foreign"  # anything else: someone else's file, a symlink, a directory


def unit_state(path: Path) -> UnitState:
    """Whether `path` is absent, a unit agentmaint wrote, or something else (never followed)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return UnitState.ABSENT
    except OSError:  # a symlink (ELOOP), unreadable, ...
        return UnitState.FOREIGN
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return UnitState.FOREIGN
        first = file.readline(len(HEADER) + 2).decode("utf-8", "replace").rstrip("\n")
    return UnitState.AGENTMAINT if first == HEADER else UnitState.FOREIGN


def _paths(name: str, unit_dir: Path) -> tuple[Path, Path]:
    base = unit_base(name)
    return unit_dir / f"{base}.service", unit_dir / f"{base}.timer"


def _refuse_foreign(paths: Sequence[Path], doing: str) -> None:
    foreign = [str(p) for p in paths if unit_state(p) is UnitState.FOREIGN]
    if foreign:
        raise UsageError(
            f"will not {doing} {', '.join(foreign)}: not written by agentmaint "
            f"(its first line is not {HEADER!r})"
        )


def write_unit(path: Path, text: str) -> None:
    """Write `text` to `path` by a new file renamed over it (never through a symlink)."""
    temporary = path.with_name(f".{path.name}.agentmaint-tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(temporary, flags, 0o644)
    except FileExistsError:
        raise UsageError(
            f"{temporary} exists: an earlier install was interrupted; remove it first"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def install_units(units: TimerUnits, *, unit_dir: Path, systemctl: Systemctl) -> tuple[Path, Path]:
    """Write the units into `unit_dir`, reload systemd, enable and start the timer.

    Raises `UsageError` when either path holds something agentmaint did not write.
    """
    service, timer = _paths(units.name, unit_dir)
    _refuse_foreign((service, timer), "overwrite")
    try:
        write_unit(service, units.service)
        write_unit(timer, units.timer)
    except OSError as exc:
        raise UsageError(f"cannot write into {unit_dir}: {exc.strerror or exc}") from None
    log.info("wrote %s and %s", service, timer)
    systemctl(["daemon-reload"])
    systemctl(["enable", "--now", units.timer_name])
    return service, timer


def remove_units(name: str, *, unit_dir: Path, systemctl: Systemctl) -> tuple[Path, ...]:
    """Disable the timer and delete the units agentmaint wrote; return the paths deleted.

    Raises `UsageError`, deleting nothing, when either path holds something agentmaint did
    not write, or when neither unit is installed.
    """
    paths = _paths(name, unit_dir)
    _refuse_foreign(paths, "remove")
    present = tuple(p for p in paths if unit_state(p) is UnitState.AGENTMAINT)
    if not present:
        raise UsageError(f"{unit_base(name)}: not installed in {unit_dir}")
    if paths[1] in present:
        systemctl(["disable", "--now", paths[1].name])
    for path in present:
        path.unlink()
    log.info("removed %s", ", ".join(str(p) for p in present))
    systemctl(["daemon-reload"])
    return present
