"""A FIFO queue that any task, actor or thread can share: Ray's ``ray.util.queue.Queue`` API.

The items live in one async actor around an ``asyncio.Queue``; the ``Queue`` object is
only a handle to it, so it pickles and works wherever a handle does (worker processes, Ray).
A blocked ``get`` is an async method waiting inside the actor, so it never stops ``put``.

Sync code calls ``q.put(x)`` / ``q.get()`` (refused on a loop's thread, as ``actorio.get``
is); async code awaits the ``_async`` forms: ``await q.put_async(x)``, ``await q.get_async()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, final

import actorio
from actorio.exceptions import (
    ActorDiedError,
    Empty,
    Full,
    InvalidArgumentsError,
)

from ._blocking import refuse_on_loop

__all__ = ["Empty", "Full", "Queue"]


class _QueueActor:
    """Holds the items. Expected outcomes (no item, no room) are returned as ``(False, ...)``
    rather than raised, so they cost no remote traceback; the client raises Empty/Full."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)

    async def qsize(self) -> int:
        return self.queue.qsize()

    async def put(self, item: Any, wait_s: float | None = None) -> bool:
        if not self.queue.full():
            self.queue.put_nowait(item)
            return True
        if wait_s == 0:
            return False
        try:
            await asyncio.wait_for(self.queue.put(item), wait_s)
        except TimeoutError:
            return False
        return True

    async def get(self, wait_s: float | None = None) -> tuple[bool, Any]:
        if not self.queue.empty():
            return True, self.queue.get_nowait()
        if wait_s == 0:
            return False, None
        try:
            return True, await asyncio.wait_for(self.queue.get(), wait_s)
        except TimeoutError:
            return False, None

    async def put_nowait_batch(self, items: list[Any]) -> int:
        """All or nothing: -1 when they all went in, else the room there was."""
        room = self.maxsize - self.queue.qsize() if self.maxsize > 0 else len(items)
        if len(items) > room:
            return room
        for item in items:
            self.queue.put_nowait(item)
        return -1

    async def get_nowait_batch(self, num_items: int) -> tuple[bool, Any]:
        """All or nothing: ``(True, items)``, or ``(False, how many there were)``."""
        if num_items > self.queue.qsize():
            return False, self.queue.qsize()
        return True, [self.queue.get_nowait() for _ in range(num_items)]


# Not a decorator, so that mypy sees an ActorClass and the plain class stays importable.
_QUEUE_ACTOR = actorio.remote(_QueueActor)


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and timeout < 0:
        raise InvalidArgumentsError(f"'timeout' must be None or >= 0 seconds, got {timeout}")


