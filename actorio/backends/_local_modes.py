"""Where an in-process actor's calls run when not inline in the drain.

A *placement* says where the actor's sync methods (and its constructor) run: :data:`INLINE`
on the host loop, right in the drain callback (no task, no thread hop: regular actors made in
async code, async actors), or :data:`THREADS`, on threads of the process's pool, as many at
once as the lane allows (regular actors made from plain sync code, one call at a time;
threaded actors, up to ``max_concurrency``). The drain asks ``placement.inline`` once per
drain; everything else about threads lives here.

``async def`` methods always run as a task on the host loop (:func:`start_task`), whatever
the placement. Either way the outcome comes back to ``LocalActor.finish_call`` on the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import weakref
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .._context import call_chain
from .._mailbox import Call, Lane, fail
from .._ref import ObjectRef, dropped, settle_early
from .._seam import ActorExit
from .._threads import POOL
from ..exceptions import TaskCancelledError

if TYPE_CHECKING:
    from ._local_actor import LocalActor

__all__ = ["INLINE", "THREADS", "Inline", "Placement", "Threads", "start_task"]


class Inline:
    """Sync methods run inline on the host loop, in the drain (one at a time, in order)."""

    __slots__ = ()
    inline = True

    def run(self, fn: Any, *args: Any) -> None:
        raise AssertionError("an inline actor runs nothing off its loop")

    def start(self, actor: LocalActor, lane: Lane, call: Call) -> None:
        raise AssertionError("an inline actor starts its sync calls in the drain")


#: Shared by every inline actor: it holds nothing of its own.
INLINE = Inline()


class Threads:
    """Sync methods run on threads of the process's pool (:data:`actorio._threads.POOL`), as
    many at once as the lane allows: one for a regular actor placed on a thread, up to
    ``max_concurrency`` for a threaded one. So does the constructor, which may block too.

    Stateless, so one instance serves every such actor: an idle actor holds no thread, a busy
    one holds one per running call, and a restarted instance simply gets other threads while
    a sync call of the old one (which cannot be interrupted) ends on its own.
    """

    __slots__ = ()
    inline = False

    def run(self, fn: Any, *args: Any) -> None:
        POOL.run(fn, *args)

    def start(self, actor: LocalActor, lane: Lane, call: Call) -> None:
        """Hand one sync call to a pool thread (host loop)."""
        self.run_call(actor, lane, call, actor.start_on_thread(lane, call))

    def run_call(self, actor: LocalActor, lane: Lane, call: Call, generation: int) -> None:
        """Run a call counted as running (``start_on_thread``) on a pool thread."""
        chain = call[4].chain if call[4] is not None else ()
        POOL.run(_run_in_thread, actor, lane, call, generation, chain)


#: Shared by every actor whose sync methods run on threads.
THREADS = Threads()


Placement = Inline | Threads


def _run_in_thread(
    actor: LocalActor, lane: Lane, call: Call, generation: int, chain: tuple[Any, ...]
) -> None:
    method, args, kwargs, ref, _ = call
    result: Any = None
    error: BaseException | None = None
    started = perf_counter()
    if not (isinstance(ref, ObjectRef) and dropped(ref)):  # else: cancelled before it began
        ctx = actor.ctx.copy()
        ctx.run(call_chain.set, (*chain, (actor, lane, ref)))
        try:
            result = ctx.run(method.fn, actor.instance, *args, **kwargs)
        except (Exception, ActorExit, asyncio.CancelledError) as exc:  # (see _local_calls)
            error = exc
        except SystemExit:  # sys.exit() in a method ends its actor only, as on Ray
            error = ActorExit("it called sys.exit()")
    elapsed = perf_counter() - started
    actor.to_loop(actor.finish_call, lane, call, generation, result, error, elapsed)
    if error is None:
        # A reader blocked in get() learns the value now, not a turn of the loop later; the
        # loop settles the ref and frees the slot (asked first, so a reader that then turns
        # to the loop finds it done). Under the lock, which kill and restart take: once the
        # actor was killed, or restarted to re-run this call, its late value is dropped.
        with actor.lock:
            if actor.still_serving(generation):
                settle_early(ref, result)


def start_task(actor: LocalActor, lane: Lane, call: Call) -> None:
    """Start an ``async def`` method's call as a task on the host loop."""
    ref = call[3]
    if ref.done() if type(ref) is ObjectRef else isinstance(ref, ObjectRef) and dropped(ref):
        return  # cancelled before it started
    lane.running += 1
    coro = _run_async(actor, lane, call, actor.incarnation)
    task = actor.loop.create_task(coro, context=actor.ctx.copy())
    actor.track(call, (lane, call, task))
    if isinstance(ref, ObjectRef):
        ref._actorio_work = TaskWork(actor, id(call), task)  # cancelling the ref reaches it


async def _run_async(actor: LocalActor, lane: Lane, call: Call, generation: int) -> None:
    method, args, kwargs, ref, extra = call
    # The chain of awaited calls this one belongs to (for DeadlockError), in the task's
    # own copy of the actor's context.
    call_chain.set((*(extra.chain if extra is not None else ()), (actor, lane, ref)))
    started = perf_counter()
    result: Any = None
    error: BaseException | None = None
    try:
        result = await method.fn(actor.instance, *args, **kwargs)
    except (Exception, ActorExit) as exc:
        error = exc
    except SystemExit:  # would stop the whole loop: it ends this actor only, as on Ray
        error = ActorExit("it called sys.exit()")
    except asyncio.CancelledError:
        if actor.incarnation == generation:
            actor.stats.error(perf_counter() - started, method.name, None)
            cancelled = TaskCancelledError(f"{actor.qualname(method)} was cancelled")
            fail(ref, actor.death or cancelled, actor.loop)
        actor.call_finished(lane, call, generation)
        raise
    actor.finish_call(lane, call, generation, result, error, perf_counter() - started)


class TaskWork:
    """What cancelling the ref of an async call reaches (``actorio.cancel``, its timeout, a
    cancelled awaiter), from any thread: the call's task.

    A task cancelled before its first step never runs its coroutine, not even the part that
    frees the call's slot in its lane: then this frees it, or the lane would stay full for
    good. (A cancel can land there: a worker process reads the driver's cancel in the same
    loop iteration as the calls it cancels.) The actor is held weakly and the call is found
    among those in flight, so a ref kept after its call keeps neither alive.
    """

    __slots__ = ("actor", "generation", "key", "task")

    def __init__(self, actor: LocalActor, key: int, task: asyncio.Task[None]) -> None:
        self.actor = weakref.ref(actor)
        self.key = key  # in actor.inflight
        self.task = task
        self.generation = actor.incarnation

    def cancel(self) -> bool:
        actor = self.actor()
        if actor is not None:
            actor.to_loop(self._cancel)
        return True

    def describe(self) -> str | None:
        """The running call's name (``Class.method``), for the error of its cancel."""
        actor = self.actor()
        entry = actor.inflight.get(self.key) if actor is not None else None
        return actor.qualname(entry[1][0]) if actor is not None and entry is not None else None

    def _cancel(self) -> None:
        task = self.task
        if task.done():
            return
        coro = task.get_coro()
        unstarted = inspect.iscoroutine(coro) and (
            inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
        )
        task.cancel()
        actor = self.actor()
        if not unstarted or actor is None or actor.incarnation != self.generation:
            return
        entry = actor.inflight.get(self.key)
        if entry is not None and entry[2] is task:
            lane, call, _ = entry
            actor.stats.error(0.0, call[0].name, None)
            actor.call_finished(lane, call, self.generation)
