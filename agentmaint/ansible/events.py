"""Parse ansible-runner events into typed `TaskResult`s and per-host counters.

This is the only module that understands ansible-runner event dicts (those given
to ``ansible_runner.run(event_handler=...)`` or stored as
``artifacts/<ident>/job_events/*.json``). It is pure: no printing, and no I/O
except in `read_artifact_dir`.

`EventParser` is streaming: `EventParser.feed` one event at a time (cheap; raw
events are never kept), read `EventParser.results`, `EventParser.counts`,
`EventParser.stats` and `EventParser.error` at any time, and call
`EventParser.finish` once the run is over to get a frozen `ParsedRun`.

The counters of `EventParser.counts` are derived from the individual events only,
mirroring how ansible-core 2.19 increments its ``AggregateStats``
(``StrategyBase._process_pending_results`` and the include handling of the
linear and free strategies):

* ``runner_on_ok`` -> ok (+ changed); except ``include_tasks``/``include_role``,
  which count one ok per host per file to include (one per loop item that
  neither failed nor was skipped) once the strategy has loaded it;
* ``runner_on_failed`` with ``ignore_errors`` -> ok + ignored (+ changed);
  without it -> rescued when the task sat, at any depth, in the ``block:``
  section of a block that has a ``rescue:`` section, else failures;
* a ``runner_on_failed`` that follows an include's ``runner_on_ok`` for the same
  task and host is a file that could not be loaded -> failures instead of ok;
* ``runner_on_unreachable`` -> unreachable ("dark"), or ok + ignored under
  ``ignore_unreachable``;
* ``runner_on_skipped`` -> skipped, except skipped ``meta`` tasks (no counter);
* loop items, retries, async polls, notifications, ``meta`` tasks: no counter.

No event says whether a failure was rescued; `EventParser` explains how it is
recognised from the structure of the stream, and `ParsedRun.warnings` names the
rare failures for which the stream is genuinely ambiguous.
"""

from __future__ import annotations

import json
import os
import re
from array import array
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agentmaint.errors import AgentmaintError
from agentmaint.records import HostCounts, RunStatus, TaskResult, TaskStatus

__all__ = ["EventParser", "EventsError", "ParsedRun", "read_artifact_dir"]


class EventsError(AgentmaintError, ValueError):
    """An ansible-runner artifact directory cannot be read at all."""


# --------------------------------------------------------------------------- constants

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ERROR_LINE = re.compile(r"^\s*(\[ERROR\]|ERROR!)")
_NEW_DISPLAY_LINE = re.compile(r"^\s*\[(WARNING|DEPRECATION WARNING)\]")
_CHANGED_LINE = re.compile(r"^changed: \[", re.MULTILINE)
_CHANGED_JSON = re.compile(r'"changed":\s*true')

_MESSAGE_LIMIT = 1000  # characters kept of a long message or an output tail
_ERROR_LIMIT = 4000  # characters kept of a fatal error block
_WARNING_LIMIT = 50  # warnings kept by the parser (then one summary line)
_READ_SIZE = 1 << 16  # bytes per read of an event file (most are 1 to 3 KB)
_RAW_DECODE = json.JSONDecoder().raw_decode

_INCLUDE_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("include_tasks", "include_role")
)
_META_ACTIONS = frozenset(("meta", "ansible.builtin.meta", "ansible.legacy.meta"))
_SPECIAL_ACTIONS = _INCLUDE_ACTIONS | _META_ACTIONS
_RESULT_EVENTS = frozenset(
    ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")
)
_CHANGING_EVENTS = frozenset(("runner_on_ok", "runner_on_failed"))
_ITEM_EVENTS = frozenset(("runner_item_on_ok", "runner_item_on_failed", "runner_item_on_skipped"))
_TEXT_EVENTS = frozenset(("verbose", "error", "debug", "warning", "deprecated", "system_warning"))
_TEXT_EVENT, _RESULT_EVENT, _ITEM_EVENT, _PLAYBOOK_EVENT = range(4)
# What `EventParser.feed` does with each event; others (runner_on_start...) leave nothing.
_EVENT_HANDLING: dict[str, int] = {
    **dict.fromkeys(_TEXT_EVENTS, _TEXT_EVENT),
    **dict.fromkeys(_RESULT_EVENTS, _RESULT_EVENT),
    **dict.fromkeys(_ITEM_EVENTS, _ITEM_EVENT),
    **dict.fromkeys(
        ("playbook_on_task_start", "playbook_on_play_start", "playbook_on_stats"), _PLAYBOOK_EVENT
    ),
}
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NO_MESSAGES: tuple[Any, ...] = (None, [], {})  # a msg that says nothing

# Kinds of result record.
_PLAIN = 0  # counted when fed; status final
_FAIL = 1  # non-ignored failure: rescued or failures, decided from the stream's structure
_UNREACH = 2  # unreachable: dark, or ok + ignored under ignore_unreachable
_INCLUDE_FAIL = 3  # an included file that could not be loaded: failures
_UNCOUNTED = 4  # a skipped meta task: a result, but no counter moves

# Positions in a host's list of counters.
_OK, _CHANGED, _FAILURES, _UNREACHABLE, _SKIPPED, _RESCUED, _IGNORED = range(7)

