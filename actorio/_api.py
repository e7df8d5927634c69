"""The Ray-shaped verbs on actors and refs: remote, method, get, wait, put, kill, cancel,
monitor, exit_actor, get_actor. (Starting and stopping: ``actorio._setup``.)"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, overload

from ._actor import ActorClass
from ._context import current_core
from ._function import RemoteFunction
from ._get import blocking_futures, check_may_block, timeout_error
from ._handle import ActorHandle, handle_for
from ._kernel import caller_loop
from ._options import (
    METHOD_OPTIONS_ATTR,
    ActorOptions,
    actor_options,
    call_options,
    function_options,
)
from ._ref import ObjectRef, abort, new_ref
from ._runtime import get_runtime
from ._seam import ActorCore, ActorExit
from ._spec import ClassSpec, FunctionSpec
from ._weak_handle import weak_handle
from .exceptions import (
    ActorDiedError,
    ActorNotFoundError,
    InvalidArgumentsError,
    NotInActorError,
    TaskCancelledError,
    TaskError,
)

__all__ = [
    "cancel",
    "exit_actor",
    "get",
    "get_actor",
    "kill",
    "method",
    "monitor",
    "pending_calls",
    "put",
    "remote",
    "wait",
    "wait_for_death",
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

    Example:

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
    if isinstance(refs, ObjectRef):  # (a ref iterates as a future awaited the old way)
        raise InvalidArgumentsError(
            f"{what} takes a list of ObjectRefs, got a single ObjectRef; pass [ref] (or use "
            f"actorio.get(ref) to wait for one)"
        )
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
    check_may_block("actorio.get()", timeout, items, len(items))
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
    check_may_block("actorio.wait()", timeout, items, num_returns)
    cfs = blocking_futures(items, timeout, num_returns)
    ready: list[ObjectRef[Any]] = []
    not_ready: list[ObjectRef[Any]] = []
    for ref, cf in zip(items, cfs, strict=True):
        (ready if cf.done() and len(ready) < num_returns else not_ready).append(ref)
    return ready, not_ready


def put(value: T) -> ObjectRef[T]:
    """A ref that is already done with ``value`` (in-process: the object itself, not a copy)."""
    caller = caller_loop()
    ref: ObjectRef[T] = new_ref(caller, caller or get_runtime().host_loop())
    ref.set_result(value)
    return ref


def _core(actor: Any, what: str) -> ActorCore:
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

    A call cancelled once started (an async method's coroutine running, a call a worker
    process or Ray has) raises, as in Ray, a ``TaskError`` that is also a
    ``TaskCancelledError`` and names the call; a queued one a plain ``TaskCancelledError``.
    """
    if not isinstance(ref, ObjectRef):
        raise InvalidArgumentsError(
            f"actorio.cancel() takes an ObjectRef, got {type(ref).__name__}"
        )
    if ref.done():
        return
    how = "with actorio.cancel()"
    describe = getattr(getattr(ref, "_actorio_work", None), "describe", None)
    what = describe() if describe is not None else None
    exc = (
        TaskError.cancelled(what, how)
        if what
        else TaskCancelledError(f"the call was cancelled {how}")
    )
    abort(ref, exc)


def monitor(actor: ActorHandle[Any]) -> ObjectRef[ActorDiedError]:
    """A ref that completes, with the ``ActorDiedError`` saying why as its *value*, once the
    actor is dead for good (restarts do not count), after its stop hook ran.

    Like an Erlang monitor, it never raises and never keeps the actor alive:

        reason = await actorio.monitor(worker)        # or actorio.get(...) in sync code
    """
    return _core(actor, "actorio.monitor()").monitor()


async def wait_for_death(actor: ActorHandle[Any]) -> ActorDiedError:
    """Wait until the actor is dead for good; return why (an ``ActorDiedError``).

    Bound the wait with ``asyncio.timeout`` when needed.
    """
    return await monitor(actor)


def pending_calls(actor: ActorHandle[Any]) -> int:
    """How many calls the actor has accepted and not finished (queued plus running)."""
    return _core(actor, "actorio.pending_calls()").pending_calls()


def exit_actor() -> None:
    """End the current actor from inside one of its methods (like Ray's ``exit_actor``).

    The call that runs it and every queued call fail with ``ActorDiedError``.
    """
    if current_core() is None:
        hosted = get_runtime().hosted()
        if hosted is not None:  # a method of an actor its backend hosts itself (Ray)
            hosted.exit()
        raise NotInActorError("actorio.exit_actor() can only be called inside an actor method")
    raise ActorExit()


def get_actor(name: str, namespace: str | None = None) -> ActorHandle[Any]:
    """The handle of the live actor called ``name`` in ``namespace`` (default: the current one)."""
    rt = get_runtime()
    ns = namespace or rt.namespace
    actor = rt.lookup(name, ns)
    if actor is None:
        known = sorted(n for _, n in rt.registry.names(ns))
        raise ActorNotFoundError(
            f"Failed to look up actor {name!r} in namespace {ns!r}: no live actor has that name "
            f"there (named actors in it: {known}). Create it with "
            f"Cls.options(name={name!r}).remote(), or pass the namespace it was created in; "
            f"a named actor that is not detached is released once the handle its creation "
            f"returned is gone (keep it, or pass lifetime='detached')."
        )
    if rt.registry.lookup(ns, name) is actor:
        # Created in this process: the handle does not keep it alive, as in Ray.
        return weak_handle(actor)
    return handle_for(actor)  # a stand-in made for an actor found elsewhere (driver, Ray)
