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
import re
from collections.abc import Iterable, Mapping
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

_INCLUDE_ACTIONS = frozenset(
    prefix + name
    for prefix in ("", "ansible.builtin.", "ansible.legacy.")
    for name in ("include_tasks", "include_role")
)
_META_ACTIONS = frozenset(("meta", "ansible.builtin.meta", "ansible.legacy.meta"))
_RESULT_EVENTS = frozenset(
    ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")
)
_ITEM_EVENTS = frozenset(("runner_item_on_ok", "runner_item_on_failed", "runner_item_on_skipped"))
_TEXT_EVENTS = frozenset(("verbose", "error", "debug", "warning", "deprecated", "system_warning"))

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


@dataclass(slots=True)
class _Record:
    """The bookkeeping behind one TaskResult."""

    result: TaskResult
    kind: int
    handler: bool = False
    decision: TaskStatus | None = None  # for _FAIL and _UNREACH, once decided for good


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
    """What the rescue analysis needs about the play (or serial batch) being run."""

    uuid: str | None
    handlers: set[str] = field(default_factory=set)  # task uuids of handlers
    timeline: dict[str, list[int]] = field(default_factory=dict)  # host -> record indexes


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


def _message(res: Mapping[str, Any]) -> str | None:
    """The human message of a result: msg, else reason/skip_reason, else an output tail.

    A no_log result gives its censored text and nothing else.
    """
    if "censored" in res:
        return str(res["censored"])
    msg = res.get("msg")
    if isinstance(msg, str):
        if msg.strip():
            return _tail(msg)
    elif msg not in (None, [], {}):
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


def _is_changed(res: Mapping[str, Any], fold: _Fold | None, stdout: str) -> bool:
    """Mirror ``_RawTaskResult.is_changed``, reading the display when res is hidden."""
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
        text = _strip_ansi(stdout)
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


def _task_set(records: list[_Record], indexes: Iterable[int]) -> set[str]:
    """The (non-handler) tasks of these results."""
    return {records[i].result.task_uuid or "" for i in indexes if not records[i].handler}


def _peer_evidence(
    records: list[_Record],
    timeline: Mapping[str, list[int]],
    clean: list[str],
    *,
    failed: TaskResult,
    window: set[str],
    after: set[str],
    last: bool,
) -> int:
    """What the hosts without failures in the play say about one failure.

    A clean peer runs every ``always:`` task and every task after the block, so a
    task the failed host ran next (up to its next failure) that no clean peer ran
    after the failed task is a ``rescue:`` task. A clean peer that ran tasks the
    failed host never reached shows that the host stopped early (meaningful for
    its last failure only).
    """
    stopped = False
    for peer in clean:
        if peer == failed.host:
            continue
        indexes = timeline[peer]
        start = next(
            (
                p + 1
                for p, i in enumerate(indexes)
                if records[i].result.task_uuid == failed.task_uuid
            ),
            None,
        )
        if start is None:  # e.g. the failure was in a rescue section: anchor on stream order
            start = next(
                (p for p, i in enumerate(indexes) if records[i].result.counter > failed.counter),
                None,
            )
            if start is None:
                continue
        peer_tasks = _task_set(records, indexes[start:])
        if window - peer_tasks:
            return _RAN_RESCUE
        if last and peer_tasks - after:
            stopped = True
    return _STOPPED_EARLY if stopped else _NO_EVIDENCE


