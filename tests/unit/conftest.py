"""Unit tests are pure and fast: no database server, no test hosts, no root file system.

Tests that need those belong in tests/integration or tests/ssh; asking for one of their
fixtures here is a collection error, so the rule holds as tests are added.
"""

from __future__ import annotations

import pytest

#: Fixtures that start a server or hosts (tests/postgres.py, tests/docker_engine.py,
#: tests/hosts/conftest_plugin.py).
INTEGRATION_FIXTURES = frozenset(
    {"postgres_server", "postgres_url", "docker_engine", "sshd_fleet", "make_sshd_hosts"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a unit test that asks for a server or test hosts."""
    for item in items:
        wanted = INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))
        if wanted and "tests/unit/" in item.nodeid:
            raise pytest.UsageError(
                f"{item.nodeid} uses {', '.join(sorted(wanted))}: "
                "move it to tests/integration (unit tests are pure)"
            )
