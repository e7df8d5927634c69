"""Handles that do not keep their actor alive: those ``get_actor(name)`` returns.

As in Ray, what keeps a (non-detached) actor alive is the handle its creation returned and the
copies of it; a handle looked up by name does not count (Ray's ``ActorHandle._ray_weak_ref``).
Such a handle holds a :class:`WeakCore`: the actor's identity, and a weak reference to its
core that every call follows. Once the actor is released, calls fail at once with
``ActorDiedError`` saying so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._handle import ActorHandle, handle_for
from ._mailbox import fail_new, make_refs
from ._ref import ObjectRef, new_ref
from ._seam import ActorCore, Reducer, StreamSource, Supervising
from .exceptions import ActorDiedError

if TYPE_CHECKING:
    from ._options import ActorOptions, Mode
    from ._spec import ClassSpec, MethodSpec
    from ._stats import ActorState

__all__ = ["WeakCore", "weak_handle"]

_running_loop = asyncio._get_running_loop


def weak_handle(actor: ActorCore) -> ActorHandle[Any]:
    """A handle to ``actor`` that does not keep it alive."""
    return handle_for(WeakCore(actor))


class WeakCore:
    """An ``ActorCore`` that forwards to an actor it holds weakly."""

    def __init__(self, actor: ActorCore) -> None:
        self._actor: Callable[[], ActorCore | None] = weakref.ref(actor)
        self.actor_id: str = actor.actor_id
        self.name: str | None = actor.name
        self.namespace: str = actor.namespace
        self.spec: ClassSpec = actor.spec
        self.options: ActorOptions = actor.options
        self.mode: Mode = actor.mode
        self.loop: asyncio.AbstractEventLoop = actor.loop
        self._description = actor.describe()

    def _released(self) -> ActorDiedError:
        return ActorDiedError(
            f"The {self._description} is gone: it was released once the handles that keep it "
            f"alive were dropped and no call was pending. A handle from actorio.get_actor() "
            f"does not keep an actor alive (as in Ray): keep the handle that .remote() "
            f"returned, or create the actor with lifetime='detached'."
        )

    def _target(self) -> ActorCore:
        actor = self._actor()
        if actor is None:
            raise self._released()
        return actor

    @property
    def supervisor(self) -> Supervising | None:
        actor = self._actor()
        return None if actor is None else actor.supervisor

    @supervisor.setter
    def supervisor(self, value: Supervising | None) -> None:
        self._target().supervisor = value

    @property
    def alive(self) -> bool:
        actor = self._actor()
        return actor is not None and actor.alive

    @property
    def supervisable(self) -> bool:
        return self._target().supervisable

    @property
    def outlives_runtime(self) -> bool:
        actor = self._actor()
        return actor is not None and actor.outlives_runtime

    def describe(self) -> str:
        return self._description

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        raise AssertionError("a handle from get_actor() never starts its actor")

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Callable[..., Any]:
        self._target().bind(method, num_returns, group, options)  # its checks (the group)
        released = self._actor

        def remote(*args: Any, **kwargs: Any) -> Any:
            method.check(args, kwargs)
            actor = released()
            if actor is None:
                ref = make_refs(_running_loop(), self.loop, num_returns)
                fail_new(ref, self._released())
                return ref
            return actor.submit(method, args, kwargs, num_returns, group, options)

        return remote

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
        options: Any = None,
    ) -> Any:
        actor = self._actor()
        if actor is None:
            ref = make_refs(_running_loop(), self.loop, num_returns)
            fail_new(ref, self._released())
            return ref
        return actor.submit(method, args, kwargs, num_returns, group, options)

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        actor = self._actor()
        if actor is not None:
            actor.kill(err, restart, forced)

    def monitor(self) -> ObjectRef[ActorDiedError]:
        actor = self._actor()
        if actor is not None:
            return actor.monitor()
        ref: ObjectRef[ActorDiedError] = new_ref(_running_loop(), self.loop)
        ref.set_result(self._released())
        return ref

    def room(self) -> ObjectRef[None]:
        actor = self._actor()
        if actor is not None:
            return actor.room()
        ref: ObjectRef[None] = new_ref(_running_loop(), self.loop)
        ref.set_result(None)
        return ref

    def pending_calls(self) -> int:
        actor = self._actor()
        return 0 if actor is None else actor.pending_calls()

    def begin_stop(self) -> concurrent.futures.Future[None]:
        actor = self._actor()
        if actor is not None:
            return actor.begin_stop()
        cf: concurrent.futures.Future[None] = concurrent.futures.Future()
        cf.set_result(None)
        return cf

    def snapshot(self) -> ActorState:
        return self._target().snapshot()

    def reduce_handle(self) -> Reducer | None:
        actor = self._actor()
        return None if actor is None else actor.reduce_handle()

    def open_stream(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        group: str | None,
        window: int,
    ) -> StreamSource | None:
        actor = self._actor()
        return None if actor is None else actor.open_stream(method, args, kwargs, group, window)
