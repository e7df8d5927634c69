"""The systems under test, as small adapters that workloads drive the same way.

An adapter creates counters inside the running loop and hands back a ``call(x)`` that spells
one call the way a user of that system would write it. Every adapter wraps its call in one
closure, so the wrapper costs the same everywhere and the comparison stays fair.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

__all__ = ["BASELINE", "SYSTEMS", "Call", "System"]

#: One call to a counter's ``inc``: send ``x``, get an awaitable of the new count.
Call = Callable[[int], Awaitable[int]]

#: The system every other one is compared with.
BASELINE = "bare"


class Counter:
    """The trivial method under test: the call machinery is all that is measured."""

    def __init__(self) -> None:
        self.n = 0

    def inc(self, x: int) -> int:
        self.n += x
        return self.n


class AsyncCounter:
    """``Counter`` with an ``async def`` method, for the direct-await floor."""

    def __init__(self) -> None:
        self.n = 0

    async def inc(self, x: int) -> int:
        self.n += x
        return self.n


class System:
    """One way of calling a counter; a fresh adapter is made for each run (each loop)."""

    name: ClassVar[str]
    #: Module that must be importable, else the system is reported as skipped.
    requires: ClassVar[str | None] = None
    #: Workloads the system does not take part in (it has no meaningful way to run them).
    excludes: ClassVar[frozenset[str]] = frozenset()
    #: Whether the workloads' targets apply to it (they are actorio's targets).
    judged: ClassVar[bool] = False

    @classmethod
    def installed(cls) -> bool:
        return cls.requires is None or importlib.util.find_spec(cls.requires) is not None

    def counter(self) -> Call:
        """Create a counter on the running loop; return how to call its ``inc``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what the run left behind; called after its loop has closed."""


#: What the bare caller puts on the queue: the future to complete and the call's arguments.
_Item = tuple[asyncio.Future[int], tuple[int]]


async def _serve(queue: asyncio.Queue[_Item], obj: Counter) -> None:
    """The bare actor's single consumer: one call at a time, in queue order."""
    while True:
        fut, args = await queue.get()
        try:
            result = obj.inc(*args)
        except Exception as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)


class Bare(System):
    """The baseline: a plain object behind an ``asyncio.Queue``, served by one task."""

    name = "bare"

    def __init__(self) -> None:
        # The loop only holds tasks weakly; closing the loop (asyncio.Runner) cancels them.
        self._consumers: list[asyncio.Task[None]] = []

    def counter(self) -> Call:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._consumers.append(loop.create_task(_serve(queue, Counter())))

        def call(x: int) -> asyncio.Future[int]:
            fut = loop.create_future()
            queue.put_nowait((fut, (x,)))
            return fut

        return call


class Actorio(System):
    """``@actorio.remote`` actors hosted on the running loop."""

    name = "actorio"
    requires = "actorio"
    judged = True

    def __init__(self) -> None:
        import actorio

        self._actorio = actorio
        self._counter_cls: Any = actorio.remote(Counter)

    def counter(self) -> Call:
        h = self._counter_cls.remote()

        def call(x: int) -> Awaitable[int]:
            ref: Awaitable[int] = h.inc.remote(x)  # an ObjectRef: an asyncio.Future
            return ref

        return call

    def close(self) -> None:
        self._actorio.shutdown()


class Direct(System):
    """``await obj.inc(x)`` on a plain object: no actor at all, a floor for context."""

    name = "direct"
    # Pipelining coroutines means wrapping each in a Task: a different thing to measure.
    excludes = frozenset({"pipelined"})

    def counter(self) -> Call:
        obj = AsyncCounter()

        def call(x: int) -> Awaitable[int]:
            return obj.inc(x)

        return call


#: Every system, in table order; the baseline first.
SYSTEMS: dict[str, type[System]] = {s.name: s for s in (Bare, Actorio, Direct)}
