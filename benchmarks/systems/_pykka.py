"""``pykka``: Python's classic thread-per-actor library (ThreadingActor, proxies, futures)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .._users import Counter, Cruncher, Idle, Sleeper
from ._base import SyncSystem

__all__ = ["Pykka"]


class Pykka(SyncSystem):
    name = "pykka"
    summary = "pykka: ThreadingActor subclasses called through proxies, fut.get()"
    requires = ("pykka",)
    peer = True
    max_calls = 10_000
    memory_actors = 2_000  # one OS thread per actor
    not_applicable: ClassVar[Mapping[str, str]] = {
        "async_concurrency": "no async methods: an actor is one thread, one message at a time",
        "threaded_blocking": "no max_concurrency: an actor is one thread, one message at a time",
        "bulk_data": "threads of one process: an argument is passed by reference, not copied",
    }

    def open(self) -> None:
        import pykka

        self.pykka = pykka

        # How pykka users write actors: subclasses of ThreadingActor (the user code unchanged).
        class PykkaCounter(pykka.ThreadingActor, Counter):
            def __init__(self) -> None:
                super().__init__()
                Counter.__init__(self)

        class PykkaCruncher(pykka.ThreadingActor, Cruncher):
            pass

        class PykkaIdle(pykka.ThreadingActor, Idle):
            def __init__(self) -> None:
                super().__init__()
                Idle.__init__(self)

        class PykkaSleeper(pykka.ThreadingActor, Sleeper):
            pass

        self.Counter, self.Cruncher, self.Idle = PykkaCounter, PykkaCruncher, PykkaIdle
        self.Sleeper = PykkaSleeper

    def counter(self) -> Callable[[int], Any]:
        proxy = self.Counter.start().proxy()

        def call(x: int) -> Any:
            return proxy.inc(x)

        return call

    def cruncher(self) -> Callable[[int], Any]:
        proxy = self.Cruncher.start().proxy()

        def call(loops: int) -> Any:
            return proxy.crunch(loops)

        return call

    def idle_actors(self, n: int) -> list[Any]:
        return [self.Idle.start() for _ in range(n)]  # start() runs __init__ at once

    def call_each(self, actors: list[Any]) -> list[Any]:
        return list(self.pykka.get_all([ref.proxy().inc(1) for ref in actors]))

    def bridge(self) -> Callable[[int], int]:
        proxy = self.Counter.start().proxy()

        def call(x: int) -> int:
            result: int = proxy.inc(x).get()
            return result

        return call

    def sleepers(self, n: int) -> Callable[[], list[Any]]:
        proxies = [self.Sleeper.start().proxy() for _ in range(n)]  # start() builds it
        get_all = self.pykka.get_all

        def run_round() -> list[Any]:
            return list(get_all([p.sleep() for p in proxies]))

        return run_round

    def get(self, ref: Any) -> Any:
        return ref.get()

    def get_all(self, refs: list[Any]) -> list[Any]:
        result: list[Any] = self.pykka.get_all(refs)
        return result

    def after(self) -> None:
        self.pykka.ActorRegistry.stop_all()
