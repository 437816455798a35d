"""The geometry of a run's timeline: one row per host, one bar per recorded task.

`layout` turns the task results the history keeps (each with its start and end) into
rectangles on a time axis that starts at the run's start: x in pixels from the seconds
since then, one row per host in the order hosts first appear. Pure: the template only
draws what this computes, so every position is tested here without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from agentmaint.records import TaskResult

__all__ = ["Bar", "Lane", "Tick", "Timeline", "layout"]

#: Left margin for the host names, and the drawing's other fixed sizes, in pixels.
LABEL_WIDTH = 180
PLOT_WIDTH = 720
LANE_HEIGHT = 22
BAR_HEIGHT = 14
AXIS_HEIGHT = 26
#: The axis's steps in seconds: they read well as seconds, minutes and hours.
_STEPS = (
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
)
#: A task shorter than a pixel still shows.
MIN_BAR_WIDTH = 2.0


@dataclass(frozen=True, slots=True)
class Bar:
    """One task on one host: a rectangle, and what its tooltip says."""

    host: str
    task: str
    status: str  # a `TaskStatus` value: the bar's colour
    x: float
    y: float
    width: float
    start_s: float  # seconds since the run's start
    end_s: float


@dataclass(frozen=True, slots=True)
class Lane:
    """One host's row: its name drawn at (`LABEL_WIDTH` - 6, `text_y`)."""

    host: str
    y: float
    text_y: float


@dataclass(frozen=True, slots=True)
class Tick:
    """A mark on the time axis at `x`, labelled with its seconds since the start."""

    x: float
    label: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """The whole drawing: its size, the host lanes, the task bars and the axis ticks."""

    width: int
    height: int
    lanes: tuple[Lane, ...]
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    span_s: float  # the seconds the plot's width stands for
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT
    axis_y: float = 0.0


def layout(tasks: Sequence[TaskResult], origin: datetime, end: datetime | None = None) -> Timeline:
    """The timeline of `tasks` from `origin` (the run's start) to `end` or the last task's end.

    Tasks without both a start and an end are left out (nothing to place them by).
    """
    timed = [t for t in tasks if t.start is not None and t.end is not None]
    hosts: list[str] = []
    for task in sorted(timed, key=lambda t: (t.start, t.counter)):
        if task.host not in hosts:
            hosts.append(task.host)
    offsets = [_seconds(t.end, origin) for t in timed]  # type: ignore[arg-type]
    if end is not None:
        offsets.append(_seconds(end, origin))
    span = max([1.0, *offsets])
    scale = PLOT_WIDTH / span
    row = {host: index for index, host in enumerate(hosts)}
    lanes = tuple(
        Lane(host=host, y=index * LANE_HEIGHT, text_y=index * LANE_HEIGHT + LANE_HEIGHT * 0.7)
        for index, host in enumerate(hosts)
    )
    bars = []
    for task in timed:
        start_s = max(0.0, _seconds(task.start, origin))  # type: ignore[arg-type]
        end_s = max(start_s, _seconds(task.end, origin))  # type: ignore[arg-type]
        bars.append(
            Bar(
                host=task.host,
                task=task.task,
                status=task.status.value,
                x=round(LABEL_WIDTH + start_s * scale, 2),
                y=row[task.host] * LANE_HEIGHT + (LANE_HEIGHT - BAR_HEIGHT) / 2,
                width=round(max(MIN_BAR_WIDTH, (end_s - start_s) * scale), 2),
                start_s=round(start_s, 3),
                end_s=round(end_s, 3),
            )
        )
    axis_y = len(hosts) * LANE_HEIGHT
    step = _tick_step(span)
    ticks = tuple(
        Tick(x=round(LABEL_WIDTH + n * step * scale, 2), label=_tick_label(n * step))
        for n in range(int(span // step) + 1)
    )
    return Timeline(
        width=LABEL_WIDTH + PLOT_WIDTH + 20,
        height=int(axis_y + AXIS_HEIGHT),
        lanes=lanes,
        bars=tuple(bars),
        ticks=ticks,
        span_s=span,
        axis_y=axis_y,
    )


def _seconds(moment: datetime, origin: datetime) -> float:
    return (moment - origin).total_seconds()


def _tick_step(span: float) -> float:
    """A round step giving at most about 8 ticks over `span` seconds (whole minutes or hours)."""
    raw = span / 8
    for step in _STEPS:
        if step >= raw:
            return step
    return 3600.0 * math.ceil(raw / 3600)


def _tick_label(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
