"""A run: job directories, slices, the typed result, observers, locks, recovery, import.

The stages of the pipeline for one run, between the rendered plays and the history:
`jobdir` and `slices` execute, `conclusion` turns what the slices parsed into a
`results.RunResult`, and the `observer.RunObserver`s watch (`recorder`: the history
and retention). The composition root that wires them is
`agentmaint.maintenance.run_maintenance`.
"""
