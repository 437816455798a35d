"""The event parser on recorded ansible-runner artifacts and on hand-made event streams.

The fixtures under tests/data/artifacts/ are real runs (ansible-core 2.19,
ansible-runner 2.4) recorded by tests/data/artifacts/record.py.
"""

from __future__ import annotations

import json
import os
import shutil
import tracemalloc
from dataclasses import FrozenInstanceError
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agentmaint.ansible.events import EventParser, ParsedRun, read_artifact_dir
from agentmaint.ansible.events.fields import _message
from agentmaint.errors import AgentmaintError, EventsError
from agentmaint.records import HostCounts, RunStatus, TaskStatus

ARTIFACTS = Path(__file__).resolve().parents[1] / "data" / "artifacts"
CENSORED = (
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
)


def hc(**counts: int) -> HostCounts:
    return HostCounts(**counts)


# case -> expected run, per-host counts, and (host, task) -> (status, message) for
# the tasks that matter; message None means "not checked", a tuple ("startswith", x)
# a prefix. A task mapped to None must have no result for that host.
CASES: dict[str, dict[str, Any]] = {
    "success_changes": {
        "status": RunStatus.SUCCESSFUL,
        "rc": 0,
        "counts": {"h1": hc(ok=3, changed=1), "h2": hc(ok=2, changed=1, skipped=1)},
        "tasks": {
            ("h1", "create a marker"): (TaskStatus.CHANGED, "created"),
            ("h2", "create a marker"): (TaskStatus.CHANGED, "created"),
            ("h1", "read it back"): (TaskStatus.OK, "read"),
            ("h1", "only on h1"): (TaskStatus.OK, "hello from h1"),
            ("h2", "only on h1"): (TaskStatus.SKIPPED, None),
        },
    },
    "fail_one_of_three": {
        "status": RunStatus.FAILED,
        "rc": 2,
        "counts": {
            "h1": hc(ok=2, changed=1, skipped=1),
            "h2": hc(ok=1, changed=1, failures=1),
            "h3": hc(ok=2, changed=1, skipped=1),
        },
        "tasks": {
            # A command that failed silently: its exit code and program say what there is.
            ("h2", "break h2"): (TaskStatus.FAILED, "non-zero return code 1 from false"),
            ("h1", "break h2"): (TaskStatus.SKIPPED, None),
            ("h3", "after"): (TaskStatus.OK, "still here"),
            ("h2", "after"): None,
        },
    },
    "unreachable": {
        "status": RunStatus.FAILED,
        "rc": 4,
        "counts": {"bad": hc(unreachable=1), "h1": hc(ok=2)},
        "tasks": {
            ("bad", "ping"): (
                TaskStatus.UNREACHABLE,
                ("startswith", "Task failed: Failed to connect to the host via ssh"),
            ),
            ("h1", "ping"): (TaskStatus.OK, None),
            ("bad", "after"): None,
        },
    },
    "rescued_block": {
        "status": RunStatus.SUCCESSFUL,
        "rc": 0,
        "counts": {"h1": hc(ok=3, rescued=1), "h2": hc(ok=3, skipped=1)},
        "tasks": {
            ("h1", "risky step"): (TaskStatus.RESCUED, "update broke"),
            ("h2", "risky step"): (TaskStatus.SKIPPED, None),
            ("h1", "rest of the block"): None,
            ("h2", "rest of the block"): (TaskStatus.OK, "updated"),
            ("h1", "roll back"): (TaskStatus.OK, "rolled back"),
            ("h2", "roll back"): None,
            ("h1", "clean up"): (TaskStatus.OK, "cleaned"),
            ("h1", "after"): (TaskStatus.OK, "done"),
        },
    },
    "loop_failed_item": {
        "status": RunStatus.FAILED,
        "rc": 2,
        "counts": {"h1": hc(failures=1)},
        "tasks": {
            ("h1", "loop"): (
                TaskStatus.FAILED,
                "One or more items failed: item=2: non-zero return code 1 from false",
            ),
            ("h1", "never reached"): None,
        },
    },
    "ignore_errors": {
        "status": RunStatus.SUCCESSFUL,
        "rc": 0,
        "counts": {
            "h1": hc(ok=3, changed=1, ignored=1),
            "h2": hc(ok=3, changed=1, ignored=2),
        },
        "tasks": {
            ("h1", "tolerated failure"): (TaskStatus.IGNORED, "non-zero return code (3): oops"),
            ("h2", "failed_when on h2 only, ignored"): (TaskStatus.IGNORED, "fine"),
            ("h1", "failed_when on h2 only, ignored"): (TaskStatus.OK, "fine"),
            ("h2", "after"): (TaskStatus.OK, "carried on"),
        },
    },
    "handlers": {
        "status": RunStatus.FAILED,
        "rc": 2,
        "counts": {
            "h1": hc(ok=3, changed=1, skipped=1),
            "h2": hc(ok=2, changed=1, failures=1),
        },
        "tasks": {
            ("h1", "change config"): (TaskStatus.CHANGED, "changed"),
            ("h1", "restart service"): (TaskStatus.OK, "restarted"),
            ("h2", "restart service"): (TaskStatus.OK, "restarted"),
            ("h1", "check service"): (TaskStatus.SKIPPED, None),
            ("h2", "check service"): (TaskStatus.FAILED, "non-zero return code 1 from false"),
            ("h1", "after"): (TaskStatus.OK, "after handlers"),
            ("h2", "after"): None,
        },
    },
    "always_single": {
        "status": RunStatus.FAILED,
        "rc": 2,
        "counts": {"h1": hc(ok=1, failures=1)},
        "tasks": {
            ("h1", "fails"): (TaskStatus.FAILED, "no rescue here"),
            ("h1", "always runs"): (TaskStatus.OK, "cleanup"),
        },
        # Events alone cannot tell "block + always" from "block + rescue" for a single
        # host; finish() decides with the failed rc, streaming counts() cannot.
        "warnings": ["failure taken as not rescued since the run failed"],
        "ambiguous": True,
    },
    "syntax_error": {
        "status": RunStatus.ERROR,
        "rc": 4,
        "counts": {},
        "stats": None,
        "tasks": {},
        "error": ("startswith", "[ERROR]: YAML parsing failed"),
    },
    "truncated": {
        "status": RunStatus.SUCCESSFUL,
        "rc": 0,
        "partial": True,
        "stats": None,
        "counts": {"h1": hc(ok=3, rescued=1), "h2": hc(ok=3, skipped=1)},
        "tasks": {("h1", "risky step"): (TaskStatus.RESCUED, "update broke")},
        "warnings": ["unreadable event file skipped", "ends before playbook_on_stats"],
    },
}


