"""Rich rendering for the CLI: live run progress, result tables, history tables.

Only the CLI imports this module; the library never prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType

from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from agentmaint.planning.planner import Plan, format_instant
from agentmaint.records import MaintenanceRecord, Outcome, TaskStatus
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import Progress, RunResult

_STYLE = {
    TaskStatus.OK: "green",
    TaskStatus.CHANGED: "yellow",
    TaskStatus.FAILED: "bold red",
    TaskStatus.RESCUED: "red",
    TaskStatus.UNREACHABLE: "bold magenta",
    TaskStatus.SKIPPED: "dim",
    TaskStatus.IGNORED: "dim red",
}
_OUTCOME_STYLE = {
    Outcome.SUCCESS: "green",
    Outcome.FAILED: "bold red",
    Outcome.UNREACHABLE: "bold magenta",
    Outcome.SKIPPED: "dim",
}


def plan_table(result: Plan, hosts_per_env: Mapping[str, int]) -> Table:
    """The plan as a table: environment, component, due, hosts, reason."""
    table = Table(title=f"Plan at {format_instant(result.at)}", title_justify="left")
    for column in ("Environment", "Component", "Due", "Hosts"):
        table.add_column(column)
    table.add_column("Reason", overflow="fold")
    for decision in result.decisions:
        total = hosts_per_env.get(decision.environment, 0)
        hosts = ", ".join(decision.servers) if decision.due else f"0/{total}"
        due = "[bold green]yes[/]" if decision.due else "[dim]no[/]"
        table.add_row(decision.environment, decision.component, due, hosts, decision.reason)
    return table


class LiveProgress(BaseObserver):
    """A live table of the latest task per (environment, component, host) during a run.

    A `RunObserver`: pass it in ``run_maintenance(..., observers=[progress])``.
    """

    def __init__(self, console: Console) -> None:
        """Prepare the display on `console` (shown between __enter__ and __exit__)."""
        self._rows: dict[tuple[str, str, str], Progress] = {}
        self._status = "starting"
        self._live = Live(self._table(), console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> LiveProgress:
        """Start showing progress."""
        self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop showing progress."""
        self._live.__exit__(kind, value, traceback)

    def task_finished(self, progress: Progress) -> None:
        """Record one finished task and refresh."""
        self._rows[(progress.environment, progress.component, progress.result.host)] = progress
        self._live.update(self._table())

    def status_changed(self, status: str) -> None:
        """Show ansible-runner's status in the title."""
        self._status = status
        self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title=f"Run: {self._status}", title_justify="left")
        for column in ("Environment", "Component", "Host", "Action", "Status"):
            table.add_column(column)
        for (env, component, host), progress in sorted(self._rows.items()):
            status = progress.result.status
            action = progress.action.value if progress.action else progress.result.task
            table.add_row(env, component, host, action, f"[{_STYLE[status]}]{status.value}[/]")
        return table


def result_table(result: RunResult) -> Table:
    """The outcome per (environment, component, host), with each action's status."""
    run = result.run
    title = "Result" if run is None else f"Run {run.id}: {run.status.value}"
    if run is not None and run.check_mode:
        title += " [bold](check mode: a dry run, no host was changed)[/]"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    # Names and statuses stay whole at 80 columns; the error folds instead.
    for column in ("Environment", "Component", "Host", "Outcome"):
        table.add_column(column, no_wrap=True)
    table.add_column("Actions", min_width=len("rollback:success"))
    table.add_column("Error", overflow="fold")
    for outcome in result.outcomes:
        actions = " ".join(
            f"{action.value}:[{_OUTCOME_STYLE[status]}]{status.value}[/]"
            for action, status in outcome.actions.items()
        )
        style = _OUTCOME_STYLE[outcome.status]
        attention = " [bold red reverse]needs attention[/]" if outcome.needs_attention else ""
        table.add_row(
            outcome.environment,
            outcome.component,
            outcome.host,
            f"[{style}]{outcome.status.value}[/]{attention}",
            actions,
            outcome.error or "",
        )
    return table


def history_table(records: Iterable[MaintenanceRecord]) -> Table:
    """Roll-up records, as given (newest first)."""
    table = Table(title="History", title_justify="left")
    for column in ("Time (UTC)", "Environment", "Server", "Component", "Action", "Status"):
        table.add_column(column, no_wrap=True)
    table.add_column("Error", overflow="fold")
    for record in records:
        style = _OUTCOME_STYLE[record.status]
        table.add_row(
            f"{record.timestamp:%Y-%m-%d %H:%M:%S}",
            record.environment,
            record.server,
            record.component,
            record.action.value,
            f"[{style}]{record.status.value}[/]",
            record.error or "",
        )
    return table
