"""A run missing a secret it will need stops before it touches any host.

The schedule's only component touches a marker file on a local host: the marker must
not appear, and nothing may be written in the state directory, whether the run comes
from the CLI or from the library with a schedule loaded without its secrets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.config.parse import load_schedule
from agentmaint.errors import ScheduleError
from agentmaint.maintenance import run_maintenance
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration


@pytest.fixture
def schedule_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AM_TEST_SLACK_URL", raising=False)
    document: dict[str, Any] = always_open(
        local_hosts("h1"),
        {"app": {"update_command": f"touch {tmp_path / 'touched'}", "frequency": "weekly"}},
        notification={"slack_webhook": "${AM_TEST_SLACK_URL}"},
    )
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_run_without_a_notification_secret_touches_no_host(
    schedule_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(schedule_file)]) == 2
    err = capsys.readouterr().err
    assert "notification.slack_webhook: environment variable(s) not set: AM_TEST_SLACK_URL" in err
    assert "Traceback" not in err
    assert not (tmp_path / "touched").exists()
    assert not (tmp_path / ".agentmaint").exists()


def test_a_schedule_loaded_without_secrets_is_resolved_before_any_host(
    schedule_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = load_schedule(schedule_file, resolve_secrets=False)
    with pytest.raises(ScheduleError) as info:
        run_maintenance(schedule)
    assert [str(p) for p in info.value.problems] == [
        "notification.slack_webhook: environment variable(s) not set: AM_TEST_SLACK_URL"
    ]
    assert not (tmp_path / "touched").exists()
    assert not (tmp_path / ".agentmaint").exists()

    # The same schedule runs once the secret is there (a success notifies no one here).
    monkeypatch.setenv("AM_TEST_SLACK_URL", "http://127.0.0.1:1/hook")
    result = run_maintenance(schedule)
    assert result.succeeded
    assert (tmp_path / "touched").exists()
