"""The live view of a run on a terminal: what runs now, how long, how many hosts are done.

`LiveProgress` is a `RunObserver` the ``run`` and ``demo`` commands give to a run when
stdout is a terminal (piped, as a timer runs it, there is no redraw: the log's plain
lines say what happens). It shows, in a bounded number of lines whatever the fleet's
size:

* the run, its status, the time elapsed and the hosts done of the hosts due;
* the running batch (the hosts with a task under way, and the environment's
  ``rollout.serial``), each with its step (backup, update, healthcheck, rollback) and how
  long it has run; beyond `MAX_RUNNING` hosts the rest are grouped;
* what is done, grouped by component and outcome (``succeeded: app-01..app-11 (11
  hosts)``), and the hosts still waiting.

The playbook's internal tasks (the rescue's ``Failed | <component>``, the error budget's
gate) are never shown by name: they say how a host ended, or nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from agentmaint.ansible.naming import INTERNAL, TASK_SEPARATOR
from agentmaint.cli.hostgroups import hosts_phrase, natural_key
from agentmaint.planning.planner import Plan
from agentmaint.records import Action, RunRecord, RunStatus, TaskStatus
from agentmaint.run.observer import BaseObserver
from agentmaint.run.results import Progress, RunResult, TaskStart

__all__ = ["MAX_RUNNING", "LiveProgress", "elapsed"]

#: Running hosts shown one per line; more are grouped on one line.
MAX_RUNNING = 8

_BAD = frozenset({TaskStatus.FAILED, TaskStatus.UNREACHABLE})
_GOOD = frozenset({TaskStatus.OK, TaskStatus.CHANGED, TaskStatus.SKIPPED, TaskStatus.IGNORED})
_OUTCOME_STYLE = {
    "succeeded": "green",
    "skipped": "dim",
    "failed, rolled back": "red",
    "failed": "bold red",
    "unreachable": "bold magenta",
    "rollback failed: needs attention": "bold red reverse",
    "not reached": "dim",
    "interrupted": "bold red",
}

#: How a host ends a component when it was left out (failed before, or the run stopped).
_NOT_REACHED = "not reached"
#: How a host ends a component it had started when the run stopped under it (canceled,
#: timed out): the result table says ``interrupted while running``, not "not reached".
_INTERRUPTED = "interrupted"
#: Run statuses that stop the hosts' steps where they are.
_STOPPED = frozenset({RunStatus.CANCELED, RunStatus.TIMEOUT, RunStatus.INTERRUPTED})
#: Outcomes after which Ansible still runs the host's later plays.
_REACHES_ON = frozenset({"succeeded", "skipped"})

Key = tuple[str, str, str]  # (environment, component, host)


@dataclass(slots=True)
class _Step:
    """Where one component stands on one host."""

    label: str  # what runs or ran last, e.g. "update", "healthcheck failed"
    since: float  # the clock when the current step started
    running: bool = False
    outcome: str | None = None  # set once the host is done with the component
    rolled_back: bool = False


def elapsed(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: a duration as the live view says it."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class LiveProgress(BaseObserver):
    """A bounded live view of a run (see the module): a `RunObserver`.

    `final_actions`: per component, the action whose success ends it on a host
    (``healthcheck`` when it has one, else ``update``); `serial`: per environment, its
    ``rollout.serial`` (shown with the batch). `clock` (monotonic seconds) is for tests;
    without a `console` the view is only built (`render`), never shown.
    """

    def __init__(
        self,
        console: Console | None,
        *,
        final_actions: Mapping[str, Action] | None = None,
        serial: Mapping[str, int | str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the view on `console` (shown between __enter__ and __exit__)."""
        self._final = dict(final_actions or {})
        self._serial = dict(serial or {})
        self._clock = clock
        self._start = clock()
        self._run_id = ""
        self._status = "starting"
        self._planned: dict[Key, None] = {}
        self._steps: dict[Key, _Step] = {}
        self._live = (
            Live(
                console=console,
                refresh_per_second=4,
                transient=True,
                get_renderable=self.render,
            )
            if console is not None
            else None
        )

    def __enter__(self) -> LiveProgress:
        """Start showing progress."""
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop showing progress (the run's result table follows it)."""
        if self._live is not None:
            self._live.__exit__(kind, value, traceback)

    # The observer's side: each hook only updates the state; the view is drawn on refresh.

    def run_started(self, run: RunRecord, plan: Plan) -> None:
        """Note the run and every (environment, component, host) it is to maintain."""
        self._run_id = run.id
        self._start = self._clock()
        for decision in plan.decisions:
            if decision.due:
                for host in decision.servers:
                    self._planned[(decision.environment, decision.component, host)] = None

    def status_changed(self, status: str) -> None:
        """Show ansible-runner's status of the job."""
        self._status = status

    def task_started(self, start: TaskStart) -> None:
        """A step started on a host: it is running (and the host in the current batch)."""
        key = (start.environment, start.component, start.host)
        if not start.environment or not start.component:
            return  # a foreign play: nothing of ours to show
        step = self._step(key)
        if step.outcome is not None:
            return
        step.running = True
        step.since = self._clock()
        if start.action is not None:
            step.label = start.action.value
        elif not start.task.startswith(INTERNAL + TASK_SEPARATOR):
            step.label = "waiting for its batch"  # the error budget's gate
        # The rescue's final task keeps the label ("healthcheck failed").

    def task_finished(self, progress: Progress) -> None:
        """A step finished on a host: the host moves on, or is done with the component."""
        if not progress.environment or not progress.component:
            return
        key = (progress.environment, progress.component, progress.host)
        step = self._step(key)
        if step.outcome is not None:
            return
        step.running = False
        step.since = self._clock()
        self._advance(step, progress)
        if step.outcome is not None and step.outcome not in _REACHES_ON:
            # Ansible leaves a failed host out of every later play: what it still had
            # to do is not reached (the demo's demo-3 never starts its model update).
            for later in self._planned:
                if later[0] == key[0] and later[2] == key[2] and later not in self._steps:
                    self._steps[later] = _Step("not reached", self._clock(), outcome=_NOT_REACHED)

    def _advance(self, step: _Step, progress: Progress) -> None:
        """Where a finished task leaves the host: its next label, or its outcome."""
        result, action = progress.result, progress.action
        if result.status is TaskStatus.UNREACHABLE:
            step.outcome = "unreachable"
        elif action is None:
            if result.task.startswith(INTERNAL + TASK_SEPARATOR):
                step.outcome = "failed, rolled back" if step.rolled_back else "failed"
        elif action is Action.ROLLBACK:
            if result.status in _BAD:
                step.outcome = "rollback failed: needs attention"
            else:
                step.rolled_back = True
                step.label = "rolled back"
        elif result.status in _BAD or result.status is TaskStatus.RESCUED:
            if action is Action.BACKUP:
                step.outcome = "failed"  # no rescue: the update never starts
            else:
                step.label = f"{action.value} failed"
        elif action is self._final.get(progress.component) and result.status in _GOOD:
            step.outcome = "skipped" if result.status is TaskStatus.SKIPPED else "succeeded"
        else:
            step.label = f"{action.value} done"

    def run_finished(self, result: RunResult) -> None:
        """The run ended: its status; whatever never started was not reached.

        A step under way when the run was stopped (canceled, timed out) was interrupted:
        saying "not reached" of a host whose update had run for minutes would mislead.
        """
        stopped = result.run is not None and result.run.status in _STOPPED
        if result.run is not None:
            self._status = result.run.status.value
        for key in self._planned:
            step = self._steps.get(key)
            if step is None:
                self._steps[key] = _Step("not reached", self._clock(), outcome=_NOT_REACHED)
            elif step.outcome is None:
                step.outcome = _INTERRUPTED if stopped else _NOT_REACHED

    def _batch_heading(self, running: list[Key], several: bool) -> str:
        """``Current batch 3 of 8 (serial 5):``, per environment when several run."""
        parts: list[str] = []
        numbers = ""
        for env in sorted({env for env, _, _ in running}):
            serial = self._serial.get(env)
            if serial is None:
                continue
            component = next(key[1] for key in running if key[0] == env)
            batch = self._batch_number(env, component, serial)
            if several:
                parts.append(f"{env}: {batch[0]} of {batch[1]}, serial {serial}")
            else:
                numbers = f" {batch[0]} of {batch[1]}"
                parts.append(f"serial {serial}")
        detail = f" ({'; '.join(parts)})" if parts else ""
        return f"Current batch{numbers}{detail}:"

    def _batch_number(self, env: str, component: str, serial: int | str) -> tuple[int, int]:
        """Which of its batches a component's play in `env` runs, and how many it has.

        Ansible's batches: `serial` hosts at a time (a percentage of the play's hosts,
        rounded down, at least 1); a batch starts when the previous one has ended, so
        the hosts done so far say which batch runs.
        """
        keys = [key for key in self._planned if key[0] == env and key[1] == component]
        total = max(1, len(keys))
        if isinstance(serial, str):
            size = max(1, int(float(serial.rstrip("%")) / 100 * total))
        else:
            size = max(1, serial)
        done = sum(1 for key in keys if (step := self._steps.get(key)) is not None and step.outcome)
        batches = -(-total // size)
        return min(done // size + 1, batches), batches

    def _step(self, key: Key) -> _Step:
        step = self._steps.get(key)
        if step is None:
            step = self._steps[key] = _Step(label="starting", since=self._clock())
            self._planned.setdefault(key, None)
        return step

    # The view.

    def render(self) -> Group:
        """The view now: a few lines, however many hosts the run has."""
        now = self._clock()
        hosts = {(env, host) for env, _, host in self._planned}
        done_hosts = {
            (env, host)
            for env, host in hosts
            if all(
                self._steps.get(key) is not None and self._steps[key].outcome is not None
                for key in self._planned
                if key[0] == env and key[2] == host
            )
        }
        several = len({env for env, _ in hosts}) > 1
        header = Text(f"Run {self._run_id or '(starting)'}: ", style="bold")
        header.append(self._status)
        header.append(f"  {elapsed(now - self._start)} elapsed")
        header.append(f"  hosts {len(done_hosts)}/{len(hosts)} done")
        lines: list[Text] = [header]
        running = sorted(
            (key for key, step in self._steps.items() if step.outcome is None),
            key=lambda key: (key[0], key[1], natural_key(key[2])),
        )
        if running:
            lines.append(Text(self._batch_heading(running, several), style="bold"))
            for env, component, host in running[:MAX_RUNNING]:
                step = self._steps[(env, component, host)]
                where = f"{env}/{component}" if several else component
                line = Text(f"  {host}  {where}  ")
                line.append(step.label, style="yellow" if step.running else "")
                if step.running:
                    line.append(f" ({elapsed(now - step.since)})", style="dim")
                lines.append(line)
            rest = running[MAX_RUNNING:]
            if rest:
                lines.append(Text(f"  and {hosts_phrase(h for _, _, h in rest)} more"))
        groups: dict[tuple[str, str, str], list[str]] = {}
        for (env, component, host), step in self._steps.items():
            if step.outcome is not None:
                groups.setdefault((env, component, step.outcome), []).append(host)
        if groups:
            lines.append(Text("Done:", style="bold"))
        for (env, component, outcome), names in sorted(groups.items()):
            line = Text(f"  {env}/{component}" if several else f"  {component}")
            line.append(f" {outcome}", style=_OUTCOME_STYLE.get(outcome, ""))
            line.append(f": {hosts_phrase(names)}")
            lines.append(line)
        waiting: dict[tuple[str, str], list[str]] = {}
        for env, component, host in self._planned:
            if (env, component, host) not in self._steps:
                waiting.setdefault((env, component), []).append(host)
        for (env, component), names in waiting.items():
            where = f"{env}/{component}" if several else component
            lines.append(Text(f"Waiting for {where}: {hosts_phrase(names)}"))
        return Group(*lines)
