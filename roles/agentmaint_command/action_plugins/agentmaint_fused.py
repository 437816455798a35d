"""The action of ``agentmaint_fused``: over pipelined SSH, the module's code without AnsiballZ.

Ansible packs a module with AnsiballZ: a zip of the module and ``ansible.module_utils``
(``basic`` and everything it imports), which the host's Python imports from a temporary
file at every task. Nothing of it is compiled ahead, so each host compiles ``basic`` from
source for each task: about a quarter of a second of CPU per host, most of what running the
fused task costs a host (BENCHMARKS.md, "Where the 1-step gap went").

The fused module needs nothing of ``module_utils`` but ``AnsibleModule``'s parameters and
its JSON result. So, when the connection is Ansible's ``ssh`` or ``local`` with
pipelining (the module's code goes to the host's Python on its standard input, as
AnsiballZ's would; a local host under Ansible's own strategies pays the same compile at
every task as a remote one) and the host's Python is named (``ansible_python_interpreter``:
no discovery),
this action sends the module's own source, with a small stand-in for ``AnsibleModule``
(`STAND_IN`) and the task's arguments (a Python literal: `arguments_literal`), to that
Python over the same command Ansible uses for a pipelined module (the task's environment,
privilege escalation as configured), with ``-S`` (`direct_command`). Otherwise the module
runs as any module does. The host's Python starts, compiles and imports this program at
every task, so the module imports little (its comments say what it does without); the
program costs a host about 12 ms of CPU (BENCHMARKS.md, "The host's program: imports and
compile").

On a local host (Ansible's ``local`` connection, no become) whose named Python is this
very interpreter, a run goes one step further: the worker that runs the task (a process
of its own, for this task only) runs the same program itself (`run_in_worker`), without
starting a Python and compiling the program per host: about 18 ms of CPU less per host
(BENCHMARKS.md, "Local hosts: the program in Ansible's worker").

Every mode goes this way: ``run``, and the background's ``start`` and ``wait`` (two round
trips per host, so the saving counts twice). ``start`` is safe over a pipe: the module's
daemon takes /dev/null for its standard input, output and error and closes every other
descriptor before it runs a step, so the connection ends when the starting process exits,
as it does under AnsiballZ, and the pid file is written before ``start`` returns.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import sys
import traceback
from pathlib import Path
from types import CodeType
from typing import Any

from ansible.module_utils.common.json import Direction, get_module_decoder
from ansible.plugins.action import ActionBase
from ansible.vars.clean import remove_internal_keys

#: The module, next to this plugin in the role (library/).
MODULE = Path(__file__).resolve().parent.parent / "library" / "agentmaint_fused.py"
#: The connection plugins whose pipelining this action uses: Ansible's own ssh and local
#: (mitogen's connections also call themselves "ssh" and "local", and run modules their
#: own way, in an interpreter that keeps ``module_utils`` imported).
DIRECT_CONNECTIONS = frozenset(
    {"ansible.plugins.connection.ssh", "ansible.plugins.connection.local"}
)
#: Ansible's own local connection: its commands already run by ``/bin/sh -c``.
LOCAL_CONNECTION = "ansible.plugins.connection.local"
#: The variable that carries the steps' arguments (`ActionModule._arguments`).
ARGUMENTS_VARIABLE = "agentmaint_command_fused_args"
#: The modes whose arguments include the steps' (the others name a job only).
MODES_WITH_STEPS = frozenset({"run", "start"})
_FUTURE = "from __future__ import annotations\n"
_IMPORT = "from ansible.module_utils.basic import AnsibleModule\n"

#: Takes the place of ``ansible.module_utils.basic`` for the module: the parameters
#: checked as the module's argument_spec says (types str and int, choices, required_if,
#: no unknown parameter), exit_json/fail_json printing the result as JSON (with the
#: module's `_dumps`, defined further down the program, which json.dumps's text).
STAND_IN = r"""
import sys as _sys


class AnsibleModule:
    def __init__(self, argument_spec, required_if=(), supports_check_mode=False):
        given = dict(_ARGS)
        self.check_mode = _CHECK_MODE
        unknown = sorted(set(given) - set(argument_spec))
        if unknown:
            self.fail_json(msg="Unsupported parameters: " + ", ".join(unknown))
        self.params = {}
        for name, spec in argument_spec.items():
            value = given.get(name, spec.get("default"))
            if value is not None:
                try:
                    value = int(value) if spec.get("type") == "int" else str(value)
                except (TypeError, ValueError):
                    self.fail_json(msg="argument '%s' is not an %s" % (name, spec.get("type")))
            if "choices" in spec and value not in spec["choices"]:
                self.fail_json(msg="value of %s must be one of: %s, got: %s"
                               % (name, ", ".join(spec["choices"]), value))
            self.params[name] = value
        for key, value, needed in required_if:
            missing = [n for n in needed if self.params[key] == value and self.params[n] is None]
            if missing:
                self.fail_json(msg="%s is %s but all of the following are missing: %s"
                               % (key, value, ", ".join(missing)))

    def exit_json(self, **result):
        print(_dumps(result))
        _sys.exit(0)

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        print(_dumps(result))
        _sys.exit(1)
