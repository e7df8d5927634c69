"""The ``remote`` of a plain call to an in-process actor, and the eager path inside it.

*Plain* means: one ref, no per-call options, the method's default lane, an actor whose
mailbox is unbounded. Such a ``remote`` is one function per method of a class, shared by
every actor of it and bound to each as a method (``types.MethodType``, 64 B an actor, where a
closure of its own cost about 1 KB: most of what a used idle actor weighed).

**Eager calls.** On the host loop's thread, a plain call to a regular actor that runs its
methods inline, is alive, and has nothing queued or running, runs the method right away,
inside the actor's context, and returns a ref that is already done: no mailbox, no turn of
the loop. asyncio's eager task factory does the same for tasks. FIFO holds: any call queued
or running sends the new one to the mailbox, as does any call from another thread.

Two bounds keep a caller that never yields from starving the loop (see :class:`Turn`): at
most :data:`BURST` eager calls in a row on a loop before it takes a turn (the next call goes
through the mailbox, so its ``await`` yields), and at most :data:`DEPTH` eager calls nested
inside one another (a method calling another idle actor).
"""

from __future__ import annotations

import asyncio
from asyncio import CancelledError
from collections.abc import Callable
from threading import get_ident
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .._context import call_chain
from .._mailbox import NO_CALLS, PerLoop, fail_new
from .._ref import ObjectRef
from .._seam import ActorExit
from .._spec import MethodSpec
from ._local_build import ALIVE

if TYPE_CHECKING:
    from ._local_actor import LocalActor

__all__ = ["BURST", "DEPTH", "SAMPLE_EVERY", "Turn", "plain_remote"]

#: eager calls in a row on one loop before the next one must wait for a turn of the loop
BURST = 64
#: eager calls nested inside one another before the next one is queued instead
DEPTH = 16
#: latency is sampled: one call in this many is timed (here and in the drain)
SAMPLE_EVERY = 16


class Turn(PerLoop):
    """One host loop's eager-call budget: ``left`` until the loop next takes a turn (a
    callback scheduled by the first eager call since the last refill), and the ``depth``
    of eager calls running inside one another right now."""

    __slots__ = ("depth", "left")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.left = BURST
        self.depth = 0

    def spend(self) -> None:
        """Count one eager call; the first since the loop's last turn arms the refill."""
        if self.left == BURST:
            self.loop.call_soon(self.refill, context=self.ctx)
        self.left -= 1

    def refill(self) -> None:
        self.left = BURST


def plain_remote(method: MethodSpec) -> Callable[..., Any]:
    """The plain ``remote`` of ``method``, made once and kept on the spec; bind it to an
    actor with ``types.MethodType``."""
    made = method.shared.get("remote")
    if made is None:
        made = method.shared.setdefault("remote", _make(method))
    return made  # type: ignore[no-any-return]


def _make(method: MethodSpec) -> Callable[..., Any]:
    check = method.check
    lo, hi = check.bounds
    fn = method.fn
    chain_get = call_chain.get

    def remote(actor: LocalActor, *args: Any, **kwargs: Any) -> Any:
        if kwargs or not lo <= len(args) <= hi:
            check(args, kwargs)
        host = actor.loop
        # get_ident() is ~5x cheaper than asyncio._get_running_loop() (a getpid() system
        # call on 3.11); the host loop's thread with the loop open means "on the host loop".
        # Inside a chain of awaited actor calls, submit() looks for waits on oneself.
        if get_ident() != actor.host_thread or host.is_closed() or chain_get():
            return actor.submit(method, args, kwargs, 1, None)
        if len(args) == 1:  # the usual call, checked without a loop (~0.1 us less)
            if isinstance(args[0], ObjectRef):
                return actor.submit(method, args, kwargs, 1, None)
        else:
            for a in args:
                if isinstance(a, ObjectRef):
                    return actor.submit(method, args, kwargs, 1, None)
        if kwargs:
            for a in kwargs.values():
                if isinstance(a, ObjectRef):
                    return actor.submit(method, args, kwargs, 1, None)
        lane = actor.lanes[0]
        ref: ObjectRef[Any] = ObjectRef(loop=host)
        turn = actor.turn
        if (
            turn is not None
            and not (lane.scheduled or lane.draining)
            and turn.left
            and turn.depth < DEPTH
            and actor.state == ALIVE
            and host.is_running()
        ):
            # Eager: nothing queued or running (an idle lane is not scheduled), so this call
            # is next in line; run it as the drain would, in the actor's context.
            turn.spend()
            turn.depth += 1
            lane.draining = True  # running: a nested call to this actor queues behind it
            stats = actor.stats
            timed = not stats.completed % SAMPLE_EVERY
            started = perf_counter() if timed else 0.0
            try:
                result = actor.ctx.run(fn, actor.instance, *args, **kwargs)
            # A sync method's CancelledError (it read a cancelled future) is its error, not
            # a cancellation of this call: it fails the call, as any exception does.
            except (Exception, CancelledError) as exc:
                call = (method, args, kwargs, ref, None)
                if actor.retry_on_error(lane, call, exc):
                    host.call_soon(actor.drain, lane, context=actor.ctx)
                else:
                    actor.call_failed(method, ref, exc, perf_counter() - started if timed else None)
            except ActorExit as exc:
                actor.exited(ref, exc)
            except SystemExit:  # sys.exit() in a method ends its actor only, as on Ray
                actor.exited(ref, ActorExit("it called sys.exit()"))
            else:
                stats.completed += 1
                if timed:
                    stats.sample(perf_counter() - started)
                ref.set_result(result)  # (nobody else has this ref yet)
            finally:
                lane.draining = False
                turn.depth -= 1
            if actor.idle_waiters:
                actor.lane_idle()
            return ref
        if actor.state > ALIVE:
            fail_new(ref, actor.rejection())
            return ref
        queue = lane.queue
        if queue is NO_CALLS:
            queue = lane.open()
        queue.append((method, args, kwargs, ref, None))
        if not lane.scheduled:
            lane.scheduled = True
            host.call_soon(actor.drain, lane, context=actor.ctx)
        return ref

    return remote
