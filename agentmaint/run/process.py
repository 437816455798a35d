"""Which process a run's controller was: its pid, and more than its pid.

A pid is reused: once a controller died, its pid may belong to any later process
(after a reboot, to any process at all). A run therefore also records its
controller's identity, ``"<boot id>:<start time>"``: the kernel's boot id
(``/proc/sys/kernel/random/boot_id``, new at every boot) and the process's start
time in clock ticks since that boot (field 22 of ``/proc/<pid>/stat``). No two
processes of one boot share a pid and a start time, so a live process with the
run's pid and another identity is not the run's controller.
"""

from __future__ import annotations

import os
from pathlib import Path

from agentmaint.ansible.runner import process_alive

__all__ = ["controller_alive", "process_identity"]

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
# Field 22 (starttime) of /proc/<pid>/stat, counted from field 3 (state), which is
# the first one after the command name's closing parenthesis.
_STARTTIME_AFTER_COMMAND = 22 - 3


def process_identity(pid: int | None = None) -> str | None:
    """``"<boot id>:<start time>"`` of process `pid` (default: this one); None if unknown.

    None when the process does not exist or ``/proc`` does not say (not Linux).
    """
    boot = _read_text(_BOOT_ID).strip()
    # The command name may hold spaces and parentheses: the fields follow the last ")".
    stat = _read_text(Path(f"/proc/{os.getpid() if pid is None else pid}/stat"))
    fields = stat[stat.rfind(")") + 1 :].split()
    if not boot or len(fields) <= _STARTTIME_AFTER_COMMAND:
        return None
    start = fields[_STARTTIME_AFTER_COMMAND]
    return f"{boot}:{start}" if start.isdigit() else None


def controller_alive(pid: int, identity: str | None) -> bool:
    """Whether the controller recorded as `pid` with `identity` still runs (on this machine).

    A run recorded without an identity (before schema version 4, or where ``/proc`` did
    not say) is judged by its pid alone. With one, a live process of that pid is the
    controller only if its identity is the same: another start time is a process that
    reused the pid, another boot id a controller that died with the machine.
    """
    if identity is None:
        return pid == os.getpid() or process_alive(pid)
    if pid != os.getpid() and not process_alive(pid):
        return False
    current = process_identity(pid)
    # Unreadable now (it ended meanwhile, or /proc hides it): the pid says it lives.
    return current is None or current == identity


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
