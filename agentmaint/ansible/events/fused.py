"""Reading back the steps of agentmaint's fused task as the results of separate tasks.

A component whose steps are all shell commands runs in one task per host (the bundled
``agentmaint_fused`` module, see `agentmaint.ansible.render.playbook`), which returns
the result of each step in ``agentmaint_steps``. `expand` turns that one result into
the `TaskResult`s the per-task play would have given: ``Backup: run the backup command |
<component>``, ``Update | <component>``, ``Healthcheck | <component>``, ``Rollback |
<component>`` and, when the rescue ran, ``Failed | <component>`` (the play's internal
last task), with the same statuses, return codes and messages, so that the roll-up and
the history cannot tell the two paths apart.

The last of these takes the place of the task's own result (it is what the counters and
the rescue analysis see); the earlier ones are results that move no counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from agentmaint.ansible.events.fields import _as_int, _as_time, _message
from agentmaint.ansible.naming import INTERNAL, TASK_SEPARATOR, task_component, task_name
from agentmaint.records import Action, TaskResult, TaskStatus

__all__ = ["JOB_KEY", "STARTED", "STEPS_KEY", "expand"]

#: The key of the fused module's result that holds its steps.
STEPS_KEY = "agentmaint_steps"
#: The key of the result of a start in the background (the job's name).
JOB_KEY = "agentmaint_job"
#: What the result of a start in the background is shown as: not an action, so that the
#: roll-up reads the update from the steps alone. (While it runs, the task's own name,
#: ``Update: start in the background | <component>``, marks the update as in flight.)
STARTED = "Started in the background"

_SHELL = "ansible.builtin.shell"
_FAIL = "ansible.builtin.fail"
#: step -> (task name's head, role) as the per-task play names them.
_TASKS: Mapping[str, tuple[str, str]] = {
    "backup": ("Backup: run the backup command", "agentmaint_backup"),
    "update": (task_name(Action.UPDATE, "").removesuffix(TASK_SEPARATOR), "agentmaint_command"),
    "healthcheck": (
        task_name(Action.HEALTHCHECK, "").removesuffix(TASK_SEPARATOR),
        "agentmaint_healthcheck",
    ),
    "rollback": (
        task_name(Action.ROLLBACK, "").removesuffix(TASK_SEPARATOR),
        "agentmaint_command",
    ),
}
_RESCUED_STEPS = frozenset(("update", "healthcheck"))


def expand(result: TaskResult, res: Mapping[str, Any]) -> tuple[list[TaskResult], TaskResult]:
    """The earlier step results of a fused task's `result`, and what stands for the task.

    `res` is the task's result (``event_data.res``); a result without readable steps
    (a module that never ran) is returned as it is, and the start of a job in the
    background is shown as `STARTED`.
    """
    if JOB_KEY in res and STEPS_KEY not in res:
        return [], replace(result, task=f"{STARTED}{TASK_SEPARATOR}{task_component(result.task)}")
    raw = res.get(STEPS_KEY)
    steps = [s for s in raw if isinstance(s, Mapping)] if isinstance(raw, list) else []
    if not steps:
        return [], result
    component = task_component(result.task)
    # A failed update or health check is rescued: the rescue's last task fails the host,
    # unless the rollback itself failed (then the host fails there).
    rescued = any(s.get("action") in _RESCUED_STEPS and s.get("failed") for s in steps) and not (
        steps[-1].get("action") == "rollback" and steps[-1].get("failed")
    )
    shown = [_step(result, step, component, index) for index, step in enumerate(steps)]
    if rescued:
        final = replace(
            result,
            task=f"{INTERNAL}{TASK_SEPARATOR}{component}",
            role=None,
            module=_FAIL,
            rc=None,
        )
        return shown, final
    last = shown.pop()
    # The task's own status stands for the last step (the counters and the rescue
    # analysis decide it), except that a step can be ok where the task changed.
    status = last.status if result.status in (TaskStatus.OK, TaskStatus.CHANGED) else result.status
    return shown, replace(last, status=status, counter=result.counter, task_uuid=result.task_uuid)


def _step(result: TaskResult, step: Mapping[str, Any], component: str, index: int) -> TaskResult:
    action = str(step.get("action"))
    head, role = _TASKS.get(action, (action.capitalize(), "agentmaint_command"))
    if step.get("skipped"):
        status = TaskStatus.SKIPPED
    elif step.get("failed"):
        status = TaskStatus.RESCUED if action in _RESCUED_STEPS else TaskStatus.FAILED
    elif step.get("changed"):
        status = TaskStatus.CHANGED
    else:
        status = TaskStatus.OK
    start, end = _as_time(step.get("start")), _as_time(step.get("end"))
    skipped = status is TaskStatus.SKIPPED  # Ansible keeps nothing of a skipped task's result
    return replace(
        result,
        task=f"{head}{TASK_SEPARATOR}{component}",
        status=status,
        role=role,
        module=_SHELL,
        start=start,
        end=end,
        duration=(end - start).total_seconds() if start and end else None,
        rc=None if skipped else _as_int(step.get("rc")),
        message=None if skipped else _message(step),
        task_uuid=f"{result.task_uuid}-{index}" if result.task_uuid else None,
    )
