"""`auto` fitted to a job: Ansible's linear for all-fused jobs but many local hosts' modules."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible import strategy
from agentmaint.ansible.naming import Target
from agentmaint.ansible.strategy import FUSED_LINEAR_BELOW, Workload, fit, resolve
from agentmaint.run.jobdir import prepare_run_dir
from tests.schedules import MakeSchedule, always_open, local_hosts

SMALL = FUSED_LINEAR_BELOW - 1


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(strategy.ENVIRONMENT_VARIABLE, raising=False)
    strategy.mitogen_plugins.cache_clear()
    yield
    strategy.mitogen_plugins.cache_clear()


@pytest.mark.parametrize(
    "workload",
    [
        Workload(SMALL, fused=True),  # a few local hosts
        Workload(1, fused=True),
        Workload(FUSED_LINEAR_BELOW, fused=True),  # the direct path, whatever the size
        Workload(500, fused=True),
        Workload(SMALL, fused=True, direct=False),  # a few local hosts' modules
        Workload(1, fused=True, remote=1),  # over SSH, whatever the size
        Workload(200, fused=True, remote=1),
        Workload(200, fused=True, remote=1, direct=False),
    ],
)
def test_auto_uses_linear_for_fused_jobs_but_many_local_hosts_modules(
    workload: Workload, caplog: pytest.LogCaptureFixture
) -> None:
    assert resolve("auto").mitogen  # mitogen is a dependency: auto starts from it
    with caplog.at_level(logging.DEBUG, logger=strategy.__name__):
        chosen = fit(resolve("auto"), workload)
    assert chosen.name == "linear" and not chosen.mitogen
    assert chosen.note is not None and "fused" in chosen.note
    assert any(chosen.note in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "workload",
    [
        # the fused task as a module on enough local hosts for mitogen to pay off
        Workload(FUSED_LINEAR_BELOW, fused=True, direct=False),
        Workload(500, fused=True, direct=False),
        Workload(1, fused=False),  # many tasks per host
        Workload(SMALL, fused=False),
        Workload(50, fused=False, remote=50),
    ],
)
def test_auto_keeps_mitogen_otherwise(workload: Workload, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=strategy.__name__):
        chosen = fit(resolve("auto"), workload)
    assert chosen.name == "mitogen_linear" and chosen.mitogen
    assert chosen.note is not None and any(chosen.note in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("named", ["mitogen_linear", "mitogen_free", "free", "linear"])
def test_a_named_strategy_wins_over_the_rule(named: str) -> None:
    chosen = fit(resolve(named), Workload(1, fused=True))
    assert chosen.name == named


def test_the_environment_variable_wins_over_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(strategy.ENVIRONMENT_VARIABLE, "mitogen_linear")
    assert fit(resolve("auto"), Workload(1, fused=True)).name == "mitogen_linear"
    monkeypatch.setenv(strategy.ENVIRONMENT_VARIABLE, "linear")
    assert fit(resolve("auto"), Workload(100, fused=False)).name == "linear"


def test_auto_without_mitogen_stays_linear() -> None:
    fallback = strategy.Strategy("linear", None, "mitogen is not installed", auto=True)
    assert fit(fallback, Workload(100, fused=False)).name == "linear"


def _cfg_strategy(
    make_schedule: MakeSchedule, tmp_path: Path, component: dict[str, Any], hosts: int, **extra: Any
) -> str:
    names = [f"h{i}" for i in range(hosts)]
    schedule = make_schedule(always_open(local_hosts(*names), {"app": component}, **extra))
    job = prepare_run_dir(
        schedule,
        (Target("fleet", "app", tuple(names)),),
        run_id="20261206T000000Z-abcdef",
        directory=tmp_path / "job",
    )
    cfg = (job.private_data_dir / "project" / "ansible.cfg").read_text()
    return next(
        line.split("=", 1)[1].strip() for line in cfg.splitlines() if line.startswith("strategy")
    )


FUSED = {"update_command": "true", "frequency": "weekly", "healthcheck": {"command": "true"}}
# A backup of paths runs the backup role's tasks on each host: never fused.
PATHS = {"backup": {"pre_update": True, "paths": ["/etc/hostname"]}}


def test_a_job_directory_follows_the_rule(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    assert _cfg_strategy(make_schedule, tmp_path / "a", FUSED, SMALL) == "linear"
    assert _cfg_strategy(make_schedule, tmp_path / "b", FUSED, FUSED_LINEAR_BELOW) == "linear"
    assert _cfg_strategy(make_schedule, tmp_path / "c", FUSED, 1, **PATHS) == "mitogen_linear"
    not_fused = {"execution": {"fused": False}}
    assert _cfg_strategy(make_schedule, tmp_path / "d", FUSED, 1, **not_fused) == "mitogen_linear"
    named = {"execution": {"strategy": "mitogen_linear"}}
    assert _cfg_strategy(make_schedule, tmp_path / "e", FUSED, 1, **named) == "mitogen_linear"


NO_PIPELINING: list[dict[str, Any]] = [
    {"execution": {"pipelining": False}},
    {"ansible_cfg": {"connection": {"pipelining": "False"}}},
]


@pytest.mark.parametrize("extra", NO_PIPELINING)
def test_without_pipelining_many_local_hosts_keep_mitogen(
    make_schedule: MakeSchedule, tmp_path: Path, extra: dict[str, Any]
) -> None:
    # No pipelining: the fused task runs as a module, which mitogen's interpreters run faster.
    assert _cfg_strategy(make_schedule, tmp_path / "a", FUSED, SMALL, **extra) == "linear"
    assert _cfg_strategy(make_schedule, tmp_path / "b", FUSED, FUSED_LINEAR_BELOW, **extra) == (
        "mitogen_linear"
    )


def test_a_host_without_pipelining_counts(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    names = [f"h{i}" for i in range(FUSED_LINEAR_BELOW)]
    hosts = local_hosts(*names)
    hosts["h0"] = {**hosts["h0"], "ansible_pipelining": False}
    schedule = make_schedule(always_open(hosts, {"app": FUSED}))
    job = prepare_run_dir(
        schedule,
        (Target("fleet", "app", tuple(names)),),
        run_id="20261206T000000Z-abcdef",
        directory=tmp_path / "job",
    )
    assert (
        "strategy = mitogen_linear"
        in (job.private_data_dir / "project" / "ansible.cfg").read_text()
    )


def test_in_the_background_many_local_hosts_take_linear(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    # More hosts than forks in the background: the start and the wait take the direct path too.
    extra = {"execution": {"background": True, "forks": 2}}
    assert _cfg_strategy(make_schedule, tmp_path / "a", FUSED, FUSED_LINEAR_BELOW, **extra) == (
        "linear"
    )
    off = {"execution": {"background": True, "forks": 2, "pipelining": False}}
    assert _cfg_strategy(make_schedule, tmp_path / "b", FUSED, FUSED_LINEAR_BELOW, **off) == (
        "mitogen_linear"
    )


def test_a_job_with_a_remote_host_counts_it(make_schedule: MakeSchedule, tmp_path: Path) -> None:
    names = [f"h{i}" for i in range(FUSED_LINEAR_BELOW)]
    hosts: dict[str, dict[str, Any]] = {**local_hosts(*names), "remote": {"ansible_host": "x"}}
    # Without pipelining, so that only the remote host makes the difference.
    schedule = make_schedule(always_open(hosts, {"app": FUSED}, execution={"pipelining": False}))
    cfg = {}
    for label, chosen in (("local", names), ("remote", [*names, "remote"])):
        job = prepare_run_dir(
            schedule,
            (Target("fleet", "app", tuple(chosen)),),
            run_id="20261206T000000Z-abcdef",
            directory=tmp_path / label,
        )
        cfg[label] = (job.private_data_dir / "project" / "ansible.cfg").read_text()
    assert "strategy = mitogen_linear" in cfg["local"]
    assert "strategy = linear" in cfg["remote"]
