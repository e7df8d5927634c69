"""ObjectRef: the future a ``.remote()`` call returns, and the ways to read it.

An ``ObjectRef`` *is* an ``asyncio.Future`` bound to the caller's event loop (or, for callers
in plain threads, to the loop that hosts the actor). That makes it work unchanged with
``await``, ``asyncio.wait``, ``asyncio.gather``, ``asyncio.timeout`` and ``TaskGroup``. Results
computed on another loop's thread are handed over with ``call_soon_threadsafe``; blocking reads
(``actorio.get``) chain the ref to a ``concurrent.futures.Future`` and refuse to run on a loop's
own thread, where they would deadlock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import itertools
import os
import threading
from asyncio import AbstractEventLoop
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from ._kernel import KERNEL_LOOPS
from .exceptions import (
    ActorDiedError,
    DeadlockError,
    SerializationError,
    TaskCancelledError,
)

__all__ = [
    "TRAVEL",
    "CycleRef",
    "ObjectRef",
    "abort",
    "dropped",
    "fresh_copy",
    "stop_work",
    "new_ref",
    "set_exception",
    "settle_early",
    "settled_early",
    "deliver",
    "deliver_error",
]

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

_running_loop = asyncio._get_running_loop
_QUIET = (ActorDiedError, TaskCancelledError)
_future_await = asyncio.Future.__await__


class ObjectRef(asyncio.Future[T]):
    """The result of a remote call: await it, or read it with ``actorio.get``.

    Example:

        ref = counter.get_count.remote()
        value = await ref             # in async code
        value = actorio.get(ref)      # in plain synchronous code
    """

    # The asyncio task (or concurrent future) computing this ref, while there is one, so that
    # cancelling the ref reaches the running coroutine. Unset on most refs: read with getattr.
    # (Likewise its hex id, made on first use.)
    __slots__ = ("_actorio_hex", "_actorio_work")
    _actorio_work: Any
    _actorio_hex: str

    # No __await__ of our own: a Python-level one would cost every await ~0.3 us (a call
    # frame, and the getpid() system call inside asyncio._get_running_loop on 3.11), as much
    # as a fifth of a whole in-process call. So a ref made on a running loop is awaited the
    # way any asyncio future is, on that loop; refs made for callers without a loop
    # (_ThreadRef) may be awaited on any loop.

    def cancel(self, msg: Any | None = None) -> bool:
        """Cancel the ref and the call behind it (asyncio calls this when an awaiter of the
        ref is cancelled, so cancellation flows from caller to callee)."""
        if not super().cancel(msg):
            return False
        stop_work(self)
        return True

    def future(self) -> concurrent.futures.Future[T]:
        """A thread-safe ``concurrent.futures.Future`` that completes with this ref."""
        cf: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self.done():
            _copy_outcome(self, cf)
            return cf
        loop = self._loop
        if loop is _running_loop():
            self.add_done_callback(lambda f: _copy_outcome(f, cf))
        else:
            try:
                loop.call_soon_threadsafe(self.add_done_callback, lambda f: _copy_outcome(f, cf))
            except RuntimeError:  # the loop is closed: nobody will ever complete this ref
                cf.set_exception(TaskCancelledError(f"{self!r} belongs to a closed event loop"))
        return cf

    def hex(self) -> str:
        """This ref's id as 56 hex digits, as Ray's: Ray's own for a ref that follows a Ray
        call, else one made on first use, unique to this ref in every process."""
        ray_ref = getattr(getattr(self, "_actorio_work", None), "ray_ref", None)
        if ray_ref is not None:
            return str(ray_ref.hex())
        with _HEX_LOCK:  # two threads asking first must get the same id
            try:
                return self._actorio_hex
            except AttributeError:
                self._actorio_hex = f"{_HEX_PREFIX}{next(_HEX_IDS):016x}"
                return self._actorio_hex

    def __repr__(self) -> str:
        state = "pending" if not self.done() else "cancelled" if self.cancelled() else "done"
        return f"ObjectRef({state}, 0x{id(self):x})"

    def __reduce__(self) -> tuple[Any, ...]:
        export = TRAVEL.export_ref
        if export is None:
            raise SerializationError(
                f"{self!r} cannot be pickled here: refs travel only in the arguments and "
                f"results of process actors and tasks (backend='process'); pass its value "
                f"(actorio.get(ref)) to anything else"
            )
        return export(self)


class _Travel:
    """What the process backend installs so that refs and handles can cross to its workers
    (a ref pickles only there: elsewhere a copy of a future would mean nothing)."""

    export_ref: Callable[[ObjectRef[Any]], tuple[Any, ...]] | None = None
    #: how a handle to an actor hosted in this worker pickles (None: the usual way)
    export_handle: Callable[[Any], tuple[Any, ...] | None] | None = None


TRAVEL = _Travel()


#: a ref's id: this process's random prefix, then a count (Ray's ids are 28 bytes, too)
_HEX_PREFIX = os.urandom(20).hex()
_HEX_IDS = itertools.count(1)
_HEX_LOCK = threading.Lock()


def stop_work(ref: ObjectRef[Any]) -> None:
    """Cancel the task computing ``ref``, if one is running (thread-safe)."""
    work = getattr(ref, "_actorio_work", None)
    if work is None:
        return
    if isinstance(work, asyncio.Task):
        loop = work.get_loop()
        if loop is _running_loop():
            work.cancel()
        else:
            try:
                loop.call_soon_threadsafe(work.cancel)
            except RuntimeError:  # its loop is closed: nothing runs any more
                pass
    else:  # a concurrent.futures.Future of a thread pool: drops it if not started yet
        work.cancel()


def abort(ref: ObjectRef[Any], exc: BaseException) -> None:
    """Fail ``ref`` with ``exc`` (from any thread) and stop the work behind it."""
    if isinstance(ref, _ThreadRef):
        # Its loop may be busy running the very drain that is about to start this call, and
        # the failure below reaches the ref only when that loop is free again: mark it now.
        ref._doomed = True
    deliver_error(ref, exc, _running_loop())
    stop_work(ref)


def dropped(ref: Any) -> bool:
    """True if the call behind ``ref`` must not start: done already, or aborted."""
    return bool(ref.done() or (type(ref) is not ObjectRef and getattr(ref, "_doomed", False)))


class _ThreadRef(ObjectRef[T]):
    """A ref made for a caller with no running loop (plain sync code, a worker thread).

    It lives on the actor's loop, yet async code elsewhere may later hand it to
    ``asyncio.wait`` (which calls ``add_done_callback`` from its own loop's thread). Such
    foreign registrations are relayed: added on the ref's loop, and called back on the
    registering loop. Refs made inside a running loop do not pay for this.
    """

    __slots__ = ("_doomed", "_early", "_relays", "_waiters")
    _relays: list[_Relay]
    _doomed: bool
    #: blocked readers in other threads (``future()``), told the outcome at once
    _waiters: list[concurrent.futures.Future[Any]] | None
    #: the value a worker thread delivered before the ref's loop settled it (settle_early)
    _early: tuple[Any]

    def get_loop(self) -> AbstractEventLoop:
        """The loop asking, if one is running (else the ref's own): what asyncio checks
        before it combines futures (``asyncio.gather``, ``ensure_future``), which this ref
        serves on any loop by relaying. actorio itself reads the ref's own loop, ``_loop``."""
        return _running_loop() or self._loop

    def future(self) -> concurrent.futures.Future[T]:
        """A thread-safe future of the outcome. Unlike a loop's ref, registering it needs no
        turn of the ref's loop: a blocked ``get`` is woken by whoever settles the ref (the
        loop, or the worker thread that computed the value; see ``settle_early()``)."""
        cf: concurrent.futures.Future[T] = concurrent.futures.Future()
        with _lock_of(self):
            early = getattr(self, "_early", None)
            if early is None and not self.done():
                if self._loop.is_closed():
                    cf.set_exception(TaskCancelledError(f"{self!r} belongs to a closed event loop"))
                    return cf
                waiters = getattr(self, "_waiters", None)
                if waiters is None:
                    self._waiters = [cf]
                else:
                    waiters.append(cf)
                return cf
        if early is not None:
            cf.set_result(early[0])
        else:
            _copy_outcome(self, cf)
        return cf

    def set_result(self, result: T) -> None:
        super().set_result(result)
        self._wake()

    def set_exception(self, exception: type | BaseException) -> None:
        super().set_exception(exception)
        self._wake()

    def cancel(self, msg: Any | None = None) -> bool:
        if not super().cancel(msg):
            return False
        self._wake()
        return True

    def _wake(self) -> None:
        """The ref is settled (on its loop): tell the blocked readers."""
        with _lock_of(self):
            waiters = getattr(self, "_waiters", None)
            self._waiters = None
        for cf in waiters or ():
            _copy_outcome(self, cf)

    def __await__(self) -> Generator[Any, None, T]:
        if self._loop is _running_loop():  # the actor's own loop (rare: a thread's ref)
            return _future_await(self)
        return _await_foreign(self).__await__()

    __iter__ = __await__

    def add_done_callback(
        self, fn: Callable[[Any], object], *, context: contextvars.Context | None = None
    ) -> None:
        caller = _running_loop()
        loop = self._loop
        if caller is loop:
            super().add_done_callback(fn, context=context)
            return
        relay = _Relay(self, fn, caller, context)
        try:
            relays = self._relays
        except AttributeError:
            relays = self._relays = []
        relays.append(relay)
        try:
            loop.call_soon_threadsafe(super().add_done_callback, relay)
        except RuntimeError:  # the ref's loop is closed
            if self.done():
                relay(self)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        removed = super().remove_done_callback(fn) if _running_loop() is self._loop else 0
        for relay in getattr(self, "_relays", ()):
            if relay.fn is fn and not relay.cancelled:
                relay.cancelled = True
                removed += 1
        return removed


def settle_early(ref: Any, value: Any) -> None:
    """A worker thread computed ``ref``'s value: wake its blocked readers now, before the
    ref's loop settles it (which the caller of this still arranges). Only refs made for
    callers without a loop have readers that block; others are left to their loop."""
    if type(ref) is not _ThreadRef:
        return
    with _lock_of(ref):
        if ref.done() or getattr(ref, "_early", None) is not None or getattr(ref, "_doomed", False):
            return
        ref._early = (value,)
        waiters = getattr(ref, "_waiters", None)
        ref._waiters = None
    for cf in waiters or ():
        if not cf.done():
            cf.set_result(value)


def settled_early(ref: Any) -> bool:
    """True if a worker thread delivered ``ref``'s value and its loop has yet to settle it."""
    return getattr(ref, "_early", None) is not None


#: Locks for thread refs, shared (a lock per ref would weigh on every call from sync code).
_LOCKS = tuple(threading.Lock() for _ in range(64))


def _lock_of(ref: object) -> threading.Lock:
    return _LOCKS[(id(ref) >> 4) % len(_LOCKS)]


class _Relay:
    """Calls ``fn(ref)`` on the loop that registered it (or right away if it had none)."""

    __slots__ = ("caller", "cancelled", "context", "fn", "ref")

    def __init__(
        self,
        ref: ObjectRef[Any],
        fn: Callable[[Any], object],
        caller: AbstractEventLoop | None,
        context: contextvars.Context | None,
    ) -> None:
        self.ref, self.fn, self.caller, self.context = ref, fn, caller, context
        self.cancelled = False

    def __call__(self, _: object) -> None:
        if self.cancelled:
            return
        if self.caller is None:
            self.fn(self.ref)
            return
        try:
            self.caller.call_soon_threadsafe(self._fire, context=self.context)
        except RuntimeError:  # the registering loop is closed
            pass

    def _fire(self) -> None:
        if not self.cancelled:
            self.fn(self.ref)


class CycleRef(_ThreadRef[T]):
    """A ref whose call waits for a slot its own caller holds: awaiting it raises at once."""

    __slots__ = ("cycle",)
    cycle: str

    def __await__(self) -> Generator[Any, None, T]:
        if not self.done():
            raise DeadlockError(self.cycle)
        return super().__await__()

    __iter__ = __await__


def new_ref(caller: AbstractEventLoop | None, host: AbstractEventLoop) -> ObjectRef[Any]:
    """A ref on the caller's running loop, or, for a caller without one, on ``host``.

    (A notebook kernel's loop counts as none: the cell may block on the ref in ``get``.)"""
    if caller is None or (KERNEL_LOOPS and caller in KERNEL_LOOPS):
        return _ThreadRef(loop=host)
    return ObjectRef(loop=caller)


async def _await_foreign(ref: ObjectRef[T]) -> T:
    """Await a ref that belongs to another loop (or thread) without blocking this loop."""
    return await asyncio.wrap_future(ref.future())


def _copy_outcome(src: asyncio.Future[Any], dst: concurrent.futures.Future[Any]) -> None:
    if dst.done():
        return
    if src.cancelled():
        dst.set_exception(TaskCancelledError(f"{src!r} was cancelled"))
        return
    exc = src.exception()
    if exc is not None:
        dst.set_exception(exc)
    else:
        dst.set_result(src.result())


def set_result_if_pending(ref: asyncio.Future[Any], value: Any) -> None:
    """Set a result unless the ref is already settled (cancelled, timed out)."""
    if not ref.done():
        ref.set_result(value)


def set_exception(ref: asyncio.Future[Any], exc: BaseException) -> None:
    if not ref.done():
        if isinstance(exc, ActorDiedError):
            # An actor's death is one error on record, handed to every call that reaches it:
            # each ref raises its own copy, or the last caller's frames (and all they hold,
            # live handles included) would stay pinned by the record's traceback.
            exc = fresh_copy(exc)
        ref.set_exception(exc)
        if isinstance(exc, _QUIET):
            # A consequence of kill/exit/shutdown/cancel, which someone asked for: unlike a
            # user error nobody looked at, not worth asyncio's "exception never retrieved".
            ref._log_traceback = False


def fresh_copy(exc: E) -> E:
    """``exc`` as a new object of the same class, never raised: the same message, fields and
    cause, no traceback. Not ``copy.copy``: that goes through ``__reduce__``, which may name a
    plainer class (an error that is also Ray's pickles as actorio's alone)."""
    fresh = BaseException.__new__(type(exc))
    fresh.args = exc.args
    fresh.__dict__.update(exc.__dict__)
    fresh.__cause__ = exc.__cause__
    fresh.__context__ = exc.__context__
    fresh.__suppress_context__ = exc.__suppress_context__
    return fresh


def deliver(ref: asyncio.Future[Any], value: Any, here: AbstractEventLoop) -> None:
    """Complete ``ref`` with ``value``; ``here`` is the loop of the calling thread."""
    loop = ref._loop
    if loop is here:
        if not ref.done():
            ref.set_result(value)
        return
    try:
        loop.call_soon_threadsafe(set_result_if_pending, ref, value)
    except RuntimeError:  # the caller's loop is closed; nobody can read the result
        pass


def deliver_error(
    ref: asyncio.Future[Any], exc: BaseException, here: AbstractEventLoop | None
) -> None:
    """Fail ``ref`` with ``exc``; ``here`` is the loop of the calling thread (or None)."""
    loop = ref._loop
    if loop is here:
        set_exception(ref, exc)
        return
    try:
        loop.call_soon_threadsafe(set_exception, ref, exc)
    except RuntimeError:
        pass
