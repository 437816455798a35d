"""Shared fixtures: the seed's configuration and helpers to build schedules."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.schedules import MakeSchedule, schedule_maker

#: A real PostgreSQL server for the history and lock tests (fixtures postgres_server, postgres_url),
#: a real Docker Engine and registry for the docker role's tests (fixture docker_engine).
pytest_plugins = ["tests.postgres", "tests.docker_engine"]

DATA = Path(__file__).parent / "data"


@pytest.fixture
def make_schedule(tmp_path: Path) -> MakeSchedule:
    """Write a schedule document into the test's directory and load it (`tests.schedules`)."""
    return schedule_maker(tmp_path)


@pytest.fixture
def seed_config() -> dict[str, Any]:
    """The dict the seed's `_load_config` returns by default, unchanged."""
    config: dict[str, Any] = json.loads((DATA / "seed.json").read_text())
    return config


def utc(text: str) -> datetime:
    """An ISO date-time read as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def at() -> Callable[[str], datetime]:
    """`at("2026-11-23T01:30")` -> an aware UTC datetime."""
    return utc


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI every test must run: a skip there (a missing host feature) fails the session."""
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        for report in skipped:
            reporter.write_line(f"CI forbids skips: {report.nodeid}: {report.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
