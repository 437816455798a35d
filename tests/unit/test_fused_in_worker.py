"""A local host's fused run in Ansible's worker itself: what the host's Python would return."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

from tests.unit.test_fused_direct import _action, _plugin, _run, _Task

#: The moments a step ran differ from one run to the next; all else must not.
_TIMES = ("start", "end", "delta")


def _without_times(result: dict[str, Any]) -> dict[str, Any]:
    if "agentmaint_steps" not in result:  # its arguments refused: no step ran
        return result
    steps = [
        {k: v for k, v in step.items() if k not in _TIMES} for step in result["agentmaint_steps"]
    ]
    return {**result, "agentmaint_steps": steps}


def _in_worker(
    arguments: dict[str, Any],
    *,
    check_mode: bool = False,
    environment: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    done: dict[str, Any] = _plugin().run_in_worker(
        arguments, check_mode=check_mode, environment=environment or {}
    )
    return done["rc"], json.loads(done["stdout"]), done


_CASES: list[tuple[dict[str, Any], bool]] = [
    (
        {
            "component": "app",
            "backup": "echo backing up",
            "update": "echo updated; echo warned >&2",
            "healthcheck": "echo ready",
            "healthcheck_contains": "ready",
            "healthcheck_retries": "1",
            "healthcheck_delay": "0",
        },
        False,
    ),
    (
        {
            "component": "app",
            "update": "exit 3",
            "rollback": "echo rolled back >&2",
            "failure_msg": "app: update failed; rolled back",
        },
        False,
    ),
    ({"update": "echo sick; exit 4", "healthcheck": "false", "healthcheck_retries": 2}, True),
    ({"update": "true", "surprise": "1"}, False),
    ({"update": "true", "healthcheck_retries": "many"}, False),
    ({"update": "true", "mode": "sideways"}, False),
    ({"component": "app"}, False),  # a run without its update
]


@pytest.mark.parametrize(("arguments", "check_mode"), _CASES)
def test_the_worker_returns_what_the_hosts_python_returns(
    arguments: dict[str, Any], check_mode: bool
) -> None:
    host_code, host = _run(arguments, check_mode=check_mode)
    code, result, done = _in_worker(arguments, check_mode=check_mode)

    assert code == host_code
    assert _without_times(result) == _without_times(host)
    assert done["stderr"] == ""
    assert done["stdout"].endswith("}\n")  # one line, as the host's Python prints it


def test_the_tasks_environment_reaches_the_commands_and_the_worker_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTMAINT_TEST_KEPT", "the worker's")
    monkeypatch.delenv("AGENTMAINT_TEST_GREETING", raising=False)
    before = dict(os.environ)
    command = 'echo "$AGENTMAINT_TEST_GREETING|$AGENTMAINT_TEST_KEPT"'
    code, result, _ = _in_worker(
        {"update": command},
        environment={"AGENTMAINT_TEST_GREETING": "hello 'there'", "AGENTMAINT_TEST_KEPT": "task's"},
    )

    assert code == 0
    assert result["agentmaint_steps"][0]["stdout"] == "hello 'there'|task's"
    assert dict(os.environ) == before


def test_the_environment_is_restored_when_the_program_fails() -> None:
    before = dict(os.environ)
    boom = compile("raise ValueError('boom')", "program", "exec")
    done = _plugin().run_in_worker(
        {"update": "true"}, check_mode=False, environment={"AGENTMAINT_X": "1"}, program=boom
    )

    assert dict(os.environ) == before
    # As Python fails on an uncaught exception: status 1, the traceback on its error.
    assert done["rc"] == 1
    assert done["stdout"] == ""
    assert "ValueError: boom" in done["stderr"]


def test_an_exit_with_a_message_is_status_1_and_the_message_on_its_error() -> None:
    bye = compile("import sys\nsys.exit('bye')", "program", "exec")
    done = _plugin().run_in_worker({}, check_mode=False, environment={}, program=bye)

    assert (done["rc"], done["stderr"], done["stdout"]) == (1, "bye\n", "")


def test_what_is_not_an_exception_goes_on_up() -> None:
    # Ansible's task timeout is not an Exception either: the worker's own handling stays.
    stop = compile("raise KeyboardInterrupt", "program", "exec")
    before = dict(os.environ)
    with pytest.raises(KeyboardInterrupt):
        _plugin().run_in_worker(
            {}, check_mode=False, environment={"AGENTMAINT_X": "1"}, program=stop
        )
    assert dict(os.environ) == before


class _PlayContext:
    def __init__(self, become: bool) -> None:
        self.become = become


def _local(become: object = None) -> Any:
    from ansible.plugins.connection.local import Connection as Local

    connection = object.__new__(Local)
    connection.become = become
    return connection


def _ssh() -> Any:
    from ansible.plugins.connection.ssh import Connection as Ssh

    connection = object.__new__(Ssh)
    connection.become = None
    return connection


@pytest.mark.parametrize(
    ("connection", "become", "arguments", "interpreter", "environment", "expected"),
    [
        ("local", False, {}, sys.executable, {"AGENTMAINT_HOST": "h1"}, True),
        ("local", False, {"mode": "run"}, sys.executable, {}, True),
        ("ssh", False, {}, sys.executable, {}, False),  # a remote host: its own Python
        ("local", True, {}, sys.executable, {}, False),  # become: its command, as before
        ("local", False, {"mode": "start"}, sys.executable, {}, False),  # background: a daemon
        ("local", False, {"mode": "wait"}, sys.executable, {}, False),
        ("local", False, {}, "/nonexistent/python3", {}, False),  # another Python named
        ("local", False, {}, sys.executable, {"NOT-A-NAME": "1"}, False),  # the shell's say
        ("local", False, {}, sys.executable, {"1ST": "1"}, False),
    ],
)
def test_which_tasks_the_worker_runs_itself(
    connection: str,
    become: bool,
    arguments: dict[str, Any],
    interpreter: str,
    environment: dict[str, Any],
    expected: bool,
) -> None:
    action = _action(
        _connection=_local(object() if become else None) if connection == "local" else _ssh(),
        _play_context=_PlayContext(become),
        _task=_Task(arguments),
    )
    assert action._in_worker(arguments, interpreter, environment) is expected


def test_a_play_contexts_become_alone_keeps_the_hosts_python() -> None:
    action = _action(_connection=_local(None), _play_context=_PlayContext(True))
    assert action._in_worker({}, sys.executable, {}) is False
