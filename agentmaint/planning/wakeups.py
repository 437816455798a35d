"""When the daemon wakes up next: a window start, a poll tick or a blackout's end.

A wake-up is an instant at which maintenance may start in some environment: its window
accepts a start there (open, before the cutoff) and no blackout (the schedule's or the
environment's) covers it. The candidates, per environment with hosts:

* each window start;
* with a poll interval, ``start + k * poll`` inside the window (elapsed time, so a DST
  change neither adds nor removes a tick), before the window's last start: hosts left
  due (a failed host, a run that ended early, a component added to the file) are
  retried in the same window; there are no ticks outside windows;
* the end of a blackout that covers a start or a tick, when a window still accepts a
  start at that moment: maintenance begins as soon as the blackout allows it.

Whether anything is due at a wake-up is the planner's to say (the history decides);
this module only says when asking is worthwhile. Pure: no clock, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agentmaint.config.durations import format_duration
from agentmaint.config.schedule import Blackout, Environment, Schedule
from agentmaint.planning.planner import format_instant
from agentmaint.planning.windows import Window, next_window_after, open_window

__all__ = ["WakeUp", "next_wake_up", "startable_environments"]


@dataclass(frozen=True, slots=True)
class WakeUp:
    """The next instant worth a scheduled run, the environments it is for, and why."""

    at: datetime
    environments: tuple[str, ...]
    reason: str


def startable_environments(schedule: Schedule, at: datetime) -> tuple[str, ...]:
    """The environments (with hosts) in which maintenance may start at `at`, in file order."""
    return tuple(
        env.name
        for env in schedule.environments.values()
        if env.hosts and _startable(schedule, env, at) is not None
    )


def next_wake_up(
    schedule: Schedule, after: datetime, *, poll: timedelta | None = None
) -> WakeUp | None:
    """The first wake-up strictly after `after`; None when no environment has hosts.

    Environments waking at the same instant share one `WakeUp` (their reasons joined).
    """
    found: list[tuple[datetime, str, str]] = []
    for env in schedule.environments.values():
        if env.hosts:
            instant, reason = _next_for(schedule, env, after, poll)
            found.append((instant, env.name, reason))
    if not found:
        return None
    first = min(instant for instant, _, _ in found)
    chosen = [(name, reason) for instant, name, reason in found if instant == first]
    return WakeUp(
        at=first,
        environments=tuple(name for name, _ in chosen),
        reason="; ".join(f"{name}: {reason}" for name, reason in chosen),
    )


def _blackouts(schedule: Schedule, env: Environment) -> tuple[Blackout, ...]:
    return (*schedule.blackouts, *env.blackouts)


def _startable(schedule: Schedule, env: Environment, at: datetime) -> Window | None:
    """The window accepting a start at `at` in `env`, unless a blackout covers `at`."""
    if any(b.contains(at) for b in _blackouts(schedule, env)):
        return None
    window = open_window(env.schedule, at)
    return window if window is not None and window.accepts_start(at) else None


def _next_for(
    schedule: Schedule, env: Environment, after: datetime, poll: timedelta | None
) -> tuple[datetime, str]:
    """`env`'s first wake-up after `after`, and why.

    Each pass that lands in a blackout moves the search past that blackout's end, so the
    loop ends after at most one pass per blackout.
    """
    blackouts = _blackouts(schedule, env)
    cursor = after
    while True:
        candidate, reason = _next_candidate(env, cursor, poll)
        end = _blackout_end(blackouts, candidate)
        if end is None:
            return candidate, reason
        window = _startable(schedule, env, end)
        if window is not None:
            zone = env.schedule.timezone
            return end, (
                f"blackout ends {format_instant(end, zone)} inside the window "
                f"(no new start after {format_instant(window.last_start, zone)})"
            )
        cursor = max(end, candidate)


def _blackout_end(blackouts: Sequence[Blackout], instant: datetime) -> datetime | None:
    """Where the blackouts covering `instant` end (following overlapping ones), or None."""
    end: datetime | None = None
    probe = instant
    while True:
        covering = [b.end for b in blackouts if b.contains(probe)]
        if not covering:
            return end
        end = probe = max(covering)


def _next_candidate(
    env: Environment, cursor: datetime, poll: timedelta | None
) -> tuple[datetime, str]:
    """The first window start or poll tick strictly after `cursor`, blackouts aside."""
    zone = env.schedule.timezone
    upcoming = next_window_after(env.schedule, cursor)
    best = (
        upcoming.start,
        f"window opens {format_instant(upcoming.start, zone)} "
        f"(until {format_instant(upcoming.end, zone)})",
    )
    current = open_window(env.schedule, cursor)
    if poll is not None and current is not None:
        ticks = (cursor - current.start) // poll + 1
        tick = current.start + ticks * poll
        if tick < current.last_start and tick < best[0]:
            best = (
                tick,
                f"poll tick every {format_duration(poll)} in the window open until "
                f"{format_instant(current.end, zone)}",
            )
    return best
