"""agentmaint: keep fleets serving AI agents patched, backed up and current.

The public API is what this module exports (`__all__`); see README.md for a walk-through::

    from datetime import datetime, UTC
    import agentmaint

    schedule = agentmaint.load_schedule("schedule.yaml")
    result = agentmaint.plan(schedule, agentmaint.MemoryHistory(), datetime.now(UTC))
    for decision in result.due:
        print(decision.environment, decision.component, decision.servers, decision.reason)

    result = agentmaint.run_maintenance(schedule)  # plan, run through ansible-runner, record
    with agentmaint.open_history(schedule.history_url, schedule.state_dir) as store:
        print(store.records(server="web1"))

Only the errors are imported with the package; every other name (the planning side, the
run side, the history and its records) and `__version__` on first use, so that a script
that only plans pays for none of the run side (no ansible-runner, no database drivers), and
a module that only reads events or history pays for no schedule parser either.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agentmaint.errors import (
    AgentmaintError,
    CronError,
    DeliveryCanceledError,
    DeliveryTimeoutError,
    EventsError,
    LockHeldError,
    LockWaitCanceledError,
    MetricsError,
    MissingHistoryError,
    Problem,
    ScheduleError,
    SecretReferenceError,
    StateDirError,
    StoreError,
    UsageError,
)
from agentmaint.lazy import first_use

if TYPE_CHECKING:
    # What mypy and editors see; at run time `__getattr__` imports these on first use.
    from agentmaint.cli.demo import create_demo
    from agentmaint.config.parse import load_schedule, parse_schedule, validate_file
    from agentmaint.config.schedule import (
        Backup,
        Blackout,
        Component,
        Environment,
        Frequency,
        Host,
        Notification,
        PromotionGate,
        Rollout,
        Schedule,
        UpdateSchedule,
    )
    from agentmaint.history.store import HistoryStore, open_history
    from agentmaint.maintenance import run_maintenance
    from agentmaint.planning.history import (
        Attempt,
        HistoryReader,
        HostComponentState,
        MemoryHistory,
    )
    from agentmaint.planning.planner import Decision, HostDecision, Plan, plan
    from agentmaint.planning.windows import Window, open_window, upcoming_windows
    from agentmaint.records import (
        Action,
        HostCounts,
        MaintenanceRecord,
        Outcome,
        RunRecord,
        RunStatus,
        TaskResult,
        TaskStatus,
    )
    from agentmaint.run.importer import import_run
    from agentmaint.run.observer import BaseObserver, RunObserver
    from agentmaint.run.results import HostOutcome, Progress, RunResult, TaskStart, Unrecorded

    __version__: str

__all__ = [
    "Action",
    "AgentmaintError",
    "Attempt",
    "Backup",
    "BaseObserver",
    "Blackout",
    "Component",
    "CronError",
    "Decision",
    "DeliveryCanceledError",
    "DeliveryTimeoutError",
    "Environment",
    "EventsError",
    "Frequency",
    "HistoryReader",
    "HistoryStore",
    "Host",
    "HostComponentState",
    "HostCounts",
    "HostDecision",
    "HostOutcome",
    "LockHeldError",
    "LockWaitCanceledError",
    "MaintenanceRecord",
    "MemoryHistory",
    "MetricsError",
    "MissingHistoryError",
    "Notification",
    "Outcome",
    "Plan",
    "Problem",
    "Progress",
    "PromotionGate",
    "Rollout",
    "RunObserver",
    "RunRecord",
    "RunResult",
    "RunStatus",
    "Schedule",
    "ScheduleError",
    "SecretReferenceError",
    "StateDirError",
    "StoreError",
    "TaskResult",
    "TaskStart",
    "TaskStatus",
    "Unrecorded",
    "UpdateSchedule",
    "UsageError",
    "Window",
    "__version__",
    "create_demo",
    "import_run",
    "load_schedule",
    "open_history",
    "open_window",
    "parse_schedule",
    "plan",
    "run_maintenance",
    "upcoming_windows",
    "validate_file",
]

# Where each name imported on first use lives. agentmaint.maintenance and the CLI package
# (create_demo's) load ansible-runner; the history store (and the importer, which also
# loads the event parser) loads sqlite3, csv and the PostgreSQL engine; importlib.metadata
# costs about as much as the history store; even the records and results (enums and
# dataclasses built at import) cost ~10 ms. The planning side (the schedule parser loads
# jsonschema and yaml: ~150 ms) is lazy too, so that a command that only reads events or
# history (`agentmaint events`) does not pay for it just by importing a subpackage.
_LAZY = {
    "Action": "agentmaint.records",
    "Attempt": "agentmaint.planning.history",
    "Backup": "agentmaint.config.schedule",
    "BaseObserver": "agentmaint.run.observer",
    "Blackout": "agentmaint.config.schedule",
    "Component": "agentmaint.config.schedule",
    "Decision": "agentmaint.planning.planner",
    "Environment": "agentmaint.config.schedule",
    "Frequency": "agentmaint.config.schedule",
    "HistoryReader": "agentmaint.planning.history",
    "HistoryStore": "agentmaint.history.store",
    "Host": "agentmaint.config.schedule",
    "HostComponentState": "agentmaint.planning.history",
    "HostCounts": "agentmaint.records",
    "HostDecision": "agentmaint.planning.planner",
    "HostOutcome": "agentmaint.run.results",
    "MaintenanceRecord": "agentmaint.records",
    "MemoryHistory": "agentmaint.planning.history",
    "Notification": "agentmaint.config.schedule",
    "Outcome": "agentmaint.records",
    "Plan": "agentmaint.planning.planner",
    "Progress": "agentmaint.run.results",
    "PromotionGate": "agentmaint.config.schedule",
    "Rollout": "agentmaint.config.schedule",
    "RunObserver": "agentmaint.run.observer",
    "RunRecord": "agentmaint.records",
    "RunResult": "agentmaint.run.results",
    "RunStatus": "agentmaint.records",
    "Schedule": "agentmaint.config.schedule",
    "TaskResult": "agentmaint.records",
    "TaskStart": "agentmaint.run.results",
    "TaskStatus": "agentmaint.records",
    "Unrecorded": "agentmaint.run.results",
    "UpdateSchedule": "agentmaint.config.schedule",
    "Window": "agentmaint.planning.windows",
    "create_demo": "agentmaint.cli.demo",
    "import_run": "agentmaint.run.importer",
    "load_schedule": "agentmaint.config.parse",
    "open_history": "agentmaint.history.store",
    "open_window": "agentmaint.planning.windows",
    "parse_schedule": "agentmaint.config.parse",
    "plan": "agentmaint.planning.planner",
    "run_maintenance": "agentmaint.maintenance",
    "upcoming_windows": "agentmaint.planning.windows",
    "validate_file": "agentmaint.config.parse",
}

if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute
    _first_use = first_use(__name__, _LAZY, globals())

    def __getattr__(name: str) -> Any:
        """Import a public name (or read `__version__`) on first use, then keep it."""
        if name != "__version__":
            return _first_use(name)
        from importlib.metadata import version  # noqa: PLC0415 -- on first use only

        value = globals()[name] = version("agentmaint")  # pyproject.toml holds the one version
        return value


def __dir__() -> list[str]:
    """The module's names, with those imported on first use."""
    return sorted({*globals(), *_LAZY, "__version__"})


# A library adds no handler of its own but this one: where its log goes (and how it looks)
# is the program's choice; without it, Python's last-resort handler would print the
# library's warnings to stderr (`agentmaint.cli` configures real handlers).
logging.getLogger(__name__).addHandler(logging.NullHandler())
