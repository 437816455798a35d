"""The error budget (``rollout.max_failures``): parsing, validation, the rendered gate,
the budget over slices, and the roll-up of hosts a spent budget never reached."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.yaml.loader import AnsibleLoader

from agentmaint.ansible.budget import EXHAUSTED, done_fact, exhausted, with_budgets
from agentmaint.ansible.naming import Target, classify
from agentmaint.ansible.render import dump_yaml, playbook
from agentmaint.ansible.rollup import rollup
from agentmaint.ansible.slicing import slice_targets
from agentmaint.cli.output import _budget_lines
from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Rollout, Schedule
from agentmaint.errors import ScheduleError
from agentmaint.planning.history import MemoryHistory
from agentmaint.planning.planner import plan
from agentmaint.records import Outcome

ENV = "environments.production.rollout.max_failures"


def build(rollout: dict[str, Any] | None, hosts: int = 6, **extra: Any) -> Schedule:
    env: dict[str, Any] = {
        "servers": [f"h{i}" for i in range(1, hosts + 1)],
        "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "24h"},
    }
    if rollout is not None:
        env["rollout"] = rollout
    document = {
        "environments": {"production": env},
        "components": {
            "a": {"update_command": "true", "frequency": "weekly"},
            "b": {"update_command": "true", "frequency": "weekly"},
        },
        **extra,
    }
    return parse_schedule(document, source="test", base_dir=Path("/nonexistent"))


def problems(rollout: dict[str, Any]) -> list[str]:
    with pytest.raises(ScheduleError) as caught:
        build(rollout)
    return [str(p) for p in caught.value.problems]


# -- parsing and validation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "due", "budget"),
    [
        (None, 6, None),
        (0, 6, 0),
        (2, 6, 2),
        ("0%", 6, 0),
        ("50%", 6, 3),
        ("10%", 15, 1),  # rounded down: never more failures than the percentage
        ("100%", 7, 7),
    ],
)
def test_budget_is_parsed_and_computed(value: Any, due: int, budget: int | None) -> None:
    rollout = {} if value is None else {"max_failures": value}
    schedule = build(rollout)
    parsed = schedule.environments["production"].rollout
    assert parsed.max_failures == value
    assert parsed.failure_budget(due) == budget


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-1, f"{ENV}: -1 must be at least 0"),
        ("101%", f"{ENV}: '101%' is not a host count or a percentage such as 10%"),
        ("-5%", f"{ENV}: '-5%' is not a host count or a percentage such as 10%"),
        ("three", f"{ENV}: 'three' is not a host count or a percentage such as 10%"),
        (1.5, f"{ENV}: expected an integer or a string, got the number 1.5"),
        (True, f"{ENV}: expected an integer or a string"),
    ],
)
def test_bad_budgets_are_reported_by_path(value: Any, expected: str) -> None:
    found = problems({"max_failures": value})
    assert any(p.startswith(expected) for p in found), found


# -- the budget over the run, and over slices ----------------------------------------


def test_percentage_is_of_the_environments_due_hosts_over_all_components() -> None:
    schedule = build({"max_failures": "50%"})
    targets = [
        Target("production", "a", ("h1", "h2")),
        Target("production", "b", ("h3", "h4")),
    ]
    assert [t.budget for t in with_budgets(schedule, targets)] == [2, 2]


def test_every_slice_carries_the_whole_budget() -> None:
    schedule = build({"serial": 2, "max_failures": "50%"}, execution={"local_slices": 2})
    hosts = tuple(schedule.environments["production"].host_names)
    slices = slice_targets(schedule, [Target("production", "a", hosts)])
    assert len(slices) == 2
    assert [t.budget for s in slices for t in s.targets] == [3, 3]
    assert [t.serial for s in slices for t in s.targets] == [1, 1]


def test_auto_slicing_keeps_a_budgeted_rollout_whole() -> None:
    schedule = build({"max_failures": 1}, hosts=40, execution={"local_slices": "auto"})
    hosts = tuple(schedule.environments["production"].host_names)
    slices = slice_targets(schedule, [Target("production", "a", hosts)], cpus=4)
    assert [len(s.hosts) for s in slices] == [40]


# -- the rendered gate ------------------------------------------------------------------


def render(schedule: Schedule, targets: list[Target], stop: str | None = None) -> Any:
    text = dump_yaml(playbook(schedule, targets, run_id="r1", budget_stop=stop))
    return yaml.load(text, Loader=AnsibleLoader)


def test_no_budget_no_gate() -> None:
    (play,) = render(build({"serial": 2}), [Target("production", "a", ("h1", "h2"))])
    assert [t["name"] for t in play["tasks"]] == ["Update | a"]


def test_gate_opens_every_batch_and_a_marker_closes_every_play() -> None:
    schedule = build({"serial": 2, "max_fail_percentage": 50, "max_failures": 1})
    first, second = render(
        schedule,
        [Target("production", "a", ("h1", "h2")), Target("production", "b", ("h1", "h3"))],
    )
    assert first["serial"] == 2 and first["max_fail_percentage"] == 50
    gate = first["tasks"][0]
    assert gate["name"] == "Budget | production"
    assert gate["ansible.builtin.meta"] == "end_play"
    assert gate["run_once"] is True
    assert gate["vars"] == {"agentmaint_budget": 1}
    assert gate["when"] == (
        "(ansible_play_hosts_all | difference(ansible_play_hosts)) | length > agentmaint_budget"
    )
    assert first["tasks"][-1] == {
        "name": "Budget | production",
        "ansible.builtin.set_fact": {done_fact(0): True},
    }
    # The second play also counts the hosts of the first that did not get to its end.
    later = second["tasks"][0]
    assert later["vars"]["agentmaint_budget_earlier"] == [["h1", "h2"]]
    assert f"rejectattr('{done_fact(0)}', 'defined')" in later["when"]
    assert second["tasks"][-1]["ansible.builtin.set_fact"] == {done_fact(1): True}
    # Gate and marker are no actions: the roll-up and the live display skip them.
    assert classify(first["name"], gate["name"]) is None


def test_gate_of_a_slice_heeds_the_stop_file_literally() -> None:
    schedule = build({"serial": 1, "max_failures": 0})
    stop = "/runs/{{ x }}/budget"
    (play,) = render(schedule, [Target("production", "a", ("h1",), budget=0)], stop)
    gate = play["tasks"][0]
    assert gate["when"].startswith("agentmaint_budget_stop is exists or ")
    assert str(gate["vars"]["agentmaint_budget_stop"]) == "/runs/{{ x }}/budget/production"
    text = dump_yaml(
        playbook(
            schedule, [Target("production", "a", ("h1",), budget=0)], run_id="r1", budget_stop=stop
        )
    )
    assert "agentmaint_budget_stop: !unsafe '/runs/{{ x }}/budget/production'" in text


def test_host_lists_in_the_gate_are_never_templates() -> None:
    schedule = build({"max_failures": 0})
    text = dump_yaml(
        playbook(
            schedule,
            [Target("production", "a", ("h1",)), Target("production", "b", ("h1",))],
            run_id="r1",
        )
    )
    document = yaml.safe_load(text.replace("!unsafe", ""))
    assert document[1]["tasks"][0]["vars"]["agentmaint_budget_earlier"] == [["h1"]]
    assert "- !unsafe 'h1'" in text


# -- which environments ran out, and the roll-up --------------------------------------


def test_exhausted_means_more_failed_hosts_than_the_budget() -> None:
    targets = [Target("p", "a", ("h1", "h2", "h3"), budget=1), Target("q", "a", ("x",))]
    assert exhausted({"p": ["h1"]}, targets) == frozenset()
    assert exhausted({"p": ["h1", "h1"]}, targets) == frozenset()  # hosts, not failures
    assert exhausted({"p": ["h1", "h2"], "q": ["x"]}, targets) == frozenset({"p"})


def test_rollup_records_unreached_hosts_as_budget_exhausted() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    records = rollup(
        [],
        [Target("p", "a", ("h5",), budget=1)],
        backup_expected=False,
        now=now,
        stopped_reason="run failed",
        budget_spent={"p"},
    )
    (update,) = [r for r in records if r.action.value == "update"]
    assert (update.status, update.error) == (Outcome.SKIPPED, EXHAUSTED)


def test_plan_shows_the_budget() -> None:
    schedule = build({"max_failures": "50%"})
    result = plan(schedule, MemoryHistory(), datetime(2026, 1, 5, 1, tzinfo=UTC))
    assert _budget_lines(result, schedule) == [
        "production: error budget: 3 of 6 due host(s) may fail "
        "(rollout.max_failures: 50%); one more stops the rollout"
    ]
    assert _budget_lines(result, build(None)) == []


def test_rollout_default_has_no_budget() -> None:
    assert Rollout().failure_budget(10) is None
