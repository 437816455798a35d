"""Rescue analysis: whether each failure of a play was rescued, from the stream's shape.

No event says whether a failure was rescued; `EventParser` (its class doc) gives
the evidence used, and `_analyse_play` weighs it for the failures of one play.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

from agentmaint.ansible.events.bookkeeping import (
    _FAIL,
    _INCLUDE_FAIL,
    _PLAIN,
    _UNCOUNTED,
    _Analysis,
    _Play,
    _Results,
)
from agentmaint.records import TaskStatus

# Evidence about one failure, strongest last.
_NO_EVIDENCE, _STOPPED_EARLY, _RAN_RESCUE, _NOTHING_AFTER = range(4)
_EVIDENCE_VERDICT = {
    _STOPPED_EARLY: TaskStatus.FAILED,
    _RAN_RESCUE: TaskStatus.RESCUED,
    _NOTHING_AFTER: TaskStatus.FAILED,
}

_PEER_LIMIT = 8  # clean peers consulted per failure: any one shows the block structure


class _Timeline:
    """One host's results in a play, indexed for the rescue analysis."""

    __slots__ = ("counters", "first", "indexes", "last", "play_uuid", "tasks")

    def __init__(self, records: _Results, indexes: Sequence[int]) -> None:
        self.indexes = indexes
        # the task of each position; None for handlers, which are left out
        self.tasks: list[str | None] = []
        self.counters: list[int] = []
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        shown, handler = records.shown, records.handler
        for position, index in enumerate(indexes):
            result = shown[index]
            task = None if handler[index] else result.task_uuid or ""
            self.tasks.append(task)
            self.counters.append(result.counter)
            if task is not None:
                self.first.setdefault(task, position)
                self.last[task] = position
        self.play_uuid = shown[indexes[0]].play_uuid if indexes else None

    def ran_after(self, task: str, position: int) -> bool:
        """Whether the host ran `task` after the given position."""
        return self.last.get(task, -1) > position

    def after_counter(self, counter: int) -> int:
        """The first position whose event came after `counter` in the stream."""
        return bisect_right(self.counters, counter)


def _peer_evidence(
    peers: list[_Timeline],
    host: _Timeline,
    position: int,
    window: set[str],
    last: int,
) -> tuple[set[str], bool]:
    """What clean peers say about the failure at `position` of `host`.

    A clean peer runs every ``always:`` task and every task after the block, so
    the tasks the failed host ran next (`window`, up to its next failure) that no
    clean peer ran after the failed task are ``rescue:`` tasks: they are returned.
    The flag says a clean peer went on, after the host's `last` position, with
    tasks the host never ran after the failure: the host stopped early.
    """
    failed_task = host.tasks[position]
    failed_counter = host.counters[position]
    anchored = [
        (peer, peer.first[failed_task] + 1)
        for peer in peers
        if failed_task is not None and failed_task in peer.first
    ][:_PEER_LIMIT]
    if not anchored:
        # e.g. a failure in a rescue section: anchor on stream order, which only means
        # something within one serial batch
        anchored = [
            (peer, peer.after_counter(failed_counter))
            for peer in peers
            if peer.play_uuid == host.play_uuid
        ][:_PEER_LIMIT]
    rescue_tasks: set[str] = set()
    stopped = False
    last_task, last_counter = host.tasks[last], host.counters[last]
    for peer, start in anchored:
        rescue_tasks.update(t for t in window if peer.last.get(t, -1) < start)
        if last_task is not None and peer.last.get(last_task, -1) >= start:
            later = peer.last[last_task] + 1
        elif peer.play_uuid == host.play_uuid:
            later = max(start, peer.after_counter(last_counter))
        else:
            continue
        stopped = stopped or any(
            t is not None and not host.ran_after(t, position) for t in peer.tasks[later:]
        )
    return rescue_tasks, stopped


