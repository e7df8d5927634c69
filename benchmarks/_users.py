"""The user's classes: the same code runs on every system, so only the call machinery differs.

Each system wraps these classes the way its users would (``actorio.remote(Counter)``,
``ray.remote(Counter)``, a pykka or xoscar subclass); none of them is changed for a system.
"""

from __future__ import annotations

import asyncio
import mmap
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is needed by bulk_data alone, and imported when it runs
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "BLOCK_S",
    "NAP_S",
    "SLEEP_S",
    "AsyncCounter",
    "Blocker",
    "Bulk",
    "Counter",
    "Cruncher",
    "Idle",
    "Napper",
    "Sleeper",
    "spin",
    "spun",
    "touch",
]

NAP_S = 0.01  # async_concurrency: each call sleeps this long on the loop
BLOCK_S = 0.05  # threaded_blocking: each call blocks its thread this long
SLEEP_S = 0.2  # blocking_actors: each regular actor's one call blocks this long


class Counter:
    """The trivial method under test: the call machinery is all that is measured."""

    def __init__(self) -> None:
        self.n = 0

    def inc(self, x: int) -> int:
        self.n += x
        return self.n


class AsyncCounter:
    """``Counter`` with an ``async def`` method: the direct-await floor."""

    def __init__(self) -> None:
        self.n = 0

    async def inc(self, x: int) -> int:
        self.n += x
        return self.n


class Napper:
    """An async method that waits without holding the loop: concurrency costs only memory."""

    async def nap(self) -> float:
        await asyncio.sleep(NAP_S)
        return NAP_S  # checked by the workload: the call really ran


class Blocker:
    """A sync method that blocks its thread, as a call into a blocking library would."""

    def block(self) -> float:
        time.sleep(BLOCK_S)
        return BLOCK_S  # checked by the workload: the call really ran


class Sleeper:
    """A regular actor (one call at a time) whose method blocks, as a call into a blocking
    library would; ``ping`` is the cheap call that proves it was built."""

    def ping(self) -> bool:
        return True

    def sleep(self) -> float:
        time.sleep(SLEEP_S)
        return SLEEP_S  # checked by the workload: the call really ran


def spin(loops: int) -> int:
    """Pure-Python work that holds the GIL throughout."""
    total = 0
    for i in range(loops):
        total += i % 7
    return total


def spun(loops: int) -> int:
    """What :func:`spin` returns, without the work: to check results outside the timing."""
    cycles, rest = divmod(loops, 7)
    return cycles * 21 + rest * (rest - 1) // 2


class Cruncher:
    """CPU-bound calls: only separate processes run two of them at once."""

    def crunch(self, loops: int) -> int:
        return spin(loops)


class Idle:
    """The idle actor of the memory workload; counts its constructions, so that the
    measurement can check every actor was really built (constructors may run lazily)."""

    built = 0

    def __init__(self) -> None:
        self.n = 0
        Idle.built += 1

    def inc(self, x: int) -> int:
        self.n += x
        return self.n


def touch(a: NDArray[Any]) -> float:
    """Read one element per memory page and sum them (1.0 each for an array of ones).

    Every page of the array is read, so a buffer mapped lazily (shared memory, an object
    store) pays for mapping all of it, as a real reader would; yet the reads are 1/512 of the
    elements, so the time is the transfer's, not numpy's summing of 200 MB."""
    return float(a[:: max(1, mmap.PAGESIZE // a.itemsize)].sum())


class Bulk:
    """Large arrays in and out: ``total`` reads the array it is given, ``make`` returns a new
    one; ``ping`` is the cheap call that proves it was built."""

    def ping(self) -> bool:
        return True

    def total(self, a: NDArray[np.float64]) -> float:
        return touch(a)

    def make(self, n: int) -> NDArray[np.float64]:
        import numpy as np

        return np.ones(n)