# Evidence about one failure, strongest last.
_NO_EVIDENCE, _STOPPED_EARLY, _RAN_RESCUE, _NOTHING_AFTER = range(4)
_EVIDENCE_VERDICT = {
    _STOPPED_EARLY: TaskStatus.FAILED,
    _RAN_RESCUE: TaskStatus.RESCUED,
    _NOTHING_AFTER: TaskStatus.FAILED,
}

_Decisions = dict[int, tuple[TaskStatus, bool]]  # record index -> (status, still ambiguous)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ParsedRun:
    """Everything the event stream of one run says, frozen.

    `counts` are derived from the individual events; `stats` are the numbers of
    ``playbook_on_stats`` (None when the run never got there). `partial` is True
    when the stream was truncated or malformed, so that `results` and `counts`
    are incomplete. `warnings` explain `partial`, ambiguities, and any
    difference between `counts` and `stats`.
    """

    status: RunStatus
    rc: int | None
    results: tuple[TaskResult, ...]
    counts: Mapping[str, HostCounts]
    stats: Mapping[str, HostCounts] | None
    error: str | None = None
    partial: bool = False
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: status, rc, partial, error, per-host counts, task results."""
        return {
            "status": self.status.value,
            "rc": self.rc,
            "partial": self.partial,
            "error": self.error,
            "hosts": {host: counts.to_dict() for host, counts in self.counts.items()},
            "tasks": [_task_dict(result) for result in self.results],
        }


def _task_dict(result: TaskResult) -> dict[str, Any]:
    return {
        "host": result.host,
        "play": result.play,
        "task": result.task,
        "role": result.role,
        "module": result.module,
        "status": result.status.value,
        "start": result.start.isoformat() if result.start else None,
        "end": result.end.isoformat() if result.end else None,
        "duration": result.duration,
        "rc": result.rc,
        "message": result.message,
    }


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


# --------------------------------------------------------------------------- helpers


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r", "")


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _as_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MESSAGE_LIMIT else "..." + text[-_MESSAGE_LIMIT:]


#: Ansible's message for a command that exited non-zero (stderr says why).
_NON_ZERO = "non-zero return code"


def _last_line(res: Mapping[str, Any]) -> str | None:
    """The last non-empty line of a command's stderr, else of its stdout."""
    for key in ("stderr", "stdout"):
        text = res.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip().splitlines()[-1].strip()
    return None


def _message(res: Mapping[str, Any]) -> str | None:
    """The human message of a result: msg, else reason/skip_reason, else an output tail.

    A no_log result gives its censored text and nothing else.
    """
    if "censored" in res:
        return str(res["censored"])
    msg = res.get("msg")
    if isinstance(msg, str):
        if msg.strip() == _NON_ZERO and (said := _last_line(res)):
            return _tail(f"{_NON_ZERO} ({res.get('rc')}): {said}")  # what the command said
        if msg.strip():
            return _tail(msg)
    elif msg not in _NO_MESSAGES:
        return _tail(json.dumps(msg, default=str, sort_keys=True))
    for key in ("reason", "skip_reason", "stderr", "stdout", "module_stderr", "module_stdout"):
        text = res.get(key)
        if isinstance(text, str) and text.strip():
            return _tail(text)
    return None


def _item_label(item: Mapping[str, Any]) -> str:
    if "censored" in item:
        return "(censored)"
    label = item.get("_ansible_item_label", item.get(str(item.get("ansible_loop_var", "item"))))
    return label if isinstance(label, str) else json.dumps(label, default=str)


def _is_changed(res: Mapping[str, Any], fold: _Fold | None, event: Mapping[str, Any]) -> bool:
    """Mirror ``_RawTaskResult.is_changed``, reading the event's display when res is hidden."""
    if "changed" in res:
        return bool(res["changed"])
    results = res.get("results")
    if isinstance(results, list) and results:
        return any(isinstance(item, Mapping) and item.get("changed") for item in results)
    if fold is not None and fold.changed:
        return True
    if "censored" in res or not res:
        # no_log results and results over MAX_EVENT_RES lose their keys; the default
        # callback's display still says "changed: [host]" or dumps "changed": true.
        text = _strip_ansi(str(event.get("stdout") or ""))
        return bool(_CHANGED_LINE.search(text) or _CHANGED_JSON.search(text))
    return False


def _files_to_include(name: str, res: Mapping[str, Any], fold: _Fold | None) -> int:
    """How many files an include result asks the strategy to load."""
    if fold is not None:
        return fold.ok
    results = res.get("results")
    if isinstance(results, list):
        return sum(
            1
            for item in results
            if isinstance(item, Mapping) and not item.get("failed") and not item.get("skipped")
        )
    return 1 if name == "runner_on_ok" else 0


def _counts_from(values: Mapping[str, list[int]]) -> dict[str, HostCounts]:
    return {
        host: HostCounts(
            ok=v[_OK],
            changed=v[_CHANGED],
            failures=v[_FAILURES],
            unreachable=v[_UNREACHABLE],
            skipped=v[_SKIPPED],
            rescued=v[_RESCUED],
            ignored=v[_IGNORED],
        )
        for host, v in sorted(values.items())
    }


