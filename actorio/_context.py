"""Where the running code is: the actor it belongs to and the loop that hosts it.

The only global state actorio keeps per call, in one place. Each actor runs its methods inside
its own ``contextvars.Context`` (copied per async task and per worker-thread call), so
``get_runtime_context()`` and ``exit_actor()`` know the current actor even in worker threads,
and actors or tasks created from a worker thread land on the same loop as their creator.
"""

from __future__ import annotations

from asyncio import AbstractEventLoop
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._seam import ActorCore

__all__ = ["call_chain", "current_actor", "current_core", "current_loop"]

#: The local actor whose method is running (an ``actorio.backends._local.LocalActor``), if any.
current_actor: ContextVar[Any] = ContextVar("actorio_current_actor", default=None)

#: The loop that hosts the running task; used by code running in worker threads. (Inside an
#: actor it is unset: the actor's loop is ``current_actor``'s.)
current_loop: ContextVar[AbstractEventLoop | None] = ContextVar(
    "actorio_current_loop", default=None
)

#: The calls the running code is part of, outermost first: ``(actor, lane, ref)`` for each
#: running actor call that (transitively) started this code. Used to spot waits on oneself.
call_chain: ContextVar[tuple[tuple[Any, Any, Any], ...]] = ContextVar(
    "actorio_call_chain", default=()
)


def current_core() -> ActorCore | None:
    """The actor whose method is running here (in its loop, task or worker thread), if any."""
    ref = current_actor.get()
    return ref() if ref is not None else None
