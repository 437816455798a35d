"""``agentmaint check``: run the preflight play on the hosts and read back their readiness.

One job through the runner adapter, in a private directory ``state_dir/checks/<id>``
(removed afterwards with the SSH ControlPath directory it used): the inventory of the
chosen environments, the preflight play of `agentmaint.ansible.preflight`, and an
ansible.cfg like a run's. The play only reads: no host is changed, nothing is recorded
in the history.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from agentmaint.ansible.events import EventParser
from agentmaint.ansible.preflight import host_needs, preflight_playbook
from agentmaint.ansible.readiness import PreflightReport, readiness_report
from agentmaint.ansible.render import ansible_cfg, dump_yaml, inventory
from agentmaint.ansible.runner import Job, run_job
from agentmaint.config.schedule import Schedule
from agentmaint.errors import UsageError
from agentmaint.run.ids import new_run_id
from agentmaint.run.jobdir import MAX_DEFAULT_FORKS
from agentmaint.run.statedir import CHECKS_SUBDIR, check_state_dir, make_run_dir

__all__ = ["CHECK_PLAYBOOK", "check_hosts"]

_log = logging.getLogger(__name__)

CHECK_PLAYBOOK = "preflight.yml"


def check_hosts(
    schedule: Schedule, environments: Iterable[str] | None = None, *, timeout: int | None = None
) -> PreflightReport:
    """Check every host of `environments` (default: all) and report each one's readiness.

    Raises `UsageError` for an unknown environment, `StateDirError` when state_dir
    cannot hold the job.
    """
    names = list(environments) if environments else list(schedule.environments)
    unknown = [name for name in names if name not in schedule.environments]
    if unknown:
        known = ", ".join(schedule.environments)
        raise UsageError(f"--environment: no environment {unknown[0]!r} (known: {known})")
    needs = host_needs(schedule, dict.fromkeys(names))
    if not needs:
        return PreflightReport(())
    check_state_dir(schedule.state_dir)
    check_id = new_run_id(datetime.now(UTC))
    directory = make_run_dir(schedule.state_dir, check_id, under=CHECKS_SUBDIR)
    control = Path(tempfile.mkdtemp(prefix=f"agentmaint-cp-check-{check_id}-"))
    try:
        for sub in ("inventory", "project", "tmp"):
            (directory / sub).mkdir(mode=0o700)
        inventory_path = directory / "inventory" / "hosts.yml"
        inventory_path.write_text(dump_yaml(inventory(schedule, dict.fromkeys(names))))
        project = directory / "project"
        (project / CHECK_PLAYBOOK).write_text(dump_yaml(preflight_playbook(needs)))
        config = project / "ansible.cfg"
        config.write_text(
            ansible_cfg(
                schedule,
                forks=schedule.execution.forks or max(1, min(MAX_DEFAULT_FORKS, len(needs))),
                local_tmp=directory / "tmp",
                overrides=schedule.ansible_cfg,
                control_path_dir=control,
            )
        )
        job = Job(
            private_data_dir=directory,
            playbook=CHECK_PLAYBOOK,
            inventory=inventory_path,
            ident=check_id,
            envvars={"ANSIBLE_CONFIG": str(config)},
            timeout=timeout,
            control_path_dir=control,
        )
        parser = EventParser()
        hidden = set(schedule.notification.env_names) | set(schedule.history_env_names)
        outcome = run_job(job, parser.feed, hidden_environment=(hidden, []))
        parsed = parser.finish(outcome.status, outcome.rc)
        error = outcome.error or parsed.error
        if error:
            _log.warning("check %s: the preflight play stopped: %s", check_id, error)
        return readiness_report(needs, parsed.results, error=error)
    finally:
        # Both were created by this call, just above: nothing else is in them.
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(control, ignore_errors=True)
