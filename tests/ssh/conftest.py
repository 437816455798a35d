"""Re-export the real SSH host fixtures for the tests of this package."""

from tests.hosts.conftest_plugin import *  # noqa: F403
