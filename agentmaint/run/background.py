"""Background jobs a stopped run leaves on its SSH hosts, and the short job that ends them.

In the background mode (`agentmaint.ansible.render.Background`) each host's update runs
as a job of its own on the host, started by one task and waited for by the next. A cancel
or a timeout kills the run's processes on the controller (`agentmaint.ansible.runner`),
which ends the jobs of local hosts (they carry the run's job id), but not those on hosts
reached over SSH: they would run on to their own timeout. So `BackgroundJobs` follows the
job's events (a start's result names the job; a finished wait ends it) and, when the job
stopped before its waits were over, `stop_background_jobs` runs a second, short
ansible-runner job (`STOP_SECONDS` at most) whose one task per host is the fused module's
``stop``. What it did goes into the run's message ("background jobs stopped on ...", or
could not be): the run is still recorded as it ended, canceled or timed out, and its
hosts as interrupted.

The stop job is cancelled by the run's cancel event set again: the event, set by the
first cancel, is cleared while the stop job runs (a second Ctrl-C in the CLI sets it),
and set again after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentmaint.ansible.events.fused import JOB_KEY, STEPS_KEY
from agentmaint.ansible.naming import TASK_SEPARATOR, parse_play, play_name, task_name
from agentmaint.ansible.render import dump_yaml, stop_playbook
from agentmaint.ansible.runner import Job, JobOutcome, run_job
from agentmaint.config.schedule import Schedule
from agentmaint.records import Action

__all__ = ["START_TASK", "STOP_SECONDS", "BackgroundJobs", "stop_background_jobs"]

logger = logging.getLogger(__name__)

#: How long the job that stops a run's remote background jobs may take.
STOP_SECONDS = 30
#: ansible-runner's statuses of a job whose every wait ran (nothing left in the background).
_COMPLETED = frozenset({"successful", "failed"})
_RESULTS = frozenset({"runner_on_ok", "runner_on_failed", "runner_on_unreachable"})
#: The head of the name of the role's task that starts a job (tasks/fused_async.yml).
START_TASK = f"Update: start in the background{TASK_SEPARATOR}"
_STOP_DIR = "background-stop"
_STOP_PLAYBOOK = "stop.yml"


@dataclass(slots=True)
class BackgroundJobs:
    """The background jobs of one slice's job that were started and not yet waited for."""

    schedule: Schedule
    #: Hosts reached other than by a local connection (their jobs outlive a cancel).
    remote: frozenset[str]
    #: The run's id, which the role's job names start with.
    run_id: str
    #: (environment, component) -> host -> job name, while its wait has not ended it.
    pending: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def note(self, event: Mapping[str, Any]) -> None:
        """Follow one event: a start adds its job, a failed start or a finished wait removes it.

        A job counts from its start's beginning: a run stopped while a start ran may have
        started the job without hearing of it.
        """
        kind = event.get("event")
        if kind == "runner_on_start":
            self._starting(event.get("event_data") or {})
            return
        if kind not in _RESULTS:
            return
        data = event.get("event_data") or {}
        res = data.get("res")
        if not isinstance(res, Mapping):
            return
        started = JOB_KEY in res and STEPS_KEY not in res
        if not started and res.get("finished") is not True:
            return  # not ours, or a wait that gave up: its job is still pending
        play = parse_play(str(data.get("play", "")))
        if play is None:
            return
        host = str(data.get("host"))
        if started:
            if kind == "runner_on_ok":
                self.pending.setdefault(play, {})[host] = str(res[JOB_KEY])
            return
        self._ended(play, host)  # the wait's last result, or a start that failed

    def _starting(self, data: Mapping[str, Any]) -> None:
        if not str(data.get("task", "")).startswith(START_TASK):
            return
        play = parse_play(str(data.get("play", "")))
        if play is not None:
            host = str(data.get("host"))
            # The name the role gives the job (tasks/fused_async.yml).
            self.pending.setdefault(play, {})[host] = f"{self.run_id}-{play[1]}-{host}"

    def _ended(self, play: tuple[str, str], host: str) -> None:
        jobs = self.pending.get(play, {})
        jobs.pop(host, None)
        if not jobs:
            self.pending.pop(play, None)

    def interrupted(self) -> set[tuple[str, str, str]]:
        """(host, play, task) of every update still running in the background.

        A stop leaves these updates unfinished even where no task of theirs was running
        (their wait had not begun): the roll-up records them as interrupted.
        """
        return {
            (host, play_name(environment, component), task_name(Action.UPDATE, component))
            for (environment, component), jobs in self.pending.items()
            for host in jobs
        }

    def remote_pending(self) -> dict[tuple[str, str], dict[str, str]]:
        """`pending` on the remote hosts only (local hosts' jobs end with the run's processes)."""
        found: dict[tuple[str, str], dict[str, str]] = {}
        for play, jobs in self.pending.items():
            remote = {h: name for h, name in jobs.items() if h in self.remote}
            if remote:
                found[play] = remote
        return found


