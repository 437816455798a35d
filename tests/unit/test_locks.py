"""Environment locks on both services: flock files (SQLite history), PostgreSQL advisory locks.

Every test taking `lock_url` runs twice: with no ``history.url`` (lock files under the
state directory) and with a PostgreSQL URL (advisory locks in that database). Holders
in other processes are real processes, killed for real.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentmaint.errors import LockHeldError, LockWaitCanceledError, StoreError
from agentmaint.history.store import HistoryStore
from agentmaint.records import RunRecord, RunStatus
from agentmaint.run.advisory_locks import environment_key
from agentmaint.run.locks import environment_locks
from agentmaint.run.process import process_identity
from agentmaint.run.recovery import recover_interrupted_runs
from tests.postgres import PASSWORD

HOST = socket.gethostname()

_HOLDER = """
import json, sys
from datetime import timedelta
from pathlib import Path
from agentmaint.run.locks import environment_locks
from agentmaint.run.process import process_identity
state_dir, url, run_id, names = sys.argv[1], sys.argv[2] or None, sys.argv[3], sys.argv[4:]
with environment_locks(Path(state_dir), names, run_id=run_id, history_url=url,
                       wait=timedelta(seconds=60)):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes stdin (or kills this process)
print("released", flush=True)
"""


@pytest.fixture
def lock_url() -> str | None:
    """``history.url`` selecting the lock service: here None, lock files.

    tests/integration/test_locks_postgresql.py runs these tests again with advisory locks.
    """
    return None


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


class Holder:
    """Another process holding environment locks until `release` (or a kill)."""

    def __init__(self, state_dir: Path, url: str | None, run_id: str, *names: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(state_dir), url or "", run_id, *names],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line == "locked\n", self.process.communicate()

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        out, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        assert out == "released\n"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=60)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        if holder.process.poll() is None:
            holder.kill()


def test_a_held_lock_is_refused_naming_its_holder(
    state_dir: Path, lock_url: str | None, holders: list[Holder]
) -> None:
    holder = Holder(state_dir, lock_url, "holder-run", "blue")
    holders.append(holder)
    before = time.monotonic()
    with (
        pytest.raises(LockHeldError) as caught,
        environment_locks(state_dir, ["blue"], run_id="mine", history_url=lock_url),
    ):
        pass
    assert time.monotonic() - before < 5  # no wait asked: refused at once
    error = caught.value
    assert error.environment == "blue"
    assert error.holder["pid"] == holder.pid
    assert error.holder["controller"] == HOST
    assert error.holder["run"] == "holder-run"
    assert datetime.fromisoformat(str(error.holder["started"])) <= datetime.now(UTC)
    message = str(error)
    assert message.startswith("environment 'blue' is locked by another run (")
    assert f"pid {holder.pid}" in message and "run holder-run" in message
    assert PASSWORD not in message
    # Other environments are free; the lock is free again once the holder lets go.
    with environment_locks(state_dir, ["green"], run_id="mine", history_url=lock_url):
        pass
    holder.release()
    with environment_locks(state_dir, ["blue"], run_id="mine", history_url=lock_url):
        pass


def test_locks_are_exclusive_within_one_process_too(state_dir: Path, lock_url: str | None) -> None:
    with environment_locks(state_dir, ["blue", "green"], run_id="first", history_url=lock_url):
        with (
            pytest.raises(LockHeldError, match="'green'") as caught,
            environment_locks(state_dir, ["green"], run_id="second", history_url=lock_url),
        ):
            pass
        assert caught.value.holder["pid"] == os.getpid()
        assert caught.value.holder["run"] == "first"
    with environment_locks(state_dir, ["green", "blue"], run_id="third", history_url=lock_url):
        pass


def test_wait_queues_behind_the_holder(
    state_dir: Path, lock_url: str | None, holders: list[Holder]
) -> None:
    holder = Holder(state_dir, lock_url, "holder-run", "blue")
    holders.append(holder)
    before = time.monotonic()
    with (
        pytest.raises(LockHeldError, match="holder-run"),
        environment_locks(
            state_dir, ["blue"], run_id="mine", wait=timedelta(seconds=0.6), history_url=lock_url
        ),
    ):
        pass
    assert 0.6 <= time.monotonic() - before < 10  # polled until the deadline

    assert holder.process.stdin is not None
    holder.process.stdin.close()  # the holder lets go in a moment
    with environment_locks(
        state_dir, ["blue"], run_id="mine", wait=timedelta(seconds=60), history_url=lock_url
    ):
        assert holder.process.wait(timeout=60) == 0


def test_a_cancel_ends_the_wait_for_a_lock_at_once(
    state_dir: Path, lock_url: str | None, holders: list[Holder]
) -> None:
    holders.append(Holder(state_dir, lock_url, "holder-run", "blue"))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    # Waiting would last an hour (then LockHeldError); the cancel ends it as soon as it is set.
    with (
        pytest.raises(
            LockWaitCanceledError, match=r"cancelled while waiting.*holder-run"
        ) as caught,
        environment_locks(
            state_dir,
            ["blue"],
            run_id="mine",
            wait=timedelta(hours=1),
            history_url=lock_url,
            cancel=cancel,
        ),
    ):
        pytest.fail("the lock was taken although another process holds it")
    assert caught.value.environment == "blue"
    assert isinstance(caught.value, LockHeldError)  # callers catching the parent still do


def test_a_killed_holder_leaves_its_locks_free(
    state_dir: Path, lock_url: str | None, holders: list[Holder]
) -> None:
    holder = Holder(state_dir, lock_url, "doomed-run", "blue", "green")
    holders.append(holder)
    holder.kill()  # SIGKILL: no cleanup of any kind in the holder
    # The server notices the closed connection at once; a short wait covers its reaction.
    with environment_locks(
        state_dir,
        ["green", "blue"],
        run_id="next",
        wait=timedelta(seconds=10),
        history_url=lock_url,
    ):
        pass


def test_environment_key_is_stable() -> None:
    digest = hashlib.sha256(b"agentmaint environment production").digest()
    assert environment_key("production") == int.from_bytes(digest[:8], "big", signed=True)
    assert environment_key("production") != environment_key("testing")
    assert -(2**63) <= environment_key("testing") < 2**63


def test_flock_holder_file_names_the_controller(state_dir: Path) -> None:
    with environment_locks(state_dir, ["blue"], run_id="r1"):
        info = json.loads((state_dir / "locks" / "blue.lock").read_text())
    assert (info["pid"], info["controller"], info["run"]) == (os.getpid(), HOST, "r1")


def test_a_sqlite_history_url_keeps_the_lock_files(state_dir: Path) -> None:
    with environment_locks(state_dir, ["blue"], run_id="r1", history_url="sqlite:///h.db"):
        assert (state_dir / "locks" / "blue.lock").exists()


# --------------------------------------------------------------------------- PostgreSQL only


def test_advisory_locks_on_an_unreachable_server_raise_store_error(state_dir: Path) -> None:
    url = "postgresql://agentmaint:hunter2@127.0.0.1:1/db"
    with (
        pytest.raises(StoreError, match=r"agentmaint:\*\*\*@127.0.0.1:1/db") as caught,
        environment_locks(state_dir, ["blue"], run_id="r1", history_url=url),
    ):
        pass
    assert "hunter2" not in str(caught.value)


# --------------------------------------------------------------------------- recovery


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _running_run(store: HistoryStore, run_id: str, **fields: Any) -> None:
    store.begin_run(
        RunRecord(
            id=run_id,
            trigger="schedule",
            started=datetime.now(UTC),
            environments=("blue",),
            **fields,
        )
    )


@pytest.fixture
def history(lock_url: str | None, state_dir: Path) -> Iterator[HistoryStore]:
    with HistoryStore.from_url(lock_url, state_dir) as store:
        yield store


def test_recovery_judges_this_controllers_runs_by_pid(history: HistoryStore) -> None:
    _running_run(history, "dead-local", pid=_dead_pid())
    _running_run(history, "live-local", pid=os.getppid())
    recovered = recover_interrupted_runs(history)
    assert [r.id for r in recovered] == ["dead-local"]
    dead = history.get_run("dead-local")
    assert dead is not None and dead.status is RunStatus.INTERRUPTED
    assert dead.message is not None and dead.message.startswith("the controller (pid ")
    live = history.get_run("live-local")
    assert live is not None and live.status is RunStatus.RUNNING


def test_in_a_sqlite_history_every_run_is_judged_by_pid(state_dir: Path) -> None:
    with HistoryStore.open(state_dir) as store:
        _running_run(store, "copied-alive", pid=os.getppid(), controller="elsewhere")
        _running_run(store, "copied-dead", pid=_dead_pid(), controller="elsewhere")
        assert [r.id for r in recover_interrupted_runs(store)] == ["copied-dead"]


# --------------------------------------------------------------------------- pid reuse


@pytest.fixture
def reused_pid() -> Iterator[int]:
    """A live process that is not a controller: a dead run's pid, now another's."""
    process = subprocess.Popen(["sleep", "60"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait()


def _starttime(pid: int) -> str:
    return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split())[19]


def test_a_live_process_with_another_identity_is_not_the_runs_controller(
    history: HistoryStore, reused_pid: int
) -> None:
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    real = f"{boot}:{_starttime(reused_pid)}"
    assert process_identity(reused_pid) == real
    _running_run(history, "reused", pid=reused_pid, process=f"{boot}:1")
    _running_run(
        history, "other-boot", pid=reused_pid, process=f"0-other-boot:{_starttime(reused_pid)}"
    )
    _running_run(history, "its-own", pid=reused_pid, process=real)
    _running_run(history, "before-v4", pid=reused_pid)  # no identity: judged by pid alone
    recovered = recover_interrupted_runs(history)
    assert sorted(r.id for r in recovered) == ["other-boot", "reused"]
    assert {r.id: r.status for r in history.runs()} == {
        "reused": RunStatus.INTERRUPTED,
        "other-boot": RunStatus.INTERRUPTED,
        "its-own": RunStatus.RUNNING,
        "before-v4": RunStatus.RUNNING,
    }
    stored = history.get_run("its-own")
    assert stored is not None and stored.process == real


def test_this_process_with_another_identity_is_not_the_runs_controller(
    history: HistoryStore,
) -> None:
    mine = process_identity()
    assert mine is not None
    _running_run(history, "mine", pid=os.getpid(), process=mine)
    _running_run(history, "earlier-boot", pid=os.getpid(), process="0-other-boot:1")
    assert [r.id for r in recover_interrupted_runs(history)] == ["earlier-boot"]


def test_a_lock_file_naming_a_live_pid_does_not_hold_the_lock(
    state_dir: Path, reused_pid: int
) -> None:
    """The lock is the flock, not the pid the file names: a dead holder's reused pid frees it."""
    (state_dir / "locks").mkdir(parents=True)
    stale = {"pid": reused_pid, "controller": HOST, "started": "2026-01-01", "run": "dead"}
    (state_dir / "locks" / "blue.lock").write_text(json.dumps(stale))
    with environment_locks(state_dir, ["blue"], run_id="next"):
        info = json.loads((state_dir / "locks" / "blue.lock").read_text())
    assert (info["pid"], info["run"]) == (os.getpid(), "next")
