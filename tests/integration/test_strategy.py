"""The fast path (mitogen) and the fallback (Ansible's linear strategy) record the same history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.ansible.runner import run_processes
from agentmaint.ansible.strategy import ENVIRONMENT_VARIABLE, mitogen_plugins
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration


def _schedule(directory: Path, strategy: str) -> Path:
    out = directory / "out"
    out.mkdir(parents=True)
    (out / "config").write_text("v1\n")
    document: dict[str, Any] = always_open(
        local_hosts("h1", "h2", "h3"),
        {
            # h2's update fails: rolled back with the command.
            "app": {
                "update_command": (
                    f'test "$AGENTMAINT_HOST" != h2 && touch {out}/app-"$AGENTMAINT_HOST"'
                ),
                "rollback_command": f'touch {out}/rolled-back-"$AGENTMAINT_HOST"',
                "frequency": "weekly",
            },
            # h3's health check fails: rolled back with the command.
            "web": {
                "update_command": f"echo v2 > {out}/config-$AGENTMAINT_HOST",
                "healthcheck": {"command": 'test "$AGENTMAINT_HOST" != h3', "retries": 1},
                "rollback_command": f"echo v1 > {out}/config-$AGENTMAINT_HOST",
                "frequency": "weekly",
            },
        },
        backup={
            "pre_update": True,
            "backup_command": f'cp {out}/config {out}/backup-"$AGENTMAINT_HOST"',
        },
        execution={"strategy": strategy},
    )
    path = directory / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _outcome(directory: Path, strategy: str) -> dict[str, Any]:
    schedule = load_schedule(_schedule(directory, strategy))
    result = run_maintenance(schedule)
    assert result.run is not None
    assert run_processes(result.run.id) == []
    with HistoryStore.open(schedule.state_dir) as store:
        records = sorted(
            (r.server, r.component, r.action.value, r.status.value, r.error)
            for r in store.records()
        )
        counts = {h: c.to_dict() for h, c in store.host_counts(result.run.id).items()}
    cfg = (result.run.artifact_dir.parents[1] / "project" / "ansible.cfg").read_text()
    return {
        "status": result.run.status.value,
        "failed": result.failed_hosts,
        "records": records,
        "counts": counts,
        "files": sorted(p.name for p in (directory / "out").iterdir()),
        "cfg": cfg,
    }


def test_mitogen_and_fallback_give_the_same_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(mitogen_plugins(), Path):
        pytest.skip(f"needs mitogen (a dependency): {mitogen_plugins()}")
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    # Named: on 3 hosts of fused plays `auto` would choose linear (agentmaint.ansible.strategy).
    fast = _outcome(tmp_path / "fast", "mitogen_linear")
    fallback = _outcome(tmp_path / "fallback", "linear")
    assert "strategy = mitogen_linear" in fast.pop("cfg")
    assert "strategy = linear" in fallback.pop("cfg")
    assert fast == fallback
    assert fast["status"] == "failed"
    assert fast["failed"] == ("h2", "h3")
    assert ("h2", "app", "rollback", "success", None) in fast["records"]
    assert ("h3", "web", "rollback", "success", None) in fast["records"]
    assert "rolled-back-h2" in fast["files"]
    assert {"backup-h1", "backup-h2", "backup-h3", "app-h1", "app-h3"} <= set(fast["files"])
