"""``python -m agentmaint``: the same as the ``agentmaint`` command."""

from agentmaint.cli import run

run()
