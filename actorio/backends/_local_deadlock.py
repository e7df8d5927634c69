"""Deadlock detection for in-process actors: a call that could never start if awaited.

Each running actor call records itself in the ``call_chain`` context variable of the code it
runs, so a new call made from inside one knows the chain of awaited calls that led to it.
"""

from __future__ import annotations

from typing import Any

from .._mailbox import Lane
from .._spec import MethodSpec
from ._base import CoreBase

__all__ = ["wait_cycle"]


def wait_cycle(
    actor: CoreBase, lane: Lane, method: MethodSpec, chain: tuple[Any, ...]
) -> str | None:
    """Describe the wait cycle if awaiting this call could never end; None otherwise.

    ``chain`` lists the running calls that led to the caller, outermost first. A call in it
    is *waiting* for the caller if every link after it is awaited by someone (its ref has
    done-callbacks: an awaiting task, gather, wait); the caller itself is assumed to await
    the new call. If waiting calls hold every slot of the lane the new call needs, it can
    never start: a deadlock. Calls fired and not awaited break the chain.
    """
    holders = 0
    waiting = True
    for index in range(len(chain) - 1, -1, -1):
        a, ln, ref = chain[index]
        if index < len(chain) - 1:
            waiting = waiting and bool(chain[index + 1][2]._callbacks)
        if not waiting:
            break
        if a is actor and ln is lane and not ref.done():
            holders += 1
    if holders < lane.limit:
        return None
    path = " -> ".join(f"{a.spec.name}" for a, _, _ in chain)
    return (
        f"awaiting {actor.spec.name}.{method.name} would deadlock: the call chain "
        f"{path} -> {actor.spec.name} waits on itself, and the {actor.describe()} has no free "
        f"slot for it (max_concurrency={lane.limit} in that group, all held by calls waiting "
        f"in this chain). Do not await it (fire and forget is fine), raise the actor's "
        f"max_concurrency, or move the method to another concurrency group."
    )
