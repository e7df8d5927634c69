"""The in-process backend: actors are plain objects served by their host event loop.

How a call travels (the hot path, kept short on purpose):

1. ``submit`` (caller's thread) checks the actor is alive, appends a :class:`Call` to the lane
   and, if nobody is draining the lane, schedules ``_drain`` on the host loop: with
   ``call_soon`` from the loop's own thread, ``call_soon_threadsafe`` from anywhere else.
2. ``_drain`` (host loop) pops calls while the lane has room and starts each one by mode:
   *regular* runs the sync method right there, in the drain callback (no task, no thread hop);
   *async* wraps a coroutine method in a task (sync methods still run inline);
   *threaded* hands the method to the actor's thread pool.
3. The result is set on the ref directly when the ref lives on the host loop, otherwise via
   ``call_soon_threadsafe`` on the ref's loop.

Locking: the actor's lock guards ``state``, and each lane's ``scheduled`` flag against
submitters in other threads; the loop thread reads them without it on its fast path (see the
invariant in :class:`actorio._mailbox.Lane`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from asyncio import InvalidStateError
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import get_ident
from typing import Any

from .._context import current_actor, current_loop
from .._mailbox import Call, Lane, complete, fail, fail_new, make_refs
from .._ref import ObjectRef, has_refs, pending_refs, resolve_refs, when_all_done
from .._spec import ClassSpec, MethodSpec, Mode
from ..exceptions import ActorDiedError, InvalidOptionsError, TaskCancelledError, TaskError
from ._base import ActorExit

__all__ = ["LocalActor"]

log = logging.getLogger("actorio")

_running_loop = asyncio._get_running_loop
_now = time.perf_counter

_PENDING, _ALIVE, _DEAD = 0, 1, 2
_DRAIN_BUDGET = 1024  # calls per drain callback before yielding the loop to others

#: Seconds a method may run on the loop thread before actorio warns that it blocked the loop.
BLOCKING_WARNING_S = 0.1


class LocalActor:
    """One actor hosted on one event loop of this process."""

    __slots__ = (
        "__weakref__",
        "actor_id",
        "ctx",
        "death",
        "default_lane",
        "executor",
        "host_thread",
        "instance",
        "lanes",
        "lock",
        "loop",
        "mode",
        "name",
        "namespace",
        "on_death",
        "spec",
        "state",
        "tasks",
    )

    def __init__(
        self,
        actor_id: str,
        spec: ClassSpec,
        mode: Mode,
        limit: int,
        groups: dict[str, int],
        loop: asyncio.AbstractEventLoop,
        name: str | None,
        namespace: str,
        lock: Any,
        on_death: Callable[[LocalActor], None],
    ) -> None:
        self.actor_id = actor_id
        self.spec = spec
        self.mode = mode
        self.loop = loop
        self.instance: Any = None
        self.state = _PENDING
        self.death: ActorDiedError | None = None
        self.default_lane = Lane(limit)
        self.lanes: dict[str | None, Lane] = {None: self.default_lane}
        for group, group_limit in groups.items():
            self.lanes[group] = Lane(group_limit)
        self.lock = lock
        self.name = name
        self.namespace = namespace
        # The actor's own context: methods see themselves as current (weakly, so the context
        # does not keep the actor alive) and new actors/tasks made from worker threads land here.
        # Every callback of this actor on the host loop is scheduled with context=self.ctx, so
        # inline methods run inside it at no per-call cost. It starts empty: an actor does not
        # inherit its creator's context variables (a web request's, say).
        self.ctx = contextvars.Context()
        self.ctx.run(_enter, weakref.ref(self), loop)
        self.executor: ThreadPoolExecutor | None = None
        if mode == "threaded":
            workers = sum(lane.limit for lane in self.lanes.values())
            self.executor = ThreadPoolExecutor(workers, thread_name_prefix=f"actorio-{spec.name}")
        self.tasks: set[asyncio.Task[None]] | None = set() if mode == "async" else None
        self.on_death = on_death
        #: the host loop's thread, once known: calls from it skip the thread-safe path
        self.host_thread: int | None = get_ident() if _running_loop() is loop else None

    # -- submission (any thread) ---------------------------------------------------------------

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Schedule the constructor; calls submitted meanwhile queue behind it."""
        if _running_loop() is self.loop:
            self.loop.call_soon(self._construct, args, kwargs, context=self.ctx)
        else:
            self.loop.call_soon_threadsafe(self._construct, args, kwargs, context=self.ctx)

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
    ) -> Any:
        loop = _running_loop()
        host = self.loop
        ref = make_refs(loop, host, num_returns)
        with_refs = False
        for a in args:
            if isinstance(a, ObjectRef):
                with_refs = True
        if kwargs and not with_refs:
            with_refs = has_refs((), kwargs)
        call = (method, args, kwargs, ref, with_refs)
        lane = self.lanes[group] if group is not None else self.default_lane
        if loop is host:
            # Same thread as the drain: no lock needed for state or the queue (see module doc).
            if self.state is _DEAD:
                fail_new(ref, self.death or _died(self, "it is dead"))
                return ref
            lane.queue.append(call)
            if not lane.scheduled:
                lane.scheduled = True
                host.call_soon(self._drain, lane, context=self.ctx)
            return ref
        if host.is_closed():  # the actor died with its loop (an ended asyncio.run, say)
            self.kill(_died(self, "its event loop was closed"))
        with self.lock:
            if self.state is _DEAD:
                fail_new(ref, self.death or _died(self, "it is dead"))
                return ref
            lane.queue.append(call)
            if lane.scheduled:
                return ref
            lane.scheduled = True
        try:
            host.call_soon_threadsafe(self._drain, lane, context=self.ctx)
        except RuntimeError:  # the host loop is closed: the actor died with it
            self.kill(_died(self, "its event loop was closed"))
        return ref

    def bind(self, method: MethodSpec, num_returns: int, group: str | None) -> Callable[..., Any]:
        """``handle.method.remote``: the hot path of every call, as one closure.

        Same-loop calls with plain positional arguments are queued right here; anything else
        (keywords, ref arguments, other threads, several returns) goes through :meth:`submit`.
        """
        lane = self.lanes.get(group)
        if lane is None:
            known = sorted(g for g in self.lanes if g is not None)
            raise InvalidOptionsError(
                f"{self.describe()} has no concurrency group {group!r}; it has {known}"
            )
        queue = lane.queue
        host = self.loop
        check = method.check
        lo, hi = check.bounds
        submit = self.submit
        drain = self._drain
        ctx = self.ctx

        def remote(*args: Any, **kwargs: Any) -> Any:
            if kwargs or not lo <= len(args) <= hi:
                check(args, kwargs)
            # get_ident() is ~4x cheaper than asyncio._get_running_loop() on 3.11; the same
            # thread with an open host loop means the caller runs on the host loop.
            if kwargs or num_returns != 1 or get_ident() != self.host_thread or host.is_closed():
                return submit(method, args, kwargs, num_returns, group)
            for a in args:
                if isinstance(a, ObjectRef):
                    return submit(method, args, kwargs, num_returns, group)
            ref: ObjectRef[Any] = ObjectRef(loop=host)
            if self.state is _DEAD:
                fail_new(ref, self.death or _died(self, "it is dead"))
                return ref
            queue.append((method, args, kwargs, ref, False))
            if not lane.scheduled:
                lane.scheduled = True
                host.call_soon(drain, lane, context=ctx)
            return ref

        return remote

    def kill(self, err: ActorDiedError) -> None:
        """Mark the actor dead now (any thread); fail its calls on the host loop."""
        with self.lock:
            if self.state is _DEAD:
                return
            self.state = _DEAD
            self.death = err
        if _running_loop() is self.loop:
            self._cleanup()
            return
        try:
            self.loop.call_soon_threadsafe(self._cleanup, context=self.ctx)
        except RuntimeError:
            self._cleanup()  # the loop is gone: nothing runs there any more

    @property
    def alive(self) -> bool:
        return self.state is not _DEAD

    # -- the host loop ---------------------------------------------------------------------------

    def _construct(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.host_thread = get_ident()
        if self.state is _DEAD:  # killed before it was built; kill() has cleaned up
            return
        if has_refs(args, kwargs):
            waiting = pending_refs(args, kwargs)
            if waiting:
                when_all_done(waiting, self.loop, lambda: self.start(args, kwargs))
                return
        if self.executor is not None:  # threaded actors build off the loop, too
            self.executor.submit(self._construct_in_thread, args, kwargs)
            return
        try:
            args, kwargs = resolve_refs(args, kwargs)
            instance = self.spec.cls(*args, **kwargs)  # already inside self.ctx
        except Exception as exc:
            self._constructed(None, exc)
        else:
            self._constructed(instance, None)

    def _construct_in_thread(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        instance, error = None, None
        try:
            args, kwargs = resolve_refs(args, kwargs)
            instance = self.ctx.copy().run(self.spec.cls, *args, **kwargs)
        except Exception as exc:
            error = exc
        self._to_loop(self._constructed, instance, error)

    def _constructed(self, instance: Any, error: Exception | None) -> None:
        if error is not None:
            cause = TaskError.from_exception(f"{self.spec.name}.__init__", error)
            self.kill(_died(self, "its constructor raised", cause))
            return
        if self.state is _DEAD:  # killed while constructing
            return
        self.instance = instance
        self.state = _ALIVE
        for lane in self.lanes.values():
            self._drain(lane)

    def _drain(self, lane: Lane) -> None:
        """Start queued calls while the lane has room (host loop only)."""
        if lane.paused:
            return
        if self.state is not _ALIVE:
            if self.state is _DEAD:
                self._fail_queued()
            return
        queue = lane.queue
        loop = self.loop
        instance = self.instance
        threaded = self.executor is not None
        budget = _DRAIN_BUDGET
        t0 = _now()
        while lane.running < lane.limit:
            if not queue:
                with self.lock:
                    if queue:
                        continue
                    lane.scheduled = False
                    return
            method, args, kwargs, ref, with_refs = queue.popleft()
            if with_refs:
                waiting = pending_refs(args, kwargs)
                if waiting:
                    self._park(lane, (method, args, kwargs, ref, with_refs), waiting)
                    return
                try:
                    args, kwargs = resolve_refs(args, kwargs)
                except Exception as exc:  # an argument's call failed: so does this one
                    fail(ref, exc, loop)
                    continue
            if method.is_async:  # async actors: one task per call
                self._start_concurrent(lane, (method, args, kwargs, ref, False))
                continue
            if threaded:
                self._start_in_thread(lane, (method, args, kwargs, ref, False))
                continue
            # The fast path: a sync method runs right here, in this callback.
            single = isinstance(ref, ObjectRef)
            if single and ref.done():
                continue  # cancelled by its caller before it started
            try:
                result = method.fn(instance, *args, **kwargs)
            except Exception as exc:
                fail(ref, TaskError.from_exception(self._qualname(method), exc), loop)
            except ActorExit:
                self._exit(ref)
                return
            else:
                if single and ref.get_loop() is loop:
                    try:
                        ref.set_result(result)
                    except InvalidStateError:  # cancelled while it ran
                        pass
                else:
                    complete(ref, result, loop, self._qualname(method))
            t1 = _now()
            if t1 - t0 > BLOCKING_WARNING_S:
                _warn_blocking(self, method, t1 - t0)
            t0 = t1
            if self.state is not _ALIVE:
                return
            budget -= 1
            if not budget:
                loop.call_soon(self._drain, lane, context=self.ctx)
                return
        # Full: the next call to finish drains the lane again (scheduled stays True).

    def _park(self, lane: Lane, call: Call, waiting: list[Any]) -> None:
        """Hold the lane (keeping call order) until the call's ref arguments are done."""
        lane.queue.appendleft(call)
        lane.paused = True

        def resume() -> None:
            lane.paused = False
            self.loop.call_soon(self._drain, lane, context=self.ctx)

        when_all_done(waiting, self.loop, resume)

    def _exit(self, ref: Any) -> None:
        self.kill(_died(self, "it called actorio.exit_actor()"))
        fail(ref, self.death or _died(self, "it exited"), self.loop)

    def _start_concurrent(self, lane: Lane, call: Call) -> None:
        lane.running += 1
        task = self.loop.create_task(self._run_async(lane, call), context=self.ctx.copy())
        tasks = self.tasks
        assert tasks is not None
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _start_in_thread(self, lane: Lane, call: Call) -> None:
        lane.running += 1
        assert self.executor is not None
        try:
            self.executor.submit(self._run_in_thread, lane, call)
        except RuntimeError:  # the interpreter is exiting: thread pools take no more work
            lane.running -= 1
            fail(call[3], _died(self, "the interpreter is shutting down"), self.loop)

    async def _run_async(self, lane: Lane, call: Call) -> None:
        method, args, kwargs, ref, _ = call
        try:
            result = await method.fn(self.instance, *args, **kwargs)
        except Exception as exc:
            fail(ref, TaskError.from_exception(self._qualname(method), exc), self.loop)
        except ActorExit:
            self._exit(ref)
        except asyncio.CancelledError:
            err = self.death or TaskCancelledError(f"{self._qualname(method)} was cancelled")
            fail(ref, err, self.loop)
            raise
        else:
            complete(ref, result, self.loop, self._qualname(method))
        finally:
            lane.running -= 1
            # Room again: drain, which also clears 'scheduled' if nothing is left.
            if lane.scheduled and self.state is _ALIVE:
                self._drain(lane)

    def _run_in_thread(self, lane: Lane, call: Call) -> None:
        method, args, kwargs, ref, _ = call
        result: Any = None
        error: BaseException | None = None
        if isinstance(ref, ObjectRef) and ref.done():
            self._to_loop(self._thread_done, lane, call, None, None)
            return  # cancelled by its caller before it started
        try:
            result = self.ctx.copy().run(method.fn, self.instance, *args, **kwargs)
        except Exception as exc:
            error = TaskError.from_exception(self._qualname(method), exc)
        except ActorExit:
            error = ActorExit()
        self._to_loop(self._thread_done, lane, call, result, error)

    def _thread_done(
        self, lane: Lane, call: Call, result: Any, error: BaseException | None
    ) -> None:
        lane.running -= 1
        if isinstance(error, ActorExit):
            self.kill(_died(self, "it called actorio.exit_actor()"))
        method, _, _, ref, _ = call
        if self.state is _DEAD:
            fail(ref, self.death or _died(self, "it is dead"), self.loop)
            return
        if error is not None:
            fail(ref, error, self.loop)
        else:
            complete(ref, result, self.loop, self._qualname(method))
        if lane.scheduled:  # room again; drain also clears 'scheduled' if nothing is left
            self._drain(lane)

    def _cleanup(self) -> None:
        """Fail every queued and running call, release the instance, leave the registry."""
        self._fail_queued()
        if self.tasks:
            for task in list(self.tasks):
                task.cancel()
        if self.executor is not None:
            self.executor.shutdown(wait=False)
        self.instance = None
        self.on_death(self)

    def _fail_queued(self) -> None:
        with self.lock:
            calls = [call for lane in self.lanes.values() for call in lane.queue]
            for lane in self.lanes.values():
                lane.queue.clear()
                lane.scheduled = False
        err = self.death or _died(self, "it is dead")
        here = _running_loop()
        for call in calls:
            fail(call[3], err, here)

    def _to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """From a worker thread: run ``fn(*args)`` on the host loop, in the actor's context."""
        try:
            self.loop.call_soon_threadsafe(fn, *args, context=self.ctx)
        except RuntimeError:  # the host loop is closed; nobody is left to tell
            pass

    def _qualname(self, method: MethodSpec) -> str:
        return f"{self.spec.name}.{method.name}"

    def describe(self) -> str:
        named = f" named {self.name!r} in namespace {self.namespace!r}" if self.name else ""
        return f"actor {self.spec.name} (id {self.actor_id}){named}"


def _enter(actor: weakref.ref[LocalActor], loop: asyncio.AbstractEventLoop) -> None:
    current_actor.set(actor)
    current_loop.set(loop)


def _died(actor: LocalActor, why: str, cause: BaseException | None = None) -> ActorDiedError:
    return ActorDiedError(
        f"The {actor.describe()} is dead: {why}. Calls to it fail from now on; create a new "
        f"actor to continue.",
        cause,
    )


def _warn_blocking(actor: LocalActor, method: MethodSpec, elapsed: float) -> None:
    log.warning(
        "%s.%s ran for %.3f s on the event loop thread and blocked every other actor and task "
        "on that loop; make the method async, or make the actor threaded "
        "(mode='threaded' or max_concurrency > 1) so it runs on worker threads",
        actor.spec.name,
        method.name,
        elapsed,
    )