def _analyse_play(records: list[_Record], play: _Play) -> _Analysis:
    """Rescued or failed, for each undecided failure of a play (see `EventParser`)."""
    timeline = play.timeline
    clean = [
        host
        for host, indexes in timeline.items()
        if all(records[i].kind in (_PLAIN, _UNCOUNTED) for i in indexes)
    ]
    evidence: dict[int, int] = {}
    following: dict[int, int] = {}  # failure -> the same host's next failure
    for indexes in timeline.values():
        failures = [
            p
            for p, i in enumerate(indexes)
            if records[i].kind == _FAIL and records[i].decision is None
        ]
        for n, position in enumerate(failures):
            index = indexes[position]
            after = _task_set(records, indexes[position + 1 :])
            if not after:
                evidence[index] = _NOTHING_AFTER
                continue
            last = n + 1 == len(failures)
            stop = len(indexes) if last else failures[n + 1] + 1
            if not last:
                following[index] = indexes[failures[n + 1]]
            window = _task_set(records, indexes[position + 1 : stop])
            failed = records[index].result
            evidence[index] = _peer_evidence(
                records, timeline, clean, failed=failed, window=window, after=after, last=last
            )

    # Ansible decides rescued-or-failed from the block structure around the task alone,
    # so every host failing the same (non-handler) task gets the same verdict.
    members: dict[str, list[int]] = {}
    for index in evidence:
        record = records[index]
        key = f"#{index}" if record.handler else record.result.task_uuid or ""
        members.setdefault(key, []).append(index)
    groups = {index: tuple(group) for group in members.values() for index in group}
    verdict: dict[int, TaskStatus | None] = {}
    for group in members.values():
        best = max(evidence[i] for i in group)
        for index in group:
            verdict[index] = _EVIDENCE_VERDICT.get(best)

    # A later failure at a task a clean peer also ran is outside any rescue section,
    # inside the blocks of the earlier one: if it was not rescued, neither was that.
    clean_tasks = {peer: _task_set(records, timeline[peer]) for peer in clean}
    chain = {
        index: later
        for index, later in following.items()
        if any(
            records[later].result.task_uuid in tasks
            for peer, tasks in clean_tasks.items()
            if peer != records[index].result.host
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

    Feed events in stream (``counter``) order. One small record is kept per task
    result, plus bookkeeping for the play being run; events that produce no result
    leave nothing behind.

    Whether a non-ignored failure of host H at task T was rescued is decided when
    its play (or serial batch) ends, from this evidence, strongest first:

    1. H has no further non-handler result in the play: failed.
    2. A "clean peer" (a host of the play with no failure and no unreachable
       result in it) runs every ``always:`` task and every task after a block.
       If, after T and up to its next failure, H ran a task that no clean peer
       ran after T, that task is a ``rescue:`` task: rescued.
    3. For H's last failure in the play: a clean peer ran tasks after T that H
       never reached, so H stopped early: failed.

    Failures of the same task share one verdict (Ansible decides from the block
    structure alone), and a failure followed by an unrescued failure at a task a
    clean peer ran (an ``always:`` task) was not rescued either. Failures still
    undecided are rescued if their host runs in a later play; otherwise `finish`
    takes them as rescued when the run succeeded (rc 0 leaves no host failed), and
    as failed when they are the only possible cause of a failed run; any left are
    assumed rescued with a warning.

    An unreachable result is ignored (ok + ignored) when the display says
    "...ignoring" or its host has later results; otherwise it is dark.
    """

    def __init__(self) -> None:
        """Start with an empty stream."""
        self._records: list[_Record] = []
        self._base: dict[str, list[int]] = {}
        self._fail_indexes: list[int] = []
        self._unreach_indexes: list[int] = []
        self._pending_unreach: dict[str, list[int]] = {}  # host -> undecided unreachables
        self._ambiguous: dict[str, list[int]] = {}  # host -> ambiguous failures of closed plays
        self._groups: dict[int, tuple[int, ...]] = {}
        self._chain: dict[int, int] = {}
        self._folds: dict[tuple[str, str], _Fold] = {}
        self._includes: dict[tuple[str, str], list[int]] = {}  # -> [files left, record index]
        self._play = _Play(None)
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
        self._cached: tuple[int, _Analysis] = (-1, _Analysis())

    # ------------------------------------------------------------------ public API

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one ansible-runner event dict; malformed events are counted, never raised."""
        if not isinstance(event, Mapping):
            self._malformed += 1
            return
        counter = _as_int(event.get("counter"))
        if counter is not None:
            self._counted += 1
            self._max_counter = max(self._max_counter, counter)
        name = event.get("event")
        data = event.get("event_data")
        if not isinstance(name, str) or (data is not None and not isinstance(data, Mapping)):
            self._malformed += 1
            return
        data = data or {}
        if name in _TEXT_EVENTS:
            self._text(event.get("stdout"))
            return
        self._in_error = False
        if name in _RESULT_EVENTS:
            self._result(name, event, data, counter or 0)
        elif name in _ITEM_EVENTS:
            self._item(name, event, data)
        elif name == "playbook_on_task_start":
            self._includes.clear()
            task_uuid = _as_str(data.get("task_uuid"))
            self._enter_play(_as_str(data.get("play_uuid")))
            if task_uuid is not None and data.get("is_conditional"):
                self._play.handlers.add(task_uuid)
        elif name == "playbook_on_play_start":
            self._close_play()
            self._includes.clear()
            self._plays += 1
            self._play = _Play(_as_str(data.get("play_uuid")) or _as_str(data.get("uuid")))
        elif name == "playbook_on_stats":
            self._close_play()
            self._stats = _stats_counts(data)
            self._version += 1

    @property
    def results(self) -> tuple[TaskResult, ...]:
        """The task results so far, in stream order (rescue decisions provisional)."""
        decisions = self._analysis().decisions
        return tuple(self._final_result(i, decisions) for i in range(len(self._records)))

    def counts(self) -> dict[str, HostCounts]:
        """Per-host counters derived from the individual events seen so far."""
        return _counts_from(self._count_values(self._analysis().decisions))

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
        played = self._plays > 0 or bool(self._records)
        run_status, status_warning = _run_status(status, rc, self._stats, error, played)
        if status_warning:
            warnings.append(status_warning)

        analysis = self._analysis()
        decisions = dict(analysis.decisions)
        self._settle(analysis, decisions, run_status, rc, warnings)
        results = tuple(self._final_result(i, decisions) for i in range(len(self._records)))
        counts = _counts_from(self._count_values(decisions))

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
        """Start a new play when an event belongs to another play than the current one."""
        if play_uuid is not None and play_uuid != self._play.uuid:
            self._close_play()
            self._play = _Play(play_uuid)

    def _item(self, name: str, event: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        host, task_uuid = _as_str(data.get("host")), _as_str(data.get("task_uuid"))
        if host is None or task_uuid is None:
            self._malformed += 1
            return
        fold = self._folds.setdefault((task_uuid, host), _Fold())
        res_value = data.get("res")
        res: Mapping[str, Any] = res_value if isinstance(res_value, Mapping) else {}
        if name == "runner_item_on_skipped":
            fold.skipped += 1
            return
        if _is_changed(res, None, str(event.get("stdout") or "")):
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
        host, task_uuid = _as_str(data.get("host")), _as_str(data.get("task_uuid"))
        if host is None or task_uuid is None:
            self._malformed += 1
            return
        self._enter_play(_as_str(data.get("play_uuid")))
        self._host_seen(host)
        res_value = data.get("res")
        res: Mapping[str, Any] = res_value if isinstance(res_value, Mapping) else {}
        key = (task_uuid, host)
        fold = self._folds.pop(key, None)
        task_action = _as_str(data.get("task_action"))
        action = _as_str(data.get("resolved_action")) or task_action
        values = self._base.setdefault(host, [0] * 7)
        self._version += 1

        pending = self._includes.get(key) if name == "runner_on_failed" else None
        if pending is not None and pending[0] > 0:
            # A file the include asked for could not be loaded: the strategy counts a
            # failure instead of its ok, and re-sends the include result as failed.
            pending[0] -= 1
            values[_OK] -= 1
            values[_FAILURES] += 1
            record = self._records[pending[1]]
            record.kind = _INCLUDE_FAIL
            reason = _message(res) or "failed"
            record.result = replace(record.result, status=TaskStatus.FAILED, message=reason)
            return

        if task_action in _INCLUDE_ACTIONS or action in _INCLUDE_ACTIONS:
            if name in ("runner_on_ok", "runner_on_failed"):
                loaded = _files_to_include(name, res, fold)
                values[_OK] += loaded
                self._includes[key] = [loaded, len(self._records)]
            include = True
        else:
            include = False
        meta = task_action in _META_ACTIONS or action in _META_ACTIONS
        changed = _is_changed(res, fold, str(event.get("stdout") or ""))
        status, kind = self._count(name, data, values, changed, include=include, meta=meta)

        message = _message(res)
        rc = _as_int(res.get("rc"))
        if fold is not None:
            if name == "runner_on_failed" and fold.message:
                message = f"{message}: {fold.message}" if message else fold.message
            if rc is None:
                rc = fold.rc
        result = TaskResult(
            host=host,
            play=_as_str(data.get("play")) or "",
            task=_as_str(data.get("task")) or "",
            status=status,
            role=_as_str(data.get("role")),
            module=action,
            start=_as_time(data.get("start")),
            end=_as_time(data.get("end")),
            duration=_as_float(data.get("duration")),
            rc=rc,
            message=message,
            play_uuid=_as_str(data.get("play_uuid")),
            task_uuid=task_uuid,
            counter=counter,
        )
        self._add(_Record(result, kind, handler=task_uuid in self._play.handlers), event)

    def _count(
        self,
        name: str,
        data: Mapping[str, Any],
        values: list[int],
        changed: bool,
        *,
        include: bool,
        meta: bool,
    ) -> tuple[TaskStatus, int]:
        """Bump the counters that need no decision; the result's status and kind."""
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
        return TaskStatus.UNREACHABLE, _UNREACH

    def _add(self, record: _Record, event: Mapping[str, Any]) -> None:
        index = len(self._records)
        self._records.append(record)
        host = record.result.host
        if record.kind == _FAIL:
            self._fail_indexes.append(index)
        elif record.kind == _UNREACH:
            self._unreach_indexes.append(index)
            if "...ignoring" in str(event.get("stdout") or ""):
                record.decision = TaskStatus.IGNORED
            else:
                self._pending_unreach.setdefault(host, []).append(index)
        if record.kind != _UNCOUNTED:
            self._play.timeline.setdefault(host, []).append(index)

    def _host_seen(self, host: str) -> None:
        """A host has a new result: what that settles about its earlier ones."""
        # An unreachable host that is not ignored is never contacted again.
        for index in self._pending_unreach.pop(host, ()):
            self._records[index].decision = TaskStatus.IGNORED
        # Ambiguous failures are those of closed plays: a host running in a later play
        # ended its earlier play in good standing, so they were rescued.
        for index in self._ambiguous.pop(host, ()):
            for member in self._groups.pop(index, (index,)):
                self._records[member].decision = TaskStatus.RESCUED
                self._chain.pop(member, None)

    # ------------------------------------------------------------------ decisions

    def _close_play(self) -> None:
        """Make the decisions about the play that just ended permanent."""
        if self._play.timeline:
            analysis = _analyse_play(self._records, self._play)
            for index, (status, ambiguous) in analysis.decisions.items():
                if ambiguous:
                    host = self._records[index].result.host
                    self._ambiguous.setdefault(host, []).append(index)
                else:
                    self._records[index].decision = status
            self._groups.update(analysis.groups)
            self._chain.update(analysis.chain)
        self._play = _Play(None)
        self._version += 1

    def _analysis(self) -> _Analysis:
        """Status of every failure and unreachable so far: (status, still ambiguous)."""
        version, cached = self._cached
        if version == self._version:
            return cached
        analysis = _Analysis()
        decisions = analysis.decisions
        for index in self._fail_indexes:
            decision = self._records[index].decision
            if decision is not None:
                decisions[index] = (decision, False)
        for indexes in self._ambiguous.values():
            for index in indexes:
                if self._records[index].decision is None:
                    decisions[index] = (TaskStatus.RESCUED, True)
        analysis.groups.update(self._groups)
        analysis.chain.update(self._chain)
        if self._play.timeline:
            current = _analyse_play(self._records, self._play)
            decisions.update(current.decisions)
            analysis.groups.update(current.groups)
            analysis.chain.update(current.chain)
        for index in self._unreach_indexes:
            decision = self._records[index].decision
            decisions[index] = (decision or TaskStatus.UNREACHABLE, False)
        self._cached = (self._version, analysis)
        return analysis

    def _settle(
        self,
        analysis: _Analysis,
        decisions: _Decisions,
        run_status: RunStatus,
        rc: int | None,
        warnings: list[str],
    ) -> None:
        """Decide the failures the events leave ambiguous, from the run's outcome."""
        ambiguous = [index for index, (_, amb) in decisions.items() if amb]
        if not ambiguous:
            return
        verdict: dict[int, TaskStatus | None] = {index: None for index in ambiguous}
        if run_status == RunStatus.SUCCESSFUL:
            # rc 0: no host ended a play failed, so every failure was rescued.
            verdict = dict.fromkeys(ambiguous, TaskStatus.RESCUED)
        elif run_status == RunStatus.FAILED and rc in (2, None):
            certain = any(
                status == TaskStatus.FAILED and not amb for status, amb in decisions.values()
            ) or any(record.kind == _INCLUDE_FAIL for record in self._records)
            if not certain:
                # Some failure was not rescued, and only the ambiguous ones can be it.
                groups = {analysis.groups.get(index, (index,)) for index in ambiguous}
                hosts = {self._records[index].result.host for index in ambiguous}
                if len(groups) == 1:
                    verdict = dict.fromkeys(ambiguous, TaskStatus.FAILED)
                elif len(hosts) == 1:
                    last = max(ambiguous, key=lambda i: self._records[i].result.counter)
                    verdict[last] = TaskStatus.FAILED
                _propagate_failed(verdict, analysis.groups, analysis.chain)
        for index in ambiguous:
            status = verdict[index]
            result = self._records[index].result
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

    def _final_result(self, index: int, decisions: _Decisions) -> TaskResult:
        record = self._records[index]
        decided = decisions.get(index)
        if decided is None or record.kind not in (_FAIL, _UNREACH):
            return record.result
        status = decided[0]
        if status == record.result.status:
            return record.result
        return replace(record.result, status=status)

    def _count_values(self, decisions: _Decisions) -> dict[str, list[int]]:
        values = {host: list(v) for host, v in self._base.items()}
        for index, (status, _) in decisions.items():
            record = self._records[index]
            host_values = values.setdefault(record.result.host, [0] * 7)
            if record.kind == _FAIL:
                host_values[_RESCUED if status == TaskStatus.RESCUED else _FAILURES] += 1
            elif status == TaskStatus.IGNORED:
                host_values[_OK] += 1
                host_values[_IGNORED] += 1
            else:
                host_values[_UNREACHABLE] += 1
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


def _event_file_order(path: Path) -> tuple[int, str]:
    prefix = path.name.split("-", 1)[0]
    return (int(prefix) if prefix.isdigit() else 1 << 62, path.name)


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
    no such directory, no ``job_events/`` or no event file in it.
    """
    directory, notes = _find_artifact_dir(Path(path))
    files = sorted((directory / "job_events").glob("*.json"), key=_event_file_order)
    if not files:
        raise EventsError(f"{directory / 'job_events'}: no event files")
    parser = EventParser()
    for note in notes:
        parser.warn(note)
    for file in files:
        try:
            event = json.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            parser.mark_partial(f"{file}: unreadable event file skipped ({type(exc).__name__})")
            continue
        if not isinstance(event, Mapping):
            parser.mark_partial(f"{file}: not an event object; skipped")
            continue
        parser.feed(event)
    status = _read_text(directory / "status") or None
    rc_text = _read_text(directory / "rc")
    rc: int | None = None
    if rc_text:
        try:
            rc = int(rc_text)
        except ValueError:
            parser.warn(f"{directory / 'rc'}: not an integer: {rc_text[:40]!r}")
    return parser.finish(status=status, rc=rc)
