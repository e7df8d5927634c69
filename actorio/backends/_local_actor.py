"""LocalActor, the in-process actor: calls queued from any thread, run by its host loop.

How a call travels (the hot path, kept short on purpose):

1. ``remote`` (a closure made by :meth:`LocalActor.bind`, in the caller's thread) appends a
   :data:`Call` tuple to the lane and, if nobody is draining the lane, schedules ``drain`` on
   the host loop. Calls from other threads, with keywords, ref arguments, per-call options or
   inside a chain of awaited actor calls take :meth:`LocalActor.submit`, the general path.
2. ``drain`` (host loop) pops calls while the lane has room and starts each one by mode:
   *regular* runs the sync method right there, in the drain callback (no task, no thread hop);
   *async* wraps a coroutine method in a task (sync methods still run inline);
   *threaded* hands the method to the actor's thread pool.
3. The result is set on the ref directly when the ref lives on the host loop, otherwise via
   ``call_soon_threadsafe`` on the ref's loop.

Locking: the actor's lock guards ``state`` and each lane's ``scheduled`` flag against
submitters in other threads; the loop thread reads them without it on its fast path (see the
invariant in :class:`actorio._mailbox.Lane`). Everything else is touched on the host loop only.

Lifecycle (restarts, retries, hooks, death) lives in :mod:`._local_life`, its base class;
where calls run when not inline (tasks, threads) in :mod:`._local_modes`.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from asyncio import CancelledError, InvalidStateError
from collections.abc import Callable
from threading import get_ident
from time import perf_counter
from types import MethodType
from typing import Any

from .._context import call_chain, current_actor
from .._mailbox import (
    NO_CALLS,
    Call,
    CallExtra,
    IdleLanes,
    Lane,
    fail,
    fail_new,
    first_ref,
    make_refs,
)
from .._options import ActorOptions, Mode
from .._ref import CycleRef, ObjectRef, dropped
from .._ref_args import has_refs, pending_refs, resolve_refs, when_all_done
from .._seam import ActorExit
from .._spec import ClassSpec, MethodSpec
from .._stream_actor import SIDE_BY_SIDE
from ..exceptions import InvalidOptionsError, PendingCallsLimitExceeded
from ._base import expire
from ._local_build import NO_CALLS_RUNNING, thread_id
from ._local_calls import SAMPLE_EVERY, Turn, plain_remote
from ._local_deadlock import wait_cycle
from ._local_lanes import BUILTIN_LANE, count_pending, lane_index
from ._local_life import ALIVE, PENDING, STOPPING, Lifecycle, lock_for
from ._local_modes import INLINE, THREADS, start_task

__all__ = ["LocalActor"]

_running_loop = asyncio._get_running_loop

_DRAIN_BUDGET = 1024  # calls per drain callback before yielding the loop to others
# How LocalActor._start started a call (compared by identity).
_PARKED, _HANDED_OFF, _INLINE = "parked", "handed off", "inline"


class LocalActor(Lifecycle):
    """One actor hosted on one event loop of this process."""

    __slots__ = ("idle_lanes", "turn")

    def __init__(
        self,
        actor_id: str,
        spec: ClassSpec,
        options: ActorOptions,
        mode: Mode,
        limit: int,
        loop: asyncio.AbstractEventLoop,
        namespace: str,
        on_death: Callable[[Any], None],
    ) -> None:
        self.init_core(actor_id, spec, options, mode, loop, namespace, on_death, lock_for(self))
        self.instance: Any = None
        self.state = PENDING
        # The lanes in a tuple, found by name through a dict shared by actors (lane_index).
        groups = options.concurrency_groups
        self.lane_index = lane_index(tuple(groups))
        self.lanes = (Lane(limit), *(Lane(n) for n in groups.values()), Lane(1 << 30))
        # The actor's own context: methods see themselves as current (weakly, so the context
        # does not keep the actor alive) and new actors/tasks made from worker threads land here.
        # Every callback of this actor on the host loop is scheduled with context=self.ctx, so
        # inline methods run inside it at no per-call cost. It starts empty: an actor does not
        # inherit its creator's context variables (a web request's, say).
        self.ctx = contextvars.Context()
        self.ctx.run(_enter, weakref.ref(self))
        if mode == "threaded":  # (only then: each variable set grows every actor's context)
            self.ctx.run(SIDE_BY_SIDE.set, True)
        # Threaded actors, and regular ones placed on a thread (made from plain sync code, or
        # asked for), run sync methods on pool threads; the rest inline on the host loop.
        on_threads = mode == "threaded" or (mode == "regular" and options.placement == "thread")
        self.placement = THREADS if on_threads else INLINE
        #: calls running as tasks or on threads: id(call) -> (lane, call, task or None)
        self.inflight: dict[int, tuple[Lane, Call, asyncio.Task[None] | None]] = NO_CALLS_RUNNING
        #: the host loop's thread, once known: calls from it skip the thread-safe path
        self.host_thread: int | None = thread_id() if _running_loop() is loop else None
        #: the loop's eager-call budget, for an actor whose plain calls may run eagerly
        eager = mode == "regular" and not on_threads and options.eager is not False
        self.turn = Turn.of(loop) if eager else None
        self.idle_lanes = IdleLanes.of(loop)
        self.init_lifecycle()

    # -- submission (any thread) ---------------------------------------------------------------

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
        options: Any = None,
    ) -> Any:
        """Queue one call from anywhere; the general path behind ``remote``."""
        loop = _running_loop()
        lane = self.lanes[self.lane_index[method.lane or group]]
        chain = call_chain.get()
        cycle = wait_cycle(self, lane, method, chain) if chain else None
        if cycle is not None:
            ref: Any = CycleRef(loop=loop or self.loop)
            ref.cycle = cycle
        else:
            ref = make_refs(loop, self.loop, num_returns)
        return self.enqueue(method, args, kwargs, ref, group, options, chain, loop)

    def enqueue(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ref: Any,
        group: str | None,
        options: Any = None,
        chain: tuple[Any, ...] = (),
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Any:
        """Queue one call whose ref(s) the caller made; ``loop`` is the caller's running loop.

        A worker process calls this directly with refs that answer the driver themselves."""
        host = self.loop
        lane = self.lanes[self.lane_index[method.lane or group]]
        options = options or method.options
        with_refs = has_refs(args, kwargs)
        # extra None is the drain's promise of a plain call (see _mailbox.Call): else carry one
        plain = not (with_refs or chain or options) and loop is host and type(ref) is ObjectRef
        extra = None if plain else CallExtra(with_refs, chain, options)
        call = (method, args, kwargs, ref, extra)
        if self.options.max_pending_calls >= 0 and not method.builtin:
            pending = self.pending_calls()
            if pending >= self.options.max_pending_calls:
                raise PendingCallsLimitExceeded(
                    f"the {self.describe()} already has {pending} pending calls "
                    f"(max_pending_calls={self.options.max_pending_calls}); retry later, or "
                    f"use 'await handle.{method.name}.submit(...)' to wait for room"
                )
        if host.is_closed():  # the actor died with its loop (an ended asyncio.run, say)
            self.loop_closed()
        timeout = options.timeout if options is not None else None
        if loop is host:
            # Same thread as the drain: no lock needed for state or the queue (see module doc).
            if self.state > ALIVE:
                fail_new(ref, self.rejection())
                return ref
            lane.open().append(call)
            if not lane.scheduled:
                lane.scheduled = True
                host.call_soon(self.drain, lane, context=self.ctx)
            if timeout is not None:
                host.call_later(timeout, expire, ref, timeout, context=self.ctx)
            return ref
        # From another thread to an actor on threads: an idle lane starts the call on a pool
        # thread right here, without a turn of the host loop (which then only settles it).
        direct = (
            self.placement is THREADS
            and options is None
            and not (with_refs or method.is_async or method.builtin)
        )
        with self.lock:
            if self.state > ALIVE:
                fail_new(ref, self.rejection())
                return ref
            if (
                direct
                and self.state == ALIVE
                and not (lane.scheduled or lane.running or lane.queue)
                and not host.is_closed()
            ):
                # Nothing runs or waits in the lane, so nothing on the loop touches its
                # counters now; 'scheduled' makes the call's end drain the lane.
                lane.scheduled = True
                generation = self.start_on_thread(lane, call)
            else:
                generation = -1
                lane.open().append(call)
                wake = not lane.scheduled
                lane.scheduled = True
        if generation >= 0:
            THREADS.run_call(self, lane, call, generation)
            return ref
        try:
            if wake:
                host.call_soon_threadsafe(self.drain, lane, context=self.ctx)
            if timeout is not None:
                host.call_soon_threadsafe(
                    host.call_later, timeout, expire, ref, timeout, context=self.ctx
                )
        except RuntimeError:  # the host loop is closed: the actor died with it
            self.loop_closed()
        return ref

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Callable[..., Any]:
        """``handle.method.remote``: the hot path of every call.

        A plain call (see :mod:`._local_calls`) takes the ``remote`` its method shares with
        every actor of the class, which may run it eagerly; anything else (several returns,
        per-call options, a group, a bounded mailbox) takes a closure of its own that queues
        same-loop calls with plain arguments right there and sends the rest to :meth:`submit`.
        """
        index = self.lane_index.get(method.lane or group)
        if index is None:
            known = sorted(g for g in self.lane_index if g not in (None, BUILTIN_LANE))
            raise InvalidOptionsError(
                f"{self.describe()} has no concurrency group {group!r}; it has {known}"
            )
        options = options or method.options
        unbounded = self.options.max_pending_calls < 0
        if index == 0 and num_returns == 1 and options is None and unbounded:
            return MethodType(plain_remote(method), self)
        lane = self.lanes[index]
        host = self.loop
        check = method.check
        lo, hi = check.bounds
        submit = self.submit
        general = num_returns != 1 or options is not None or not unbounded

        def remote(*args: Any, **kwargs: Any) -> Any:
            if kwargs or not lo <= len(args) <= hi:
                check(args, kwargs)
            if (
                general
                or kwargs
                or get_ident() != self.host_thread
                or host.is_closed()
                or call_chain.get()
            ):
                return submit(method, args, kwargs, num_returns, group, options)
            for a in args:
                if isinstance(a, ObjectRef):
                    return submit(method, args, kwargs, num_returns, group, options)
            ref: ObjectRef[Any] = ObjectRef(loop=host)
            if self.state > ALIVE:
                fail_new(ref, self.rejection())
                return ref
            lane.open().append((method, args, kwargs, ref, None))
            if not lane.scheduled:
                lane.scheduled = True
                host.call_soon(self.drain, lane, context=self.ctx)
            return ref

        return remote

    def pending_calls(self) -> int:
        """Calls accepted and not finished: queued, plus running as tasks or on threads."""
        return count_pending(self.lanes, [c for _, c, _ in list(self.inflight.values())])

    # -- the host loop ---------------------------------------------------------------------------

    def drain(self, lane: Lane) -> None:
        """Start queued calls while the lane has room (host loop only).

        The first branch of the loop is the fast path of a whole call: a plain call (no
        ``extra``: one ObjectRef of this loop, no ref arguments or options) of a method that
        runs inline. Keep it free of anything not every call needs; the general branch below
        handles the rest, and ``python -m benchmarks`` measures the difference.
        """
        lane.draining = True  # the state API counts an inline call as running meanwhile
        done = 0  # inline calls completed, added to the stats once per drain
        stats = self.stats
        try:
            if lane.paused:
                return
            state = self.state
            if state is not ALIVE and state is not STOPPING:
                self.drain_refused(lane)
                return
            queue = lane.queue
            instance = self.instance
            inline = self.placement.inline
            # Latency is sampled, one call in SAMPLE_EVERY timed (two clock reads): 'skip'
            # counts down to the next one, which costs the others one test each.
            skip = -stats.completed % SAMPLE_EVERY
            if lane.running >= lane.limit:
                return  # full: the next call to finish drains the lane again
            # (inline calls leave lane.running alone: only _start changes it)
            for _ in range(_DRAIN_BUDGET):
                if not queue:
                    # Idle, without the lock: a submitter in another thread appends, then
                    # reads 'scheduled'; clearing it before looking at the queue once more
                    # means one of us sees the other's write, so no call is stranded.
                    lane.scheduled = False
                    if queue:
                        lane.scheduled = True
                        continue
                    if not lane.listed and queue is not NO_CALLS:
                        self.idle_lanes.add(lane, self.lock)
                    if self.idle_waiters or self.options.max_pending_calls >= 0:
                        self.lane_idle()
                    return
                call = queue.popleft()
                method, args, kwargs, ref, extra = call
                if extra is None and not method.is_async and (inline or method.builtin):
                    if ref.done():
                        continue  # cancelled before it started
                    if skip:
                        skip -= 1
                        started = 0.0
                    else:
                        skip = SAMPLE_EVERY - 1
                        started = perf_counter()
                    try:
                        # (an empty **kwargs still costs ~90 ns a call on 3.11)
                        if kwargs:
                            result = method.fn(instance, *args, **kwargs)
                        else:
                            result = method.fn(instance, *args)
                    except (Exception, CancelledError) as exc:  # (see _local_calls)
                        if not self.retry_on_error(lane, call, exc):
                            latency = perf_counter() - started if started else None
                            self.call_failed(method, ref, exc, latency)
                    except ActorExit as exc:
                        self.exited(ref, exc)
                        return
                    except SystemExit:  # sys.exit() in a method ends its actor only, as on Ray
                        self.exited(ref, ActorExit("it called sys.exit()"))
                        return
                    else:
                        done += 1
                        if started:
                            stats.sample(perf_counter() - started)
                        try:
                            ref.set_result(result)
                        except InvalidStateError:  # cancelled while it ran
                            pass
                else:
                    started_how = self._start(lane, call, inline)
                    if started_how is _PARKED:
                        return  # the lane waits for the call's ref arguments
                    if started_how is _HANDED_OFF:  # to a task or a thread (or it failed)
                        if lane.running >= lane.limit:
                            return  # full: the next call to finish drains the lane again
                        continue
                if (
                    self.state is not state
                    and self.state is not ALIVE
                    and self.state is not STOPPING
                ):
                    return  # the method killed or restarted its own actor
            else:  # the budget is spent: let the loop run others, then drain on
                self.loop.call_soon(self.drain, lane, context=self.ctx)
        finally:
            lane.draining = False
            stats.completed += done

    def _start(self, lane: Lane, call: Call, inline: bool) -> str:
        """Start a call the fast path does not take; say how (``_PARKED``: the lane waits for
        its ref arguments; ``_HANDED_OFF``: to a task or a thread; ``_INLINE``: it ran)."""
        method, args, kwargs, ref, extra = call
        loop = self.loop
        if extra is not None and extra.has_refs:
            if isinstance(ref, ObjectRef) and dropped(ref):
                return _HANDED_OFF  # cancelled while parked on its ref arguments: never runs
            waiting = pending_refs(args, kwargs)
            if waiting:
                self._park(lane, call, waiting)
                return _PARKED
            try:
                args, kwargs = resolve_refs(args, kwargs, self.qualname(method))
            except Exception as exc:  # an argument's call failed: so does this one
                fail(ref, exc, loop)
                return _HANDED_OFF
            extra.has_refs = False
            call = (method, args, kwargs, ref, extra)
        if method.is_async:  # async actors: one task per call
            start_task(self, lane, call)
            return _HANDED_OFF
        if not inline and not method.builtin:
            self.placement.start(self, lane, call)
            return _HANDED_OFF
        # A sync method inline, with what the fast path does not handle: several or no
        # refs, a ref of another loop or thread, per-call options, retries.
        if isinstance(ref, ObjectRef) and dropped(ref):
            return _HANDED_OFF  # cancelled before it started: nothing ran
        started = perf_counter()
        try:
            result = method.fn(self.instance, *args, **kwargs)
        except (Exception, CancelledError) as exc:
            if not self.retry_on_error(lane, call, exc):
                self.call_failed(method, ref, exc, perf_counter() - started)
        except ActorExit as exc:
            self.exited(ref, exc)
        except SystemExit:
            self.exited(ref, ActorExit("it called sys.exit()"))
        else:
            self.stats.ok(perf_counter() - started)
            self.deliver(ref, result, method)
        return _INLINE

    def _park(self, lane: Lane, call: Call, waiting: list[Any]) -> None:
        """Hold the lane (keeping call order) until the call's ref arguments are done, or
        until it is cancelled: then the drain drops it and the calls behind it go on."""
        lane.open().appendleft(call)
        lane.paused = True
        generation = self.incarnation
        parked = [True]  # the first of the two events resumes the lane

        def resume() -> None:
            if self.incarnation == generation and parked[0]:
                parked[0] = False
                lane.paused = False
                self.loop.call_soon(self.drain, lane, context=self.ctx)

        when_all_done(waiting, self.loop, resume)
        first = first_ref(call[3])
        if isinstance(first, ObjectRef):
            when_all_done([first], self.loop, resume)


def _enter(actor: weakref.ref[LocalActor]) -> None:
    # One variable only (current_loop is the actor's loop; call_chain is at its default, ()):
    # each one set grows the context of every actor.
    current_actor.set(actor)
