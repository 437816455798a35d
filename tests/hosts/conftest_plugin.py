"""Pytest fixtures for real SSH test hosts (see `tests.hosts.netns`).

Load with ``pytest_plugins = ["tests.hosts.conftest_plugin"]`` in the root conftest, or
re-export the fixtures from a package's conftest (``from tests.hosts.conftest_plugin import *``).

When the machine cannot run the hosts, tests using them are skipped with the reason,
except when ``CI=true``: CI must run them, so they fail there.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Protocol

import pytest

from tests.hosts.netns import TestHost, available, sshd_hosts

__all__ = ["make_sshd_hosts", "require_sshd_hosts", "sshd_fleet"]

FLEET_SIZE = 3


class MakeSshdHosts(Protocol):
    """``make(count, nodes=0)``: `count` fresh hosts, the first `nodes` execution nodes."""

    def __call__(self, count: int, *, nodes: int = 0) -> list[TestHost]: ...


@functools.cache
def _reason() -> str | None:
    return available()


def require_sshd_hosts() -> None:
    """Skip the calling test when the hosts cannot run here (fail instead under CI=true)."""
    reason = _reason()
    if reason is None:
        return
    message = f"real SSH test hosts unavailable: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sshd_fleet() -> Iterator[list[TestHost]]:
    """Three sshd hosts shared by the whole session.

    Tests must not assume a clean host state beyond what they create themselves under
    unique paths.
    """
    require_sshd_hosts()
    with sshd_hosts(FLEET_SIZE, prefix="amtf") as hosts:
        yield hosts


@pytest.fixture
def make_sshd_hosts() -> Iterator[MakeSshdHosts]:
    """A factory: ``make_sshd_hosts(2)`` starts 2 fresh hosts, removed after the test.

    ``make_sshd_hosts(22, nodes=2)``: the first 2 are execution nodes (ansible-runner at
    `TestHost.runner_path`), the other 20 their targets, all in one subnet.
    """
    with ExitStack() as stack:

        def make(count: int, *, nodes: int = 0) -> list[TestHost]:
            require_sshd_hosts()
            return stack.enter_context(sshd_hosts(count, nodes=nodes, prefix="amtm"))

        yield make
