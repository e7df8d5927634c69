"""The in-process backend: actors are plain objects served by their host event loop.

How a call travels (the hot path, kept short on purpose):

1. ``remote`` (a closure made by :meth:`LocalActor.bind`, in the caller's thread) appends a
   :data:`Call` tuple to the lane and, if nobody is draining the lane, schedules ``_drain`` on
   the host loop. Calls from other threads, with keywords, ref arguments, per-call options or
   inside a chain of awaited actor calls take :meth:`LocalActor.submit`, the general path.
2. ``_drain`` (host loop) pops calls while the lane has room and starts each one by mode:
   *regular* runs the sync method right there, in the drain callback (no task, no thread hop);
   *async* wraps a coroutine method in a task (sync methods still run inline);
   *threaded* hands the method to the actor's thread pool.
3. The result is set on the ref directly when the ref lives on the host loop, otherwise via
   ``call_soon_threadsafe`` on the ref's loop.

Locking: the actor's lock guards ``state`` and each lane's ``scheduled`` flag against
submitters in other threads; the loop thread reads them without it on its fast path (see the
invariant in :class:`actorio._mailbox.Lane`). Everything else is touched on the host loop only.

Lifecycle (restarts, retries, hooks, death) lives in :mod:`._local_life`, as a base class.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import weakref
from asyncio import InvalidStateError
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import get_ident
from time import perf_counter
from typing import Any

from .._context import call_chain, current_actor
from .._mailbox import Call, CallExtra, Lane, complete, fail, fail_new, first_ref, make_refs
from .._ref import (
    CycleRef,
    ObjectRef,
    abort,
    dropped,
    has_refs,
    pending_refs,
    resolve_refs,
    when_all_done,
)
from .._spec import ActorOptions, ClassSpec, MethodSpec, Mode
from ..exceptions import (
    CallTimeoutError,
    InvalidOptionsError,
    PendingCallsLimitExceeded,
    TaskCancelledError,
    TaskError,
)
from ._base import ActorExit
from ._local_life import _ALIVE, _PENDING, _STOPPING, Lifecycle, died, lock_for

__all__ = ["LocalActor"]

_running_loop = asyncio._get_running_loop

_DRAIN_BUDGET = 1024  # calls per drain callback before yielding the loop to others
_BUILTIN_LANE = "__actorio_builtin__"  # __ray_ready__ and friends never wait behind user calls
# How LocalActor._start started a call (compared by identity).
_PARKED, _HANDED_OFF, _INLINE = "parked", "handed off", "inline"


class LocalActor(Lifecycle):
    """One actor hosted on one event loop of this process."""

    __slots__ = ()

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
        self.actor_id = actor_id
        self.spec = spec
        self.options = options
        self.mode = mode
        self.loop = loop
        self.instance: Any = None
        self.state = _PENDING
        self.death = None
        # The lanes in a tuple, found by name through a dict shared by every actor with the
        # same groups (a dict each would be 224 B of every idle actor's footprint).
        groups = options.concurrency_groups
        self.lane_index = _lane_index(tuple(groups))
        self.lanes = (Lane(limit), *(Lane(n) for n in groups.values()), Lane(1 << 30))
        self.lock = lock_for(self)
        self.name = options.name
        self.namespace = namespace
        # The actor's own context: methods see themselves as current (weakly, so the context
        # does not keep the actor alive) and new actors/tasks made from worker threads land here.
        # Every callback of this actor on the host loop is scheduled with context=self.ctx, so
        # inline methods run inside it at no per-call cost. It starts empty: an actor does not
        # inherit its creator's context variables (a web request's, say).
        self.ctx = contextvars.Context()
        self.ctx.run(_enter, weakref.ref(self))
        self.executor: ThreadPoolExecutor | None = None
        if mode == "threaded":
            workers = sum(lane.limit for lane in self.lanes[:-1])  # all but the builtin lane
            self.executor = ThreadPoolExecutor(workers, thread_name_prefix=f"actorio-{spec.name}")
        #: calls running as tasks or on threads: id(call) -> (lane, call, task or None)
        self.inflight: dict[int, tuple[Lane, Call, asyncio.Task[None] | None]] = {}
        self.on_death = on_death
        #: the host loop's thread, once known: calls from it skip the thread-safe path
        self.host_thread: int | None = get_ident() if _running_loop() is loop else None
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
        lane = self.lanes[self.lane_index[_BUILTIN_LANE if method.builtin else group]]
        chain = call_chain.get()
        cycle = _cycle(self, lane, method, chain) if chain else None
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
        lane = self.lanes[self.lane_index[_BUILTIN_LANE if method.builtin else group]]
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
            if self.state > _ALIVE:
                fail_new(ref, self.rejection())
                return ref
            lane.open().append(call)
            if not lane.scheduled:
                lane.scheduled = True
                host.call_soon(self._drain, lane, context=self.ctx)
            if timeout is not None:
                host.call_later(timeout, self._expire, ref, timeout, context=self.ctx)
            return ref
        with self.lock:
            if self.state > _ALIVE:
                fail_new(ref, self.rejection())
                return ref
            lane.open().append(call)
            wake = not lane.scheduled
            lane.scheduled = True
        try:
            if wake:
                host.call_soon_threadsafe(self._drain, lane, context=self.ctx)
            if timeout is not None:
                host.call_soon_threadsafe(
                    host.call_later, timeout, self._expire, ref, timeout, context=self.ctx
                )
        except RuntimeError:  # the host loop is closed: the actor died with it
            self.loop_closed()
        return ref

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Callable[..., Any]:
        """``handle.method.remote``: the hot path of every call, as one closure.

        Same-loop calls with plain positional arguments are queued right here; anything else
        (keywords, ref arguments, other threads, several returns, per-call options, calls
        made inside awaited actor calls, a bounded mailbox) goes through :meth:`submit`.
        """
        index = self.lane_index.get(_BUILTIN_LANE if method.builtin else group)
        if index is None:
            known = sorted(g for g in self.lane_index if g not in (None, _BUILTIN_LANE))
            raise InvalidOptionsError(
                f"{self.describe()} has no concurrency group {group!r}; it has {known}"
            )
        lane = self.lanes[index]
        queue = lane.open()
        host = self.loop
        check = method.check
        lo, hi = check.bounds
        submit = self.submit
        drain = self._drain
        call_soon = host.call_soon
        ctx = self.ctx
        options = options or method.options
        general = num_returns != 1 or options is not None or self.options.max_pending_calls >= 0
        chain_get = call_chain.get

        def remote(*args: Any, **kwargs: Any) -> Any:
            if kwargs or not lo <= len(args) <= hi:
                check(args, kwargs)
            # get_ident() is ~5x cheaper than asyncio._get_running_loop(), which makes a
            # getpid() system call on 3.11; the same thread with an open host loop means the
            # caller runs on the host loop.
            if (
                general
                or kwargs
                or get_ident() != self.host_thread
                or host.is_closed()
                or chain_get()
            ):
                return submit(method, args, kwargs, num_returns, group, options)
            for a in args:
                if isinstance(a, ObjectRef):
                    return submit(method, args, kwargs, num_returns, group, options)
            ref: ObjectRef[Any] = ObjectRef(loop=host)
            if self.state > _ALIVE:
                fail_new(ref, self.rejection())
                return ref
            queue.append((method, args, kwargs, ref, None))
            if not lane.scheduled:
                lane.scheduled = True
                call_soon(drain, lane, context=ctx)
            return ref

        return remote

    def pending_calls(self) -> int:
        """Calls accepted and not finished: queued, plus running as tasks or on threads.

        Calls already cancelled or timed out do not count, even before they have unwound.
        """
        queued = [c for lane in self.lanes for c in list(lane.queue)]
        running = [c for _, c, _ in list(self.inflight.values())]
        return sum(1 for c in queued + running if not _settled(c[3]))

    # -- the host loop ---------------------------------------------------------------------------

    def _drain(self, lane: Lane) -> None:
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
            if state is not _ALIVE and state is not _STOPPING:
                self.drain_refused(lane)
                return
            queue = lane.queue
            instance = self.instance
            threaded = self.executor is not None
            budget = _DRAIN_BUDGET
            tick = stats.completed
            if lane.running >= lane.limit:
                return  # full: the next call to finish drains the lane again
            while True:  # (inline calls leave lane.running alone: only _start changes it)
                if not queue:
                    # Idle, without the lock: a submitter in another thread appends, then
                    # reads 'scheduled'; clearing it before looking at the queue once more
                    # means one of us sees the other's write, so no call is stranded.
                    lane.scheduled = False
                    if queue:
                        lane.scheduled = True
                        continue
                    if self.idle_waiters or self.options.max_pending_calls >= 0:
                        self.lane_idle()
                    return
                call = queue.popleft()
                method, args, kwargs, ref, extra = call
                if extra is None and not method.is_async and (not threaded or method.builtin):
                    if ref.done():
                        continue  # cancelled before it started
                    # Latency is sampled: one call in 8 is timed (two clock reads), the rest
                    # cost nothing; enough for the mean and p99 the state API shows.
                    timed = not (tick + done) & 7
                    if timed:
                        started = perf_counter()
                    try:
                        # (an empty **kwargs still costs ~90 ns a call on 3.11)
                        if kwargs:
                            result = method.fn(instance, *args, **kwargs)
                        else:
                            result = method.fn(instance, *args)
                    except Exception as exc:
                        if not self.retry_on_error(lane, call, exc):
                            latency = perf_counter() - started if timed else None
                            self._call_failed(method, ref, exc, latency)
                    except ActorExit:
                        self.exited(ref)
                        return
                    else:
                        done += 1
                        if timed:
                            (stats.latencies or stats.ring()).append(perf_counter() - started)
                        try:
                            ref.set_result(result)
                        except InvalidStateError:  # cancelled while it ran
                            pass
                else:
                    started_how = self._start(lane, call, threaded)
                    if started_how is _PARKED:
                        return  # the lane waits for the call's ref arguments
                    if started_how is _HANDED_OFF:  # to a task or a thread (or it failed)
                        if lane.running >= lane.limit:
                            return  # full: the next call to finish drains the lane again
                        continue
                now = self.state
                if now is not state and now is not _ALIVE and now is not _STOPPING:
                    return  # the method killed or restarted its own actor
                budget -= 1
                if not budget:
                    self.loop.call_soon(self._drain, lane, context=self.ctx)
                    return
        finally:
            lane.draining = False
            stats.completed += done

    def _start(self, lane: Lane, call: Call, threaded: bool) -> str:
        """Start a call the fast path does not take; say how (``_PARKED``: the lane waits for
        its ref arguments; ``_HANDED_OFF``: to a task or a thread; ``_INLINE``: it ran)."""
        method, args, kwargs, ref, extra = call
        loop = self.loop
        if extra is not None and extra.has_refs:
            waiting = pending_refs(args, kwargs)
            if waiting:
                self._park(lane, call, waiting)
                return _PARKED
            try:
                args, kwargs = resolve_refs(args, kwargs)
            except Exception as exc:  # an argument's call failed: so does this one
                fail(ref, exc, loop)
                return _HANDED_OFF
            extra.has_refs = False
            call = (method, args, kwargs, ref, extra)
        if method.is_async:  # async actors: one task per call
            self._start_task(lane, call)
            return _HANDED_OFF
        if threaded and not method.builtin:
            self._start_thread(lane, call)
            return _HANDED_OFF
        # A sync method inline, with what the fast path does not handle: several or no
        # refs, a ref of another loop or thread, per-call options, retries.
        if isinstance(ref, ObjectRef) and dropped(ref):
            return _HANDED_OFF  # cancelled before it started: nothing ran
        started = perf_counter()
        try:
            result = method.fn(self.instance, *args, **kwargs)
        except Exception as exc:
            if not self.retry_on_error(lane, call, exc):
                self._call_failed(method, ref, exc, perf_counter() - started)
        except ActorExit:
            self.exited(ref)
        else:
            self.stats.ok(perf_counter() - started)
            self._deliver(ref, result, method)
        return _INLINE

    def _call_failed(
        self, method: MethodSpec, ref: Any, exc: BaseException, latency: float | None
    ) -> None:
        """A method raised (and is not retried): count it, fail its ref(s) with a TaskError."""
        err = TaskError.from_exception(self.qualname(method), exc)
        self.stats.error(latency, method.name, err)
        fail(ref, err, self.loop)

    def _park(self, lane: Lane, call: Call, waiting: list[Any]) -> None:
        """Hold the lane (keeping call order) until the call's ref arguments are done."""
        lane.open().appendleft(call)
        lane.paused = True
        generation = self.incarnation

        def resume() -> None:
            if self.incarnation == generation:
                lane.paused = False
                self.loop.call_soon(self._drain, lane, context=self.ctx)

        when_all_done(waiting, self.loop, resume)

    def _start_task(self, lane: Lane, call: Call) -> None:
        ref = call[3]
        if ref.done() if type(ref) is ObjectRef else isinstance(ref, ObjectRef) and dropped(ref):
            return  # cancelled before it started
        lane.running += 1
        coro = self._run_async(lane, call, self.incarnation)
        task = self.loop.create_task(coro, context=self.ctx.copy())
        self.inflight[id(call)] = (lane, call, task)
        if isinstance(ref, ObjectRef):
            ref._actorio_work = _TaskWork(self, id(call), task)  # cancelling the ref reaches it

    async def _run_async(self, lane: Lane, call: Call, generation: int) -> None:
        method, args, kwargs, ref, extra = call
        # The chain of awaited calls this one belongs to (for DeadlockError), in the task's
        # own copy of the actor's context.
        call_chain.set((*(extra.chain if extra is not None else ()), (self, lane, ref)))
        started = perf_counter()
        try:
            result = await method.fn(self.instance, *args, **kwargs)
        except Exception as exc:
            if self.incarnation == generation and not self.retry_on_error(lane, call, exc):
                self._call_failed(method, ref, exc, perf_counter() - started)
        except ActorExit:
            if self.incarnation == generation:
                self.exited(ref)
        except asyncio.CancelledError:
            if self.incarnation == generation:
                self.stats.error(perf_counter() - started, method.name, None)
                cancelled = TaskCancelledError(f"{self.qualname(method)} was cancelled")
                fail(ref, self.death or cancelled, self.loop)
            raise
        else:
            self.stats.ok(perf_counter() - started)
            self._deliver(ref, result, method)
        finally:
            self.call_finished(lane, call, generation)

    def _deliver(self, ref: Any, result: Any, method: MethodSpec) -> None:
        """Set a finished call's result: directly on a plain ref of this loop (the usual),
        else through ``complete`` (other loops, several refs)."""
        if type(ref) is ObjectRef and ref._loop is self.loop:
            if not ref.done():
                ref.set_result(result)
        else:
            complete(ref, result, self.loop, self.qualname(method))

    def _start_thread(self, lane: Lane, call: Call) -> None:
        lane.running += 1
        assert self.executor is not None
        self.inflight[id(call)] = (lane, call, None)
        chain = call[4].chain if call[4] is not None else ()
        try:
            self.executor.submit(self._run_in_thread, lane, call, self.incarnation, chain)
        except RuntimeError:  # the interpreter is exiting: thread pools take no more work
            fail(call[3], died(self, "the interpreter is shutting down"), self.loop)
            self.call_finished(lane, call, self.incarnation)

    def _run_in_thread(
        self, lane: Lane, call: Call, generation: int, chain: tuple[Any, ...]
    ) -> None:
        method, args, kwargs, ref, _ = call
        result: Any = None
        error: BaseException | None = None
        started = perf_counter()
        if not (isinstance(ref, ObjectRef) and dropped(ref)):  # else: cancelled before it began
            ctx = self.ctx.copy()
            ctx.run(call_chain.set, (*chain, (self, lane, ref)))
            try:
                result = ctx.run(method.fn, self.instance, *args, **kwargs)
            except Exception as exc:
                error = exc
            except ActorExit as exc:
                error = exc
        elapsed = perf_counter() - started
        self.to_loop(self._thread_done, lane, call, generation, result, error, elapsed)

    def _thread_done(
        self,
        lane: Lane,
        call: Call,
        generation: int,
        result: Any,
        error: BaseException | None,
        elapsed: float,
    ) -> None:
        method, _, _, ref, _ = call
        if self.incarnation == generation:
            if isinstance(error, ActorExit):
                self.exited(ref)
            elif error is not None:
                if not self.retry_on_error(lane, call, error):
                    self._call_failed(method, ref, error, elapsed)
            else:
                self.stats.ok(elapsed)
                self._deliver(ref, result, method)
        self.call_finished(lane, call, generation)

    def _expire(self, ref: Any, timeout: float) -> None:
        """A call's ``timeout`` option ran out: fail it and stop it if it runs as a task."""
        for r in ref if type(ref) is list else () if ref is None else (ref,):
            if not r.done():
                abort(
                    r, CallTimeoutError(f"the call timed out after {timeout} s and was cancelled")
                )


