"""The public surface is `agentmaint.__all__`: sorted, complete, and every name documented."""

from __future__ import annotations

import importlib.metadata
import inspect
import subprocess
import sys

import agentmaint
from agentmaint import errors

# The public API, written out: adding or removing a name is a decision this list records.
EXPORTED = {
    # planning: the schedule, windows, the planner and its history protocol
    "Attempt",
    "Backup",
    "Blackout",
    "Component",
    "Decision",
    "DeliveryCanceledError",
    "DeliveryTimeoutError",
    "Environment",
    "Frequency",
    "HistoryReader",
    "Host",
    "HostComponentState",
    "HostDecision",
    "MemoryHistory",
    "MissingHistoryError",
    "Notification",
    "Plan",
    "PromotionGate",
    "Rollout",
    "Schedule",
    "UpdateSchedule",
    "Window",
    "load_schedule",
    "open_window",
    "parse_schedule",
    "plan",
    "upcoming_windows",
    "validate_file",
    # running, watching and recording
    "BaseObserver",
    "HistoryStore",
    "HostOutcome",
    "Progress",
    "RunObserver",
    "RunResult",
    "TaskStart",
    "Unrecorded",
    "create_demo",
    "import_run",
    "open_history",
    "run_maintenance",
    # the records of the history
    "Action",
    "HostCounts",
    "MaintenanceRecord",
    "Outcome",
    "RunRecord",
    "RunStatus",
    "TaskResult",
    "TaskStatus",
    # the errors
    "AgentmaintError",
    "CronError",
    "EventsError",
    "LockHeldError",
    "LockWaitCanceledError",
    "MetricsError",
    "Problem",
    "ScheduleError",
    "SecretReferenceError",
    "StateDirError",
    "StoreError",
    "UsageError",
    "__version__",
}


def test_all_is_sorted_and_exported() -> None:
    assert agentmaint.__all__ == sorted(agentmaint.__all__)
    assert len(agentmaint.__all__) == len(set(agentmaint.__all__))
    for name in agentmaint.__all__:
        assert hasattr(agentmaint, name), name


def test_exported_names_are_the_written_list() -> None:
    assert set(agentmaint.__all__) == EXPORTED


def test_public_names_have_docstrings() -> None:
    for name in agentmaint.__all__:
        value = getattr(agentmaint, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            # The object's own docstring: a class without one would inherit its base's,
            # and a dataclass without one gets its signature.
            doc = value.__dict__.get("__doc__") if inspect.isclass(value) else value.__doc__
            assert doc, name
            assert not doc.startswith(f"{value.__name__}("), name


def test_every_error_is_exported_and_an_agentmaint_error_and_a_builtin() -> None:
    defined = {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
    }
    assert set(defined) <= set(agentmaint.__all__)
    for name, error in defined.items():
        assert getattr(agentmaint, name) is error
        if error is errors.AgentmaintError:
            continue
        assert issubclass(error, errors.AgentmaintError), name
        builtins = [b for b in error.__mro__ if b.__module__ == "builtins"]
        # Exception, BaseException and object come with AgentmaintError; a resembled
        # built-in (ValueError, RuntimeError, OSError) must come first.
        assert builtins[0] not in {Exception, BaseException, object}, name
        # The tree in the module docstring names every error.
        assert f"{name} (" in (errors.__doc__ or ""), name


def test_the_exports_are_the_objects_of_their_modules() -> None:
    from agentmaint.cli.demo import create_demo
    from agentmaint.history.store import HistoryStore, open_history
    from agentmaint.maintenance import run_maintenance
    from agentmaint.run.importer import import_run
    from agentmaint.run.results import RunResult

    assert agentmaint.run_maintenance is run_maintenance
    assert agentmaint.RunResult is RunResult
    assert agentmaint.HistoryStore is HistoryStore
    assert agentmaint.import_run is import_run
    assert agentmaint.open_history is open_history
    assert agentmaint.create_demo is create_demo
    assert {"run_maintenance", "__version__"} <= set(dir(agentmaint))


def test_version_is_the_installed_distributions() -> None:
    assert agentmaint.__version__ == importlib.metadata.version("agentmaint")


def test_importing_agentmaint_loads_only_the_planning_side() -> None:
    probe = (
        "import sys, agentmaint; "
        "print(sorted(m for m in ('ansible', 'ansible_runner', 'ptyprocess', 'sqlite3', "
        "'agentmaint.maintenance', 'agentmaint.history.store', 'agentmaint.records', "
        "'agentmaint.run.results') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    # The lazy names still arrive with a plain `from agentmaint import ...`.
    probe = "from agentmaint import RunResult, run_maintenance; print(RunResult.__name__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "RunResult"
