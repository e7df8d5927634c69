"""actorio itself, on each of its backends, spelled as in the README."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from .._users import Blocker, Bulk, Counter, Cruncher, Idle, Napper, Sleeper
from ._base import AsyncSystem, BulkCalls

__all__ = ["ActorioLocal", "ActorioMailbox", "ActorioProcess", "ActorioRay"]


class ActorioLocal(AsyncSystem):
    name = "actorio-local"
    summary = "actorio, in-process: actors hosted on the caller's loop"
    requires: ClassVar[tuple[str, ...]] = ("actorio",)
    #: ``backend=`` for every actor made here.
    backend: ClassVar[str] = "local"
    #: extra ``.options()`` for every actor made here
    extra: ClassVar[Mapping[str, Any]] = {}
    not_applicable: ClassVar[Mapping[str, str]] = {
        "bulk_data": "in-process: an argument is passed by reference, nothing is copied",
    }

    def open(self) -> None:
        import actorio

        self.actorio = actorio
        self._handles: list[Any] = []
        opts = {"backend": self.backend, **self.extra}
        self.Counter = actorio.remote(Counter).options(**opts)
        self.Napper = actorio.remote(Napper).options(max_concurrency=2000, **opts)
        self.Blocker = actorio.remote(Blocker).options(max_concurrency=16, **opts)
        self.Cruncher = actorio.remote(Cruncher).options(**opts)
        self.Idle = actorio.remote(Idle).options(**opts)
        self.Sleeper = actorio.remote(Sleeper).options(**opts)  # regular: one call at a time
        self.Bulk = actorio.remote(Bulk).options(**opts)

    def _keep(self, handle: Any) -> Any:
        self._handles.append(handle)
        return handle

    async def counter(self) -> Callable[[int], Awaitable[int]]:
        h = self._keep(self.Counter.remote())

        def call(x: int) -> Awaitable[int]:
            ref: Awaitable[int] = h.inc.remote(x)  # an ObjectRef: an asyncio.Future
            return ref

        return call

    async def napper(self) -> Callable[[], Awaitable[Any]]:
        h = self._keep(self.Napper.remote())

        def call() -> Awaitable[Any]:
            ref: Awaitable[Any] = h.nap.remote()
            return ref

        return call

    async def blocker(self) -> Callable[[], Awaitable[Any]]:
        h = self._keep(self.Blocker.remote())

        def call() -> Awaitable[Any]:
            ref: Awaitable[Any] = h.block.remote()
            return ref

        return call

    async def cruncher(self) -> Callable[[int], Awaitable[int]]:
        h = self._keep(self.Cruncher.remote())

        def call(loops: int) -> Awaitable[int]:
            ref: Awaitable[int] = h.crunch.remote(loops)
            return ref

        return call

    async def idle_actors(self, n: int) -> list[Any]:
        handles = [self.Idle.remote() for _ in range(n)]
        if self.backend != "local":  # built in a worker: a call proves it
            for h in handles:
                await h.inc.remote(0)
        # In-process, constructors run as each actor's first message, on this loop: the memory
        # workload lets the loop run until Idle.built says every one has been built.
        return handles

    async def call_each(self, actors: list[Any]) -> list[Any]:
        return await asyncio.gather(*[h.inc.remote(1) for h in actors])

    def _init_sync(self) -> None:
        """The runtime for calls from plain sync code, on this run's loop kind."""
        if not self.actorio.is_initialized():  # Ray's runtime is up since open()
            self.actorio.init(loop_factory=self.loop_factory)

    def bridge(self) -> Callable[[int], int]:
        self._init_sync()
        h = self._keep(self.Counter.remote())
        get = self.actorio.get

        def call(x: int) -> int:
            result: int = get(h.inc.remote(x))
            return result

        return call

    def sleepers(self, n: int) -> Callable[[], list[Any]]:
        self._init_sync()
        handles = [self._keep(self.Sleeper.remote()) for _ in range(n)]
        get = self.actorio.get
        get([h.ping.remote() for h in handles])  # every actor built (and its worker up)

        def run_round() -> list[Any]:
            return get([h.sleep.remote() for h in handles])

        return run_round

    def bulk(self, actors: int) -> BulkCalls:
        self._init_sync()
        handles = [self._keep(self.Bulk.remote()) for _ in range(actors)]
        return BulkCalls.of(handles, self.actorio.get, self.actorio.put)

    def after(self) -> None:
        self._handles.clear()
        self.actorio.shutdown()


class ActorioMailbox(ActorioLocal):
    name = "actorio-mailbox"
    summary = "actorio in-process with eager calls off: every call waits for its turn"
    extra: ClassVar[Mapping[str, Any]] = {"eager": False}
    #: only the per-call workloads differ from actorio-local's
    not_applicable: ClassVar[Mapping[str, str]] = {
        **ActorioLocal.not_applicable,
        **dict.fromkeys(
            (
                "async_concurrency",
                "threaded_blocking",
                "cpu_parallel",
                "sync_bridge",
                "blocking_actors",
                "startup",
            ),
            "eager calls change nothing here: see actorio-local",
        ),
    }


class ActorioProcess(ActorioLocal):
    name = "actorio-process"
    summary = 'actorio, backend="process": one worker process per actor'
    backend = "process"
    loops = "main"
    max_calls = 10_000
    memory_actors = 4
    memory_scope = "tree"
    not_applicable: ClassVar[Mapping[str, str]] = {}  # copies cross the process boundary
    quick_skip_workloads: ClassVar[Mapping[str, str]] = {
        "blocking_actors": "50 worker processes take seconds to start"
    }


class ActorioRay(ActorioLocal):
    name = "actorio-ray"
    summary = 'actorio, backend="ray": the same program on a local Ray'
    requires = ("actorio", "ray")
    backend = "ray"
    loops = "main"
    max_calls = 2_000
    memory_actors = 4
    memory_scope = "tree"
    not_applicable: ClassVar[Mapping[str, str]] = {}  # arrays go through Ray's object store
    quick_skip = "quick run: starting Ray takes seconds"
    beside_baselines = False

    def open(self) -> None:
        super().open()
        self.actorio.init(backend="ray", num_cpus=2, include_dashboard=False, log_to_driver=False)

    def after(self) -> None:
        """Kill this workload's actors but keep Ray up: restarting it costs seconds."""
        for h in self._handles:
            self.actorio.kill(h)
        self._handles.clear()

    def close(self) -> None:
        self.actorio.shutdown()
