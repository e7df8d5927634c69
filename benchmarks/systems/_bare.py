"""The baselines, written by hand as anyone would: no framework.

- ``bare``: the object behind an ``asyncio.Queue``, drained by one consumer task that sets a
  ``Future`` per call.
- ``bare-deque``: the same with a ``collections.deque``; the consumer drains it in a loop and
  parks on a ``Future`` only when it is empty.
- ``direct``: ``await obj.inc(x)`` on a plain object: no actor, the floor of a Python call.

For async methods the consumer starts a task per call; for blocking methods it hands each
call to a ``ThreadPoolExecutor(16)`` with ``loop.run_in_executor``. Regular actors whose
methods block, called from plain sync code (``blocking_actors``), are what anyone writes
without a loop: a thread per actor, ``ThreadPoolExecutor(max_workers=1)`` each, which runs
that object's calls one at a time in order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, ClassVar

from .._users import AsyncCounter, Blocker, Counter, Cruncher, Idle, Napper, Sleeper
from ._base import AsyncSystem

__all__ = ["Bare", "BareDeque", "Direct"]

#: What a caller puts in a mailbox: the future to settle and the call's arguments.
Item = tuple[Any, tuple[Any, ...]]


async def _settle(fut: asyncio.Future[Any], work: Awaitable[Any]) -> None:
    try:
        fut.set_result(await work)
    except Exception as exc:
        fut.set_exception(exc)


async def _serve_queue(queue: asyncio.Queue[Item], method: Callable[..., Any]) -> None:
    """One call at a time, in queue order, run right here."""
    while True:
        fut, args = await queue.get()
        try:
            result = method(*args)
        except Exception as exc:
            fut.set_exception(exc)
        else:
            fut.set_result(result)


def _spawn(running: set[asyncio.Task[None]], fut: Any, work: Awaitable[Any]) -> None:
    """Run one call in its own task, held until done (the loop holds tasks only weakly)."""
    task = asyncio.ensure_future(_settle(fut, work))
    running.add(task)
    task.add_done_callback(running.discard)


async def _spawn_queue(queue: asyncio.Queue[Item], start: Callable[..., Awaitable[Any]]) -> None:
    """Each call in its own task, so calls that wait overlap."""
    running: set[asyncio.Task[None]] = set()
    while True:
        fut, args = await queue.get()
        _spawn(running, fut, start(*args))


class _DequeBox:
    """A deque mailbox: ``put`` wakes the consumer only when it is parked on an empty box."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Item] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: Item) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter.set_result(None)

    async def serve(self, method: Callable[..., Any]) -> None:
        # The call loop is written out here as in _serve_queue, not shared: a helper call per
        # call would slow the baselines down, flattering everything compared with them.
        items, loop = self.items, asyncio.get_running_loop()
        while True:
            while items:
                fut, args = items.popleft()
                try:
                    result = method(*args)
                except Exception as exc:
                    fut.set_exception(exc)
                else:
                    fut.set_result(result)
            self.waiter = loop.create_future()
            await self.waiter

    async def spawn(self, start: Callable[..., Awaitable[Any]]) -> None:
        items, loop = self.items, asyncio.get_running_loop()
        running: set[asyncio.Task[None]] = set()
        while True:
            while items:
                fut, args = items.popleft()
                _spawn(running, fut, start(*args))
            self.waiter = loop.create_future()
            await self.waiter


