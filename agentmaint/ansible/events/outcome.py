"""Counters and the run's status: per-host `HostCounts`, ``playbook_on_stats``, status.

The reconciliation of the counters derived from the events with those of
``playbook_on_stats`` is in `EventParser.finish`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentmaint.ansible.events.bookkeeping import (
    _CHANGED,
    _FAILURES,
    _IGNORED,
    _OK,
    _RESCUED,
    _SKIPPED,
    _UNREACHABLE,
)
from agentmaint.ansible.events.fields import _as_int
from agentmaint.records import HostCounts, RunStatus


def _counts_from(values: Mapping[str, list[int]]) -> dict[str, HostCounts]:
    return {
        host: HostCounts(
            ok=v[_OK],
            changed=v[_CHANGED],
            failures=v[_FAILURES],
            unreachable=v[_UNREACHABLE],
            skipped=v[_SKIPPED],
            rescued=v[_RESCUED],
            ignored=v[_IGNORED],
        )
        for host, v in sorted(values.items())
    }


def _stats_counts(event_data: Mapping[str, Any]) -> dict[str, HostCounts]:
    """The per-host counters of a ``playbook_on_stats`` event."""

    def table(key: str) -> Mapping[str, Any]:
        value = event_data.get(key)
        return value if isinstance(value, Mapping) else {}

    names = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
    tables = {name: table(name) for name in names}
    hosts: set[str] = set(table("processed"))
    for values in tables.values():
        hosts.update(values)

    def get(name: str, host: str) -> int:
        return _as_int(tables[name].get(host)) or 0

    return {
        host: HostCounts(
            ok=get("ok", host),
            changed=get("changed", host),
            failures=get("failures", host),
            unreachable=get("dark", host),
            skipped=get("skipped", host),
            rescued=get("rescued", host),
            ignored=get("ignored", host),
        )
        for host in sorted(hosts)
    }


def _run_status(
    status: str | None,
    rc: int | None,
    stats: Mapping[str, HostCounts] | None,
    error: str | None,
    played: bool,
) -> tuple[RunStatus, str | None]:
    """The run's status, and a warning when the given status is not understood.

    A run without ``playbook_on_stats`` that printed a fatal error before any play
    started, or that failed before any play started, is an error rather than a
    failure. Once a play has started, ansible-runner's status stands: ansible-core
    2.19 prints ``[ERROR]:`` blocks for ordinary task failures too (an include that
    cannot load its file, even a rescued one), so an error block says nothing about
    how a run that reached its plays ended.
    """
    known = {member.value: member for member in RunStatus}
    known["starting"] = RunStatus.RUNNING
    given = known.get(status.strip().lower()) if status else None
    warning = f"unknown run status {status!r}; inferred instead" if status and not given else None
    if given in (RunStatus.CANCELED, RunStatus.TIMEOUT):
        return given, warning
    if stats is None and error is not None and (given is None or not played):
        return RunStatus.ERROR, warning
    if stats is None and not played and (given == RunStatus.FAILED or rc not in (None, 0)):
        return RunStatus.ERROR, warning
    if given is not None:
        return given, warning
    if rc is not None:
        return (RunStatus.SUCCESSFUL if rc == 0 else RunStatus.FAILED), warning
    if stats is not None:
        bad = any(c.failures or c.unreachable for c in stats.values())
        return (RunStatus.FAILED if bad else RunStatus.SUCCESSFUL), warning
    return RunStatus.FAILED, warning