def _failure_evidence(
    records: _Results,
    host: _Timeline,
    peers: list[_Timeline],
    task_runs: Mapping[str, int],
) -> tuple[dict[int, int], dict[int, int]]:
    """The evidence about each failure of one host, and each failure's next failure."""
    indexes = host.indexes
    evidence: dict[int, int] = {}
    following: dict[int, int] = {}
    kind, decisions = records.kind, records.decisions
    failures = [p for p, i in enumerate(indexes) if kind[i] == _FAIL and i not in decisions]
    troubled = sum(kind[i] in (_FAIL, _INCLUDE_FAIL) for i in indexes)
    last = max(host.last.values(), default=-1)  # the host's last non-handler position
    for n, position in enumerate(failures):
        index = indexes[position]
        if last <= position:
            evidence[index] = _NOTHING_AFTER
            continue
        final = n + 1 == len(failures)
        stop = len(indexes) if final else failures[n + 1] + 1
        if not final:
            following[index] = indexes[failures[n + 1]]
        window = {t for t in host.tasks[position + 1 : stop] if t is not None}
        rescue_tasks, stopped = _peer_evidence(peers, host, position, window, last)
        stopped = stopped and final
        if rescue_tasks and not (
            # The host's only failure, after which it stopped while clean peers went
            # on: the "rescue" tasks are run_once tasks of an always: section, seen
            # on this host only, unless more than one host ran them.
            stopped and troubled == 1 and all(task_runs[t] == 1 for t in rescue_tasks)
        ):
            evidence[index] = _RAN_RESCUE
        else:
            evidence[index] = _STOPPED_EARLY if stopped else _NO_EVIDENCE
    return evidence, following


def _analyse_play(records: _Results, play: _Play) -> _Analysis:
    """Rescued or failed, for each undecided failure of a play (see `EventParser`)."""
    kind, shown = records.kind, records.shown
    timelines = {host: _Timeline(records, indexes) for host, indexes in play.timeline.items()}
    clean = {
        host: timeline
        for host, timeline in timelines.items()
        if all(kind[i] in (_PLAIN, _UNCOUNTED) for i in timeline.indexes)
    }
    task_runs: dict[str, int] = {}
    for timeline in timelines.values():
        for task in timeline.tasks:
            if task is not None:
                task_runs[task] = task_runs.get(task, 0) + 1
    evidence: dict[int, int] = {}
    following: dict[int, int] = {}  # failure -> the same host's next failure
    for host, timeline in timelines.items():
        if any(kind[i] == _FAIL for i in timeline.indexes):
            peers = [peer for name, peer in clean.items() if name != host]
            found, nexts = _failure_evidence(records, timeline, peers, task_runs)
            evidence.update(found)
            following.update(nexts)

    # Ansible decides rescued-or-failed from the block structure around the task alone,
    # so every host failing the same (non-handler) task gets the same verdict.
    members: dict[str, list[int]] = {}
    for index in evidence:
        key = f"#{index}" if records.handler[index] else shown[index].task_uuid or ""
        members.setdefault(key, []).append(index)
    # one tuple per group, shared by its members: a task may fail on many hosts
    shared = [tuple(group) for group in members.values()]
    groups = {index: group for group in shared for index in group}
    verdict: dict[int, TaskStatus | None] = {}
    for group in members.values():
        best = max(evidence[i] for i in group)
        for index in group:
            verdict[index] = _EVIDENCE_VERDICT.get(best)

    # A later failure at a task a clean peer also ran is outside any rescue section,
    # inside the blocks of the earlier one: if it was not rescued, neither was that.
    chain = {
        index: later
        for index, later in following.items()
        if any(
            shown[later].task_uuid in peer.first
            for name, peer in clean.items()
            if name != shown[index].host
        )
    }
    _propagate_failed(verdict, groups, chain)

    analysis = _Analysis()
    for index, status in verdict.items():
        analysis.decisions[index] = (status or TaskStatus.RESCUED, status is None)
        if status is None:
            analysis.groups[index] = groups[index]
            if index in chain:
                analysis.chain[index] = chain[index]
    return analysis


def _propagate_failed(
    verdict: dict[int, TaskStatus | None],
    groups: Mapping[int, tuple[int, ...]],
    chain: Mapping[int, int],
) -> None:
    """Spread FAILED backwards along `chain` and across `groups` until nothing changes."""
    changed = True
    while changed:
        changed = False
        for index, later in chain.items():
            if verdict.get(index) is None and verdict.get(later) == TaskStatus.FAILED:
                for member in groups.get(index, (index,)):
                    if verdict.get(member) is None:
                        verdict[member] = TaskStatus.FAILED
                changed = True
