"""``xoscar``: the asyncio actor pools behind Xorbits and Xinference."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from .._users import Counter, Cruncher, Idle, Napper
from ._base import AsyncSystem

__all__ = ["Xoscar"]


class Xoscar(AsyncSystem):
    name = "xoscar"
    summary = "xoscar: actors in an actor pool on this loop, await ref.inc(1)"
    requires = ("xoscar",)
    peer = True
    loops = "main"
    max_calls = 10_000
    not_applicable: ClassVar[Mapping[str, str]] = {
        "threaded_blocking": "no threaded actors: a sync method runs on the pool's loop",
        "sync_bridge": "async-only API: sync code needs its own loop thread (the bare row)",
        "blocking_actors": "async-only API, and a sync method runs on the pool's loop",
        "bulk_data": "async-only API: this workload calls from plain sync code, with get()",
    }

    def open(self) -> None:
        import xoscar

        self.xo = xoscar

        # How xoscar users write actors: subclasses of xo.Actor; StatelessActor (no per-actor
        # lock) for methods meant to run concurrently.
        class XoscarCounter(xoscar.Actor, Counter):
            pass

        class XoscarNapper(xoscar.StatelessActor, Napper):
            pass

        class XoscarCruncher(xoscar.Actor, Cruncher):
            pass

        class XoscarIdle(xoscar.Actor, Idle):
            pass

        self.Counter, self.Napper = XoscarCounter, XoscarNapper
        self.Cruncher, self.Idle = XoscarCruncher, XoscarIdle
        self._pools: dict[int, Any] = {}
        self._crunchers = 0

    async def _pool(self, n_process: int = 0) -> Any:
        """The actor pool of this loop: in-process (``n_process=0``) or with sub-processes."""
        pool = self._pools.get(n_process)
        if pool is None:
            pool = await self.xo.create_actor_pool("127.0.0.1", n_process=n_process)
            self._pools[n_process] = pool
        return pool

    async def _create(self, cls: type, **options: Any) -> Any:
        pool = await self._pool(options.pop("n_process", 0))
        return await self.xo.create_actor(cls, address=pool.external_address, **options)

    async def counter(self) -> Callable[[int], Awaitable[int]]:
        ref = await self._create(self.Counter)

        def call(x: int) -> Awaitable[int]:
            result: Awaitable[int] = ref.inc(x)
            return result

        return call

    async def napper(self) -> Callable[[], Awaitable[Any]]:
        ref = await self._create(self.Napper)

        def call() -> Awaitable[Any]:
            result: Awaitable[Any] = ref.nap()
            return result

        return call

    async def cruncher(self) -> Callable[[int], Awaitable[int]]:
        """Each cruncher in its own sub-process of a 2-process pool: they run in parallel."""
        self._crunchers += 1  # sub-pools are numbered from 1 (0 is the main pool)
        strategy = self.xo.allocate_strategy.ProcessIndex(self._crunchers)
        ref = await self._create(self.Cruncher, n_process=2, allocate_strategy=strategy)

        def call(loops: int) -> Awaitable[int]:
            result: Awaitable[int] = ref.crunch(loops)
            return result

        return call

    async def idle_actors(self, n: int) -> list[Any]:
        return [await self._create(self.Idle) for _ in range(n)]  # built when awaited

    async def call_each(self, actors: list[Any]) -> list[Any]:
        return await asyncio.gather(*[ref.inc(1) for ref in actors])

    async def settle(self) -> None:
        pools, self._pools = self._pools, {}
        self._crunchers = 0
        await asyncio.gather(*(pool.stop() for pool in pools.values()))
