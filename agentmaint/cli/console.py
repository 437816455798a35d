"""Rich rendering for the CLI: plan, result and history tables (the live view: `live`).

Only the CLI imports this module; the library never prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from rich.table import Table
from rich.text import Text

from agentmaint.cli.hostgroups import host_ranges
from agentmaint.planning.planner import Plan, format_instant
from agentmaint.records import MaintenanceRecord, Outcome, TaskStatus
from agentmaint.run.results import HostOutcome, RunResult

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


def result_table(result: RunResult, width: int | None = None) -> Table:
    """The outcome per (environment, component, host), with each action's status.

    Hosts with the same outcome, actions and error share one row (``app-01..app-38`` over
    ``(38 hosts)``): a run on 40 hosts reads in a few rows.

    Component, host, outcome and each action stay whole at any width down to 80
    columns (one action per line); the environment and the error wrap instead.
    """
    run = result.run
    title = "Result" if run is None else f"Run {run.id}: {run.status.value}"
    if run is not None and run.check_mode:
        title += " [bold](check mode: a dry run, no host was changed)[/]"
    rows = []
    for group in _grouped(result.outcomes):
        outcome = group[0]
        actions = "\n".join(
            f"{action.value}:[{_OUTCOME_STYLE[status]}]{status.value}[/]"
            for action, status in outcome.actions.items()
        )
        style = _OUTCOME_STYLE[outcome.status]
        attention = "\n[bold red reverse]needs attention[/]" if outcome.needs_attention else ""
        hosts = host_ranges(o.host for o in group)
        if len(group) > 1:
            hosts.append(f"({len(group)} hosts)")
        rows.append(
            (
                outcome.environment,
                outcome.component,
                "\n".join(hosts),
                f"[{style}]{outcome.status.value}[/]{attention}",
                actions,
                outcome.error or "",
            )
        )
    return fitted_table(
        title,
        (
            ("Environment", FOLD, 4),
            ("Component", WHOLE, 0),
            ("Host", WHOLE, 0),
            ("Outcome", WHOLE, 0),
            ("Actions", WHOLE, 0),
            ("Error", FOLD, 8),
        ),
        rows,
        width,
    )


def history_table(records: Iterable[MaintenanceRecord], width: int | None = None) -> Table:
    """Roll-up records, as given (newest first).

    Server, component, action and status stay whole down to 80 columns; the time (date
    over time of day), the environment and the error wrap instead. Records of one day
    say the date once, in the title, and only the time of day in each row.
    """
    records = list(records)
    days = {record.timestamp.date() for record in records}
    one_day = len(days) == 1
    title = f"History of {next(iter(days))}" if one_day else "History"
    rows = [
        (
            record.environment,
            f"{record.timestamp:%H:%M:%S}" if one_day else f"{record.timestamp:%Y-%m-%d %H:%M:%S}",
            record.server,
            record.component,
            record.action.value,
            f"[{_OUTCOME_STYLE[record.status]}]{record.status.value}[/]",
            record.error or "",
        )
        for record in records
    ]
    return fitted_table(
        title,
        (
            ("Environment", FOLD, 4),
            ("Time (UTC)", FOLD, 8 if one_day else 10),
            ("Server", WHOLE, 0),
            ("Component", WHOLE, 0),
            ("Action", WHOLE, 0),
            ("Status", WHOLE, 0),
            ("Error", FOLD, 8),
        ),
        rows,
        width,
    )


def _grouped(outcomes: Iterable[HostOutcome]) -> list[list[HostOutcome]]:
    """Outcomes that differ only by host, together, in the order they first appear."""
    groups: dict[tuple[object, ...], list[HostOutcome]] = {}
    for outcome in outcomes:
        key = (
            outcome.environment,
            outcome.component,
            outcome.status,
            tuple(outcome.actions.items()),
            outcome.error,
        )
        groups.setdefault(key, []).append(outcome)
    return list(groups.values())


#: A column whose cells are never cut (its narrowest width is its widest line).
WHOLE = True
#: A column that wraps (at words, then anywhere) when the terminal is narrow.
FOLD = False


def fitted_table(
    title: str,
    columns: Sequence[tuple[str, bool, int]],
    rows: Sequence[tuple[str, ...]],
    width: int | None = None,
) -> Table:
    """A table whose `WHOLE` columns keep every line of every cell whole.

    Each column is (header, whole, narrowest width); rich then narrows only the other
    columns, which wrap rather than end in an ellipsis. A first ``Environment`` column
    whose rows all hold the same environment moves into the title. When the whole columns
    do not fit in `width` side by side, they are stacked in pairs (``host`` over
    ``component`` in one column), so that nothing is cut.
    """
    if rows and columns[0][0] == "Environment" and len({row[0] for row in rows}) == 1:
        # One environment (the usual case): said once in the title, room for the errors.
        title += f" (environment {rows[0][0]})"
        columns, rows = columns[1:], [row[1:] for row in rows]
    widths = [_widest(header, [row[i] for row in rows]) for i, (header, _, _) in enumerate(columns)]
    needed = sum(w if whole else n for w, (_, whole, n) in zip(widths, columns, strict=True))
    if width is not None and needed + 3 * len(columns) + 1 > width:
        columns, rows = _stacked(columns, rows)
        widths = [_widest(h, [row[i] for row in rows]) for i, (h, _, _) in enumerate(columns)]
    table = Table(title=title, title_justify="left")
    for (header, whole, narrowest), widest in zip(columns, widths, strict=True):
        if whole:
            table.add_column(header, no_wrap=True, min_width=widest)
        else:
            table.add_column(header, overflow="fold", min_width=narrowest)
    for row in rows:
        table.add_row(*row)
    return table


def _widest(header: str, cells: Sequence[str]) -> int:
    """The widest line of a column: its header's words or any line of its cells."""
    lines = [word for word in header.split(" / ")] + [
        line for cell in cells for line in cell.splitlines()
    ]
    return max(Text.from_markup(line).cell_len for line in lines)


def _stacked(
    columns: Sequence[tuple[str, bool, int]], rows: Sequence[tuple[str, ...]]
) -> tuple[list[tuple[str, bool, int]], list[tuple[str, ...]]]:
    """The whole columns merged in pairs: each cell of the pair on its own lines."""
    whole = [i for i, (_, is_whole, _) in enumerate(columns) if is_whole]
    pairs = {first: second for first, second in zip(whole[::2], whole[1::2], strict=False)}
    merged = set(pairs.values())
    new_columns = []
    for i, column in enumerate(columns):
        if i in merged:
            continue
        header = f"{column[0]} / {columns[pairs[i]][0]}" if i in pairs else column[0]
        new_columns.append((header, column[1], column[2]))
    new_rows = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if i in merged:
                continue
            cells.append(f"{cell}\n{row[pairs[i]]}" if i in pairs else cell)
        new_rows.append(tuple(cells))
    if len(new_columns) > 1 and new_columns[0][0] == "Environment":
        # The environment goes on top of the next column too: room for the errors.
        header, keep_whole, narrowest = new_columns[1]
        new_columns = [(f"Environment / {header}", keep_whole, narrowest), *new_columns[2:]]
        new_rows = [(f"{row[0]}\n{row[1]}", *row[2:]) for row in new_rows]
    return new_columns, new_rows
