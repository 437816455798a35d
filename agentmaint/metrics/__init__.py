"""Prometheus metrics of the history and the plan, for node_exporter's textfile collector.

With ``metrics: {textfile: PATH}`` in the schedule, ``agentmaint run`` rewrites PATH
after every run and every run that found nothing to do (`MetricsWriter`,
`write_metrics`); ``agentmaint metrics FILE`` prints the same exposition. Everything
is read from the history (so the numbers survive restarts and equal what ``agentmaint
history`` shows) and from the plan at that instant; no run id or time is a label::

    agentmaint_info{version}                                     1
    agentmaint_window_open{environment}                          1 while a window is open
    agentmaint_due{environment,component}                        hosts due now
    agentmaint_interval_seconds{environment,component}           the component's frequency
    agentmaint_last_success_timestamp_seconds{environment,component,host}   0: never
    agentmaint_last_run_timestamp_seconds{environment,component,host}       0: never
    agentmaint_last_run_status{environment,component,host,status}  1 for the status of the
        host's last attempt, 0 for the others (success, failed, unreachable, rolled_back, never)
    agentmaint_run_duration_seconds{environment}                 the last finished run's
    agentmaint_runs_total{environment,status}                    finished runs recorded
    agentmaint_rollbacks_total{environment,component}            hosts rolled back

The modules: `sample` reads what the metrics are made of, `collector` turns it into
metric families (a `prometheus_client` collector over a fresh registry), `textfile`
writes them without following a symlink, `observer` does it at the end of a run.

The names above are imported on first use: every run imports `observer` (to attach it
when the schedule has ``metrics``), and only a run that writes metrics should pay for
loading `prometheus_client` (about 50 ms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentmaint.lazy import first_use

if TYPE_CHECKING:
    from agentmaint.metrics.collector import (
        HostStatus,
        MetricsCollector,
        exposition,
        registry_of,
    )
    from agentmaint.metrics.observer import MetricsWriter
    from agentmaint.metrics.sample import Sample, read_sample, take_sample
    from agentmaint.metrics.textfile import write_metrics, write_textfile

__all__ = [
    "HostStatus",
    "MetricsCollector",
    "MetricsWriter",
    "Sample",
    "exposition",
    "read_sample",
    "registry_of",
    "take_sample",
    "write_metrics",
    "write_textfile",
]

#: Where each name is defined: imported on first use (see the package's doc).
_MODULES = {
    name: f"{__name__}.{module}"
    for module, names in {
        "collector": ("HostStatus", "MetricsCollector", "exposition", "registry_of"),
        "observer": ("MetricsWriter",),
        "sample": ("Sample", "read_sample", "take_sample"),
        "textfile": ("write_metrics", "write_textfile"),
    }.items()
    for name in names
}

if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute
    __getattr__ = first_use(__name__, _MODULES, globals())
