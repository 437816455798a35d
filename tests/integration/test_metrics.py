"""The metrics textfile after real runs on local hosts, and after scheduled runs that do nothing.

On SQLite and PostgreSQL (`history_url`). The file is read back with `prometheus_client`'s
parser and compared with what the history says through its ordinary queries; promtool
(Debian's, see tests/promtool.py) lints it.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.config.parse import load_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.history.store import HistoryStore, open_history
from agentmaint.maintenance import run_maintenance
from agentmaint.metrics import HostStatus
from agentmaint.planning.planner import plan
from agentmaint.records import Action, RunStatus
from tests import promtool as promtool_plugin
from tests.integration.test_scheduled import (
    AFTER,
    INSIDE,
    _gated_schedule,
    _start,
    _wait_for,
    agentmaint,
    runs,
    schedule_file,
)
from tests.promtool import check_metrics
from tests.schedules import always_open, local_hosts
from tests.unit.test_metrics import Series, parse, value

pytestmark = pytest.mark.integration

promtool = promtool_plugin.promtool  # the session fixture

#: The instant the runs plan at (inside the always-open window): what is due is then fixed.
AT = datetime(2030, 1, 15, 12, 0, tzinfo=UTC)
TEXTFILE = "metrics/agentmaint.prom"


def _with_metrics(path: Path) -> Path:
    """Add the metrics section to a schedule file (and create the textfile's directory)."""
    document = yaml.safe_load(path.read_text())
    document["metrics"] = {"textfile": TEXTFILE}
    path.write_text(yaml.safe_dump(document))
    (path.parent / "metrics").mkdir(exist_ok=True)
    return path.parent / TEXTFILE


def _read(textfile: Path) -> Series:
    _, values = parse(textfile.read_text())
    return values


def _assert_equal_to_the_history(values: Series, schedule: Schedule, store: HistoryStore) -> None:
    """Every series of the file is what the history says (through its ordinary queries)."""
    env = schedule.environments["fleet"]
    states = store.states(env.host_names, ["app"])
    for host in env.host_names:
        labels = {"environment": "fleet", "component": "app", "host": host}
        state = states[(host, "app")]
        success = state.last_success.timestamp() if state.last_success else 0
        latest = max(t for t in (state.last_success, state.last_failure) if t is not None)
        assert value(values, "agentmaint_last_success_timestamp_seconds", **labels) == success
        assert value(values, "agentmaint_last_run_timestamp_seconds", **labels) == (
            latest.timestamp()
        )
    finished = [r for r in store.runs() if r.status is not RunStatus.RUNNING]
    by_status = Counter(r.status for r in finished)
    for status in RunStatus:
        if status is not RunStatus.RUNNING:
            assert value(
                values, "agentmaint_runs_total", environment="fleet", status=status.value
            ) == by_status.get(status, 0), status
    last = max(finished, key=lambda r: r.finished or r.started)
    assert last.finished is not None
    assert value(values, "agentmaint_run_duration_seconds", environment="fleet") == (
        (last.finished - last.started).total_seconds()
    )
    rollbacks = [r for r in store.records(environment="fleet") if r.action is Action.ROLLBACK]
    assert value(values, "agentmaint_rollbacks_total", environment="fleet", component="app") == (
        len(rollbacks)
    )
    due = plan(schedule, store, AT).decisions[0]
    assert value(values, "agentmaint_due", environment="fleet", component="app") == len(due.servers)
    assert value(values, "agentmaint_window_open", environment="fleet") == 1
    assert value(values, "agentmaint_interval_seconds", environment="fleet", component="app") == (
        7 * 86400
    )
    version = importlib.metadata.version("agentmaint")
    assert value(values, "agentmaint_info", version=version) == 1


def _statuses(values: Series, host: str) -> dict[str, float]:
    return {
        status.value: value(
            values,
            "agentmaint_last_run_status",
            environment="fleet",
            component="app",
            host=host,
            status=status.value,
        )
        for status in HostStatus
    }


def _one(status: HostStatus) -> dict[str, float]:
    return {s.value: 1.0 if s is status else 0.0 for s in HostStatus}


def test_the_metrics_equal_the_history_after_a_success_then_a_rollback(
    make_schedule: Any, tmp_path: Path, history_url: str | None, promtool: Path
) -> None:
    document: dict[str, Any] = always_open(
        local_hosts("h1", "h2"),
        {
            "app": {
                "update_command": f'test ! -e {tmp_path}/fail-"$AGENTMAINT_HOST"',
                "rollback_command": f'touch {tmp_path}/rolled-"$AGENTMAINT_HOST"',
                "frequency": "weekly",
            }
        },
        metrics={"textfile": TEXTFILE},
    )
    if history_url is not None:
        document["history"] = {"url": history_url}
    schedule: Schedule = make_schedule(document)
    assert schedule.metrics is not None
    textfile = schedule.metrics.textfile
    textfile.parent.mkdir()

    first = run_maintenance(schedule, at=AT)
    assert first.run is not None and first.run.status is RunStatus.SUCCESSFUL
    values = _read(textfile)
    with open_history(schedule.history_url, schedule.state_dir) as store:
        _assert_equal_to_the_history(values, schedule, store)
    assert value(values, "agentmaint_runs_total", environment="fleet", status="successful") == 1
    assert _statuses(values, "h1") == _statuses(values, "h2") == _one(HostStatus.SUCCESS)
    assert check_metrics(promtool, textfile.read_text()).returncode == 0

    (tmp_path / "fail-h1").touch()
    second = run_maintenance(schedule, at=AT, force=True)
    assert second.run is not None and second.run.status is RunStatus.FAILED
    assert (tmp_path / "rolled-h1").exists() and not (tmp_path / "rolled-h2").exists()
    values = _read(textfile)
    with open_history(schedule.history_url, schedule.state_dir) as store:
        _assert_equal_to_the_history(values, schedule, store)
    assert value(values, "agentmaint_runs_total", environment="fleet", status="failed") == 1
    assert value(values, "agentmaint_runs_total", environment="fleet", status="successful") == 1
    assert value(values, "agentmaint_rollbacks_total", environment="fleet", component="app") == 1
    assert _statuses(values, "h1") == _one(HostStatus.ROLLED_BACK)
    assert _statuses(values, "h2") == _one(HostStatus.SUCCESS)
    # h1's last success is still the first run's; its last attempt is the second run's.
    h1 = {"environment": "fleet", "component": "app", "host": "h1"}
    assert value(values, "agentmaint_last_run_timestamp_seconds", **h1) > value(
        values, "agentmaint_last_success_timestamp_seconds", **h1
    )
    checked = check_metrics(promtool, textfile.read_text())
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
    # `agentmaint metrics` prints the same numbers (planned at the same instant).
    printed = agentmaint("metrics", schedule.source, "--at", AT.isoformat())
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == textfile.read_text()


def test_scheduled_runs_that_do_nothing_write_the_metrics_and_record_no_run(
    tmp_path: Path, history_url: str | None, promtool: Path
) -> None:
    path = schedule_file(tmp_path, history_url)
    textfile = _with_metrics(path)

    # The window closed half an hour ago: nothing runs, the file says so.
    late = agentmaint("run", path, "--scheduled", "--at", AFTER)
    assert late.returncode == 0, late.stderr
    assert late.stderr == ""
    assert runs(path, history_url) == []
    values = _read(textfile)
    assert value(values, "agentmaint_window_open", environment="fleet") == 0
    assert value(values, "agentmaint_due", environment="fleet", component="app") == 0
    assert _statuses(values, "h1") == _one(HostStatus.NEVER)
    assert value(values, "agentmaint_runs_total", environment="fleet", status="successful") == 0
    assert check_metrics(promtool, textfile.read_text()).returncode == 0

    timely = agentmaint("run", path, "--scheduled", "--at", INSIDE)
    assert timely.returncode == 0, timely.stderr
    assert runs(path, history_url) == [("scheduled", "successful")]
    values = _read(textfile)
    assert value(values, "agentmaint_runs_total", environment="fleet", status="successful") == 1
    assert _statuses(values, "h1") == _statuses(values, "h2") == _one(HostStatus.SUCCESS)

    # A poll tick in the same window: nothing due, no run recorded, the file rewritten.
    textfile.unlink()
    again = agentmaint("run", path, "--scheduled", "--at", INSIDE)
    assert again.returncode == 0, again.stderr
    assert runs(path, history_url) == [("scheduled", "successful")]
    values = _read(textfile)
    assert value(values, "agentmaint_window_open", environment="fleet") == 1
    assert value(values, "agentmaint_due", environment="fleet", component="app") == 0
    assert value(values, "agentmaint_runs_total", environment="fleet", status="successful") == 1
    assert _statuses(values, "h1") == _one(HostStatus.SUCCESS)


def test_a_trigger_during_the_previous_run_writes_the_metrics(
    tmp_path: Path, history_url: str | None
) -> None:
    path, gate = _gated_schedule(tmp_path, history_url, "skip")
    textfile = _with_metrics(path)
    first = _start("run", path, "--scheduled")
    try:
        _wait_for(tmp_path / "started-h1", tmp_path / "started-h2", process=first)

        second = agentmaint("run", path, "--scheduled")
        assert second.returncode == 0, second.stderr
        assert second.stdout.startswith("previous run still going")
        # Written by the trigger that did nothing: both hosts still due (the run going is
        # not recorded yet), and no run counted.
        values = _read(textfile)
        assert value(values, "agentmaint_due", environment="fleet", component="app") == 2
        assert value(values, "agentmaint_window_open", environment="fleet") == 1
        assert sum(v for (name, _), v in values.items() if name == "agentmaint_runs_total") == 0
    finally:
        gate.touch()
        assert first.wait(timeout=300) == 0
    assert runs(path, history_url) == [("scheduled", "successful")]
    values = _read(textfile)  # rewritten by the first run when it ended
    assert value(values, "agentmaint_due", environment="fleet", component="app") == 0
    assert value(values, "agentmaint_runs_total", environment="fleet", status="successful") == 1


def test_a_refused_textfile_is_a_warning_and_the_run_still_succeeds(
    tmp_path: Path, history_url: str | None
) -> None:
    path = schedule_file(tmp_path, history_url)
    textfile = _with_metrics(path)
    precious = tmp_path / "precious"
    precious.write_text("keep\n")
    textfile.symlink_to(precious)

    late = agentmaint("run", path, "--scheduled", "--at", AFTER)
    assert late.returncode == 0, late.stderr
    assert (
        f"agentmaint: warning: metrics not written: metrics textfile {textfile} is a symlink"
        in (late.stderr)
    )
    timely = agentmaint("run", path, "--scheduled", "--at", INSIDE)
    assert timely.returncode == 0, timely.stderr
    assert "metrics not written" in timely.stderr
    assert runs(path, history_url) == [("scheduled", "successful")]
    assert precious.read_text() == "keep\n"
    assert textfile.is_symlink()
    assert load_schedule(path).metrics is not None


RULE_TESTS = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # One sample a minute: an instant query looks back only 5 minutes.
  - interval: 1m
    input_series:
      # h1 never updated; h2 updated an hour before each sample.
      - series: 'agentmaint_last_success_timestamp_seconds{instance="c1",
          environment="fleet",component="app",host="h1"}'
        values: '0x3600'
      - series: 'agentmaint_last_success_timestamp_seconds{instance="c1",
          environment="fleet",component="app",host="h2"}'
        values: '0+60x3600'
      - series: 'agentmaint_interval_seconds{instance="c1",environment="fleet",component="app"}'
        values: '86400x3600'
      # A failed run at 10h; old runs pruned at 20h (the counter goes down: no alert).
      - series: 'agentmaint_runs_total{instance="c1",environment="fleet",status="failed"}'
        values: '3x599 4x599 2x2400'
      # A rollback at 30h.
      - series: 'agentmaint_rollbacks_total{instance="c1",environment="fleet",component="app"}'
        values: '1x1799 2x1800'
    alert_rule_test:
      - eval_time: 47h
        alertname: AgentmaintHostNotUpdated
        exp_alerts: []
      - eval_time: 50h
        alertname: AgentmaintHostNotUpdated
        exp_alerts:
          - exp_labels:
              {severity: warning, instance: c1, environment: fleet, component: app, host: h1}
            exp_annotations:
              summary: "app not updated on h1 (fleet) for two intervals"
      - eval_time: 10h30m
        alertname: AgentmaintRunFailed
        exp_alerts:
          - exp_labels: {severity: critical, instance: c1, environment: fleet, status: failed}
            exp_annotations:
              summary: "a maintenance run of fleet ended failed: agentmaint history FILE -e fleet"
      - eval_time: 12h
        alertname: AgentmaintRunFailed
        exp_alerts: []
      - eval_time: 20h30m
        alertname: AgentmaintRunFailed
        exp_alerts: []
      - eval_time: 30h30m
        alertname: AgentmaintRolledBack
        exp_alerts:
          - exp_labels: {severity: warning, instance: c1, environment: fleet, component: app}
            exp_annotations:
              summary: "app was rolled back in fleet"
      - eval_time: 29h
        alertname: AgentmaintRolledBack
        exp_alerts: []
"""


def test_the_readme_alerting_rules_are_valid_and_fire_when_they_should(
    tmp_path: Path, promtool: Path
) -> None:
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text()
    section = readme.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    [rules] = [
        block
        for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
        if "groups:" in block
    ]
    (tmp_path / "rules.yml").write_text(rules)
    (tmp_path / "tests.yml").write_text(RULE_TESTS)
    checked = subprocess.run(
        [str(promtool), "check", "rules", "rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 3 rules found" in checked.stdout
    tested = subprocess.run(
        [str(promtool), "test", "rules", "tests.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
