"""Settling, from ``playbook_on_stats``, what the events alone cannot tell.

Some outcomes leave no trace in the event stream (the package doc, "What the
events cannot tell", lists them): a failure cleared by ``meta:
clear_host_errors`` looks like a rescued one, a rescue made only of ``meta``
tasks like no rescue, a block with ``always:`` and no ``rescue:`` whose play
then ends like a rescued one.
When the run has its ``playbook_on_stats``, the recap is the truth: a host whose
derived counters differ from it only by failures taken for rescued ones (or the
reverse), or by unreachables taken for ignored ones (or the reverse), has that
many of its results re-decided, with a warning naming the host.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentmaint.ansible.events.bookkeeping import (
    _FAIL,
    _FAILURES,
    _IGNORED,
    _OK,
    _RESCUED,
    _UNREACH,
    _UNREACHABLE,
    _Results,
)
from agentmaint.records import HostCounts, TaskStatus


def _reconcile(
    records: _Results,
    values: dict[str, list[int]],
    overrides: dict[int, TaskStatus],
    stats: Mapping[str, HostCounts],
) -> list[str]:
    """Re-decide failures and unreachables so that the counters meet the recap.

    `values` (host -> counters) and `overrides` (result index -> status) are
    updated in place; the warnings returned say what was re-decided.
    """
    warnings: list[str] = []
    by_host: dict[str, list[int]] = {}
    for index, result in enumerate(records.shown):
        if records.kind[index] in (_FAIL, _UNREACH):
            by_host.setdefault(result.host, []).append(index)
    for host, recap in stats.items():
        mine = values.get(host)
        if mine is None or host not in by_host:
            continue
        moved = recap.failures - mine[_FAILURES]
        if moved and mine[_RESCUED] - recap.rescued == moved:
            wanted, was = (
                (TaskStatus.FAILED, TaskStatus.RESCUED)
                if moved > 0
                else (TaskStatus.RESCUED, TaskStatus.FAILED)
            )
            if _redecide(
                records,
                by_host[host],
                overrides,
                kind=_FAIL,
                was=was,
                wanted=wanted,
                count=abs(moved),
            ):
                mine[_FAILURES] += moved
                mine[_RESCUED] -= moved
                warnings.append(
                    f"host {host}: {abs(moved)} failure(s) taken as {wanted.value}, as "
                    "playbook_on_stats says (the events alone do not tell)"
                )
        moved = recap.unreachable - mine[_UNREACHABLE]
        if moved and mine[_OK] - recap.ok == moved and mine[_IGNORED] - recap.ignored == moved:
            wanted, was = (
                (TaskStatus.UNREACHABLE, TaskStatus.IGNORED)
                if moved > 0
                else (TaskStatus.IGNORED, TaskStatus.UNREACHABLE)
            )
            if _redecide(
                records,
                by_host[host],
                overrides,
                kind=_UNREACH,
                was=was,
                wanted=wanted,
                count=abs(moved),
            ):
                mine[_UNREACHABLE] += moved
                mine[_OK] -= moved
                mine[_IGNORED] -= moved
                warnings.append(
                    f"host {host}: {abs(moved)} unreachable result(s) taken as {wanted.value}, "
                    "as playbook_on_stats says (the events alone do not tell)"
                )
    return warnings


def _redecide(
    records: _Results,
    indexes: list[int],
    overrides: dict[int, TaskStatus],
    *,
    kind: int,
    was: TaskStatus,
    wanted: TaskStatus,
    count: int,
) -> bool:
    """Turn `count` results of `kind` from `was` to `wanted`, the latest first."""
    candidates = [
        index
        for index in indexes
        if records.kind[index] == kind and overrides.get(index, records.shown[index].status) == was
    ]
    if len(candidates) < count:
        return False
    for index in candidates[::-1][:count]:
        overrides[index] = wanted
    return True
