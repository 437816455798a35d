"""Cron windows against cronsim (Debian's Vixie cron, simulated), with the DST difference encoded.

A seeded sample of generated expressions, each over a few days around a random
daylight-saving change of a random zone. cronsim's firings are turned into
agentmaint's starts by the documented differences, never skipped:

* a repeated wall time opens once, at its first occurrence; cron runs expressions
  with ``*`` in the minute or hour field again in the repeated hour;
* a wall time inside a gap opens as much later as the gap is long (RFC 5545); cron
  runs a fixed-time job right after the jump instead (several of them once) and
  skips the gap's times for expressions with ``*`` in the minute or hour field.

Everything else, which wall times match and when they exist, must agree exactly.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim

from agentmaint.config.cron import CronExpression
from agentmaint.config.schedule import UpdateSchedule
from agentmaint.errors import CronError
from agentmaint.planning.windows import upcoming_windows
from tests.zones import Transition, all_transitions

SEED = 20
CASES = 400
#: Expressions matching more often than this in a case's span are drawn again (time bound).
_MOST_MATCHES = 600
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _values(rng: random.Random, low: int, high: int, favoured: list[int]) -> str:
    """One random element of a field: a number (often a favoured one), a range, a step."""
    kind = rng.randrange(6)
    if kind == 0:
        return str(
            rng.choice(favoured) if favoured and rng.random() < 0.7 else rng.randint(low, high)
        )
    if kind == 1:
        first = rng.randint(low, high)
        return f"{first}-{rng.randint(first, high)}"
    if kind == 2:
        first = rng.randint(low, high)
        return f"{first}-{rng.randint(first, high)}/{rng.randint(1, high - low + 1)}"
    if kind == 3:
        return f"{rng.randint(low, high)}/{rng.randint(1, high - low + 1)}"
    if kind == 4:
        return f"*/{rng.randint(1, max(2, (high - low) // 2))}"
    return str(rng.randint(low, high))


def _field(
    rng: random.Random, low: int, high: int, star: float, favoured: list[int] | None = None
) -> str:
    """A whole field: ``*`` with probability `star`, else a list of one to four elements."""
    if rng.random() < star:
        return "*"
    elements = [_values(rng, low, high, favoured or []) for _ in range(rng.randint(1, 4))]
    if elements[0].startswith("*") and len(elements) > 1:
        rng.shuffle(elements)
    return ",".join(elements)


def _day_of_week(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return "*"
    if roll < 0.75:
        first = rng.randrange(7)
        return f"{_DAY_NAMES[first]}-{_DAY_NAMES[rng.randint(first, 6)]}"
    return _field(rng, 0, 7, 0.0)


def _month(rng: random.Random, month: int) -> str:
    roll = rng.random()
    if roll < 0.75:
        return "*"
    if roll < 0.85:
        return f"{_MONTH_NAMES[month - 1]},{rng.choice(_MONTH_NAMES)}"
    return _field(rng, 1, 12, 0.0, [month])


def _expression(rng: random.Random, transition: Transition) -> str:
    """A random valid expression, its hours and minutes biased towards `transition`'s."""
    near = [transition.wall_before, transition.wall_after]
    hours = [wall.hour for wall in near] + [(near[0].hour + 1) % 24, (near[0].hour - 1) % 24]
    minutes = [wall.minute for wall in near] + [0, 15, 20, 30, 35, 45, 50]
    while True:
        fields = (
            _field(rng, 0, 59, 0.15, minutes),
            _field(rng, 0, 23, 0.25, hours),
            _field(rng, 1, 31, 0.8, [near[0].day, near[1].day]),
            _month(rng, near[0].month),
            _day_of_week(rng),
        )
        text = " ".join(fields)
        try:
            CronExpression.parse(text)
        except CronError:  # a day that never occurs in those months
            continue
        return text


def _for_cronsim(expression: str) -> str:
    """`expression` as cronsim reads it the way agentmaint does.

    Not a DST difference: agentmaint reads day-of-week ``a/n`` as ``a-6/n`` (7 is
    only Sunday's alias, agentmaint.config.cron), cronsim as ``a-7/n``.
    """
    *times, day_of_week = expression.split()
    elements = []
    for element in day_of_week.split(","):
        first, slash, step = element.partition("/")
        if slash and first.isdigit():
            elements.append(f"{first}-{max(int(first), 6)}/{step}")
        else:
            elements.append(element)
    return " ".join([*times, ",".join(elements)])


def _cronsim_wildcard(expression: str) -> bool:
    """Whether cron treats the expression as running by the clock, not at a fixed time."""
    minute, hour = expression.split()[:2]
    return minute.startswith("*") or hour.startswith("*")


def _fired(expression: str, zone: ZoneInfo, first: datetime, end: datetime) -> set[datetime]:
    """When cronsim runs `expression` in `zone` in ``[first, end)`` (UTC)."""
    fired: set[datetime] = set()
    # cronsim answers strictly after its start; walls run in order, so stop well past `end`.
    for local in CronSim(_for_cronsim(expression), (first - timedelta(seconds=1)).astimezone(zone)):
        instant = local.astimezone(UTC)
        if instant >= end + timedelta(days=1):
            break
        if first <= instant < end:
            fired.add(instant)
    return fired


def _walls(expression: str, first: datetime, end: datetime) -> list[datetime]:
    """The naive wall times `expression` matches in ``[first, end)``, by cronsim."""
    walls: list[datetime] = []
    for wall in CronSim(_for_cronsim(expression), first - timedelta(seconds=1)):
        if wall >= end:
            return walls
        walls.append(wall)
    raise AssertionError("unreachable: cronsim iterates without end")  # pragma: no cover


