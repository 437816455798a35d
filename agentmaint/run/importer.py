"""Record a run made outside agentmaint (a bundled playbook run with ansible-runner directly).

The plays and tasks must follow the generated naming contract (see
`agentmaint.ansible.naming`): ``Maintain <component> | <environment>`` plays and
``<Action> | <component>`` tasks; the bundled playbooks do. Targets are taken
from the hosts that appear in each play.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agentmaint.ansible.events import ParsedRun
from agentmaint.ansible.naming import Target, classify
from agentmaint.ansible.rollup import rollup
from agentmaint.config.schedule import Schedule
from agentmaint.errors import UsageError
from agentmaint.history.store import HistoryStore, RecordOutcome, RunRecording
from agentmaint.records import Action, RunRecord, RunStatus
from agentmaint.run.ids import new_run_id


def import_run(
    schedule: Schedule, store: HistoryStore, parsed: ParsedRun, artifact_dir: Path
) -> RunRecord:
    """Store `parsed` (read from `artifact_dir`) as a run with trigger ``import``.

    Raises `UsageError`, storing nothing, when the directory is already in the history
    (imported, or recorded by agentmaint's own run) or when no play of it follows the
    naming contract for an environment of `schedule`. A partial stream (truncated or
    unreadable event files) is imported with the run's message saying so. The run
    is recorded whole in one transaction (`HistoryStore.record_run`), so two imports of
    the same directory at once record it once.
    """
    resolved = artifact_dir.resolve()
    for known in store.runs():
        if known.artifact_dir is not None and known.artifact_dir.resolve() == resolved:
            raise UsageError(f"{artifact_dir}: already in the history as run {known.id}")
    ends = [r.end for r in parsed.results if r.end is not None]
    starts = [r.start for r in parsed.results if r.start is not None]
    finished = max(ends) if ends else datetime.now(UTC)
    started = min(starts) if starts else finished
    hosts: dict[tuple[str, str], dict[str, None]] = {}
    backup_seen = False
    for result in parsed.results:
        key = classify(result.play, result.task)
        if key is None or key[0] not in schedule.environments:
            continue
        hosts.setdefault((key[0], key[1]), {})[result.host] = None
        backup_seen |= key[2] is Action.BACKUP
    targets = tuple(Target(env, comp, tuple(names)) for (env, comp), names in hosts.items())
    if not targets:
        environments = ", ".join(schedule.environments)
        raise UsageError(
            f"{artifact_dir}: no task follows agentmaint's naming for this schedule "
            f"(plays 'Maintain <component> | <environment>' for {environments}; tasks "
            "'<Action> | <component>'); nothing imported"
        )
    message = parsed.error
    if parsed.partial:
        shown = "; ".join(parsed.warnings[:3]) + (" ..." if len(parsed.warnings) > 3 else "")
        message = "; ".join(filter(None, [message, f"partial import: {shown}"]))
    status = parsed.status
    if status is RunStatus.RUNNING:
        # The artifacts end while the run was going on: it can no longer finish.
        status = RunStatus.INTERRUPTED
        message = "; ".join(filter(None, [message, "the artifacts end while the run was running"]))
    run = RunRecord(
        id=new_run_id(started),
        trigger="import",
        started=started,
        status=status,
        finished=finished,
        runner_rc=parsed.rc,
        artifact_dir=resolved,
        message=message,
        environments=tuple(sorted({t.environment for t in targets})),
        components=tuple(dict.fromkeys(t.component for t in targets)),
    )
    records = rollup(
        parsed.results, targets, backup_expected=backup_seen, now=finished, run_id=run.id
    )
    recorded = store.record_run(RunRecording(run, parsed.results, parsed.counts, records))
    if recorded.outcome is RecordOutcome.DUPLICATE_ARTIFACTS:
        raise UsageError(f"{artifact_dir}: already in the history as run {recorded.run.id}")
    return recorded.run
