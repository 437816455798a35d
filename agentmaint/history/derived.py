"""The derived tables, ``attempts`` and ``host_state``, recomputed from the records.

Both are recomputed set-wise for the keys a write touched, inside that write's
transaction (which holds the history's write lock, so they stay consistent with
the committed records): `recompute_attempts` for (run, server, component) keys
from their records, then `recompute_states` for (server, component) keys from
their attempts. The rules are in `agentmaint.history.store`'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterable

from agentmaint.history.db.base import Database
from agentmaint.records import Action, Outcome

__all__ = ["recompute_attempts", "recompute_states"]

# Conditions on a record `r` (0/1 through CASE, the same in both engines).
_FAILED_SQL = (
    f"CASE WHEN r.status IN ('{Outcome.FAILED.value}', '{Outcome.UNREACHABLE.value}') "
    f"OR r.action = '{Action.ROLLBACK.value}' THEN 1 ELSE 0 END"
)
_UPDATED_SQL = (
    f"CASE WHEN r.action = '{Action.UPDATE.value}' AND r.status = '{Outcome.SUCCESS.value}' "
    "THEN 1 ELSE 0 END"
)


def recompute_attempts(db: Database, keys: Iterable[tuple[str, str, str]]) -> None:
    """Recompute the attempts of (run, server, component) keys from their records."""
    temp = db.dialect.temp
    db.execute(f"DELETE FROM {temp}run_keys")
    db.insert_rows(f"{temp}run_keys", ("run_id", "server", "component"), keys)
    db.execute(
        "DELETE FROM attempts WHERE (run_id, server, component) IN "
        f"(SELECT run_id, server, component FROM {temp}run_keys)"
    )
    db.execute(
        "INSERT INTO attempts (run_id, server, component, at, ok) "
        "SELECT r.run_id, r.server, r.component, MAX(r.timestamp), "
        f"  1 - MAX({_FAILED_SQL}) "
        f"FROM {temp}run_keys AS k JOIN records AS r "
        "  ON r.run_id = k.run_id AND r.server = k.server AND r.component = k.component "
        "GROUP BY r.run_id, r.server, r.component "
        f"HAVING MAX({_FAILED_SQL}) = 1 OR MAX({_UPDATED_SQL}) = 1"
    )
    db.execute(f"DELETE FROM {temp}run_keys")


def recompute_states(db: Database, keys: Iterable[tuple[str, str]]) -> None:
    """Recompute host_state of (server, component) keys as the max over their attempts."""
    temp = db.dialect.temp
    db.execute(f"DELETE FROM {temp}state_keys")
    db.insert_rows(f"{temp}state_keys", ("server", "component"), keys)
    db.execute(
        "DELETE FROM host_state WHERE (server, component) IN "
        f"(SELECT server, component FROM {temp}state_keys)"
    )
    db.execute(
        "INSERT INTO host_state (server, component, last_success, last_failure) "
        "SELECT a.server, a.component, "
        "  MAX(CASE WHEN a.ok = 1 THEN a.at END), MAX(CASE WHEN a.ok = 1 THEN NULL ELSE a.at END) "
        f"FROM {temp}state_keys AS k JOIN attempts AS a "
        "  ON a.server = k.server AND a.component = k.component "
        "GROUP BY a.server, a.component"
    )
    db.execute(f"DELETE FROM {temp}state_keys")
