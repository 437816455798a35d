"""The frozen outcome of parsing one run's events, `ParsedRun`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

import orjson

from agentmaint.records import HostCounts, RunStatus, TaskResult, TaskStatus

__all__ = ["ParsedRun"]


@dataclass(frozen=True)
class ParsedRun:
    """Everything the event stream of one run says, frozen.

    `counts` are derived from the individual events, with the failures and
    unreachables they leave ambiguous settled by `stats` (the numbers of
    ``playbook_on_stats``; None when the run never got there). `partial` is True
    when the stream was truncated or malformed, so that `results` and `counts`
    are incomplete. `warnings` explain `partial`, ambiguities, and any
    difference between `counts` and `stats`.

    `directory` is the ``artifacts/<ident>/`` directory read (None for a stream fed
    live) and `ident` the ansible-runner ident its events name (``runner_ident``; the
    directory's name when they name none).
    """

    status: RunStatus
    rc: int | None
    results: tuple[TaskResult, ...]
    counts: Mapping[str, HostCounts]
    stats: Mapping[str, HostCounts] | None
    error: str | None = None
    partial: bool = False
    warnings: tuple[str, ...] = ()
    directory: Path | None = None
    ident: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: status, rc, partial, error, warnings, counts, task results.

        ``hosts`` are the counts derived from the events, ``stats`` those of
        ``playbook_on_stats`` (null without it); ``warnings`` say where they differ
        and which failures the events left ambiguous.
        """
        results = self.results
        starts = _isoformats(list(map(_START, results)))
        return self._with_tasks(_task_dicts(results, starts, _isoformats(list(map(_END, results)))))

    def _with_tasks(self, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        """`to_dict` around the given ``tasks``."""
        return {
            "status": self.status.value,
            "rc": self.rc,
            "partial": self.partial,
            "error": self.error,
            "warnings": list(self.warnings),
            "hosts": {host: counts.to_dict() for host, counts in self.counts.items()},
            "stats": (
                None
                if self.stats is None
                else {host: counts.to_dict() for host, counts in self.stats.items()}
            ),
            "tasks": tasks,
        }


def _orjson_document(parsed: ParsedRun) -> dict[str, Any] | None:
    """``parsed.to_dict()`` with its times left as datetimes, for orjson to write them.

    orjson writes such a time as ``isoformat`` does (see `_isoformats`): the document it
    makes of this dict is that of ``to_dict()``, without formatting the 80,000 times of a
    big run into strings first. None when some time would be written otherwise. Private
    to the package but for ``agentmaint events --json`` (`agentmaint.cli.events`), which
    writes the document in one orjson call.
    """
    results = parsed.results
    starts, ends = list(map(_START, results)), list(map(_END, results))
    if not (_isoformat_like(starts) and _isoformat_like(ends)):
        return None
    return parsed._with_tasks(_task_dicts(results, starts, ends))


# `TaskStatus.value` is a property written in Python (enum's): a table is a dict lookup
_STATUS_TEXT = {status: status.value for status in TaskStatus}
_START, _END = attrgetter("start"), attrgetter("end")


def _task_dicts(
    results: Sequence[TaskResult], starts: Sequence[Any], ends: Sequence[Any]
) -> list[dict[str, Any]]:
    """Each result's object: `starts` and `ends` are its times as they are to be written."""
    status_text = _STATUS_TEXT
    return [
        {
            "host": result.host,
            "play": result.play,
            "task": result.task,
            "role": result.role,
            "module": result.module,
            "status": status_text[result.status],
            "start": start,
            "end": end,
            "duration": result.duration,
            "rc": result.rc,
            "message": result.message,
        }
        for result, start, end in zip(results, starts, ends, strict=True)
    ]


def _isoformats(values: list[datetime | None]) -> list[str | None]:
    """``value.isoformat()`` of each value (None stays None), in one pass for the usual ones.

    ``isoformat`` costs a few microseconds (two per task result: a tenth of a second for
    the 40,000 results of a big run); orjson writes a list of datetimes in one call, in
    the same text for the times events carry (naive or UTC, years 1000 to 9999, any
    microseconds: RFC 3339 is ISO 8601's profile). Any other time (another zone, a
    subclass) leaves the whole list to ``isoformat``.
    """
    times = list(filter(None, values))  # a datetime is always true
    if not times:
        return [None] * len(values)
    if _isoformat_like(times):
        # one string per time, quoted, none holding a quote or a comma
        text = orjson.dumps(times).decode("ascii")
        texts = text[2:-2].split('","')
        if len(times) == len(values):
            return cast("list[str | None]", texts)
        it = iter(texts)
        return [None if value is None else next(it) for value in values]
    return [None if value is None else value.isoformat() for value in values]


def _isoformat_like(values: Sequence[datetime | None]) -> bool:
    """Whether orjson writes each of these times (None aside) as ``isoformat`` does.

    It does for the times events carry: naive or UTC, years 1000 to 9999, any microseconds
    (RFC 3339 is ISO 8601's profile). Not for another zone or a subclass.
    """
    times = list(filter(None, values))  # a datetime is always true
    return not times or (
        set(map(type, times)) == {datetime}
        and set(map(_TZINFO, times)) <= {None, UTC}
        and min(map(_YEAR, times)) >= 1000  # four digits either way
    )


_TZINFO, _YEAR = attrgetter("tzinfo"), attrgetter("year")
