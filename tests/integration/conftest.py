"""Helpers for pipeline tests: schedules of local-connection hosts in a temporary directory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.runner import run_processes
from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore


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


@pytest.fixture
def make_schedule(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(document: dict[str, Any]) -> Schedule:
        path = tmp_path / "schedule.yaml"
        path.write_text(yaml.safe_dump(document))
        return load_schedule(path)

    return make


@pytest.fixture(autouse=True)
def no_run_process_left() -> Iterator[None]:
    """After every test: no process of any agentmaint run is left (whatever the test did)."""
    yield
    leftovers = run_processes("")  # every process carrying AGENTMAINT_JOB_ID=...
    assert leftovers == [], f"processes of a run outlived the test: {leftovers}"
