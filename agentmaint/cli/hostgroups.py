"""Many host names said in few words: ``app-01..app-38 (38 hosts)``.

A fleet of 40 hosts named ``app-01`` to ``app-40`` where 38 succeeded reads as one
line, not 38 rows. Names that share a prefix and number consecutively (same number of
digits) collapse into ``first..last``; any other name stays as it is. Only the CLI's
rendering uses this.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["host_ranges", "hosts_phrase", "natural_key"]

_NUMBERED = re.compile(r"^(.*?)(\d+)$")
#: A run this long (or longer) of consecutive numbers collapses into ``first..last``.
_RUN = 3


def natural_key(name: str) -> tuple[str, int, str]:
    """Sort key putting ``app-2`` before ``app-10``."""
    match = _NUMBERED.match(name)
    if match is None:
        return (name, -1, name)
    return (match.group(1), int(match.group(2)), name)


def host_ranges(hosts: Iterable[str]) -> list[str]:
    """`hosts` (any order, duplicates ignored) as names and ``first..last`` ranges, sorted."""
    names = sorted(set(hosts), key=natural_key)
    parts: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if len(current) >= _RUN:
            parts.append(f"{current[0]}..{current[-1]}")
        else:
            parts.extend(current)
        current.clear()

    for name in names:
        if current and not _follows(current[-1], name):
            flush()
        current.append(name)
    flush()
    return parts


def hosts_phrase(hosts: Iterable[str]) -> str:
    """``app-01..app-38 (38 hosts)``, ``demo-3 (1 host)``: the ranges and how many."""
    unique = set(hosts)
    count = len(unique)
    return f"{', '.join(host_ranges(unique))} ({count} host{'' if count == 1 else 's'})"


def _follows(previous: str, name: str) -> bool:
    """Whether `name` is the host numbered right after `previous` (same prefix and width)."""
    first, second = _NUMBERED.match(previous), _NUMBERED.match(name)
    if first is None or second is None or first.group(1) != second.group(1):
        return False
    if len(first.group(2)) != len(second.group(2)) and first.group(2).startswith("0"):
        return False  # app-09 then app-010 is not a numbering
    return int(second.group(2)) == int(first.group(2)) + 1
