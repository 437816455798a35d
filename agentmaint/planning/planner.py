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
from datetime import UTC, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from agentmaint.collector import collector_paused
from agentmaint.config.durations import format_duration
from agentmaint.config.schedule import Blackout, Component, Environment, Schedule
from agentmaint.errors import UsageError
from agentmaint.planning.history import HistoryReader, HostComponentState, StateKey
from agentmaint.planning.windows import Window, next_window_after, open_window
from agentmaint.slots import slot_setters


@dataclass(frozen=True, slots=True)
class HostDecision:
    """Whether one component is due on one host, and why."""

    host: str
    due: bool
    reason: str


# A plan makes one HostDecision per host and component (100,000 at 10,000 hosts x 10
# components): made by setting its slots (`agentmaint.slots`), the same object in half the
# time (tests/unit/test_planner_equivalence.py checks the fields and equality).
_SETTERS = slot_setters(HostDecision, ("host", "due", "reason"))


def _host_decision(host: str, due: bool, reason: str) -> HostDecision:
    """`HostDecision(host, due, reason)`, made faster."""
    decision = object.__new__(HostDecision)
    _set_host(decision, host)
    _set_due(decision, due)
    _set_reason(decision, reason)
    return decision


if _SETTERS is None:  # pragma: no cover -- a changed `HostDecision`: the safe way
    _host_decision = HostDecision
else:
    _set_host, _set_due, _set_reason = _SETTERS


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
    default); an unknown name raises `UsageError`. The cyclic garbage collector is paused
    while the plan is made (`agentmaint.collector`), and left as it was.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise UsageError("the planning instant must be timezone-aware")
    env_names = _select("environment", environments, schedule.environments)
    comp_names = _select("component", components, schedule.components)
    chosen_envs = [schedule.environments[name] for name in env_names]
    host_names = {name: env.host_names for name, env in schedule.environments.items()}
    # A plan for 10,000 hosts x 10 components makes 200,000 objects and no cycles.
    with collector_paused():
        return _plan(
            schedule, history, at, envs=chosen_envs, components=comp_names, hosts=host_names
        )


def _plan(
    schedule: Schedule,
    history: HistoryReader,
    at: datetime,
    *,
    envs: Sequence[Environment],
    components: Sequence[str],
    hosts: Mapping[str, tuple[str, ...]],
) -> Plan:
    servers = {host for names in hosts.values() for host in names}
    states = history.states(servers, components)
    # One text per instant for the whole plan: hosts share their last run's instants.
    texts = _InstantTexts()
    decisions: list[Decision] = []
    for env in envs:
        window, blocked = _startable_window(schedule, env, at)
        for name in components:
            if window is None:
                decisions.append(Decision(env.name, name, False, blocked))
                continue
            component = schedule.components[name]
            decisions.append(
                _decide(
                    schedule,
                    env,
                    component,
                    hosts=hosts[env.name],
                    window=window,
                    states=states,
                    at=at,
                    texts=texts,
                )
            )
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
    hosts: Sequence[str],
    window: Window,
    states: Mapping[StateKey, HostComponentState],
    at: datetime,
    texts: _InstantTexts,
) -> Decision:
    gate = _gate_block(schedule, env, component, states, at)
    if gate is not None:
        return Decision(env.name, component.name, False, gate, window=window)
    judged = _judge_hosts(hosts, component, window=window, states=states, at=at, texts=texts)
    label = component.frequency.label
    total = len(judged.hosts)
    if not judged.due:
        reason = f"{label}, {_summarise(judged.not_due)}"
        if total > 1 and len(judged.not_due) == 1:
            reason += f" on all {total} hosts"
        return Decision(env.name, component.name, False, reason, judged.hosts, window)
    due = sum(len(names) for names in judged.due.values())
    scope = f"due on all {total} hosts" if due == total else f"due on {due} of {total} hosts"
    return Decision(
        env.name,
        component.name,
        True,
        f"{label}, {scope}: {_summarise(judged.due, named=due < total)}",
        judged.hosts,
        window,
    )


def _summarise(groups: Mapping[str, Sequence[str]], *, named: bool = False) -> str:
    """Hosts grouped by reason: ``x`` when all agree (unless `named`), else ``x (a); y``."""
    if len(groups) == 1 and not named:
        return next(iter(groups))
    return "; ".join(f"{reason} ({', '.join(names)})" for reason, names in groups.items())


@dataclass(frozen=True, slots=True)
class _Judged:
    """Every host's decision, and the hosts grouped by reason: the due ones, the others.

    Each group lists its hosts in inventory order; groups are in the order of their
    first host.
    """

    hosts: tuple[HostDecision, ...]
    due: dict[str, list[str]]
    not_due: dict[str, list[str]]


class _InstantTexts:
    """`format_instant` in UTC, once per instant: 100,000 hosts share a few thousand.

    `known` holds the texts made so far, by instant. Only instants of a fixed offset
    are remembered: two instants a fold apart in a zone with a repeated hour compare
    equal, two equal instants of fixed offsets are one instant (and one text), and an
    instant of any zone equals one of them only if it is the same instant.
    """

    __slots__ = ("known",)

    def __init__(self) -> None:
        self.known: dict[datetime, str] = {}

    def __call__(self, instant: datetime) -> str:
        """``2026-11-25 03:00 UTC`` for `instant`."""
        text = format_instant(instant)
        if type(instant.tzinfo) is timezone:
            self.known[instant] = text
        return text


def _judge_hosts(
    hosts: Sequence[str],
    component: Component,
    *,
    window: Window,
    states: Mapping[StateKey, HostComponentState],
    at: datetime,
    texts: _InstantTexts,
) -> _Judged:
    """Whether `component` is due on each host, and why (the rules in the module's docstring).

    One loop over the hosts, since a plan may decide for 100,000 of them.
    """
    name = component.name
    interval = component.frequency.interval
    # One window of slack so a weekly update in a weekly window does not slip to every
    # other week when last week's run finished later in its window than this one starts.
    slack = min(window.duration, interval)
    not_before = interval - slack
    start, end = window.start, window.end
    lookup, known = states.get, texts.known
    decisions: list[HostDecision] = []
    due: dict[str, list[str]] = {}
    not_due: dict[str, list[str]] = {}
    for host in hosts:
        state = lookup((host, name))
        if state is None:
            is_due, reason = True, "never updated"
        else:
            success, failure = state.last_success, state.last_failure
            if failure is not None and (success is None or failure > success):
                when = known.get(failure) or texts(failure)
                if failure >= start:
                    is_due = False
                    reason = f"failed at {when} in this window; retried in the next window"
                else:
                    is_due, reason = True, f"last attempt failed at {when}"
            elif success is None:
                is_due, reason = True, "never updated"
            elif success < start and at - success >= not_before:
                is_due, reason = True, f"last success {known.get(success) or texts(success)}"
            else:
                due_from = max(success + interval - slack, end)
                is_due = False
                reason = (
                    f"last success {known.get(success) or texts(success)}, "
                    f"next due from {known.get(due_from) or texts(due_from)}"
                )
        decisions.append(_host_decision(host, is_due, reason))
        groups = due if is_due else not_due
        named = groups.get(reason)
        if named is None:
            groups[reason] = [host]
        else:
            named.append(host)
    return _Judged(tuple(decisions), due, not_due)


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
