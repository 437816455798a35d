"""What the planner needs to know of the past, behind a small typed interface.

The planner asks one question, once per plan: for these hosts and components,
when did each last succeed and when did it last fail? `HistoryReader` is that
question as a `typing.Protocol`; nothing has to subclass it. `MemoryHistory`
answers it from attempts held in memory (tests, scripts, dry runs); the
persistent store answers it with one indexed query.

A run asks a second one, `DurationReader`, before it renders a play with more hosts
than forks: how long did this component's steps take on its hosts lately? (Whether
the play waits for its hosts in the background, `agentmaint.run.background_choice`.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt to update `component` on `server`: its instant and whether it succeeded.

    An attempt succeeds when the update succeeded and its health check (if any)
    passed; a failed backup, update or health check, an unreachable host or a
    rollback make it a failure.
    """

    server: str
    component: str
    at: datetime
    ok: bool


@dataclass(frozen=True, slots=True)
class HostComponentState:
    """The latest success and latest failure of a component on a host."""

    last_success: datetime | None = None
    last_failure: datetime | None = None

    @property
    def last_attempt_failed(self) -> bool:
        """Whether the most recent attempt failed."""
        if self.last_failure is None:
            return False
        return self.last_success is None or self.last_failure > self.last_success

    def with_attempt(self, at: datetime, ok: bool) -> HostComponentState:
        """Return the state after one more attempt."""
        if ok:
            latest = at if self.last_success is None else max(self.last_success, at)
            return HostComponentState(latest, self.last_failure)
        latest = at if self.last_failure is None else max(self.last_failure, at)
        return HostComponentState(self.last_success, latest)


StateKey = tuple[str, str]
"""(server, component)"""


class HistoryReader(Protocol):
    """Anything that can tell the planner the state of components on hosts."""

    def states(
        self, servers: Collection[str], components: Collection[str]
    ) -> Mapping[StateKey, HostComponentState]:
        """States keyed by (server, component); pairs never attempted may be absent."""
        ...


@dataclass(frozen=True, slots=True)
class StepDuration:
    """How long one recorded task (a step of a component) took on one host in one run."""

    run_id: str
    host: str
    task: str
    seconds: float


class DurationReader(Protocol):
    """Anything that can tell how long a component's steps took in recent runs."""

    def step_durations(
        self, play: str, component: str, hosts: Collection[str], runs: int
    ) -> Sequence[StepDuration]:
        """The timed task results of `play` in its latest `runs` runs.

        The runs are the latest that attempted `component` on any of `hosts` (check-mode
        runs attempt nothing); none if no run did.
        """
        ...


class MemoryHistory:
    """A `HistoryReader` over attempts kept in memory (and a `DurationReader` of `durations`)."""

    def __init__(
        self, attempts: Iterable[Attempt] = (), durations: Iterable[StepDuration] = ()
    ) -> None:
        """Start from `attempts` (any order) and the step `durations` of the runs of a play.

        `step_durations` answers from `durations` for every play and component (the
        reader of a test, or of a history never created: none).
        """
        self._states: dict[StateKey, HostComponentState] = {}
        self._durations = tuple(durations)
        for attempt in attempts:
            self.record(attempt)

    def step_durations(
        self, play: str, component: str, hosts: Collection[str], runs: int
    ) -> Sequence[StepDuration]:
        """The durations given, of the first `runs` runs among them."""
        kept = list(dict.fromkeys(d.run_id for d in self._durations))[:runs]
        return [d for d in self._durations if d.run_id in kept]

    def record(self, attempt: Attempt) -> None:
        """Add one attempt."""
        key = (attempt.server, attempt.component)
        self._states[key] = self._states.get(key, HostComponentState()).with_attempt(
            attempt.at, attempt.ok
        )

    def states(
        self, servers: Collection[str], components: Collection[str]
    ) -> Mapping[StateKey, HostComponentState]:
        """States of the given servers and components."""
        wanted_servers, wanted_components = set(servers), set(components)
        return {
            key: state
            for key, state in self._states.items()
            if key[0] in wanted_servers and key[1] in wanted_components
        }
