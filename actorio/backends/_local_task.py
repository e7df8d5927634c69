"""Remote functions on the in-process backend.

``async def`` tasks run as asyncio tasks on the host loop; plain ``def`` tasks run on the
runtime's worker threads, so they never block a loop (and may call ``actorio.get``). With
``retry_exceptions``, a task whose function raises a matching exception runs again, up to
``max_retries`` more times (Ray's default: 3). In-process there are no worker crashes, so
``max_retries`` alone changes nothing.

A generator function streams its items (:mod:`._local_stream`) unless its call declares how
many refs it has (a static ``num_returns``, or ``"dynamic"``): then it runs to its end where a
plain task would, and its items are split over the refs (:mod:`actorio._yield`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from concurrent.futures import Executor
from typing import Any

from .._context import call_chain, current_actor, current_loop
from .._mailbox import complete, fail, first_ref, make_refs
from .._options import task_retry_policy
from .._ref import dropped
from .._ref_args import await_refs, pending_refs, resolve_refs
from .._spec import FunctionSpec
from .._threads import lend_slot
from .._yield import acollect, collect
from ..exceptions import TaskCancelledError, TaskError
from ._base import InFlight
from ._local_stream import stream_task

__all__ = ["submit_task"]

_running_loop = asyncio._get_running_loop


def submit_task(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    host: asyncio.AbstractEventLoop,
    pool: Executor,
    inflight: InFlight,
) -> Any:
    """Start one task; ``inflight`` counts it until it has ended (run, failed or dropped)."""
    loop = _running_loop()
    num_returns = options.get("num_returns", 1)
    ctx = contextvars.copy_context()
    ctx.run(_enter_task, host)
    if num_returns == "streaming":
        return stream_task(spec, args, kwargs, options, host, ctx)
    ref = make_refs(loop, host, num_returns)
    # (a generator's items split over its refs; None: "dynamic", one ref for all of them)
    how = task_retry_policy(options), None if num_returns == "dynamic" else num_returns
    inflight.enter()
    if spec.is_async:
        begin = (host, spec, args, kwargs, ref, ctx, how, inflight)
        if loop is host:
            _start_async(*begin)
        else:
            try:
                host.call_soon_threadsafe(_start_async, *begin)
            except RuntimeError:  # its loop is closed
                inflight.leave()
                raise
    else:
        work = _SyncWork()
        try:
            future = pool.submit(ctx.run, _run_sync, spec, args, kwargs, ref, how, work)
        except RuntimeError:  # the pool is shut down
            inflight.leave()
            raise
        future.add_done_callback(inflight.leave)  # also when it is dropped before it starts
        work.future = future
        first = first_ref(ref)
        if first is not None:
            first._actorio_work = work  # cancelling the ref drops it if it has not started
    return ref


#: ((max_retries, retry_exceptions), the generator's num_returns): how a task runs
_How = tuple[tuple[int, Any], int | None]


class _SyncWork:
    """What cancelling the ref of a ``def`` task reaches: its place in the pool's queue, and
    a flag it reads once its ref arguments are done (it waits for them on its thread)."""

    __slots__ = ("cancelled", "future")

    def __init__(self) -> None:
        self.cancelled = False
        self.future: concurrent.futures.Future[None] | None = None

    def cancel(self) -> bool:
        self.cancelled = True
        future = self.future
        if future is not None:
            future.cancel()  # not started yet: it never will be
        return True


def _should_retry(exc: Exception, attempt: int, retries: tuple[int, Any]) -> bool:
    budget, retry_on = retries
    if not retry_on or (budget != -1 and attempt >= budget):
        return False
    return retry_on is True or isinstance(exc, retry_on)


def _enter_task(host: asyncio.AbstractEventLoop) -> None:
    # A task started by an actor method is not part of that actor (as in Ray).
    current_actor.set(None)
    current_loop.set(host)
    call_chain.set(())


def _start_async(
    host: asyncio.AbstractEventLoop,
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ref: Any,
    ctx: contextvars.Context,
    how: _How,
    inflight: InFlight,
) -> None:
    first = first_ref(ref)
    if first is not None and first.done():
        inflight.leave()
        return  # cancelled before it started
    task = host.create_task(_run_async(spec, args, kwargs, ref, how), context=ctx)
    task.add_done_callback(inflight.leave)
    if first is not None:
        first._actorio_work = task  # cancelling the ref cancels the task


async def _run_async(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ref: Any,
    how: _How,
) -> None:
    here = asyncio.get_running_loop()
    try:
        args, kwargs = await await_refs(args, kwargs, spec.name)
    except Exception as exc:  # an argument's call failed: pass its error on, as Ray does
        fail(ref, exc, here)
        return
    first = first_ref(ref)
    if first is not None and dropped(first):
        return  # cancelled while it waited for its arguments (from another thread)
    retries, declared = how
    attempt = 0
    while True:
        try:
            if spec.stream:  # an async generator with its refs known up front
                result = await acollect(spec.fn(*args, **kwargs), declared, spec.name)
            else:
                result = await spec.fn(*args, **kwargs)
        except Exception as exc:
            if _should_retry(exc, attempt, retries):
                attempt += 1
                continue
            fail(ref, TaskError.from_exception(spec.name, exc), here)
        except asyncio.CancelledError:
            fail(ref, TaskCancelledError(f"task {spec.name} was cancelled"), here)
            raise
        else:
            complete(ref, result, here, spec.name)
        return


def _run_sync(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ref: Any,
    how: _How,
    work: _SyncWork,
) -> None:
    try:
        waiting = pending_refs(args, kwargs)
        if waiting:  # a worker thread may simply block on them, lending its slot meanwhile
            lent = lend_slot()
            try:
                concurrent.futures.wait([r.future() for r in waiting])
            finally:
                if lent is not None:
                    lent.take_back()
        args, kwargs = resolve_refs(args, kwargs, spec.name)
    except Exception as exc:
        fail(ref, exc, None)
        return
    first = first_ref(ref)
    if work.cancelled or (first is not None and dropped(first)):
        return  # cancelled while it waited for its ref arguments: it never runs
    retries, declared = how
    attempt = 0
    while True:
        try:
            result = spec.fn(*args, **kwargs)
            if spec.stream:  # a generator with its refs known up front: run it here
                result = collect(result, declared, spec.name)
        except Exception as exc:
            if _should_retry(exc, attempt, retries):
                attempt += 1
                continue
            fail(ref, TaskError.from_exception(spec.name, exc), None)
            return
        break
    first = first_ref(ref)
    if first is None:
        return
    loop = first._loop
    try:
        loop.call_soon_threadsafe(complete, ref, result, loop, spec.name)
    except RuntimeError:  # the caller's loop is closed; nobody can read the result
        pass
