"""The Ray-shaped verbs: remote, method, get, wait, put, kill, get_actor, init, shutdown, run."""

from __future__ import annotations

import asyncio
import inspect
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from ._actor import ActorClass
from ._context import current_actor
from ._function import RemoteFunction
from ._handle import ActorHandle, handle_for
from ._ref import ObjectRef, abort, blocking_futures, check_may_block, new_ref, timeout_error
from ._runtime import LoopFactory, Runtime, default_loop_factory, get_runtime, install, peek_runtime
from ._runtime import reset as _reset
from ._spec import (
    METHOD_OPTIONS_ATTR,
    ActorOptions,
    ClassSpec,
    FunctionSpec,
    actor_options,
    call_options,
    function_options,
)
from .backends import ActorExit
from .exceptions import (
    ActorDiedError,
    ActorNotFoundError,
    AlreadyInitializedError,
    InvalidArgumentsError,
    InvalidOptionsError,
    NotInActorError,
    TaskCancelledError,
)

__all__ = [
    "RuntimeContext",
    "cancel",
    "monitor",
    "pending_calls",
    "wait_for_death",
    "exit_actor",
    "get",
    "get_actor",
    "get_runtime_context",
    "init",
    "is_initialized",
    "kill",
    "method",
    "put",
    "remote",
    "run",
    "shutdown",
    "wait",
]

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])


class _RemoteDecorator(Protocol):
    """What ``@actorio.remote(**options)`` returns: types like bare ``@actorio.remote``."""

    @overload
    def __call__(self, obj: type[T], /) -> ActorClass[T]: ...  # type: ignore[overload-overlap]
    @overload
    def __call__(self, obj: Callable[P, Coroutine[Any, Any, R]], /) -> RemoteFunction[R, P]: ...
    @overload
    def __call__(self, obj: Callable[P, R], /) -> RemoteFunction[R, P]: ...


def _make_remote(obj: Any, options: dict[str, Any]) -> Any:
    if inspect.isclass(obj):
        return ActorClass(ClassSpec.of(obj), actor_options(ActorOptions(), options))
    if callable(obj):
        return RemoteFunction(FunctionSpec.of(obj), function_options(options))
    raise InvalidArgumentsError(
        f"@actorio.remote applies to a class or a function, not {type(obj).__name__}"
    )


# A class is also a callable, so the class overload comes first (and overlaps, by design).
# Type checkers cannot take a class's constructor parameters here and still tell it from a
# function, so ActorClass[T] accepts any arguments; the mypy plugin puts them back.
@overload
def remote(obj: type[T], /) -> ActorClass[T]: ...  # type: ignore[overload-overlap]
@overload
def remote(obj: Callable[P, Coroutine[Any, Any, R]], /) -> RemoteFunction[R, P]: ...
@overload
def remote(obj: Callable[P, R], /) -> RemoteFunction[R, P]: ...
@overload
def remote(**options: Any) -> _RemoteDecorator: ...
def remote(*args: Any, **options: Any) -> Any:
    """Make a class an actor class, or a function a remote function.

    Use it bare (``@actorio.remote``) or with options (``@actorio.remote(max_concurrency=4)``).

    Example::

        @actorio.remote
        class Counter:
            def __init__(self, start: int = 0) -> None:
                self.count = start

            def increment(self) -> int:
                self.count += 1
                return self.count

        counter = Counter.remote(100)
        assert actorio.get(counter.increment.remote()) == 101
    """
    if len(args) == 1 and not options:
        return _make_remote(args[0], {})
    if args:
        raise InvalidArgumentsError(
            "use @actorio.remote or @actorio.remote(option=value, ...), not positional options"
        )
    return lambda obj: _make_remote(obj, options)


@overload
def method(fn: F, /) -> F: ...
@overload
def method(**options: Any) -> Callable[[F], F]: ...
def method(*args: Any, **options: Any) -> Any:
    """Per-method options: ``@actorio.method(concurrency_group="io", num_returns=2)``.

    The method keeps its own type, so it stays callable (and checked) inside the class.
    """
    opts = call_options(options)

    def mark(fn: F) -> F:
        setattr(fn, METHOD_OPTIONS_ATTR, opts)
        return fn

    if len(args) == 1 and callable(args[0]) and not options:
        return mark(args[0])
    if args:
        raise InvalidArgumentsError("use @actorio.method(option=value, ...)")
    return mark