@final
class Queue:
    """A first-in, first-out queue shared through an actor (Ray's ``ray.util.queue.Queue``).

    ``maxsize`` <= 0 means unbounded. ``actor_options`` go to the queue actor's
    ``.options(...)``: ``{"backend": "process"}`` puts the items in a worker process,
    ``{"backend": "ray"}`` on a Ray cluster, ``{"name": "jobs"}`` names it.

    Example:

        q = Queue(maxsize=10)
        q.put(1)                    # sync code: blocks while the queue is full
        assert q.get() == 1
        await q.put_async(2)        # async code: suspends instead
        assert await q.get_async(timeout=1) == 2

    Pass ``q`` to remote functions and actors: every copy reaches the same items.
    ``get_nowait()`` on an empty queue raises ``Empty``; a full one raises ``Full``.
    """

    def __init__(self, maxsize: int = 0, actor_options: dict[str, Any] | None = None) -> None:
        self.maxsize = maxsize
        #: the actor that holds the items (Ray's attribute name)
        self.actor = _QUEUE_ACTOR.options(**(actor_options or {})).remote(maxsize)

    def __len__(self) -> int:
        return self.size()

    # -- sync (refused on an event loop's thread) --------------------------------------------

    def size(self) -> int:
        """The number of items in the queue now."""
        return int(self._get(self.actor.qsize.remote(), "size()", "await q.qsize_async()"))

    def qsize(self) -> int:
        """The number of items in the queue now (``size()``, the stdlib name)."""
        return int(self._get(self.actor.qsize.remote(), "qsize()", "await q.qsize_async()"))

    def empty(self) -> bool:
        """True if the queue holds no item now."""
        return int(self._get(self.actor.qsize.remote(), "empty()", "await q.empty_async()")) == 0

    def full(self) -> bool:
        """True if the queue is bounded and holds ``maxsize`` items now."""
        if self.maxsize <= 0:
            return False
        n = self._get(self.actor.qsize.remote(), "full()", "await q.full_async()")
        return bool(n >= self.maxsize)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Add ``item``; while the queue is full, wait up to ``timeout`` seconds (forever if
        None) for room, then raise ``Full``. ``block=False`` raises at once."""
        _check_timeout(timeout)
        wait = timeout if block else 0
        ref = self.actor.put.remote(item, wait)
        if not self._get(ref, "put()", "await q.put_async(item)"):
            raise self._full(wait)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the oldest item; while the queue is empty, wait up to
        ``timeout`` seconds (forever if None), then raise ``Empty``."""
        _check_timeout(timeout)
        wait = timeout if block else 0
        ok, item = self._get(self.actor.get.remote(wait), "get()", "await q.get_async()")
        if not ok:
            raise self._empty(wait)
        return item

    def put_nowait(self, item: Any) -> None:
        """``put(item, block=False)``: raises ``Full`` if there is no room now."""
        self.put(item, block=False)

    def get_nowait(self) -> Any:
        """``get(block=False)``: raises ``Empty`` if there is no item now."""
        return self.get(block=False)

    def put_nowait_batch(self, items: Iterable[Any]) -> None:
        """Add every item, in order, or none: raises ``Full`` if they do not all fit."""
        batch = list(items)
        ref = self.actor.put_nowait_batch.remote(batch)
        room = self._get(ref, "put_nowait_batch()", "await q.put_nowait_batch_async(items)")
        if room >= 0:
            raise self._batch_full(len(batch), room)

    def get_nowait_batch(self, num_items: int) -> list[Any]:
        """Remove and return the ``num_items`` oldest items, or none: raises ``Empty``
        if fewer are there."""
        _check_count(num_items)
        ref = self.actor.get_nowait_batch.remote(num_items)
        what, instead = "get_nowait_batch()", "await q.get_nowait_batch_async(n)"
        ok, got = self._get(ref, what, instead)
        if not ok:
            raise self._batch_empty(num_items, got)
        return list(got)

    def shutdown(self, force: bool = False, grace_period_s: float = 5) -> None:
        """Stop the queue's actor; its items are lost and later calls (from any copy of
        this queue) raise ``ActorDiedError``.

        Graceful by default: calls sent before this one are served first, for up to
        ``grace_period_s`` seconds, then the actor is killed; ``force=True`` kills it now.
        A ``get`` still waiting for an item does not hold the stop up: it fails.
        """
        if force:
            actorio.kill(self.actor)
            return
        refuse_on_loop("Queue.shutdown()", "'await q.shutdown_async()'", grace_period_s)
        ref = self._terminate()
        if ref is not None:
            ready, _ = actorio.wait([ref], timeout=grace_period_s)
            if ready:
                ref.future()  # its ActorDiedError is the expected outcome: read it quietly
        actorio.kill(self.actor)  # a no-op when the graceful stop finished in time

    # -- async ----------------------------------------------------------------------------

    async def qsize_async(self) -> int:
        """``qsize()`` for async code."""
        return int(await self.actor.qsize.remote())

    async def empty_async(self) -> bool:
        """``empty()`` for async code."""
        return bool(await self.qsize_async() == 0)

    async def full_async(self) -> bool:
        """``full()`` for async code."""
        return self.maxsize > 0 and await self.qsize_async() >= self.maxsize

    async def put_async(
        self,
        item: Any,
        block: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 (Ray's signature)
    ) -> None:
        """``put()`` for async code: suspends (never blocks the loop) while it is full."""
        _check_timeout(timeout)
        wait = timeout if block else 0
        if not await self.actor.put.remote(item, wait):
            raise self._full(wait)

    async def get_async(
        self,
        block: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109 (Ray's signature)
    ) -> Any:
        """``get()`` for async code: suspends (never blocks the loop) while it is empty."""
        _check_timeout(timeout)
        wait = timeout if block else 0
        ok, item = await self.actor.get.remote(wait)
        if not ok:
            raise self._empty(wait)
        return item

    async def put_nowait_batch_async(self, items: Iterable[Any]) -> None:
        """``put_nowait_batch()`` for async code."""
        batch = list(items)
        room = await self.actor.put_nowait_batch.remote(batch)
        if room >= 0:
            raise self._batch_full(len(batch), room)

    async def get_nowait_batch_async(self, num_items: int) -> list[Any]:
        """``get_nowait_batch()`` for async code."""
        _check_count(num_items)
        ok, got = await self.actor.get_nowait_batch.remote(num_items)
        if not ok:
            raise self._batch_empty(num_items, got)
        return list(got)

    async def shutdown_async(self, force: bool = False, grace_period_s: float = 5) -> None:
        """``shutdown()`` for async code: waits out the grace period without blocking."""
        if not force:
            ref = self._terminate()
            if ref is not None:
                loop = asyncio.get_running_loop()
                waiter = ref if ref.get_loop() is loop else asyncio.wrap_future(ref.future())
                done, _ = await asyncio.wait([waiter], timeout=grace_period_s)
                if done and not waiter.cancelled():
                    waiter.exception()  # the expected ActorDiedError: read it quietly
                elif waiter is not ref:
                    waiter.cancel()
        actorio.kill(self.actor)

    # -- helpers ---------------------------------------------------------------------------

    def _terminate(self) -> actorio.ObjectRef[Any] | None:
        """Ask the actor to stop after the calls already sent (None: it is dead already)."""
        try:
            return self.actor.__ray_terminate__.remote()
        except ActorDiedError:
            return None

    @staticmethod
    def _get(ref: actorio.ObjectRef[Any], what: str, instead: str) -> Any:
        refuse_on_loop(f"Queue.{what}", f"'{instead}'")
        return actorio.get(ref)

    def _full(self, waited: float | None) -> Full:
        how = "now" if waited == 0 else f"within {waited} s"
        return Full(
            f"the queue is full (maxsize={self.maxsize}) and no room came {how}: get items "
            f"out, wait longer (put(item, timeout=...)), or make the queue larger"
        )

    @staticmethod
    def _empty(waited: float | None) -> Empty:
        how = "now" if waited == 0 else f"within {waited} s"
        return Empty(
            f"the queue is empty and no item came {how}: put items in first, or wait longer "
            f"(get(timeout=...))"
        )

    def _batch_full(self, wanted: int, room: int) -> Full:
        return Full(
            f"put_nowait_batch() of {wanted} item(s) does not fit: the queue "
            f"(maxsize={self.maxsize}) has room for {room}; nothing was put. Put fewer, or "
            f"get items out first"
        )

    @staticmethod
    def _batch_empty(wanted: int, there: int) -> Empty:
        return Empty(
            f"get_nowait_batch({wanted}) needs {wanted} item(s) but the queue holds {there}; "
            f"nothing was taken. Ask for fewer (qsize() tells how many), or wait for more"
        )

    def __repr__(self) -> str:
        return f"Queue(maxsize={self.maxsize}, actor={self.actor!r})"


def _check_count(num_items: int) -> None:
    if not isinstance(num_items, int) or isinstance(num_items, bool) or num_items < 0:
        raise InvalidArgumentsError(f"num_items must be an int >= 0, got {num_items!r}")
