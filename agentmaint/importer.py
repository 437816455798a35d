"""Record a run made outside agentmaint (a bundled playbook run with ansible-runner directly).

The plays and tasks must follow the generated naming contract (see
`agentmaint.render`): ``Maintain <component> | <environment>`` plays and
``<Action> | <component>`` tasks; the bundled playbooks do. Targets are taken
from the hosts that appear in each play.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agentmaint.events import ParsedRun
from agentmaint.maintenance import new_run_id
from agentmaint.records import Action, RunRecord
from agentmaint.render import Target
from agentmaint.rollup import classify, rollup
from agentmaint.schedule import Schedule
from agentmaint.store import HistoryStore


def import_run(
    schedule: Schedule, store: HistoryStore, parsed: ParsedRun, artifact_dir: Path
) -> RunRecord:
    """Store `parsed` (read from `artifact_dir`) as a run with trigger ``import``."""
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
    run = RunRecord(
        id=new_run_id(started),
        trigger="import",
        started=started,
        artifact_dir=artifact_dir.resolve(),
        environments=tuple(sorted({t.environment for t in targets})),
        components=tuple(dict.fromkeys(t.component for t in targets)),
    )
    store.begin_run(run)
    store.add_task_results(run.id, parsed.results)
    store.set_host_counts(run.id, parsed.counts)
    store.add_records(
        run.id,
        rollup(parsed.results, targets, backup_expected=backup_seen, now=finished, run_id=run.id),
    )
    store.finish_run(
        run.id, parsed.status, finished=finished, runner_rc=parsed.rc, message=parsed.error
    )
    return store.get_run(run.id) or run
