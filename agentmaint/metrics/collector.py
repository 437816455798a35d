"""The metric families of a `Sample`: a `prometheus_client` collector and its exposition.

Naming follows Prometheus' conventions for batch jobs: ``_timestamp_seconds`` for Unix
times, ``_seconds`` for durations, ``_total`` for counters; every status series of a host
is present with 0 or 1, so that none vanishes when the status changes. Series exist for
every host, component and environment of the schedule (the counters also for an
environment or component only the history still names), in the schedule's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import StrEnum
from importlib.metadata import version

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from agentmaint.history.summary import LastAttempt
from agentmaint.metrics.sample import Sample
from agentmaint.planning.windows import open_window
from agentmaint.records import RunStatus

__all__ = ["HostStatus", "MetricsCollector", "exposition", "registry_of"]

#: The run statuses counted: a run still ``running`` is not counted yet (a counter by status
#: must never go down, and the run's status changes when it ends).
COUNTED_STATUSES = tuple(s for s in RunStatus if s is not RunStatus.RUNNING)


class HostStatus(StrEnum):
    """The status of the last attempt of a component on a host (``agentmaint_last_run_status``)."""

    SUCCESS = "success"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    ROLLED_BACK = "rolled_back"  # failed, then rolled back (whatever the rollback's outcome)
    NEVER = "never"  # never attempted (or the attempts were pruned)


def host_status(attempt: LastAttempt | None) -> HostStatus:
    """The `HostStatus` of a last attempt (None: never attempted)."""
    if attempt is None:
        return HostStatus.NEVER
    if not attempt.failed:
        return HostStatus.SUCCESS
    if attempt.rolled_back:
        return HostStatus.ROLLED_BACK
    if attempt.unreachable:
        return HostStatus.UNREACHABLE
    return HostStatus.FAILED


def _seconds(instant: datetime | None) -> float:
    """A Unix timestamp; 0 for never (what batch-job alerts compare with ``time()``)."""
    return 0.0 if instant is None else instant.timestamp()


class MetricsCollector(Collector):
    """A `prometheus_client` collector of one `Sample` (register it in a fresh registry)."""

    def __init__(self, sample: Sample) -> None:
        """Collect `sample`."""
        self._sample = sample

    def collect(self) -> Iterable[Metric]:
        """Every metric family, in a fixed order."""
        yield from self._plan_families()
        yield from self._host_families()
        yield from self._run_families()

    def _plan_families(self) -> Iterator[Metric]:
        schedule, the_plan = self._sample.schedule, self._sample.plan
        info = GaugeMetricFamily(
            "agentmaint_info", "The agentmaint that wrote these metrics.", labels=["version"]
        )
        info.add_metric([version("agentmaint")], 1)
        yield info
        window = GaugeMetricFamily(
            "agentmaint_window_open",
            "1 while a maintenance window of the environment is open (blackouts aside), else 0.",
            labels=["environment"],
        )
        for env in schedule.environments.values():
            is_open = open_window(env.schedule, the_plan.at) is not None
            window.add_metric([env.name], 1 if is_open else 0)
        yield window
        due = GaugeMetricFamily(
            "agentmaint_due",
            "The number of hosts on which the component is due now.",
            labels=["environment", "component"],
        )
        for decision in the_plan.decisions:
            due.add_metric([decision.environment, decision.component], len(decision.servers))
        yield due
        interval = GaugeMetricFamily(
            "agentmaint_interval_seconds",
            "How often the component must be updated (its frequency).",
            labels=["environment", "component"],
        )
        for name in schedule.environments:
            for component in schedule.components.values():
                seconds = component.frequency.interval.total_seconds()
                interval.add_metric([name, component.name], seconds)
        yield interval

    def _host_families(self) -> Iterator[Metric]:
        schedule, attempts = self._sample.schedule, self._sample.history.attempts
        labels = ["environment", "component", "host"]
        success = GaugeMetricFamily(
            "agentmaint_last_success_timestamp_seconds",
            "When the component last succeeded on the host (Unix time; 0: never).",
            labels=labels,
        )
        last = GaugeMetricFamily(
            "agentmaint_last_run_timestamp_seconds",
            "When the component was last attempted on the host (Unix time; 0: never).",
            labels=labels,
        )
        status = GaugeMetricFamily(
            "agentmaint_last_run_status",
            "1 for the status of the component's last attempt on the host, 0 for the others.",
            labels=[*labels, "status"],
        )
        for env in schedule.environments.values():
            for component in schedule.components:
                for host in env.host_names:
                    attempt = attempts.get((host, component))
                    key = [env.name, component, host]
                    if attempt is None:
                        success.add_metric(key, 0)
                        last.add_metric(key, 0)
                    else:
                        success.add_metric(key, _seconds(attempt.last_success))
                        last.add_metric(key, attempt.at.timestamp())
                    current = host_status(attempt)
                    for each in HostStatus:
                        status.add_metric([*key, each.value], 1 if each is current else 0)
        yield success
        yield last
        yield status

    def _run_families(self) -> Iterator[Metric]:
        schedule, history = self._sample.schedule, self._sample.history
        duration = GaugeMetricFamily(
            "agentmaint_run_duration_seconds",
            "How long the last finished run of the environment took.",
            labels=["environment"],
        )
        for env, run in history.last_runs.items():
            if run.finished is not None:
                duration.add_metric([env], (run.finished - run.started).total_seconds())
        yield duration
        runs = CounterMetricFamily(
            "agentmaint_runs_total",
            "Finished runs of the environment recorded in the history, by status.",
            labels=["environment", "status"],
        )
        environments = dict.fromkeys(
            [*schedule.environments, *sorted({env for env, _ in history.run_counts})]
        )
        counts = history.run_counts
        for env in environments:
            for run_status in COUNTED_STATUSES:
                runs.add_metric([env, run_status.value], counts.get((env, run_status), 0))
        yield runs
        rollbacks = CounterMetricFamily(
            "agentmaint_rollbacks_total",
            "Hosts on which the component was rolled back, recorded in the history.",
            labels=["environment", "component"],
        )
        pairs = dict.fromkeys(
            [
                *((env, comp) for env in schedule.environments for comp in schedule.components),
                *sorted(history.rollbacks),
            ]
        )
        for env, comp in pairs:
            rollbacks.add_metric([env, comp], history.rollbacks.get((env, comp), 0))
        yield rollbacks


def registry_of(sample: Sample) -> CollectorRegistry:
    """A fresh registry holding only the collector of `sample` (never the global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(sample))
    return registry


def exposition(sample: Sample) -> str:
    """The metrics of `sample` in Prometheus' text format (what the textfile holds)."""
    return generate_latest(registry_of(sample)).decode()