def _as_refs(refs: Any, what: str) -> list[ObjectRef[Any]]:
    items = list(refs)
    for r in items:
        if not isinstance(r, ObjectRef):
            raise InvalidArgumentsError(
                f"{what} takes ObjectRefs (what .remote() returns), got {type(r).__name__}"
            )
    return items


@overload
def get(refs: ObjectRef[T], *, timeout: float | None = None) -> T: ...
@overload
def get(
    refs: list[ObjectRef[T]] | tuple[ObjectRef[T], ...], *, timeout: float | None = None
) -> list[T]: ...
@overload
def get(refs: Sequence[ObjectRef[Any]], *, timeout: float | None = None) -> list[Any]: ...
def get(refs: Any, *, timeout: float | None = None) -> Any:
    """Block this thread until the ref (or every ref of a list) is done; return the value(s).

    Raises the call's error (a ``TaskError`` that is also the original exception type), and
    ``GetTimeoutError`` when ``timeout`` seconds pass first. Refuses to run on an event loop's
    thread (``BlockingCallOnLoopError``): there, ``await ref`` instead.
    """
    single = isinstance(refs, ObjectRef)
    if not single and not isinstance(refs, list | tuple):
        raise InvalidArgumentsError(
            f"actorio.get() takes an ObjectRef or a list of them, got {type(refs).__name__}"
        )
    items = [refs] if single else _as_refs(refs, "actorio.get()")
    check_may_block("actorio.get()", timeout)
    cfs = blocking_futures(items, timeout, len(items))
    late = sum(not cf.done() for cf in cfs)
    if late:
        raise timeout_error("actorio.get()", timeout, late)
    values = [cf.result() for cf in cfs]
    return values[0] if single else values


def wait(
    refs: Sequence[ObjectRef[Any]],
    *,
    num_returns: int = 1,
    timeout: float | None = None,
    fetch_local: bool = True,
) -> tuple[list[ObjectRef[Any]], list[ObjectRef[Any]]]:
    """Block until ``num_returns`` refs are done or ``timeout`` passes: ``(ready, not_ready)``.

    Both lists keep the input order. In async code use ``asyncio.wait(refs)`` (refs are
    asyncio futures) or ``await`` them.
    """
    items = _as_refs(refs, "actorio.wait()")
    if not items:
        return [], []
    if len(set(map(id, items))) != len(items):
        raise InvalidArgumentsError("actorio.wait() got the same ref twice")
    if not 0 <= num_returns <= len(items):
        raise InvalidArgumentsError(
            f"num_returns must be between 0 and len(refs)={len(items)}, got {num_returns}"
        )
    check_may_block("actorio.wait()", timeout)
    cfs = blocking_futures(items, timeout, num_returns)
    ready: list[ObjectRef[Any]] = []
    not_ready: list[ObjectRef[Any]] = []
    for ref, cf in zip(items, cfs, strict=True):
        (ready if cf.done() and len(ready) < num_returns else not_ready).append(ref)
    return ready, not_ready


def put(value: T) -> ObjectRef[T]:
    """A ref that is already done with ``value`` (in-process: the object itself, not a copy)."""
    caller = asyncio._get_running_loop()
    ref: ObjectRef[T] = new_ref(caller, caller or get_runtime().host_loop())
    ref.set_result(value)
    return ref


def _core(actor: Any, what: str) -> Any:
    if not isinstance(actor, ActorHandle):
        raise InvalidArgumentsError(f"{what} takes an actor handle, got {type(actor).__name__}")
    return actor._actorio_actor


def kill(actor: ActorHandle[Any], *, no_restart: bool = True) -> None:
    """Kill the actor now: queued and running calls fail with ``ActorDiedError``, as do new ones.

    A running async method is cancelled; a running sync method on a thread cannot be
    interrupted, so it finishes, but its result is dropped. A name it held becomes free.
    With ``no_restart=False`` the actor restarts instead, if ``max_restarts`` allows: calls in
    flight or queued are retried per ``max_task_retries``, new calls wait for the new instance.
    """
    core = _core(actor, "actorio.kill()")
    if no_restart:
        why = "it was killed with actorio.kill()"
        core.kill(ActorDiedError(f"The {core.describe()} is dead: {why}."))
    else:
        why = "it was killed with actorio.kill(no_restart=False)"
        core.kill(ActorDiedError(f"The {core.describe()} died: {why}."), restart=True)


