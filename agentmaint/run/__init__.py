"""A run: job directories, slices, locks, recording, recovery and import.

The stages of the pipeline wired together for one run; the composition root is
`agentmaint.maintenance.run_maintenance`.
"""
