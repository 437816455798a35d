"""The default forks of a run: the user's setting wins; fused (wait-bound) runs get more."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.naming import Target
from agentmaint.run.forks import MAX_DEFAULT_FORKS, MAX_FUSED_FORKS, default_forks
from agentmaint.run.jobdir import prepare_run_dir
from tests.schedules import MakeSchedule, always_open, local_hosts

COMMAND = {"update_command": "true", "frequency": "daily"}
# A health check over HTTP cannot be fused: that component keeps one task per step.
HTTP = {**COMMAND, "healthcheck": {"url": "http://127.0.0.1:1/"}}


def _targets(count: int, *components: str) -> tuple[Target, ...]:
    hosts = tuple(f"h{i}" for i in range(count))
    return tuple(Target("fleet", name, hosts) for name in components)


def _schedule(make: MakeSchedule, count: int, components: dict[str, Any], **extra: Any) -> Any:
    return make(always_open(local_hosts(*(f"h{i}" for i in range(count))), components, **extra))


def test_fused_runs_get_the_higher_cap(make_schedule: MakeSchedule) -> None:
    assert MAX_FUSED_FORKS > MAX_DEFAULT_FORKS
    hosts = MAX_FUSED_FORKS + 20
    schedule = _schedule(make_schedule, hosts, {"app": COMMAND})
    assert default_forks(schedule, _targets(hosts, "app")) == MAX_FUSED_FORKS


def test_forks_never_exceed_the_hosts(make_schedule: MakeSchedule) -> None:
    hosts = MAX_DEFAULT_FORKS + 10
    schedule = _schedule(make_schedule, hosts, {"app": COMMAND})
    assert default_forks(schedule, _targets(hosts, "app")) == hosts
    assert default_forks(schedule, ()) == 1


def test_any_unfused_play_keeps_the_default_cap(make_schedule: MakeSchedule) -> None:
    hosts = MAX_DEFAULT_FORKS + 10
    schedule = _schedule(make_schedule, hosts, {"app": COMMAND, "web": HTTP})
    assert default_forks(schedule, _targets(hosts, "app")) == hosts
    assert default_forks(schedule, _targets(hosts, "app", "web")) == MAX_DEFAULT_FORKS


def test_fused_false_keeps_the_default_cap(make_schedule: MakeSchedule) -> None:
    hosts = MAX_DEFAULT_FORKS + 10
    schedule = _schedule(make_schedule, hosts, {"app": COMMAND}, execution={"fused": False})
    assert default_forks(schedule, _targets(hosts, "app")) == MAX_DEFAULT_FORKS


@pytest.mark.parametrize("forks", [3, MAX_FUSED_FORKS + 50])
def test_the_users_forks_always_win(make_schedule: MakeSchedule, forks: int) -> None:
    hosts = MAX_FUSED_FORKS + 20
    schedule = _schedule(make_schedule, hosts, {"app": COMMAND}, execution={"forks": forks})
    assert default_forks(schedule, _targets(hosts, "app")) == forks


@pytest.mark.parametrize(
    ("components", "wanted"),
    [({"app": COMMAND}, MAX_FUSED_FORKS), ({"app": HTTP}, MAX_DEFAULT_FORKS)],
)
def test_the_job_directory_gets_the_rule(
    make_schedule: MakeSchedule, tmp_path: Path, components: dict[str, Any], wanted: int
) -> None:
    hosts = MAX_FUSED_FORKS + 10
    schedule = _schedule(make_schedule, hosts, components)
    job = prepare_run_dir(schedule, _targets(hosts, "app"), run_id="r1", directory=tmp_path / "j")
    config = configparser.ConfigParser()
    config.read(tmp_path / "j" / "project" / "ansible.cfg")
    assert config["defaults"]["forks"] == str(wanted)
    assert job.private_data_dir == tmp_path / "j"
