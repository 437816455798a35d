"""`slot_setters`: records made by their slots only where that is what ``cls(...)`` makes."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentmaint.slots import slot_setters


@dataclass(frozen=True, slots=True)
class _Plain:
    a: int
    b: str


@dataclass(frozen=True, slots=True)
class _Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError(self.a)


@dataclass(frozen=True, slots=True)
class _Derived:
    a: int
    b: int = field(init=False, default=0)


@dataclass(frozen=True)
class _NoSlots:
    a: int


def test_setters_make_what_the_class_makes() -> None:
    setters = slot_setters(_Plain, ("a", "b"))
    assert setters is not None
    made = object.__new__(_Plain)
    for setter, value in zip(setters, (1, "x"), strict=True):
        setter(made, value)
    assert made == _Plain(1, "x")
    assert repr(made) == repr(_Plain(1, "x"))


def test_no_setters_where_init_does_more_or_the_fields_differ() -> None:
    assert slot_setters(_Plain, ("b", "a")) is None  # another order
    assert slot_setters(_Plain, ("a",)) is None  # not every field
    assert slot_setters(_Checked, ("a",)) is None  # __post_init__ checks
    assert slot_setters(_Derived, ("a", "b")) is None  # a field __init__ does not take
    assert slot_setters(_NoSlots, ("a",)) is None  # an instance __dict__
