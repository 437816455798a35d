"""The parser's internal records: kinds of result record, counter positions, plays.

Nothing here reads an event; `dispatch` fills these records, `rescue` and
`decisions` read them.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, fields
from operator import attrgetter

from agentmaint.records import TaskResult, TaskStatus

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


def _with_status(result: TaskResult, status: TaskStatus) -> TaskResult:
    """``dataclasses.replace(result, status=status)`` at a third of its cost.

    A big run re-decides 10,000s of failures (rescued, failed), each a copy of its result.
    """
    values = list(_RESULT_FIELDS(result))
    values[_STATUS_POSITION] = status
    return TaskResult(*values)  # record index -> (status, still ambiguous)


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
