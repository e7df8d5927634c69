"""The driver's side of a process actor: a proxy that forwards calls to its worker process.

Calls are pickled in the caller's thread (so an unpicklable argument fails right there, with
a clear error) and written to the worker's socket under a lock (:mod:`._process_calls`); one
reader thread per worker process (:mod:`._process_link`) turns replies into ref results with
``call_soon_threadsafe``. When the worker process dies (killed, crashed, exited) the reader
sees end-of-file at once: calls in flight fail with ``ActorDiedError`` or, per
``max_task_retries``, are sent again to a fresh worker process if ``max_restarts`` allows one.
``kill(no_restart=False)`` (and a supervisor restarting a sibling) asks the worker to stop
first, so the stop hook runs on the retiring instance as in-process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import weakref
from typing import Any

from .._mailbox import fail, fail_new, first_ref, make_refs
from .._options import ActorOptions, Mode
from .._ref_args import has_refs, pending_refs
from .._seam import STOP_HOOK_TIMEOUT_S
from .._spec import ClassSpec, MethodSpec
from .._stats import ActorState, make_state
from ..exceptions import ActorDiedError, InvalidOptionsError, TaskError
from . import _objects, _wire
from ._base import Forwarding, checked_remote, settle_soon
from ._messages import (
    Call,
    Dead,
    Forward,
    Forwarded,
    Kill,
    Lookup,
    Message,
    Result,
    Settle,
    Stop,
    Watch,
)
from ._process_calls import AllDone, Calls, PendingCall
from ._process_children import ChildChannel
from ._process_frames import call_frame, create_frame, shared_args
from ._process_hub import serve
from ._process_link import WorkerLink
from ._remote import call_options_dict

__all__ = ["ProcessActor"]

log = logging.getLogger("actorio")

_running_loop = asyncio._get_running_loop


class _RemoteWork:
    """What ``actorio.cancel`` reaches through a ref: asks the worker to cancel the call. It
    holds the actor weakly: a ref kept after its call does not keep the actor alive."""

    __slots__ = ("actor", "call_id", "what")

    def __init__(self, actor: ProcessActor, call_id: int, what: str) -> None:
        self.actor = weakref.ref(actor)
        self.call_id = call_id
        self.what = what

    def cancel(self) -> bool:
        actor = self.actor()
        if actor is not None:
            actor.cancelled(self.call_id)
        return True

    def describe(self) -> str | None:
        """The call's name once the worker has it (it may be running), else None."""
        actor = self.actor()
        entry = actor.pending.get(self.call_id) if actor is not None else None
        return self.what if entry is not None and entry.sent else None


