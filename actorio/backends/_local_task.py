"""Remote functions on the in-process backend.

``async def`` tasks run as asyncio tasks on the host loop; plain ``def`` tasks run on the
runtime's worker threads, so they never block a loop (and may call ``actorio.get``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from concurrent.futures import Executor
from typing import Any

from .._context import current_actor, current_loop
from .._mailbox import complete, fail, make_refs
from .._ref import await_refs, pending_refs, resolve_refs
from .._spec import FunctionSpec
from ..exceptions import TaskCancelledError, TaskError

__all__ = ["submit_task"]

_running_loop = asyncio._get_running_loop


def submit_task(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    num_returns: int,
    host: asyncio.AbstractEventLoop,
    pool: Executor,
) -> Any:
    loop = _running_loop()
    ref = make_refs(loop, host, num_returns)
    ctx = contextvars.copy_context()
    ctx.run(_enter_task, host)
    if spec.is_async:
        if loop is host:
            host.create_task(_run_async(spec, args, kwargs, ref), context=ctx)
        else:
            host.call_soon_threadsafe(_start_async, host, spec, args, kwargs, ref, ctx)
    else:
        pool.submit(ctx.run, _run_sync, spec, args, kwargs, ref)
    return ref


def _enter_task(host: asyncio.AbstractEventLoop) -> None:
    # A task started by an actor method is not part of that actor (as in Ray).
    current_actor.set(None)
    current_loop.set(host)


def _start_async(
    host: asyncio.AbstractEventLoop,
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    ref: Any,
    ctx: contextvars.Context,
) -> None:
    host.create_task(_run_async(spec, args, kwargs, ref), context=ctx)


async def _run_async(
    spec: FunctionSpec, args: tuple[Any, ...], kwargs: dict[str, Any], ref: Any
) -> None:
    here = asyncio.get_running_loop()
    try:
        args, kwargs = await await_refs(args, kwargs)
    except Exception as exc:  # an argument's call failed: pass its error on, as Ray does
        fail(ref, exc, here)
        return
    try:
        result = await spec.fn(*args, **kwargs)
    except Exception as exc:
        fail(ref, TaskError.from_exception(spec.name, exc), here)
    except asyncio.CancelledError:
        fail(ref, TaskCancelledError(f"task {spec.name} was cancelled"), here)
        raise
    else:
        complete(ref, result, here, spec.name)


def _run_sync(spec: FunctionSpec, args: tuple[Any, ...], kwargs: dict[str, Any], ref: Any) -> None:
    try:
        for r in pending_refs(args, kwargs):  # a worker thread may simply block on them
            concurrent.futures.wait([r.future()])
        args, kwargs = resolve_refs(args, kwargs)
    except Exception as exc:
        fail(ref, exc, None)
        return
    try:
        result = spec.fn(*args, **kwargs)
    except Exception as exc:
        fail(ref, TaskError.from_exception(spec.name, exc), None)
        return
    first = ref[0] if type(ref) is list else ref
    if first is None:
        return
    loop = first.get_loop()
    try:
        loop.call_soon_threadsafe(complete, ref, result, loop, spec.name)
    except RuntimeError:  # the caller's loop is closed; nobody can read the result
        pass