def _stats_counts(event_data: Mapping[str, Any]) -> dict[str, HostCounts]:
    """The per-host counters of a ``playbook_on_stats`` event."""

    def table(key: str) -> Mapping[str, Any]:
        value = event_data.get(key)
        return value if isinstance(value, Mapping) else {}

    names = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
    tables = {name: table(name) for name in names}
    hosts: set[str] = set(table("processed"))
    for values in tables.values():
        hosts.update(values)

    def get(name: str, host: str) -> int:
        return _as_int(tables[name].get(host)) or 0

    return {
        host: HostCounts(
            ok=get("ok", host),
            changed=get("changed", host),
            failures=get("failures", host),
            unreachable=get("dark", host),
            skipped=get("skipped", host),
            rescued=get("rescued", host),
            ignored=get("ignored", host),
        )
        for host in sorted(hosts)
    }


def _run_status(
    status: str | None,
    rc: int | None,
    stats: Mapping[str, HostCounts] | None,
    error: str | None,
    played: bool,
) -> tuple[RunStatus, str | None]:
    """The run's status, and a warning when the given status is not understood.

    A run without ``playbook_on_stats`` that printed a fatal error, or that failed
    before any play started, is an error rather than a failure.
    """
    known = {member.value: member for member in RunStatus}
    known["starting"] = RunStatus.RUNNING
    given = known.get(status.strip().lower()) if status else None
    warning = f"unknown run status {status!r}; inferred instead" if status and not given else None
    if given in (RunStatus.CANCELED, RunStatus.TIMEOUT):
        return given, warning
    if stats is None and error is not None:
        return RunStatus.ERROR, warning
    if stats is None and not played and (given == RunStatus.FAILED or rc not in (None, 0)):
        return RunStatus.ERROR, warning
    if given is not None:
        return given, warning
    if rc is not None:
        return (RunStatus.SUCCESSFUL if rc == 0 else RunStatus.FAILED), warning
    if stats is not None:
        bad = any(c.failures or c.unreachable for c in stats.values())
        return (RunStatus.FAILED if bad else RunStatus.SUCCESSFUL), warning
    return RunStatus.FAILED, warning


# --------------------------------------------------------------------------- rescue analysis


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


# --------------------------------------------------------------------------- parser


