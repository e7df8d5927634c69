"""The process-wide runtime: which loop hosts new work, the namespace, the registry.

Actors and tasks created inside a running event loop are hosted on that loop (no thread hop
for same-loop calls). Created from plain synchronous code, they are hosted on one runtime loop
that actorio starts lazily in a daemon thread (uvloop when installed) and stops cleanly at
interpreter exit or ``actorio.shutdown()``. ``actorio.run`` owns a loop for an ``await``-based
script instead. The runtime reaches backends only through the loader, ``actorio.backends``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ._context import current_core, current_loop
from ._kernel import caller_loop
from ._options import Placement, check_backend, check_eager, check_placement
from ._registry import Registry
from ._seam import STOP_HOOK_TIMEOUT_S, ActorCore, ActorDirectory, Backend, Hosted
from ._threads import POOL, TaskPool
from ._watchdog import Watchdog
from .backends import close_backends, engaged_backends, get_backend, tasks_finished
from .exceptions import ActorDiedError

__all__ = [
    "LoopFactory",
    "Runtime",
    "default_loop_factory",
    "get_runtime",
    "peek_runtime",
    "reset",
    "run",
]

T = TypeVar("T")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

_running_loop = asyncio._get_running_loop


def default_loop_factory() -> LoopFactory:
    """uvloop's loop when uvloop is installed (imported only now), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class _LoopThread:
    """An event loop running forever in a daemon thread, stopped and closed on demand."""

    def __init__(self, factory: LoopFactory) -> None:
        self.loop = factory()
        self._thread = threading.Thread(target=self._run, name="actorio-loop", daemon=True)
        started = threading.Event()
        self.loop.call_soon(started.set)
        self._thread.start()
        started.wait()
        self.ident = self._thread.ident

    def _run(self) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            # Stopped: cancel what is left, as asyncio.run does, so nothing warns at exit.
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def stop(self) -> None:
        if threading.current_thread() is self._thread:
            raise RuntimeError(
                "actorio.shutdown() cannot run on the runtime's own loop thread (inside an "
                "actor method or task); call it from the driver"
            )
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            return  # already closed
        self._thread.join()