def stop_background_jobs(
    jobs: BackgroundJobs,
    job: Job,
    outcome: JobOutcome | None,
    *,
    cancel: threading.Event,
    hidden: tuple[set[str], list[str]],
) -> str | None:
    """End the jobs `jobs` holds when `job` stopped before waiting for them; what it did.

    Nothing (None) when the job ran to its end or left no job behind. Otherwise a short
    job of its own, in `job`'s directory, reusing its inventory and ansible.cfg, ends
    them; the sentence returned (also logged) says on which hosts they were stopped, were
    not running or could not be stopped.
    """
    pending = jobs.remote_pending()
    if not pending or (outcome is not None and outcome.status in _COMPLETED):
        return None
    hosts = sorted({h for names in pending.values() for h in names})
    logger.warning(
        "run %s stopped with background jobs running on %d hosts: stopping them",
        job.ident,
        len(hosts),
    )
    directory = job.private_data_dir / _STOP_DIR
    try:
        stop_job = _prepare(jobs.schedule, job, pending, directory)
    except OSError as exc:
        return _said(f"background jobs could not be stopped on {_listed(hosts)}: {exc}")
    results: dict[str, str] = {}  # host -> "stopped", "not running", or why it failed

    def collect(event: Mapping[str, Any]) -> None:
        if event.get("event") not in _RESULTS:
            return
        data = event.get("event_data") or {}
        res = data.get("res")
        res = res if isinstance(res, Mapping) else {}
        results[str(data.get("host"))] = (
            str(res.get("msg", ""))
            if event.get("event") != "runner_on_ok"
            else "stopped"
            if res.get("stopped")
            else "not running"
        )

    was_set = cancel.is_set()
    cancel.clear()  # a second cancel (Ctrl-C) ends the stop job itself
    try:
        stopped_by = run_job(stop_job, collect, cancel=cancel, hidden_environment=hidden)
    except Exception as exc:  # the run is concluded however this ends
        return _said(f"background jobs could not be stopped on {_listed(hosts)}: {exc}")
    finally:
        if was_set:
            cancel.set()
    return _said(_summary(hosts, results, stopped_by.status))


def _prepare(
    schedule: Schedule,
    job: Job,
    pending: Mapping[tuple[str, str], Mapping[str, str]],
    directory: Path,
) -> Job:
    """The stop job: its own private_data_dir, the run's inventory and ansible.cfg."""
    (directory / "project").mkdir(mode=0o700, parents=True)
    (directory / "project" / _STOP_PLAYBOOK).write_text(dump_yaml(stop_playbook(schedule, pending)))
    return replace(
        job,
        private_data_dir=directory,
        playbook=_STOP_PLAYBOOK,
        ident=f"{job.ident}-stop",
        timeout=STOP_SECONDS,
        check=False,
    )


def _summary(hosts: list[str], results: Mapping[str, str], status: str) -> str:
    """One sentence: where the jobs were stopped, were not running, or could not be stopped."""
    stopped = [h for h in hosts if results.get(h) == "stopped"]
    ended = [h for h in hosts if results.get(h) == "not running"]
    failed = [h for h in hosts if h not in stopped and h not in ended]
    parts = []
    if stopped:
        parts.append(f"background jobs stopped on {_listed(stopped)}")
    if ended:
        parts.append(f"no background job was running on {_listed(ended)}")
    if failed:
        why = "; ".join(
            f"{h}: {results[h] or 'failed'}" if h in results else f"{h}: stop job {status}"
            for h in failed
        )
        parts.append(f"background jobs could not be stopped on {_listed(failed)} ({why})")
    return "; ".join(parts)


def _listed(hosts: list[str], most: int = 10) -> str:
    shown = ", ".join(hosts[:most])
    more = len(hosts) - most
    return f"{shown} and {more} more" if more > 0 else shown


def _said(sentence: str) -> str:
    logger.warning("%s", sentence)
    return sentence
