"""The class Ray hosts for a user class with lifecycle hooks: ``__actorio_start__`` runs right
after the constructor (a raising hook is a failed constructor, as in-process), and
``__actorio_stop__`` runs when the Ray worker ends gracefully (``exit_actor()``,
``__ray_terminate__``, ``actorio.shutdown()``), through ``atexit``.

Ray gives an actor no other place to run code at its end: ``ray.kill`` (and so
``actorio.kill``) ends the process at once, and the stop hook does not run there.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import logging
import threading
from typing import Any

from .._seam import START_HOOK, STOP_HOOK, STOP_HOOK_TIMEOUT_S

__all__ = ["hosted_class"]

log = logging.getLogger("actorio")


def hosted_class(cls: type) -> type:
    """``cls`` itself when it has no hooks; else a subclass (same name) that runs them."""
    start = getattr(cls, START_HOOK, None)
    stop = getattr(cls, STOP_HOOK, None)
    if start is None and stop is None:
        return cls
    user_init: Any = cls.__init__  # type: ignore[misc]  # the class, not an instance

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        user_init(self, *args, **kwargs)
        if start is not None:
            _run(start, self)
        if stop is not None:
            atexit.register(_stop_quietly, stop, self, cls.__name__)

    async def __ainit__(self: Any, *args: Any, **kwargs: Any) -> None:
        # `async def __init__` (Ray awaits it on the actor's loop): the start hook runs there too
        await user_init(self, *args, **kwargs)
        if start is not None:
            result = start(self)
            if inspect.isawaitable(result):
                await result
        if stop is not None:
            atexit.register(_stop_quietly, stop, self, cls.__name__)

    if inspect.iscoroutinefunction(user_init):
        __init__ = __ainit__  # type: ignore[assignment]
    return type(
        cls.__name__,
        (cls,),
        {"__init__": __init__, "__module__": cls.__module__, "__qualname__": cls.__qualname__},
    )


def _run(hook: Any, instance: Any, timeout: float | None = None) -> None:
    """Run a hook to its end from synchronous code. An async hook gets a loop of its own, on
    another thread when this one already runs a loop (Ray's async actors do)."""
    result = hook(instance)
    if not inspect.isawaitable(result):
        return

    async def bounded() -> None:
        await asyncio.wait_for(result, timeout)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(bounded())
        return
    failure: list[BaseException] = []

    def runner() -> None:
        try:
            asyncio.run(bounded())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=runner, name="actorio-hook")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _stop_quietly(hook: Any, instance: Any, class_name: str) -> None:
    try:
        _run(hook, instance, STOP_HOOK_TIMEOUT_S)
    except Exception:
        log.exception("%s.%s raised; the actor stops anyway", class_name, STOP_HOOK)
