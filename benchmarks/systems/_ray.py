"""``ray``: Ray's own API on a local Ray, the peer actorio borrows its API from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._users import Blocker, Bulk, Counter, Cruncher, Idle, Napper, Sleeper
from ._base import BulkCalls, SyncSystem

__all__ = ["Ray"]


class Ray(SyncSystem):
    name = "ray"
    summary = "Ray: ray.remote actors, ray.get(h.inc.remote(1)), a local Ray with 2 CPUs"
    requires = ("ray",)
    peer = True
    max_calls = 2_000
    memory_actors = 4
    memory_scope = "tree"
    beside_baselines = False

    def open(self) -> None:
        import ray

        self.ray = ray
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        self._handles: list[Any] = []
        self.Counter = ray.remote(Counter)
        self.Napper = ray.remote(max_concurrency=2000)(Napper)
        self.Blocker = ray.remote(max_concurrency=16)(Blocker)
        self.Cruncher = ray.remote(Cruncher)
        self.Idle = ray.remote(Idle)
        self.Sleeper = ray.remote(Sleeper)
        self.Bulk = ray.remote(Bulk)

    def _keep(self, handle: Any) -> Any:
        self._handles.append(handle)
        return handle

    def counter(self) -> Callable[[int], Any]:
        h = self._keep(self.Counter.remote())

        def call(x: int) -> Any:
            return h.inc.remote(x)

        return call

    def napper(self) -> Callable[[], Any]:
        h = self._keep(self.Napper.remote())

        def call() -> Any:
            return h.nap.remote()

        return call

    def blocker(self) -> Callable[[], Any]:
        h = self._keep(self.Blocker.remote())

        def call() -> Any:
            return h.block.remote()

        return call

    def cruncher(self) -> Callable[[int], Any]:
        h = self._keep(self.Cruncher.remote())

        def call(loops: int) -> Any:
            return h.crunch.remote(loops)

        return call

    def idle_actors(self, n: int) -> list[Any]:
        handles = [self._keep(self.Idle.remote()) for _ in range(n)]
        self.ray.get([h.inc.remote(0) for h in handles])  # built in a worker: a call proves it
        return handles

    def call_each(self, actors: list[Any]) -> list[Any]:
        result: list[Any] = self.ray.get([h.inc.remote(1) for h in actors])
        return result

    def bridge(self) -> Callable[[int], int]:
        h = self._keep(self.Counter.remote())
        get = self.ray.get

        def call(x: int) -> int:
            result: int = get(h.inc.remote(x))
            return result

        return call

    def sleepers(self, n: int) -> Callable[[], list[Any]]:
        handles = [self._keep(self.Sleeper.remote()) for _ in range(n)]
        get = self.ray.get
        get([h.ping.remote() for h in handles])  # every actor's worker process up

        def run_round() -> list[Any]:
            result: list[Any] = get([h.sleep.remote() for h in handles])
            return result

        return run_round

    def bulk(self, actors: int) -> BulkCalls:
        """Ray's actors take no CPU once started (num_cpus=0 while running, Ray's default), so
        4 of them fit on 2 CPUs."""
        handles = [self._keep(self.Bulk.remote()) for _ in range(actors)]
        return BulkCalls.of(handles, self.ray.get, self.ray.put)

    def get(self, ref: Any) -> Any:
        return self.ray.get(ref)

    def get_all(self, refs: list[Any]) -> list[Any]:
        result: list[Any] = self.ray.get(refs)
        return result

    def after(self) -> None:
        for h in self._handles:
            self.ray.kill(h)
        self._handles.clear()

    def close(self) -> None:
        self.ray.shutdown()