class Bare(AsyncSystem):
    name = "bare"
    summary = "baseline: the object behind an asyncio.Queue, one consumer task, a Future per call"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "bulk_data": "in-process: an argument is passed by reference, nothing is copied",
    }

    def __init__(self, loop_factory: Any) -> None:
        super().__init__(loop_factory)
        # The loop holds tasks weakly; closing the loop (asyncio.Runner) cancels them.
        self._tasks: list[asyncio.Task[None]] = []
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self._actor_threads: list[concurrent.futures.ThreadPoolExecutor] = []

    # -- the mailbox: the only thing that differs between bare and bare-deque ----------------

    def _mailbox(self, method: Callable[..., Any], spawn: bool) -> Callable[[Item], None]:
        """Start a consumer serving ``method`` on the running loop; return its ``put``."""
        queue: asyncio.Queue[Item] = asyncio.Queue()
        serve = _spawn_queue if spawn else _serve_queue
        self._tasks.append(asyncio.ensure_future(serve(queue, method)))
        return queue.put_nowait

    # -- the factories ---------------------------------------------------------------------

    def _caller(self, put: Callable[[Item], None]) -> Callable[..., asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()

        def call(*args: Any) -> asyncio.Future[Any]:
            fut = loop.create_future()
            put((fut, args))
            return fut

        return call

    async def counter(self) -> Callable[[int], Awaitable[int]]:
        return self._caller(self._mailbox(Counter().inc, spawn=False))

    async def napper(self) -> Callable[[], Awaitable[Any]]:
        return self._caller(self._mailbox(Napper().nap, spawn=True))

    async def blocker(self) -> Callable[[], Awaitable[Any]]:
        self._pool = concurrent.futures.ThreadPoolExecutor(16)
        run = partial(asyncio.get_running_loop().run_in_executor, self._pool, Blocker().block)
        return self._caller(self._mailbox(run, spawn=True))

    async def cruncher(self) -> Callable[[int], Awaitable[int]]:
        return self._caller(self._mailbox(Cruncher().crunch, spawn=False))

    async def idle_actors(self, n: int) -> list[Any]:
        return [self._caller(self._mailbox(Idle().inc, spawn=False)) for _ in range(n)]

    async def call_each(self, actors: list[Any]) -> list[Any]:
        return await asyncio.gather(*(call(1) for call in actors))

    def bridge(self) -> Callable[[int], int]:
        """The same actor on a loop in its own thread, called with ``call_soon_threadsafe``."""
        assert self.loop_factory is not None
        loop = self._thread_loop = self.loop_factory()
        self._thread = threading.Thread(target=loop.run_forever, daemon=True)
        self._thread.start()

        async def make() -> Callable[[Item], None]:
            return self._mailbox(Counter().inc, spawn=False)

        put = asyncio.run_coroutine_threadsafe(make(), loop).result()

        def call(x: int) -> int:
            fut: concurrent.futures.Future[int] = concurrent.futures.Future()
            loop.call_soon_threadsafe(put, (fut, (x,)))
            return fut.result()

        return call

    def sleepers(self, n: int) -> Callable[[], list[Any]]:
        """A thread per actor: each object behind an executor of one worker."""
        pools = [concurrent.futures.ThreadPoolExecutor(max_workers=1) for _ in range(n)]
        self._actor_threads += pools
        objs = [Sleeper() for _ in range(n)]
        for fut in [pool.submit(obj.ping) for pool, obj in zip(pools, objs, strict=True)]:
            fut.result()  # every thread started

        def run_round() -> list[Any]:
            futs = [pool.submit(obj.sleep) for pool, obj in zip(pools, objs, strict=True)]
            return [fut.result() for fut in futs]

        return run_round

    def after(self) -> None:
        for pool in self._actor_threads:
            pool.shutdown()
        self._actor_threads.clear()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        loop, self._thread_loop = self._thread_loop, None
        if loop is not None and self._thread is not None:
            for task in self._tasks:
                loop.call_soon_threadsafe(task.cancel)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join()
            loop.close()
        self._tasks.clear()


class BareDeque(Bare):
    name = "bare-deque"
    summary = "baseline: the object behind a deque, one consumer parked on a Future when empty"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "blocking_actors": "a thread per actor has no mailbox of ours to vary: see bare",
        "bulk_data": "in-process: an argument is passed by reference, nothing is copied",
    }

    def _mailbox(self, method: Callable[..., Any], spawn: bool) -> Callable[[Item], None]:
        box = _DequeBox()
        serve = box.spawn(method) if spawn else box.serve(method)
        self._tasks.append(asyncio.ensure_future(serve))
        return box.put


class Direct(AsyncSystem):
    name = "direct"
    summary = "floor: await obj.inc(x) on a plain object, no actor"
    not_applicable: ClassVar[Mapping[str, str]] = {
        "pipelined": "a coroutine does nothing until awaited: pipelining needs a Task per call",
        "threaded_blocking": "no actor, no threads: a floor for calls on the loop",
        "cpu_parallel": "no actor: the work runs on the caller's thread",
        "sync_bridge": "no actor: from sync code it is a plain function call",
        "blocking_actors": "no actor, no threads: the calls would run one after another",
        "memory": "no actor: the plain user object is what the others are compared with",
        "startup": "no actor: see bare for a minimal asyncio program",
        "bulk_data": "no actor: see memcpy for the floor of moving an array",
    }

    async def counter(self) -> Callable[[int], Awaitable[int]]:
        obj = AsyncCounter()

        def call(x: int) -> Awaitable[int]:
            return obj.inc(x)

        return call

    async def napper(self) -> Callable[[], Awaitable[Any]]:
        obj = Napper()

        def call() -> Awaitable[Any]:
            return obj.nap()

        return call
