"""Rollup of actions cut short: what the history says of a host whose task was interrupted."""

from __future__ import annotations

from datetime import UTC, datetime

from agentmaint.ansible.naming import Target
from agentmaint.ansible.rollup import rollup
from agentmaint.records import Outcome, TaskResult, TaskStatus

PLAY = "Maintain a | p"
CUT = "interrupted while running: run canceled"


def _update_cut_short(results: list[TaskResult]) -> set[tuple[str, Outcome, str | None]]:
    """(action, outcome, error) of h1's records: its update of `a` cut short by a cancel."""
    records = rollup(
        results,
        [Target("p", "a", ("h1",))],
        backup_expected=True,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        stopped_reason="run canceled",
        interrupted={("h1", PLAY, "Update | a")},
    )
    return {(r.action.value, r.status, r.error) for r in records}


def test_rollup_an_interrupted_fused_update_says_its_backup_was_interrupted_too() -> None:
    # The fused task (one per host) runs backup and update: cut short, it leaves no result of
    # either, and the backup ran (or was running): not "skipped".
    assert _update_cut_short([]) == {
        ("backup", Outcome.FAILED, CUT),
        ("update", Outcome.FAILED, CUT),
    }


def test_rollup_a_backup_that_reported_keeps_its_result_when_the_update_is_cut_short() -> None:
    backup = TaskResult(host="h1", play=PLAY, task="Backup | a", status=TaskStatus.CHANGED)
    assert _update_cut_short([backup]) == {
        ("backup", Outcome.SUCCESS, None),
        ("update", Outcome.FAILED, CUT),
    }