"""


def arguments_literal(arguments: dict[str, Any]) -> str:
    """`arguments` as a Python literal of plain values, which the host reads without json.

    Through JSON first: whatever Ansible's own types for them (its unsafe strings, tagged
    values), the values become plain dicts, lists, strings, numbers, booleans and None, whose
    ``repr`` is a literal. ``ast.literal_eval`` proves it is one (never code, whatever the
    strings hold) that reads back as the same values; where it is not (a float NaN or
    infinity), json.loads of the JSON text on the host, as before.
    """
    text = json.dumps(arguments)
    plain = json.loads(text)
    literal = repr(plain)
    try:
        if ast.literal_eval(literal) == plain:
            return literal
    except (ValueError, SyntaxError):
        pass
    return f"__import__('json').loads({json.dumps(text)})"


def _program_body() -> str:
    """The module's source with `STAND_IN` for its ``module_utils`` import, less its values."""
    source = MODULE.read_text(encoding="utf-8")
    if _IMPORT not in source or not source.count(_FUTURE) == 1:
        raise RuntimeError(f"{MODULE} no longer has the imports this action replaces")
    body = source.replace(_FUTURE, "", 1).replace(_IMPORT, "", 1)
    return f"{STAND_IN}\n{body}"


#: The program less its values, read where this plugin is imported (Ansible's main process,
#: before it forks the task workers): each host's worker neither reads nor edits the
#: module's file again.
_BODY = _program_body()


def direct_source(arguments: dict[str, Any], *, check_mode: bool) -> str:
    """The Python program that runs the module with `arguments` (no ``module_utils``)."""
    values = f"_ARGS = {arguments_literal(arguments)}\n_CHECK_MODE = {check_mode!r}\n"
    return f"{_FUTURE}{values}{_BODY}"


#: The same program, its values (``_ARGS``, ``_CHECK_MODE``) left to the namespace it runs
#: in, compiled where this plugin is imported, so a local host's worker runs it without
#: compiling it (`run_in_worker`).
_IN_WORKER = compile(f"{_FUTURE}{_BODY}", str(MODULE), "exec", dont_inherit=True)


def _result_decoder() -> Any:
    """The decoder `_parse_returned_data` will use, or None where this Ansible has another."""
    try:
        return get_module_decoder("legacy", Direction.MODULE_TO_CONTROLLER)
    except Exception:  # an optimisation only: each worker then loads it, as before
        return None


#: The decoder of a module's result (``_parse_returned_data``'s, for every mode and
#: connection), its profile's module imported here, where the plugin is imported (Ansible's
#: main process, before it forks the workers): Ansible's main process parses no module
#: result, so each host's worker imported it for its own (1-2 ms of CPU a host).
RESULT_DECODER = _result_decoder()

#: A name the shell takes in ``NAME=value``: the task's environment goes to the host's
#: Python as such a prefix, so a local host's worker sets only variables the shell would.
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_REST = _NAME_START | frozenset("0123456789")


def shell_name(name: str) -> bool:
    """Whether `name` is a variable name for ``/bin/sh`` (ASCII letters, digits, ``_``)."""
    return bool(name) and name[0] in _NAME_START and all(c in _NAME_REST for c in name)


def run_in_worker(
    arguments: dict[str, Any],
    *,
    check_mode: bool,
    environment: dict[str, str],
    program: CodeType = _IN_WORKER,
) -> dict[str, Any]:
    """Run the host's program in this process, as the host's Python would; what it returned.

    For a local host the host is this machine, and the worker that runs the task is a
    process of its own for this task that exits after it: the program runs here as the
    named Python (this same interpreter) would run it, without starting one and compiling
    the program for each host (BENCHMARKS.md, "Local hosts: the program in Ansible's worker").
    The same code (`program`: `direct_source`'s), the same arguments (through JSON to plain
    values, as `arguments_literal`), the task's `environment` over this process's (as the
    command's ``NAME=value`` prefix sets it, for the commands the steps run; this process's
    own restored after), its standard output captured: its exit status, output and error
    as ``_low_level_execute_command`` returns them, for Ansible's parsing of a module's
    result. An exception the program does not handle fails it as Python would (status 1,
    the traceback on its error); Ansible's own (its task timeout: not an ``Exception``)
    goes on up.
    """
    output: list[str] = []

    def capture(*values: object) -> None:
        output.append(" ".join(map(str, values)) + "\n")

    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__builtins__": builtins,
        "_ARGS": json.loads(json.dumps(arguments)),
        "_CHECK_MODE": check_mode,
        "print": capture,  # the program prints its result once (exit_json, fail_json)
    }
    saved = {name: os.environ.get(name) for name in environment}
    error = ""
    try:
        os.environ.update(environment)
        exec(program, namespace)  # the module's own program, as the host's Python runs it
        status: object = 0
    except SystemExit as exited:
        status = exited.code
    except Exception:  # uncaught in the program: Python's exit status and traceback
        status, error = 1, traceback.format_exc()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    if status is None:
        status = 0
    elif not isinstance(status, int):
        error, status = f"{status}\n", 1
    stdout = "".join(output)
    return {
        "rc": status,
        "stdout": stdout,
        "stdout_lines": stdout.splitlines(),
        "stderr": error,
        "stderr_lines": error.splitlines(),
    }


