"""The builder's base: the problems found so far and the scalars every section reads.

Each section of a schedule file has its own builder class (a subclass of
`_BuilderBase`); `agentmaint.config.parse.document` composes them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agentmaint.config.durations import duration_seconds, format_duration
from agentmaint.config.schedule import Become, BecomeMethod
from agentmaint.config.suggest import time_zone_hint
from agentmaint.errors import Problem, format_path

UTC = ZoneInfo("UTC")
Path_ = list[str | int]


class _BuilderBase:
    """Collects the problems of a (possibly invalid) document; reads its scalars."""

    def __init__(self, problems: list[Problem], *, resolve_secrets: bool = True) -> None:
        self.problems = problems
        self.secret_variables: list[str] = []
        #: Variables the connection secrets are read from (kept out of Ansible jobs).
        self.connection_variables: list[str] = []
        #: ``allow_literal_secrets``: password-like connection variables may be literals.
        self.allow_literal_secrets = False
        #: False: secret references are checked for form and kept unresolved.
        self.resolve_secrets = resolve_secrets

    def fail(self, path: Path_, message: str) -> None:
        self.problems.append(Problem(format_path(path), message))

    # -- scalars -------------------------------------------------------------------------

    def zone(self, value: Any, path: Path_, default: ZoneInfo) -> ZoneInfo:
        if not isinstance(value, str) or not value:
            return default
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            hint = time_zone_hint(value) or " (e.g. Europe/Berlin, UTC)"
            self.fail(path, f"{value!r} is not a known IANA time zone{hint}")
            return default

    def duration(
        self,
        value: Any,
        path: Path_,
        default: timedelta,
        *,
        zero: bool = False,
        at_most: timedelta | None = None,
        hint: str = "",
    ) -> timedelta:
        """A duration field; `zero` allows ``0m``, `at_most` bounds it, `hint` ends a refusal."""
        if not isinstance(value, str):
            return default
        seconds = duration_seconds(value)
        if seconds is None:
            return default  # the schema's pattern already reported it
        suffix = f" ({hint})" if hint else ""
        if seconds == 0 and not zero:
            self.fail(path, f"{value!r} is zero: expected a duration longer than 0{suffix}")
            return default
        delta = timedelta(seconds=seconds)
        if at_most is not None and delta > at_most:
            self.fail(path, f"{value!r} is longer than {format_duration(at_most)}{suffix}")
            return default
        return delta

    def instant(self, value: Any, path: Path_, zone: ZoneInfo, *, end: bool) -> datetime | None:
        if not isinstance(value, str):
            return None
        text = value.strip()
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                if end:  # a date as the end includes that whole day
                    day += timedelta(days=1)
                return datetime.combine(day, time(0), zone).astimezone(UTC)
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            self.fail(path, f"{value!r} is not a valid date or date-time ({exc})")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.astimezone(UTC)


def _ini_value(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def become_setting(raw: Any) -> Become | None:
    """A ``become`` setting (its form was checked by the schema); None when absent."""
    if isinstance(raw, bool):
        return Become(raw)
    if not isinstance(raw, dict):
        return None
    user, method = raw.get("user"), raw.get("method")
    return Become(
        True,
        user if isinstance(user, str) else None,
        BecomeMethod(method) if method in set(BecomeMethod) else None,
    )
