"""Re-export the real SSH host fixtures for the tests of this package."""

from tests.hosts.conftest_plugin import *  # noqa: F403
from tests.integration.conftest import no_run_process_left  # noqa: F401 - autouse fixture
