"""A running run hears ``agentmaint cancel`` from another controller (PostgreSQL histories).

With a shared PostgreSQL history, the controller asking for a cancel may be another
machine: it cannot signal this process, so it writes the request into the run's row
(`HistoryStore.request_cancel`). While the run executes, a thread polls that row on
its own connection and sets the run's cancel event when it sees the request: the run
then stops exactly as on Ctrl-C (every process ended, recorded ``canceled``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from agentmaint.config.secret import Secret
from agentmaint.errors import AgentmaintError
from agentmaint.history.db.url import is_postgres_url
from agentmaint.history.store import HistoryStore

__all__ = ["POLL_SECONDS", "watch_cancel_requests"]

#: Seconds between two looks at the run's row.
POLL_SECONDS = 2.0

_log = logging.getLogger(__name__)


@contextlib.contextmanager
def watch_cancel_requests(
    history_url: str | Secret | None,
    state_dir: Path,
    run_id: str,
    cancel: threading.Event,
    *,
    interval: float = POLL_SECONDS,
) -> Iterator[None]:
    """Set `cancel` when a cancel of `run_id` is requested, for the ``with`` body.

    Does nothing unless `history_url` is PostgreSQL (with SQLite, ``agentmaint cancel``
    signals the controller, which is on the same machine).
    """
    url = history_url.reveal() if isinstance(history_url, Secret) else history_url
    if not is_postgres_url(url):
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=_poll,
        args=(url, state_dir, run_id, cancel),
        kwargs={"stop": stop, "interval": interval},
        name=f"agentmaint cancel watch {run_id}",
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _poll(
    url: str | None,
    state_dir: Path,
    run_id: str,
    cancel: threading.Event,
    *,
    stop: threading.Event,
    interval: float,
) -> None:
    store: HistoryStore | None = None
    try:
        while not stop.wait(interval) and not cancel.is_set():
            try:
                # Its own connection: the run's store is used by the run's thread.
                store = store or HistoryStore.from_url(url, state_dir)
                if store.cancel_requested(run_id):
                    _log.warning("run %s: cancel requested through the history", run_id)
                    cancel.set()
                    return
            except AgentmaintError as exc:
                # The history may be briefly unreachable; the run goes on, and so does
                # the watch.
                _log.warning("run %s: cannot look for a cancel request: %s", run_id, exc)
    finally:
        if store is not None:
            store.close()
