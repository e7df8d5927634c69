"""Reading refs from a thread that may block: ``actorio.get`` and ``actorio.wait`` underneath.

A blocking read refuses to run where it would deadlock (the thread of a running event loop,
unless nothing needs to wait), raises ``DeadlockError`` for a call that waits on its own
caller, and lets a ``def`` task hand its slot on while it waits.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any, TypeVar

from ._kernel import caller_loop
from ._ref import CycleRef, ObjectRef
from ._threads import lend_slot
from .exceptions import BlockingCallOnLoopError, DeadlockError, GetTimeoutError

__all__ = ["blocking_futures", "check_may_block", "get_value", "timeout_error"]

T = TypeVar("T")


def check_may_block(
    what: str, timeout: float | None, refs: list[ObjectRef[Any]], num_returns: int
) -> None:
    """Refuse to block an event loop's thread. Allowed there: a zero timeout, and refs of
    which ``num_returns`` are done already (neither blocks; async code may ``await ref``
    and then ``get(ref)``)."""
    if timeout == 0 or caller_loop() is None:
        return
    if sum(r.done() for r in refs) >= num_returns:
        return
    raise BlockingCallOnLoopError(
        f"{what} would block the event loop running in this thread, and the loop may be the "
        f"one that has to produce the result (a deadlock). In async code use 'await ref' "
        f"(or 'await asyncio.gather(*refs)' / 'asyncio.wait(refs)'); for an actor whose sync "
        f"methods must block, create it with placement='thread' (the default for actors "
        f"created from plain sync code) or make it threaded (max_concurrency > 1)."
    )


def blocking_futures(
    refs: list[ObjectRef[Any]], timeout: float | None, num_returns: int
) -> list[concurrent.futures.Future[Any]]:
    """Wait in this (non-loop) thread until ``num_returns`` refs are done or time runs out."""
    for r in refs:
        if isinstance(r, CycleRef) and not r.done():
            raise DeadlockError(r.cycle)
    cfs = [r.future() for r in refs]
    lent = lend_slot()  # a def task lets another start while it waits
    try:
        return _wait_for(cfs, timeout, num_returns)
    finally:
        if lent is not None:
            lent.take_back()


def _wait_for(
    cfs: list[concurrent.futures.Future[Any]], timeout: float | None, num_returns: int
) -> list[concurrent.futures.Future[Any]]:
    if num_returns >= len(cfs):
        # One future at a time, on its own condition: concurrent.futures.wait would build
        # waiter objects for every call (a fifth of a get from sync code).
        deadline = None if timeout is None else time.monotonic() + timeout
        for cf in cfs:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                cf.exception(left)  # waits; the call's own error is read later
            except (TimeoutError, concurrent.futures.CancelledError):
                break
        return cfs
    pending = set(cfs)
    done_count = 0
    deadline = None if timeout is None else time.monotonic() + timeout
    while done_count < num_returns and pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        done, pending = concurrent.futures.wait(
            pending, timeout=left, return_when=concurrent.futures.FIRST_COMPLETED
        )
        done_count += len(done)
        if not done:
            break
    return cfs


def get_value(ref: ObjectRef[T], what: str = "actorio.get()") -> T:
    """Block this (non-loop) thread until ``ref`` is done; its value (or its error)."""
    check_may_block(what, None, [ref], 1)
    (cf,) = blocking_futures([ref], None, 1)
    value: T = cf.result()
    return value


def timeout_error(what: str, timeout: float | None, pending: int) -> GetTimeoutError:
    return GetTimeoutError(
        f"{what} timed out after {timeout} s with {pending} result(s) still pending; the calls "
        f"go on running. Raise the timeout, or use actorio.wait() to collect what is ready."
    )
