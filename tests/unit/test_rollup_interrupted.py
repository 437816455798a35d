"""Rollup of actions cut short: what the history says of a host whose task was interrupted."""

from __future__ import annotations

from datetime import UTC, datetime

from agentmaint.ansible.naming import Target
from agentmaint.ansible.rollup import rollup
from agentmaint.records import Outcome, TaskResult, TaskStatus


def test_rollup_an_interrupted_fused_update_says_its_backup_was_interrupted_too() -> None:
    # The fused task (one per host) runs backup and update: cut short, it leaves no result of
    # either, and the backup ran (or was running): not "skipped".
    now = datetime(2026, 1, 1, tzinfo=UTC)
    play = "Maintain a | p"
    records = rollup(
        [],
        [Target("p", "a", ("h1",))],
        backup_expected=True,
        now=now,
        stopped_reason="run canceled",
        interrupted={("h1", play, "Update | a")},
    )
    shown = {(r.action.value, r.status, r.error) for r in records}
    assert shown == {
        ("backup", Outcome.FAILED, "interrupted while running: run canceled"),
        ("update", Outcome.FAILED, "interrupted while running: run canceled"),
    }


def test_rollup_a_backup_that_reported_keeps_its_result_when_the_update_is_cut_short() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    play = "Maintain a | p"
    backup = TaskResult(host="h1", play=play, task="Backup | a", status=TaskStatus.CHANGED)
    records = rollup(
        [backup],
        [Target("p", "a", ("h1",))],
        backup_expected=True,
        now=now,
        stopped_reason="run canceled",
        interrupted={("h1", play, "Update | a")},
    )
    shown = {(r.action.value, r.status, r.error) for r in records}
    assert shown == {
        ("backup", Outcome.SUCCESS, None),
        ("update", Outcome.FAILED, "interrupted while running: run canceled"),
    }
