"""The event parser on the cases ansible-core's integration playbooks brought up.

Each test reproduces one case of tests/integration/test_events_corpus.py with a
minimal synthetic event stream (or artifact directory).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.events import read_artifact_dir
from agentmaint.cli import main
from agentmaint.records import HostCounts, RunStatus, TaskStatus
from tests.unit.test_events import ev, result, run_events, stats

ARTIFACTS = Path(__file__).resolve().parents[1] / "data" / "artifacts"


def hc(**counts: int) -> HostCounts:
    return HostCounts(**counts)


def test_partial_and_uncounted_event_files_are_not_read(tmp_path: Path) -> None:
    """An ansible-playbook run inside a task writes ``<uuid>-partial.json`` files of its own.

    ansible-runner reads only ``<counter>-*.json`` files that are not ``-partial``: the
    inner run's stats must not replace the real ones, nor its results add to the counts.
    """
    directory = tmp_path / "x"
    shutil.copytree(ARTIFACTS / "success_changes", directory)
    events_dir = directory / "job_events"
    expected = read_artifact_dir(directory)

    def inner(event: str, **data: Any) -> dict[str, Any]:
        data.setdefault("play_uuid", "inner-play")
        return {"event": event, "uuid": "u", "stdout": "", "event_data": data}

    inner_events = [
        inner("playbook_on_play_start", uuid="inner-play"),
        inner(
            "runner_on_failed",
            host="h1",
            task="inner",
            task_uuid="inner-task",
            task_action="fail",
            res={"msg": "inner failure"},
        ),
        inner("playbook_on_stats", failures={"h1": 1}, processed={"h1": 1}),
    ]
    for n, event in enumerate(inner_events):
        (events_dir / f"0b7c{n}e1a-9d2f-4b5e-8c1d-3f2a1b0c9d8e-partial.json").write_text(
            json.dumps(event)
        )
    # a counter-prefixed partial file, and a name without a counter
    (events_dir / "999-abc-partial.json").write_text(json.dumps(inner_events[-1]))
    (events_dir / "inner-stats.json").write_text(json.dumps(inner_events[-1]))

    run = read_artifact_dir(directory)
    assert run.stats == expected.stats
    assert dict(run.counts) == dict(expected.counts)
    assert run.results == expected.results
    assert run.warnings == expected.warnings
    assert "h1" in dict(run.counts) and run.counts["h1"].failures == 0


def test_events_json_includes_warnings_and_stats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``events --json`` says what the table output says: the warnings, and the recap."""
    directory = tmp_path / "x"
    shutil.copytree(ARTIFACTS / "truncated", directory)
    parsed = read_artifact_dir(directory)
    assert parsed.warnings  # the case has some to show
    assert main(["events", str(directory), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["warnings"] == list(parsed.warnings)
    expected_stats = (
        None
        if parsed.stats is None
        else {host: counts.to_dict() for host, counts in parsed.stats.items()}
    )
    assert document["stats"] == expected_stats


def _include_failure_stream() -> list[dict[str, Any]]:
    """includes/includes_loop_rescue.yml, cut before its recap.

    ansible-core 2.19 prints an ``[ERROR]:`` block (an ``error`` event) for an
    include that cannot load its role, rescued or not.
    """
    return [
        ev("playbook_on_play_start", uuid="play-1"),
        ev("playbook_on_task_start", task="include_role", task_uuid="t-inc"),
        ev("error", "[ERROR]: the role 'a' was not found in roles\r\n"),
        result(
            "runner_on_failed",
            "localhost",
            "include_role",
            task_action="include_role",
            resolved_action="ansible.builtin.include_role",
            res={"msg": "the role 'a' was not found"},
        ),
        ev("playbook_on_task_start", task="rescue", task_uuid="t-rescue"),
        result("runner_on_ok", "localhost", "rescue", res={}),
    ]


def test_error_block_after_the_plays_started_keeps_ansible_runners_status() -> None:
    """A task failure's ``[ERROR]:`` block is not a run that died outside its plays."""
    assert run_events(_include_failure_stream(), "successful", 0).status == RunStatus.SUCCESSFUL
    assert run_events(_include_failure_stream(), "failed", 2).status == RunStatus.FAILED


def test_error_before_any_play_is_still_an_error() -> None:
    events = [ev("error", "[ERROR]: the role 'nope' was not found\r\n")]
    run = run_events(events, "failed", 1)
    assert run.status == RunStatus.ERROR
    assert run.error is not None and run.error.startswith("[ERROR]: the role 'nope'")


def task(name: str, action: str = "command") -> dict[str, Any]:
    return ev("playbook_on_task_start", task=name, task_uuid=f"t-{name}", task_action=action)


def meta(name: str) -> dict[str, Any]:
    """A meta task that ran: ansible-core 2.19 sends no result for it, only its start."""
    return ev("playbook_on_task_start", task=name, task_uuid=f"t-{name}", task_action="meta")


def test_failure_cleared_by_clear_host_errors_is_a_failure_by_the_recap() -> None:
    """blocks/main.yml: a failure in rescue, then ``meta: clear_host_errors`` in always.

    The host goes on after both failures: once rescued, once cleared; the events alone
    cannot tell which, and the recap settles it.
    """
    events = [
        ev("playbook_on_play_start", uuid="play-1"),
        task("in block"),
        result("runner_on_failed", "h1", "in block", res={"msg": "x"}),
        task("in rescue"),
        result("runner_on_failed", "h1", "in rescue", res={"msg": "y"}),
        task("in always"),
        result("runner_on_ok", "h1", "in always", res={}),
        meta("clear_host_errors"),
        task("after"),
        result("runner_on_ok", "h1", "after", res={}),
    ]
    recap = stats(ok={"h1": 2}, failures={"h1": 1}, rescued={"h1": 1})
    run = run_events([*events, recap], "successful", 0)
    assert run.counts == run.stats == {"h1": hc(ok=2, failures=1, rescued=1)}
    assert [r.status for r in run.results if r.task.startswith("in ")] == [
        TaskStatus.RESCUED,
        TaskStatus.FAILED,
        TaskStatus.OK,
    ]
    assert any("1 failure(s) taken as failed, as playbook_on_stats" in w for w in run.warnings)


def test_always_without_rescue_and_no_clean_peer_is_a_failure_by_the_recap() -> None:
    """blocks/always_failure_no_rescue_rc.yml with an unreachable host in the play."""
    events = [
        ev("playbook_on_play_start", uuid="play-1"),
        task("in block"),
        result("runner_on_failed", "h1", "in block", res={"msg": "x"}),
        result(
            "runner_on_unreachable", "h2", "in block", "fatal: [h2]: UNREACHABLE!", res={"msg": ""}
        ),
        task("in always"),
        result("runner_on_ok", "h1", "in always", res={}),
    ]
    recap = stats(ok={"h1": 1}, failures={"h1": 1}, dark={"h2": 1})
    run = run_events([*events, recap], "failed", 4)
    assert run.counts == run.stats
    assert run.results[0].status == TaskStatus.FAILED
    # without the recap the events cannot tell (h2 alone fails the run), and say so
    alone = run_events(events, "failed", 4)
    assert any("do not tell whether this failure was rescued" in w for w in alone.warnings)


def test_rescue_made_only_of_meta_tasks_is_rescued_by_the_recap() -> None:
    """meta_tasks/test_end_host_rescue_rc.yml: ``rescue: [meta: end_host]`` leaves no result."""
    events = [
        ev("playbook_on_play_start", uuid="play-1"),
        task("in block"),
        result("runner_on_failed", "h1", "in block", res={"msg": "x"}),
        meta("end_host"),
    ]
    recap = stats(rescued={"h1": 1})
    run = run_events([*events, recap], "successful", 0)
    assert run.counts == run.stats == {"h1": hc(rescued=1)}
    assert run.results[0].status == TaskStatus.RESCUED


def test_unreachable_host_cleared_by_clear_host_errors_stays_dark() -> None:
    """An unreachable host that ``meta: clear_host_errors`` brought back is not ignored.

    Its display has no "...ignoring", so its unreachable result is dark even though
    it has later results.
    """
    events = [
        ev("playbook_on_play_start", uuid="play-1"),
        task("ping"),
        result("runner_on_unreachable", "h1", "ping", "fatal: [h1]: UNREACHABLE!", res={}),
        result("runner_on_ok", "h2", "ping", res={}),
        meta("clear_host_errors"),
        task("after"),
        result("runner_on_ok", "h1", "after", res={}),
        result("runner_on_ok", "h2", "after", res={}),
    ]
    recap = stats(ok={"h1": 1, "h2": 2}, dark={"h1": 1})
    run = run_events([*events, recap], "failed", 4)
    assert run.counts == run.stats
    assert run.results[0].status == TaskStatus.UNREACHABLE
    assert run_events(events, "failed", 4).results[0].status == TaskStatus.UNREACHABLE