class EventParser:
    """Streaming parser of ansible-runner events into `TaskResult`s and counters.

    Feed events in stream (``counter``) order. Only the `TaskResult` of each task
    result is kept (its names, uuids and message shared with the other results that
    repeat them, and nothing of the raw event), plus two bytes of bookkeeping and
    the per-host indexes of the play being run; events that produce no result
    leave nothing behind, and reading `results` or `counts` after every event
    stays cheap: about 300 bytes per task result (13 MB for the 40,000 results of
    the 100,000-event benchmark).

    Whether a non-ignored failure of host H at task T was rescued is decided when
    its play ends (all its serial batches), from this evidence, strongest first:

    1. H has no further non-handler result in the play: failed.
    2. A "clean peer" (a host of the play, in any serial batch, with no failure
       and no unreachable result in it) runs every ``always:`` task and every
       task after a block. If, after T and up to its next failure, H ran a task
       that no clean peer ran after T, that task is a ``rescue:`` task: rescued.
    3. For H's last failure in the play: a clean peer went on, after H's last
       task, with tasks H never ran; H stopped early: failed. This also wins over
       2 when the failure is H's only one and every task taken for a rescue task
       has a single result in the play (a ``run_once`` task of an ``always:``
       section looks like a rescue task).

    Failures of the same task share one verdict (Ansible decides from the block
    structure alone), and a failure followed by an unrescued failure at a task a
    clean peer ran (an ``always:`` task) was not rescued either. Failures still
    undecided are rescued if their host runs in a later play; otherwise `finish`
    takes them as rescued when the run succeeded (rc 0 leaves no host failed), and
    as failed when they are the only possible cause of a failed run; any left are
    assumed rescued with a warning. While a play runs, its failures count as
    rescued when their host has gone on with other tasks, else as failed.

    An unreachable result is ignored (ok + ignored) when the display says
    "...ignoring" or its host has later results; otherwise it is dark.
    """

    def __init__(self) -> None:
        """Start with an empty stream."""
        self._records = _Results()
        # the counters, with every decision taken so far; the running play's undecided
        # failures are left out
        self._base: dict[str, list[int]] = {}
        self._pending_unreach: dict[str, list[int]] = {}  # host -> dark unreachables
        self._ambiguous: dict[str, list[int]] = {}  # host -> closed plays' failures, as rescued
        self._groups: dict[int, tuple[int, ...]] = {}  # of ambiguous failures
        self._chain: dict[int, int] = {}  # of ambiguous failures
        self._folds: dict[tuple[str, str], _Fold] = {}
        self._includes: dict[tuple[str, str], list[int]] = {}  # -> [files left, result index]
        self._play = _Play(None)
        self._play_seen: str | None = None  # a raw play uuid known to be the running play's
        # One shared copy of each host, play, task, uuid and message: a big run repeats
        # them in many results, and every decoded event brings its own copy.
        self._strings: dict[str, str] = {}
        self._plays = 0
        self._stats: dict[str, HostCounts] | None = None
        self._error_lines: list[str] = []
        self._error_size = 0
        self._in_error = False
        self._warnings: list[str] = []
        self._dropped_warnings = 0
        self._malformed = 0
        self._counted = 0
        self._max_counter = 0
        self._version = 0
        self._cached_results: tuple[int, tuple[TaskResult, ...]] = (-1, ())

    # ------------------------------------------------------------------ public API

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one ansible-runner event dict; malformed events are counted, never raised."""
        # `type(...) is dict` first: events are plain dicts, and ABC checks are slow.
        if type(event) is not dict and not isinstance(event, Mapping):
            self._malformed += 1
            return
        counter = event.get("counter")
        if type(counter) is not int:
            counter = _as_int(counter)
        if counter is not None:
            self._counted += 1
            self._max_counter = max(self._max_counter, counter)
        name = event.get("event")
        data = event.get("event_data")
        if not isinstance(name, str) or (
            data is not None and type(data) is not dict and not isinstance(data, Mapping)
        ):
            self._malformed += 1
            return
        handling = _EVENT_HANDLING.get(name)
        if handling == _TEXT_EVENT:
            self._text(event.get("stdout"))
            return
        self._in_error = False
        if handling is None:  # runner_on_start and the like: nothing to keep
            return
        data = data or _EMPTY
        if handling == _RESULT_EVENT:
            self._result(name, event, data, counter or 0)
        elif handling == _ITEM_EVENT:
            self._item(name, event, data)
        else:
            self._playbook(name, data)

    @property
    def results(self) -> tuple[TaskResult, ...]:
        """The task results so far, in stream order (see the class doc for failures)."""
        version, cached = self._cached_results
        if version != self._version:
            cached = tuple(self._records.shown)
            self._cached_results = (self._version, cached)
        return cached

    def results_since(self, index: int) -> list[TaskResult]:
        """The results from position `index` on, without copying the earlier ones.

        For consumers that follow the stream (live progress); statuses shown here are
        the provisional ones of the running play (see the class doc).
        """
        return self._records.shown[index:]

    def counts(self) -> dict[str, HostCounts]:
        """Per-host counters derived from the individual events seen so far."""
        return _counts_from(self._count_values({}))

    @property
    def stats(self) -> dict[str, HostCounts] | None:
        """The counters of ``playbook_on_stats``, or None before (or without) it."""
        return dict(self._stats) if self._stats is not None else None

    @property
    def error(self) -> str | None:
        """The fatal error of a run that died (no ``playbook_on_stats``), ANSI-free."""
        if self._stats is not None or not self._error_lines:
            return None
        lines = list(self._error_lines)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines)

    def finish(self, status: str | None = None, rc: int | None = None) -> ParsedRun:
        """Freeze what the stream says, given ansible-runner's final status and rc if known.

        The parser itself is left as it is: more events may still be fed.
        """
        warnings: list[str] = []
        error = self.error
        played = self._plays > 0 or bool(self._records.shown)
        run_status, status_warning = _run_status(status, rc, self._stats, error, played)
        if status_warning:
            warnings.append(status_warning)

        analysis = self._final_analysis()
        self._settle(analysis, run_status, rc, warnings)
        overrides = {index: status for index, (status, _) in analysis.decisions.items()}
        results = self._assemble(overrides)
        counts = _counts_from(self._count_values(overrides))

        partial = self._malformed > 0
        if self._malformed:
            warnings.append(f"{self._malformed} malformed or unreadable event(s) skipped")
        missing = self._max_counter - self._counted
        if missing > 0:
            partial = True
            warnings.append(
                f"{missing} event(s) missing from the stream "
                f"(counters run to {self._max_counter}, {self._counted} seen)"
            )
        ended = run_status in (RunStatus.CANCELED, RunStatus.TIMEOUT, RunStatus.ERROR)
        if self._stats is None and not ended:
            partial = True
            warnings.append("the event stream ends before playbook_on_stats")
        if self._stats is not None:
            for host in sorted(set(counts) | set(self._stats)):
                mine = counts.get(host, HostCounts())
                theirs = self._stats.get(host, HostCounts())
                if mine != theirs:
                    warnings.append(
                        f"host {host}: counts from events {mine.to_dict()} differ from "
                        f"playbook_on_stats {theirs.to_dict()}"
                    )
        warnings[:0] = self._warnings
        if self._dropped_warnings:
            warnings.append(f"... and {self._dropped_warnings} more warning(s)")
        return ParsedRun(
            status=run_status,
            rc=rc,
            results=results,
            counts=MappingProxyType(counts),
            stats=MappingProxyType(dict(self._stats)) if self._stats is not None else None,
            error=error,
            partial=partial,
            warnings=tuple(warnings),
        )

    def warn(self, message: str) -> None:
        """Record a warning for `finish` to report (e.g. about where the events came from)."""
        if len(self._warnings) < _WARNING_LIMIT:
            self._warnings.append(message)
        else:
            self._dropped_warnings += 1

    def mark_partial(self, message: str) -> None:
        """Record that an event could not be read: the run becomes partial."""
        self._malformed += 1
        self.warn(message)

    # ------------------------------------------------------------------ events

    def _text(self, stdout: Any) -> None:
        """Keep the last ``[ERROR]`` block (with its Origin lines) of the display."""
        if not isinstance(stdout, str) or not stdout:
            return
        if not self._in_error and "ERROR" not in stdout:
            return
        for line in _strip_ansi(stdout).split("\n"):
            if _ERROR_LINE.match(line):
                self._error_lines = [line.strip()]
                self._error_size = len(line)
                self._in_error = True
            elif self._in_error:
                if _NEW_DISPLAY_LINE.match(line):
                    self._in_error = False
                elif self._error_size < _ERROR_LIMIT:
                    self._error_lines.append(line.rstrip())
                    self._error_size += len(line) + 1

    def _enter_play(self, play_uuid: str | None) -> None:
        """Start a new play when an event belongs to another play than the current one.

        The serial batches of a play (ansible-runner suffixes their play uuid with
        ``_2``, ``_3``...) run the same tasks, so they are analysed as one play.
        """
        if play_uuid is None or play_uuid == self._play_seen:
            return
        base, _, suffix = play_uuid.rpartition("_")
        key = base if base and suffix.isdigit() else play_uuid
        if key != self._play.uuid:
            self._close_play()
            self._play = _Play(key)
        self._play_seen = play_uuid

    def _playbook(self, name: str, data: Mapping[str, Any]) -> None:
        if name == "playbook_on_task_start":
            self._includes.clear()
            task_uuid = _as_str(data.get("task_uuid"))
            self._enter_play(_as_str(data.get("play_uuid")))
            if task_uuid is not None and data.get("is_conditional"):
                self._play.handlers.add(task_uuid)
        elif name == "playbook_on_play_start":
            self._includes.clear()
            self._plays += 1
            self._enter_play(_as_str(data.get("play_uuid")) or _as_str(data.get("uuid")))
        elif name == "playbook_on_stats":
            self._close_play()
            self._stats = _stats_counts(data)

    def _item(self, name: str, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        host, task_uuid = _as_str(data.get("host")), _as_str(data.get("task_uuid"))
        if host is None or task_uuid is None:
            self._malformed += 1
            return
        fold = self._folds.setdefault((task_uuid, host), _Fold())
        res_value = data.get("res")
        res: Mapping[str, Any] = res_value if isinstance(res_value, Mapping) else _EMPTY
        if name == "runner_item_on_skipped":
            fold.skipped += 1
            return
        if _is_changed(res, None, event):
            fold.changed = True
        rc = _as_int(res.get("rc"))
        if name == "runner_item_on_failed":
            fold.failed += 1
            if fold.message is None:
                fold.message = f"item={_item_label(res)}: {_message(res) or 'failed'}"
                fold.rc = rc
        else:
            fold.ok += 1
            if fold.failed == 0 and rc is not None:
                fold.rc = rc

    def _result(
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int
    ) -> None:
        # The hot path of a big run: one call per task result, so the common case (plain
        # dicts and strings, as decoded from JSON) avoids helper calls and copies.
        get = data.get
        host, task_uuid = get("host"), get("task_uuid")
        if not (type(host) is str and host and type(task_uuid) is str and task_uuid):
            host, task_uuid = _as_str(host), _as_str(task_uuid)
            if host is None or task_uuid is None:
                self._malformed += 1
                return
        intern = self._strings.setdefault
        host, task_uuid = intern(host, host), intern(task_uuid, task_uuid)
        play_uuid = _as_str(get("play_uuid"))
        if play_uuid is not None:
            play_uuid = intern(play_uuid, play_uuid)
            self._enter_play(play_uuid)
        if self._pending_unreach or self._ambiguous:
            self._host_seen(host)
        self._version += 1
        res = get("res")
        if type(res) is not dict and not isinstance(res, Mapping):
            res = _EMPTY
        key = (task_uuid, host)
        fold = self._folds.pop(key, None) if self._folds else None
        task_action = _as_str(get("task_action"))
        action = _as_str(get("resolved_action")) or task_action
        values = self._base.get(host)
        if values is None:
            values = self._base[host] = [0] * 7

        pending = self._includes.get(key) if name == "runner_on_failed" and self._includes else None
        if pending is not None and pending[0] > 0:
            # A file the include asked for could not be loaded: the strategy counts a
            # failure instead of its ok, and re-sends the include result as failed.
            pending[0] -= 1
            values[_OK] -= 1
            values[_FAILURES] += 1
            self._records.kind[pending[1]] = _INCLUDE_FAIL
            shown = self._records.shown[pending[1]]
            failed = replace(shown, status=TaskStatus.FAILED, message=_message(res) or "failed")
            self._records.shown[pending[1]] = failed
            return

        include = meta = False
        if task_action in _SPECIAL_ACTIONS or action in _SPECIAL_ACTIONS:
            if task_action in _INCLUDE_ACTIONS or action in _INCLUDE_ACTIONS:
                if name in _CHANGING_EVENTS:
                    loaded = _files_to_include(name, res, fold)
                    values[_OK] += loaded
                    self._includes[key] = [loaded, len(self._records.shown)]
                include = True
            meta = task_action in _META_ACTIONS or action in _META_ACTIONS
        # only ok and failed results count changes (skipped ones have no res to read)
        changed = name in _CHANGING_EVENTS and _is_changed(res, fold, event)
        status, kind = self._count(name, data, values, changed, event, include=include, meta=meta)
        result = self._task_result(
            name,
            data,
            res,
            fold,
            status=status,
            counter=counter,
            names=(host, task_uuid, play_uuid, action),
        )
        self._add(result, kind, task_uuid in self._play.handlers)

    def _task_result(
        self,
        name: str,
        data: Mapping[str, Any],
        res: Mapping[str, Any],
        fold: _Fold | None,
        *,
        status: TaskStatus,
        counter: int,
        names: tuple[str, str, str | None, str | None],
    ) -> TaskResult:
        """The `TaskResult` of a result event, with shared strings.

        `names` are the host, task uuid, play uuid (shared already) and module.
        """
        get = data.get
        intern = self._strings.setdefault
        host, task_uuid, play_uuid, action = names
        message = _message(res)
        rc = res.get("rc")
        if type(rc) is not int:
            rc = _as_int(rc)
        if fold is not None:
            if name == "runner_on_failed" and fold.message:
                message = f"{message}: {fold.message}" if message else fold.message
            if rc is None:
                rc = fold.rc
        if message is not None:
            message = intern(message, message)
        play, task, role = _as_str(get("play")) or "", _as_str(get("task")) or "", get("role")
        return TaskResult(
            host=host,
            play=intern(play, play),
            task=intern(task, task),
            status=status,
            role=intern(role, role) if type(role) is str and role else _as_str(role),
            module=None if action is None else intern(action, action),
            start=_as_time(get("start")),
            end=_as_time(get("end")),
            duration=_as_float(get("duration")),
            rc=rc,
            message=message,
            play_uuid=play_uuid,
            task_uuid=task_uuid,
            counter=counter,
        )

    def _count(
        self,
        name: str,
        data: Mapping[str, Any],
        values: list[int],
        changed: bool,
        event: Mapping[str, Any],
        *,
        include: bool,
        meta: bool,
    ) -> tuple[TaskStatus, int]:
        """Bump the counters (unreachables as dark until shown ignored); status and kind."""
        if name == "runner_on_ok":
            if not include:
                values[_OK] += 1
                values[_CHANGED] += changed
            return (TaskStatus.CHANGED if changed else TaskStatus.OK), _PLAIN
        if name == "runner_on_failed":
            if not data.get("ignore_errors"):
                return TaskStatus.FAILED, _FAIL
            values[_OK] += 1
            values[_IGNORED] += 1
            values[_CHANGED] += changed
            return TaskStatus.IGNORED, _PLAIN
        if name == "runner_on_skipped":
            if meta:
                return TaskStatus.SKIPPED, _UNCOUNTED
            values[_SKIPPED] += 1
            return TaskStatus.SKIPPED, _PLAIN
        if "...ignoring" in str(event.get("stdout") or ""):
            # the default callback's mark of ignore_unreachable
            values[_OK] += 1
            values[_IGNORED] += 1
            return TaskStatus.IGNORED, _UNREACH
        values[_UNREACHABLE] += 1
        return TaskStatus.UNREACHABLE, _UNREACH

    def _add(self, result: TaskResult, kind: int, handler: bool) -> None:
        records = self._records
        shown = records.shown
        index = len(shown)
        shown.append(result)
        records.kind.append(kind)
        records.handler.append(handler)
        host = result.host
        play = self._play
        if kind != _UNCOUNTED:
            timeline = play.timeline.get(host)
            if timeline is None:
                timeline = play.timeline[host] = array("q")
            timeline.append(index)
            if not handler and play.waiting:
                # The host went on: its earlier failures are provisionally rescued.
                for earlier in play.waiting.pop(host, ()):
                    values = play.values[host]
                    values[_FAILURES] -= 1
                    values[_RESCUED] += 1
                    shown[earlier] = replace(shown[earlier], status=TaskStatus.RESCUED)
        if kind == _FAIL:
            play.failures.append(index)
            play.waiting.setdefault(host, []).append(index)
            play.values.setdefault(host, [0] * 7)[_FAILURES] += 1
        elif kind == _UNREACH and result.status == TaskStatus.UNREACHABLE:
            self._pending_unreach.setdefault(host, []).append(index)

    def _host_seen(self, host: str) -> None:
        """A host has a new result: what that settles about its earlier ones."""
        # An unreachable host that is not ignored is never contacted again.
        for index in self._pending_unreach.pop(host, ()):
            self._decide(index, TaskStatus.IGNORED)
        # Ambiguous failures are those of closed plays (counted as rescued): a host
        # running in a later play ended its earlier play in good standing.
        shown = self._records.shown
        for index in self._ambiguous.pop(host, ()):
            for member in self._groups.pop(index, (index,)):
                self._groups.pop(member, None)
                self._chain.pop(member, None)
                others = self._ambiguous.get(shown[member].host, [])
                if member in others:
                    others.remove(member)

    # ------------------------------------------------------------------ decisions

    def _decide(self, index: int, status: TaskStatus) -> None:
        """Take a decision about a failure or an unreachable into the counters for good."""
        records = self._records
        result = records.shown[index]
        values = self._base.setdefault(result.host, [0] * 7)
        if records.kind[index] == _FAIL:
            values[_RESCUED if status == TaskStatus.RESCUED else _FAILURES] += 1
        elif status == TaskStatus.IGNORED:  # an unreachable counted dark so far
            values[_UNREACHABLE] -= 1
            values[_OK] += 1
            values[_IGNORED] += 1
        records.decisions[index] = status
        if result.status != status:
            records.shown[index] = replace(result, status=status)
        self._version += 1

    def _close_play(self) -> None:
        """Make the decisions about the play that just ended permanent."""
        if self._play.failures:
            analysis = _analyse_play(self._records, self._play)
            for index, (status, ambiguous) in analysis.decisions.items():
                self._decide(index, status)
                if ambiguous:
                    host = self._records.shown[index].host
                    self._ambiguous.setdefault(host, []).append(index)
            self._groups.update(analysis.groups)
            self._chain.update(analysis.chain)
        self._play = _Play(None)
        self._play_seen = None
        self._version += 1

    def _final_analysis(self) -> _Analysis:
        """Every decision still open: the running play's failures and the ambiguous ones."""
        analysis = _Analysis()
        for indexes in self._ambiguous.values():
            for index in indexes:
                analysis.decisions[index] = (TaskStatus.RESCUED, True)
                if index in self._groups:
                    analysis.groups[index] = self._groups[index]
                if index in self._chain:
                    analysis.chain[index] = self._chain[index]
        if self._play.failures:
            current = _analyse_play(self._records, self._play)
            analysis.decisions.update(current.decisions)
            analysis.groups.update(current.groups)
            analysis.chain.update(current.chain)
        return analysis

    def _settle(
        self, analysis: _Analysis, run_status: RunStatus, rc: int | None, warnings: list[str]
    ) -> None:
        """Decide the failures the events leave ambiguous, from the run's outcome."""
        decisions = analysis.decisions
        ambiguous = [index for index, (_, amb) in decisions.items() if amb]
        if not ambiguous:
            return
        records = self._records
        shown = records.shown
        verdict: dict[int, TaskStatus | None] = dict.fromkeys(ambiguous)
        if run_status == RunStatus.SUCCESSFUL:
            # rc 0: no host ended a play failed, so every failure was rescued.
            verdict = dict.fromkeys(ambiguous, TaskStatus.RESCUED)
        elif run_status == RunStatus.FAILED and rc in (2, None):
            certain = (
                any(status == TaskStatus.FAILED and not amb for status, amb in decisions.values())
                or _INCLUDE_FAIL in records.kind
                or any(
                    status == TaskStatus.FAILED and records.kind[index] == _FAIL
                    for index, status in records.decisions.items()
                )
            )
            dark = any(self._pending_unreach.values())
            if not certain and not dark:
                # Some failure was not rescued, and only the ambiguous ones can be it.
                groups = {analysis.groups.get(index, (index,)) for index in ambiguous}
                hosts = {shown[index].host for index in ambiguous}
                if len(groups) == 1:
                    verdict = dict.fromkeys(ambiguous, TaskStatus.FAILED)
                elif len(hosts) == 1:
                    last = max(ambiguous, key=lambda i: shown[i].counter)
                    verdict[last] = TaskStatus.FAILED
                _propagate_failed(verdict, analysis.groups, analysis.chain)
        for index in ambiguous:
            status = verdict[index]
            result = shown[index]
            where = f"host {result.host}, task {result.task!r} (counter {result.counter})"
            if status is None:
                warnings.append(
                    f"{where}: the events do not tell whether this failure was rescued; "
                    "assumed rescued"
                )
                status = TaskStatus.RESCUED
            elif status == TaskStatus.FAILED:
                warnings.append(f"{where}: failure taken as not rescued since the run failed")
            decisions[index] = (status, False)

    # ------------------------------------------------------------------ assembly

    def _assemble(self, overrides: Mapping[int, TaskStatus]) -> tuple[TaskResult, ...]:
        """The results, with these statuses instead of the shown ones."""
        if not overrides:
            return tuple(self._records.shown)
        results = list(self._records.shown)
        for index, status in overrides.items():
            if results[index].status != status:
                results[index] = replace(results[index], status=status)
        return tuple(results)

    def _count_values(self, overrides: Mapping[int, TaskStatus]) -> dict[str, list[int]]:
        """The counters, with these statuses for failures instead of the shown ones.

        Every result is counted as shown: decided ones in the base counters, the
        running play's failures in its own.
        """
        values = {host: list(v) for host, v in self._base.items()}
        for host, play_values in self._play.values.items():
            host_values = values.setdefault(host, [0] * 7)
            for position, value in enumerate(play_values):
                host_values[position] += value
        records = self._records
        for index, status in overrides.items():
            result = records.shown[index]
            shown = result.status
            if records.kind[index] != _FAIL or shown == status:
                continue
            host_values = values.setdefault(result.host, [0] * 7)
            host_values[_RESCUED if shown == TaskStatus.RESCUED else _FAILURES] -= 1
            host_values[_RESCUED if status == TaskStatus.RESCUED else _FAILURES] += 1
        return {host: v for host, v in values.items() if any(v)}


