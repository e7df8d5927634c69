"""What every system adapter offers the workloads, in one of two styles.

An *async* system is driven from coroutines on an event loop the child builds (``await`` on
what a call returns); a *sync* system is driven from plain threads, with the system's own
blocking ``get`` (``ray.get``, a pykka future's ``get()``). Each is spelled the way its users
write it. Every adapter hands out its calls wrapped in one closure, so the wrapper costs the
same everywhere.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

__all__ = ["AsyncSystem", "BulkCalls", "LoopFactory", "SyncSystem", "System"]

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


@dataclass(frozen=True)
class BulkCalls:
    """bulk_data's calls on actors of :class:`~benchmarks._users.Bulk`, each made from plain
    sync code and waited for with the system's own blocking ``get``."""

    #: ``get(a.total.remote(arr))``: one call taking the array, on the first actor.
    send: Callable[[Any], float]
    #: ``ref = put(arr)``, then ``get([h.total.remote(ref) for h in actors])``: one put read
    #: by every actor.
    share: Callable[[Any], list[float]]
    #: ``get(a.make.remote(n))``: one call returning a new array of ``n`` ones.
    fetch: Callable[[int], Any]

    @classmethod
    def of(
        cls, handles: list[Any], get: Callable[..., Any], put: Callable[[Any], Any]
    ) -> BulkCalls:
        """The calls, for systems spelled as Ray is (``get``, ``put``, ``.remote``): the same
        code for Ray and for actorio, so the two measure the same thing."""
        get([h.ping.remote() for h in handles])  # every actor built, its worker up
        first = handles[0]

        def send(arr: Any) -> float:
            result: float = get(first.total.remote(arr))
            return result

        def share(arr: Any) -> list[float]:
            ref = put(arr)
            result: list[float] = get([h.total.remote(ref) for h in handles])
            return result

        def fetch(n: int) -> Any:
            return get(first.make.remote(n))

        return cls(send, share, fetch)


class System:
    """One way of hosting the user's classes as actors; one instance lives in one child."""

    name: ClassVar[str]
    #: One line for the report: what this system is.
    summary: ClassVar[str]
    #: Modules that must be importable, else the system is reported as skipped.
    requires: ClassVar[tuple[str, ...]] = ()
    #: A peer framework, installed by the bench extra (left out by --quick and --no-peers).
    peer: ClassVar[bool] = False
    #: "each": measured on every loop kind; "main": on the main loop only (its cost is not the
    #: loop's); "none": driven from threads, no loop of ours.
    loops: ClassVar[Literal["each", "main", "none"]] = "each"
    #: Whether its jobs run next to the baselines' of their loop in each repeat (so the two
    #: samples of a per-repeat ratio are measured close in time); systems whose child takes
    #: seconds to start (a Ray instance) run after the others instead, not to hold them apart.
    beside_baselines: ClassVar[bool] = True
    #: A cap on the calls of a per-call workload, for systems whose calls cost milliseconds.
    max_calls: ClassVar[int | None] = None
    #: How many idle actors the memory workload makes (None: the configured number).
    memory_actors: ClassVar[int | None] = None
    #: Whose resident memory counts: this process, or it and every process below it.
    memory_scope: ClassVar[Literal["process", "tree"]] = "process"
    #: Workloads the system cannot express, with the reason printed in their row.
    not_applicable: ClassVar[Mapping[str, str]] = {}
    #: Why --quick leaves the system out, if it does.
    quick_skip: ClassVar[str | None] = None
    #: Workloads --quick leaves out for this system alone, with the reason for their row.
    quick_skip_workloads: ClassVar[Mapping[str, str]] = {}

    def __init__(self, loop_factory: LoopFactory | None) -> None:
        #: Builds the loop of this run's loop kind (None for systems without a loop).
        self.loop_factory = loop_factory

    @classmethod
    def missing(cls) -> list[str]:
        """The required modules that are not installed."""
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    def open(self) -> None:
        """Once per child, before any workload, outside any loop (imports, cluster start)."""

    def after(self) -> None:
        """After each workload, once its loop (if any) has closed: release what it made."""

    def close(self) -> None:
        """Once per child, after the last workload."""

    def bridge(self) -> Callable[[int], int]:
        """A counter called from plain sync code with no loop in the calling thread."""
        raise NotImplementedError

    def sleepers(self, n: int) -> Callable[[], list[Any]]:
        """``n`` regular actors of :class:`~benchmarks._users.Sleeper`, made from plain sync
        code and each proven built by a ``ping``; returns one round: every actor's ``sleep``
        called once, all submitted before any is waited for, then the system's own blocking
        wait for all of them."""
        raise NotImplementedError

    def bulk(self, actors: int) -> BulkCalls:
        """``actors`` actors of :class:`~benchmarks._users.Bulk`, made from plain sync code
        and each proven built by a ``ping``."""
        raise NotImplementedError


class AsyncSystem(System):
    """Driven from coroutines: each factory runs on the child's loop and returns callables
    whose result is awaited."""

    async def counter(self) -> Callable[[int], Awaitable[int]]:
        raise NotImplementedError

    async def napper(self) -> Callable[[], Awaitable[Any]]:
        """An actor whose ``async def nap`` runs up to 2,000 calls at once."""
        raise NotImplementedError

    async def blocker(self) -> Callable[[], Awaitable[Any]]:
        """An actor whose blocking ``block`` runs on 16 threads at once."""
        raise NotImplementedError

    async def cruncher(self) -> Callable[[int], Awaitable[int]]:
        raise NotImplementedError

    async def idle_actors(self, n: int) -> list[Any]:
        """``n`` actors of :class:`~benchmarks._users.Idle`, constructed, holding no call."""
        raise NotImplementedError

    async def call_each(self, actors: list[Any]) -> list[Any]:
        """``inc(1)`` on each of :meth:`idle_actors`' actors, all sent before any is awaited;
        their results, in order."""
        raise NotImplementedError

    async def settle(self) -> None:
        """End of a workload, still on its loop (close pools that belong to the loop)."""


class SyncSystem(System):
    """Driven from plain threads: factories return submit functions whose refs ``get``
    resolves, blocking."""

    loops = "none"

    def counter(self) -> Callable[[int], Any]:
        raise NotImplementedError

    def napper(self) -> Callable[[], Any]:
        raise NotImplementedError

    def blocker(self) -> Callable[[], Any]:
        raise NotImplementedError

    def cruncher(self) -> Callable[[int], Any]:
        raise NotImplementedError

    def idle_actors(self, n: int) -> list[Any]:
        raise NotImplementedError

    def call_each(self, actors: list[Any]) -> list[Any]:
        """``inc(1)`` on each of :meth:`idle_actors`' actors, all sent before the system's
        own blocking wait for all of them; their results, in order."""
        raise NotImplementedError

    def get(self, ref: Any) -> Any:
        """The system's own blocking wait for one result."""
        raise NotImplementedError

    def get_all(self, refs: list[Any]) -> list[Any]:
        """The system's own blocking wait for many results."""
        raise NotImplementedError
