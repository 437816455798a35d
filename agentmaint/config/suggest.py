"""Did-you-mean hints for the names an operator mistypes: keys, time zones, roles, weekdays.

``'Europe/Berln' is not a known IANA time zone (did you mean 'Europe/Berlin'?)``: one
close match, compared without regard to case (``europe/berlin``, ``MONDY``), or nothing
when no known name is close.
"""

from __future__ import annotations

import difflib
import functools
import zoneinfo
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean", "time_zone_hint"]


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name closest to `word` (ignoring case), or None when none is close."""
    by_folded: dict[str, str] = {}
    for name in known:
        by_folded.setdefault(name.casefold(), name)
    folded = word.strip().casefold()
    if folded in by_folded:
        return by_folded[folded]
    matches = difflib.get_close_matches(folded, list(by_folded), n=1)
    return by_folded[matches[0]] if matches else None


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """`` (did you mean 'name'?)`` for the closest known name, or ``""``."""
    match = closest(word, known)
    return f" (did you mean {match!r}?)" if match is not None else ""


def time_zone_hint(name: str) -> str:
    """`` (did you mean 'Europe/Berlin'?)`` for a mistyped IANA name, or ``""``.

    A city alone (``Berlin``) finds its zone (``Europe/Berlin``) by the last part of
    the name, which plain string similarity would miss among ~600 zones.
    """
    zones = _time_zones()
    by_city = _time_zones_by_city()
    city = name.strip().replace(" ", "_").casefold()
    if "/" not in city and city in by_city:
        return f" (did you mean {by_city[city]!r}?)"
    return did_you_mean(name, zones)


@functools.cache
def _time_zones() -> tuple[str, ...]:
    # Sorted so that the same mistake always gets the same hint.
    return tuple(sorted(zoneinfo.available_timezones()))


@functools.cache
def _time_zones_by_city() -> dict[str, str]:
    cities: dict[str, str] = {}
    for zone in _time_zones():
        # Prefer the canonical region zones over the legacy aliases (US/..., Etc/...).
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/")):
            cities.setdefault(zone.rsplit("/", 1)[1].casefold(), zone)
    return cities