class _TaskWork:
    """What cancelling the ref of an async call reaches (``actorio.cancel``, its timeout, a
    cancelled awaiter), from any thread: the call's task.

    A task cancelled before its first step never runs its coroutine, not even the ``finally``
    that frees the call's slot in its lane: then this frees it, or the lane would stay full
    for good. (A cancel can land there: a worker process reads the driver's cancel in the
    same loop iteration as the calls it cancels.) The actor is held weakly and the call is
    found among those in flight, so a ref kept after its call keeps neither alive.
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


def _settled(ref: Any) -> bool:
    first = first_ref(ref)
    return first is not None and first.done()


@functools.lru_cache(maxsize=256)
def _lane_index(groups: tuple[str, ...]) -> dict[str | None, int]:
    """Where each lane sits in ``LocalActor.lanes``: default, the groups in order, builtin."""
    index: dict[str | None, int] = {None: 0}
    index.update((group, i) for i, group in enumerate(groups, 1))
    index[_BUILTIN_LANE] = len(groups) + 1
    return index


def _enter(actor: weakref.ref[LocalActor]) -> None:
    # One variable only (current_loop is the actor's loop; call_chain is at its default, ()):
    # each one set grows the context of every actor.
    current_actor.set(actor)


def _cycle(actor: LocalActor, lane: Lane, method: MethodSpec, chain: tuple[Any, ...]) -> str | None:
    """Describe the wait cycle if awaiting this call could never end; None otherwise.

    ``chain`` lists the running calls that led to the caller, outermost first. A call in it
    is *waiting* for the caller if every link after it is awaited by someone (its ref has
    done-callbacks: an awaiting task, gather, wait); the caller itself is assumed to await
    the new call. If waiting calls hold every slot of the lane the new call needs, it can
    never start: a deadlock. Calls fired and not awaited break the chain.
    """
    holders = 0
    waiting = True
    for index in range(len(chain) - 1, -1, -1):
        a, ln, ref = chain[index]
        if index < len(chain) - 1:
            waiting = waiting and bool(chain[index + 1][2]._callbacks)
        if not waiting:
            break
        if a is actor and ln is lane and not ref.done():
            holders += 1
    if holders < lane.limit:
        return None
    path = " -> ".join(f"{a.spec.name}" for a, _, _ in chain)
    return (
        f"awaiting {actor.spec.name}.{method.name} would deadlock: the call chain "
        f"{path} -> {actor.spec.name} waits on itself, and the {actor.describe()} has no free "
        f"slot for it (max_concurrency={lane.limit} in that group, all held by calls waiting "
        f"in this chain). Do not await it (fire and forget is fine), raise the actor's "
        f"max_concurrency, or move the method to another concurrency group."
    )
