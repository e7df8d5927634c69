"""ActorPool: spread calls over a fixed set of actors, with Ray's ``ray.util.ActorPool`` API.

Ray's pool only blocks (ray#38061), so it cannot be used on an event loop. This one keeps
Ray's blocking methods for sync code (refused on a loop's thread, as ``actorio.get`` is) and
adds an async twin of every method that waits, which suspends instead of blocking:

- ``for x in pool.map(fn, values)``: ``async for x in pool.map_async(fn, values)``
- ``pool.map_unordered(fn, values)``: ``pool.map_unordered_async(fn, values)``
- ``pool.get_next(timeout)``: ``await pool.get_next_async(timeout)``
- ``pool.get_next_unordered(timeout)``: ``await pool.get_next_unordered_async(timeout)``

An actor is busy from the moment its call is sent until that call finishes (not until its
result is collected, as in Ray), so a slow head-of-line result never idles the others.
A pool is not thread-safe: use it from one thread or one loop at a time, as Ray's.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, final

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorPoolError,
    GetTimeoutError,
    InvalidArgumentsError,
)

from ._blocking import refuse_on_loop

if TYPE_CHECKING:
    from actorio import ActorHandle, ObjectRef

__all__ = ["ActorPool"]

V = TypeVar("V")

#: ``fn(actor, value)``: sends one call to ``actor`` and returns its ``ObjectRef``
PoolFn = Callable[["ActorHandle[Any]", V], Any]


class _Task:
    """One submitted value: queued (no ref yet), running (ref pending), or done."""

    __slots__ = ("actor", "error", "fn", "index", "ref", "value")

    def __init__(self, index: int, fn: PoolFn[Any], value: Any) -> None:
        self.index = index
        self.fn = fn
        self.value = value
        self.actor: ActorHandle[Any] | None = None
        self.ref: ObjectRef[Any] | None = None
        self.error: BaseException | None = None  # fn itself failed: no call was made

    def done(self) -> bool:
        return self.error is not None or (self.ref is not None and self.ref.done())

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        assert self.ref is not None
        # The ref is done: its concurrent future is too, at once (the same outcome as
        # actorio.get, from any thread or loop, with cancellation as TaskCancelledError).
        return self.ref.future().result()


def _actor_survived(ref: ObjectRef[Any]) -> bool:
    """False when the call failed because its actor is dead: that actor leaves the pool."""
    return ref.cancelled() or not isinstance(ref.exception(), ActorDiedError)


@final
class ActorPool:
    """A fixed set of actors that share out calls: each gets one call at a time.

    Example:

        pool = ActorPool([Worker.remote(), Worker.remote()])
        print(list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])))  # [2, 4, 6, 8]

        async for x in pool.map_unordered_async(lambda a, v: a.double.remote(v), [1, 2]):
            ...  # in async code: the loop keeps running while results come in

    ``fn(actor, value)`` must return the ``ObjectRef`` of one call. A call's error is raised
    to whoever collects that result; the actor stays in the pool (unless the error is
    ``ActorDiedError``: a dead actor is dropped, as in Ray).
    """

    def __init__(self, actors: Iterable[ActorHandle[Any]]) -> None:
        self._idle: list[ActorHandle[Any]] = []
        self._queued: deque[_Task] = deque()  # submitted, waiting for an idle actor
        self._running: list[_Task] = []  # holding an actor until their call finishes
        self._pending: dict[int, _Task] = {}  # results not yet returned, by submission index
        self._done: list[int] = []  # heap: indices in _pending whose result is ready
        self._next_index = 0  # index of the next submission
        self._cursor = 0  # index get_next() returns next (Ray's rule for mixing, below)
        for actor in actors:
            self._idle.append(self._checked(actor))

    # -- submitting ------------------------------------------------------------------------

    def submit(self, fn: PoolFn[V], value: V) -> None:
        """Send ``fn(actor, value)`` to an idle actor, or queue it until one is free.

        Never blocks. Collect the result with ``get_next()``/``get_next_unordered()`` (or
        their ``_async`` forms). An error raised by ``fn`` itself is raised from there too.
        """
        task = _Task(self._next_index, fn, value)
        self._next_index += 1
        self._pending[task.index] = task
        self._queued.append(task)
        self._reap()

    def map(self, fn: PoolFn[V], values: Iterable[V]) -> Iterator[Any]:
        """Submit ``fn`` over every value; iterate the results in the order of ``values``.

        Like Ray, results of earlier ``submit()`` calls not yet collected are dropped first.
        Blocks while iterating: in async code use ``async for x in pool.map_async(...)``.
        """
        refuse_on_loop("ActorPool.map()", "'async for x in pool.map_async(fn, values)'")
        self._submit_all(fn, values)
        return self._results(self.get_next)

    def map_unordered(self, fn: PoolFn[V], values: Iterable[V]) -> Iterator[Any]:
        """Like ``map()``, but yield each result as soon as it is ready."""
        refuse_on_loop(
            "ActorPool.map_unordered()", "'async for x in pool.map_unordered_async(fn, values)'"
        )
        self._submit_all(fn, values)
        return self._results(self.get_next_unordered)

    def map_async(self, fn: PoolFn[V], values: Iterable[V]) -> AsyncIterator[Any]:
        """``map()`` for async code: ``async for x in pool.map_async(fn, values)``.

        The calls are submitted at once (this method is not awaited); waiting for results
        suspends the iterating task and never blocks its loop.
        """
        self._submit_all(fn, values)
        return _AsyncResults(self, self.get_next_async)

    def map_unordered_async(self, fn: PoolFn[V], values: Iterable[V]) -> AsyncIterator[Any]:
        """``map_unordered()`` for async code: results as they are ready, without blocking."""
        self._submit_all(fn, values)
        return _AsyncResults(self, self.get_next_unordered_async)

    def _submit_all(self, fn: PoolFn[V], values: Iterable[V]) -> None:
        for task in list(self._pending.values()):
            self._forget(task)
        self._cursor = self._next_index
        for value in values:
            self.submit(fn, value)

    def _results(self, get: Callable[[], Any]) -> Iterator[Any]:
        while self.has_next():
            yield get()

    # -- collecting ------------------------------------------------------------------------

    def has_next(self) -> bool:
        """True while some submitted result has not been returned yet."""
        return bool(self._pending)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order, blocking up to ``timeout`` seconds.

        Raises ``GetTimeoutError`` (a ``TimeoutError``) when time runs out; the call goes on
        and a later ``get_next()`` returns it, unless ``ignore_if_timedout=True``, which
        skips it for good. ``StopIteration`` when nothing is left (``has_next()`` False).
        In async code: ``await pool.get_next_async(...)``.
        """
        refuse_on_loop("ActorPool.get_next()", "'await pool.get_next_async()'", timeout)
        task = self._ordered_head(StopIteration)
        if not self._wait_sync(task.done, timeout):
            self._timed_out("ActorPool.get_next()", task, timeout, ignore_if_timedout)
        return self._collect(task)

    def get_next_unordered(
        self, timeout: float | None = None, ignore_if_timedout: bool = False
    ) -> Any:
        """Whichever result is ready first (the earliest submitted among those ready).

        Timeouts as ``get_next()``; with ``ignore_if_timedout=True`` the earliest pending
        submission is the one skipped. In async code: ``await pool.get_next_unordered_async()``.
        """
        refuse_on_loop(
            "ActorPool.get_next_unordered()", "'await pool.get_next_unordered_async()'", timeout
        )
        self._unordered_head(StopIteration)
        if not self._wait_sync(self._any_done, timeout):
            self._timed_out_unordered(timeout, ignore_if_timedout)
        return self._collect(self._pop_done())

    async def get_next_async(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 (Ray's signature)
        ignore_if_timedout: bool = False,
    ) -> Any:
        """``get_next()`` for async code: suspends until the next result in order is ready.

        Raises ``StopAsyncIteration`` when nothing is left (a coroutine cannot raise
        ``StopIteration``) and ``GetTimeoutError`` as ``get_next()`` does.
        """
        task = self._ordered_head(StopAsyncIteration)
        if not await self._wait_async(task.done, timeout):
            self._timed_out("ActorPool.get_next_async()", task, timeout, ignore_if_timedout)
        return self._collect(task)

    async def get_next_unordered_async(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 (Ray's signature)
        ignore_if_timedout: bool = False,
    ) -> Any:
        """``get_next_unordered()`` for async code: suspends until some result is ready."""
        self._unordered_head(StopAsyncIteration)
        if not await self._wait_async(self._any_done, timeout):
            self._timed_out_unordered(timeout, ignore_if_timedout)
        return self._collect(self._pop_done())

    def _ordered_head(self, stop: type[Exception]) -> _Task:
        if not self._pending:
            raise stop("No more results to get: every submitted result was returned")
        task = self._pending.get(self._cursor)
        if task is None:
            # Ray's rule: get_next() continues after the latest result get_next_unordered()
            # returned; what is left is all before it, so only get_next_unordered() gets it.
            raise ActorPoolError(
                f"get_next() cannot be used now: get_next_unordered() already returned a "
                f"result submitted after the {len(self._pending)} still pending. Collect "
                f"them with get_next_unordered(); get_next() works again once has_next() is "
                f"False (or after map())"
            )
        return task

    def _unordered_head(self, stop: type[Exception]) -> None:
        if not self._pending:
            raise stop("No more results to get: every submitted result was returned")

    def _any_done(self) -> bool:
        while self._done and self._done[0] not in self._pending:
            heapq.heappop(self._done)  # skipped by a timeout or dropped by map()
        return bool(self._done)

    def _pop_done(self) -> _Task:
        self._any_done()
        return self._pending[heapq.heappop(self._done)]

    def _collect(self, task: _Task) -> Any:
        del self._pending[task.index]
        self._advance(task.index)
        self._reap()  # its actor is idle before the caller sees the result
        return task.result()

    def _advance(self, index: int) -> None:
        self._cursor = max(self._cursor, index + 1)
        if not self._pending:
            self._cursor = self._next_index

    def _timed_out(self, what: str, task: _Task, timeout: float | None, ignore: bool) -> NoReturn:
        if ignore:
            self._forget(task)
            self._advance(task.index)
            raise GetTimeoutError(
                f"{what} timed out after {timeout} s waiting for result #{task.index} and "
                f"skipped it (ignore_if_timedout=True): it will never be returned, and its "
                f"actor rejoins the pool when the call finishes"
            )
        raise GetTimeoutError(
            f"{what} timed out after {timeout} s waiting for result #{task.index}; the call "
            f"goes on: call again to keep waiting, or pass ignore_if_timedout=True to skip it"
        )

    def _timed_out_unordered(self, timeout: float | None, ignore: bool) -> NoReturn:
        count = len(self._pending)
        if ignore:
            oldest = self._pending[min(self._pending)]
            self._forget(oldest)
            self._advance(oldest.index)
            raise GetTimeoutError(
                f"get_next_unordered() timed out after {timeout} s with {count} result(s) "
                f"pending and skipped the oldest, #{oldest.index} (ignore_if_timedout=True)"
            )
        raise GetTimeoutError(
            f"get_next_unordered() timed out after {timeout} s with {count} result(s) "
            f"pending; the calls go on: call again to keep waiting"
        )

    def _forget(self, task: _Task) -> None:
        """Drop a result nobody will collect. A queued call is never sent; a running one
        keeps its actor until it finishes."""
        del self._pending[task.index]
        if task.ref is not None:
            task.ref.future()  # reads its outcome when it comes: no "never retrieved" noise
        elif task.error is None:
            self._queued.remove(task)

    # -- waiting ---------------------------------------------------------------------------

    def _in_flight(self) -> list[ObjectRef[Any]]:
        refs = [task.ref for task in self._running if task.ref is not None]
        if not refs:
            raise ActorPoolError(
                f"{len(self._queued)} submitted call(s) wait for an actor, but the pool has "
                f"none (each was taken by pop_idle() or died): push() an actor first"
            )
        return refs

    def _wait_sync(self, ready: Callable[[], bool], timeout: float | None) -> bool:
        """Block until ``ready()`` (re-checked whenever a running call finishes, after its
        actor has picked up queued work) or the timeout; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._reap()
            if ready():
                return True
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            finished, _ = actorio.wait(self._in_flight(), num_returns=1, timeout=left)
            if not finished:
                return False

    async def _wait_async(self, ready: Callable[[], bool], limit_s: float | None) -> bool:
        """``_wait_sync()`` that suspends instead of blocking."""
        loop = asyncio.get_running_loop()
        deadline = None if limit_s is None else loop.time() + limit_s
        while True:
            self._reap()
            if ready():
                return True
            refs = self._in_flight()
            # Refs made on another loop or thread are followed through their thread-safe
            # concurrent futures; those made here are awaited as they are.
            waiters = [r if r.get_loop() is loop else asyncio.wrap_future(r.future()) for r in refs]
            left = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                finished, _ = await asyncio.wait(
                    waiters, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter, ref in zip(waiters, refs, strict=True):
                    if waiter is not ref:
                        waiter.cancel()  # only the wrapper: the call goes on
            if not finished:
                return False

    # -- actors ----------------------------------------------------------------------------

    def _reap(self) -> None:
        """Give back the actors whose calls finished, then send queued work to idle actors."""
        finished = [t for t in self._running if t.ref is not None and t.ref.done()]
        if finished:
            self._running = [t for t in self._running if t not in finished]
            for task in finished:
                assert task.ref is not None
                assert task.actor is not None
                if _actor_survived(task.ref):
                    self._idle.append(task.actor)
                if task.index in self._pending:
                    heapq.heappush(self._done, task.index)
        while self._queued and self._idle:
            task = self._queued.popleft()
            actor = self._idle.pop()
            try:
                ref = task.fn(actor, task.value)
                if not isinstance(ref, actorio.ObjectRef):
                    raise InvalidArgumentsError(
                        f"the pool's fn(actor, value) must return the ObjectRef of one call "
                        f"(e.g. lambda a, v: a.method.remote(v)), got {type(ref).__name__}"
                    )
            except Exception as exc:  # raised to whoever collects this result
                task.error = exc
                self._idle.append(actor)
                heapq.heappush(self._done, task.index)
                continue
            task.actor, task.ref = actor, ref
            self._running.append(task)

    def has_free(self) -> bool:
        """True if an actor is idle and no submitted call waits for one."""
        self._reap()
        return bool(self._idle) and not self._queued

    def pop_idle(self) -> ActorHandle[Any] | None:
        """Take an idle actor out of the pool (None if none is free, see ``has_free()``)."""
        if self.has_free():
            return self._idle.pop()
        return None

    def push(self, actor: ActorHandle[Any]) -> None:
        """Add an actor to the pool; it picks up queued work at once."""
        self._checked(actor)
        self._reap()
        if actor in self._idle or any(t.actor == actor for t in self._running):
            raise ActorPoolError(f"{actor!r} already belongs to this ActorPool")
        self._idle.append(actor)
        self._reap()

    @staticmethod
    def _checked(actor: Any) -> ActorHandle[Any]:
        if not isinstance(actor, actorio.ActorHandle):
            raise InvalidArgumentsError(
                f"ActorPool holds actor handles (what Cls.remote() returns), got "
                f"{type(actor).__name__}"
            )
        return actor

    def __repr__(self) -> str:
        return (
            f"ActorPool(idle={len(self._idle)}, busy={len(self._running)}, "
            f"queued={len(self._queued)}, results_pending={len(self._pending)})"
        )


@final
class _AsyncResults:
    """What ``map_async`` returns: an async iterator over the pool's remaining results."""

    __slots__ = ("_get", "_pool")

    def __init__(self, pool: ActorPool, get: Callable[[], Any]) -> None:
        self._pool = pool
        self._get = get

    def __aiter__(self) -> _AsyncResults:
        return self

    async def __anext__(self) -> Any:
        if not self._pool.has_next():
            raise StopAsyncIteration
        return await self._get()
