"""What the history says in aggregate: the numbers monitoring exports (`agentmaint.metrics`).

`summarize` reads, in one snapshot, the latest attempt of every (server, component)
asked about, the finished runs counted by environment and status, the last finished
run of each environment, and the rollbacks counted by environment and component. Every
query is the same SQL for SQLite and PostgreSQL; none reads task results.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from agentmaint.history.db.base import Database
from agentmaint.history.rows import RUN_COLUMNS, from_text, opt_from_text, run_from_row
from agentmaint.planning.history import StateKey
from agentmaint.records import Action, Outcome, RunRecord, RunStatus

__all__ = ["HistorySummary", "LastAttempt", "summarize"]


@dataclass(frozen=True, slots=True)
class LastAttempt:
    """The latest attempt of a component on a host (see ``attempts`` in the store's docs).

    `failed` follows `HostComponentState.last_attempt_failed` (a tie is a success);
    `rolled_back` and `unreachable` say what the records of that attempt hold;
    `needs_attention`: its rollback failed (the host may be half-updated).
    """

    at: datetime
    failed: bool
    last_success: datetime | None = None
    rolled_back: bool = False
    unreachable: bool = False
    needs_attention: bool = False


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """The history in aggregate, read in one snapshot.

    `run_counts`: finished runs (every status but ``running``) by (environment, status); a run
    of several environments counts once in each. `last_runs`: the finished run of each
    environment that finished last. `rollbacks`: rollback records (one per host and component
    rolled back, whatever the rollback's outcome) by (environment, component).
    """

    attempts: Mapping[StateKey, LastAttempt] = field(default_factory=dict)
    run_counts: Mapping[tuple[str, RunStatus], int] = field(default_factory=dict)
    last_runs: Mapping[str, RunRecord] = field(default_factory=dict)
    rollbacks: Mapping[tuple[str, str], int] = field(default_factory=dict)


# The instant of the latest attempt of a host_state row `h`, and whether it failed (a tie
# between the latest success and the latest failure is a success, as in the planner).
_FAILED_LAST = "(h.last_success IS NULL OR h.last_failure > h.last_success)"
_LATEST_SQL = f"CASE WHEN {_FAILED_LAST} THEN h.last_failure ELSE h.last_success END"
_ATTEMPTS_SQL = (
    "SELECT h.server, h.component, h.last_success, "
    f"  {_LATEST_SQL}, CASE WHEN {_FAILED_LAST} THEN 1 ELSE 0 END, "
    f"  MAX(CASE WHEN r.action = '{Action.ROLLBACK.value}' THEN 1 ELSE 0 END), "
    f"  MAX(CASE WHEN r.status = '{Outcome.UNREACHABLE.value}' THEN 1 ELSE 0 END), "
    f"  MAX(CASE WHEN r.action = '{Action.ROLLBACK.value}' "
    f"    AND r.status = '{Outcome.FAILED.value}' THEN 1 ELSE 0 END) "
    "FROM host_state AS h "
    "JOIN attempts AS a ON a.server = h.server AND a.component = h.component "
    f"  AND a.at = {_LATEST_SQL} AND a.ok = CASE WHEN {_FAILED_LAST} THEN 0 ELSE 1 END "
    "JOIN records AS r "
    "  ON r.run_id = a.run_id AND r.server = a.server AND r.component = a.component "
    "WHERE h.server {condition} "
    "GROUP BY h.server, h.component, h.last_success, h.last_failure"
)


def summarize(
    db: Database, servers: Collection[str], components: Collection[str]
) -> HistorySummary:
    """The summary of the history in `db` (call inside one read transaction).

    `attempts` holds only the (server, component) pairs of `servers` x `components` that
    were ever attempted; the other fields cover the whole history.
    """
    return HistorySummary(
        attempts=_attempts(db, servers, components),
        run_counts=_run_counts(db),
        last_runs=_last_runs(db),
        rollbacks=_rollbacks(db),
    )


def _attempts(
    db: Database, servers: Collection[str], components: Collection[str]
) -> dict[StateKey, LastAttempt]:
    wanted_components = set(components)
    found: dict[StateKey, LastAttempt] = {}
    if not wanted_components:
        return found
    # By server (a range of host_state's primary key each), components filtered here, as
    # HistoryStore.states does.
    for condition, params in db.in_list(sorted(set(servers))):
        rows = db.execute(_ATTEMPTS_SQL.replace("{condition}", condition), params)
        for server, component, success, latest, failed, rolled_back, unreachable, stuck in rows:
            if component in wanted_components:
                found[(server, component)] = LastAttempt(
                    at=from_text(latest),
                    failed=bool(failed),
                    last_success=opt_from_text(success),
                    rolled_back=bool(rolled_back),
                    unreachable=bool(unreachable),
                    needs_attention=bool(stuck),
                )
    return found


def _run_counts(db: Database) -> dict[tuple[str, RunStatus], int]:
    # Grouped by the stored list of environments (few distinct values), split here: the
    # same SQL for both engines, no JSON functions.
    counts: dict[tuple[str, RunStatus], int] = {}
    rows = db.execute(
        "SELECT environments, status, COUNT(*) FROM runs WHERE status != ? "
        "GROUP BY environments, status",
        (RunStatus.RUNNING.value,),
    )
    for environments, status, count in rows:
        for environment in json.loads(environments):
            key = (environment, RunStatus(status))
            counts[key] = counts.get(key, 0) + count
    return counts


def _last_runs(db: Database) -> dict[str, RunRecord]:
    columns = ", ".join(f"r.{c.strip()}" for c in RUN_COLUMNS.split(","))
    rows = db.execute(
        f"SELECT {columns} FROM runs AS r JOIN ("
        "  SELECT environments, MAX(finished) AS finished FROM runs "
        "  WHERE status != ? AND finished IS NOT NULL GROUP BY environments"
        ") AS l ON r.environments = l.environments AND r.finished = l.finished "
        "WHERE r.status != ?",
        (RunStatus.RUNNING.value, RunStatus.RUNNING.value),
    ).fetchall()
    last: dict[str, RunRecord] = {}
    # Latest finish first; on a tie the greater id, so that every reading agrees.
    for run in sorted(
        map(run_from_row, rows), key=lambda r: (r.finished or r.started, r.id), reverse=True
    ):
        for environment in run.environments:
            last.setdefault(environment, run)
    return last


def _rollbacks(db: Database) -> dict[tuple[str, str], int]:
    rows = db.execute(
        "SELECT environment, component, COUNT(*) FROM records WHERE action = ? "
        "GROUP BY environment, component",
        (Action.ROLLBACK.value,),
    )
    return {(environment, component): count for environment, component, count in rows}
