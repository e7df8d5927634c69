"""The user's lifecycle hooks on an in-process actor: ``__actorio_start__`` right after the
constructor, ``__actorio_stop__`` when an instance retires (death, restart, shutdown); and an
``async def __init__``, awaited on the actor's loop (:func:`construct_async`).

Either may be sync or ``async def``; an async one runs on the actor's loop, and a stop hook
gets ``STOP_HOOK_TIMEOUT_S`` to finish. A stop hook that raises is logged: the actor stops
anyway. A start hook that raises is a failed constructor (the caller decides on a restart).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol

from .._seam import START_HOOK, STOP_HOOK, STOP_HOOK_TIMEOUT_S
from .._spec import ClassSpec

__all__ = ["construct_async", "run_start_hook", "run_stop_hook"]

log = logging.getLogger("actorio")


class Building(Protocol):
    """What :func:`construct_async` needs of the actor it builds (``Lifecycle``)."""

    @property
    def spec(self) -> ClassSpec: ...
    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    def _built(self, instance: Any, generation: int | None = None) -> None: ...
    def _construction_failed(
        self, exc: BaseException, generation: int | None = None, hook_name: str = "__init__"
    ) -> None: ...


def construct_async(
    actor: Building, args: tuple[Any, ...], kwargs: dict[str, Any], generation: int
) -> None:
    """Build an instance of a class with ``async def __init__`` (as Ray allows on async
    actors): made as ``type.__call__`` would, its ``__init__`` awaited as a task on the
    actor's loop (in the current context), then handed to the actor as the sync constructor's
    would be; a raising one fails construction the same way. ``generation``: which
    incarnation of the actor it builds (a later restart supersedes it)."""
    cls = actor.spec.cls
    try:
        instance = cls.__new__(cls, *args, **kwargs)
        init = cls.__init__(instance, *args, **kwargs)  # type: ignore[misc]
    except Exception as exc:
        actor._construction_failed(exc, generation)
        return

    def done(task: asyncio.Future[Any]) -> None:
        exc = task.exception() if not task.cancelled() else asyncio.CancelledError()
        if exc is not None:
            actor._construction_failed(exc, generation)
        else:
            actor._built(instance, generation)

    actor.loop.create_task(init).add_done_callback(done)


def run_start_hook(
    instance: Any,
    loop: asyncio.AbstractEventLoop,
    started: Callable[[], None],
    failed: Callable[[BaseException], None],
) -> None:
    """Run the start hook (if any), then ``started()``; ``failed(exc)`` if it raised."""
    hook = getattr(type(instance), START_HOOK, None)
    if hook is None:
        started()
        return
    try:
        result = hook(instance)
    except Exception as exc:
        failed(exc)
        return
    if not inspect.isawaitable(result):
        started()
        return

    def done(task: asyncio.Future[Any]) -> None:
        exc = task.exception() if not task.cancelled() else asyncio.CancelledError()
        if exc is not None:
            failed(exc)
        else:
            started()

    asyncio.ensure_future(result, loop=loop).add_done_callback(done)


def run_stop_hook(
    instance: Any,
    class_name: str,
    loop: asyncio.AbstractEventLoop,
    ctx: contextvars.Context,
    then: Callable[[], None],
) -> None:
    """Run the stop hook of a retiring instance (awaited on ``loop`` if async), then ``then()``."""
    hook = getattr(type(instance), STOP_HOOK, None) if instance is not None else None
    if hook is None:
        then()
        return
    try:
        result = hook(instance)
    except Exception:
        log.exception("%s.%s raised; the actor stops anyway", class_name, STOP_HOOK)
        then()
        return
    if not inspect.isawaitable(result):
        then()
        return

    async def bounded() -> None:
        try:
            await asyncio.wait_for(result, STOP_HOOK_TIMEOUT_S)
        except Exception:
            log.exception("%s.%s failed; the actor stops anyway", class_name, STOP_HOOK)
        finally:
            then()

    loop.create_task(bounded(), context=ctx.copy())
