"""An in-process actor's life: states, retries, restarts, death, graceful stop.

States (``LocalActor.state``)::

    PENDING --constructed--> ALIVE --shutdown--> STOPPING --idle or deadline--> DEAD
       ^                       |
       +------ restart --------+  (constructor failed, kill(no_restart=False), supervisor)

Calls submitted while PENDING wait in the mailbox; STOPPING and DEAD refuse new calls. A
restart bumps ``incarnation``: completions of calls started by an older incarnation are
ignored, because the restart already re-queued them (``max_task_retries``) or failed them.
Everything here runs on the host loop, except :meth:`Lifecycle.kill`,
:meth:`Lifecycle.monitor` and :meth:`Lifecycle.begin_stop`, which any thread may call.

:class:`Lifecycle` is the abstract base of ``LocalActor``: it owns the states and their
transitions (building an instance is its base's, :class:`._local_build.Building`), and leaves
to its subclass how calls are queued (``bind``, ``submit``), run (``drain``) and counted
(``pending_calls``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Callable
from typing import Any

from .._context import current_actor
from .._mailbox import Call, Lane, complete, fail
from .._ref import ObjectRef, deliver
from .._seam import ActorExit
from .._spec import MethodSpec
from .._stats import ActorState, make_state
from ..exceptions import ActorDiedError, TaskError
from ._local_build import (
    ALIVE,
    DEAD,
    NO_ARGS,
    NO_CALLS_RUNNING,
    PENDING,
    PENDING_STOPPING,
    STOPPING,
    Building,
    lock_for,
)
from ._local_hooks import run_stop_hook
from ._local_lanes import last_queued, retried, take_calls

__all__ = ["ALIVE", "DEAD", "PENDING", "PENDING_STOPPING", "STOPPING", "Lifecycle", "lock_for"]

_running_loop = asyncio._get_running_loop


class Lifecycle(Building):
    """The states and transitions of an in-process actor (the base of ``LocalActor``)."""

    __slots__ = (
        "__weakref__",
        "ctx",
        "ending",
        "idle_waiters",
        "incarnation",
        "inflight",
        "lane_index",
        "lanes",
        "placement",
        "restart_marks",
    )

    # Set by LocalActor.__init__; declared here (and in Building) for the type checker.
    inflight: dict[int, tuple[Lane, Call, asyncio.Task[None] | None]]
    lane_index: dict[str | None, int]
    # The calls' side, provided by LocalActor (ActorCore's bind and submit).
    bind: Callable[..., Callable[..., Any]]
    submit: Callable[..., Any]

    def init_lifecycle(self) -> None:
        self.incarnation = 0
        #: per lane, the last call queued when kill(no_restart=False) was called (see kill)
        self.restart_marks: dict[Lane, Call | None] | None = None
        self.init_args = NO_ARGS
        self.idle_waiters: tuple[concurrent.futures.Future[None], ...] = ()
        self.ending = False  # _finalize has begun: no more restarts or second finalize

    # -- state ----------------------------------------------------------------------------------

    def snapshot(self) -> ActorState:
        """What the state API reports about this actor (any thread)."""
        state = self.state
        if state == ALIVE:
            label = "ALIVE"
        elif state == PENDING:
            label = "RESTARTING" if self.restart_count else "PENDING_CREATION"
        elif state == DEAD:
            label = "DEAD"
        else:
            label = "STOPPING"
        lanes = self.lanes
        depth = sum(len(lane.queue) for lane in lanes)
        running = sum(lane.running + lane.draining for lane in lanes)
        pid = os.getpid()
        return make_state(self, "local", label, pid, self.restart_count, depth, running, self.stats)

    @property
    def alive(self) -> bool:
        return self.state != DEAD

    def start_on_thread(self, lane: Lane, call: Call) -> int:
        """Count ``call`` as running in ``lane`` (host loop, or under the lock with the lane
        idle); its incarnation, which the thread's outcome must still match."""
        lane.running += 1
        self.track(call, (lane, call, None))
        return self.incarnation

    def track(self, call: Call, entry: tuple[Lane, Call, asyncio.Task[None] | None]) -> None:
        """Count a call running as a task or on a thread (host loop, or under the lock)."""
        if self.inflight is NO_CALLS_RUNNING:
            self.inflight = {}
        self.inflight[id(call)] = entry

    def still_serving(self, generation: int) -> bool:
        """True if the instance of ``generation`` is the live one, not killed or restarting
        (read under the actor's lock by a worker thread with a result)."""
        return self.incarnation == generation and (self.state == ALIVE or self.state == STOPPING)

    def rejection(self) -> ActorDiedError:
        """The error for a call submitted to a stopping or dead actor."""
        if self.death is not None:
            return self.death
        return self.died("it is shutting down and accepts no new calls")

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
        inflight = self.inflight
        del inflight[id(call)]
        if not inflight:
            with self.lock:  # a call started on a thread in another thread tracks under it
                if not inflight:
                    self.inflight = NO_CALLS_RUNNING
        lane.running -= 1
        if lane.scheduled and (self.state == ALIVE or self.state == STOPPING):
            self.drain(lane)  # room again; drain also clears 'scheduled' if nothing is left
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
            and self.state != PENDING_STOPPING
            and not self.inflight
            and not any(ln.queue for ln in self.lanes)
        ):
            idle, self.idle_waiters = self.idle_waiters, ()
            for cf in idle:
                if not cf.done():
                    cf.set_result(None)

    def drain_refused(self, lane: Lane) -> None:
        """A drain ran while the actor was not serving: fail the lane's calls if it is dead."""
        if self.state == DEAD:
            with self.lock:
                calls = lane.take_all()
                lane.scheduled = False
            for call in calls:
                fail(call[3], self.rejection(), _running_loop())

    # -- outcomes of calls that ran as tasks or on threads (or failed) ---------------------------

    def call_failed(
        self, method: MethodSpec, ref: Any, exc: BaseException, latency: float | None
    ) -> None:
        """A method raised (and is not retried): count it, fail its ref(s) with a TaskError."""
        err = TaskError.from_exception(self.qualname(method), exc)
        self.stats.error(latency, method.name, err)
        fail(ref, err, self.loop)

    def deliver(self, ref: Any, result: Any, method: MethodSpec) -> None:
        """Set a finished call's result: directly on a plain ref of this loop (the usual),
        else through ``complete`` (other loops, several refs)."""
        if type(ref) is ObjectRef and ref._loop is self.loop:
            if not ref.done():
                ref.set_result(result)
        else:
            complete(ref, result, self.loop, self.qualname(method))

    def finish_call(
        self,
        lane: Lane,
        call: Call,
        generation: int,
        result: Any,
        error: BaseException | None,
        elapsed: float,
    ) -> None:
        """A call that ran as a task or on a thread returned or raised (host loop)."""
        method, _, _, ref, _ = call
        if self.incarnation == generation:
            if isinstance(error, ActorExit):
                self.exited(ref, error)
            elif error is not None:
                if not self.retry_on_error(lane, call, error):
                    self.call_failed(method, ref, error, elapsed)
            else:
                self.stats.ok(elapsed)
                self.deliver(ref, result, method)
        self.call_finished(lane, call, generation)

    # -- retries --------------------------------------------------------------------------------

    def _retried(self, call: Call) -> Call | None:
        """The call with one more attempt counted, or None when its retries are used up."""
        extra = call[4]
        retries, _ = self.retry_policy(call[0], extra.options if extra is not None else None)
        return retried(call, retries)

    def retry_on_error(self, lane: Lane, call: Call, exc: BaseException) -> bool:
        """Re-queue a call whose method raised, at the head of its lane, if its
        ``retry_exceptions`` match and retries remain. True if it was re-queued."""
        method, _, _, _, extra = call
        _, retry_on = self.retry_policy(method, extra.options if extra is not None else None)
        if not retry_on or (isinstance(retry_on, tuple) and not isinstance(exc, retry_on)):
            return False
        again = self._retried(call)
        if again is None:
            return False
        lane.open().appendleft(again)
        lane.scheduled = True
        if lane.running >= lane.limit or method.is_async or not self.placement.inline:
            self.loop.call_soon(self.drain, lane, context=self.ctx)
        return True

    # -- death and restart ----------------------------------------------------------------------

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        """Kill the actor (any thread): for good, or to be restarted (``restart=True``)."""
        with self.lock:
            if self.state == DEAD:
                return
            if restart:
                self.state = PENDING  # new calls wait for the next incarnation
                # The restart itself runs later, on the loop: calls queued meanwhile (from
                # other threads) were not caught by this failure, so they must not spend a
                # retry, or be failed for having none. Mark where the caught ones end.
                self.restart_marks = {lane: last_queued(lane.queue) for lane in self.lanes}
            else:
                self.state = DEAD
                self.death = err
        if self.loop.is_closed():
            self.loop_closed()
            return
        self.to_loop(self._failed, err, restart, forced)

    def loop_closed(self) -> None:
        """The host loop is gone: nothing can run here any more. Finalized here, even when
        a kill just marked it dead (that kill cannot reach the loop), so a threaded actor's
        pool is shut down and its monitors are told."""
        with self.lock:
            if self.ending:
                return
            self.state = DEAD
            if self.death is None:
                self.death = self.died("its event loop was closed")
            err = self.death
        self._finalize(err)

    def exited(self, ref: Any, how: BaseException) -> None:
        """The running method called ``actorio.exit_actor()`` (or ``sys.exit()``: ``how``
        says which)."""
        self.kill(self.died(str(how.args[0]) if how.args else "it called actorio.exit_actor()"))
        fail(ref, self.death or self.died("it exited"), self.loop)

    def _failed(self, err: ActorDiedError, restart: bool, forced: bool = False) -> None:
        if self.ending:
            return
        if restart and not forced:
            restart = self.restart_allowed(err)
        if restart:
            self._restart(err)
        else:
            with self.lock:
                self.state = DEAD
                if self.death is None:
                    self.death = err
            self._finalize(self.death or err)

    def _restart(self, err: ActorDiedError) -> None:
        self.count_restart()
        old = self.instance
        self.instance = None
        # Calls that never reached an instance (the constructor failed) just wait for the
        # next one; after a life, in-flight and queued calls are retried per max_task_retries.
        kept, dropped = self._reset_calls(retry=True, free=old is None)
        with self.lock:
            self.state = PENDING
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
        self.run_stop_hook(old, self._construct_soon)

    def _construct_soon(self) -> None:
        self.loop.call_soon(self._construct, self.incarnation, context=self.ctx)

    def _reset_calls(
        self, retry: bool, free: bool = False
    ) -> tuple[dict[Lane, list[Call]], list[Call]]:
        """Take every running and queued call out: kept (to re-queue) and dropped (see
        ``take_calls``); what runs now is stale from here on."""
        with self.lock:  # (the lock orders it with a worker thread's settle_early)
            self.incarnation += 1
        marks, self.restart_marks = self.restart_marks, None
        with self.lock:  # (a call may be started on a thread from another thread, under it)
            running = list(self.inflight.values())
            self.inflight = NO_CALLS_RUNNING
            return take_calls(self.lanes, running, marks, self._retried if retry else None, free)

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
        old, self.instance = self.instance, None
        if here is self.loop:
            self.run_stop_hook(old, lambda: self._notify(err))
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

    def run_stop_hook(self, instance: Any, then: Callable[[], None]) -> None:
        """Run ``__actorio_stop__`` on a retiring instance (awaiting it if async), then ``then``."""
        run_stop_hook(instance, self.spec.name, self.loop, self.ctx, then)

    # -- watching and stopping from outside -----------------------------------------------------

    def begin_stop(self) -> concurrent.futures.Future[None]:
        """Refuse new calls from now on; the future completes when accepted calls are done."""
        cf: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self.lock:
            if self.state == DEAD:
                cf.set_result(None)
                return cf
            if self.state == ALIVE:
                self.state = STOPPING
            elif self.state == PENDING:
                self.state = PENDING_STOPPING
            self.idle_waiters += (cf,)
        self.to_loop(self.lane_idle)
        return cf
