"""The driver's side of a process actor: a proxy that forwards calls to its worker process.

Calls are pickled in the caller's thread (so an unpicklable argument fails right there, with
a clear error) and written to the worker's socket under a lock; one reader thread per actor
turns replies into ref results with ``call_soon_threadsafe``. When the worker process dies
(killed, crashed, exited) the reader sees end-of-file at once: calls in flight fail with
``ActorDiedError`` or, per ``max_task_retries``, are sent again to a fresh worker process if
``max_restarts`` allows one. ``kill(no_restart=False)`` (and a supervisor restarting a sibling)
asks the worker to stop first, so the stop hook runs on the retiring instance as in-process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import subprocess
import threading
from collections import deque
from time import perf_counter
from typing import Any

from .._mailbox import complete, fail, fail_new, first_ref, make_refs
from .._options import ActorOptions, CallOptions, Mode
from .._portable import portable
from .._ref import ObjectRef, has_refs, pending_refs, resolve_refs, set_result_if_pending
from .._seam import STOP_HOOK_TIMEOUT_S
from .._spec import ClassSpec, MethodSpec
from .._stats import ActorState, CallStats, make_state
from ..exceptions import (
    ActorDiedError,
    InvalidOptionsError,
    TaskError,
)
from . import _wire
from ._base import Forwarding, checked_remote
from ._remote import call_options_dict
from ._spawner import spawn_worker

__all__ = ["ProcessActor"]

log = logging.getLogger("actorio")

_running_loop = asyncio._get_running_loop


class _Pending:
    """A call accepted for the worker and not answered yet."""

    __slots__ = ("attempts", "cancelled", "frame", "method", "ref", "retries", "sent", "started")

    def __init__(self, ref: Any, method: MethodSpec, frame: bytes | None, retries: int) -> None:
        self.started = perf_counter()
        self.ref = ref
        self.method = method
        self.frame = frame  # None while its ref arguments are not done
        self.retries = retries  # max_task_retries for this call (per call, method or actor)
        self.attempts = 0
        self.sent = False
        self.cancelled = False  # by actorio.cancel(): if not sent yet, it never will be


class _AllDone:
    """Calls ``then()`` once it has been called ``count`` times (from any threads)."""

    __slots__ = ("count", "lock", "then")

    def __init__(self, count: int, then: Any) -> None:
        self.count = count
        self.then = then
        self.lock = threading.Lock()

    def __call__(self, _: object) -> None:
        with self.lock:
            self.count -= 1
            last = self.count == 0
        if last:
            self.then()


class _RemoteWork:
    """What ``actorio.cancel`` reaches through a ref: asks the worker to cancel the call."""

    __slots__ = ("actor", "call_id")

    def __init__(self, actor: ProcessActor, call_id: int) -> None:
        self.actor = actor
        self.call_id = call_id

    def cancel(self) -> bool:
        self.actor.cancelled(self.call_id)
        return True


class ProcessActor(Forwarding):
    """One actor hosted by its own worker process."""

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
        self.actor_id = actor_id
        self.spec = spec
        self.options = options
        self.mode = mode
        self.limit = limit  # the default group's max_concurrency, as resolved
        self.loop = loop
        self.name = options.name
        self.namespace = namespace
        self.lock = threading.Lock()
        self.on_death = on_death
        self.groups = set(options.concurrency_groups)
        self.restarts_left = options.max_restarts
        self.death: ActorDiedError | None = None
        self.pending: dict[int, _Pending] = {}
        self.outbox: deque[_Pending] = deque()  # accepted, not sent yet (waits on ref args)
        self.monitors: tuple[ObjectRef[Any], ...] = ()
        self.room_waiters: tuple[ObjectRef[Any], ...] = ()
        self.finished = False
        self.idle_waiters: tuple[concurrent.futures.Future[None], ...] = ()
        self.stopping = False
        self.supervisor: Any = None  # set by a Supervisor: it decides restarts then
        self.forced_restart = False
        #: why kill(no_restart=False) stopped the worker, until the reader sees it gone
        self.restart_reason: ActorDiedError | None = None
        self.restarting = False  # calls wait in the outbox until the new worker is up
        self.ids = itertools.count(1)
        self.send_lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.sock: Any = None
        self.create_frame = b""
        self.stats = CallStats()  # as the driver sees the calls: round trips
        self.restart_count = 0

    # -- the worker process ---------------------------------------------------------------------

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Start the worker; with ref arguments still running, once they are done (calls made
        meanwhile wait, in order)."""
        waiting = pending_refs(args, kwargs) if has_refs(args, kwargs) else []
        if not waiting:
            self._start_worker(args, kwargs, raising=True)
            return
        with self.send_lock:
            self.restarting = True
        when_done = _AllDone(len(waiting), lambda: self._start_worker(args, kwargs, False))
        for r in waiting:
            r.future().add_done_callback(when_done)

    def _start_worker(self, args: tuple[Any, ...], kwargs: dict[str, Any], raising: bool) -> None:
        try:
            args, kwargs = resolve_refs(args, kwargs)
            self.create_frame = self._create_frame(args, kwargs)
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
        self._spawn()
        with self.send_lock:
            self.restarting = False
            self._flush()

    def _create_frame(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        worker_options: dict[str, Any] = {
            "mode": self.mode,
            "concurrency_groups": dict(self.options.concurrency_groups),
            "max_task_retries": self.options.max_task_retries,
            "retry_exceptions": self.options.retry_exceptions,
        }
        if self.options.max_concurrency is not None:
            worker_options["max_concurrency"] = self.options.max_concurrency
        from .._runtime import get_runtime

        cls = portable(self.spec.cls)
        where = (self.actor_id, self.name, self.namespace, get_runtime().namespace)
        message = ("create", cls, worker_options, args, kwargs, *where)
        try:
            return _wire.dumps(message)
        except Exception:
            err = _wire.unpicklable(
                f"{self.spec.name}.__init__",
                {"the class": self.spec.cls, **_labelled(args, kwargs)},
            )
            raise err or InvalidOptionsError(f"{self.spec.name} cannot be sent to a worker")

    def _spawn(self) -> None:
        driver_end, worker_end = _wire.socket_pair()
        self.proc = spawn_worker(worker_end)
        self.sock = driver_end
        _wire.send_frame(driver_end, self.create_frame)
        reader = threading.Thread(
            target=self._read,
            args=(driver_end, self.proc),
            name=f"actorio-proc-{self.spec.name}",
            daemon=True,
        )
        reader.start()

    def _read(self, sock: Any, proc: subprocess.Popen[bytes]) -> None:
        """Reader thread: replies become ref results; end-of-file means the worker is gone."""
        reason: ActorDiedError | None = None
        intentional = False
        frames = _wire.Frames()
        while (payloads := _wire.recv_frames(sock, frames)) is not None:
            for payload in payloads:
                dead = self._on_frame(payload, proc)
                if dead is not None:
                    reason, intentional = dead
        sock.close()
        code = proc.wait()
        with self.send_lock:
            asked, self.restart_reason = self.restart_reason, None
        if asked is not None and not intentional:
            # Stopped (or SIGKILLed after the grace period) for kill(no_restart=False): say
            # so, rather than how the process ended. A worker whose actor ended on its own
            # first says intentional, and stays dead, as in-process.
            reason = asked
        elif reason is None:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            reason = ActorDiedError(
                f"The {self.describe()} died: its worker process ended ({how})."
            )
        # A worker whose actor was never built ran none of the calls sent to it.
        unserved = "constructor raised" in str(reason) or "_start__ raised" in str(reason)
        self._worker_gone(reason, intentional, unserved)

    def _on_frame(
        self, payload: bytes, proc: subprocess.Popen[bytes]
    ) -> tuple[ActorDiedError, bool] | None:
        """One message from the worker (reader thread); returns why it died, if it says so."""
        try:
            message = _wire.loads(payload)
        except Exception:
            # A reply we cannot read would leave its caller waiting forever: end the worker
            # instead, so every call it holds fails (or is retried) like after a crash.
            log.exception("cannot read a reply from %s; stopping it", self.describe())
            proc.kill()
            return None
        kind = message[0]
        if kind == "result":
            _, call_id, ok, value = message
            if not ok and isinstance(value, ActorDiedError) and not isinstance(value, TaskError):
                # The worker's actor died (a method raising ActorDiedError arrives as a
                # TaskError instead): the end of the worker settles the call.
                return None
            entry = self.pending.pop(call_id, None)
            if entry is not None:
                elapsed = perf_counter() - entry.started
                if ok:
                    self.stats.ok(elapsed)
                else:
                    self.stats.error(elapsed, entry.method.name, value)
                if ok:
                    _complete(entry.ref, value, self.qualname(entry.method))
                else:
                    fail(entry.ref, value, None)
                if self.idle_waiters:
                    self._check_idle()
                if self.options.max_pending_calls >= 0:
                    self._wake_room()
        elif kind == "dead":
            _, inner, intentional = message
            return self._restate(inner), intentional
        else:  # forward / lookup / kill: the worker's handles to actors hosted elsewhere
            try:
                self._serve_worker(message)
            except Exception:  # the reader thread must live on: it settles every call
                log.exception("%s: cannot serve %r", self.describe(), message[0])
        return None

    def _serve_worker(self, message: tuple[Any, ...]) -> None:
        """Act for the worker on the driver's registry (on the reader thread, in order, so the
        calls a worker makes reach their actors in the order it made them)."""
        from .._runtime import get_runtime

        rt = get_runtime()
        kind = message[0]
        if kind == "forward":
            _, forward_id, actor_id, name, args, kwargs, num_returns, group, options = message
            target: Any = rt.registry.actors.get(actor_id)
            try:
                if target is None:
                    raise ActorDiedError(f"actor {actor_id} is not alive")
                method = target.spec.methods[name]
                opts = CallOptions(**options) if options else None
                # One value back (a tuple when num_returns > 1: the worker's refs split it).
                ref = target.submit(method, args, kwargs, min(num_returns, 1), group, opts)
            except Exception as exc:
                self.send_control(("forwarded", forward_id, False, exc))
                return
            if ref is not None:
                ref.future().add_done_callback(lambda cf: self._forwarded(forward_id, cf))
        elif kind == "watch":
            _, forward_id, actor_id = message
            target = rt.registry.actors.get(actor_id)
            if target is None:  # already gone: say so at once
                why = "it is not alive (it died, or never existed here)"
                reason = ActorDiedError(f"actor {actor_id} is dead: {why}.")
                self.send_control(("forwarded", forward_id, True, reason))
            else:
                target.monitor().future().add_done_callback(
                    lambda cf: self._forwarded(forward_id, cf)
                )
        elif kind == "lookup":
            _, request_id, name, namespace = message
            actor = rt.registry.lookup(namespace, name)
            found = None
            if actor is not None:
                found = (actor.actor_id, portable(actor.spec.cls), actor.name, actor.namespace)
            self.send_control(("reply", request_id, True, found))
        elif kind == "kill":
            _, actor_id, restart = message
            target = rt.registry.actors.get(actor_id)
            if target is not None:
                why = "killed from a worker process"
                target.kill(ActorDiedError(f"The {target.describe()} is dead: {why}."), restart)

    def _forwarded(self, forward_id: int, cf: Any) -> None:
        exc = cf.exception()
        if exc is not None:
            self.send_control(("forwarded", forward_id, False, exc))
        else:
            self.send_control(("forwarded", forward_id, True, cf.result()))

    def _restate(self, inner: ActorDiedError) -> ActorDiedError:
        """The worker's ActorDiedError, told about this actor (its id there means nothing)."""
        why = str(inner.args[0]).split(" is dead: ", 1)[-1].split(". Calls to it", 1)[0]
        return ActorDiedError(
            f"The {self.describe()} is dead: {why}. Calls to it fail from now on; create a new "
            f"actor to continue.",
            getattr(inner, "cause", None),
        )

    def _worker_gone(self, reason: ActorDiedError, intentional: bool, unserved: bool) -> None:
        with self.send_lock:
            forced, self.forced_restart = self.forced_restart, False
            restart = not intentional and self.death is None
            if restart and not forced:
                if self.supervisor is not None:  # a supervisor decides instead of max_restarts
                    restart = self.supervisor.child_failed(self, reason)
                else:
                    restart = self.restarts_left != 0
            if restart:
                self.restart_count += 1
                if self.restarts_left > 0 and not forced and self.supervisor is None:
                    self.restarts_left -= 1
                self._spawn()
                resend, dropped = [], []
                for call_id, entry in sorted(self.pending.items()):
                    if not entry.sent:
                        continue  # still in the outbox: it goes to the new worker in turn
                    retries = entry.retries
                    if unserved:  # like a failed local constructor: calls just wait
                        resend.append(entry)
                    elif retries == -1 or entry.attempts < retries:
                        entry.attempts += 1
                        resend.append(entry)
                    else:
                        dropped.append(call_id)
                for entry in resend:
                    if entry.frame:
                        _wire.send_frame(self.sock, entry.frame)
                failed = [self.pending.pop(i) for i in dropped]
                self.restarting = False
                self._flush()  # calls held back while it restarted go to the new worker
            else:
                if self.death is None:
                    self.death = reason
                failed = list(self.pending.values())
                self.pending.clear()
                self.outbox.clear()
                self.restarting = False
        for entry in failed:
            fail(
                entry.ref,
                ActorDiedError(
                    f"The {self.describe()} died ({reason.args[0]}) and is restarting; this "
                    f"call was in flight or queued and its retries (max_task_retries="
                    f"{entry.retries}) are used up.",
                    reason,
                )
                if restart
                else (self.death or reason),
                None,
            )
        if not restart:
            self._notify()
        elif failed and self.options.max_pending_calls >= 0:
            self._wake_room()

    def _wake_room(self) -> None:
        # Always under the lock, after the call left ``pending``: room() checks and registers
        # under it too, so a waiter either sees the room or is seen here.
        with self.lock:
            waiters, self.room_waiters = self.room_waiters, ()
        for ref in waiters:
            _deliver_value(ref, None)

    def _notify(self) -> None:
        with self.lock:
            self.finished = True
            monitors, self.monitors = self.monitors, ()
            idle, self.idle_waiters = self.idle_waiters, ()
        self._wake_room()
        for ref in monitors:
            _deliver_value(ref, self.death)
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
    ) -> Any:
        loop = _running_loop()
        ref = make_refs(loop, self.loop, num_returns)
        if self.refuse(ref):
            return ref
        self.check_room(method, self.options.max_pending_calls)
        call_id = next(self.ids)
        options = options or method.options
        retries = self.options.max_task_retries
        if options is not None and options.max_task_retries is not None:
            retries = options.max_task_retries
        entry = _Pending(ref, method, None, retries)
        message = (method.name, args, kwargs, num_returns, group, options)
        with_refs = has_refs(args, kwargs)
        waiting = pending_refs(args, kwargs) if with_refs else []
        if not waiting:
            if with_refs:
                try:
                    args, kwargs = resolve_refs(args, kwargs)
                except Exception as exc:  # a ref argument failed: so does this call
                    fail_new(ref, exc)
                    return ref
            # Pickled here, in the caller: an unpicklable argument raises right at the call.
            entry.frame = self._frame(call_id, entry, (method.name, args, kwargs, *message[3:]))
        with self.send_lock:
            if self.death is not None:
                fail_new(ref, self.death)
                return ref
            if ref is not None:
                self.pending[call_id] = entry
                first = first_ref(ref)
                if first is not None:
                    first._actorio_work = _RemoteWork(self, call_id)
            if self.outbox or self.restarting or not entry.frame:
                self.outbox.append(entry)
                self._flush()
            else:  # nothing ahead of it: straight to the worker
                entry.sent = True
                try:
                    _wire.send_frame(self.sock, entry.frame)
                except OSError:
                    pass  # the reader sees the worker gone and settles the call
        if waiting:  # sent once its ref arguments are done; the calls after it wait behind it
            when_done = _AllDone(len(waiting), lambda: self._resolved(call_id, entry, message))
            for r in waiting:
                r.future().add_done_callback(when_done)
        return ref

    def _frame(self, call_id: int, entry: _Pending, call: tuple[Any, ...]) -> bytes:
        """The frame of one call: ``call`` is (name, args, kwargs, num_returns, group,
        options), its ref arguments already replaced by their values."""
        name, args, kwargs, num_returns, group, options = call
        message = ("call", call_id, name, args, kwargs, num_returns, group)
        try:
            return _wire.dumps((*message, call_options_dict(options)))
        except Exception:
            what = self.qualname(entry.method)
            raise _wire.unpicklable(what, _labelled(args, kwargs)) or InvalidOptionsError(
                f"{what}: cannot pickle the call"
            )

    def _resolved(self, call_id: int, entry: _Pending, message: tuple[Any, ...]) -> None:
        """The ref arguments of a held-back call are done: send it (or fail it) in its turn."""
        name, args, kwargs, *rest = message
        try:
            args, kwargs = resolve_refs(args, kwargs)
            entry.frame = self._frame(call_id, entry, (name, args, kwargs, *rest))
        except Exception as exc:  # an argument's call failed, or a value cannot be pickled
            self.pending.pop(call_id, None)
            fail(entry.ref, exc, None)
            entry.frame = b""  # nothing to send: let the calls behind it go
        with self.send_lock:
            self._flush()

    def _flush(self) -> None:
        """Send what is ready at the head of the outbox, in order (under ``send_lock``)."""
        outbox = self.outbox
        while outbox and outbox[0].frame is not None and not self.restarting:
            entry = outbox.popleft()
            entry.sent = True
            if entry.frame and not entry.cancelled:
                try:
                    _wire.send_frame(self.sock, entry.frame)
                except OSError:
                    pass  # the reader sees the worker gone and settles the call

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
        with self.send_lock:
            entry = self.pending.pop(call_id, None)
            if entry is None:
                return  # answered meanwhile
            entry.cancelled = True
            self.stats.error(perf_counter() - entry.started, entry.method.name, None)
            if entry.sent:
                try:
                    _wire.send_frame(self.sock, _wire.dumps(("cancel", call_id)))
                except OSError:
                    pass  # the worker is gone; nothing runs it any more
        if self.options.max_pending_calls >= 0:
            self._wake_room()
        if self.idle_waiters:
            self._check_idle()

    def send_control(self, message: tuple[Any, ...]) -> None:
        with self.send_lock:
            try:
                _wire.send_frame(self.sock, _wire.dumps(message))
            except OSError:
                pass

    # -- lifecycle from outside -----------------------------------------------------------------

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        proc = self.proc
        if proc is None:
            return
        with self.send_lock:
            if self.death is not None:
                return
            if restart:
                # Calls made from now on wait for the next worker, as with a local restart.
                self.restarting = True
                self.forced_restart = forced
                self.restart_reason = err
            else:
                self.death = err
        # The worker runs the stop hook and exits; for a restart the reader thread then starts
        # the next worker. A worker that does not exit in time is killed.
        self.send_control(("stop", str(err), restart))
        timer = threading.Timer(STOP_HOOK_TIMEOUT_S + 1, _kill_if_alive, args=(proc,))
        timer.daemon = True
        timer.start()

    def snapshot(self) -> ActorState:
        """What the state API reports: counted here, in the driver, so a worker busy with a
        long method still answers. The worker's split of its calls between queued and
        running is estimated from ``max_concurrency`` (asking would wait behind the method)."""
        if self.death is not None:
            label = "DEAD"
        elif self.restarting:
            label = "RESTARTING" if self.restart_count else "PENDING_CREATION"
        elif self.stopping:
            label = "STOPPING"
        else:
            label = "ALIVE"
        sent = sum(1 for entry in list(self.pending.values()) if entry.sent)
        running = 0 if label == "DEAD" else min(sent, self.limit)
        depth = len(self.pending) - running
        pid = self.proc.pid if self.proc is not None else 0
        return make_state(
            self, "process", label, pid, self.restart_count, depth, running, self.stats
        )

    def describe(self) -> str:
        named = f" named {self.name!r} in namespace {self.namespace!r}" if self.name else ""
        pid = f", pid {self.proc.pid}" if self.proc is not None else ""
        return f"process actor {self.spec.name} (id {self.actor_id}{pid}){named}"

    def qualname(self, method: MethodSpec) -> str:
        return f"{self.spec.name}.{method.name}"


def _labelled(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    values = {f"argument {i}": a for i, a in enumerate(args)}
    values.update({f"argument {k!r}": v for k, v in kwargs.items()})
    return values


def _complete(ref: Any, value: Any, what: str) -> None:
    first = first_ref(ref)
    if first is None:
        return
    loop = first.get_loop()
    try:
        if first is ref:  # one value: straight onto the caller's loop
            loop.call_soon_threadsafe(set_result_if_pending, ref, value)
        else:
            loop.call_soon_threadsafe(complete, ref, value, loop, what)
    except RuntimeError:
        pass


def _deliver_value(ref: ObjectRef[Any], value: Any) -> None:
    def settle() -> None:
        if not ref.done():
            ref.set_result(value)

    try:
        ref.get_loop().call_soon_threadsafe(settle)
    except RuntimeError:
        pass


def _kill_if_alive(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
