"""`EventParser`: the streaming parser's public API and `EventParser.finish`.

`finish` settles the open decisions and reconciles the counters derived from
the events with those of ``playbook_on_stats`` (a warning per difference).
"""

from __future__ import annotations

from types import MappingProxyType

from agentmaint.ansible.events.dispatch import _Dispatcher
from agentmaint.ansible.events.model import ParsedRun
from agentmaint.ansible.events.outcome import _counts_from, _run_status
from agentmaint.ansible.events.reconcile import _reconcile
from agentmaint.records import HostCounts, RunStatus, TaskResult

__all__ = ["EventParser"]

_WARNING_LIMIT = 50  # warnings kept by the parser (then one summary line)


class EventParser(_Dispatcher):
    """Streaming parser of ansible-runner events into `TaskResult`s and counters.

    Feed events in stream (``counter``) order. Only the `TaskResult` of each task
    result is kept (its names, uuids and message shared with the other results that
    repeat them, and nothing of the raw event), plus two bytes of bookkeeping and
    the per-host indexes of the play being run; events that produce no result
    leave nothing behind, and reading `results` or `counts` after every event
    stays cheap: about 300 bytes per task result (13 MB for the 40,000 results of
    the 100,000-event benchmark).

    Whether a non-ignored failure of host H at task T was rescued is decided when
    its play ends (all its serial batches), from this evidence, strongest first:

    1. H has no further non-handler result in the play: failed.
    2. A "clean peer" (a host of the play, in any serial batch, with no failure
       and no unreachable result in it) runs every ``always:`` task and every
       task after a block. If, after T and up to its next failure, H ran a task
       that no clean peer ran after T, that task is a ``rescue:`` task: rescued.
    3. For H's last failure in the play: a clean peer went on, after H's last
       task, with tasks H never ran; H stopped early: failed. This also wins over
       2 when the failure is H's only one and every task taken for a rescue task
       has a single result in the play (a ``run_once`` task of an ``always:``
       section looks like a rescue task).

    Failures of the same task share one verdict (Ansible decides from the block
    structure alone), and a failure followed by an unrescued failure at a task a
    clean peer ran (an ``always:`` task) was not rescued either. Failures still
    undecided are rescued if their host runs in a later play; otherwise `finish`
    takes them as rescued when the run succeeded (rc 0 leaves no host failed), and
    as failed when they are the only possible cause of a failed run; any left are
    assumed rescued with a warning. While a play runs, its failures count as
    rescued when their host has gone on with other tasks, else as failed.

    An unreachable result is ignored (ok + ignored) when the display says
    "...ignoring", or, for a result without a display, when its host has later
    results; otherwise it is dark.

    With ``playbook_on_stats``, `finish` re-decides failures and unreachables
    where the counters differ from the recap (see the package doc, "What the
    events cannot tell").
    """

    # ------------------------------------------------------------------ public API
    @property
    def results(self) -> tuple[TaskResult, ...]:
        """The task results so far, in stream order (see the class doc for failures)."""
        version, cached = self._cached_results
        if version != self._version:
            cached = tuple(self._records.shown)
            self._cached_results = (self._version, cached)
        return cached

    def results_since(self, index: int) -> list[TaskResult]:
        """The results from position `index` on, without copying the earlier ones.

        For consumers that follow the stream (live progress); statuses shown here are
        the provisional ones of the running play (see the class doc).
        """
        return self._records.shown[index:]

    def counts(self) -> dict[str, HostCounts]:
        """Per-host counters derived from the individual events seen so far."""
        return _counts_from(self._count_values({}))

    @property
    def stats(self) -> dict[str, HostCounts] | None:
        """The counters of ``playbook_on_stats``, or None before (or without) it."""
        return dict(self._stats) if self._stats is not None else None

    @property
    def error(self) -> str | None:
        """The fatal error of a run that died (no ``playbook_on_stats``), ANSI-free."""
        if self._stats is not None or not self._error_lines:
            return None
        lines = list(self._error_lines)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(lines)

    def finish(self, status: str | None = None, rc: int | None = None) -> ParsedRun:
        """Freeze what the stream says, given ansible-runner's final status and rc if known.

        The parser itself is left as it is: more events may still be fed.
        """
        warnings: list[str] = []
        error = self.error
        played = self._plays > 0 or bool(self._records.shown)
        run_status, status_warning = _run_status(status, rc, self._stats, error, played)
        if status_warning:
            warnings.append(status_warning)

        analysis = self._final_analysis()
        self._settle(analysis, run_status, rc, warnings)
        overrides = {index: status for index, (status, _) in analysis.decisions.items()}
        values = self._count_values(overrides)
        if self._stats is not None:
            # the recap is the truth about what the events leave ambiguous
            warnings.extend(_reconcile(self._records, values, overrides, self._stats))
        results = self._assemble(overrides)
        counts = _counts_from(values)

        partial = self._malformed > 0
        if self._malformed:
            warnings.append(f"{self._malformed} malformed or unreadable event(s) skipped")
        missing = self._max_counter - self._counted
        if missing > 0:
            partial = True
            warnings.append(
                f"{missing} event(s) missing from the stream "
                f"(counters run to {self._max_counter}, {self._counted} seen)"
            )
        ended = run_status in (RunStatus.CANCELED, RunStatus.TIMEOUT, RunStatus.ERROR)
        if self._stats is None and not ended:
            partial = True
            warnings.append("the event stream ends before playbook_on_stats")
        if self._stats is not None:
            for host in sorted(set(counts) | set(self._stats)):
                mine = counts.get(host, HostCounts())
                theirs = self._stats.get(host, HostCounts())
                if mine != theirs:
                    warnings.append(
                        f"host {host}: counts from events {mine.to_dict()} differ from "
                        f"playbook_on_stats {theirs.to_dict()}"
                    )
        warnings[:0] = self._warnings
        if self._dropped_warnings:
            warnings.append(f"... and {self._dropped_warnings} more warning(s)")
        return ParsedRun(
            status=run_status,
            rc=rc,
            results=results,
            counts=MappingProxyType(counts),
            stats=MappingProxyType(dict(self._stats)) if self._stats is not None else None,
            error=error,
            partial=partial,
            warnings=tuple(warnings),
        )

    def warn(self, message: str) -> None:
        """Record a warning for `finish` to report (e.g. about where the events came from)."""
        if len(self._warnings) < _WARNING_LIMIT:
            self._warnings.append(message)
        else:
            self._dropped_warnings += 1

    def mark_partial(self, message: str) -> None:
        """Record that an event could not be read: the run becomes partial."""
        self._malformed += 1
        self.warn(message)
