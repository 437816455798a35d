"""The parser's internal records: kinds of result record, counter positions, plays.

Nothing here reads an event; `dispatch` fills these records, `rescue` and
`decisions` read them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter

from agentmaint.records import TaskResult, TaskStatus
from agentmaint.slots import slot_setters

# Kinds of result record.
_PLAIN = 0  # counted when fed; status final
_FAIL = 1  # non-ignored failure: rescued or failures, decided from the stream's structure
_UNREACH = 2  # unreachable: dark, or ok + ignored under ignore_unreachable
_INCLUDE_FAIL = 3  # an included file that could not be loaded: failures
_UNCOUNTED = 4  # a skipped meta task: a result, but no counter moves

# Positions in a host's list of counters.
_OK, _CHANGED, _FAILURES, _UNREACHABLE, _SKIPPED, _RESCUED, _IGNORED = range(7)

_Decisions = dict[int, tuple[TaskStatus, bool]]

# `_with_status`: a result's fields in `TaskResult`'s positional order (all are init fields)
_RESULT_FIELDS = attrgetter(*(f.name for f in fields(TaskResult)))
_STATUS_POSITION = [f.name for f in fields(TaskResult)].index("status")

# `_new_result`: the fields it sets, in this order (`agentmaint.slots`)
_NEW_RESULT_FIELDS = (
    "host",
    "play",
    "task",
    "status",
    "role",
    "module",
    "start",
    "end",
    "duration",
    "rc",
    "message",
    "play_uuid",
    "task_uuid",
    "counter",
)
_SETTERS = slot_setters(TaskResult, _NEW_RESULT_FIELDS)
_new_object = object.__new__
(
    _set_host,
    _set_play,
    _set_task,
    _set_status,
    _set_role,
    _set_module,
    _set_start,
    _set_end,
    _set_duration,
    _set_rc,
    _set_message,
    _set_play_uuid,
    _set_task_uuid,
    _set_counter,
) = _SETTERS or (getattr(TaskResult, name).__set__ for name in _NEW_RESULT_FIELDS)


def _new_result(  # noqa: PLR0917 -- `TaskResult`'s fields, positional
    host: str,
    play: str,
    task: str,
    status: TaskStatus,
    role: str | None,
    module: str | None,
    start: datetime | None,
    end: datetime | None,
    duration: float | None,
    rc: int | None,
    message: str | None,
    play_uuid: str | None,
    task_uuid: str | None,
    counter: int,
) -> TaskResult:
    """``TaskResult(host, play, ...)`` (every field, positional) at half its cost.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
    (about 2 us for `TaskResult`'s 14, the largest single cost of a task result's parse);
    this sets the slots directly. The same object: `TaskResult` has no ``__post_init__``
    or field conversions to skip, and when that changes (`agentmaint.slots.slot_setters`)
    `TaskResult` itself is used (``tests/unit/test_events_fast_paths.py`` checks both).
    """
    result = _new_object(TaskResult)
    _set_host(result, host)
    _set_play(result, play)
    _set_task(result, task)
    _set_status(result, status)
    _set_role(result, role)
    _set_module(result, module)
    _set_start(result, start)
    _set_end(result, end)
    _set_duration(result, duration)
    _set_rc(result, rc)
    _set_message(result, message)
    _set_play_uuid(result, play_uuid)
    _set_task_uuid(result, task_uuid)
    _set_counter(result, counter)
    return result


if _SETTERS is None:  # pragma: no cover -- a changed `TaskResult`: the safe way
    _new_result = TaskResult


def _with_status(result: TaskResult, status: TaskStatus) -> TaskResult:
    """``dataclasses.replace(result, status=status)`` at a fifth of its cost.

    A big run re-decides 10,000s of failures (rescued, failed), each a copy of its result.
    """
    values = list(_RESULT_FIELDS(result))
    values[_STATUS_POSITION] = status
    return _new_result(*values)


class _Results:
    """The task results so far and the bookkeeping behind each, by position in the stream.

    Parallel arrays rather than an object per result: a big run keeps one `TaskResult`
    and two bytes per result, plus a decision for each failure and unreachable.
    """

    __slots__ = ("decisions", "handler", "kind", "shown")

    def __init__(self) -> None:
        # each result with every decision taken so far, and the running play's failures
        # as provisionally shown
        self.shown: list[TaskResult] = []
        self.kind = bytearray()  # _PLAIN, _FAIL...
        self.handler = bytearray()  # 1 for a handler's result
        # _FAIL and _UNREACH results whose status is final and counted in the base
        self.decisions: dict[int, TaskStatus] = {}


@dataclass(slots=True)
class _Fold:
    """The loop items seen so far for one (task, host)."""

    ok: int = 0
    failed: int = 0
    skipped: int = 0
    changed: bool = False
    message: str | None = None
    rc: int | None = None


@dataclass(slots=True)
class _Play:
    """What the rescue analysis needs about the play being run (all its serial batches)."""

    uuid: str | None  # the play uuid without ansible-runner's batch suffix
    handlers: set[str] = field(default_factory=set)  # task uuids of handlers
    timeline: dict[str, array[int]] = field(default_factory=dict)  # host -> result indexes
    failures: list[int] = field(default_factory=list)  # undecided failures (result indexes)
    # host -> failures its later results have not yet shown it went on from
    waiting: dict[str, list[int]] = field(default_factory=dict)
    # host -> counters of the undecided failures, as provisionally shown
    values: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Analysis:
    """Decisions about the failures of one play.

    `groups` maps each ambiguous failure to the failures that share its verdict
    (the same task of the same play); `chain` maps an ambiguous failure to its
    host's next failure, when that one being unrescued makes this one unrescued.
    """

    decisions: _Decisions = field(default_factory=dict)
    groups: dict[int, tuple[int, ...]] = field(default_factory=dict)
    chain: dict[int, int] = field(default_factory=dict)
