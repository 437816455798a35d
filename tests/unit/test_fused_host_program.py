"""The fused module's lean parts for the host: its runner, its JSON and the literal arguments.

The direct path's program imports neither subprocess nor json (BENCHMARKS.md, "The host's
program: imports and compile"): these tests hold the module's own runner to what
``subprocess.run`` does, its JSON to what json writes and reads, and the action's arguments
literal to plain values that never become code.
"""

from __future__ import annotations

import ast
import datetime
import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.plugins.loader import become_loader, shell_loader

from agentmaint.config.roles import ROLES_PATH

ROLE = ROLES_PATH / "agentmaint_command"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fused() -> ModuleType:
    """The module itself (as AnsiballZ runs it, with ansible's module_utils)."""
    return _load(ROLE / "library" / "agentmaint_fused.py", "agentmaint_fused_module")


@pytest.fixture(scope="module")
def action() -> ModuleType:
    """The action plugin."""
    return _load(ROLE / "action_plugins" / "agentmaint_fused.py", "agentmaint_fused_action")


def _subprocess(cmd: str) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        cmd, shell=True, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    return done.returncode, done.stdout, done.stderr


BIG = 200_000  # more than a pipe holds (64 KiB): a runner reading one stream at a time stalls

COMMANDS = [
    "true",
    "exit 7",
    "echo out; echo err >&2; exit 3",
    "kill -9 $$",  # a signal: minus its number
    "kill -TERM $$",
    f"head -c {BIG} /dev/zero | tr '\\0' e >&2; head -c {BIG} /dev/zero | tr '\\0' o",
    f"head -c {BIG} /dev/zero | tr '\\0' o; head -c {BIG} /dev/zero | tr '\\0' e >&2",
    "cat; echo read $?",  # standard input is /dev/null: nothing to read, at once
    "readlink /proc/self/fd/0",
    "ls /proc/$$/fd",  # no descriptor but the three (and sh's own)
    "yes | head -c 5; echo",  # SIGPIPE at its default: yes ends silently
    "printf '\\377\\376 not utf-8\\r\\n\\n'",
    "echo $AGENTMAINT_TEST_VALUE",  # the environment reaches the command
    "printf 'no newline'",
    "",
]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_the_runner_does_what_subprocess_run_does(
    fused: ModuleType, cmd: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTMAINT_TEST_VALUE", "from the task's environment")
    inherited = os.open(os.devnull, os.O_RDONLY)  # a descriptor the command must not get
    os.set_inheritable(inherited, True)
    try:
        assert fused._command(cmd) == _subprocess(cmd)
    finally:
        os.close(inherited)


def test_the_runner_reports_what_it_ran(fused: ModuleType) -> None:
    rc, out, err = fused._command(f"head -c {BIG} /dev/zero >&2; kill -9 $$")
    assert (rc, out, len(err)) == (-signal.SIGKILL, b"", BIG)
    assert fused._command("ls /proc/self/fd")[1].split() == [b"0", b"1", b"2", b"3"]
    assert fused._command("readlink /proc/self/fd/0")[1] == b"/dev/null\n"


def test_a_command_with_a_nul_fails_as_subprocess_does(fused: ModuleType) -> None:
    with pytest.raises(ValueError, match="embedded null byte"):
        fused._command("echo a\0b")


def test_a_step_decodes_its_output_as_before(fused: ModuleType) -> None:
    steps = fused._Steps(check_mode=False)
    result = steps.shell("update", "printf '\\377ok\\r\\n\\n'; printf 'bad \\376\\n' >&2; exit 2")
    assert (result["rc"], result["stdout"], result["stderr"]) == (2, "\ufffdok", "bad \ufffd")
    assert (result["failed"], result["msg"]) == (True, "non-zero return code")
    assert result["start"].endswith("+00:00")
    assert result["delta"].startswith("0:00:")


TRICKY: list[Any] = [
    {},
    [],
    "",
    {"a": [], "b": {}, "c": [[], [{}]]},
    "".join(chr(c) for c in range(0x80)),  # every control character, quote and backslash
    "non-ASCII: é ü ß ∑ 中文 \u2028 \u2029 \ufeff \ufffd",
    "astral: \U0001f600 \U00010000 \U0010ffff",
    "lone surrogates: \udc80 \ud800 \udfff",
    [0, 1, -1, 2**63, -(2**100), True, False, None],
    {"rc": -9, "changed": True, "failed": False, "start": None, "attempts": 3},
    ("a", 1),  # a tuple, written as a list
    [1.5, 0.1, -0.0, 1e300],  # floats: json's own text
    {2: "two", None: "none", False: "f"},  # keys that are not strings: json's own text
    {"nested": [{"list": [["deep", {"x": "\x00\x1f\x7f"}]]}]},
]


@pytest.mark.parametrize("value", TRICKY)
def test_the_json_is_json_dumps_text(fused: ModuleType, value: Any) -> None:
    text = fused._dumps(value)
    assert text == json.dumps(value)
    assert fused._loads(text) == json.loads(text)
    assert text.isascii()


def test_a_result_reads_back_as_json_reads_it(fused: ModuleType) -> None:
    steps = fused._Steps(check_mode=False)
    steps.step("update", "printf '\\377 \\001 \"quoted\" \\\\'; echo err >&2; exit 1")
    outcome = fused._outcome(steps, "app failed")
    text = fused._dumps(outcome)
    assert text == json.dumps(outcome)
    assert fused._loads(text) == outcome
    for bad in ("", '{"a": 1} trailing', '{"a": }', "[1, 2"):
        with pytest.raises(json.JSONDecodeError):
            fused._loads(bad)


class _Tagged(str):
    """A string type whose repr is code, as a careless type's might be."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "__import__('os').system('false')"


HOSTILE = [
    "'",
    '"',
    '"""',
    "'''",
    "\\",
    "\\'",
    "a\nb\r\n",
    "\\n",
    "\x00",
    "x\x00y",
    "__import__('os').system('touch pwned')",
    "'); __import__('os').system('touch pwned'); ('",
    '"""; import os; os.system("touch pwned"); """',
    "é 中文 \U0001f600 \u2028",
    "{{ lookup('pipe', 'id') }}",
    "\ud800",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_arguments_are_a_literal_of_plain_values(action: ModuleType, hostile: str) -> None:
    arguments = {"update": hostile, "component": _Tagged(hostile), "wait": 3, "x": [None, True]}
    literal = action.arguments_literal(arguments)
    value = ast.literal_eval(literal)  # a literal: never code
    assert value == json.loads(json.dumps(arguments))
    assert type(value["component"]) is str
    assert "system('false')" not in literal


def test_hostile_strings_reach_the_module_as_they_are(action: ModuleType, tmp_path: Path) -> None:
    for hostile in HOSTILE:
        program = action.direct_source(
            {"update": "exit 3", "failure_msg": hostile, "component": hostile},
            check_mode=False,
        )
        done = subprocess.run(
            [sys.executable, "-S", "-"],
            input=program.encode("utf-8", "surrogatepass"),
            capture_output=True,
            cwd=tmp_path,
            check=False,
            timeout=120,  # a deadline for a program that never returns, not a timing
        )
        assert done.returncode == 1, done.stderr
        assert json.loads(done.stdout)["msg"] == hostile
    assert list(tmp_path.iterdir()) == []


def test_arguments_without_a_literal_go_as_json(action: ModuleType, tmp_path: Path) -> None:
    literal = action.arguments_literal({"update": "true", "healthcheck_retries": float("nan")})
    assert literal.startswith("__import__('json').loads(")
    program = action.direct_source(
        {"update": "true", "healthcheck_retries": float("nan")}, check_mode=False
    )
    done = subprocess.run(
        [sys.executable, "-S", "-"], input=program, capture_output=True, text=True, check=False
    )
    assert json.loads(done.stdout)["msg"] == "argument 'healthcheck_retries' is not an int"


def test_the_program_imports_none_of_the_costly_modules(action: ModuleType) -> None:
    program = action.direct_source({"update": "true"}, check_mode=False)
    probe = program.replace(
        'if __name__ == "__main__":\n    main()',
        "import sys\nprint(sorted(sys.modules))",
    )
    assert probe != program
    done = subprocess.run(
        [sys.executable, "-S", "-"], input=probe, capture_output=True, text=True, check=True
    )
    loaded = set(ast.literal_eval(done.stdout))
    forbidden = {"json", "subprocess", "typing", "re", "enum", "contextlib", "signal", "datetime"}
    assert not loaded & forbidden


def test_the_host_command_adds_no_site_and_survives_become(action: ModuleType) -> None:
    shell = shell_loader.get("sh")
    command = action.direct_command(shell, "LANG=C X='a b'", "/usr/bin/python3")
    assert shlex.split(command) == ["LANG=C", "X=a b", "/usr/bin/python3", "-S"]
    become = become_loader.get("sudo")
    become.set_options(direct={"become_user": "root"})
    wrapped = become.build_become_command(command, shell)
    (inner,) = [word for word in shlex.split(wrapped) if "BECOME-SUCCESS" in word]
    assert shlex.split(inner)[-3:] == ["X=a b", "/usr/bin/python3", "-S"]


MICROS = [
    0,
    1,
    999_999,
    1_000_000,
    59_999_999,
    3_600_000_000,
    86_399_999_999,
    86_400_000_000,
    2 * 86_400_000_000 + 1,
    -1,
    -86_400_000_000,
    -86_400_000_001,
    1_796_558_400_000_000,  # 2026-12-06
    1_796_558_400_123_456,
    253_402_300_799_999_999,  # the last microsecond of 9999
]


@pytest.mark.parametrize("micros", MICROS)
def test_times_are_written_as_datetime_writes_them(fused: ModuleType, micros: int) -> None:
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        microseconds=micros
    )
    assert fused._isoformat(micros) == moment.isoformat()
    assert fused._delta(micros) == str(datetime.timedelta(microseconds=micros))


def test_the_clock_is_datetime_s(fused: ModuleType) -> None:
    before = datetime.datetime.now(datetime.UTC)
    now = fused._now()
    after = datetime.datetime.now(datetime.UTC)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    assert before <= epoch + datetime.timedelta(microseconds=now) <= after
