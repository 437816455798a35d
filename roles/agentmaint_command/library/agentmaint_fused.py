#!/usr/bin/python
"""agentmaint's fused maintenance module: backup, update, health check and rollback in one task.

Runs on the managed host. Each step is a shell command run as the ``shell`` module runs
it (``/bin/sh -c``, output without its trailing newline), and the result of each is
returned in ``agentmaint_steps`` so that agentmaint records the same per-action history
as when every step is its own task.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: agentmaint_fused
short_description: Back up, update, check and roll back a component in one task
description:
  - Runs the backup command, the update command and the health check command (with its
    retries and delay); when the update or the health check fails, runs the rollback command.
  - Returns the result of every step in C(agentmaint_steps), each with the fields of the
    shell module's result (rc, stdout, stderr, start, end, changed, failed, msg).
  - In check mode nothing runs; every step is reported as it would have run.
options:
  component:
    description: Name of the component.
    type: str
    required: true
  update:
    description: Shell command that updates the component.
    type: str
    required: true
  rollback:
    description: Shell command that undoes the update ("" = none).
    type: str
    default: ""
  backup:
    description: Shell command run before the update ("" = no backup).
    type: str
    default: ""
  healthcheck:
    description: Shell command that must exit 0 after the update ("" = no health check).
    type: str
    default: ""
  healthcheck_contains:
    description: Text the health check's output must contain.
    type: str
    default: ""
  healthcheck_retries:
    description: Retries of the health check after the first try.
    type: int
    default: 3
  healthcheck_delay:
    description: Seconds between tries of the health check.
    type: int
    default: 5
  failure_msg:
    description: Message of a failed update or health check once the rescue ran.
    type: str
    default: update or health check failed
  job_name:
    description: >-
      Name of a background job ("" = none): while it runs, its process group id is in
      C(~/.ansible_async/agentmaint-<job_name>.pid), so that a canceled run can end the
      commands it started (C(cancel)).
    type: str
    default: ""
  cancel:
    description: >-
      Instead of maintaining anything, end the background jobs whose name starts with
      C(job_name) (their whole process groups) and report how many were ended.
    type: bool
    default: false
author: agentmaint
"""

RETURN = r"""
agentmaint_steps:
  description: One result per step run, in order.
  returned: always
  type: list
  elements: dict
"""

_SKIP_MSG = "Command would have run if not in check mode"


def _now() -> datetime.datetime:
    # datetime.UTC is Python 3.11+: the host's Python may be older.
    return datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017


class _Steps:
    """Runs the steps and keeps their results."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.results: list[dict[str, object]] = []

    def shell(self, action: str, cmd: str) -> dict[str, object]:
        """One run of `cmd`, shaped like the shell module's result."""
        if self.module.check_mode:
            return {
                "action": action,
                "cmd": cmd,
                "rc": 0,
                "stdout": "",
                "stderr": "",
                "start": None,
                "end": None,
                "delta": None,
                "changed": False,
                "failed": False,
                "skipped": True,
                "msg": _SKIP_MSG,
            }
        start = _now()
        rc, out, err = self.module.run_command(cmd, use_unsafe_shell=True)
        end = _now()
        return {
            "action": action,
            "cmd": cmd,
            "rc": rc,
            "stdout": out.rstrip("\r\n"),
            "stderr": err.rstrip("\r\n"),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "delta": str(end - start),
            "changed": True,
            "failed": rc != 0,
            "skipped": False,
            "msg": "non-zero return code" if rc != 0 else "",
        }

    def step(self, action: str, cmd: str, *, changed: bool = True) -> bool:
        """Run a step once and keep its result; whether it succeeded."""
        result = self.shell(action, cmd)
        if not changed and not result["skipped"]:
            result["changed"] = False
        self.results.append(result)
        return not result["failed"]

    def check(self, cmd: str, contains: str, retries: int, delay: int) -> bool:
        """The health check, tried 1 + retries times (Ansible's until/retries/delay)."""
        attempts = 1 + max(0, retries)
        result: dict[str, object] = {}
        for attempt in range(1, attempts + 1):
            result = self.shell("healthcheck", cmd)
            result["changed"] = False
            if result["rc"] == 0 and contains in str(result["stdout"]):
                result["failed"] = False
                break
            if result["skipped"]:
                # As Ansible's until does in check mode: the empty output of a command that
                # did not run lacks the text, and the check fails at once.
                result.update(skipped=False, failed=True)
                break
            result["failed"] = True
            if attempt < attempts:
                time.sleep(delay)
        if attempts > 1:
            result["attempts"] = attempt
        self.results.append(result)
        return not result["failed"]


