"""The message envelope and the per-concurrency-group queue (a *lane*) of an actor.

A lane is a ``collections.deque`` plus a few counters, not a task: an idle actor costs no
coroutine and no wake-ups. Appends are atomic under the GIL, so the order of ``.remote()``
calls is the order of appends, whichever thread or loop they come from.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections import deque
from typing import Any, ClassVar, Self, cast

from ._options import CallOptions
from ._ref import ObjectRef, deliver, deliver_error, new_ref, set_exception
from ._spec import MethodSpec
from ._yield import Yielded
from .exceptions import InvalidArgumentsError, InvalidOptionsError

__all__ = [
    "Call",
    "CallExtra",
    "NO_CALLS",
    "IdleLanes",
    "PerLoop",
    "Lane",
    "complete",
    "fail",
    "fail_new",
    "first_ref",
    "make_refs",
]


class CallExtra:
    """What a few calls carry beyond the fast path's tuple (None there for most calls)."""

    __slots__ = ("attempts", "chain", "has_refs", "options")

    def __init__(
        self,
        has_refs: bool,
        chain: tuple[Any, ...],
        options: CallOptions | None,
        attempts: int = 0,
    ) -> None:
        self.has_refs = has_refs
        self.chain = chain  # the caller's call chain (see actorio._context.call_chain)
        self.options = options
        self.attempts = attempts  # how many times it was retried already


#: One message: (method, args, kwargs, ref, extra). ``ref`` is an ObjectRef, a list of them
#: (num_returns > 1) or None (num_returns == 0). A tuple, not an object: it is built once per
#: call on the hot path, and tuples are the cheapest thing Python can build.
Call = tuple[MethodSpec, tuple[Any, ...], dict[str, Any], Any, CallExtra | None]


#: The queue of a lane with no deque yet: empty, so reading it works as for an empty deque;
#: appending fails loudly, so a call can never be dropped into it (use Lane.open()).
NO_CALLS: deque[Call] = cast("deque[Call]", ())


class Lane:
    """A FIFO of calls that share one concurrency limit.

    ``scheduled`` is True while someone is responsible for draining the lane: a drain callback
    is pending, the lane is full (a finishing call drains it), paused on ref arguments (their
    resolution drains it), or the actor is not constructed yet (construction drains it). The
    drain clears it when it finds the queue empty, then looks at the queue again: a
    submitter from another thread appends before reading it (under the actor's lock, which
    also orders it with death), so either the drain sees the new call or the submitter sees
    False and schedules a drain.
    """

    __slots__ = ("draining", "limit", "listed", "paused", "queue", "running", "scheduled")

    def __init__(self, limit: int) -> None:
        self.queue: deque[Call] = NO_CALLS  # read freely; append only through open()
        self.limit = limit
        self.running = 0
        self.scheduled = True  # until the constructor has run
        self.paused = False
        self.draining = False  # a drain callback runs (so does an inline call, seen elsewhere)
        self.listed = False  # waiting in IdleLanes for its deque to be released

    def open(self) -> deque[Call]:
        """The lane's deque, made on first use: an empty deque already holds a 64-slot block
        (~0.6 KB), which would be most of what an idle actor costs."""
        queue = self.queue
        if queue is NO_CALLS:
            queue = self.queue = deque()
        return queue

    def take_all(self) -> list[Call]:
        """Take every queued call out (the deque stays until the lane is idle a while)."""
        queue = self.queue
        calls = list(queue)
        if calls:
            queue.clear()
        return calls


#: how long a lane's empty deque is kept after it went idle: a busy actor keeps its deque
#: from call to call, an idle one gives it back (it is most of what a used idle actor costs)
RELEASE_S = 1.0


