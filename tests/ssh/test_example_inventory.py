"""`ansible-playbook -i inventories/example playbooks/maintenance.yml` against real sshd hosts.

The example inventory is used as shipped; only its placeholder host addresses are replaced
by the test hosts' (its hosts.yml is rewritten in a copy). Then the run is imported into
a history, as an operator who runs the bundled playbook directly would do.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.history.store import HistoryStore
from tests.hosts.conftest_plugin import MakeSshdHosts
from tests.hosts.netns import TestHost, stop_ssh_clients

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _inventory(tmp_path: Path, hosts: list[TestHost]) -> Path:
    example = tmp_path / "example"
    shutil.copytree(ROOT / "inventories" / "example", example)
    shipped = yaml.safe_load((example / "hosts.yml").read_text())
    fleet = shipped["all"]["children"]["fleet"]
    assert sorted(fleet["hosts"]) == ["web1", "web2"]
    fleet["hosts"] = {h.name: dict(h.ansible_vars()) for h in hosts}
    (example / "hosts.yml").write_text(yaml.safe_dump(shipped))
    return example


def _playbook(inventory: Path, artifacts: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook of the bundled playbook, events kept as ansible-runner would."""
    return subprocess.run(
        [
            str(BIN / "ansible-runner"),
            "run",
            str(artifacts),
            "--playbook",
            str(ROOT / "playbooks" / "maintenance.yml"),
            "--inventory",
            str(inventory),
            "--ident",
            "example",
            "--cmdline",
            " ".join(extra),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "ANSIBLE_HOST_KEY_CHECKING": "False"},
    )


def _on(host: TestHost, command: str) -> str:
    done = host.ssh(command)
    assert done.returncode == 0, f"{host.name}: {command}: {done.stderr}"
    return done.stdout.strip()


def test_example_inventory_maintains_real_hosts(
    tmp_path: Path, make_sshd_hosts: MakeSshdHosts, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = make_sshd_hosts(2)
    inventory = _inventory(tmp_path, hosts)
    components = json.dumps({"agentmaint_components": ["agent_config", "model"]})

    # Plain ansible-playbook first, exactly as the example's comment says.
    plain = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            str(ROOT / "playbooks" / "maintenance.yml"),
            "-e",
            "agentmaint_environment=fleet",
            "-e",
            components,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "ANSIBLE_HOST_KEY_CHECKING": "False"},
    )
    assert plain.returncode == 0, plain.stdout[-4000:] + plain.stderr[-2000:]
    model = (ROOT / "inventories" / "example" / "files" / "model-2026-11.bin").read_text()
    for host in hosts:
        assert _on(host, "cat /etc/agent/agent.conf").startswith("workers=4\n")
        assert _on(host, "readlink /srv/models/example/current") == "versions/2026-11"
        assert _on(host, "cat /srv/models/example/current/model.bin") + "\n" == model
        archives = _on(host, "ls /var/backups/agentmaint").split()
        assert any(a.startswith("agent_config-") and a.endswith(".tar.gz") for a in archives)

    # A new model version whose digest is wrong: the update fails, the rescue's rollback
    # leaves the installed version alone, the host is failed; the run can be imported.
    artifacts = tmp_path / "runner"
    bad = _playbook(
        inventory,
        artifacts,
        "-e agentmaint_environment=fleet",
        '-e \'{"agentmaint_components": ["model"]}\'',
        "-e agentmaint_model_version=2026-12",
        "-e agentmaint_model_sha256=" + "0" * 64,
    )
    assert bad.returncode != 0, bad.stdout[-3000:]
    for host in hosts:
        assert _on(host, "readlink /srv/models/example/current") == "versions/2026-11"
        assert (
            _on(host, "test ! -e /srv/models/example/versions/2026-12 && echo absent") == "absent"
        )

    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        yaml.safe_dump(
            {
                "environments": {
                    "fleet": {
                        "servers": [h.name for h in hosts],
                        "update_schedule": {"day_of_week": "daily", "time": "00:00"},
                    }
                },
                "components": {
                    "model": {
                        "role": "model",
                        "vars": {"version": "x", "sha256": "0"},
                        "frequency": "monthly",
                    }
                },
            }
        )
    )
    assert main(["history", "import", str(schedule), str(artifacts / "artifacts" / "example")]) == 0
    capsys.readouterr()
    with HistoryStore.open(tmp_path / ".agentmaint") as store:
        records = {(r.server, r.action.value): (r.status.value, r.error) for r in store.records()}
    for host in hosts:
        status, error = records[(host.name, "update")]
        assert status == "failed"
        assert error is not None and "sha256" in error
        assert records[(host.name, "rollback")][0] == "success"
    stop_ssh_clients(h.address for h in hosts)
