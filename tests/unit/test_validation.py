"""Schedule validation: the seed validates unchanged; every bad file gets exact path: message lines.

Each file in tests/data/bad/ carries its expected problems in ``# expect:`` header lines;
every expectation must appear (as a substring) among the rendered problems.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from agentmaint.config.durations import DURATION_PATTERN
from agentmaint.config.parse import load_schedule, parse_schedule, validate_file
from agentmaint.config.validation import schedule_schema
from agentmaint.errors import ScheduleError

DATA = Path(__file__).parent.parent / "data"
BAD = sorted((DATA / "bad").iterdir())
EXAMPLES = Path(__file__).parent.parent.parent / "examples"
SIDE_EXPECTATIONS = {"binary.yaml": ["not UTF-8 text"]}


def expectations(path: Path) -> list[str]:
    if path.name in SIDE_EXPECTATIONS:
        return SIDE_EXPECTATIONS[path.name]
    lines = path.read_text().splitlines()
    return [line.removeprefix("# expect: ") for line in lines if line.startswith("# expect: ")]


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_file_reports_each_problem_by_path(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} has no '# expect:' line"
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path)
    rendered = [str(p) for p in caught.value.problems]
    for fragment in expected:
        assert any(fragment in line for line in rendered), (fragment, rendered)


def test_seed_config_validates_unchanged(seed_config: dict[str, Any]) -> None:
    schedule = parse_schedule(seed_config)
    assert list(schedule.environments) == ["testing", "production"]
    assert schedule.environments["production"].host_names == (
        "prod-server-1",
        "prod-server-2",
        "prod-server-3",
    )
    assert schedule.components["python"].frequency.interval.days == 30
    assert schedule.backup.pre_update is True
    assert schedule.backup.backup_command == "python scripts/backup.py"
    assert schedule.notification.emails == ("admin@example.com",)
    assert schedule.notification.slack_webhook is None  # "" disables Slack
    testing = schedule.environments["testing"].schedule
    assert testing.describe() == "Mon 01:00 UTC for 1h"


def test_seed_config_as_yaml_file(tmp_path: Path, seed_config: dict[str, Any]) -> None:
    path = tmp_path / "infrastructure.yaml"
    path.write_text(yaml.safe_dump(seed_config))
    assert validate_file(path) == []
    json_path = tmp_path / "infrastructure.json"
    json_path.write_text(json.dumps(seed_config))
    assert load_schedule(json_path).state_dir == tmp_path / ".agentmaint"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.*")), ids=lambda p: p.name)
def test_examples_validate(path: Path) -> None:
    assert validate_file(path) == []


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "timezone: Nowhere/City\n"
        "environments:\n"
        "  testing:\n"
        "    servers: [a, a]\n"
        "    update_schedule: {day_of_week: Monday, time: '24:00'}\n"
        "components:\n"
        "  os: {update_command: '', frequency: weekly, extra: 1}\n"
    )
    problems = {str(p) for p in validate_file(path)}
    assert problems == {
        "timezone: 'Nowhere/City' is not a known IANA time zone (e.g. Europe/Berlin, UTC)",
        "environments.testing.servers[1]: host 'a' is listed twice",
        "environments.testing.update_schedule.time: '24:00' is not a valid HH:MM time",
        "components.os.update_command: must not be empty",
        "components.os.extra: unknown key (known: become, description, frequency, healthcheck, "
        "role, rollback_command, update_command, vars)",
    }


def test_unquoted_times_and_dates_stay_strings(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "environments:\n"
        "  testing:\n"
        "    servers: [a]\n"
        "    update_schedule: {day_of_week: Monday, time: 13:30}\n"
        "components:\n"
        "  os: {update_command: x, frequency: weekly}\n"
        "blackouts: [{start: 2026-12-24, end: 2026-12-26}]\n"
    )
    schedule = load_schedule(path)
    assert str(schedule.environments["testing"].schedule.at_time) == "13:30:00"
    assert schedule.blackouts[0].end.isoformat() == "2026-12-27T00:00:00+00:00"


def test_hosts_mapping_and_servers_combine(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "environments:\n"
        "  testing:\n"
        "    servers: [a]\n"
        "    hosts: {b: {ansible_host: 192.0.2.5, ansible_port: 2222}, c: }\n"
        "    update_schedule: {day_of_week: daily, time: '01:00'}\n"
        "components:\n"
        "  os: {update_command: x, frequency: 14d}\n"
    )
    schedule = load_schedule(path)
    env = schedule.environments["testing"]
    assert env.host_names == ("a", "b", "c")
    assert env.hosts[1].vars == {"ansible_host": "192.0.2.5", "ansible_port": 2222}
    assert env.schedule.days == frozenset(range(7))
    assert schedule.components["os"].frequency.interval.days == 14


def test_duration_pattern_matches_schema() -> None:
    assert schedule_schema()["$defs"]["duration"]["pattern"] == DURATION_PATTERN


def test_schema_is_draft_2020_12() -> None:
    assert schedule_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_is_a_valid_schema() -> None:
    # The package does not check its own schema at run time; this test does.
    Draft202012Validator.check_schema(schedule_schema())


def test_secret_webhook_not_in_repr(seed_config: dict[str, Any]) -> None:
    seed_config["notification"]["slack_webhook"] = "https://hooks.example.invalid/T0/B0/sekrit"
    schedule = parse_schedule(seed_config)
    assert "sekrit" not in repr(schedule)
    assert re.search("sekrit", repr(schedule.notification)) is None


def test_a_yaml_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    """A wrong indentation is ``file:line: invalid YAML ...`` like any other problem."""
    path = tmp_path / "schedule.yaml"
    path.write_text(
        "environments:\n"
        "  lab:\n"
        "    servers: [lab-1]\n"
        "components:\n"
        "  app:\n"
        "    update_command: true\n"
        "      frequency: daily\n"
    )
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path)
    (problem,) = caught.value.problems
    assert problem.line == 7
    assert problem.located(str(path)).startswith(f"{path}:7: invalid YAML at column ")


def test_a_mistyped_required_key_is_one_problem(tmp_path: Path) -> None:
    """``frequncy``: the unknown key names 'frequency'; 'frequency' is not also missing."""
    path = tmp_path / "schedule.yaml"
    path.write_text(
        "environments:\n"
        "  lab:\n"
        "    servers: [lab-1]\n"
        "    update_schedule: {day_of_week: daily, time: '01:00'}\n"
        "components:\n"
        "  app:\n"
        "    update_command: 'true'\n"
        "    frequncy: daily\n"
    )
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path)
    assert [p.located(str(path)) for p in caught.value.problems] == [
        f"{path}:8: components.app.frequncy: unknown key (did you mean 'frequency'?)"
    ]


def test_a_required_key_missing_beside_an_unrelated_unknown_key_is_reported(
    tmp_path: Path,
) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(
        "environments:\n"
        "  lab:\n"
        "    servers: [lab-1]\n"
        "components:\n"
        "  app:\n"
        "    update_command: 'true'\n"
        "    colour: blue\n"
    )
    with pytest.raises(ScheduleError) as caught:
        load_schedule(path)
    rendered = [str(p) for p in caught.value.problems]
    assert "components.app.frequency: is required" in rendered
    assert any(line.startswith("components.app.colour: unknown key") for line in rendered)
