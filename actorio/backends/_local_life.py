"""An in-process actor's life: construction, hooks, retries, restarts, death, graceful stop.

States (``LocalActor.state``)::

    PENDING --constructed--> ALIVE --shutdown--> STOPPING --idle or deadline--> DEAD
       ^                       |
       +------ restart --------+  (constructor failed, kill(no_restart=False), supervisor)

Calls submitted while PENDING wait in the mailbox; STOPPING and DEAD refuse new calls. A
restart bumps ``incarnation``: completions of calls started by an older incarnation are
ignored, because the restart already re-queued them (``max_task_retries``) or failed them.
Everything here runs on the host loop, except :meth:`Lifecycle.kill`,
:meth:`Lifecycle.monitor` and :meth:`Lifecycle.begin_stop`, which any thread may call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os
import threading
from collections.abc import Callable
from threading import get_ident
from typing import Any

from .._context import current_actor
from .._mailbox import Call, CallExtra, Lane, fail, first_ref
from .._ref import ObjectRef, deliver, has_refs, pending_refs, resolve_refs, when_all_done
from .._spec import MethodSpec
from .._stats import ActorState, CallStats, make_state
from ..exceptions import ActorDiedError, TaskError
from ._base import STOP_HOOK_TIMEOUT_S, Watchable

__all__ = ["Lifecycle", "died"]

log = logging.getLogger("actorio")

_running_loop = asyncio._get_running_loop

# Ordered so that "state > _ALIVE" means "refuse new calls". _PENDING_STOPPING: shutdown began
# while the actor was being built; it serves what it accepted once built, then stops.
_PENDING, _ALIVE, _STOPPING, _DEAD, _PENDING_STOPPING = 0, 1, 2, 3, 4

#: The locks actors use, shared: one per actor would be 88 B of each idle actor's footprint.
#: An actor's lock guards only short sections that never take another actor's lock, so
#: sharing cannot deadlock (and they are reentrant, should two that share one ever nest).
_LOCKS = tuple(threading.RLock() for _ in range(64))


def lock_for(actor: object) -> Any:
    """The shared lock that guards ``actor``."""
    return _LOCKS[(id(actor) >> 4) % len(_LOCKS)]


START_HOOK = "__actorio_start__"
STOP_HOOK = "__actorio_stop__"


class Lifecycle(Watchable):
    """State and transitions shared by every in-process actor (the base of LocalActor)."""

    __slots__ = (
        "__weakref__",
        "actor_id",
        "ctx",
        "death",
        "ending",
        "executor",
        "finished",
        "host_thread",
        "idle_waiters",
        "incarnation",
        "inflight",
        "init_args",
        "instance",
        "lane_index",
        "lanes",
        "lock",
        "loop",
        "mode",
        "name",
        "namespace",
        "on_death",
        "options",
        "restart_count",
        "restart_marks",
        "restarts_left",
        "spec",
        "state",
        "stats",
        "supervisor",
    )

    # Set by LocalActor.__init__; declared here for the type checker.
    actor_id: str
    ctx: Any
    death: ActorDiedError | None
    executor: concurrent.futures.ThreadPoolExecutor | None
    host_thread: int | None
    inflight: dict[int, tuple[Lane, Call, asyncio.Task[None] | None]]
    instance: Any
    lanes: tuple[Lane, ...]
    lane_index: dict[str | None, int]
    lock: Any
    loop: asyncio.AbstractEventLoop
    name: str | None
    namespace: str
    on_death: Callable[[Any], None]
    options: Any
    spec: Any
    state: int

    def init_lifecycle(self) -> None:
        self.incarnation = 0
        self.restarts_left: int = self.options.max_restarts
        self.restart_count = 0
        #: per lane, the last call queued when kill(no_restart=False) was called (see kill)
        self.restart_marks: dict[Lane, Call | None] | None = None
        self.stats = CallStats()
        self.init_args: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})
        self.monitors: tuple[ObjectRef[Any], ...] = ()
        self.idle_waiters: tuple[concurrent.futures.Future[None], ...] = ()
        self.room_waiters: tuple[ObjectRef[Any], ...] = ()
        self.ending = False  # _finalize has begun: no more restarts or second finalize
        self.finished = False  # dead, stop hook done, monitors told
        #: a Supervisor deciding restarts instead of max_restarts, when supervised
        self.supervisor: Any = None

    # -- hooks the mailbox code calls -----------------------------------------------------------

    def _drain(self, lane: Lane) -> None:  # implemented by LocalActor
        raise NotImplementedError

    def snapshot(self) -> ActorState:
        """What the state API reports about this actor (any thread)."""
        state = self.state
        if state == _ALIVE:
            label = "ALIVE"
        elif state == _PENDING:
            label = "RESTARTING" if self.restart_count else "PENDING_CREATION"
        elif state == _DEAD:
            label = "DEAD"
        else:
            label = "STOPPING"
        lanes = self.lanes
        depth = sum(len(lane.queue) for lane in lanes)
        running = sum(lane.running + lane.draining for lane in lanes)
        pid = os.getpid()
        return make_state(self, "local", label, pid, self.restart_count, depth, running, self.stats)

    def describe(self) -> str:
        named = f" named {self.name!r} in namespace {self.namespace!r}" if self.name else ""
        return f"actor {self.spec.name} (id {self.actor_id}){named}"

    def qualname(self, method: MethodSpec) -> str:
        return f"{self.spec.name}.{method.name}"

    @property
    def alive(self) -> bool:
        return self.state != _DEAD

    def rejection(self) -> ActorDiedError:
        """The error for a call submitted to a stopping or dead actor."""
        if self.death is not None:
            return self.death
        return died(self, "it is shutting down and accepts no new calls")

    def to_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the host loop, in the actor's context (from any thread; at once
        when already on the loop)."""
        if _running_loop() is self.loop:
            me = current_actor.get()
            if me is not None and me() is self:
                fn(*args)  # already in our context (or a copy of it)
            else:
                self.ctx.run(fn, *args)
            return
        try:
            self.loop.call_soon_threadsafe(fn, *args, context=self.ctx)
        except RuntimeError:  # the host loop is closed; nobody is left to tell
            pass

    def call_finished(self, lane: Lane, call: Call, generation: int) -> None:
        """A call that ran as a task or on a thread is over: free its slot, drain on."""
        if generation != self.incarnation:
            return  # a restart or death already took care of it
        del self.inflight[id(call)]
        lane.running -= 1
        if lane.scheduled and (self.state == _ALIVE or self.state == _STOPPING):
            self._drain(lane)  # room again; drain also clears 'scheduled' if nothing is left
        if self.idle_waiters or self.options.max_pending_calls >= 0:
            self.lane_idle()

    def lane_idle(self) -> None:
        """Wake whoever waits for room in the mailbox or for the actor to be idle."""
        if self.options.max_pending_calls >= 0:
            # Under the lock: room() checks and registers under it, so no wake-up is missed.
            with self.lock:
                waiters, self.room_waiters = self.room_waiters, ()
            for w in waiters:
                deliver(w, None, self.loop)
        if (
            self.idle_waiters
            and self.state != _PENDING_STOPPING
            and not self.inflight
            and not any(ln.queue for ln in self.lanes)
        ):
            idle, self.idle_waiters = self.idle_waiters, ()
            for cf in idle:
                if not cf.done():
                    cf.set_result(None)

    def drain_refused(self, lane: Lane) -> None:
        """A drain ran while the actor was not serving: fail the lane's calls if it is dead."""
        if self.state == _DEAD:
            with self.lock:
                calls = lane.take_all()
                lane.scheduled = False
            for call in calls:
                fail(call[3], self.rejection(), _running_loop())

    # -- construction ---------------------------------------------------------------------------

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Schedule the constructor (any thread); calls submitted meanwhile queue behind it."""
        self.init_args = (args, kwargs)
        if _running_loop() is self.loop:  # never inside .remote(): it returns at once
            self.loop.call_soon(self._construct, context=self.ctx)
        else:
            self.loop.call_soon_threadsafe(self._construct, context=self.ctx)

    def _construct(self, generation: int = 0) -> None:
        self.host_thread = get_ident()
        if self.state == _DEAD or generation != self.incarnation:
            return  # killed before it was built, or a later restart superseded this one
        args, kwargs = self.init_args
        if has_refs(args, kwargs):
            waiting = pending_refs(args, kwargs)
            if waiting:
                when_all_done(waiting, self.loop, lambda: self.to_loop(self._construct, generation))
                return
            try:
                self.init_args = args, kwargs = resolve_refs(args, kwargs)
            except Exception as exc:
                self._construction_failed(exc)
                return
        if self.executor is not None:  # threaded actors build off the loop, too
            self.executor.submit(self.ctx.copy().run, self._build_in_thread, generation)
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
        hook = getattr(type(instance), START_HOOK, None)
        if hook is None:
            self._serve(instance)
            return
        try:
            result = hook(instance)
        except Exception as exc:
            self._construction_failed(exc, hook_name=START_HOOK)
            return
        if not inspect.isawaitable(result):
            self._serve(instance)
            return
        generation = self.incarnation

        def started(task: asyncio.Future[Any]) -> None:
            if generation != self.incarnation:
                return
            exc = task.exception() if not task.cancelled() else asyncio.CancelledError()
            if exc is not None:
                self._construction_failed(exc, hook_name=START_HOOK)
            else:
                self._serve(instance)

        asyncio.ensure_future(result, loop=self.loop).add_done_callback(started)

    def _serve(self, instance: Any) -> None:
        if self.state == _DEAD:  # killed while it was being built: give it a chance to clean up
            self._run_stop_hook(instance, lambda: None)
            return
        self.instance = instance
        with self.lock:
            if self.state == _PENDING:
                self.state = _ALIVE
            elif self.state == _PENDING_STOPPING:
                self.state = _STOPPING
        for lane in list(self.lanes):
            self._drain(lane)

    def _construction_failed(
        self, exc: BaseException, generation: int | None = None, hook_name: str = "__init__"
    ) -> None:
        if generation is not None and generation != self.incarnation:
            return
        cause = TaskError.from_exception(f"{self.spec.name}.{hook_name}", exc)
        what = "its constructor raised" if hook_name == "__init__" else f"its {hook_name} raised"
        self._failed(died(self, what, cause), restart=True)

    # -- retries --------------------------------------------------------------------------------

    def _retry_budget(self, method: MethodSpec, extra: CallExtra | None) -> tuple[int, Any]:
        options = extra.options if extra is not None and extra.options else method.options
        retries = self.options.max_task_retries
        retry_on = self.options.retry_exceptions
        if options is not None:
            if options.max_task_retries is not None:
                retries = options.max_task_retries
            if options.retry_exceptions is not None:
                retry_on = options.retry_exceptions
        return retries, retry_on

    def _retried(self, call: Call) -> Call | None:
        """The call with one more attempt counted, or None when its retries are used up."""
        method, args, kwargs, ref, extra = call
        retries, _ = self._retry_budget(method, extra)
        attempts = extra.attempts if extra is not None else 0
        if retries != -1 and attempts >= retries:
            return None
        if extra is None:
            extra = CallExtra(False, (), None, attempts + 1)
        else:
            extra.attempts = attempts + 1
        return (method, args, kwargs, ref, extra)

    def retry_on_error(self, lane: Lane, call: Call, exc: BaseException) -> bool:
        """Re-queue a call whose method raised, at the head of its lane, if its
        ``retry_exceptions`` match and retries remain. True if it was re-queued."""
        method, _, _, _, extra = call
        _, retry_on = self._retry_budget(method, extra)
        if not retry_on or (retry_on is not True and not isinstance(exc, retry_on)):
            return False
        again = self._retried(call)
        if again is None:
            return False
        lane.open().appendleft(again)
        lane.scheduled = True
        if lane.running >= lane.limit or not _is_inline(self, method):
            self.loop.call_soon(self._drain, lane, context=self.ctx)
        return True

    # -- death and restart ----------------------------------------------------------------------

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        """Kill the actor (any thread): for good, or to be restarted (``restart=True``)."""
        with self.lock:
            if self.state == _DEAD:
                return
            if restart:
                self.state = _PENDING  # new calls wait for the next incarnation
                # The restart itself runs later, on the loop: calls queued meanwhile (from
                # other threads) were not caught by this failure, so they must not spend a
                # retry, or be failed for having none. Mark where the caught ones end.
                self.restart_marks = {lane: _last(lane.queue) for lane in self.lanes}
            else:
                self.state = _DEAD
                self.death = err
        if self.loop.is_closed():
            self.loop_closed()
            return
        self.to_loop(self._failed, err, restart, forced)

    def loop_closed(self) -> None:
        """The host loop is gone: nothing can run here any more."""
        err = died(self, "its event loop was closed")
        with self.lock:
            if self.state == _DEAD:
                return
            self.state = _DEAD
            self.death = err
        self._finalize(err)

    def exited(self, ref: Any) -> None:
        """The running method called ``actorio.exit_actor()``."""
        self.kill(died(self, "it called actorio.exit_actor()"))
        fail(ref, self.death or died(self, "it exited"), self.loop)

    def _failed(self, err: ActorDiedError, restart: bool, forced: bool = False) -> None:
        if self.ending:
            return
        if restart and not forced:
            if self.supervisor is not None:
                restart = self.supervisor.child_failed(self, err)
            else:
                restart = self.restarts_left != 0
        if restart:
            self._restart(err)
        else:
            with self.lock:
                self.state = _DEAD
                if self.death is None:
                    self.death = err
            self._finalize(self.death or err)

    def _restart(self, err: ActorDiedError) -> None:
        self.restart_count += 1
        if self.restarts_left > 0:
            self.restarts_left -= 1
        old = self.instance
        self.instance = None
        if self.executor is not None:
            # A sync call of the old instance cannot be interrupted and may hold a worker for
            # long: the new instance gets its own threads; the old ones end with their calls.
            self.executor.shutdown(wait=False)
            self.executor = concurrent.futures.ThreadPoolExecutor(
                self.executor._max_workers, thread_name_prefix=f"actorio-{self.spec.name}"
            )
        # Calls that never reached an instance (the constructor failed) just wait for the
        # next one; after a life, in-flight and queued calls are retried per max_task_retries.
        kept, dropped = self._reset_calls(retry=True, free=old is None)
        with self.lock:
            self.state = _PENDING
            for lane, calls in kept.items():
                lane.open().extendleft(reversed(calls))
                lane.scheduled = True
        reason = (
            f"The {self.describe()} died ({err.args[0]}) and is restarting; this call was "
            f"in flight or queued and its retries (max_task_retries) are used up."
        )
        for call in dropped:
            fail(call[3], ActorDiedError(reason, err), self.loop)
        # A fresh callback, not a nested call: no exception context chains from the failure
        # and no recursion when a constructor keeps failing (max_restarts=-1).
        self._run_stop_hook(old, self._construct_soon)

    def _construct_soon(self) -> None:
        self.loop.call_soon(self._construct, self.incarnation, context=self.ctx)

    def _reset_calls(
        self, retry: bool, free: bool = False
    ) -> tuple[dict[Lane, list[Call]], list[Call]]:
        """Take every running and queued call out; sort them into kept (to re-queue, in their
        original order: running first) and dropped. Running tasks are cancelled. ``free``:
        queued calls are kept without counting a retry, and so are those queued after the
        kill that asked for this restart."""
        self.incarnation += 1  # completions of what runs now are stale from here on
        marks, self.restart_marks = self.restart_marks, None
        running = list(self.inflight.values())
        self.inflight.clear()
        kept: dict[Lane, list[Call]] = {lane: [] for lane in self.lanes}
        dropped: list[Call] = []
        for lane, call, task in running:
            if task is not None:
                try:
                    task.cancel()
                except RuntimeError:  # its loop is closed: it will never run again anyway
                    pass
            again = self._retried(call) if retry else None
            (kept[lane].append(again) if again is not None else dropped.append(call))
        with self.lock:
            for lane in self.lanes:
                lane.running = 0
                lane.paused = False
                queued = lane.take_all()
                caught = len(queued) if marks is None else _caught(queued, marks.get(lane))
                for index, call in enumerate(queued):
                    ref = first_ref(call[3])
                    if ref is not None and ref.done():
                        continue  # cancelled meanwhile
                    if not retry:
                        again = None
                    elif free or call[0].builtin or index >= caught:
                        again = call
                    else:
                        again = self._retried(call)
                    (kept[lane].append(again) if again is not None else dropped.append(call))
        return kept, dropped

    def _finalize(self, err: ActorDiedError) -> None:
        """Dead for good: fail every call, run the stop hook, tell the monitors."""
        if self.ending:
            return
        self.ending = True
        _, dropped = self._reset_calls(retry=False)
        with self.lock:
            for lane in self.lanes:
                lane.scheduled = False
        here = _running_loop()
        for call in dropped:
            fail(call[3], err, here)
        if self.executor is not None:
            self.executor.shutdown(wait=False)
        old, self.instance = self.instance, None
        if here is self.loop:
            self._run_stop_hook(old, lambda: self._notify(err))
        else:  # the loop is closed: no hook can run, but nobody may wait forever
            self._notify(err)

    def _notify(self, err: ActorDiedError) -> None:
        with self.lock:
            self.finished = True
            monitors, self.monitors = self.monitors, ()
            idle, self.idle_waiters = self.idle_waiters, ()
            rooms, self.room_waiters = self.room_waiters, ()
        here = _running_loop()
        for ref in monitors:
            deliver(ref, err, here)  # type: ignore[arg-type]  # None: always thread-safe
        for w in rooms:
            deliver(w, None, here)  # type: ignore[arg-type]
        for cf in idle:
            if not cf.done():
                cf.set_result(None)
        self.on_death(self)

    def _run_stop_hook(self, instance: Any, then: Callable[[], None]) -> None:
        """Run ``__actorio_stop__`` on a retiring instance (awaiting it if async), then ``then``."""
        hook = getattr(type(instance), STOP_HOOK, None) if instance is not None else None
        if hook is None:
            then()
            return
        try:
            result = hook(instance)
        except Exception:
            log.exception("%s.%s raised; the actor stops anyway", self.spec.name, STOP_HOOK)
            then()
            return
        if not inspect.isawaitable(result):
            then()
            return

        async def bounded() -> None:
            try:
                await asyncio.wait_for(result, STOP_HOOK_TIMEOUT_S)
            except Exception:
                log.exception("%s.%s failed; the actor stops anyway", self.spec.name, STOP_HOOK)
            finally:
                then()

        self.loop.create_task(bounded(), context=self.ctx.copy())

    # -- watching and stopping from outside -----------------------------------------------------

    def pending_calls(self) -> int:  # implemented by LocalActor
        raise NotImplementedError

    def begin_stop(self) -> concurrent.futures.Future[None]:
        """Refuse new calls from now on; the future completes when accepted calls are done."""
        cf: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self.lock:
            if self.state == _DEAD:
                cf.set_result(None)
                return cf
            if self.state == _ALIVE:
                self.state = _STOPPING
            elif self.state == _PENDING:
                self.state = _PENDING_STOPPING
            self.idle_waiters += (cf,)
        self.to_loop(self.lane_idle)
        return cf


def died(actor: Lifecycle, why: str, cause: BaseException | None = None) -> ActorDiedError:
    return ActorDiedError(
        f"The {actor.describe()} is dead: {why}. Calls to it fail from now on; create a new "
        f"actor to continue.",
        cause,
    )


def _last(queue: Any) -> Call | None:
    try:
        return queue[-1]  # type: ignore[no-any-return]
    except IndexError:  # empty (the loop thread may pop meanwhile)
        return None


def _caught(queued: list[Call], mark: Call | None) -> int:
    """How many of ``queued`` were queued up to ``mark``; 0 if it is gone (it started)."""
    for index, call in enumerate(queued):
        if call is mark:
            return index + 1
    return 0


def _is_inline(actor: Lifecycle, method: MethodSpec) -> bool:
    return not method.is_async and (actor.executor is None or method.builtin)
