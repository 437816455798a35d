"""The dispatch of event kinds: `EventParser.feed` and what each kind of event does.

Text events keep the last fatal error; ``playbook_on_*`` events follow plays
(and end them); loop item events fold into their task's result; result events
become `TaskResult`s and move the counters.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from agentmaint.ansible.events.bookkeeping import (
    _CHANGED,
    _FAIL,
    _FAILURES,
    _IGNORED,
    _INCLUDE_FAIL,
    _OK,
    _PLAIN,
    _RESCUED,
    _SKIPPED,
    _UNCOUNTED,
    _UNREACH,
    _UNREACHABLE,
    _Fold,
    _new_result,
    _Play,
    _with_status,
)
from agentmaint.ansible.events.decisions import _ParserState
from agentmaint.ansible.events.fields import (
    _MESSAGE_LIMIT,
    _NO_MODULE,
    _NON_ZERO,
    _as_float,
    _as_int,
    _as_str,
    _as_time,
    _files_to_include,
    _is_changed,
    _item_label,
    _message,
    _strip_ansi,
    _tail,
)
from agentmaint.ansible.events.fused import JOB_KEY, STEPS_KEY, expand
from agentmaint.ansible.events.outcome import _stats_counts
from agentmaint.records import TaskResult, TaskStatus

_ERROR_LINE = re.compile(r"^\s*(\[ERROR\]|ERROR!)")
_NEW_DISPLAY_LINE = re.compile(r"^\s*\[(WARNING|DEPRECATION WARNING)\]")
_ERROR_LIMIT = 4000  # characters kept of a fatal error block

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
#: The events whose numbers the parser reads, besides every event's ``counter``: the others
#: give it only text, flags (truthiness) and their kind. An integer beyond 64 bits read as a
#: float changes nothing in them (`agentmaint.ansible.events.artifacts` decodes by this).
NUMBER_EVENTS = _RESULT_EVENTS | _ITEM_EVENTS | {"playbook_on_stats"}
_EMPTY: Mapping[str, Any] = MappingProxyType({})
# The statuses as plain names: the hot path reads them once per result.
_S_OK, _S_CHANGED, _S_FAILED = TaskStatus.OK, TaskStatus.CHANGED, TaskStatus.FAILED
_S_IGNORED, _S_SKIPPED, _S_UNREACHABLE = (
    TaskStatus.IGNORED,
    TaskStatus.SKIPPED,
    TaskStatus.UNREACHABLE,
)
_fromisoformat = datetime.fromisoformat
# A handler of one kind of event: (name, event, event_data or an empty mapping, counter).
_Handler = Callable[[str, Mapping[str, Any], Mapping[str, Any], int | None], None]


class _Dispatcher(_ParserState):
    """`EventParser.feed` and the handler of each kind of event (see `EventParser`)."""

    def __init__(self) -> None:
        """Start with an empty stream."""
        super().__init__()
        # What `feed` does with each event, bound once: one dict lookup and one call per
        # event (others, runner_on_start and the like, leave nothing behind).
        self._handlers: dict[str, _Handler] = {
            **dict.fromkeys(_TEXT_EVENTS, self._text_event),
            **dict.fromkeys(_RESULT_EVENTS, self._result),
            **dict.fromkeys(_ITEM_EVENTS, self._item_event),
            "playbook_on_task_start": self._task_start,
            "playbook_on_play_start": self._play_start,
            "playbook_on_stats": self._stats_event,
        }

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
            if counter > self._max_counter:  # noqa: PLR1730 -- max() is a call per event
                self._max_counter = counter
        name = event.get("event")
        data = event.get("event_data")
        if (type(name) is not str and not isinstance(name, str)) or (
            data is not None and type(data) is not dict and not isinstance(data, Mapping)
        ):
            self._malformed += 1
            return
        handler = self._handlers.get(name)
        if handler is None:  # runner_on_start and the like: nothing to keep
            self._in_error = False
            return
        handler(name, event, data or _EMPTY, counter)

    def _text_event(
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int | None
    ) -> None:
        self._text(event.get("stdout"))

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

    def _task_start(
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int | None
    ) -> None:
        self._in_error = False
        if self._includes:
            self._includes.clear()
        get = data.get
        play_uuid = get("play_uuid")
        if not (type(play_uuid) is str and play_uuid == self._play_seen):
            self._enter_play(_as_str(play_uuid))
        if get("is_conditional") and (task_uuid := _as_str(get("task_uuid"))) is not None:
            self._play.handlers.add(task_uuid)

    def _play_start(
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int | None
    ) -> None:
        self._in_error = False
        self._includes.clear()
        self._plays += 1
        self._enter_play(_as_str(data.get("play_uuid")) or _as_str(data.get("uuid")))

    def _stats_event(
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int | None
    ) -> None:
        self._in_error = False
        self._close_play()
        self._stats = _stats_counts(data)

    def _item_event(
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int | None
    ) -> None:
        self._in_error = False
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

    def _result(  # noqa: PLR0912, PLR0915 - the hot path, written out (see below)
        self, name: str, event: Mapping[str, Any], data: Mapping[str, Any], counter: int | None
    ) -> None:
        # The hot path of a big run: one call per task result, so the common case (plain
        # dicts and strings, as decoded from JSON) is written out here, without helper
        # calls, keyword arguments or copies; the helpers take the unusual shapes.
        self._in_error = False
        get = data.get
        host, task_uuid = get("host"), get("task_uuid")
        if not (type(host) is str and host and type(task_uuid) is str and task_uuid):
            host, task_uuid = _as_str(host), _as_str(task_uuid)
            if host is None or task_uuid is None:
                self._malformed += 1
                return
        intern = self._strings.setdefault
        host, task_uuid = intern(host, host), intern(task_uuid, task_uuid)
        play_uuid = get("play_uuid")
        if not (type(play_uuid) is str and play_uuid):
            play_uuid = _as_str(play_uuid)
        if play_uuid is not None:
            play_uuid = intern(play_uuid, play_uuid)
            if play_uuid != self._play_seen:
                self._enter_play(play_uuid)
        if self._pending_unreach or self._ambiguous:
            self._host_seen(host)
        self._version += 1
        res = get("res")
        if type(res) is not dict and not isinstance(res, Mapping):
            res = _EMPTY
        key = (task_uuid, host)
        fold = self._folds.pop(key, None) if self._folds else None
        task_action = get("task_action")
        if not (type(task_action) is str and task_action):
            task_action = _as_str(task_action)
        action = get("resolved_action")
        if not (type(action) is str and action):
            action = _as_str(action) or task_action
        values = self._base.get(host)
        if values is None:
            values = self._base[host] = [0] * 7

        if name == "runner_on_failed" and self._includes:
            pending = self._includes.get(key)
            if pending is not None and pending[0] > 0:
                # A file the include asked for could not be loaded: the strategy counts a
                # failure instead of its ok, and re-sends the include result as failed.
                pending[0] -= 1
                values[_OK] -= 1
                values[_FAILURES] += 1
                self._records.kind[pending[1]] = _INCLUDE_FAIL
                shown = self._records.shown[pending[1]]
                why = _message(res) or "failed"
                self._records.shown[pending[1]] = replace(shown, status=_S_FAILED, message=why)
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

        # The counters (unreachables as dark until shown ignored), the status and the kind
        # of record; only ok and failed results count changes (skipped ones have no res).
        if name == "runner_on_ok":
            changed = bool(res["changed"]) if "changed" in res else _is_changed(res, fold, event)
            if not include:
                values[_OK] += 1
                values[_CHANGED] += changed
            status, kind = (_S_CHANGED if changed else _S_OK), _PLAIN
        elif name == "runner_on_failed":
            changed = bool(res["changed"]) if "changed" in res else _is_changed(res, fold, event)
            if not get("ignore_errors"):
                status, kind = _S_FAILED, _FAIL
            else:
                values[_OK] += 1
                values[_IGNORED] += 1
                values[_CHANGED] += changed
                status, kind = _S_IGNORED, _PLAIN
        elif name == "runner_on_skipped":
            if meta:
                status, kind = _S_SKIPPED, _UNCOUNTED
            else:
                values[_SKIPPED] += 1
                status, kind = _S_SKIPPED, _PLAIN
        elif "...ignoring" in str(event.get("stdout") or ""):
            # the default callback's mark of ignore_unreachable
            values[_OK] += 1
            values[_IGNORED] += 1
            status, kind = _S_IGNORED, _UNREACH
        else:
            values[_UNREACHABLE] += 1
            status, kind = _S_UNREACHABLE, _UNREACH

        # The `TaskResult`, with shared strings. `_message(res)` written out for the
        # usual message, a plain ``msg`` (the helper takes every other case).
        msg = res.get("msg")
        message: str | None
        if (
            type(msg) is str
            and "censored" not in res
            and (message := msg.strip())
            and message != _NON_ZERO
            and not msg.startswith(_NO_MODULE)
        ):
            if len(message) > _MESSAGE_LIMIT:
                message = _tail(message)
        elif not res:  # a skipped result, or one without a res: nothing to say
            message = None
        else:
            message = _message(res)
        rc = res.get("rc")
        if rc is not None and type(rc) is not int:
            rc = _as_int(rc)
        if fold is not None:
            if name == "runner_on_failed" and fold.message:
                message = f"{message}: {fold.message}" if message else fold.message
            if rc is None:
                rc = fold.rc
        if message is not None:
            message = intern(message, message)
        play, task, role = get("play"), get("task"), get("role")
        if not (type(play) is str and play):
            play = _as_str(play) or ""
        if not (type(task) is str and task):
            task = _as_str(task) or ""
        start, end, duration = get("start"), get("end"), get("duration")
        try:
            start = _fromisoformat(start) if type(start) is str and start else _as_time(start)
            end = _fromisoformat(end) if type(end) is str and end else _as_time(end)
        except ValueError:  # not a time: the helper reads it as missing
            start, end = _as_time(get("start")), _as_time(get("end"))
        # `TaskResult(...)`, positional: its field order (see `_new_result`)
        result = _new_result(
            host,
            intern(play, play),
            intern(task, task),
            status,
            intern(role, role)
            if type(role) is str and role
            else None
            if role is None
            else _as_str(role),
            None if action is None else intern(action, action),
            start,
            end,
            duration if type(duration) is float else _as_float(duration),
            rc,
            message,
            play_uuid,
            task_uuid,
            counter or 0,
        )
        if STEPS_KEY in res or JOB_KEY in res:  # agentmaint's fused task (see `fused`)
            result = self._fused_steps(result, res)
        # The display of an unreachable result says "...ignoring" exactly when the task
        # ignores unreachables: a host displayed unreachable without it is dark for good,
        # whatever it runs later (``meta: clear_host_errors`` brings such hosts back).
        shown_dark = name == "runner_on_unreachable" and "UNREACHABLE!" in str(
            event.get("stdout") or ""
        )
        self._add(result, kind, task_uuid in self._play.handlers, settled=shown_dark)

    def _fused_steps(self, result: TaskResult, res: Mapping[str, Any]) -> TaskResult:
        """Keep the earlier steps of a fused task's result; what stands for the task."""
        steps, final = expand(result, res)
        for step in steps:
            self._add(step, _UNCOUNTED, False)
        return final

    def _add(self, result: TaskResult, kind: int, handler: bool, *, settled: bool = False) -> None:
        """Keep a result; `settled`: an unreachable whose display decides it (not pending)."""
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
                    shown[earlier] = _with_status(shown[earlier], TaskStatus.RESCUED)
        if kind == _FAIL:
            play.failures.append(index)
            play.waiting.setdefault(host, []).append(index)
            play.values.setdefault(host, [0] * 7)[_FAILURES] += 1
        elif kind == _UNREACH and result.status == TaskStatus.UNREACHABLE and not settled:
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
