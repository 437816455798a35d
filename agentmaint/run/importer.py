"""Record a run made outside agentmaint (a bundled playbook run with ansible-runner directly).

The plays and tasks must follow the generated naming contract (see
`agentmaint.ansible.naming`): ``Maintain <component> | <environment>`` plays and
``<Action> | <component>`` tasks; the bundled playbooks do. Targets are taken
from the hosts that appear in each play.

Import identity: a job is known by what it is, not by where its files are. An import
is refused, storing nothing, when the history already holds the job:

* its artifact directory is a recorded run's, or inside one (a slice of a sliced run);
* its ansible-runner ident names a run of the history (agentmaint's idents are its run
  ids, ``<id>`` or ``<id>-<n>`` for slice n): the job of one of agentmaint's own runs,
  even one still ``running``, whose task results are recorded only when it ends;
* one of its task results is recorded (same play uuid, task uuid, host and start; see
  `agentmaint.history.recording`): a copy of a recorded job, wherever it was copied.

The last check is made in the recording transaction, under the history's write lock,
so two imports of copies of one job at once record it once. A job whose events have no
play uuid (a playbook that failed before its first play) has no task result, so nothing
to import: it is refused for that. The import is one transaction: a process killed at
any moment leaves the whole run or nothing, and never a ``running`` run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agentmaint.ansible.events import ParsedRun, read_artifact_dir
from agentmaint.ansible.naming import Target, classify
from agentmaint.ansible.rollup import rollup
from agentmaint.ansible.slicing import SLICES_DIR
from agentmaint.config.schedule import Schedule
from agentmaint.errors import UsageError
from agentmaint.history.store import HistoryStore, RecordOutcome, RunRecording
from agentmaint.records import Action, RunRecord, RunStatus
from agentmaint.run.ids import new_run_id

__all__ = ["import_run", "read_import"]

_SAME_JOB = "same job: copied or a slice of it"


def read_import(store: HistoryStore, artifact_dir: Path) -> ParsedRun:
    """Read `artifact_dir` for `import_run`, refusing first what cannot be a job to import.

    Raises `UsageError` when the directory is inside a recorded run's artifacts (a slice
    of a sliced run), or is a sliced run's ``slices/`` directory or its run directory
    (one job per slice: each slice's artifact directory is imported, one run each); the
    `EventsError` of `read_artifact_dir` when it holds no events.
    """
    resolved = artifact_dir.resolve()
    known = _holder(store, resolved)
    if known is not None:
        raise UsageError(_already(artifact_dir, known, resolved))
    slices = resolved if resolved.name == SLICES_DIR else resolved / SLICES_DIR
    if slices.is_dir() and not (resolved / "job_events").is_dir():
        recorded = next(
            (r for r in store.runs() if r.artifact_dir and r.artifact_dir.resolve() == slices),
            None,
        )
        if recorded is not None:
            raise UsageError(
                f"{artifact_dir}: already in the history as run {recorded.id} "
                "(the slices of that run); nothing imported"
            )
        raise UsageError(
            f"{artifact_dir}: a sliced run: one job per slice, in {slices}/<n>-<node>/"
            "artifacts/<ident>/; import each slice's artifact directory (one run each)"
        )
    return read_artifact_dir(artifact_dir)


def _holder(store: HistoryStore, directory: Path) -> tuple[RunRecord, Path] | None:
    """The recorded run whose artifact directory (second) is `directory` or holds it."""
    for known in store.runs():
        if known.artifact_dir is None:
            continue
        held = known.artifact_dir.resolve()
        if directory.is_relative_to(held):
            return known, held
    return None


def _already(artifact_dir: Path, holder: tuple[RunRecord, Path], directory: Path) -> str:
    known, held = holder
    sliced = held.name == SLICES_DIR
    if directory == held:
        what = "the slices of that run" if sliced else "its artifact directory"
    else:
        what = "a slice of it" if sliced else "inside its artifact directory"
    if directory != artifact_dir.resolve():
        what += f": {directory}"
    return f"{artifact_dir}: already in the history as run {known.id} ({what}); nothing imported"


def _ident_run(store: HistoryStore, ident: str | None) -> RunRecord | None:
    """The run of the history that `ident` names: agentmaint's ``<id>`` or ``<id>-<n>``."""
    if not ident:
        return None
    run = store.get_run(ident)
    base, _, index = ident.rpartition("-")
    if run is None and base and index.isdigit():
        run = store.get_run(base)
    return run


def import_run(
    schedule: Schedule, store: HistoryStore, parsed: ParsedRun, artifact_dir: Path
) -> RunRecord:
    """Store `parsed` (read from `artifact_dir`) as a run with trigger ``import``.

    Raises `UsageError`, storing nothing, when the job is already in the history
    (imported, or recorded by agentmaint's own run, from this directory or a copy of it:
    see the module docstring) or when no play of it follows the naming contract for an
    environment of `schedule`. A partial stream (truncated or unreadable event files) is
    imported with the run's message saying so. The run is recorded whole in one
    transaction (`HistoryStore.record_run`), so two imports of the same job at once
    record it once, and a killed import leaves nothing of it.
    """
    resolved = (parsed.directory or artifact_dir).resolve()
    known = _holder(store, resolved)
    if known is not None:
        raise UsageError(_already(artifact_dir, known, resolved))
    owner = _ident_run(store, parsed.ident)
    if owner is not None:
        note = (
            "; it is running, or its controller died: `agentmaint recover` records it"
            if owner.status is RunStatus.RUNNING
            else ""
        )
        raise UsageError(
            f"{artifact_dir}: already in the history as run {owner.id} ({_SAME_JOB}; "
            f"ansible-runner ident {parsed.ident}){note}; nothing imported"
        )
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
    if not parsed.results:
        why = f": {parsed.error.splitlines()[0]}" if parsed.error else ""
        raise UsageError(
            f"{artifact_dir}: no task result: the playbook ended, or its events end, before "
            f"its first task ({parsed.status.value}{why}); nothing imported"
        )
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
    if recorded.outcome is RecordOutcome.DUPLICATE_JOB:
        raise UsageError(
            f"{artifact_dir}: already in the history as run {recorded.run.id} ({_SAME_JOB}); "
            "nothing imported"
        )
    return recorded.run