# --------------------------------------------------------------------------- artifacts


def _find_artifact_dir(path: Path) -> tuple[Path, list[str]]:
    if not path.is_dir():
        raise EventsError(f"{path}: no such artifact directory")
    if (path / "job_events").is_dir():
        return path, []
    root = path / "artifacts"
    candidates = (
        [d for d in root.iterdir() if d.is_dir() and (d / "job_events").is_dir()]
        if root.is_dir()
        else []
    )
    if not candidates:
        raise EventsError(
            f"{path}: no job_events/ directory; expected artifacts/<ident>/ "
            "or a private_data_dir holding artifacts/<ident>/job_events/"
        )
    candidates.sort(key=lambda d: ((d / "job_events").stat().st_mtime, d.name))
    chosen = candidates[-1]
    notes = []
    if len(candidates) > 1:
        notes.append(f"{root}: {len(candidates)} runs found; read the newest, {chosen.name}")
    return chosen, notes


def _event_file_counter(name: str) -> int:
    prefix = name[: name.find("-")]
    return int(prefix) if prefix.isdigit() else 1 << 62


def _event_file_names(events_dir: Path) -> list[str]:
    """The ``*.json`` file names of ``job_events/`` (no hidden ones), in counter order.

    Names are ``<counter>-<uuid>.json``; names without a counter come last, and names
    with the same counter in name order.
    """
    names = [name for name in os.listdir(events_dir) if name.endswith(".json")]
    names = [name for name in names if name[0] != "."]
    names.sort()
    names.sort(key=_event_file_counter)  # stable: ties stay in name order; int keys sort fast
    return names


