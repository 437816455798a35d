"""A finished run the history could not take yet, kept in a file until it can.

When the history cannot be written at the end of a run (its write lock held longer
than a write waits, a full disk, a server out of reach), the run's whole
`RunRecording` is saved as JSON in the run's own directory (`PENDING_NAME`, see
`agentmaint.run.recorder`), and a later recovery (`agentmaint.run.recovery`)
records it, as it happened, once the history can be written again.

The values are the history's own row forms (`agentmaint.history.rows`), so what is
read back is exactly what was saved. The file is written atomically and privately
(`write_pending`): a temporary file created beside it (``O_CREAT | O_EXCL |
O_NOFOLLOW``, mode 0600), synced, renamed into place, the directory synced; it is
read and removed without following a symlink, inside a directory opened without
following one either.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentmaint.errors import StoreError, UsageError
from agentmaint.history.recording import RunRecording
from agentmaint.history.rows import (
    RUN_COLUMNS,
    count_rows,
    record_from_row,
    record_rows,
    run_from_row,
    run_row,
    task_from_row,
    task_rows,
)
from agentmaint.records import HostCounts

__all__ = [
    "PENDING_NAME",
    "PendingRecording",
    "from_json",
    "read_pending",
    "remove_pending",
    "to_json",
    "write_pending",
]

#: The file name of a run's unrecorded results, inside the run's own directory.
PENDING_NAME = "unrecorded.json"
_FORMAT = "agentmaint unrecorded run"
_VERSION = 1
#: Bigger than any recording a run can leave (a run of 100,000s of task results is
#: tens of MiB); a bigger file is not one agentmaint wrote.
_MAX_BYTES = 1 << 30
_CONTROLLER = [column.strip() for column in RUN_COLUMNS.split(",")].index("controller")


@dataclass(frozen=True, slots=True)
class PendingRecording:
    """A run's recording that the history could not take, and why."""

    recording: RunRecording
    #: Why the history could not take it (a `StoreError`'s message: no password).
    reason: str


def to_json(pending: PendingRecording) -> str:
    """The JSON document of `pending` (`from_json` reads it back unchanged)."""
    recording = pending.recording
    run = recording.run
    # run_row puts its second argument where the run names no controller: keep None.
    row = list(run_row(run, ""))
    row[_CONTROLLER] = run.controller
    document = {
        "format": _FORMAT,
        "version": _VERSION,
        "reason": pending.reason,
        "run": row,
        "task_results": [list(r[1:]) for r in task_rows(run.id, recording.results)],
        "host_counts": [list(r[1:]) for r in count_rows(run.id, recording.counts)],
        "records": [list(r[1:]) for r in record_rows(run.id, recording.records)],
    }
    return json.dumps(document, separators=(",", ":"))


def from_json(text: str | bytes) -> PendingRecording:
    """The `PendingRecording` of a `to_json` document.

    Raises `ValueError` (with what is wrong) for anything else.
    """
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ValueError("not an agentmaint unrecorded run")
        if document.get("version") != _VERSION:
            raise ValueError(f"unknown version {document.get('version')!r}")
        reason = document["reason"]
        if not isinstance(reason, str):
            raise ValueError("its reason is not text")
        run = run_from_row(document["run"])
        results = [task_from_row(row) for row in _rows(document, "task_results")]
        counts = {row[0]: HostCounts(*row[1:]) for row in _rows(document, "host_counts")}
        records = [record_from_row([*row, run.id]) for row in _rows(document, "records")]
        recording = RunRecording(run, tuple(results), counts, tuple(records))
    except (KeyError, IndexError, TypeError, ValueError, UsageError) as exc:
        raise ValueError(f"malformed: {exc}") from exc
    return PendingRecording(recording, reason)


def _rows(document: dict[str, Any], key: str) -> list[list[Any]]:
    rows = document[key]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ValueError(f"{key} is not a list of rows")
    return rows


def write_pending(directory: Path, pending: PendingRecording) -> Path:
    """Save `pending` as ``directory/PENDING_NAME``, atomically; return its path.

    Raises `OSError` when it cannot be written (nothing is left behind then), e.g. a
    full disk, or a `directory` that is a symlink.
    """
    data = to_json(pending).encode()
    temporary = f".{PENDING_NAME}.{secrets.token_hex(6)}.tmp"
    with _directory(directory) as fd:
        handle = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=fd,
        )
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(handle, view) :]
                os.fsync(handle)
            finally:
                os.close(handle)
            os.rename(temporary, PENDING_NAME, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary, dir_fd=fd)
            raise
        os.fsync(fd)  # the rename itself survives a crash
    return directory / PENDING_NAME


def read_pending(directory: Path) -> PendingRecording | None:
    """The recording saved in ``directory/PENDING_NAME``; None when there is none.

    Raises `StoreError` naming the file when it is there but cannot be used: a symlink
    (never followed), not a regular file, unreadable, or not a recording.
    """
    path = directory / PENDING_NAME
    try:
        with _directory(directory) as fd:
            handle = os.open(PENDING_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            with os.fdopen(handle, "rb") as file:
                if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                    raise StoreError(f"{path}: not a regular file; left untouched")
                data = file.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path) or os.path.islink(directory):
            raise StoreError(f"{path}: a symlink, not followed; left untouched") from exc
        raise StoreError(f"{path}: cannot read the unrecorded run: {exc}") from exc
    if len(data) > _MAX_BYTES:
        raise StoreError(f"{path}: too big for an unrecorded run; left untouched")
    try:
        return from_json(data)
    except ValueError as exc:
        raise StoreError(f"{path}: not an unrecorded run agentmaint wrote ({exc})") from exc


def remove_pending(directory: Path) -> None:
    """Remove the regular file ``directory/PENDING_NAME``; anything else there is left.

    Nothing there is not an error (a concurrent recovery removed it).
    """
    with contextlib.suppress(FileNotFoundError), _directory(directory) as fd:
        if stat.S_ISREG(os.stat(PENDING_NAME, dir_fd=fd, follow_symlinks=False).st_mode):
            os.unlink(PENDING_NAME, dir_fd=fd)


@contextlib.contextmanager
def _directory(directory: Path) -> Iterator[int]:
    """`directory` opened without following a symlink (what the other calls work inside)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)
