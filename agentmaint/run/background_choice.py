"""Whether each fused play waits for its hosts in the background (``execution.background``).

A fused play with more hosts than the run's forks either runs in waves of forks (each
host one round trip, a wave waiting for its slowest host before the next starts) or in the
background (`agentmaint.ansible.render.Background`: every host's job started, then waited
for: two round trips per host, but one wait for the whole batch). ``true`` and ``false``
force one or the other; ``auto`` (the default) weighs them with a small cost model:

    background wins when  (waves - batches) x expected  >  hosts x EXTRA_SECONDS_PER_HOST

`expected` is how long the component's steps took per host in its latest runs (the median
over hosts and `RECENT_RUNS` runs of each host's backup + update + health check + rollback,
read from the history: `agentmaint.planning.history.DurationReader`); `batches` are
``rollout.serial``'s (each batch is one wave in the background, ``ceil(batch / forks)`` in
waves). With nothing recorded yet (a component's first run) the play goes to the
background: real updates (packages, images, models) take seconds to minutes, and the
next run learns. A play with no more hosts than forks is one wave: nothing to choose, and
no history is read for it.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from agentmaint.ansible.naming import Target, parse_task, play_name
from agentmaint.ansible.render import Background, can_fuse
from agentmaint.config.schedule import Schedule
from agentmaint.planning.history import DurationReader

__all__ = [
    "EXTRA_SECONDS_PER_HOST",
    "RECENT_RUNS",
    "PlayChoice",
    "background_for",
    "choose",
    "expected_seconds",
    "waves",
]

logger = logging.getLogger(__name__)

#: What a host costs more in the background than in a wave, in controller seconds: its
#: second round trip (the start, then the wait), less what the waves hide (each wave's
#: first hosts wait while its last ones start). Fitted to the crossovers measured with
#: ``bench/bench_wait.py --variants waves,background`` on the project's 2-core controller
#: (BENCHMARKS.md, "The background by default where it wins"): 200 local hosts (3 waves
#: of 80 forks) cross between 3 s and 4 s updates (about 3.3 s), 500 (7 waves) at about
#: 4 s; 0.04 s puts the model's at 4.0 s and 3.3 s. (At ``sleep 0`` the background costs
#: 28 ms a host more: alone it would put them at 2.8 s and 2.3 s, too early.)
EXTRA_SECONDS_PER_HOST = 0.04
#: How many of a component's latest runs its expected duration is read from.
RECENT_RUNS = 3
#: How many of a play's hosts find those runs in the history (any run that updated the
#: component on the play's hosts updated these too, unless it was limited to others).
_SAMPLE_HOSTS = 8


@dataclass(frozen=True, slots=True)
class PlayChoice:
    """How one fused play with more hosts than forks waits for its hosts, and why."""

    environment: str
    component: str
    hosts: int
    background: bool
    reason: str

    def describe(self) -> str:
        """One line for the operator: the play, the choice, the reason."""
        how = "in the background" if self.background else "in waves of forks"
        return f"{self.environment} | {self.component} ({self.hosts} hosts): {how}: {self.reason}"


def choose(
    schedule: Schedule,
    targets: Iterable[Target],
    *,
    forks: int,
    durations: DurationReader | None,
) -> tuple[PlayChoice, ...]:
    """The choice of each fused play of `targets` with more hosts than `forks`.

    Plays that are not fused, or no bigger than `forks`, have none (they run as they
    always did). `durations` is read only under ``auto``, only for those plays; None
    (no history) reads as nothing recorded.
    """
    mode = schedule.execution.background
    choices: list[PlayChoice] = []
    for t in targets:
        hosts = len(t.hosts)
        if hosts <= forks or not schedule.execution.fused:
            continue
        if not can_fuse(schedule, schedule.components[t.component]):
            continue
        if mode is not None:
            reason = f"execution.background is {'true' if mode else 'false'}"
            choices.append(PlayChoice(t.environment, t.component, hosts, mode, reason))
            continue
        choices.append(_auto(schedule, t, forks, durations))
    return tuple(choices)


def _auto(
    schedule: Schedule, target: Target, forks: int, durations: DurationReader | None
) -> PlayChoice:
    hosts = len(target.hosts)
    serial = target.serial
    if serial is None:
        serial = schedule.environments[target.environment].rollout.serial
    in_waves, batches = waves(hosts, serial, forks), len(_batches(hosts, serial))

    def chosen(background: bool, reason: str) -> PlayChoice:
        return PlayChoice(target.environment, target.component, hosts, background, reason)

    if in_waves <= batches:
        return chosen(False, f"rollout.serial's batches fit in {forks} forks: one wave each")
    expected = (
        expected_seconds(durations, target.environment, target.component, target.hosts)
        if durations is not None
        else None
    )
    if expected is None:
        return chosen(True, "no duration recorded yet (the next run learns it)")
    waiting = (in_waves - batches) * expected
    cost = hosts * EXTRA_SECONDS_PER_HOST
    said = (
        f"recorded {expected:.1f} s per host: {in_waves} waves of {forks} forks wait "
        f"{waiting:.1f} s more than {batches} background batch(es), whose second round "
        f"trip costs {cost:.1f} s"
    )
    return chosen(waiting > cost, said)


def expected_seconds(
    durations: DurationReader, environment: str, component: str, hosts: Iterable[str]
) -> float | None:
    """How long `component`'s steps took per host in its latest runs (None: never recorded).

    Each (run, host) counts the sum of its steps' durations (backup, update, health
    check, rollback: the fused task's work, whichever path recorded it); the median of
    those sums is returned.
    """
    sample = sorted(hosts)[:_SAMPLE_HOSTS]
    found = durations.step_durations(
        play_name(environment, component), component, sample, RECENT_RUNS
    )
    per_host: dict[tuple[str, str], float] = {}
    for step in found:
        if parse_task(step.task) is not None:
            key = (step.run_id, step.host)
            per_host[key] = per_host.get(key, 0.0) + max(step.seconds, 0.0)
    return statistics.median(per_host.values()) if per_host else None


def waves(hosts: int, serial: int | str | None, forks: int) -> int:
    """How many waves of `forks` a play of `hosts` runs in, batch after batch of `serial`."""
    return sum(-(-size // max(forks, 1)) for size in _batches(hosts, serial))


def _batches(hosts: int, serial: int | str | None) -> list[int]:
    """The sizes of the batches of ``serial`` (a count or ``N%``, as Ansible reads it)."""
    size = hosts
    if isinstance(serial, int) and serial > 0:
        size = serial
    elif isinstance(serial, str):
        text = serial.strip()
        if text.endswith("%") and text[:-1].strip().isdigit():
            size = max(1, hosts * int(text[:-1]) // 100)  # Ansible rounds down, at least 1
        elif text.isdigit() and int(text) > 0:
            size = int(text)
    size = max(1, min(size, hosts))
    full, rest = divmod(hosts, size)
    return [size] * full + ([rest] if rest else [])


def background_for(choices: Iterable[PlayChoice], *, forks: int, timeout: int) -> Background | None:
    """What the renderer needs of `choices`: the plays that go to the background (None: none)."""
    plays = frozenset((c.environment, c.component) for c in choices if c.background)
    return Background(forks, timeout, plays) if plays else None


def log_choices(choices: Iterable[PlayChoice]) -> None:
    """Say which way each play went and why (the run's log, at INFO).

    In JSON logs, the event is ``background_chosen`` or ``waves_chosen``.
    """
    for choice in choices:
        logger.info(
            "fused play %s",
            choice.describe(),
            extra={
                "event": "background_chosen" if choice.background else "waves_chosen",
                "environment": choice.environment,
                "component": choice.component,
                "hosts": choice.hosts,
            },
        )