def direct_command(shell: Any, environment: str, interpreter: str) -> str:
    """The command that runs the program (on its standard input) by the host's Python.

    As Ansible's command for a pipelined module, plus ``-S``: the program needs only the
    standard library, and without ``site`` (``.pth`` files, sitecustomize) the host's Python
    starts in less time. Not ``-E`` nor ``-I``: the task's environment (PYTHONHOME among it)
    reaches the Python and, through it, the commands as it did. ``-S`` goes as the module's
    path would, a word of its own after the interpreter, in the shell plugin's quoting.
    """
    return str(shell.build_module_command(environment, f"#!{interpreter}", "-S")).strip()


class ActionModule(ActionBase):  # type: ignore[misc]
    """Runs ``agentmaint_fused``: directly by the host's Python where it can, else as a module."""

    _supports_check_mode = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        """The module's result, however it ran."""
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        arguments = self._arguments(task_vars)
        interpreter = self._interpreter(arguments, task_vars)
        if interpreter is None:
            result.update(self._execute_module(module_args=arguments, task_vars=task_vars))
            return result
        check_mode = bool(self._task.check_mode)
        environment: dict[str, Any] = {}
        prefix = self._compute_environment_string(environment)
        # What _execute_module does for a pipelined module from here on.
        self._used_interpreter = f"#!{interpreter}"
        if self._in_worker(arguments, interpreter, environment):
            done = run_in_worker(
                arguments,
                check_mode=check_mode,
                environment={name: str(value) for name, value in environment.items()},
            )
        else:
            done = self._low_level_execute_command(
                direct_command(self._connection._shell, prefix, interpreter),
                sudoable=True,
                in_data=direct_source(arguments, check_mode=check_mode).encode("utf-8"),
                executable=self._executable(),
            )
        data = self._parse_returned_data(done, "legacy")
        remove_internal_keys(data)
        result.update(data)
        return result

    def _arguments(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        """The module's arguments: ``agentmaint_command_fused_args`` under the task's own.

        For a run or a background start, the steps' arguments come whole from that mapping
        (the role's tasks name none of them: tasks/fused.yml names no argument at all,
        tasks/fused_async.yml's start only its mode, job name and timeout), so each host's
        worker has no template to compile for them (a compile each, and the ``default``
        filter loads every filter plugin into the worker). The mapping is templated here:
        agentmaint renders it of literal values (nothing to compile); the role's defaults
        build it from templates, which are compiled as before. A wait or a stop takes the
        task's arguments only.
        """
        own = dict(self._task.args)
        if own.get("mode", "run") not in MODES_WITH_STEPS:
            return own
        given = task_vars.get(ARGUMENTS_VARIABLE)
        steps = dict(self._templar.template(given)) if given is not None else {}
        return {**steps, **own}

    def _in_worker(
        self, arguments: dict[str, Any], interpreter: str, environment: dict[str, Any]
    ) -> bool:
        """Whether this worker runs the program itself (`run_in_worker`).

        A run (not a background job's start, wait or stop) on Ansible's own local connection
        without privilege escalation, whose named Python is this worker's own (the one
        agentmaint names for local hosts), and whose environment the shell would set as
        it is. Anything else goes to the host's Python as before.
        """
        if type(self._connection).__module__ != LOCAL_CONNECTION:
            return False
        if arguments.get("mode", "run") != "run":
            return False
        if self._play_context.become or getattr(self._connection, "become", None) is not None:
            return False
        if os.path.realpath(interpreter) != os.path.realpath(sys.executable):
            return False
        return all(shell_name(str(name)) for name in environment)

    def _executable(self) -> str | None:
        """The shell to wrap the command in: none on a local host, else Ansible's default.

        Ansible runs a command as ``/bin/sh -c '<command> && sleep 0'`` (the ``sleep 0``
        against an SSH race that could drop output). The local connection already runs the
        command by ``/bin/sh -c``, and has no SSH race: the wrapping shell and the ``sleep``
        only cost the host two more programs started at each round trip.
        """
        if type(self._connection).__module__ == LOCAL_CONNECTION:
            return ""
        return None

    def _interpreter(self, arguments: dict[str, Any], task_vars: dict[str, Any]) -> str | None:
        """The host's named Python when the module can run directly, else None."""
        if type(self._connection).__module__ not in DIRECT_CONNECTIONS:
            return None
        if not self._is_pipelining_enabled("new"):
            return None
        named = task_vars.get("ansible_python_interpreter")
        if not named:
            return None
        text = str(self._templar.template(named)).strip()
        return text or None