def check_text(actual: str | None, expected: Any) -> None:
    if isinstance(expected, tuple):
        assert actual is not None
        assert actual.startswith(expected[1]), actual
    else:
        assert actual == expected


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedRun]:
    return {name: read_artifact_dir(ARTIFACTS / name) for name in CASES}


def events_of(name: str) -> list[dict[str, Any]]:
    files = sorted(
        (ARTIFACTS / name / "job_events").glob("*.json"),
        key=lambda p: int(p.name.split("-", 1)[0]),
    )
    return [json.loads(f.read_text()) for f in files]


# --------------------------------------------------------------------------- fixtures


def test_every_recorded_case_has_an_expectation() -> None:
    recorded = {p.name for p in ARTIFACTS.iterdir() if p.is_dir()}
    assert recorded == set(CASES)
    for name in recorded:
        kept = {p.name for p in (ARTIFACTS / name).iterdir()}
        assert kept == {"job_events", "status", "rc"}, name  # never `command` (environment)


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_status_counts_and_stats(name: str, parsed: dict[str, ParsedRun]) -> None:
    case, run = CASES[name], parsed[name]
    assert run.status == case["status"]
    assert run.rc == case["rc"]
    assert run.partial is case.get("partial", False)
    assert dict(run.counts) == case["counts"]
    if "stats" in case:
        assert run.stats == case["stats"]
    else:
        assert run.stats is not None
        assert dict(run.stats) == dict(run.counts)  # the oracle: events agree with the recap
    if "error" in case:
        check_text(run.error, case["error"])
    else:
        assert run.error is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_task_statuses_and_messages(name: str, parsed: dict[str, ParsedRun]) -> None:
    run = parsed[name]
    by_key: dict[tuple[str, str], list[Any]] = {}
    for result in run.results:
        by_key.setdefault((result.host, result.task), []).append(result)
    for key, expected in CASES[name]["tasks"].items():
        if expected is None:
            assert key not in by_key, key
            continue
        (result,) = by_key[key]
        status, message = expected
        assert result.status == status, key
        if message is not None:
            check_text(result.message, message)
    counters = [r.counter for r in run.results]
    assert counters == sorted(counters)


@pytest.mark.parametrize("name", sorted(CASES))
def test_warnings(name: str, parsed: dict[str, ParsedRun]) -> None:
    expected = CASES[name].get("warnings", [])
    warnings = parsed[name].warnings
    for text in expected:
        assert any(text in warning for warning in warnings), (text, warnings)
    if not expected:
        assert warnings == ()


def test_truncated_warning_names_the_file(parsed: dict[str, ParsedRun]) -> None:
    last = max(
        (ARTIFACTS / "truncated" / "job_events").glob("*.json"),
        key=lambda p: int(p.name.split("-", 1)[0]),
    )
    assert any(last.name in warning for warning in parsed["truncated"].warnings)


