"""The typed preflight report: per host, each check ready or a problem, with its detail.

`readiness_report` reads the results of the preflight play (`agentmaint.ansible.preflight`)
back: a ``Check | <name>`` task that succeeded is a passed check and its message the
detail; one that failed (ignored), or a host that was unreachable, is a problem. A check
that did not run on a host (the host was unreachable, its login or escalation failed, or
its Python runs no module) is a problem too, "not checked", naming why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agentmaint.ansible.preflight import CHECK_PREFIX, HostNeeds
from agentmaint.records import TaskResult, TaskStatus

__all__ = ["CheckResult", "HostReadiness", "PreflightReport", "readiness_report"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check of one host: passed (`ok`) or a problem, and what was found."""

    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "ok", "detail"}``."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class HostReadiness:
    """Every check that applies to one host."""

    environment: str
    host: str
    checks: tuple[CheckResult, ...]

    @property
    def ready(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def problems(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass."""
        return tuple(check for check in self.checks if not check.ok)

    def to_dict(self) -> dict[str, Any]:
        """``{"environment", "host", "ready", "checks": [...]}``."""
        return {
            "environment": self.environment,
            "host": self.host,
            "ready": self.ready,
            "checks": [check.to_dict() for check in self.checks],
        }


@dataclass(frozen=True, slots=True)
class PreflightReport:
    """The readiness of every checked host, in schedule order."""

    hosts: tuple[HostReadiness, ...]

    @property
    def ready(self) -> bool:
        """Whether every host is ready."""
        return all(host.ready for host in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        """``{"hosts": [...]}`` (the ``check --json`` document)."""
        return {"hosts": [host.to_dict() for host in self.hosts]}


_PASSED = frozenset({TaskStatus.OK, TaskStatus.CHANGED})


def readiness_report(
    needs: Iterable[HostNeeds], results: Iterable[TaskResult], *, error: str | None = None
) -> PreflightReport:
    """The report of the hosts of `needs` from the preflight play's `results`.

    `error` says why the play stopped early, if it did (named by the checks it left
    undone when no earlier check of the host explains them).
    """
    found: dict[tuple[str, str], TaskResult] = {}
    for each in results:
        if each.task.startswith(CHECK_PREFIX):
            found[(each.host, each.task.removeprefix(CHECK_PREFIX).strip())] = each
    hosts: list[HostReadiness] = []
    for need in needs:
        checks: list[CheckResult] = []
        for name in need.checks:
            result = found.get((need.host, name))
            if result is None or result.status is TaskStatus.SKIPPED:
                checks.append(CheckResult(name, False, _not_checked(checks, error)))
            elif result.status in _PASSED:
                checks.append(CheckResult(name, True, result.message or "ok"))
            elif result.status is TaskStatus.UNREACHABLE:
                checks.append(CheckResult(name, False, f"unreachable: {_said(result)}"))
            else:
                checks.append(CheckResult(name, False, _said(result) or "failed"))
        hosts.append(HostReadiness(need.environment, need.host, tuple(checks)))
    return PreflightReport(tuple(hosts))


#: ansible-core 2.19 starts every failure message with this; the report says it already.
_TASK_FAILED = "Task failed: "


def _said(result: TaskResult) -> str:
    """The result's message on one line (ansible's own sections, e.g. stderr, joined)."""
    text = (result.message or "").removeprefix(_TASK_FAILED)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _not_checked(earlier: list[CheckResult], error: str | None) -> str:
    """Why a check did not run: the host's first problem, else the play's error."""
    first = next((check for check in earlier if not check.ok), None)
    if first is not None:
        return f"not checked: the {first.name} check failed"
    return f"not checked: {error}" if error else "not checked"
