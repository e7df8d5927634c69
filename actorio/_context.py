"""Where the running code is: the actor it belongs to, the loop that hosts it, and whether
the loop running in this thread is one actorio may use.

The only global state actorio keeps per call, in one place. Each actor runs its methods inside
its own ``contextvars.Context`` (copied per async task and per worker-thread call), so
``get_runtime_context()`` and ``exit_actor()`` know the current actor even in worker threads,
and actors or tasks created from a worker thread land on the same loop as their creator.

A Jupyter kernel runs each cell's code inside its own event loop, in the cell's thread, so
plain cell code looks like async code; yet it is written as a script, with blocking ``get``
calls that the kernel's loop, blocked by the cell, could never serve. :func:`caller_loop`
therefore reports no loop there: cells get the runtime loop in its own thread, as scripts do.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from asyncio import AbstractEventLoop
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._seam import ActorCore

__all__ = [
    "KERNEL_LOOPS",
    "call_chain",
    "caller_loop",
    "current_actor",
    "current_core",
    "current_loop",
]

_running_loop = asyncio._get_running_loop
#: the loops found to be a notebook kernel's (a kernel has one loop for its whole life)
KERNEL_LOOPS: set[AbstractEventLoop] = set()


def caller_loop() -> AbstractEventLoop | None:
    """The event loop running in this thread, unless it is a notebook kernel's (None)."""
    loop = _running_loop()
    if loop is None or "ipykernel" not in sys.modules:
        return loop
    if loop in KERNEL_LOOPS or _is_kernel_loop():
        KERNEL_LOOPS.add(loop)
        return None
    return loop


def _is_kernel_loop() -> bool:
    """True in an IPython kernel's cell (its loop runs in the main thread)."""
    if "ipykernel" not in sys.modules or threading.current_thread() is not threading.main_thread():
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


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