def _expected(
    expression: str, transitions: list[Transition], first: datetime, end: datetime
) -> tuple[list[datetime], Counter[str]]:
    """cronsim's firings in ``[first, end)`` turned into agentmaint's starts (module docstring).

    Also count how many instants each documented difference changed.
    """
    zone = transitions[0].zone
    fired = _fired(expression, zone, first, end)
    walls = _walls(
        expression,
        (first - timedelta(days=1)).replace(tzinfo=None),
        (end + timedelta(days=1)).replace(tzinfo=None),
    )
    changed: Counter[str] = Counter()
    # Once, at the first occurrence: cron's second run in a repeated hour goes.
    expected = {instant for instant in fired if instant.astimezone(zone).fold == 0}
    changed["repeat runs once"] = len(fired) - len(expected)
    matched = set(walls)
    for transition in transitions:
        skipped = [wall for wall in walls if transition.in_gap(wall)]
        if not skipped:
            continue
        if not _cronsim_wildcard(expression) and transition.wall_after not in matched:
            if transition.at in expected:
                changed["no run at the jump"] += 1
            expected.discard(transition.at)  # cron's run right after the jump
        # RFC 5545: read with the offset before the gap, i.e. moved by its length.
        moved = {transition.first_instant(wall) for wall in skipped}
        changed["gap start moved"] += len({i for i in moved if first <= i < end} - expected)
        expected |= moved
    return sorted(instant for instant in expected if first <= instant < end), changed


def _listed(expression: str, zone: ZoneInfo, first: datetime, end: datetime) -> list[datetime]:
    """agentmaint's window starts in ``[first, end)``."""
    cron = CronExpression.parse(expression)
    schedule = UpdateSchedule(timezone=zone, duration=timedelta(minutes=1), cron=cron)
    # No more start in the span than wall times around it, and one more beyond.
    wall_first = (first - timedelta(days=1)).replace(tzinfo=None)
    most = sum(
        1 for _ in cron.iter_between(wall_first, (end + timedelta(days=1)).replace(tzinfo=None))
    )
    starts = [window.start for window in upcoming_windows(schedule, first, most + 1)]
    assert starts[-1] >= end, "asked for too few windows"
    return [start for start in starts if first <= start < end]


def _cases() -> list[tuple[str, Transition, datetime, datetime]]:
    rng = random.Random(SEED)
    transitions = all_transitions(2026, 2030)
    cases: list[tuple[str, Transition, datetime, datetime]] = []
    while len(cases) < CASES:
        transition = rng.choice(transitions)
        first = transition.at - timedelta(minutes=rng.randint(12 * 60, 48 * 60))
        end = transition.at + timedelta(minutes=rng.randint(12 * 60, 48 * 60))
        expression = _expression(rng, transition)
        matches = CronExpression.parse(expression).iter_between(
            (first - timedelta(days=1)).replace(tzinfo=None),
            (end + timedelta(days=1)).replace(tzinfo=None),
        )
        if sum(1 for _ in zip(matches, range(_MOST_MATCHES + 1), strict=False)) > _MOST_MATCHES:
            continue
        cases.append((expression, transition, first, end))
    return cases


def _zone_transitions(transition: Transition) -> list[Transition]:
    return [t for t in all_transitions(2026, 2030) if t.zone is transition.zone]


def test_against_cronsim() -> None:
    differences: Counter[str] = Counter()
    agreed = 0
    for expression, transition, first, end in _cases():
        expected, changed = _expected(expression, _zone_transitions(transition), first, end)
        listed = _listed(expression, transition.zone, first, end)
        assert listed == expected, f"{expression!r} in {transition}, {first} to {end}"
        differences.update(changed)
        agreed += len(listed)
    # The sample exercises every documented difference, not only days without changes.
    assert set(differences) == {"repeat runs once", "no run at the jump", "gap start moved"}
    assert min(differences.values()) >= 10, differences
    assert agreed > 10 * CASES


# The documented differences, on the examples of the README (2026 changes).
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


@pytest.mark.parametrize(
    ("expression", "zone", "after", "cron_runs", "agentmaint_opens"),
    [
        # Berlin 2026-03-29 02:00 CET -> 03:00 CEST: cron at 03:00 CEST, agentmaint 03:30 CEST.
        ("30 2 * * *", BERLIN, "2026-03-28T12:00", "2026-03-29T01:00", "2026-03-29T01:30"),
        # Several skipped times: cron runs once at the jump, agentmaint opens each, moved.
        ("20,40 2 * * *", BERLIN, "2026-03-28T12:00", "2026-03-29T01:00", "2026-03-29T01:20"),
        # Lord_Howe 2026-10-04 02:00 -> 02:30 (+10:30 -> +11): 02:20 opens at 02:50, after 02:35.
        ("20,35 2 * * *", LORD_HOWE, "2026-10-03T00:00", "2026-10-03T15:30", "2026-10-03T15:35"),
    ],
)
def test_documented_difference(
    expression: str, zone: ZoneInfo, after: str, cron_runs: str, agentmaint_opens: str
) -> None:
    instant = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert next(CronSim(expression, instant.astimezone(zone))).astimezone(UTC) == (
        datetime.fromisoformat(cron_runs).replace(tzinfo=UTC)
    )
    schedule = UpdateSchedule(
        timezone=zone, duration=timedelta(hours=1), cron=CronExpression.parse(expression)
    )
    assert upcoming_windows(schedule, instant, 1)[0].start == (
        datetime.fromisoformat(agentmaint_opens).replace(tzinfo=UTC)
    )
