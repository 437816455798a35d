"""Records made by setting their slots directly, where a hot loop makes 100,000s of them.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; setting
the slots' descriptors directly makes the same object in half the time. That holds only
while the class's ``__init__`` does nothing else: `slot_setters` checks it, and a caller
falls back to the class itself when it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any

__all__ = ["slot_setters"]


def slot_setters(cls: type, names: Sequence[str]) -> tuple[Callable[[Any, Any], None], ...] | None:
    """The setters of `cls`'s slots `names`, or None when setting them is not ``cls(...)``.

    `names` must be every field of the frozen, slotted dataclass `cls`, in order, each set
    by the generated ``__init__`` alone (no ``__post_init__``, no instance ``__dict__``).
    """
    own = fields(cls)
    if (
        tuple(f.name for f in own) != tuple(names)
        or not all(f.init for f in own)
        or hasattr(cls, "__post_init__")
        or cls.__dictoffset__ != 0
    ):
        return None
    return tuple(vars(cls)[name].__set__ for name in names)