def _load_json(data: bytes) -> Any:
    """``json.loads(data)``, a quarter faster for the usual UTF-8 file of one JSON value.

    The decoder is called directly on the decoded text; anything unusual (a BOM, another
    encoding, leading whitespace, trailing data, invalid JSON) goes through
    ``json.loads`` itself, which then gives its own result or error.
    """
    try:
        text = data.decode()
        value, end = _RAW_DECODE(text)
    except ValueError:  # UnicodeDecodeError, JSONDecodeError
        return json.loads(data)
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return json.loads(data)
    return value


def _read_file(name: str, directory: int | None) -> bytes:
    """The bytes of one file, opened relative to a directory descriptor when there is one.

    Plain ``os.open``/``os.read``/``os.close``: a third of the cost of ``Path.read_bytes``
    for the 100,000 small files of a big run (no buffered file object, no path joining).
    """
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=directory)
    try:
        data = os.read(fd, _READ_SIZE)
        if data:
            more = os.read(fd, _READ_SIZE)
            while more:
                data += more
                more = os.read(fd, _READ_SIZE)
        return data
    finally:
        os.close(fd)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def read_artifact_dir(path: Path) -> ParsedRun:
    """Parse ``artifacts/<ident>/`` (or a private_data_dir holding one) into a `ParsedRun`.

    Events are read from ``job_events/*.json`` in ``counter`` order (the number
    each file name starts with); unreadable or truncated files are skipped with a
    warning naming them, and make the run partial. With several runs under
    ``artifacts/``, the newest is read. The status comes from the ``status`` file
    (inferred when missing), rc from ``rc``. Raises `EventsError` when there is
    no such directory, no ``job_events/`` (or it cannot be listed) or no event
    file in it.

    A big run has 100,000s of small event files, so the cost is mostly the system
    calls and the JSON decoding: each file takes one open relative to the directory,
    one read and a close, and the parser keeps nothing of the decoded event.
    """
    directory, notes = _find_artifact_dir(Path(path))
    events_dir = directory / "job_events"
    try:
        names = _event_file_names(events_dir)
        relative = os.open in os.supports_dir_fd
        dir_fd = os.open(events_dir, os.O_RDONLY | os.O_CLOEXEC) if relative else None
    except OSError as exc:
        raise EventsError(f"{events_dir}: cannot list the event files: {exc}") from exc
    prefix = "" if dir_fd is not None else f"{events_dir}{os.sep}"
    parser = EventParser()
    for note in notes:
        parser.warn(note)
    feed = parser.feed
    try:
        if not names:
            raise EventsError(f"{events_dir}: no event files")
        for name in names:
            try:
                event = _load_json(_read_file(prefix + name, dir_fd))
            except (OSError, ValueError) as exc:
                parser.mark_partial(
                    f"{events_dir / name}: unreadable event file skipped ({type(exc).__name__})"
                )
                continue
            if type(event) is not dict:
                parser.mark_partial(f"{events_dir / name}: not an event object; skipped")
                continue
            feed(event)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)
    status = _read_text(directory / "status") or None
    rc_text = _read_text(directory / "rc")
    rc: int | None = None
    if rc_text:
        try:
            rc = int(rc_text)
        except ValueError:
            parser.warn(f"{directory / 'rc'}: not an integer: {rc_text[:40]!r}")
    return parser.finish(status=status, rc=rc)