@pytest.mark.parametrize("name", sorted(CASES))
def test_to_dict_shape(name: str, parsed: dict[str, ParsedRun]) -> None:
    data = parsed[name].to_dict()
    assert list(data) == ["status", "rc", "partial", "error", "warnings", "hosts", "stats", "tasks"]
    assert data["warnings"] == list(parsed[name].warnings)
    assert data["status"] == CASES[name]["status"].value
    assert json.loads(json.dumps(data)) == data
    for counts in data["hosts"].values():
        assert list(counts) == [
            "ok",
            "changed",
            "failures",
            "unreachable",
            "skipped",
            "rescued",
            "ignored",
        ]
    task_keys = ["host", "play", "task", "role", "module", "status", "start", "end"]
    task_keys += ["duration", "rc", "message"]
    for task in data["tasks"]:
        assert list(task) == task_keys
        assert task["status"] in {s.value for s in TaskStatus}
        assert task["module"].startswith("ansible.builtin.")
        for when in ("start", "end"):
            assert datetime.fromisoformat(task[when]).tzinfo is not None
        assert task["duration"] >= 0
    assert len(data["tasks"]) == len(parsed[name].results)


def test_task_details(parsed: dict[str, ParsedRun]) -> None:
    (loop,) = parsed["loop_failed_item"].results
    assert (loop.rc, loop.module, loop.role, loop.play) == (
        1,
        "ansible.builtin.command",
        None,
        "all",
    )
    assert loop.play_uuid and loop.task_uuid and loop.counter > 0
    assert loop.start is not None and loop.end is not None and loop.start <= loop.end
    tolerated = [r for r in parsed["ignore_errors"].results if r.task == "tolerated failure"]
    assert {r.rc for r in tolerated} == {3}


def test_parsed_run_is_frozen(parsed: dict[str, ParsedRun]) -> None:
    run = parsed["rescued_block"]
    with pytest.raises(FrozenInstanceError):
        run.status = RunStatus.FAILED  # type: ignore[misc]
    with pytest.raises(TypeError):
        run.counts["h1"] = HostCounts()  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(CASES))
def test_streaming_matches_artifact_reading(name: str, parsed: dict[str, ParsedRun]) -> None:
    parser = EventParser()
    for event in events_of(name) if name != "truncated" else events_of("rescued_block")[:-1]:
        parser.feed(event)
        parser.counts()  # usable at any time
        if event["event"] == "playbook_on_stats" and not CASES[name].get("ambiguous"):
            assert parser.stats == parser.counts()
    run = parsed[name]
    status = run.status.value if run.status != RunStatus.ERROR else "failed"
    streamed = parser.finish(status, run.rc)
    assert streamed.results == run.results
    assert streamed.counts == run.counts
    if not CASES[name].get("ambiguous"):
        assert parser.results == streamed.results  # finish() only settles ambiguity


def test_counts_before_the_recap_are_provisional_but_consistent() -> None:
    parser = EventParser()
    events = events_of("rescued_block")
    for event in events[:-1]:
        parser.feed(event)
    assert parser.stats is None
    assert parser.counts()["h1"] == hc(ok=3, rescued=1)
    parser.feed(events[-1])
    assert parser.counts() == parser.stats


# --------------------------------------------------------------------------- artifacts


def copy_case(name: str, target: Path) -> Path:
    shutil.copytree(ARTIFACTS / name, target)
    return target


def test_private_data_dir_with_one_artifact(tmp_path: Path) -> None:
    copy_case("handlers", tmp_path / "artifacts" / "some-ident")
    run = read_artifact_dir(tmp_path)
    assert dict(run.counts) == CASES["handlers"]["counts"]
    assert run.warnings == ()


def test_private_data_dir_with_several_artifacts_reads_the_newest(tmp_path: Path) -> None:
    old = copy_case("fail_one_of_three", tmp_path / "artifacts" / "old")
    new = copy_case("success_changes", tmp_path / "artifacts" / "new")
    os.utime(old / "job_events", (1_000_000, 1_000_000))
    os.utime(new / "job_events", (2_000_000, 2_000_000))
    run = read_artifact_dir(tmp_path)
    assert run.status == RunStatus.SUCCESSFUL
    assert any("2 runs found" in w and "new" in w for w in run.warnings)


def test_missing_status_file_is_inferred_from_rc(tmp_path: Path) -> None:
    directory = copy_case("fail_one_of_three", tmp_path / "x")
    (directory / "status").unlink()
    assert read_artifact_dir(directory).status == RunStatus.FAILED
    (directory / "rc").unlink()
    run = read_artifact_dir(directory)
    assert run.status == RunStatus.FAILED  # from the recap: h2 failed
    assert run.rc is None
    directory = copy_case("success_changes", tmp_path / "y")
    (directory / "status").unlink()
    (directory / "rc").unlink()
    assert read_artifact_dir(directory).status == RunStatus.SUCCESSFUL


