"""The bundled playbook, run with ansible-runner directly, then imported into the history."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

from agentmaint.cli import main
from agentmaint.history.store import HistoryStore

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parent.parent.parent


def run_bundled(tmp_path: Path, catalog: dict[str, Any], components: list[str]) -> Path:
    """Run playbooks/maintenance.yml on inventories/local; return the artifact directory."""
    private = tmp_path / "runner"
    private.mkdir()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(ROOT / "playbooks" / "maintenance.yml"),
        inventory=str(ROOT / "inventories" / "local"),
        extravars={
            "agentmaint_environment": "local",
            "agentmaint_components": components,
            "agentmaint_catalog": catalog,
            "agentmaint_backup_dir": str(tmp_path / "backups" / "{{ inventory_hostname }}"),
        },
        envvars={"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
        quiet=True,
        ident="bundled",
    )
    assert runner.status in {"successful", "failed"}, runner.stdout.read()
    return private / "artifacts" / "bundled"


def schedule_for_import(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "environments": {
                    "local": {
                        "servers": ["local-1", "local-2"],
                        "update_schedule": {"day_of_week": "daily", "time": "00:00"},
                    }
                },
                "components": {
                    name: {"update_command": "true", "frequency": "weekly"}
                    for name in ("greeting", "broken")
                },
            }
        )
    )
    return path


def test_bundled_playbook_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    catalog = {
        "greeting": {
            "update_command": (
                f"mkdir -p {work} && echo hello > {work}/{{{{ inventory_hostname }}}}"
            ),
            "healthcheck": {
                "command": f"cat {work}/{{{{ inventory_hostname }}}}",
                "contains": "hello",
                "retries": 0,
                "delay": 1,
            },
            "backup_paths": [str(ROOT / "README.md")],
        },
        "broken": {
            "update_command": "echo v2 && false",
            "rollback_command": f"touch {work}/rolled-back-{{{{ inventory_hostname }}}}",
            "backup_paths": [str(ROOT / "README.md")],
        },
    }
    artifacts = run_bundled(tmp_path, catalog, ["greeting", "broken"])
    assert sorted(p.name for p in work.iterdir()) == [
        "local-1",
        "local-2",
        "rolled-back-local-1",
        "rolled-back-local-2",
    ]
    archives = sorted((tmp_path / "backups" / "local-1").glob("greeting-*.tar.gz"))
    assert len(archives) == 1
    checksum = Path(f"{archives[0]}.sha256").read_text()
    assert checksum.endswith(f"  {archives[0].name}\n")

    schedule = schedule_for_import(tmp_path)
    assert main(["history", "import", str(schedule), str(artifacts)]) == 0
    capsys.readouterr()
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        records = {(r.server, r.component, r.action.value): r.status.value for r in store.records()}
    for host in ("local-1", "local-2"):
        assert records[(host, "greeting", "backup")] == "success"
        assert records[(host, "greeting", "update")] == "success"
        assert records[(host, "greeting", "healthcheck")] == "success"
        assert records[(host, "broken", "update")] == "failed"
        assert records[(host, "broken", "rollback")] == "success"
