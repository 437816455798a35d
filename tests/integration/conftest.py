"""Integration tests: no process of any run outlives a test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmaint.ansible.runner import run_processes
from tests.integration.ansible_corpus import SUMMARY

#: Marks the processes of this test session: jobs inherit the controller's environment,
#: so a run's processes on this machine carry it, and another session's (a second
#: checkout tested at the same time) carry theirs.
SESSION_VARIABLE = "AGENTMAINT_TEST_SESSION"
os.environ.setdefault(SESSION_VARIABLE, secrets.token_hex(8))


def _ours(pid: int) -> bool:
    """Whether a run's process belongs to this session (or to no session: a node's job)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False  # ended since it was listed
    marker = f"{SESSION_VARIABLE}=".encode()
    entries = [e for e in environ.split(b"\0") if e.startswith(marker)]
    return not entries or entries[0] == marker + os.environ[SESSION_VARIABLE].encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest) -> str | None:
    """``history.url`` of a test's schedule, once per engine (None: the default SQLite file).

    A module that defines its own `history_url` (test_store_postgresql.py) overrides this.
    """
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return None


@pytest.fixture(autouse=True)
def no_run_process_left() -> Iterator[None]:
    """After every test: no process of any agentmaint run is left (whatever the test did)."""
    yield
    # Every process carrying AGENTMAINT_JOB_ID=..., but another test session's.
    leftovers = {pid: _command(pid) for pid in run_processes("") if _ours(pid)}
    assert leftovers == {}, f"processes of a run outlived the test: {leftovers}"


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return "?"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the ansible-core corpus test ran and skipped, and why (test_events_corpus.py)."""
    for line in SUMMARY:
        terminalreporter.write_line(line)
