"""How an in-process actor gets an instance: the constructor's ref arguments, where it runs
(on the loop, on a thread, awaited when ``async def``), the start hook, then serving calls.

The states are defined here, for this and :mod:`._local_life`; a failed construction is handed
to the lifecycle (``_failed``), which decides on a restart.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from threading import get_ident
from typing import Any

from .._mailbox import Lane
from .._ref_args import has_refs, pending_refs, resolve_refs, when_all_done
from .._seam import START_HOOK
from ..exceptions import ActorDiedError
from ._base import CoreBase
from ._local_hooks import construct_async, run_start_hook
from ._local_modes import Placement

__all__ = ["ALIVE", "DEAD", "PENDING", "PENDING_STOPPING", "STOPPING", "Building", "lock_for"]

_running_loop = asyncio._get_running_loop

# Ordered so that "state > ALIVE" means "refuse new calls". PENDING_STOPPING: shutdown began
# while the actor was being built; it serves what it accepted once built, then stops.
PENDING, ALIVE, STOPPING, DEAD, PENDING_STOPPING = 0, 1, 2, 3, 4

#: The locks actors use, shared: one per actor would be 88 B of each idle actor's footprint.
#: An actor's lock guards only short sections that never take another actor's lock, so
#: sharing cannot deadlock (and they are reentrant, should two that share one ever nest).
_LOCKS = tuple(threading.RLock() for _ in range(64))


#: the arguments of a constructor called with none (never mutated: shared by every actor)
NO_ARGS: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})

#: ``inflight`` of an actor with no call running as a task or on a thread (never written:
#: Lifecycle.track swaps in a dict of its own first)
NO_CALLS_RUNNING: dict[int, Any] = {}

_THREAD_IDS: dict[int, int] = {}


def thread_id() -> int:
    """``threading.get_ident()``, as one int object per thread: every actor of a loop shares
    it (an int that large is a 32 B object of its own)."""
    ident = get_ident()
    return _THREAD_IDS.setdefault(ident, ident)


def lock_for(actor: object) -> Any:
    """The shared lock that guards ``actor``."""
    return _LOCKS[(id(actor) >> 4) % len(_LOCKS)]


class Building(CoreBase, ABC):
    """Construction, the base of :class:`._local_life.Lifecycle` (which declares the other
    slots it reads)."""

    __slots__ = ("host_thread", "init_args", "instance", "state")

    ctx: contextvars.Context
    host_thread: int | None
    incarnation: int
    init_args: tuple[tuple[Any, ...], dict[str, Any]]
    instance: Any
    lanes: tuple[Lane, ...]
    placement: Placement
    state: int

    @abstractmethod
    def drain(self, lane: Lane) -> None:
        """Start the lane's queued calls while it has room (host loop)."""

    @abstractmethod
    def to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the host loop, in the actor's context."""

    @abstractmethod
    def run_stop_hook(self, instance: Any, then: Callable[[], None]) -> None:
        """Run ``__actorio_stop__`` on a retiring instance, then ``then``."""

    @abstractmethod
    def _failed(self, err: ActorDiedError, restart: bool, forced: bool = False) -> None:
        """The actor failed: restart it if allowed, else finalize it."""

    # -- construction ---------------------------------------------------------------------------

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Schedule the constructor (any thread); calls submitted meanwhile queue behind it."""
        # (one shared pair for the usual Cls.remote(): 120 B less per idle actor)
        self.init_args = (args, kwargs) if args or kwargs else NO_ARGS
        if _running_loop() is self.loop:  # never inside .remote(): it returns at once
            self.loop.call_soon(self._construct, context=self.ctx)
        else:
            self.loop.call_soon_threadsafe(self._construct, context=self.ctx)

    def _construct(self, generation: int = 0) -> None:
        self.host_thread = thread_id()
        if self.state == DEAD or generation != self.incarnation:
            return  # killed before it was built, or a later restart superseded this one
        args, kwargs = self.init_args
        if has_refs(args, kwargs):
            waiting = pending_refs(args, kwargs)
            if waiting:
                when_all_done(waiting, self.loop, lambda: self.to_loop(self._construct, generation))
                return
            try:
                what = f"{self.spec.name}.__init__"
                self.init_args = args, kwargs = resolve_refs(args, kwargs, what)
            except Exception as exc:
                self._construction_failed(exc)
                return
        if self.spec.async_init:  # `async def __init__`: awaited on the loop (_local_hooks)
            return construct_async(self, args, kwargs, generation)
        if not self.placement.inline:  # actors on threads are built on one, too (it may block)
            self.placement.run(self.ctx.copy().run, self._build_in_thread, generation)
            return
        try:
            instance = self.spec.cls(*args, **kwargs)  # already inside self.ctx
        except Exception as exc:
            self._construction_failed(exc)
        else:
            self._built(instance)

    def _build_in_thread(self, generation: int) -> None:
        args, kwargs = self.init_args
        try:
            instance = self.spec.cls(*args, **kwargs)
        except Exception as exc:
            self.to_loop(self._construction_failed, exc, generation)
        else:
            self.to_loop(self._built, instance, generation)

    def _built(self, instance: Any, generation: int | None = None) -> None:
        """The constructor returned: run ``__actorio_start__`` (if any), then serve calls."""
        if generation is not None and generation != self.incarnation:
            return
        generation = self.incarnation

        def started() -> None:
            if generation == self.incarnation:
                self._serve(instance)

        def failed(exc: BaseException) -> None:
            if generation == self.incarnation:
                self._construction_failed(exc, hook_name=START_HOOK)

        run_start_hook(instance, self.loop, started, failed)

    def _serve(self, instance: Any) -> None:
        if self.state == DEAD:  # killed while it was being built: give it a chance to clean up
            self.run_stop_hook(instance, lambda: None)
            return
        self.instance = instance
        with self.lock:
            if self.state == PENDING:
                self.state = ALIVE
            elif self.state == PENDING_STOPPING:
                self.state = STOPPING
        for lane in list(self.lanes):
            self.drain(lane)

    def _construction_failed(
        self, exc: BaseException, generation: int | None = None, hook_name: str = "__init__"
    ) -> None:
        if generation is not None and generation != self.incarnation:
            return
        self._failed(self.construction_error(exc, hook_name), restart=True)
