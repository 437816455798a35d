"""The process tree of a benchmarked command, read from /proc: who is whose child, and memory.

Shared by the benchmarks that sample a command's peak memory while it runs
(`bench_install.py`, `bench_wait.py`).
"""

from __future__ import annotations

import os


def children_map() -> dict[int, list[int]]:
    """Every process's children now: parent pid -> child pids."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) bytes of `pid` now; (0, 0) once it has gone.

    PSS splits a page shared by several processes between them (what the machine pays);
    RSS counts it in each (an upper bound when summed over forked processes).
    """
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
                elif line.startswith(b"Rss:"):
                    rss = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return pss, rss
