"""What every backend provides, so the core never imports a concrete one."""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any, Protocol

from .._mailbox import fail_new
from .._ref import new_ref
from .._spec import MethodSpec
from ..exceptions import ActorDiedError, PendingCallsLimitExceeded

__all__ = [
    "STOP_HOOK_TIMEOUT_S",
    "ActorCore",
    "ActorExit",
    "Forwarding",
    "Watchable",
    "checked_remote",
]

#: Seconds an async ``__actorio_stop__`` hook may take before actorio stops waiting for it.
STOP_HOOK_TIMEOUT_S = 10.0


class ActorExit(BaseException):
    """Raised by ``actorio.exit_actor()``; a BaseException so ``except Exception`` lets it by."""


class ActorCore(Protocol):
    """The backend's side of an actor, as seen by handles and the registry."""

    actor_id: str
    name: str | None
    namespace: str
    spec: Any  # the ClassSpec of the actor's class

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run the constructor (asynchronously); calls queue behind it."""

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
    ) -> Any:
        """Queue one call; return its ref (or list of refs, or None for num_returns=0)."""

    def kill(self, err: Any) -> None:
        """Make the actor dead now; queued and running calls fail with ``err``."""

    @property
    def alive(self) -> bool:
        """False once the actor is dead."""

    def describe(self) -> str:
        """A short human description for error messages."""


def checked_remote(
    core: Any, method: MethodSpec, num_returns: int, group: str | None, options: Any
) -> Any:
    """A plain ``remote(*args, **kwargs)``: check the arguments, then ``core.submit``."""

    def remote(*args: Any, **kwargs: Any) -> Any:
        method.check(args, kwargs)
        return core.submit(method, args, kwargs, num_returns, group, options)

    return remote


class Watchable:
    """``monitor()`` and ``room()`` for actor cores that keep ``lock``, ``finished``,
    ``death``, ``monitors``, ``room_waiters``, ``loop``, ``options`` and ``pending_calls()``.

    Both hand out a ref that the core completes later (at its final death; when a call ends),
    or at once when that moment has passed already.
    """

    # Tuples, grown by copying under the lock: an empty one costs nothing (a list, 56 B per
    # actor); there are rarely more than a few waiters.
    __slots__ = ("monitors", "room_waiters")

    lock: Any
    finished: bool
    death: Any
    monitors: tuple[Any, ...]
    room_waiters: tuple[Any, ...]
    loop: Any
    options: Any

    def pending_calls(self) -> int:
        raise NotImplementedError

    def monitor(self) -> Any:
        """A ref that completes with the ``ActorDiedError`` (as its value) once the actor is
        dead for good, after its stop hook; restarts do not complete it."""
        ref = new_ref(asyncio._get_running_loop(), self.loop)
        with self.lock:
            if not self.finished:
                self.monitors += (ref,)
                return ref
        ref.set_result(self.death)
        return ref

    def room(self) -> Any:
        """A ref that completes when the mailbox may have room (``ActorMethod.submit``)."""
        ref = new_ref(asyncio._get_running_loop(), self.loop)
        with self.lock:
            if self.finished or self.pending_calls() < self.options.max_pending_calls:
                ref.set_result(None)
                return ref
            self.room_waiters += (ref,)
        return ref


class Forwarding(Watchable):
    """For cores whose actor runs elsewhere (a worker process, Ray) and that count the calls
    they forwarded in ``pending`` until answered: graceful stop waits for that to empty."""

    pending: dict[Any, Any]
    idle_waiters: tuple[concurrent.futures.Future[None], ...]
    stopping: bool

    def pending_calls(self) -> int:
        return len(self.pending)

    def describe(self) -> str:
        raise NotImplementedError

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
        cf: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self.lock:
            self.stopping = True
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
