"""Reading the fields of one event: strings, numbers, times, messages, changed.

Pure functions of a result (``event_data.res``) and its event; tolerant of any
shape (a field of the wrong type reads as missing).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from agentmaint.ansible.events.bookkeeping import _Fold

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CHANGED_LINE = re.compile(r"^changed: \[", re.MULTILINE)
_CHANGED_JSON = re.compile(r'"changed":\s*true')

_MESSAGE_LIMIT = 1000  # characters kept of a long message or an output tail
_NO_MESSAGES: tuple[Any, ...] = (None, [], {})  # a msg that says nothing


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


#: Ansible's messages for a module that never ran (the shell or become said why).
_NO_MODULE = ("Module result deserialization failed", "MODULE FAILURE")


def _last_line(res: Mapping[str, Any], keys: tuple[str, str] = ("stderr", "stdout")) -> str | None:
    """The last non-empty line of a command's stderr, else of its stdout."""
    for key in keys:
        text = res.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip().splitlines()[-1].strip()
    return None


_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _program(cmd: Any) -> str | None:
    """The program a command result ran: the first word of ``cmd`` (a string or a list)."""
    if isinstance(cmd, list) and cmd:
        cmd = cmd[0]
    if not isinstance(cmd, str) or not cmd.strip():
        return None
    return _program_of(str(cmd))


@functools.lru_cache(maxsize=256)
def _program_of(cmd: str) -> str | None:
    # Cached: a failing command is usually the same command on many hosts, and
    # ``shlex.split`` costs about 50 us a call (a quarter of a second for 5,000 results).
    try:
        words = shlex.split(cmd)
    except ValueError:  # unbalanced quotes: the raw first word says enough
        words = cmd.split()
    words = [w for w in words if not _ASSIGNMENT.match(w)] or words  # skip ``VAR=value``
    return os.path.basename(words[0].rstrip(";"))[:80] if words else None


def _message(res: Mapping[str, Any]) -> str | None:
    """The human message of a result: msg, else reason/skip_reason, else an output tail.

    A no_log result gives its censored text and nothing else.
    """
    if "censored" in res:
        return str(res["censored"])
    msg = res.get("msg")
    if isinstance(msg, str):
        stripped = msg.strip()
        if stripped == _NON_ZERO:
            if said := _last_line(res):
                return _tail(f"{_NON_ZERO} ({res.get('rc')}): {said}")  # what the command said
            # A command that failed silently: which one, and how, is all there is to say.
            program = _program(res.get("cmd"))
            return _tail(f"{_NON_ZERO} {res.get('rc')}" + (f" from {program}" if program else ""))
        if msg.startswith(_NO_MODULE) and (
            said := _last_line(res, ("module_stderr", "module_stdout"))
        ):
            # e.g. "sudo: not found": the module never started, the shell said why.
            return _tail(f"{stripped}: {said}")
        if stripped:
            # `_tail(msg)`, without stripping it again
            return stripped if len(stripped) <= _MESSAGE_LIMIT else _tail(stripped)
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
