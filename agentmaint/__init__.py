"""agentmaint: keep fleets serving AI agents patched, backed up and current.

The public API is what this module exports; see README.md for a walk-through::

    from datetime import datetime, UTC
    import agentmaint

    schedule = agentmaint.load_schedule("schedule.yaml")
    result = agentmaint.plan(schedule, agentmaint.MemoryHistory(), datetime.now(UTC))
    for decision in result.due:
        print(decision.environment, decision.component, decision.servers, decision.reason)
"""

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
from agentmaint.errors import AgentmaintError, Problem, ScheduleError, UsageError
from agentmaint.planning.history import Attempt, HistoryReader, HostComponentState, MemoryHistory
from agentmaint.planning.planner import Decision, HostDecision, Plan, plan
from agentmaint.planning.windows import Window, open_window, upcoming_windows

__version__ = "0.1.0"

__all__ = [
    "AgentmaintError",
    "Attempt",
    "Backup",
    "Blackout",
    "Component",
    "Decision",
    "Environment",
    "Frequency",
    "HistoryReader",
    "Host",
    "HostComponentState",
    "HostDecision",
    "MemoryHistory",
    "Notification",
    "Plan",
    "Problem",
    "PromotionGate",
    "Rollout",
    "Schedule",
    "ScheduleError",
    "UpdateSchedule",
    "UsageError",
    "Window",
    "__version__",
    "load_schedule",
    "open_window",
    "parse_schedule",
    "plan",
    "upcoming_windows",
    "validate_file",
]