class ProcessActor(ChildChannel, Forwarding):
    """One actor hosted by its own worker process."""

    kind = "process actor"

    def __init__(
        self,
        actor_id: str,
        spec: ClassSpec,
        options: ActorOptions,
        mode: Mode,
        limit: int,
        loop: asyncio.AbstractEventLoop,
        namespace: str,
        on_death: Any,
    ) -> None:
        self.init_core(actor_id, spec, options, mode, loop, namespace, on_death, threading.Lock())
        self.limit = limit  # the default group's max_concurrency, as resolved
        self.groups = set(options.concurrency_groups)
        self.idle_waiters: tuple[concurrent.futures.Future[None], ...] = ()
        self.stopping = False
        self.forced_restart = False
        #: why kill(no_restart=False) stopped the worker, until the reader sees it gone
        self.restart_reason: ActorDiedError | None = None
        #: guards writes to the worker, and the death and restart fields, together
        self.send_lock = threading.Lock()
        #: the constructor's arguments, resolved: each worker's Create frame is made of them
        self.init_args: tuple[tuple[Any, ...], dict[str, Any]] = ((), {})
        # (its stats count the calls as the driver sees them: round trips)
        self.calls = Calls(self, spec.name, self.stats, self.send_lock)
        self.pending: dict[int, PendingCall] = self.calls.pending  # what Forwarding counts
        self.init_channel()
        # Released (every handle dropped, no call pending): its worker is stopped. Not at
        # exit: the graceful shutdown stops workers there, after their last calls.
        weakref.finalize(self, self.calls.release).atexit = False

    # -- the worker process ---------------------------------------------------------------------

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Start the worker; with ref arguments still running, once they are done (calls made
        meanwhile wait, in order)."""
        waiting = pending_refs(args, kwargs) if has_refs(args, kwargs) else []
        if not waiting:
            self._start_worker(args, kwargs, raising=True)
            return
        when_done = AllDone(len(waiting), lambda: self._start_worker(args, kwargs, False))
        for r in waiting:
            r.future().add_done_callback(when_done)

    def _start_worker(self, args: tuple[Any, ...], kwargs: dict[str, Any], raising: bool) -> None:
        try:
            self.init_args = shared_args(args, kwargs, f"{self.spec.name}.__init__")
        except Exception as exc:  # a ref argument failed: the actor dies, as in-process
            self._worker_gone(self.construction_error(exc), intentional=True, unserved=True)
            return
        try:
            first = self._create_frame()
        except Exception as exc:
            if raising:  # at the call site: an unpicklable argument, say
                raise
            self._worker_gone(
                ActorDiedError(
                    f"The {self.describe()} is dead: its constructor arguments failed ({exc}).",
                    exc,
                ),
                intentional=True,
                unserved=True,
            )
            return
        self._spawn(first)
        with self.send_lock:
            self.calls.held = False
            self.calls.flush()

    def _create_frame(self) -> bytes | _wire.Frame:
        args, kwargs = self.init_args
        return create_frame(
            self.spec,
            self.options,
            self.mode,
            self.actor_id,
            self.namespace,
            args,
            kwargs,
            self.restart_count,
        )

    def _spawn(self, first: bytes | _wire.Frame | None = None) -> WorkerLink:
        """A new worker, sent its Create frame (made now unless given)."""
        link = WorkerLink(self, first or self._create_frame())
        self.calls.link = link  # before its reader starts: what it reports needs the pid
        link.listen(f"actorio-proc-{self.spec.name}")
        return link

    def worker_said(self, message: Message) -> None:
        """One message from the worker (reader thread), except ``Dead``."""
        match message:
            case Result(call_id, ok, value):
                if (
                    not ok
                    and isinstance(value, ActorDiedError)
                    and not isinstance(value, TaskError)
                ):
                    # The worker's actor died (a method raising ActorDiedError arrives as a
                    # TaskError instead): the end of the worker settles the call.
                    return
                if self.calls.answered(call_id, ok, value):
                    if self.idle_waiters:
                        self._check_idle()
                    if self.options.max_pending_calls >= 0:
                        self._wake_room()
            case Settle():
                _objects.settled(self.promises, message)
            case Forwarded():
                self.forwarded(message)
            case Forward() | Watch() | Lookup() | Kill():
                # The worker's handles to actors hosted elsewhere.
                try:
                    # Answered to the worker that asked (not to a successor after a restart).
                    link = self.calls.link
                    serve(message, lambda m: self.send_control(m, link))
                except Exception:  # the reader thread must live on: it settles every call
                    kind = type(message).__name__.lower()
                    log.exception("%s: cannot serve %r", self.describe(), kind)

    def worker_ended(self, dead: Dead | None, code: int) -> None:
        """The worker process is gone (reader thread): why, then a restart or the end."""
        with self.send_lock:
            asked, self.restart_reason = self.restart_reason, None
        intentional = dead is not None and dead.intentional
        if asked is not None and not intentional:
            # Stopped (or SIGKILLed after the grace period) for kill(no_restart=False): say
            # so, rather than how the process ended. A worker whose actor ended on its own
            # first says intentional, and stays dead, as in-process.
            reason = asked
        elif dead is not None:
            reason = self._restate(dead)
        else:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            why = f"its worker process ended ({how})"
            reason = ActorDiedError(f"The {self.describe()} died: {why}.", why=why)
        # A worker whose actor was never built ran none of the calls sent to it.
        unserved = dead is not None and dead.constructor_failed
        self._worker_gone(reason, intentional, unserved)

    def _restate(self, dead: Dead) -> ActorDiedError:
        """The worker's reason for its actor's death, told about this actor (the worker knows
        it by another description)."""
        return self.died(dead.why, dead.cause)

    def _worker_gone(self, reason: ActorDiedError, intentional: bool, unserved: bool) -> None:
        self.fail_held(reason)  # the refs it promised, the calls to its children
        with self.send_lock:
            forced, self.forced_restart = self.forced_restart, False
            restart = not intentional and self.death is None
            if restart and not forced:
                restart = self.restart_allowed(reason)
            if restart:
                self.restart_count += 1
                if self.restarts_left > 0 and not forced and self.supervisor is None:
                    self.restarts_left -= 1
                failed = self.calls.resume(self._spawn(), unserved)
            else:
                if self.death is None:
                    self.death = reason
                failed = self.calls.drop_all()
        for entry in failed:
            fail(
                entry.ref,
                self.lost_call(entry, reason) if restart else (self.death or reason),
                None,
            )
        if not restart:
            self._notify()
        elif failed and self.options.max_pending_calls >= 0:
            self._wake_room()

    def lost_call(self, entry: PendingCall, reason: ActorDiedError) -> Exception:
        """The error of a call the dead worker had, whose retries are used up, while the
        actor restarts (a task host words it as a task's)."""
        return ActorDiedError(
            f"The {self.describe()} died ({reason.args[0]}) and is restarting; this call was "
            f"in flight or queued and its retries (max_task_retries={entry.retries}) are used "
            f"up.",
            reason,
        )

    def _wake_room(self) -> None:
        # Always under the lock, after the call left ``pending``: room() checks and registers
        # under it too, so a waiter either sees the room or is seen here.
        with self.lock:
            waiters, self.room_waiters = self.room_waiters, ()
        for ref in waiters:
            settle_soon(ref, None)

    def _notify(self) -> None:
        with self.lock:
            self.finished = True
            monitors, self.monitors = self.monitors, ()
            idle, self.idle_waiters = self.idle_waiters, ()
        self._wake_room()
        for ref in monitors:
            settle_soon(ref, self.death)
        for cf in idle:
            if not cf.done():
                cf.set_result(None)
        self.on_death(self)

    # -- calls ----------------------------------------------------------------------------------

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
        options: Any = None,
        *,
        what: str | None = None,
        retries: int | None = None,
    ) -> Any:
        """Send a call (``what`` names it in errors: a task host runs a task's function;
        ``retries``: its re-sends after a worker death, a task's ``max_retries``, instead of
        the method's ``max_task_retries``)."""
        loop = _running_loop()
        ref = make_refs(loop, self.loop, num_returns)
        what = what or self.qualname(method)
        if self.refuse(ref):
            return ref
        self.check_room(method, self.options.max_pending_calls)
        calls = self.calls
        call_id = next(calls.ids)
        options = options or method.options
        if retries is None:
            retries, _ = self.retry_policy(method, options)
        entry = PendingCall(ref, method, retries, what)
        with_refs = has_refs(args, kwargs)
        waiting = pending_refs(args, kwargs) if with_refs else []
        if with_refs and not waiting:
            try:
                args, kwargs = shared_args(args, kwargs, what)
            except Exception as exc:  # a ref argument failed: so does this call
                fail_new(ref, exc)
                return ref
        call = Call(
            call_id, method.name, args, kwargs, num_returns, group, call_options_dict(options)
        )
        if not waiting:
            # Pickled here, in the caller: an unpicklable argument raises right at the call.
            entry.frame = call_frame(call, self.spec.name)
        with self.send_lock:
            if self.death is not None:
                fail_new(ref, self.death)
                return ref
            # num_returns=0 too: the worker answers it (without a value), and graceful stop
            # waits for it like any other call.
            calls.add(call_id, entry)
            first = first_ref(ref)
            if first is not None:
                first._actorio_work = _RemoteWork(self, call_id, what)
            calls.put(entry)
        if waiting:  # sent once its ref arguments are done; the calls after it wait behind it
            calls.send_when_done(waiting, entry, call, what)
        return ref

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Any:
        if group is not None and group not in self.groups:
            raise InvalidOptionsError(
                f"{self.describe()} has no concurrency group {group!r}; it has "
                f"{sorted(self.groups)}"
            )
        return checked_remote(self, method, num_returns, group, options)

    def cancelled(self, call_id: int) -> None:
        """``actorio.cancel`` of a call (its ref has failed already): it stops counting as
        pending at once, as in-process; the worker drops or cancels it, or it is never sent."""
        if not self.calls.cancel(call_id):
            return  # answered meanwhile
        if self.options.max_pending_calls >= 0:
            self._wake_room()
        if self.idle_waiters:
            self._check_idle()

    def send_control(self, message: Message, link: WorkerLink | None = None) -> None:
        """Write a message to the worker (to the one behind ``link`` only, if given)."""
        frame = _wire.dumps(message)
        with self.send_lock:
            if link is None or self.calls.link is link:
                self.calls.write(frame)

    # -- lifecycle from outside -----------------------------------------------------------------

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        link = self.calls.link
        if link is None:
            return
        with self.send_lock:
            if self.death is not None:
                return
            if restart:
                # Calls made from now on wait for the next worker, as with a local restart.
                self.calls.held = True
                self.forced_restart = forced
                self.restart_reason = err
            else:
                self.death = err
        # The worker runs the stop hook and exits; for a restart the reader thread then starts
        # the next worker. A worker that does not exit in time is killed.
        self.send_control(Stop(restart))
        link.kill_after(STOP_HOOK_TIMEOUT_S + 1)

    def snapshot(self) -> ActorState:
        """What the state API reports: counted here, in the driver, so a worker busy with a
        long method still answers. The worker's split of its calls between queued and
        running is estimated from ``max_concurrency`` (asking would wait behind the method)."""
        if self.death is not None:
            label = "DEAD"
        elif self.calls.held:
            label = "RESTARTING" if self.restart_count else "PENDING_CREATION"
        elif self.stopping:
            label = "STOPPING"
        else:
            label = "ALIVE"
        sent = sum(1 for entry in list(self.pending.values()) if entry.sent)
        running = 0 if label == "DEAD" else min(sent, self.limit)
        depth = len(self.pending) - running
        return make_state(
            self, "process", label, self._pid(), self.restart_count, depth, running, self.stats
        )

    def where(self) -> str:
        return f", pid {self._pid()}" if self.calls.link is not None else ""

    def _pid(self) -> int:
        link = self.calls.link
        return link.proc.pid if link is not None else 0
