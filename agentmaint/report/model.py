"""What the HTML report shows, read from the schedule and the history into frozen records.

`build_report` reads once: the fleet matrix (`fleet_status`, as ``agentmaint status``),
the latest runs with their durations and host counts (`run_summaries`, as ``agentmaint
runs``) and one run in detail (`RunDetail`): a grid of hosts by (component, action) with
each record's outcome and error, and the timeline of its recorded tasks. Strings are kept
as the schedule and the history hold them: escaping is the template's job (autoescape).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentmaint.config.schedule import Schedule
from agentmaint.errors import UsageError
from agentmaint.history.store import HistoryStore
from agentmaint.planning.history import HistoryReader
from agentmaint.records import Action, MaintenanceRecord, Outcome
from agentmaint.report.fleet import Fleet, FleetRow, fleet_status
from agentmaint.report.timeline import Timeline, layout
from agentmaint.run.results import host_outcomes
from agentmaint.run.stored import HostTally, RunSummary, last_run_id, run_summaries

__all__ = [
    "ComponentInfo",
    "GridCell",
    "GridRow",
    "MatrixRow",
    "Report",
    "RunDetail",
    "build_report",
    "cell_state",
]

#: How many runs the report lists.
RUN_LIMIT = 20

_ACTION_ORDER = {action: index for index, action in enumerate(Action)}


@dataclass(frozen=True, slots=True)
class ComponentInfo:
    """A component as the schedule describes it."""

    name: str
    description: str
    role: str
    frequency: str
    update_command: str | None
    rollback_command: str | None


@dataclass(frozen=True, slots=True)
class GridCell:
    """One action of one component on one host in the run: its state and error.

    `state`: success, failed, unreachable or skipped (the record's outcome), or
    rolled_back for a rollback that succeeded (the colour of a failure undone).
    """

    component: str
    action: str
    state: str
    error: str | None


@dataclass(frozen=True, slots=True)
class GridRow:
    """One host of the run: a cell per column of `RunDetail.columns` (None: not run there)."""

    environment: str
    host: str
    cells: tuple[GridCell | None, ...]


@dataclass(frozen=True, slots=True)
class RunDetail:
    """One run: its summary, the hosts-by-actions grid and the tasks' timeline."""

    summary: RunSummary
    columns: tuple[tuple[str, str], ...]  # (component, action), in the run's order
    rows: tuple[GridRow, ...]
    timeline: Timeline
    tasks_recorded: int


@dataclass(frozen=True, slots=True)
class MatrixRow:
    """One host of the fleet matrix: its `FleetRow` per component of the schedule."""

    environment: str
    host: str
    cells: tuple[FleetRow, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows, at `fleet.at`."""

    source: str  # the schedule file's name
    history: str  # where the history lives (no password)
    fleet: Fleet
    matrix: tuple[MatrixRow, ...]  # the fleet by host, a cell per component (in order)
    components: tuple[ComponentInfo, ...]
    runs: tuple[RunSummary, ...]
    detail: RunDetail | None


def build_report(
    schedule: Schedule,
    history: HistoryReader,
    at: datetime,
    *,
    source: str,
    run_id: str | None = None,
) -> Report:
    """The report of `schedule` at `at`, with run `run_id` in detail (None or "last": latest).

    Raises `UsageError` when `run_id` names no recorded run.
    """
    store = history if isinstance(history, HistoryStore) else None
    fleet = fleet_status(schedule, history, at)
    runs = tuple(run_summaries(store, limit=RUN_LIMIT)) if store else ()
    wanted = None if run_id in (None, "last") else run_id
    detail = None
    if store is not None:
        chosen = wanted if wanted is not None else last_run_id(store)
        if chosen is not None:
            detail = _detail(store, chosen)
    if wanted is not None and detail is None:
        raise UsageError(f"--run: no such run in the history: {wanted}")
    return Report(
        source=source,
        history=store.location if store else "(no history yet)",
        fleet=fleet,
        matrix=_matrix(fleet),
        components=tuple(
            ComponentInfo(
                name=c.name,
                description=c.description,
                role=c.role,
                frequency=c.frequency.label,
                update_command=c.update_command,
                rollback_command=c.rollback_command,
            )
            for c in schedule.components.values()
        ),
        runs=runs,
        detail=detail,
    )


def _matrix(fleet: Fleet) -> tuple[MatrixRow, ...]:
    by_host: dict[tuple[str, str], list[FleetRow]] = {}
    for row in fleet.rows:
        by_host.setdefault((row.environment, row.host), []).append(row)
    return tuple(
        MatrixRow(environment=environment, host=host, cells=tuple(cells))
        for (environment, host), cells in by_host.items()
    )


def _detail(store: HistoryStore, run_id: str) -> RunDetail | None:
    run = store.get_run(run_id)
    if run is None:
        return None
    records = store.run_records([run_id]).get(run_id, [])
    summary = RunSummary(run, HostTally.of(host_outcomes(records)))
    columns: list[tuple[str, str]] = []
    for record in records:
        column = (record.component, record.action.value)
        if column not in columns:
            columns.append(column)
    components = list(dict.fromkeys(c for c, _ in columns))
    columns.sort(key=lambda c: (components.index(c[0]), _ACTION_ORDER[Action(c[1])]))
    hosts: dict[tuple[str, str], dict[tuple[str, str], MaintenanceRecord]] = {}
    for record in records:
        cells = hosts.setdefault((record.environment, record.server), {})
        cells[(record.component, record.action.value)] = record
    rows = tuple(
        GridRow(
            environment=environment,
            host=host,
            cells=tuple(_cell(cells.get(column)) for column in columns),
        )
        for (environment, host), cells in hosts.items()
    )
    tasks = store.task_results(run_id)
    return RunDetail(
        summary=summary,
        columns=tuple(columns),
        rows=rows,
        timeline=layout(tasks, summary.run.started, summary.run.finished),
        tasks_recorded=len(tasks),
    )


def _cell(record: MaintenanceRecord | None) -> GridCell | None:
    if record is None:
        return None
    return GridCell(
        component=record.component,
        action=record.action.value,
        state=cell_state(record),
        error=record.error,
    )


def cell_state(record: MaintenanceRecord) -> str:
    """The colour of a record: its outcome, or rolled_back for a rollback that succeeded."""
    if record.action is Action.ROLLBACK and record.status is Outcome.SUCCESS:
        return "rolled_back"
    return record.status.value
