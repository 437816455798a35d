"""The demo (the README's main job) really maintains its fleet: files on disk prove it."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentmaint.ansible.strategy import ENVIRONMENT_VARIABLE
from agentmaint.cli import main
from agentmaint.cli.demo import HOSTS, MODEL_BYTES
from agentmaint.config.parse import load_schedule
from agentmaint.history.store import HistoryStore
from agentmaint.planning.planner import plan
from tests.snapshot import assert_readable

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("strategy", ["auto", "linear"], ids=["mitogen-if-installed", "fallback"])
def test_demo_cycle(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    strategy: str,
) -> None:
    """The same outcome with the fast path (mitogen, when installed) and Ansible's own."""
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, strategy)
    root = tmp_path / "demo"
    assert main(["demo", "--dir", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["run"]["status"] == "failed"
    assert data["failed_hosts"] == ["demo-3"]
    digest = hashlib.sha256(MODEL_BYTES).hexdigest()[:12]
    for host in HOSTS:
        base = root / "hosts" / host
        archives = sorted((base / "backups").glob("*.tar.gz"))
        assert archives, f"{host} was not backed up"
        with tarfile.open(archives[0]) as archive:
            assert "etc/agent.conf" in archive.getnames()
        config = (base / "etc" / "agent.conf").read_text()
        current = os.readlink(base / "models" / "current")
        if host == "demo-3":
            assert config == "version=1\nhealthy=yes\n"  # restored from the backup
            assert current == "versions/v1"  # never reached: failed agent-config first
        else:
            assert config == "version=2\nhealthy=yes\n"
            assert current == f"versions/{digest}"
            assert (base / "models" / "current" / "model.bin").read_bytes() == MODEL_BYTES
    schedule = load_schedule(root / "schedule.yaml")
    with HistoryStore.open(schedule.state_dir) as store:
        records = {(r.server, r.component, r.action.value): r.status.value for r in store.records()}
        assert records[("demo-3", "agent-config", "healthcheck")] == "failed"
        assert records[("demo-3", "agent-config", "rollback")] == "success"
        assert records[("demo-3", "model", "update")] == "skipped"
        assert records[("demo-1", "model", "update")] == "success"
        # The next cycle: only demo-3 is due (the others succeeded), and only tomorrow.
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        due = {d.component: d.servers for d in plan(schedule, store, tomorrow).due}
        assert due == {"agent-config": ("demo-3",), "model": ("demo-3",)}


def test_demo_reads_whole_at_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real demo's output on an 80-column terminal: nothing cut, nothing wider.

    The run's own instants and the order of same-second records vary, so this checks the
    shape; tests/unit/test_snapshots.py snapshots the same tables from fixed data.
    """
    monkeypatch.setenv("COLUMNS", "80")
    root = tmp_path / "demo"
    assert main(["demo", "--dir", str(root)]) == 0
    text = capsys.readouterr().out
    ours = "\n".join(line for line in text.splitlines() if str(tmp_path) not in line)
    actions = ["backup", "update", "healthcheck", "rollback"]
    outcomes = ["success", "failed", "skipped", "rollback:success", "healthcheck:failed"]
    assert_readable(ours, 80, [*HOSTS, "agent-config", "model", *actions, *outcomes])
    assert "Failed |" not in text
    assert "History of " in text  # one day: the date once, in the title
    # The lines naming the demo's directory wrap at words too: only a path (a command's
    # last word, to copy whole) may reach past column 80.
    too_wide = [line.rstrip() for line in text.splitlines() if len(line.rstrip()) > 80]
    assert all(line.split()[-1].startswith(str(tmp_path)) for line in too_wide), too_wide
