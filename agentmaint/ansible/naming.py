"""The naming contract between the playbook agentmaint writes and the code that reads it back.

`agentmaint.ansible.render` names each play ``Maintain <component> | <environment>``
and each task ``<Action> | <component>`` (actions: backup, update, healthcheck,
rollback); the bundled roles name theirs ``<Action>: <what it does> | <component>``.
`agentmaint.ansible.rollup`, the importer and recovery map every event back to its
environment, component and action with the parsers here. Writer and readers import
this one module, so the rules live in one place and the readers never depend on the
renderer.

A `Target` (one play to generate) is here too: plays are named after it, and the
roll-up fills in from it what was targeted but never ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentmaint.records import Action

__all__ = [
    "INTERNAL",
    "PLAYBOOK_NAME",
    "PLAY_PREFIX",
    "TASK_SEPARATOR",
    "Target",
    "classify",
    "parse_play",
    "parse_task",
    "play_name",
    "task_component",
    "task_name",
    "task_step",
]

PLAY_PREFIX = "Maintain "
TASK_SEPARATOR = " | "
INTERNAL = "Failed"  # the rescue's final task: not an Action, so roll-ups skip it
PLAYBOOK_NAME = "maintenance.yml"


@dataclass(frozen=True, slots=True)
class Target:
    """One play to generate: a component to maintain on some hosts of an environment."""

    environment: str
    component: str
    hosts: tuple[str, ...]
    serial: int | str | None = None  # overrides the environment's rollout.serial (slices)
    #: Failed hosts the environment may have over the whole run before no batch starts
    #: (`agentmaint.ansible.budget`); None: computed from the playbook's own targets.
    budget: int | None = None


def play_name(environment: str, component: str) -> str:
    """The name of the play that maintains `component` in `environment`."""
    return f"{PLAY_PREFIX}{component}{TASK_SEPARATOR}{environment}"


def task_name(action: Action | str, component: str) -> str:
    """The name of a task doing `action` for `component`."""
    value = action.value if isinstance(action, Action) else action
    return f"{value.capitalize()}{TASK_SEPARATOR}{component}"


def parse_play(name: str) -> tuple[str, str] | None:
    """(environment, component) from a generated play name, or None for other plays."""
    if not name.startswith(PLAY_PREFIX):
        return None
    component, _, environment = name[len(PLAY_PREFIX) :].rpartition(TASK_SEPARATOR)
    component, environment = component.strip(), environment.strip()
    return (environment, component) if environment and component else None


def parse_task(name: str) -> Action | None:
    """The action of a task name, or None for internal and foreign tasks.

    Both ``Update | web`` (generated) and ``Update: refresh the apt cache | web`` (a
    step of a bundled role) are update tasks of component ``web``.
    """
    head, separator, _ = name.partition(TASK_SEPARATOR)
    if not separator:
        return None
    try:
        return Action(head.partition(":")[0].strip().lower())
    except ValueError:
        return None


def classify(play: str, task: str) -> tuple[str, str, Action] | None:
    """(environment, component, action) of a result, or None for foreign and internal tasks.

    The environment comes from the play name; the component and the action from the task
    name, since a bundled play may cover several components.
    """
    parsed = parse_play(play)
    action = parse_task(task)
    if parsed is None or action is None:
        return None
    return parsed[0], task_component(task) or parsed[1], action


def task_component(task: str) -> str:
    """The component a task name ends with (``Update: <step> | web``: ``web``)."""
    return task.rpartition(TASK_SEPARATOR)[2].strip()


def task_step(task: str) -> str:
    """The step of a bundled role's task name (``Update: <step> | web``), or ``""``."""
    return task.partition(TASK_SEPARATOR)[0].partition(":")[2].strip()