def cancel(ref: ObjectRef[Any], *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the call behind ``ref``; reading the ref then raises ``TaskCancelledError``.

    A queued call is dropped before it starts. A running async method (or ``async def`` task)
    gets ``asyncio.CancelledError`` inside its coroutine, and so do the calls it is awaiting.
    A running sync method or ``def`` task cannot be interrupted in-process: it runs to the end
    and its result is discarded. ``force`` and ``recursive`` are accepted for Ray
    compatibility and change nothing in-process. A ref that is already done is left alone.
    """
    if not isinstance(ref, ObjectRef):
        raise InvalidArgumentsError(
            f"actorio.cancel() takes an ObjectRef, got {type(ref).__name__}"
        )
    if not ref.done():
        abort(ref, TaskCancelledError("the call was cancelled with actorio.cancel()"))


def monitor(actor: ActorHandle[Any]) -> ObjectRef[ActorDiedError]:
    """A ref that completes, with the ``ActorDiedError`` saying why as its *value*, once the
    actor is dead for good (restarts do not count), after its stop hook ran.

    Like an Erlang monitor, it never raises and never keeps the actor alive::

        reason = await actorio.monitor(worker)        # or actorio.get(...) in sync code
    """
    return _core(actor, "actorio.monitor()").monitor()  # type: ignore[no-any-return]


async def wait_for_death(actor: ActorHandle[Any]) -> ActorDiedError:
    """Wait until the actor is dead for good; return why (an ``ActorDiedError``).

    Bound the wait with ``asyncio.timeout`` when needed.
    """
    return await monitor(actor)


def pending_calls(actor: ActorHandle[Any]) -> int:
    """How many calls the actor has accepted and not finished (queued plus running)."""
    return int(_core(actor, "actorio.pending_calls()").pending_calls())


def exit_actor() -> None:
    """End the current actor from inside one of its methods (like Ray's ``exit_actor``).

    The call that runs it and every queued call fail with ``ActorDiedError``.
    """
    if _current_actor() is None:
        if _in_ray_actor():
            import ray

            ray.actor.exit_actor()
        raise NotInActorError("actorio.exit_actor() can only be called inside an actor method")
    raise ActorExit()


def _in_ray_actor() -> bool:
    """True in a method of an actor hosted by Ray (backend="ray")."""
    ray = sys.modules.get("ray")
    return (
        ray is not None
        and ray.is_initialized()
        and ray.get_runtime_context().get_actor_id() is not None
    )


def _ray_in_use(rt: Runtime) -> bool:
    """Ray is the backend, or has been started in this process (a Ray worker, say)."""
    ray = sys.modules.get("ray")
    return rt.backend_name == "ray" or (ray is not None and ray.is_initialized())


def get_actor(name: str, namespace: str | None = None) -> ActorHandle[Any]:
    """The handle of the live actor called ``name`` in ``namespace`` (default: the current one)."""
    rt = get_runtime()
    ns = namespace or rt.namespace
    actor = rt.registry.lookup(ns, name)
    if actor is None and rt.remote_actors is not None:  # in a worker: ask the driver
        actor = rt.remote_actors.lookup(name, ns)
    if actor is None and _ray_in_use(rt):  # made elsewhere on the Ray cluster
        actor = rt.backend("ray").lookup(name, ns)
    if actor is None:
        known = sorted(n for _, n in rt.registry.names(ns))
        raise ActorNotFoundError(
            f"Failed to look up actor {name!r} in namespace {ns!r}: no live actor has that name "
            f"there (named actors in it: {known}). Create it with "
            f"Cls.options(name={name!r}).remote(), or pass the namespace it was created in."
        )
    return handle_for(actor)


def init(
    address: str | None = None,
    *,
    namespace: str | None = None,
    backend: str | None = None,
    loop_factory: LoopFactory | None = None,
    ignore_reinit_error: bool = False,
    blocking_warning_s: float = 0.1,
    shutdown_timeout_s: float = 1.0,
    **ray_options: Any,
) -> RuntimeContext:
    """Start actorio explicitly (optional: first use starts it with defaults, as in Ray).

    ``namespace`` scopes actor names; ``backend`` picks where actors live by default
    (``ACTORIO_BACKEND`` otherwise; ``"local"`` is the in-process default); ``loop_factory``
    builds the runtime loop that hosts work created from sync code (uvloop when installed).
    ``blocking_warning_s``: log a warning when an actor method holds an event loop longer
    than this (0 disables the watchdog). ``shutdown_timeout_s``: how long ``shutdown()`` and
    interpreter exit let accepted calls finish. Ray's resource options (``num_cpus=...``) are
    accepted and ignored in-process.
    """
    _, explicit = peek_runtime()
    rt = Runtime(namespace, backend, loop_factory, blocking_warning_s, shutdown_timeout_s)
    if address is not None and rt.backend_name != "ray":
        raise InvalidOptionsError(
            f"address={address!r} is a Ray cluster address: pass backend='ray' with it (or "
            f"drop it to run in-process)"
        )
    rt.ray_init = {"address": address, **ray_options}
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
    """:func:`shutdown` for code running on an event loop (a web server's lifespan, say):
    the same graceful stop, awaited, so actors hosted on this very loop can finish their
    accepted calls and run their stop hooks while it waits."""
    rt, _ = peek_runtime()
    if rt is not None:
        await rt.drain(timeout)
    _reset(0)  # what is left: names, threads, worker processes


def run(
    main: Coroutine[Any, Any, T],
    *,
    debug: bool | None = None,
    loop_factory: LoopFactory | None = None,
) -> T:
    """Run an ``await``-based script on uvloop when installed (else asyncio), like ``asyncio.run``.

    Actors created on this loop are killed when ``main`` returns, so none outlives its loop.
    """
    factory = loop_factory or default_loop_factory()

    async def main_then_cleanup() -> T:
        try:
            return await main
        finally:
            rt, _ = peek_runtime()
            if rt is not None:
                rt.kill_actors(asyncio.get_running_loop(), "the actorio.run() loop finished")

    with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(main_then_cleanup())


def _current_actor() -> Any:
    ref = current_actor.get()
    return ref() if ref is not None else None


class RuntimeContext:
    """What the running code can learn about where it runs (Ray's ``get_runtime_context()``)."""

    @property
    def namespace(self) -> str:
        """The namespace new named actors go to and ``get_actor`` looks in."""
        return get_runtime().namespace

    def get_actor_id(self) -> str | None:
        """The current actor's id, or None outside an actor."""
        actor = _current_actor()
        if actor is None and _in_ray_actor():
            import ray

            return str(ray.get_runtime_context().get_actor_id())
        return None if actor is None else str(actor.actor_id)

    def get_node_id(self) -> str:
        """The id of the machine (Ray node) running this code: Ray's node id on the Ray
        backend's workers and drivers, else a stable id of this host."""
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized():
            return str(ray.get_runtime_context().get_node_id())
        return f"local-{socket.gethostname()}"

    def get_actor_name(self) -> str | None:
        """The current actor's name, or None (outside an actor, or an anonymous one)."""
        actor = _current_actor()
        if actor is None and _in_ray_actor():
            import ray

            return ray.get_runtime_context().get_actor_name() or None
        return None if actor is None else actor.name

    @property
    def current_actor(self) -> ActorHandle[Any]:
        """A handle to the current actor (raises ``NotInActorError`` outside an actor)."""
        actor = _current_actor()
        if actor is None and _in_ray_actor():
            actor = get_runtime().backend("ray").current()
        if actor is None:
            raise NotInActorError("get_runtime_context().current_actor is only set in an actor")
        return handle_for(actor)

    def was_current_actor_reconstructed(self) -> bool:
        """Always False: actorio does not restart actors (yet)."""
        return False


def get_runtime_context() -> RuntimeContext:
    """What the running code can learn about where it runs: actor id, handle, namespace."""
    return RuntimeContext()
