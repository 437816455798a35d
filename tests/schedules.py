"""The one place tests build schedules: documents of local or test hosts, loaded for real.

`make_schedule` (a fixture of tests/conftest.py) writes a document to the test's
temporary directory and loads it the way the CLI does, so every test goes through the
same validation as an operator's file.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Protocol

import yaml

from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore


class MakeSchedule(Protocol):
    """Load a schedule document (written to ``schedule.yaml`` in the test's directory)."""

    def __call__(self, document: dict[str, Any]) -> Schedule: ...


def schedule_maker(directory: Path) -> MakeSchedule:
    """A `MakeSchedule` writing into `directory`."""

    def make(document: dict[str, Any]) -> Schedule:
        path = directory / "schedule.yaml"
        path.write_text(yaml.safe_dump(document))
        return load_schedule(path)

    return make


def always_open(
    hosts: dict[str, dict[str, Any]], components: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A schedule whose only environment `fleet` has a window that is always open."""
    env: dict[str, Any] = {
        "hosts": hosts,
        "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "24h"},
    }
    env.update(extra.pop("environment", {}))
    return {"environments": {"fleet": env}, "components": components, **extra}


def local_hosts(*names: str) -> dict[str, dict[str, Any]]:
    return {name: {"ansible_connection": "local"} for name in names}


def history_shape(store: HistoryStore, run_id: str) -> tuple[Any, ...]:
    """What a run recorded, without times, ids and the order results arrived in."""
    records = sorted(
        (r.environment, r.server, r.component, r.action.value, r.status.value, r.error)
        for r in store.records(run_id=run_id)
    )
    results = Counter((t.host, t.play, t.task, t.status.value) for t in store.task_results(run_id))
    return records, results, store.host_counts(run_id)
