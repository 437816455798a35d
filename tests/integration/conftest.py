"""Integration tests: no process of any run outlives a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agentmaint.ansible.runner import run_processes


@pytest.fixture(autouse=True)
def no_run_process_left() -> Iterator[None]:
    """After every test: no process of any agentmaint run is left (whatever the test did)."""
    yield
    leftovers = run_processes("")  # every process carrying AGENTMAINT_JOB_ID=...
    assert leftovers == [], f"processes of a run outlived the test: {leftovers}"
