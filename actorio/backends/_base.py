"""What the three actor cores share: their common state, and the helpers built on it.

The contract itself is :mod:`actorio._seam`; this is implementation. :class:`CoreBase` holds
the fields and answers every core has (description, restart decision, retry policy,
monitors, room waiters, the neutral answers for abilities only some backends have);
:class:`Forwarding` adds what the cores of actors running elsewhere (a worker process, Ray)
share: the count of forwarded calls that graceful stop waits on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._mailbox import fail_new
from .._ref import ObjectRef, abort, new_ref
from .._seam import ActorCore, Hosted, Reducer, StreamSource, Supervising
from .._stats import CallStats
from ..exceptions import (
    ActorDiedError,
    CallTimeoutError,
    PendingCallsLimitExceeded,
    TaskError,
    headline,
)

if TYPE_CHECKING:
    from .._options import ActorOptions, CallOptions, Mode, RetryOn
    from .._spec import ClassSpec, MethodSpec

__all__ = [
    "BackendBase",
    "CoreBase",
    "Forwarding",
    "InFlight",
    "checked_remote",
    "done_future",
    "expire",
    "settle_soon",
]


def done_future() -> concurrent.futures.Future[None]:
    cf: concurrent.futures.Future[None] = concurrent.futures.Future()
    cf.set_result(None)
    return cf


class InFlight:
    """A count of work accepted and not finished (remote functions), kept from any thread, so
    that shutdown can wait for it: :meth:`idle` is a future done once the count is zero."""

    __slots__ = ("_count", "_lock", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._waiters: list[concurrent.futures.Future[None]] = []

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self, _: object = None) -> None:
        """One piece of work ended (also usable as a done-callback: its argument is ignored)."""
        with self._lock:
            self._count -= 1
            if self._count:
                return
            waiters, self._waiters = self._waiters, []
        for cf in waiters:
            if not cf.done():
                cf.set_result(None)

    def idle(self) -> concurrent.futures.Future[None]:
        with self._lock:
            if self._count:
                cf: concurrent.futures.Future[None] = concurrent.futures.Future()
                self._waiters.append(cf)
                return cf
        return done_future()


class BackendBase:
    """The neutral answers of a backend that runs on no cluster (``actorio._seam.Backend``)."""

    def tasks_finished(self) -> concurrent.futures.Future[None]:
        return done_future()  # overridden by the backends that run remote functions

    def lookup(self, name: str, namespace: str) -> ActorCore | None:
        return None  # every actor it hosts is in this process's registry already

    def hosted(self) -> Hosted | None:
        return None  # its actors run in actorio's own cores

    def node_id(self) -> str | None:
        return None

    def progress_bar(self, options: dict[str, Any]) -> Any | None:
        return None  # actorio draws its bars itself

    def close(self) -> None:
        pass


class CoreBase(ABC):
    """State and helpers of every actor core; each backend's core derives from it.

    Slotted, so that an in-process actor stays small (its subclass adds its own slots);
    the other cores keep a ``__dict__`` for their fields.
    """

    __slots__ = (
        "actor_id",
        "death",
        "finished",
        "lock",
        "loop",
        "mode",
        "monitors",
        "name",
        "namespace",
        "on_death",
        "options",
        "restart_count",
        "restarts_left",
        "room_waiters",
        "spec",
        "stats",
        "supervisor",
    )

    #: what the description calls the actor ("actor", "process actor", "Ray actor")
    kind = "actor"
    #: False where the backend restarts actors itself (see actorio._seam.ActorCore)
    supervisable = True

    def init_core(
        self,
        actor_id: str,
        spec: ClassSpec,
        options: ActorOptions,
        mode: Mode,
        loop: asyncio.AbstractEventLoop,
        namespace: str,
        on_death: Callable[[ActorCore], None],
        lock: Any,
    ) -> None:
        self.actor_id = actor_id
        self.spec = spec
        self.options = options
        self.mode = mode
        self.loop = loop
        self.name: str | None = options.name
        self.namespace = namespace
        self.on_death = on_death
        self.lock = lock
        self.death: ActorDiedError | None = None
        self.finished = False  # dead for good, stop hook done, monitors told
        # Tuples, grown by copying under the lock: an empty one costs nothing (a list is
        # 56 B of every idle actor); there are rarely more than a few waiters.
        self.monitors: tuple[ObjectRef[Any], ...] = ()
        self.room_waiters: tuple[ObjectRef[Any], ...] = ()
        self.stats = CallStats()
        self.restart_count = 0
        self.restarts_left = options.max_restarts
        self.supervisor: Supervising | None = None

    @property
    def outlives_runtime(self) -> bool:
        return False  # only a cluster keeps actors after this process's runtime ends

    # -- who it is ------------------------------------------------------------------------------

    def where(self) -> str:
        """Extra detail for the description's parentheses (a worker's pid, say)."""
        return ""

    def describe(self) -> str:
        named = f" named {self.name!r} in namespace {self.namespace!r}" if self.name else ""
        return f"{self.kind} {self.spec.name} (id {self.actor_id}{self.where()}){named}"

    def qualname(self, method: MethodSpec) -> str:
        name = method.name
        if "#" in name:  # a hidden part of a generator method: named as the method
            name = name[: name.index("#")]
        return f"{self.spec.name}.{name}"

    def died(self, why: str, cause: BaseException | None = None) -> ActorDiedError:
        """The error of this actor's death, saying ``why``."""
        return ActorDiedError(
            f"The {self.describe()} is dead: {why}. Calls to it fail from now on; create a "
            f"new actor to continue.",
            cause,
            why,
        )

    def construction_error(self, exc: BaseException, hook: str = "__init__") -> ActorDiedError:
        """The death of this actor when its constructor (or start hook ``hook``) raised
        ``exc``, or never ran because a ref argument failed; the message says what it was."""
        name = f"{self.spec.name}.{hook}"
        label = "constructor" if hook == "__init__" else hook
        if isinstance(exc, TaskError) and exc.summary and exc.function_name == name:
            why = f"its {label} did not run: an input argument could not be computed"
            return self.died(f"{why} ({headline(exc.cause)})", exc)
        raised = exc
        while isinstance(raised, TaskError):  # it re-raised a call's error: the original
            raised = raised.cause
        why = f"its {label} raised {type(raised).__name__}: {raised}"
        return self.died(why, TaskError.from_exception(name, exc))

    # -- policies -------------------------------------------------------------------------------

    def restart_allowed(self, err: ActorDiedError) -> bool:
        """Whether a failure may restart the actor: its supervisor decides when it has one,
        else ``max_restarts`` (counted down by the restart itself)."""
        if self.supervisor is not None:
            return self.supervisor.child_failed(self, err)  # type: ignore[arg-type]
        return self.restarts_left != 0

    def count_restart(self) -> None:
        self.restart_count += 1
        if self.restarts_left > 0:
            self.restarts_left -= 1

    def retry_policy(self, method: MethodSpec, options: CallOptions | None) -> tuple[int, RetryOn]:
        """``(max_task_retries, retry_exceptions)`` of one call: the call's own options, else
        the method's, else the actor's."""
        options = options or method.options
        retries = self.options.max_task_retries
        retry_on = self.options.retry_exceptions
        if options is not None:
            if options.max_task_retries is not None:
                retries = options.max_task_retries
            if options.retry_exceptions is not None:
                retry_on = options.retry_exceptions
        return retries, retry_on

    # -- watching from outside (any thread) -----------------------------------------------------

    @abstractmethod
    def pending_calls(self) -> int:
        """Calls accepted and not finished (each core counts its own)."""

    def monitor(self) -> ObjectRef[ActorDiedError]:
        """A ref that completes with the ``ActorDiedError`` (as its value) once the actor is
        dead for good, after its stop hook; restarts do not complete it."""
        ref: ObjectRef[Any] = new_ref(asyncio._get_running_loop(), self.loop)
        with self.lock:
            if not self.finished:
                self.monitors += (ref,)
                return ref
        ref.set_result(self.death)
        return ref

    def room(self) -> ObjectRef[None]:
        """A ref that completes when the mailbox may have room (``ActorMethod.submit``)."""
        ref: ObjectRef[None] = new_ref(asyncio._get_running_loop(), self.loop)
        with self.lock:
            if self.finished or self.pending_calls() < self.options.max_pending_calls:
                ref.set_result(None)
                return ref
            self.room_waiters += (ref,)
        return ref

    # -- abilities only some backends have ------------------------------------------------------

    def reduce_handle(self) -> Reducer | None:
        return None  # handles pickle by id

    def open_stream(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        group: str | None,
        window: int,
    ) -> StreamSource | None:
        return None  # streams are open/next/close calls through submit


