"""The threads that run blocking work: actors' sync methods off their loop, and ``def`` tasks.

One process-wide :class:`ElasticPool`: a thread per piece of work running at once, made on
demand, reused while work keeps coming, and released after :data:`IDLE_S` seconds without
any. So an idle actor holds no thread, a busy one holds one, and fifty actors blocking at
once run side by side on fifty threads (as fifty Ray actors do in fifty processes).

``def`` tasks go through a :class:`TaskPool` on top of it: at most ``limit`` run at once
(CPU-bound tasks would otherwise all start together), but a task blocked in ``actorio.get``
or ``actorio.wait`` hands its slot on meanwhile, so a tree of tasks that wait for their
children (Ray's ``ray.get(f.remote())`` inside ``f``) never runs out of slots.

anyio's worker threads (``anyio.to_thread.run_sync``) were measured for this job and not
used: they are awaited from a coroutine, so each call would also cost a task on the actor's
loop (see CONTRIBUTING.md, on dependencies).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from queue import Empty, SimpleQueue
from typing import Any

__all__ = ["IDLE_S", "POOL", "ElasticPool", "TaskPool", "lend_slot", "task_limit"]

#: Seconds a pool thread waits for more work before it ends.
IDLE_S = 5.0

_Work = tuple[Callable[..., Any], tuple[Any, ...]] | None


class ElasticPool:
    """Threads made on demand, one per piece of work running at once, ended when idle.

    ``idle`` counts the threads waiting for work that no submitter has claimed yet: a
    submitter claims one (or starts a thread) under the lock, so every item put in the queue
    has exactly one thread coming for it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._work: SimpleQueue[_Work] = SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._numbers = itertools.count(1)
        self._epoch = 0  # close() counts up: threads from before it do not go idle again

    def run(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a pool thread, at once (never queued behind other work)."""
        with self._lock:
            self._work.put((fn, args))
            if self._idle:
                self._idle -= 1
                return
            name = f"{self.name}-{next(self._numbers)}"
            thread = threading.Thread(target=self._serve, name=name, daemon=True)
            self._threads.add(thread)
        thread.start()

    def threads(self) -> int:
        """How many threads the pool has now (busy or idle)."""
        return len(self._threads)

    def _serve(self) -> None:
        me = threading.current_thread()
        work = self._work
        epoch = self._epoch
        while True:
            try:
                item = work.get(timeout=IDLE_S)
            except Empty:
                with self._lock:
                    if not self._idle:  # claimed just now: the item is on its way
                        continue
                    self._idle -= 1
                    self._threads.discard(me)
                return
            if item is None:  # close(): this thread was idle and is told to end
                with self._lock:
                    self._threads.discard(me)
                return
            fn, args = item
            with suppress(BaseException):  # the work reports its own outcome; the thread goes on
                fn(*args)
            del item, fn, args
            with self._lock:
                if epoch != self._epoch:  # closed while busy: end rather than wait for work
                    self._threads.discard(me)
                    return
                self._idle += 1

    def close(self) -> None:
        """Tell the idle threads to end now (without waiting for them); busy ones end when
        their work returns. The pool stays usable: later work starts new threads."""
        with self._lock:
            idle, self._idle = self._idle, 0
            self._epoch += 1  # busy threads end too, once their work returns
            for _ in range(idle):
                self._work.put(None)


#: The process's pool (its threads are named ``actorio-worker-N``).
POOL = ElasticPool("actorio-worker")

_slot = threading.local()  # .pool: the TaskPool whose slot this thread holds, if any


def task_limit() -> int:
    """How many ``def`` tasks run at once by default: the machine's CPUs plus 4, at least 8
    (a task that waits in ``get`` does not count)."""
    return max(8, (os.cpu_count() or 1) + 4)


class TaskPool(concurrent.futures.Executor):
    """Runs submitted functions on :data:`POOL`, at most ``limit`` at once, in order.

    ``submit`` returns a ``concurrent.futures.Future``: cancelling it before it starts drops
    the work, as with a ``ThreadPoolExecutor``.
    """

    def __init__(self, limit: int | None = None, pool: ElasticPool = POOL) -> None:
        self.limit = limit or task_limit()
        self.pool = pool
        self._lock = threading.Lock()
        self._running = 0
        self._waiting: deque[tuple[concurrent.futures.Future[Any], Callable[..., Any], Any]]
        self._waiting = deque()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        cf: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new tasks after shutdown")
            if self._running >= self.limit:
                self._waiting.append((cf, fn, (args, kwargs)))
                return cf
            self._running += 1
        self.pool.run(self._run, cf, fn, args, kwargs)
        return cf

    def _run(
        self,
        cf: concurrent.futures.Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        while True:
            if cf.set_running_or_notify_cancel():
                _slot.pool = self
                try:
                    cf.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    cf.set_exception(exc)
                finally:
                    _slot.pool = None
            with self._lock:
                if not self._waiting or self._running > self.limit:
                    self._running -= 1  # (over the limit: a task came back from a get)
                    return
                cf, fn, (args, kwargs) = self._waiting.popleft()

    def lend(self) -> None:
        """The calling task waits in ``get``: another may start in its slot."""
        _slot.pool = None
        with self._lock:
            if not self._waiting:
                self._running -= 1
                return
            cf, fn, (args, kwargs) = self._waiting.popleft()
        self.pool.run(self._run, cf, fn, args, kwargs)

    def take_back(self) -> None:
        """The task's wait is over: it runs on in a slot again."""
        with self._lock:
            self._running += 1  # may exceed the limit for a while, as on Ray
        _slot.pool = self

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            waiting = list(self._waiting) if cancel_futures else []
            if cancel_futures:
                self._waiting.clear()
        for cf, _, _ in waiting:
            cf.cancel()


def lend_slot() -> TaskPool | None:
    """Called before a blocking wait (``actorio.get``): a ``def`` task hands its slot on
    meanwhile. Returns the pool to call ``take_back()`` on after the wait, if any."""
    pool: TaskPool | None = getattr(_slot, "pool", None)
    if pool is not None:
        pool.lend()
    return pool
