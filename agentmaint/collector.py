"""The cyclic garbage collector paused around work that makes many objects and no cycles.

CPython's cyclic collector runs every few hundred new container objects and, now and
then, walks every object alive. Work that builds 100,000s of tuples and frozen records
(a plan for 10,000 hosts x 10 components) makes no reference cycles for it to find: its
passes free nothing and cost that work a fifth of its time or more (BENCHMARKS.md,
"Planning at scale"). Reference counting still frees everything that is not a cycle
while the collector is paused; a cycle made meanwhile waits for its next pass.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector inside the block; after it, it is as it was before.

    The collector is process-wide: the block should be short (a fraction of a second) and
    make no reference cycles. Nested or concurrent blocks leave it disabled only if it
    was disabled when the outermost one started.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