class PerLoop:
    """State shared by every actor hosted on one loop: made on first use, one per loop and
    subclass, kept only while the loop lives (``Subclass.of(loop)``)."""

    __slots__ = ("__weakref__", "ctx", "loop")
    _made: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]]

    def __init_subclass__(cls) -> None:
        cls._made = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # Its callbacks run in a context of their own, not a copy of whoever scheduled them.
        self.ctx = contextvars.Context()

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Self:
        found = cls._made.get(loop)
        if found is None:
            found = cls._made.setdefault(loop, cls(loop))
        return found  # type: ignore[no-any-return]


class IdleLanes(PerLoop):
    """The lanes of one host loop whose deques went empty, released ``RELEASE_S`` later if
    they are still idle then: no cost per call beyond a flag, one timer per loop."""

    __slots__ = ("armed", "lanes")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.lanes: list[tuple[Lane, Any]] = []
        self.armed = False

    def add(self, lane: Lane, lock: Any) -> None:
        """``lane`` (guarded by ``lock`` against submitters in other threads) just went
        idle (host loop only)."""
        lane.listed = True
        self.lanes.append((lane, lock))
        if not self.armed:
            self.armed = True
            self.loop.call_later(RELEASE_S, self.release, context=self.ctx)

    def release(self) -> None:
        lanes, self.lanes = self.lanes, []
        self.armed = False
        for lane, lock in lanes:
            lane.listed = False
            # Under the lock: a submitter in another thread takes the deque (open()) and
            # appends under it, so it never appends to a deque already given back.
            with lock:
                if not (lane.queue or lane.scheduled or lane.draining):
                    lane.queue = NO_CALLS


def make_refs(
    caller: asyncio.AbstractEventLoop | None,
    host: asyncio.AbstractEventLoop,
    num_returns: int | str,
) -> Any:
    """The ref(s) of one call: on the caller's running loop, or on ``host`` for sync callers.
    A ``"dynamic"`` call has one ref (its value gives the refs of the items)."""
    if num_returns == 1 or num_returns == "dynamic":
        return new_ref(caller, host)
    if num_returns == 0:
        return None
    if isinstance(num_returns, str):  # "streaming" calls have a stream, not refs
        raise InvalidOptionsError(f"num_returns={num_returns!r} makes no refs up front")
    return [new_ref(caller, host) for _ in range(num_returns)]


def complete(ref: Any, value: Any, here: asyncio.AbstractEventLoop, what: str) -> None:
    """Deliver a result to one ref, or split it over several (``num_returns > 1``)."""
    if isinstance(ref, ObjectRef):
        deliver(ref, value, here)
    elif ref is not None and type(value) is Yielded:  # a generator's items (see _yield)
        for i, r in enumerate(ref):
            ok, item = value.outcome(i)
            if ok:
                deliver(r, item, here)
            else:
                deliver_error(r, item, here)
    elif ref is not None:
        try:
            values = list(value)
        except TypeError:
            values = None
        if values is None or len(values) != len(ref):
            got = type(value).__name__ if values is None else f"{len(values)} values"
            err = InvalidArgumentsError(
                f"{what} declares num_returns={len(ref)} but returned {got}; return a "
                f"tuple of exactly {len(ref)} values"
            )
            for r in ref:
                deliver_error(r, err, here)
            return
        for r, v in zip(ref, values, strict=True):
            deliver(r, v, here)


def fail_new(ref: Any, exc: BaseException) -> None:
    """Fail refs that were just made and not handed out yet, in any thread.

    Nothing can be waiting on them, so setting the exception directly is safe, and it works
    even when their loop is closed (a call to an actor whose loop is gone).
    """
    for r in [ref] if isinstance(ref, ObjectRef) else ref or ():
        set_exception(r, exc)


def fail(ref: Any, exc: BaseException, here: asyncio.AbstractEventLoop | None) -> None:
    if isinstance(ref, ObjectRef):
        deliver_error(ref, exc, here)
    elif ref is not None:
        for r in ref:
            deliver_error(r, exc, here)


def first_ref(ref: Any) -> ObjectRef[Any] | None:
    """The ref that stands for the call (the first of several)."""
    if type(ref) is list:
        return ref[0] if ref else None
    return ref  # type: ignore[no-any-return]
