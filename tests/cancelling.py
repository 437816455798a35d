"""Cancelling a run once it has got somewhere: the tests of what a cancel leaves behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agentmaint.config.schedule import Schedule
from agentmaint.maintenance import run_maintenance
from agentmaint.run.results import RunResult


def run_cancelled_when(
    schedule: Schedule, ready: Callable[[], bool]
) -> tuple[RunResult, threading.Event]:
    """Run `schedule` (forced), cancelling it as soon as `ready()` holds; the result and event.

    `ready` is polled for at most 120 s (a deadline, not a timing: a run that never gets
    there is cancelled then, and the test's own assertions say what is missing).
    """
    cancel = threading.Event()

    def cancel_when_ready() -> None:
        for _ in range(1200):
            if ready():
                break
            time.sleep(0.1)
        cancel.set()

    watcher = threading.Thread(target=cancel_when_ready, daemon=True)
    watcher.start()
    result = run_maintenance(schedule, force=True, cancel=cancel)
    watcher.join()
    return result, cancel
