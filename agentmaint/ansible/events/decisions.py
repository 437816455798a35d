"""The parser's state, and the decisions about failures and unreachables.

`_ParserState` holds everything `EventParser` keeps; its methods take a
decision into the counters for good, close a play (running the rescue
analysis), settle the failures the events leave ambiguous once the run is over,
and assemble results and counters with the decisions still open.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentmaint.ansible.events.bookkeeping import (
    _FAIL,
    _FAILURES,
    _IGNORED,
    _INCLUDE_FAIL,
    _OK,
    _RESCUED,
    _UNREACH,
    _UNREACHABLE,
    _Analysis,
    _Fold,
    _Play,
    _Results,
    _with_status,
)
from agentmaint.ansible.events.rescue import _analyse_play, _propagate_failed
from agentmaint.records import HostCounts, RunStatus, TaskResult, TaskStatus


class _ParserState:
    """The state of `EventParser`, with the decisions and the assembly (see its class doc)."""

    def __init__(self) -> None:
        """Start with an empty stream."""
        self._records = _Results()
        # the counters, with every decision taken so far; the running play's undecided
        # failures are left out
        self._base: dict[str, list[int]] = {}
        self._pending_unreach: dict[str, list[int]] = {}  # host -> dark unreachables
        self._ambiguous: dict[str, list[int]] = {}  # host -> closed plays' failures, as rescued
        self._groups: dict[int, tuple[int, ...]] = {}  # of ambiguous failures
        self._chain: dict[int, int] = {}  # of ambiguous failures
        self._folds: dict[tuple[str, str], _Fold] = {}
        self._includes: dict[tuple[str, str], list[int]] = {}  # -> [files left, result index]
        self._play = _Play(None)
        self._play_seen: str | None = None  # a raw play uuid known to be the running play's
        # One shared copy of each host, play, task, uuid and message: a big run repeats
        # them in many results, and every decoded event brings its own copy.
        self._strings: dict[str, str] = {}
        self._plays = 0
        self._stats: dict[str, HostCounts] | None = None
        self._error_lines: list[str] = []
        self._error_size = 0
        self._in_error = False
        self._warnings: list[str] = []
        self._dropped_warnings = 0
        self._malformed = 0
        self._counted = 0
        self._max_counter = 0
        self._version = 0
        self._cached_results: tuple[int, tuple[TaskResult, ...]] = (-1, ())

    # ------------------------------------------------------------------ decisions

    def _decide(self, index: int, status: TaskStatus) -> None:
        """Take a decision about a failure or an unreachable into the counters for good."""
        records = self._records
        result = records.shown[index]
        values = self._base.setdefault(result.host, [0] * 7)
        if records.kind[index] == _FAIL:
            values[_RESCUED if status == TaskStatus.RESCUED else _FAILURES] += 1
        elif status == TaskStatus.IGNORED:  # an unreachable counted dark so far
            values[_UNREACHABLE] -= 1
            values[_OK] += 1
            values[_IGNORED] += 1
        records.decisions[index] = status
        if result.status != status:
            records.shown[index] = _with_status(result, status)
        self._version += 1

    def _close_play(self) -> None:
        """Make the decisions about the play that just ended permanent."""
        if self._play.failures:
            analysis = _analyse_play(self._records, self._play)
            for index, (status, ambiguous) in analysis.decisions.items():
                self._decide(index, status)
                if ambiguous:
                    host = self._records.shown[index].host
                    self._ambiguous.setdefault(host, []).append(index)
            self._groups.update(analysis.groups)
            self._chain.update(analysis.chain)
        self._play = _Play(None)
        self._play_seen = None
        self._version += 1

    def _final_analysis(self) -> _Analysis:
        """Every decision still open: the running play's failures and the ambiguous ones."""
        analysis = _Analysis()
        for indexes in self._ambiguous.values():
            for index in indexes:
                analysis.decisions[index] = (TaskStatus.RESCUED, True)
                if index in self._groups:
                    analysis.groups[index] = self._groups[index]
                if index in self._chain:
                    analysis.chain[index] = self._chain[index]
        if self._play.failures:
            current = _analyse_play(self._records, self._play)
            analysis.decisions.update(current.decisions)
            analysis.groups.update(current.groups)
            analysis.chain.update(current.chain)
        return analysis

    def _settle(
        self, analysis: _Analysis, run_status: RunStatus, rc: int | None, warnings: list[str]
    ) -> None:
        """Decide the failures the events leave ambiguous, from the run's outcome."""
        decisions = analysis.decisions
        ambiguous = [index for index, (_, amb) in decisions.items() if amb]
        if not ambiguous:
            return
        records = self._records
        shown = records.shown
        verdict: dict[int, TaskStatus | None] = dict.fromkeys(ambiguous)
        if run_status == RunStatus.SUCCESSFUL:
            # rc 0: no host ended a play failed, so every failure was rescued.
            verdict = dict.fromkeys(ambiguous, TaskStatus.RESCUED)
        elif run_status == RunStatus.FAILED and rc in (2, None):
            certain = (
                any(status == TaskStatus.FAILED and not amb for status, amb in decisions.values())
                or _INCLUDE_FAIL in records.kind
                or any(
                    status == TaskStatus.FAILED and records.kind[index] == _FAIL
                    for index, status in records.decisions.items()
                )
            )
            # a host left unreachable fails the run as well (ansible-playbook's rc 4)
            dark = any(
                kind == _UNREACH and result.status == TaskStatus.UNREACHABLE
                for kind, result in zip(records.kind, shown, strict=True)
            )
            if not certain and not dark:
                # Some failure was not rescued, and only the ambiguous ones can be it.
                groups = {analysis.groups.get(index, (index,)) for index in ambiguous}
                hosts = {shown[index].host for index in ambiguous}
                if len(groups) == 1:
                    verdict = dict.fromkeys(ambiguous, TaskStatus.FAILED)
                elif len(hosts) == 1:
                    last = max(ambiguous, key=lambda i: shown[i].counter)
                    verdict[last] = TaskStatus.FAILED
                _propagate_failed(verdict, analysis.groups, analysis.chain)
        for index in ambiguous:
            status = verdict[index]
            result = shown[index]
            where = f"host {result.host}, task {result.task!r} (counter {result.counter})"
            if status is None:
                warnings.append(
                    f"{where}: the events do not tell whether this failure was rescued; "
                    "assumed rescued"
                )
                status = TaskStatus.RESCUED
            elif status == TaskStatus.FAILED:
                warnings.append(f"{where}: failure taken as not rescued since the run failed")
            decisions[index] = (status, False)

    # ------------------------------------------------------------------ assembly

    def _assemble(self, overrides: Mapping[int, TaskStatus]) -> tuple[TaskResult, ...]:
        """The results, with these statuses instead of the shown ones."""
        if not overrides:
            return tuple(self._records.shown)
        results = list(self._records.shown)
        for index, status in overrides.items():
            if results[index].status != status:
                results[index] = _with_status(results[index], status)
        return tuple(results)

    def _count_values(self, overrides: Mapping[int, TaskStatus]) -> dict[str, list[int]]:
        """The counters, with these statuses for failures instead of the shown ones.

        Every result is counted as shown: decided ones in the base counters, the
        running play's failures in its own.
        """
        values = {host: list(v) for host, v in self._base.items()}
        for host, play_values in self._play.values.items():
            host_values = values.setdefault(host, [0] * 7)
            for position, value in enumerate(play_values):
                host_values[position] += value
        records = self._records
        for index, status in overrides.items():
            result = records.shown[index]
            shown = result.status
            if records.kind[index] != _FAIL or shown == status:
                continue
            host_values = values.setdefault(result.host, [0] * 7)
            host_values[_RESCUED if shown == TaskStatus.RESCUED else _FAILURES] -= 1
            host_values[_RESCUED if status == TaskStatus.RESCUED else _FAILURES] += 1
        return {host: v for host, v in values.items() if any(v)}