_PID_DIR = "~/.ansible_async"


def _pid_file(job_name: str) -> str:
    directory = os.path.expanduser(_PID_DIR)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    return os.path.join(directory, f"agentmaint-{os.path.basename(job_name)}.pid")


def _cancel(module: AnsibleModule, prefix: str) -> None:
    """End the process groups of the background jobs named `prefix`... and exit."""
    directory = os.path.expanduser(_PID_DIR)
    wanted = f"agentmaint-{os.path.basename(prefix)}"
    ended = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        names = []
    for name in names:
        if not (name.startswith(wanted) and name.endswith(".pid")):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="ascii") as handle:
                group = int(handle.read().strip())
        except (OSError, ValueError):
            continue
        if group <= 1:
            continue
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except OSError:
                break
            time.sleep(0.2)
        ended.append(name[len("agentmaint-") : -len(".pid")])
        with contextlib.suppress(OSError):
            os.unlink(path)
    module.exit_json(changed=bool(ended), ended=ended)


def _own_group(pid_file: str) -> None:
    """Lead a process group of our own and say so in `pid_file` (for a cancel to end it)."""
    if os.getpgrp() != os.getpid():
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
    with open(pid_file, "w", encoding="ascii") as handle:
        handle.write(f"{os.getpgrp()}\n")
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))


def _maintain(steps: _Steps, p: dict[str, Any]) -> str:
    """Run the steps in order; the failure message ("" when every step succeeded)."""
    if p["backup"] and not steps.step("backup", p["backup"]):
        return "backup failed"
    if steps.step("update", p["update"]) and (
        not p["healthcheck"]
        or steps.check(
            p["healthcheck"],
            p["healthcheck_contains"],
            p["healthcheck_retries"],
            p["healthcheck_delay"],
        )
    ):
        return ""
    if p["rollback"] and not steps.step("rollback", p["rollback"]):
        return "rollback failed"
    return str(p["failure_msg"])


def main() -> None:
    """Run the steps and exit with their results."""
    module = AnsibleModule(
        argument_spec={
            "component": {"type": "str", "required": True},
            "update": {"type": "str", "required": True},
            "rollback": {"type": "str", "default": ""},
            "backup": {"type": "str", "default": ""},
            "healthcheck": {"type": "str", "default": ""},
            "healthcheck_contains": {"type": "str", "default": ""},
            "healthcheck_retries": {"type": "int", "default": 3},
            "healthcheck_delay": {"type": "int", "default": 5},
            "failure_msg": {"type": "str", "default": "update or health check failed"},
            "job_name": {"type": "str", "default": ""},
            "cancel": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["cancel"]:
        _cancel(module, p["job_name"])
    pid_file = _pid_file(p["job_name"]) if p["job_name"] and not module.check_mode else ""
    if pid_file:
        _own_group(pid_file)
    steps = _Steps(module)
    try:
        msg = _maintain(steps, p)
    finally:
        if pid_file:
            with contextlib.suppress(OSError):
                os.unlink(pid_file)
    results = steps.results
    changed = any(r["changed"] for r in results)
    if msg:
        module.fail_json(msg=msg, changed=changed, agentmaint_steps=results)
    if module.check_mode:
        # Not skipped itself: Ansible drops the result (and so the steps) of a skipped task.
        module.exit_json(changed=False, msg=_SKIP_MSG, agentmaint_steps=results)
    module.exit_json(changed=changed, msg="", agentmaint_steps=results)


if __name__ == "__main__":
    main()
