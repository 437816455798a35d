"""Decide what is due: a pure function of (schedule, history, now).

Nothing here reads a clock, a file or a database: `plan()` is given the instant
and a `HistoryReader`, and returns a `Plan` in which every (environment,
component) pair has a decision and every decision a reason a person can read.

The order of the gates, per environment then per component and host:

1. a blackout (the schedule's or the environment's) covering `at` -> nothing starts;
2. no window open at `at`, or past its cutoff -> nothing starts. Missed windows
   are never caught up late: once a window has closed, nothing is due until the next;
3. the promotion gate: every host of the source environment succeeded at least
   `soak` ago, with no failure there since;
4. per host, the frequency, measured from the host's last success. Frequencies
   are matched to windows with one window of slack: a weekly component in a
   weekly window runs every week even if last week's update finished late in its
   window, but never twice in the same window. A host whose last attempt failed
   is due again in the next window (not again in the same one).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from agentmaint.config.durations import format_duration
from agentmaint.config.schedule import Blackout, Component, Environment, Schedule
from agentmaint.errors import UsageError
from agentmaint.planning.history import HistoryReader, HostComponentState, StateKey
from agentmaint.planning.windows import Window, next_window_after, open_window


@dataclass(frozen=True, slots=True)
class HostDecision:
    """Whether one component is due on one host, and why."""

    host: str
    due: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a component is due in an environment, on which hosts, and why."""

    environment: str
    component: str
    due: bool
    reason: str
    hosts: tuple[HostDecision, ...] = ()
    window: Window | None = None

    @property
    def servers(self) -> tuple[str, ...]:
        """The hosts on which the component is due, in inventory order."""
        return tuple(h.host for h in self.hosts if h.due)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (`servers` only when due)."""
        data: dict[str, Any] = {"environment": self.environment, "component": self.component}
        if self.due:
            data["servers"] = list(self.servers)
        data["reason"] = self.reason
        if self.window is not None:
            data["window"] = {
                "start": self.window.start.isoformat(),
                "end": self.window.end.isoformat(),
                "last_start": self.window.last_start.isoformat(),
            }
        data["hosts"] = [{"host": h.host, "due": h.due, "reason": h.reason} for h in self.hosts]
        return data


@dataclass(frozen=True, slots=True)
class Plan:
    """Every decision taken at instant `at`."""

    at: datetime
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def due(self) -> tuple[Decision, ...]:
        """Decisions with at least one due host."""
        return tuple(d for d in self.decisions if d.due)

    @property
    def not_due(self) -> tuple[Decision, ...]:
        """Decisions with no due host."""
        return tuple(d for d in self.decisions if not d.due)

    def to_dict(self) -> dict[str, Any]:
        """The `plan --json` document."""
        return {
            "at": self.at.astimezone(UTC).isoformat(),
            "due": [d.to_dict() for d in self.due],
            "not_due": [d.to_dict() for d in self.not_due],
        }


def format_instant(instant: datetime, zone: ZoneInfo | None = None) -> str:
    """``2026-11-25 03:00 Europe/Berlin``: minutes, with the zone's name."""
    zone = zone or ZoneInfo("UTC")
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def plan(
    schedule: Schedule,
    history: HistoryReader,
    at: datetime,
    *,
    environments: Collection[str] | None = None,
    components: Collection[str] | None = None,
) -> Plan:
    """Decide, at instant `at` (timezone-aware), what is due where.

    `environments` and `components` restrict the plan to those names (all by
    default); an unknown name raises `UsageError`.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise UsageError("the planning instant must be timezone-aware")
    env_names = _select("environment", environments, schedule.environments)
    comp_names = _select("component", components, schedule.components)
    chosen_envs = [schedule.environments[name] for name in env_names]
    servers = {host for env in schedule.environments.values() for host in env.host_names}
    states = history.states(servers, comp_names)
    decisions: list[Decision] = []
    for env in chosen_envs:
        window, blocked = _startable_window(schedule, env, at)
        for name in comp_names:
            if window is None:
                decisions.append(Decision(env.name, name, False, blocked))
                continue
            component = schedule.components[name]
            decisions.append(_decide(schedule, env, component, window=window, states=states, at=at))
    return Plan(at=at, decisions=tuple(decisions))


def limit_plan(schedule: Schedule, the_plan: Plan, patterns: Collection[str]) -> Plan:
    """`the_plan` narrowed to the hosts matching `patterns` (``run --limit``).

    Each pattern is a host name or a shell-style pattern (`fnmatch`: ``web-*``,
    ``db[12]``). A host matching none stays in its decision, not due, with the reason
    ``not in --limit``; a decision left with no due host is not due. A pattern that
    matches no host of the schedule raises `UsageError` naming it (a typo must not
    quietly run nothing).
    """
    known = [host for env in schedule.environments.values() for host in env.host_names]
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(h, p) for h in known)]
    if unmatched:
        raise UsageError(
            f"--limit {', '.join(unmatched)}: matches no host of the schedule "
            f"(hosts: {', '.join(dict.fromkeys(known))})"
        )
    decisions = tuple(_limit_decision(d, patterns) for d in the_plan.decisions)
    return Plan(at=the_plan.at, decisions=decisions)


def _limit_decision(decision: Decision, patterns: Collection[str]) -> Decision:
    if not decision.due:
        return decision
    hosts = tuple(
        h
        if not h.due or any(fnmatch.fnmatchcase(h.host, p) for p in patterns)
        else HostDecision(h.host, False, "not in --limit")
        for h in decision.hosts
    )
    due = [h.host for h in hosts if h.due]
    if not due:
        return replace(decision, due=False, reason="no due host in --limit", hosts=hosts)
    if len(due) == len(decision.servers):
        return decision
    reason = f"{decision.reason}; limited to {', '.join(due)} (--limit)"
    return replace(decision, reason=reason, hosts=hosts)


def _select(kind: str, wanted: Collection[str] | None, known: Mapping[str, Any]) -> list[str]:
    if wanted is None:
        return list(known)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UsageError(f"unknown {kind}(s): {', '.join(unknown)} (defined: {', '.join(known)})")
    return [name for name in known if name in set(wanted)]


def _startable_window(
    schedule: Schedule, env: Environment, at: datetime
) -> tuple[Window | None, str]:
    """The window in which maintenance may start in `env` at `at`, or None and why not."""
    zone = env.schedule.timezone
    blackout = _blackout_at((*schedule.blackouts, *env.blackouts), at)
    if blackout is not None:
        label = blackout.reason or "no reason given"
        return None, f"blackout: {label} (until {format_instant(blackout.end, zone)})"
    if not env.hosts:
        return None, "no hosts in this environment"
    window = open_window(env.schedule, at)
    if window is not None and window.accepts_start(at):
        return window, ""
    upcoming = next_window_after(env.schedule, at)  # only needed to say why not
    if window is None:
        return None, f"outside window; next opens {format_instant(upcoming.start, zone)}"
    return None, (
        f"past the window's cutoff: no new maintenance starts after "
        f"{format_instant(window.last_start, zone)} (window closes "
        f"{format_instant(window.end, zone)}); "
        f"next opens {format_instant(upcoming.start, zone)}"
    )


def _blackout_at(blackouts: Sequence[Blackout], at: datetime) -> Blackout | None:
    active = [b for b in blackouts if b.contains(at)]
    return max(active, key=lambda b: b.end) if active else None


def _decide(
    schedule: Schedule,
    env: Environment,
    component: Component,
    *,
    window: Window,
    states: Mapping[StateKey, HostComponentState],
    at: datetime,
) -> Decision:
    gate = _gate_block(schedule, env, component, states, at)
    if gate is not None:
        return Decision(env.name, component.name, False, gate, window=window)
    hosts = tuple(
        _decide_host(host, component, window, states.get((host, component.name)), at)
        for host in env.host_names
    )
    due = [h for h in hosts if h.due]
    label = component.frequency.label
    total = len(hosts)
    if not due:
        reason = f"{label}, {_summarise(hosts)}"
        if total > 1 and len({h.reason for h in hosts}) == 1:
            reason += f" on all {total} hosts"
        return Decision(env.name, component.name, False, reason, hosts, window)
    scope = (
        f"due on all {total} hosts" if len(due) == total else f"due on {len(due)} of {total} hosts"
    )
    return Decision(
        env.name,
        component.name,
        True,
        f"{label}, {scope}: {_summarise(due, named=len(due) < total)}",
        hosts,
        window,
    )


def _summarise(hosts: Sequence[HostDecision], *, named: bool = False) -> str:
    """Group identical host reasons: ``x`` when all agree (unless `named`), else ``x (a); y``."""
    groups: dict[str, list[str]] = {}
    for host in hosts:
        groups.setdefault(host.reason, []).append(host.host)
    if len(groups) == 1 and not named:
        return next(iter(groups))
    return "; ".join(f"{reason} ({', '.join(names)})" for reason, names in groups.items())


def _decide_host(
    host: str,
    component: Component,
    window: Window,
    state: HostComponentState | None,
    at: datetime,
) -> HostDecision:
    state = state or HostComponentState()
    if state.last_attempt_failed:
        assert state.last_failure is not None
        when = format_instant(state.last_failure)
        if state.last_failure >= window.start:
            return HostDecision(
                host, False, f"failed at {when} in this window; retried in the next window"
            )
        return HostDecision(host, True, f"last attempt failed at {when}")
    if state.last_success is None:
        return HostDecision(host, True, "never updated")
    last = state.last_success
    when = format_instant(last)
    # One window of slack so a weekly update in a weekly window does not slip to every
    # other week when last week's run finished later in its window than this one starts.
    interval = component.frequency.interval
    slack = min(window.duration, interval)
    if last < window.start and at - last >= interval - slack:
        return HostDecision(host, True, f"last success {when}")
    due_from = max(last + interval - slack, window.end)
    return HostDecision(
        host, False, f"last success {when}, next due from {format_instant(due_from)}"
    )


def _gate_block(
    schedule: Schedule,
    env: Environment,
    component: Component,
    states: Mapping[StateKey, HostComponentState],
    at: datetime,
) -> str | None:
    gate = env.promote_from
    if gate is None:
        return None
    source = schedule.environments[gate.environment]
    soak = format_duration(gate.soak) if gate.soak else "0s"
    never: list[str] = []
    fresh: list[str] = []
    failed: list[str] = []
    for host in source.host_names:
        state = states.get((host, component.name), HostComponentState())
        if state.last_attempt_failed:
            failed.append(host)
        elif state.last_success is None:
            never.append(host)
        elif at - state.last_success < gate.soak:
            fresh.append(host)
    if not source.hosts:
        return f"blocked by promotion gate: {source.name} has no hosts"
    problems = []
    if failed:
        problems.append(f"failed on {', '.join(failed)} since its last success")
    if never:
        problems.append(f"has never succeeded on {', '.join(never)}")
    if fresh:
        problems.append(f"has not succeeded for {soak} on {', '.join(fresh)}")
    if not problems:
        return None
    return f"blocked by promotion gate: {source.name} " + "; ".join(problems)
