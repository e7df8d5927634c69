"""Refs among a call's arguments: found, waited for, and replaced by their values.

Top-level ref arguments are resolved before a call starts (as on Ray); an argument whose call
failed fails the call, saying that an input could not be computed.
"""

from __future__ import annotations

import asyncio
from asyncio import AbstractEventLoop
from typing import Any

from ._ref import ObjectRef
from .exceptions import TaskCancelledError, TaskError

__all__ = ["await_refs", "has_refs", "pending_refs", "resolve_refs", "when_all_done"]


def has_refs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True if any top-level argument is a ref (those are resolved before the call runs)."""
    for a in args:
        if isinstance(a, ObjectRef):
            return True
    if kwargs:
        for a in kwargs.values():
            if isinstance(a, ObjectRef):
                return True
    return False


def pending_refs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[ObjectRef[Any]]:
    refs = [a for a in args if isinstance(a, ObjectRef)]
    refs += [a for a in kwargs.values() if isinstance(a, ObjectRef)]
    return [r for r in refs if not r.done()]


def _value_of(ref: ObjectRef[Any], what: str | None) -> Any:
    if ref.cancelled():
        exc: BaseException | None = TaskCancelledError(f"argument {ref!r} was cancelled")
    else:
        exc = ref.exception()
    if exc is None:
        return ref.result()
    if what is None:
        raise exc
    # As Ray: the call says it could not run, and is still an instance of the original class.
    raise TaskError.from_failed_argument(what, exc)


def resolve_refs(
    args: tuple[Any, ...], kwargs: dict[str, Any], what: str | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Replace done top-level refs by their values. The first upstream error is raised, as
    the error of the call ``what`` (when given) that could not run because of it."""
    args = tuple(_value_of(a, what) if isinstance(a, ObjectRef) else a for a in args)
    kwargs = {k: _value_of(v, what) if isinstance(v, ObjectRef) else v for k, v in kwargs.items()}
    return args, kwargs


def when_all_done(refs: list[ObjectRef[Any]], loop: AbstractEventLoop, callback: Any) -> None:
    """Call ``callback()`` on ``loop`` once every ref in ``refs`` is done (refs may be foreign)."""
    remaining = len(refs)

    def one_done(_: object = None) -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            callback()

    for r in refs:
        if r._loop is loop:
            r.add_done_callback(one_done)
        else:
            r.future().add_done_callback(lambda _: loop.call_soon_threadsafe(one_done))


async def await_refs(
    args: tuple[Any, ...], kwargs: dict[str, Any], what: str | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Wait for the top-level refs among the arguments, then substitute their values."""
    pending = pending_refs(args, kwargs)
    if pending:
        loop = asyncio.get_running_loop()
        futs = [r if r._loop is loop else asyncio.wrap_future(r.future()) for r in pending]
        await asyncio.wait(futs)
        for f in futs:  # mark outcomes as seen; resolve_refs raises the first error in order
            if not f.cancelled():
                f.exception()
    return resolve_refs(args, kwargs, what)