class Runtime:
    """Process-wide actorio state; one at a time, replaced after ``shutdown()``."""

    def __init__(
        self,
        namespace: str | None = None,
        backend: str | None = None,
        loop_factory: LoopFactory | None = None,
        blocking_warning_s: float = 0.1,
        shutdown_timeout_s: float = 1.0,
        placement: Placement | None = None,
        eager: bool = True,
    ) -> None:
        self.namespace = namespace or "default"
        #: where regular actors run their sync methods unless they say (None: by creator)
        self.placement = check_placement(placement)
        #: whether regular actors that do not say take eager calls (see _local_calls)
        self.eager = check_eager(eager) is not False
        self.backend_name = check_backend(backend or os.environ.get("ACTORIO_BACKEND") or "local")
        self.loop_factory = loop_factory
        self.shutdown_timeout_s = shutdown_timeout_s
        self.registry = Registry()
        self.watchdog = Watchdog(blocking_warning_s)
        #: in a worker process: where actors hosted elsewhere are found (the driver)
        self.directory: ActorDirectory | None = None
        #: how a cluster backend connects if the program has not (``init(address=...,
        #: **options)``): read by that backend when it starts
        self.backend_options: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._loop_thread: _LoopThread | None = None
        self._pool: TaskPool | None = None

    def backend(self, name: str | None = None) -> Backend:
        return get_backend(name or self.backend_name or "local")

    def engaged_backends(self) -> list[Backend]:
        """The default backend, then every other one in use in this process."""
        default = self.backend()
        return [default, *(b for b in engaged_backends() if b is not default)]

    def lookup(self, name: str, namespace: str) -> ActorCore | None:
        """The live actor named ``name``: registered here, else known to the driver (in a
        worker process), else to a backend's cluster."""
        actor = self.registry.lookup(namespace, name)
        if actor is None and self.directory is not None:
            actor = self.directory.lookup(name, namespace)
        for backend in self.engaged_backends() if actor is None else ():
            actor = backend.lookup(name, namespace)
            if actor is not None:
                break
        return actor

    def hosted(self) -> Hosted | None:
        """The actor a backend runs the calling code in, outside actorio's own cores."""
        for backend in engaged_backends():
            hosted = backend.hosted()
            if hosted is not None:
                return hosted
        return None

    def progress_bar(self, options: dict[str, Any]) -> Any | None:
        """A progress bar drawn by the cluster this code runs on, if it runs on one."""
        for backend in engaged_backends():
            bar = backend.progress_bar(options)
            if bar is not None:
                return bar
        return None

    def host_loop(self) -> asyncio.AbstractEventLoop:
        """The loop that should host new work created from the calling context."""
        loop = caller_loop()
        if loop is not None:
            return loop
        loop = current_loop.get()
        if loop is None:  # in a worker thread of an actor: its loop
            actor = current_core()
            loop = actor.loop if actor is not None else None
        if loop is not None and not loop.is_closed():
            return loop
        return self.background_loop()

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have the watchdog look after ``loop``, which is about to host an actor."""
        if caller_loop() is loop:
            thread_id: int | None = threading.get_ident()
        elif self._loop_thread is not None and self._loop_thread.loop is loop:
            thread_id = self._loop_thread.ident
        else:
            thread_id = None
        self.watchdog.watch(loop, thread_id)

    def background_loop(self) -> asyncio.AbstractEventLoop:
        lt = self._loop_thread
        if lt is None:
            with self._lock:
                lt = self._loop_thread
                if lt is None:
                    lt = self._loop_thread = _LoopThread(
                        self.loop_factory or default_loop_factory()
                    )
        return lt.loop

    def task_pool(self) -> TaskPool:
        """Where plain ``def`` remote functions run (see :class:`actorio._threads.TaskPool`)."""
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = TaskPool()
        return pool

    def placement_for(self, asked: Placement | None) -> Placement:
        """Where a new regular actor's sync methods run: as asked, else as this runtime says,
        else on a thread when it is created from plain sync code (which may block on it, as
        Ray programs do), and inline on the loop when created in async code (which awaits)."""
        if asked is not None:
            return asked
        if self.placement is not None:
            return self.placement
        return "inline" if caller_loop() is not None else "thread"

    def owned_actors(self) -> list[ActorCore]:
        """Live actors that end with this runtime: all but those that outlive it (detached
        actors of a cluster backend, which Ray keeps running after the driver exits)."""
        return [
            a for a in list(self.registry.actors.values()) if a.alive and not a.outlives_runtime
        ]

    def kill_actors(self, loop: asyncio.AbstractEventLoop | None, why: str) -> None:
        """Kill every live actor this runtime owns (hosted on ``loop``, or everywhere)."""
        for actor in self.owned_actors():
            if loop is None or actor.loop is loop:
                actor.kill(ActorDiedError(f"The {actor.describe()} is dead: {why}."))

    async def drain(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """The graceful part of :meth:`close`, awaited on a loop instead of blocking it: give
        accepted remote functions and calls ``timeout`` seconds (refusing new calls), fail the
        rest, run stop hooks."""
        timeout = self.shutdown_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout

        async def wait_all(futures: list[concurrent.futures.Future[None]]) -> None:
            pending = [asyncio.wrap_future(f) for f in futures if not f.done()]
            left = deadline - time.monotonic()
            if pending and left > 0:
                await asyncio.wait(pending, timeout=left)

        if timeout > 0:
            await wait_all(tasks_finished())  # first: they may still call actors
        actors = self.owned_actors()
        if not actors:
            return
        if timeout > 0:
            await wait_all([a.begin_stop() for a in actors])
            await wait_all(tasks_finished())  # the ones those calls started
        endings = [asyncio.wrap_future(a.monitor().future()) for a in actors]
        why = (
            f"actorio.shutdown_async() was called (calls still pending after its {timeout} s "
            f"timeout were failed)"
        )
        self.kill_actors(None, why)
        await asyncio.wait(endings, timeout=STOP_HOOK_TIMEOUT_S + 1)

    def close(self, timeout: float | None = None) -> None:
        """Graceful stop: give accepted remote functions, then accepted calls (new calls are
        refused), ``timeout`` seconds in all; fail the rest, run stop hooks, then stop the
        runtime thread and worker threads.

        Waiting needs a thread that runs no event loop; on a loop's thread, actors are killed
        at once and their stop hooks run when that loop next gets control.
        """
        timeout = self.shutdown_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        may_wait = _running_loop() is None

        def wait_all(futures: list[concurrent.futures.Future[None]]) -> None:
            left = deadline - time.monotonic()
            if futures and left > 0:
                concurrent.futures.wait(futures, timeout=left)

        graceful = may_wait and timeout > 0
        if graceful:  # remote functions first: they may still call actors, which take calls
            wait_all(tasks_finished())
        actors = self.owned_actors()
        if actors and graceful:
            wait_all([a.begin_stop() for a in actors])
            wait_all(tasks_finished())  # the ones those calls started
        endings = [a.monitor().future() for a in actors] if may_wait else []
        why = (
            f"actorio.shutdown() was called (calls still pending after its {timeout} s "
            f"timeout were failed)"
        )
        self.kill_actors(None, why)
        if endings:  # stop hooks run now; each is bounded by STOP_HOOK_TIMEOUT_S
            concurrent.futures.wait(endings, timeout=STOP_HOOK_TIMEOUT_S + 1)
        self.registry.clear()
        self.watchdog.close()
        close_backends()
        if self._loop_thread is not None:
            self._loop_thread.stop()
            self._loop_thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        POOL.close()  # idle threads end now; busy ones when their call returns


def run(
    main: Coroutine[Any, Any, T],
    *,
    debug: bool | None = None,
    loop_factory: LoopFactory | None = None,
) -> T:
    """Run an ``await``-based script on uvloop when installed (else asyncio), like ``asyncio.run``.

    Actors created on this loop are killed when ``main`` returns, so none outlives its loop.
    """
    factory = loop_factory or default_loop_factory()

    async def main_then_cleanup() -> T:
        try:
            return await main
        finally:
            rt, _ = peek_runtime()
            if rt is not None:
                rt.kill_actors(asyncio.get_running_loop(), "the actorio.run() loop finished")

    with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(main_then_cleanup())


_RUNTIME: Runtime | None = None
_RUNTIME_LOCK = threading.Lock()
_EXPLICIT = False


def get_runtime() -> Runtime:
    """The current runtime, created with defaults on first use (implicit init, as in Ray)."""
    rt = _RUNTIME
    if rt is None:
        rt = install(Runtime(), explicit=False)
    return rt


def peek_runtime() -> tuple[Runtime | None, bool]:
    """The current runtime (or None) and whether it was made by an explicit ``init()``."""
    return _RUNTIME, _EXPLICIT


def install(rt: Runtime, explicit: bool) -> Runtime:
    global _RUNTIME, _EXPLICIT
    with _RUNTIME_LOCK:
        if _RUNTIME is not None:
            return _RUNTIME
        _RUNTIME, _EXPLICIT = rt, explicit
        return rt


def reset(timeout: float | None = None) -> None:
    """Shut the current runtime down (if any); the next use starts a fresh one."""
    global _RUNTIME, _EXPLICIT
    with _RUNTIME_LOCK:
        rt, _RUNTIME, _EXPLICIT = _RUNTIME, None, False
    if rt is not None:
        rt.close(timeout)


atexit.register(reset)
