"""Reading an ansible-runner artifact directory from disk into a `ParsedRun`.

The only I/O of the events parser.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from agentmaint.ansible.events.dispatch import NUMBER_EVENTS
from agentmaint.ansible.events.model import ParsedRun
from agentmaint.ansible.events.parser import EventParser
from agentmaint.errors import EventsError

__all__ = ["read_artifact_dir"]

_READ_SIZE = 1 << 16  # bytes per read of an event file (most are 1 to 3 KB)
# orjson reads an integer beyond 64 bits as a float (json: an int); such a number has 19
# digits or more in a row, which these make easy to spot: every digit becomes a 0
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
# ansible-runner's own test (``utils.collect_new_events``): a counter-prefixed name, and
# not a ``-partial`` one
_EVENT_FILE = re.compile(r"^[0-9]+-.+json$")


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


def _event_file_names(events_dir: Path) -> list[str]:
    """The event file names of ``job_events/``, in counter order: those ansible-runner reads.

    Names are ``<counter>-<uuid>.json``; like ansible-runner, names without a counter
    and ``-partial`` names are not events of the run (an ``ansible-playbook`` run inside
    a task inherits the event callback and writes ``<uuid>-partial.json`` files of its
    own there, stats included). Names with the same counter come in name order.
    """
    # name -> counter. The test is ansible-runner's regular expression, written out with
    # string methods for the usual name (a regular expression and a key function per
    # name cost about as much as reading the directory): then both sorts run in C.
    counters: dict[str, int] = {}
    for name in os.listdir(events_dir):
        if "-partial" in name:
            continue
        head, _, rest = name.partition("-")
        if "\n" in name:  # where `.` and `$` have their subtleties: the expression decides
            if _EVENT_FILE.match(name):
                counters[name] = int(head)
        elif head.isdigit() and head.isascii() and len(rest) > 4 and rest.endswith("json"):
            counters[name] = int(head)
    if counters and len(set(counters.values())) == len(counters):
        # a counter per file, as ansible-runner writes them: when they run from 1 (or
        # so) with few gaps, each name goes straight to its place; else one sort
        low, high = min(counters.values()), max(counters.values())
        if high - low < 2 * len(counters):
            places: list[str | None] = [None] * (high - low + 1)
            for name, counter in counters.items():
                places[counter - low] = name
            return list(filter(None, places))  # names are never empty
        return sorted(counters, key=counters.__getitem__)
    names = sorted(counters)
    names.sort(key=counters.__getitem__)  # stable: ties stay in name order
    return names


def _load_json(data: bytes) -> Any:
    """``json.loads(data)``, three times faster for the usual event file.

    orjson decodes the file, except when it holds a run of 19 digits or more (possibly an
    integer beyond 64 bits, which orjson would give as a float); anything orjson refuses
    (NaN and Infinity, which Python's ``json.dumps`` writes for a module's float, lone
    surrogates, a BOM, another encoding, invalid JSON) goes through ``json.loads`` itself,
    which then gives its own result or error: the value is always ``json.loads``'s.
    """
    if _LONG_NUMBER not in data.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def _read_file(name: str, directory: int | None) -> bytes:
    """The bytes of one file, opened relative to a directory descriptor when there is one.

    Plain ``os.open``/``os.read``/``os.close``: a third of the cost of ``Path.read_bytes``
    for the 100,000 small files of a big run (no buffered file object, no path joining).
    One read for a file smaller than a read: a regular file's read comes back short only
    at its end, so reading on to the empty read that confirms it would be a system call
    per file for nothing (a file cut short anyway fails to decode, and is reported).
    """
    fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=directory)
    try:
        data = os.read(fd, _READ_SIZE)
        if len(data) == _READ_SIZE:
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

    Events are read from ``job_events/<counter>-*.json`` in ``counter`` order (the
    number each file name starts with), leaving out ``-partial`` files as
    ansible-runner does; unreadable or truncated files are skipped with a
    warning naming them, and make the run partial. With several runs under
    ``artifacts/``, the newest is read. The status comes from the ``status`` file
    (inferred when missing), rc from ``rc``; `ParsedRun.directory` is the directory
    read and `ParsedRun.ident` the ``runner_ident`` its events name (its name when
    none does: what a copy under another name keeps). Raises `EventsError` when there is
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
    parser = EventParser()
    for note in notes:
        parser.warn(note)
    try:
        if not names:
            raise EventsError(f"{events_dir}: no event files")
        ident = _feed_files(parser, events_dir, names, dir_fd)
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
    parsed = parser.finish(status=status, rc=rc)
    return replace(parsed, directory=directory, ident=ident or directory.name)


def _feed_files(
    parser: EventParser, events_dir: Path, names: list[str], dir_fd: int | None
) -> str | None:
    """Read, decode and feed each event file; the first ``runner_ident`` the events name.

    `_read_file` and `_load_json` are written out here for the usual file (no helper call
    per file: a big run has 100,000s of them); the helpers take the rest. The event given
    to the parser may differ from ``json.loads``'s only where the parser does not look:
    numbers beyond 64 bits (floats for orjson) in an event outside `NUMBER_EVENTS`, other
    than its counter.
    """
    prefix = "" if dir_fd is not None else f"{events_dir}{os.sep}"
    feed = parser.feed
    ident: str | None = None
    os_open, os_read, os_close, flags = os.open, os.read, os.close, os.O_RDONLY | os.O_CLOEXEC
    orjson_loads, decode_error, long_number = orjson.loads, orjson.JSONDecodeError, _LONG_NUMBER
    number_events = NUMBER_EVENTS
    for name in names:
        try:
            if dir_fd is None:
                data = _read_file(prefix + name, None)
            else:
                fd = os_open(name, flags, dir_fd=dir_fd)
                try:
                    data = os_read(fd, _READ_SIZE)
                finally:
                    os_close(fd)
                if len(data) == _READ_SIZE:  # more to read: the file again, whole
                    data = _read_file(name, dir_fd)
            # `_load_json(data)`, with its test for long numbers made only where the parser
            # reads numbers: the counter (which orjson gives as a float when it is one) and
            # the events of `NUMBER_EVENTS` (results, items, the recap: 40% of a big run)
            try:
                event = orjson_loads(data)
            except decode_error:
                event = json.loads(data)
            else:
                if type(event) is dict and (
                    type(event.get("counter")) is float
                    or (
                        event.get("event") in number_events
                        and long_number in data.translate(_DIGITS_AS_ZEROS)
                    )
                ):
                    event = json.loads(data)
        except (OSError, ValueError) as exc:
            parser.mark_partial(
                f"{events_dir / name}: unreadable event file skipped ({type(exc).__name__})"
            )
            continue
        if type(event) is not dict:
            parser.mark_partial(f"{events_dir / name}: not an event object; skipped")
            continue
        if ident is None and type(event.get("runner_ident")) is str:
            ident = event["runner_ident"]
        feed(event)
    return ident
