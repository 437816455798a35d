"""A job's ansible.cfg enables only the inventory plugin that reads agentmaint's inventory."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.naming import Target
from agentmaint.run.jobdir import prepare_run_dir
from tests.schedules import MakeSchedule, always_open, local_hosts


def _job(make_schedule: MakeSchedule, tmp_path: Path, **extra: Any) -> configparser.ConfigParser:
    schedule = make_schedule(
        always_open(
            local_hosts("h1"), {"app": {"update_command": "true", "frequency": "daily"}}, **extra
        )
    )
    job = prepare_run_dir(
        schedule, (Target("fleet", "app", ("h1",)),), run_id="r1", directory=tmp_path / "j"
    )
    # what the one plugin left enabled reads: the job's inventory is a YAML inventory
    assert job.inventory.name == "hosts.yml"
    text = job.inventory.read_text()
    assert text.startswith("all:\n") and "\n        h1:\n" in text
    config = configparser.ConfigParser()
    config.read(tmp_path / "j" / "project" / "ansible.cfg")
    return config


def test_the_job_reads_its_inventory_with_the_yaml_plugin_only(
    make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    assert _job(make_schedule, tmp_path)["inventory"]["enable_plugins"] == "yaml"


@pytest.mark.parametrize("plugins", ["yaml, ini", "auto"])
def test_the_schedules_ansible_cfg_still_has_the_last_word(
    make_schedule: MakeSchedule, tmp_path: Path, plugins: str
) -> None:
    config = _job(make_schedule, tmp_path, ansible_cfg={"inventory": {"enable_plugins": plugins}})
    assert config["inventory"]["enable_plugins"] == plugins
