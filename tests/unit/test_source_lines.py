"""Validation errors of a YAML schedule name their line: ``schedule.yaml:14: path: message``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentmaint.cli.app import main
from agentmaint.config.lines import SourceLines
from agentmaint.config.parse import load_schedule
from agentmaint.errors import Problem, ScheduleError

SCHEDULE = """\
timezone: UTC
environments:
  production:
    hosts:
      web1.example.com:
        ansible_port: 22
      web2.example.com: {ansible_port: 0}
    update_schedule:
      day_of_week: [Monday, Thursday]
      time: "01:00"
  staging:
    servers:
      - stage1
      - stage2
      - "bad host!"
    update_schedule:
      day_of_week: Mondy
      time: "01:00"
components:
  os:
    update_command: apt-get upgrade -y
    frequency: weekly
    colour: blue
  models:
    update_command: x
notification:
  slack_webhook: ${AGENTMAINT_TEST_UNSET_HOOK}
"""


def _write(tmp_path: Path, text: str = SCHEDULE, name: str = "schedule.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _located(error: ScheduleError) -> dict[str, int | None]:
    return {f"{p.path}: {p.message}": p.line for p in error.problems}


def _problems(path: Path, *, resolve_secrets: bool = True) -> dict[str, int | None]:
    with pytest.raises(ScheduleError) as raised:
        load_schedule(path, resolve_secrets=resolve_secrets)
    return _located(raised.value)


def test_schema_problems_name_the_line_of_their_setting(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path), resolve_secrets=False)
    by_path = {text.split(": ", 1)[0]: line for text, line in problems.items()}
    assert by_path["environments.staging.servers[2]"] == 15  # a list item
    assert by_path['environments.production.hosts["web2.example.com"].ansible_port'] == 7
    assert by_path["components.os.colour"] == 23  # an unknown key
    # A missing key is not in the file: the line of the mapping it belongs in.
    assert by_path["components.models.frequency"] == 24


def test_semantic_problems_name_the_line_of_their_setting(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path), resolve_secrets=False)
    assert (
        problems[
            "environments.staging.update_schedule.day_of_week: 'Mondy' is not a day of the "
            "week (Monday..Sunday, Mon..Sun or daily) (did you mean 'Monday'?)"
        ]
        == 17
    )
    text = SCHEDULE.replace("timezone: UTC", "timezone: Europe/Berln")
    problems = _problems(_write(tmp_path, text), resolve_secrets=False)
    zone = [line for message, line in problems.items() if message.startswith("timezone:")]
    assert zone == [1]


def test_a_cross_field_problem_names_the_line_of_its_setting(tmp_path: Path) -> None:
    text = (
        SCHEDULE.replace('      - "bad host!"\n', "      - web1.example.com\n")
        .replace("{ansible_port: 0}", "{ansible_port: 2222}")
        .replace("Mondy", "Monday")
    )
    problems = _problems(_write(tmp_path, text), resolve_secrets=False)
    clash = {m: line for m, line in problems.items() if "is also in environment" in m}
    assert list(clash.values()) == [11], problems  # the environment: ``staging:``


def test_secret_reference_problems_name_the_line_at_load_and_when_resolved_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTMAINT_TEST_UNSET_HOOK", raising=False)
    valid = (
        SCHEDULE.replace('      - "bad host!"\n', "")
        .replace("Mondy", "Monday")
        .replace("{ansible_port: 0}", "{ansible_port: 2222}")
        .replace("    colour: blue\n", "")
        .replace("    update_command: x\n", "    update_command: x\n    frequency: weekly\n")
    )
    path = _write(tmp_path, valid)
    expected = {
        "notification.slack_webhook: environment variable(s) not set: "
        "AGENTMAINT_TEST_UNSET_HOOK": 26
    }
    assert _problems(path) == expected
    # Loaded without secrets (plan, render), resolved later (run): the same line.
    schedule = load_schedule(path, resolve_secrets=False)
    with pytest.raises(ScheduleError) as raised:
        schedule.resolve_secrets()
    assert _located(raised.value) == expected
    assert f"{path}:26: notification.slack_webhook: " in str(raised.value)


def test_loader_problems_name_the_line_of_the_key(tmp_path: Path) -> None:
    text = "timezone: UTC\ncomponents:\n  os: {frequency: weekly}\n  os: {frequency: daily}\n"
    problems = _problems(_write(tmp_path, text))
    assert problems == {"components.os: duplicate key at line 4 (first defined at line 3)": 4}


def test_an_alias_reports_at_the_line_it_is_used(tmp_path: Path) -> None:
    text = SCHEDULE.replace(
        "  models:\n    update_command: x\n",
        "  models: &base\n    update_command: x\n  more: *base\n",
    )
    problems = _problems(_write(tmp_path, text), resolve_secrets=False)
    assert problems["components.models.frequency: is required"] == 24
    assert problems["components.more.frequency: is required"] == 26


def test_a_json_schedule_keeps_path_and_message_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"environments": {"p": {"servers": ["bad host!"]}}, "components": {}}
    path = _write(tmp_path, json.dumps(document), "schedule.json")
    problems = _problems(path, resolve_secrets=False)
    assert problems and set(problems.values()) == {None}
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "  environments.p.servers[0]: " in err
    assert f"{path}:" not in err.replace(f"{path}: invalid schedule", "")


def test_the_cli_prints_file_line_path_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path)
    for command in (["validate", "--no-secrets"], ["render", "--out", str(tmp_path / "out")]):
        assert main([*command, str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}: invalid schedule" in err
        assert f"  {path}:15: environments.staging.servers[2]: 'bad host!' is not" in err
        assert f"  {path}:23: components.os.colour: unknown key" in err
    assert main(["validate", "--no-secrets", "--json", str(path)]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert {"path": "components.os.colour", "message": "unknown key", "line": 23} in [
        {**p, "message": p["message"].split(" (")[0]} for p in problems
    ]


def test_a_path_not_in_the_file_takes_its_nearest_ancestors_line() -> None:
    lines = SourceLines({"a": 1, "a.b": 2, 'a.b["x.y"]': 3, 'a.b["x.y"][0]': 4})
    assert lines.line_of('a.b["x.y"][0].c') == 4
    assert lines.line_of('a.b["x.z"].c') == 2  # a quoted key with a dot, not in the file
    assert lines.line_of("a.q") == 1
    assert lines.line_of("z") is None
    assert lines.line_of("") is None
    assert SourceLines().line_of("a") is None
    (kept,) = lines.locate([Problem("a.b", "m", line=9)])
    assert kept.line == 9
    assert Problem("a.b", "m", line=9) == Problem("a.b", "m")
    assert Problem("a.b", "m", line=9).located("f.yaml") == "f.yaml:9: a.b: m"
    assert Problem("a.b", "m").located("f.yaml") == "a.b: m"
