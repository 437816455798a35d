"""Run the agentmaint CLI with a fault hook inside `HistoryStore.record_run` (for tests).

``python -m tests.integration.record_faults ARGV...`` runs ``agentmaint ARGV...`` in this
process after patching the history's databases so that the statements a
`HistoryStore.record_run` call sends (``execute``, ``executemany``, ``insert_rows``
of both engines) are counted, and, as the environment asks:

``FAULT_KILL_AT=N``
    SIGKILL this process just before statement N (0-based) of the recording; when
    the recording has N statements or fewer, right after it returned (committed).
``FAULT_PAUSE_AT=N``
    Before statement N, create the file ``FAULT_READY`` and sleep until killed
    (the test times its SIGKILL from outside by that file).
``FAULT_GO=PATH``
    At the start of the recording, create ``FAULT_READY`` and wait for PATH to exist
    (a starting gate that lets several processes record at once).
``FAULT_COUNT=PATH``
    After the recording returned, write the number of its statements to PATH.

Without any of these, it counts nothing and only runs the command.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentmaint.cli import main
from agentmaint.history.db.postgres import PostgresDatabase
from agentmaint.history.db.sqlite import SqliteDatabase
from agentmaint.history.store import HistoryStore, Recorded, RunRecording

_state = {"recording": False, "count": 0}


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value is None else int(value)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"record_faults: {path} never appeared")
        time.sleep(0.02)


def _before_statement() -> None:
    if not _state["recording"]:
        return
    index = _state["count"]
    _state["count"] = index + 1
    if index == _env_int("FAULT_KILL_AT"):
        os.kill(os.getpid(), signal.SIGKILL)
    if index == _env_int("FAULT_PAUSE_AT"):
        Path(os.environ["FAULT_READY"]).touch()
        while True:  # inside the open write transaction, until the test kills us
            time.sleep(1)


def _counted(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _before_statement()
        return method(*args, **kwargs)

    return wrapper


def install() -> None:
    """Patch both engines' statement methods and `HistoryStore.record_run`."""
    for cls in (SqliteDatabase, PostgresDatabase):
        for name in ("execute", "executemany", "insert_rows"):
            setattr(cls, name, _counted(getattr(cls, name)))
    # SQLite's insert_rows (the base class's) calls executemany: both are counted.
    original = HistoryStore.record_run

    def record_run(self: HistoryStore, recording: RunRecording) -> Recorded:
        go = os.environ.get("FAULT_GO")
        if go is not None:
            Path(os.environ["FAULT_READY"]).touch()
            _wait_for(Path(go))
        _state["recording"], _state["count"] = True, 0
        try:
            recorded = original(self, recording)
        finally:
            _state["recording"] = False
        kill_at = _env_int("FAULT_KILL_AT")
        if kill_at is not None and kill_at >= _state["count"]:
            os.kill(os.getpid(), signal.SIGKILL)  # after the commit
        count = os.environ.get("FAULT_COUNT")
        if count is not None:
            Path(count).write_text(str(_state["count"]))
        return recorded

    HistoryStore.record_run = record_run  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    sys.exit(main(sys.argv[1:]))