@pytest.mark.parametrize("layout", ["missing", "no_job_events", "empty_job_events", "file"])
def test_unusable_directories_raise(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "run"
    if layout == "no_job_events":
        path.mkdir()
        (path / "status").write_text("successful")
    elif layout == "empty_job_events":
        (path / "job_events").mkdir(parents=True)
    elif layout == "file":
        path.write_text("not a directory")
    with pytest.raises(EventsError) as raised:
        read_artifact_dir(path)
    assert str(path) in str(raised.value)
    assert isinstance(raised.value, AgentmaintError)
    assert isinstance(raised.value, ValueError)


def test_gap_in_counters_is_partial(tmp_path: Path) -> None:
    directory = copy_case("fail_one_of_three", tmp_path / "x")
    files = sorted(
        (directory / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])
    )
    files[len(files) // 2].unlink()
    run = read_artifact_dir(directory)
    assert run.partial
    assert any("1 event(s) missing" in w for w in run.warnings)


def test_non_object_event_file_is_skipped(tmp_path: Path) -> None:
    directory = copy_case("success_changes", tmp_path / "x")
    (directory / "job_events" / "999-extra.json").write_text("[1, 2]")
    run = read_artifact_dir(directory)
    assert run.partial
    assert any("999-extra.json" in w for w in run.warnings)
    assert dict(run.counts) == CASES["success_changes"]["counts"]


def test_event_files_are_read_in_counter_order_whatever_their_names(tmp_path: Path) -> None:
    directory = copy_case("fail_one_of_three", tmp_path / "x")
    events_dir = directory / "job_events"
    # counters past 9 sort as numbers, not text; hidden and non-JSON files are not events
    (events_dir / ".5-partial.json").write_text("{")
    (events_dir / "notes.txt").write_text("not an event")
    run = read_artifact_dir(directory)
    assert run.warnings == ()
    assert [r.counter for r in run.results] == sorted(r.counter for r in run.results)
    assert run.results == read_artifact_dir(ARTIFACTS / "fail_one_of_three").results


@pytest.mark.parametrize(
    ("content", "readable"),
    [
        (b"\xef\xbb\xbf", True),  # a UTF-8 byte order mark before the object
        (b"  \n", True),  # whitespace before the object
        (None, True),  # the object as UTF-16 (json.loads detects it)
        (b"{} trailing", False),
        (b"\xff\xfe\xfa", False),  # not text
    ],
    ids=["bom", "leading-space", "utf-16", "extra-data", "bad-bytes"],
)
def test_event_files_decode_like_json_loads(
    tmp_path: Path, content: bytes | None, readable: bool
) -> None:
    directory = copy_case("success_changes", tmp_path / "x")
    first = min((directory / "job_events").glob("1-*.json"))
    text = first.read_bytes()
    if content is None:
        first.write_bytes(text.decode().encode("utf-16"))
    elif content.startswith(b"{"):
        first.write_bytes(text + content[2:])
    elif readable:
        first.write_bytes(content + text + b"\n")
    else:
        first.write_bytes(content)
    run = read_artifact_dir(directory)
    assert run.partial is not readable
    assert dict(run.counts) == CASES["success_changes"]["counts"]


def test_unlistable_job_events_raise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = copy_case("success_changes", tmp_path / "x")

    def refuse(path: object) -> list[str]:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "listdir", refuse)  # root reads anything: refuse by hand
    with pytest.raises(EventsError, match="cannot list the event files"):
        read_artifact_dir(directory)


def test_big_event_files_are_read_whole(tmp_path: Path) -> None:
    directory = copy_case("success_changes", tmp_path / "x")
    path = next(
        p
        for p in (directory / "job_events").glob("*.json")
        if json.loads(p.read_text())["event"] == "runner_on_ok"
    )
    event = json.loads(path.read_text())
    event["event_data"]["res"]["msg"] = "x" * 300_000  # several reads of the file
    path.write_text(json.dumps(event))
    run = read_artifact_dir(directory)
    assert not run.partial
    (big,) = [r for r in run.results if r.counter == event["counter"]]
    assert big.message == "..." + "x" * 1000


# --------------------------------------------------------------------------- synthetic streams


def ev(event: str, stdout: str = "", **data: Any) -> dict[str, Any]:
    """A minimal runner event (counter 0 until `numbered`); `data` becomes event_data."""
    data.setdefault("play", "p")
    data.setdefault("play_uuid", "play-1")
    return {"event": event, "counter": 0, "stdout": stdout, "event_data": data}


def result(event: str, host: str, task: str, stdout: str = "", **data: Any) -> dict[str, Any]:
    data.setdefault("task_action", "command")
    data.setdefault("resolved_action", "ansible.builtin.command")
    return ev(event, stdout, host=host, task=task, task_uuid=f"t-{task}", **data)


def stats(**tables: dict[str, int]) -> dict[str, Any]:
    hosts = {h for table in tables.values() for h in table}
    return ev("playbook_on_stats", processed=dict.fromkeys(hosts, 1), **tables)


def numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with counters 1, 2, 3... as in a real stream."""
    return [{**event, "counter": n} for n, event in enumerate(events, 1)]


def run_events(
    events: list[dict[str, Any]], status: str | None = None, rc: int | None = None
) -> ParsedRun:
    parser = EventParser()
    for event in numbered(events):
        parser.feed(event)
    return parser.finish(status, rc)


def test_no_log_result_keeps_only_the_censored_text() -> None:
    run = run_events(
        [
            ev("playbook_on_play_start", uuid="play-1"),
            result(
                "runner_on_ok",
                "h1",
                "secret",
                "\x1b[0;33mchanged: [h1]\x1b[0m",
                res={"censored": CENSORED},
            ),
            result(
                "runner_on_failed",
                "h1",
                "secret2",
                'fatal: [h1]: FAILED! => {"censored": "x", "changed": true}\r\n...ignoring',
                res={"censored": CENSORED},
                ignore_errors=True,
            ),
            stats(ok={"h1": 2}, changed={"h1": 2}, ignored={"h1": 1}),
        ]
    )
    first, second = run.results
    assert (first.status, first.message, first.rc) == (TaskStatus.CHANGED, CENSORED, None)
    assert (second.status, second.message) == (TaskStatus.IGNORED, CENSORED)
    assert run.counts == run.stats


def test_loop_items_fold_into_the_final_result() -> None:
    item = {"task_action": "command", "resolved_action": "ansible.builtin.command"}
    run = run_events(
        [
            ev(
                "runner_item_on_ok",
                host="h1",
                task="l",
                task_uuid="t-l",
                res={"changed": True, "rc": 0},
                **item,
            ),
            ev("runner_item_on_skipped", host="h1", task="l", task_uuid="t-l", res={}, **item),
            ev(
                "runner_item_on_failed",
                host="h1",
                task="l",
                task_uuid="t-l",
                res={
                    "rc": 7,
                    "msg": "",
                    "stderr": "disk full",
                    "item": "b",
                    "ansible_loop_var": "item",
                },
                **item,
            ),
            ev("runner_retry", host="h1", task="l", task_uuid="t-l", res={}),
            result("runner_on_failed", "h1", "l", res={"msg": "One or more items failed"}),
        ]
    )
    (loop,) = run.results
    assert loop.status == TaskStatus.FAILED
    assert loop.rc == 7
    assert loop.message == "One or more items failed: item=b: disk full"
    assert run.counts == {"h1": hc(failures=1)}


def test_message_falls_back_to_output_tails() -> None:
    long = "x" * 5000 + "END"
    run = run_events(
        [
            result("runner_on_ok", "h1", "a", res={"msg": "", "stdout": long, "rc": 0}),
            result(
                "runner_on_failed", "h1", "b", res={"stderr": "boom\n", "rc": 2}, ignore_errors=True
            ),
            result("runner_on_ok", "h1", "c", res={"msg": {"k": [1, 2]}}),
        ]
    )
    a, b, c = run.results
    assert a.message is not None and a.message.endswith("END") and len(a.message) < 1100
    assert b.message == "boom"
    assert c.message == '{"k": [1, 2]}'


def test_include_counts_once_per_loaded_file_and_failed_loads_are_failures() -> None:
    inc = {"task_action": "include_tasks", "resolved_action": "ansible.builtin.include_tasks"}
    run = run_events(
        [
            ev("playbook_on_task_start", task="inc", task_uuid="t-inc", is_conditional=False),
            ev("runner_item_on_ok", host="h1", task="inc", task_uuid="t-inc", res={}, **inc),
            ev("runner_item_on_ok", host="h1", task="inc", task_uuid="t-inc", res={}, **inc),
            ev("runner_item_on_skipped", host="h1", task="inc", task_uuid="t-inc", res={}, **inc),
            result("runner_on_ok", "h1", "inc", res={"results": []}, **inc),
            result("runner_on_ok", "h2", "inc", res={"include": "x.yml"}, **inc),
            ev("playbook_on_include", included_file="x.yml"),
            ev("error", stdout="[ERROR]: Could not find or access 'x.yml'"),
            result("runner_on_failed", "h2", "inc", res={"reason": "Could not find x.yml"}, **inc),
            stats(ok={"h1": 2}, failures={"h2": 1}),
        ]
    )
    h1, h2 = run.results
    assert h1.status == TaskStatus.OK
    assert (h2.status, h2.message) == (TaskStatus.FAILED, "Could not find x.yml")
    assert run.counts == run.stats == {"h1": hc(ok=2), "h2": hc(failures=1)}
    assert run.error is None  # the run went on to its recap


def test_skipped_meta_is_a_result_but_no_count() -> None:
    meta = {"task_action": "meta", "resolved_action": "ansible.builtin.meta"}
    run = run_events([result("runner_on_skipped", "h1", "end", **meta), stats()])
    assert [r.status for r in run.results] == [TaskStatus.SKIPPED]
    assert run.counts == {} == run.stats


def test_ignore_unreachable_from_display_or_later_results() -> None:
    ping = {"task_action": "ping", "resolved_action": "ansible.builtin.ping"}
    run = run_events(
        [
            result(
                "runner_on_unreachable",
                "a",
                "ping",
                "fatal: [a]: UNREACHABLE!\n...ignoring",
                res={"msg": "down"},
                **ping,
            ),
            # no display to read: a later result of the host shows it was ignored
            result("runner_on_unreachable", "b", "ping", "", res={"msg": "down"}, **ping),
            result(
                "runner_on_unreachable",
                "c",
                "ping",
                "fatal: [c]: UNREACHABLE!",
                res={"msg": "down"},
                **ping,
            ),
            result("runner_on_ok", "b", "next", res={}),
        ]
    )
    statuses = {(r.host, r.task): r.status for r in run.results}
    assert statuses[("a", "ping")] == TaskStatus.IGNORED
    assert statuses[("b", "ping")] == TaskStatus.IGNORED
    assert statuses[("c", "ping")] == TaskStatus.UNREACHABLE
    assert run.counts == {
        "a": hc(ok=1, ignored=1),
        "b": hc(ok=2, ignored=1),
        "c": hc(unreachable=1),
    }


def test_rescue_is_recognised_from_a_clean_peer() -> None:
    """h1 runs a task h2 (no failure) never runs: a rescue task."""
    events = [ev("playbook_on_play_start", uuid="play-1")]
    events += [
        result("runner_on_failed", "h1", "T", res={"msg": "x"}),
        result("runner_on_ok", "h2", "T", res={}),
    ]
    events += [result("runner_on_ok", "h1", "rescue", res={})]
    events += [result("runner_on_ok", h, "after", res={}) for h in ("h1", "h2")]
    run = run_events(events, "successful", 0)
    assert run.results[0].status == TaskStatus.RESCUED
    assert run.counts["h1"] == hc(ok=2, rescued=1)
    assert not any("rescued" in w for w in run.warnings)  # decided, not assumed


def test_host_stopping_early_was_not_rescued() -> None:
    """h1 runs only what h2 also runs (an always task), then stops while h2 goes on."""
    events = [
        result("runner_on_failed", "h1", "T", res={"msg": "x"}),
        result("runner_on_ok", "h2", "T", res={}),
    ]
    events += [result("runner_on_ok", h, "always", res={}) for h in ("h1", "h2")]
    events += [result("runner_on_ok", "h2", "after", res={})]
    run = run_events(events, "failed", 2)
    assert run.results[0].status == TaskStatus.FAILED
    assert run.warnings[-1] == "the event stream ends before playbook_on_stats"


def test_rescued_host_skips_the_rest_of_its_block_but_goes_on() -> None:
    """h2 runs the rest of the block, h1 runs the rescue; both run the task after it."""
    events = [
        result("runner_on_failed", "h1", "T", res={"msg": "x"}),
        result("runner_on_ok", "h2", "T", res={}),
    ]
    events += [
        result("runner_on_ok", "h2", "rest", res={}),
        result("runner_on_ok", "h1", "rescue", res={}),
    ]
    events += [result("runner_on_ok", h, "after", res={}) for h in ("h1", "h2")]
    assert run_events(events, "failed", 2).results[0].status == TaskStatus.RESCUED


def test_serial_batches_of_a_play_are_peers() -> None:
    """h1 (batch 1) runs a task h2 (batch 2, clean) never runs: a rescue task."""
    events = [ev("playbook_on_play_start", uuid="play-1")]
    events += [result("runner_on_failed", "h1", "T", res={"msg": "x"})]
    events += [result("runner_on_ok", "h1", "rescue", res={})]
    events += [ev("playbook_on_play_start", uuid="play-1_2", play_uuid="play-1_2")]
    events += [
        result("runner_on_ok", "h2", t, play_uuid="play-1_2", res={}) for t in ("T", "after")
    ]
    run = run_events(events, "failed", 2)
    assert run.results[0].status == TaskStatus.RESCUED
    assert not any("rescued" in w for w in run.warnings)


def test_run_once_task_in_always_is_not_a_rescue() -> None:
    """Only h1 ran "notify" (run_once), then h1 stopped while h2 went on."""
    events = [
        result("runner_on_failed", "h1", "T", res={"msg": "x"}),
        result("runner_on_ok", "h2", "T", res={}),
    ]
    events += [
        result("runner_on_ok", "h1", "notify", res={}),
        result("runner_on_ok", "h2", "after", res={}),
    ]
    run = run_events(events, "failed", 2)
    assert run.results[0].status == TaskStatus.FAILED
    assert not any("rescued" in w for w in run.warnings)


def test_failures_of_the_same_task_share_their_verdict() -> None:
    """h2's failure alone is ambiguous; h1's, at the same task, shows a rescue task."""
    events = [result("runner_on_failed", h, "T", res={"msg": "x"}) for h in ("h1", "h2")]
    events += [result("runner_on_ok", "h3", "T", res={})]
    events += [result("runner_on_ok", h, "rescue", res={}) for h in ("h1", "h2")]
    events += [result("runner_on_ok", h, "after", res={}) for h in ("h1", "h2", "h3")]
    run = run_events(events, "failed", 4)
    assert [r.status for r in run.results[:2]] == [TaskStatus.RESCUED] * 2


def test_ambiguous_failures_follow_the_run_outcome() -> None:
    events = [
        result("runner_on_failed", "h1", "T", res={"msg": "x"}),
        result("runner_on_ok", "h1", "next", res={}),
    ]
    assert run_events(events, "successful", 0).results[0].status == TaskStatus.RESCUED
    failed = run_events(events, "failed", 2)
    assert failed.results[0].status == TaskStatus.FAILED
    assert any("taken as not rescued" in w for w in failed.warnings)
    unknown = run_events(events, "failed", 4)  # unreachable or parse error: no conclusion
    assert unknown.results[0].status == TaskStatus.RESCUED
    assert any("assumed rescued" in w for w in unknown.warnings)


def test_host_in_a_later_play_had_its_failures_rescued() -> None:
    events = [ev("playbook_on_play_start", uuid="play-1")]
    events += [
        result("runner_on_failed", "h1", "T", res={"msg": "x"}),
        result("runner_on_ok", "h1", "r", res={}),
    ]
    events += [ev("playbook_on_play_start", uuid="play-2", play_uuid="play-2")]
    events += [result("runner_on_ok", "h1", "p2", play_uuid="play-2", res={})]
    run = run_events(events, "failed", 2)
    assert run.results[0].status == TaskStatus.RESCUED
    assert not any("rescued" in w for w in run.warnings)


def test_a_later_play_settles_the_whole_group_of_a_task() -> None:
    """h1 and h2 failed the same task, ambiguously; h1 runs in the next play."""
    events = [ev("playbook_on_play_start", uuid="play-1")]
    events += [result("runner_on_failed", h, "T", res={"msg": "x"}) for h in ("h1", "h2")]
    events += [result("runner_on_ok", h, "r", res={}) for h in ("h1", "h2")]
    events += [ev("playbook_on_play_start", uuid="play-2", play_uuid="play-2")]
    events += [result("runner_on_ok", "h1", "p2", play_uuid="play-2", res={})]
    run = run_events(events, "failed", 2)  # alone, the group would be taken as failed
    assert [r.status for r in run.results[:2]] == [TaskStatus.RESCUED] * 2
    assert not any("rescued" in w for w in run.warnings)


def test_streaming_statuses_are_provisional_until_the_play_ends() -> None:
    parser = EventParser()
    events = numbered(
        [
            ev("playbook_on_play_start", uuid="play-1"),
            result("runner_on_failed", "h1", "T", res={"msg": "x"}),
            result("runner_on_ok", "h2", "T", res={}),
            result("runner_on_ok", "h1", "always", res={}),
            result("runner_on_ok", "h2", "always", res={}),
            result("runner_on_ok", "h2", "after", res={}),
            stats(),
        ]
    )
    for event in events[:3]:
        parser.feed(event)
    assert parser.results[0].status == TaskStatus.FAILED  # nothing after it yet
    assert parser.counts()["h1"] == hc(failures=1)
    parser.feed(events[3])
    assert parser.results[0].status == TaskStatus.RESCUED  # h1 went on: maybe a rescue
    assert parser.counts()["h1"] == hc(ok=1, rescued=1)
    for event in events[4:]:
        parser.feed(event)
    assert parser.results[0].status == TaskStatus.FAILED  # h2 went on past h1's end
    assert parser.counts()["h1"] == hc(ok=1, failures=1)


def test_pre_play_error_strips_colours_and_makes_an_error_run() -> None:
    run = run_events(
        [
            ev("verbose", "\x1b[1;35m[WARNING]: Could not match supplied host pattern\x1b[0m"),
            ev("verbose", "\x1b[0;31m[ERROR]: Specified inventory leaves no hosts\x1b[0m"),
            ev("verbose", "\x1b[0;31mOrigin: site.yml:1:3\x1b[0m"),
            ev("verbose", "\x1b[0;31m\x1b[0m"),
        ],
        "failed",
        1,
    )
    assert run.status == RunStatus.ERROR
    assert run.error == "[ERROR]: Specified inventory leaves no hosts\nOrigin: site.yml:1:3"
    assert not run.partial
    assert run.to_dict()["error"] == run.error


@pytest.mark.parametrize(
    ("status", "rc", "expected"),
    [
        ("canceled", 254, RunStatus.CANCELED),
        ("timeout", 254, RunStatus.TIMEOUT),
        ("failed", 127, RunStatus.ERROR),  # no event at all: ansible-playbook never ran
        (None, None, RunStatus.FAILED),
        ("running", None, RunStatus.RUNNING),
    ],
)
def test_status_without_events(status: str | None, rc: int | None, expected: RunStatus) -> None:
    run = run_events([], status, rc)
    assert run.status == expected
    assert run.results == () and dict(run.counts) == {} and run.stats is None
    assert run.partial is (expected in (RunStatus.FAILED, RunStatus.RUNNING))


def test_unknown_status_is_inferred_with_a_warning() -> None:
    run = run_events([stats(ok={"h1": 0})], "weird", 0)
    assert run.status == RunStatus.SUCCESSFUL
    assert run.warnings[0].startswith("unknown run status 'weird'")


def test_malformed_events_make_the_run_partial() -> None:
    parser = EventParser()
    for bad in ({"event_data": {}}, {"event": "runner_on_ok", "event_data": "nope"}, 42):
        parser.feed(bad)  # type: ignore[arg-type]
    parser.feed(result("runner_on_ok", "h1", "t", res={}))
    parser.feed({"event": "runner_on_ok", "counter": 99, "event_data": {"task": "no host"}})
    parser.feed(stats(ok={"h1": 1}))
    run = parser.finish("successful", 0)
    assert run.partial
    assert run.counts == run.stats
    assert any("4 malformed" in w for w in run.warnings)


def test_mismatch_with_the_recap_is_reported() -> None:
    run = run_events(
        [result("runner_on_ok", "h1", "t", res={}), stats(ok={"h1": 2})], "successful", 0
    )
    assert run.counts != run.stats
    assert any("host h1: counts from events" in w for w in run.warnings)


def test_finish_leaves_the_parser_usable() -> None:
    parser = EventParser()
    parser.feed(result("runner_on_failed", "h1", "T", res={"msg": "x"}))
    parser.feed(result("runner_on_ok", "h1", "next", res={}))
    assert parser.finish("failed", 2).results[0].status == TaskStatus.FAILED
    assert parser.results[0].status == TaskStatus.RESCUED  # provisional again
    parser.feed(stats(ok={"h1": 1}, rescued={"h1": 1}))
    assert parser.finish("successful", 0).counts == parser.stats


def test_events_without_results_are_not_kept() -> None:
    verbose = {"event": "verbose", "counter": 1, "stdout": "x" * 200, "event_data": {}}
    start = {
        "event": "runner_on_start",
        "counter": 1,
        "stdout": "",
        "event_data": {"host": "h1", "task": "t", "task_uuid": "t-1", "play_uuid": "p"},
    }
    parser = EventParser()
    tracemalloc.start()
    try:
        for _ in range(100):
            parser.feed(verbose)
            parser.feed(start)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20_000):
            parser.feed(verbose)
            parser.feed(start)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 50_000  # 40,000 events of ~300 bytes each would be ~12 MB
    assert parser.results == ()


def test_results_are_compact() -> None:
    # A big run: every decoded event brings its own copy of each name and uuid, and a
    # long output; a result keeps shared names and a bounded message.
    template = json.dumps(
        result(
            "runner_on_ok",
            "web-042.example.org",
            "upgrade the packages",
            stdout="changed: [web-042.example.org]" + " " * 2000,
            res={"changed": True, "stdout": "y" * 5000, "invocation": {"module_args": {}}},
            start="2026-11-23T20:35:10.152578+00:00",
            end="2026-11-23T20:35:11.152578+00:00",
            duration=1.0,
            resolved_action="ansible.builtin.command",
        )
    )
    parser = EventParser()
    parser.feed(json.loads(template))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for counter in range(2, 5002):
            event = json.loads(template)
            event["counter"] = counter
            parser.feed(event)
            del event
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    first, last = parser.results[0], parser.results[-1]
    assert (first.host, first.task, first.task_uuid) == (last.host, last.task, last.task_uuid)
    assert first.host is last.host and first.task_uuid is last.task_uuid
    assert grown / 5000 < 600  # bytes per result: the result, its times and bookkeeping


def test_results_since_follows_the_stream() -> None:
    parser = EventParser()
    artifacts = Path(__file__).parent.parent / "data" / "artifacts" / "fail_one_of_three"
    events = sorted(
        (json.loads(p.read_text()) for p in (artifacts / "job_events").glob("*.json")),
        key=lambda e: e["counter"],
    )
    seen: list[str] = []
    for event in events:
        parser.feed(event)
        seen.extend(f"{r.host}:{r.task}" for r in parser.results_since(len(seen)))
    assert seen == [f"{r.host}:{r.task}" for r in parser.results]
    assert len(seen) > 3


@pytest.mark.parametrize(
    ("cmd", "expected"),
    [
        ("/usr/bin/systemctl restart agent", "non-zero return code 3 from systemctl"),
        ("LANG=C apt-get -q upgrade", "non-zero return code 3 from apt-get"),
        (["/opt/bin/check", "--quiet"], "non-zero return code 3 from check"),
        ("echo 'unbalanced", "non-zero return code 3 from echo"),
        (None, "non-zero return code 3"),
    ],
)
def test_a_silent_failed_command_names_its_exit_code_and_program(
    cmd: object, expected: str
) -> None:
    res = {"msg": "non-zero return code", "rc": 3, "cmd": cmd, "stdout": "", "stderr": ""}
    assert _message(res) == expected