class Forwarding(CoreBase):
    """For cores whose actor runs elsewhere (a worker process, Ray) and that count the calls
    they forwarded in ``pending`` until answered: graceful stop waits for that to empty."""

    pending: dict[Any, Any]
    idle_waiters: tuple[concurrent.futures.Future[None], ...]
    stopping: bool

    def pending_calls(self) -> int:
        return len(self.pending)

    def refuse(self, ref: Any) -> bool:
        """Fail a new call's ref(s) if the actor is dead or stopping; True if it did."""
        if self.death is None and not self.stopping:
            return False
        why = f"The {self.describe()} is shutting down and accepts no new calls."
        fail_new(ref, self.death or ActorDiedError(why))
        return True

    def check_room(self, method: MethodSpec, limit: int) -> None:
        """Raise PendingCallsLimitExceeded when ``limit`` (``max_pending_calls``; -1: none)
        calls are already forwarded and unanswered. Builtins are never counted."""
        if 0 <= limit <= len(self.pending) and not method.builtin:
            raise PendingCallsLimitExceeded(
                f"the {self.describe()} already has {len(self.pending)} pending calls "
                f"(max_pending_calls={limit}); retry later, or "
                f"use 'await handle.{method.name}.submit(...)' to wait for room"
            )

    def begin_stop(self) -> concurrent.futures.Future[None]:
        """Refuse new calls; the future completes once every forwarded call is answered."""
        with self.lock:
            self.stopping = True
        return self.idle()

    def idle(self) -> concurrent.futures.Future[None]:
        """A future done once every forwarded call is answered (new calls still accepted)."""
        cf: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self.lock:
            self.idle_waiters += (cf,)
        self._check_idle()
        return cf

    def _check_idle(self) -> None:
        if self.pending or not self.idle_waiters:
            return
        with self.lock:
            idle, self.idle_waiters = self.idle_waiters, ()
        for cf in idle:
            if not cf.done():
                cf.set_result(None)

    @property
    def alive(self) -> bool:
        return self.death is None


def checked_remote(
    core: ActorCore, method: MethodSpec, num_returns: int, group: str | None, options: Any
) -> Callable[..., Any]:
    """A plain ``remote(*args, **kwargs)``: check the arguments, then ``core.submit``."""

    def remote(*args: Any, **kwargs: Any) -> Any:
        method.check(args, kwargs)
        return core.submit(method, args, kwargs, num_returns, group, options)

    return remote


def settle_soon(ref: ObjectRef[Any], value: Any) -> None:
    """Give ``ref`` its value on its own loop, from any thread (nothing if it is done or its
    loop is closed)."""

    def settle() -> None:
        if not ref.done():
            ref.set_result(value)

    try:
        ref._loop.call_soon_threadsafe(settle)
    except RuntimeError:
        pass


def expire(ref: Any, timeout: float) -> None:
    """A call's ``timeout`` option ran out: fail its ref(s) and stop its work."""
    for r in ref if type(ref) is list else () if ref is None else (ref,):
        if not r.done():
            abort(r, CallTimeoutError(f"the call timed out after {timeout} s and was cancelled"))
