"""The next elapses of calendar specs, as systemd computes them (``systemd-analyze calendar``).

``systemd-analyze calendar --iterations=N SPEC`` needs no running systemd, so it answers
on any host with systemd installed, containers included. It prints in the local zone;
this runs it with ``TZ=UTC`` and reads only lines ending in ``UTC``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from agentmaint.errors import UsageError

__all__ = ["SYSTEMD_ANALYZE", "calendar_elapses", "parse_elapses"]

log = logging.getLogger(__name__)

SYSTEMD_ANALYZE = "systemd-analyze"
#: ``Next elapse: Thu 2027-03-25 01:30:00 UTC`` and ``Iter. #2: Fri 2027-03-26 01:30:00 UTC``.
_ELAPSE = re.compile(
    r"^\s*(?:Next elapse|Iter\.\s*#\d+):\s*\w+\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC\s*$"
)

#: Runs a command and returns its completed process (stdout and stderr as text).
Runner = Callable[[Sequence[str], dict[str, str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), env=env, capture_output=True, text=True, check=False, timeout=60
    )


def parse_elapses(output: str) -> tuple[datetime, ...]:
    """The elapses (aware, UTC) that ``systemd-analyze calendar`` printed with ``TZ=UTC``."""
    found = []
    for line in output.splitlines():
        match = _ELAPSE.match(line)
        if match:
            found.append(datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC))
    return tuple(found)


def calendar_elapses(
    spec: str, iterations: int, *, runner: Runner | None = None
) -> tuple[datetime, ...]:
    """The next `iterations` elapses of calendar `spec` from now, ascending (fewer if it ends).

    Raises `UsageError` when ``systemd-analyze`` is missing or rejects the spec.
    """
    if runner is None:
        if shutil.which(SYSTEMD_ANALYZE) is None:
            raise UsageError(f"{SYSTEMD_ANALYZE} is not installed: cannot compute timer elapses")
        runner = _run
    env = {**os.environ, "TZ": "UTC", "LC_ALL": "C.UTF-8", "SYSTEMD_COLORS": "0"}
    argv = [SYSTEMD_ANALYZE, "calendar", f"--iterations={iterations}", spec]
    log.debug("running %s", argv)
    done = runner(argv, env)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise UsageError(
            f"{SYSTEMD_ANALYZE} calendar rejects {spec!r}: "
            f"{detail[-1] if detail else f'exit {done.returncode}'}"
        )
    return parse_elapses(done.stdout)
