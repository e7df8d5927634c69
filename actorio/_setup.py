"""Starting and stopping actorio: ``init``, ``is_initialized``, ``shutdown``
(``actorio.run``, which owns a loop for a script, is the runtime's: ``actorio._runtime``)."""

from __future__ import annotations

from typing import Any

from ._options import Placement
from ._runtime import LoopFactory, Runtime, install, peek_runtime
from ._runtime import reset as _reset
from ._runtime_context import RuntimeContext
from .exceptions import AlreadyInitializedError, InvalidOptionsError

__all__ = ["init", "is_initialized", "shutdown", "shutdown_async"]


def init(
    address: str | None = None,
    *,
    namespace: str | None = None,
    backend: str | None = None,
    loop_factory: LoopFactory | None = None,
    ignore_reinit_error: bool = False,
    blocking_warning_s: float = 0.1,
    shutdown_timeout_s: float = 1.0,
    placement: Placement | None = None,
    eager: bool = True,
    **ray_options: Any,
) -> RuntimeContext:
    """Start actorio explicitly (optional: first use starts it with defaults, as in Ray).

    ``namespace`` scopes actor names; ``backend`` picks where actors live by default
    (``ACTORIO_BACKEND`` otherwise; ``"local"`` is the in-process default); ``loop_factory``
    builds the runtime loop that hosts work created from sync code (uvloop when installed).
    ``blocking_warning_s``: log a warning when an actor method holds an event loop longer
    than this (0 disables the watchdog). ``shutdown_timeout_s``: how long ``shutdown()`` and
    interpreter exit let accepted calls finish. ``placement`` (``"inline"`` or ``"thread"``)
    sets where every regular actor that does not say runs its sync methods (by default: on a
    thread when created from plain sync code, inline on its loop when created in async code).
    ``eager=False`` sends every call through the mailbox, for actors that do not say (by
    default a plain call to an idle regular actor on its own loop runs at once).
    Ray's resource options (``num_cpus=...``) are accepted and ignored in-process.
    """
    _, explicit = peek_runtime()
    rt = Runtime(
        namespace, backend, loop_factory, blocking_warning_s, shutdown_timeout_s, placement, eager
    )
    if address is not None and rt.backend_name != "ray":
        raise InvalidOptionsError(
            f"address={address!r} is a Ray cluster address: pass backend='ray' with it (or "
            f"drop it to run in-process)"
        )
    rt.backend_options = {"address": address, **ray_options}
    if install(rt, explicit=True) is not rt:
        if ignore_reinit_error:
            return RuntimeContext()
        how = "by actorio.init()" if explicit else "implicitly, by an earlier actorio call"
        raise AlreadyInitializedError(
            f"actorio is already initialized ({how}); call actorio.shutdown() first, or pass "
            f"ignore_reinit_error=True"
        )
    return RuntimeContext()


def is_initialized() -> bool:
    """True between the first actorio use (or ``init()``) and ``shutdown()``."""
    return peek_runtime()[0] is not None


def shutdown(timeout: float | None = None) -> None:
    """Stop everything, gracefully: refuse new calls, let accepted calls finish for up to
    ``timeout`` seconds (default: ``init(shutdown_timeout_s=...)``, 1 s), fail what is left
    with ``ActorDiedError``, run every actor's ``__actorio_stop__`` hook, forget every name,
    and stop the runtime loop and worker threads. Interpreter exit does the same."""
    _reset(timeout)


async def shutdown_async(timeout: float | None = None) -> None:  # noqa: ASYNC109 (a grace period)
    """``shutdown()`` for code running on an event loop (a web server's lifespan, say):
    the same graceful stop, awaited, so actors hosted on this very loop can finish their
    accepted calls and run their stop hooks while it waits."""
    rt, _ = peek_runtime()
    if rt is not None:
        await rt.drain(timeout)
    _reset(0)  # what is left: names, threads, worker processes
