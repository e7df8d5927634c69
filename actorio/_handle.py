"""ActorHandle and ActorMethod: what user code holds and calls ``.remote()`` on.

A handle is a thin, final object pointing at the backend's actor. Attribute access builds an
``ActorMethod`` once per name and caches it on the handle, so ``h.increment.remote()``
costs a plain attribute read after the first call. Handle attributes are ``_actorio_``-prefixed
to stay clear of user method names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    NoReturn,
    ParamSpec,
    TypeVar,
    final,
    overload,
)

from ._dynamic import collected_remote
from ._options import CallOptions, call_options, extra_call_options
from ._portable import portable
from ._ref import TRAVEL
from ._runtime import get_runtime
from ._seam import ActorCore
from ._spec import MethodSpec, check_generator_returns
from ._stream import stream_remote
from .exceptions import (
    ActorDiedError,
    ActorMethodNotFoundError,
    DirectCallError,
    PendingCallsLimitExceeded,
)

if TYPE_CHECKING:
    from ._ref import ObjectRef

__all__ = ["ActorHandle", "ActorMethod", "handle_for"]

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")
_TOKEN = object()


@final
class ActorMethod(Generic[P, R]):
    """A method of one actor, bound to its handle: call ``.remote(*args, **kwargs)``.

    Generic over the method's parameters ``P`` and result ``R`` (an ``async def`` method's
    awaited result), so ``remote`` is checked like the method itself; the mypy plugin
    (``actorio.mypy_plugin``) fills them in for ``handle.method``.
    """

    __slots__ = ("_actor", "_group", "_num_returns", "_options", "_spec", "remote")

    #: ``remote(*args, **kwargs)``: queue the call in the actor's mailbox and return its
    #: ``ObjectRef`` at once. A closure made by the backend for this method, so a call costs
    #: one Python function call before it reaches the mailbox.
    remote: Callable[P, ObjectRef[R]]

    def __init__(
        self,
        actor: ActorCore,
        spec: MethodSpec,
        num_returns: int | str,
        group: str | None,
        options: CallOptions | None = None,
    ) -> None:
        self._actor = actor
        self._spec = spec
        self._num_returns = num_returns
        self._group = group
        self._options = options
        if spec.stream and num_returns == "streaming":
            # The mypy plugin does not know streams: typed as the plain call's ref.
            self.remote = stream_remote(actor, spec, num_returns, group, options)  # type: ignore[assignment]
        elif spec.stream:  # refs known up front: the generator runs to its end (_yield)
            self.remote = collected_remote(actor, spec, num_returns, group, options)
        else:
            check_generator_returns(num_returns, False, f"{actor.spec.name}.{spec.name}")
            assert isinstance(num_returns, int)  # the generators' spellings were refused
            self.remote = actor.bind(spec, num_returns, group, options)

    # num_returns other than 1 makes .remote() return a list of refs (or None), and a
    # generator's spellings a stream or a ref to a DynamicObjectRefGenerator: untyped.
    @overload
    def options(self, *, num_returns: Literal[1] = ..., **options: Any) -> ActorMethod[P, R]: ...
    @overload
    def options(
        self, *, num_returns: int | Literal["streaming", "dynamic"], **options: Any
    ) -> Any: ...
    def options(self, **options: Any) -> Any:
        """A copy with per-call options: ``num_returns``, ``concurrency_group``, ``timeout``
        (seconds from submission; the call is cancelled when it expires),
        ``max_task_retries`` and ``retry_exceptions``."""
        opts = call_options(options)
        return ActorMethod(
            self._actor,
            self._spec,
            opts.get("num_returns", self._num_returns),
            opts.get("concurrency_group", self._group),
            extra_call_options(opts, self._options or self._spec.options),
        )

    async def submit(self, *args: P.args, **kwargs: P.kwargs) -> ObjectRef[R]:
        """Like ``remote``, but when the actor's mailbox is full (``max_pending_calls``)
        suspend until it has room instead of raising ``PendingCallsLimitExceeded``.

        Example:

            ref = await handle.work.submit(item)   # waits while the actor is saturated
            result = await ref
        """
        while True:
            try:
                return self.remote(*args, **kwargs)
            except PendingCallsLimitExceeded:
                await self._actor.room()

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        name = f"{self._actor.spec.name}.{self._spec.name}"
        raise DirectCallError(
            f"actor methods cannot be called directly; use {self._spec.name}.remote(...) "
            f"(for example: ref = handle.{self._spec.name}.remote(); await ref) to call {name}"
        )

    def __repr__(self) -> str:
        return f"ActorMethod({self._actor.spec.name}.{self._spec.name})"


@final
class ActorHandle(Generic[T]):
    """A reference to a live actor. Safe to share between threads, loops and tasks.

    Example:

        counter = Counter.remote(100)
        await counter.increment.remote()
    """

    __slots__ = ("__dict__", "__weakref__", "_actorio_actor")

    def __init__(self, actor: ActorCore, token: object = None) -> None:
        if token is not _TOKEN:
            raise TypeError(
                "ActorHandle cannot be built directly; create actors with Cls.remote(...) "
                "or look them up with actorio.get_actor(name)"
            )
        self._actorio_actor = actor

    # Any, not ActorMethod: a method's types depend on T, which typing cannot map
    # (python/typing#802); the mypy plugin types each attribute, other checkers see Any.
    def __getattr__(self, name: str) -> Any:
        actor = self._actorio_actor
        spec = actor.spec.methods.get(name)
        if spec is None or not spec.visible:
            raise ActorMethodNotFoundError(
                f"{actor.spec.name} has no method {name!r}; its methods are "
                f"{sorted(n for n, m in actor.spec.methods.items() if m.visible)}"
            )
        method: ActorMethod[..., Any] = ActorMethod(
            actor, spec, spec.num_returns, spec.concurrency_group
        )
        self.__dict__[name] = method
        return method

    @property
    def _actorio_id(self) -> str:
        return self._actorio_actor.actor_id

    def __eq__(self, other: object) -> bool:
        # By id: a handle from get_actor() holds a stand-in for the core (_weak_handle).
        return isinstance(other, ActorHandle) and other._actorio_id == self._actorio_id

    def __hash__(self) -> int:
        return hash(self._actorio_actor.actor_id)

    def __repr__(self) -> str:
        actor = self._actorio_actor
        return f"ActorHandle({actor.spec.name}, {actor.actor_id})"

    def __reduce__(self) -> tuple[Any, ...]:
        actor = self._actorio_actor
        own = actor.reduce_handle()
        if own is None and TRAVEL.export_handle is not None:
            own = TRAVEL.export_handle(actor)  # an actor hosted in this worker process
        if own is not None:  # a backend whose handles travel their own way (Ray)
            return (_handle_from_reducer, own)
        where = (actor.actor_id, portable(actor.spec.cls), actor.name, actor.namespace)
        return (_handle_from_id, where)


def handle_for(actor: ActorCore) -> ActorHandle[Any]:
    return ActorHandle(actor, _TOKEN)


def _handle_from_reducer(rebuild: Callable[..., ActorCore], args: tuple[Any, ...]) -> Any:
    """Unpickle a handle that its backend reduced: the backend rebuilds the core."""
    return handle_for(rebuild(*args))


def _handle_from_id(
    actor_id: str, cls: Any = None, name: str | None = None, namespace: str = ""
) -> ActorHandle[Any]:
    """Unpickle a handle: the actor is found by id in this process, or, in a worker process,
    reached through the driver."""
    rt = get_runtime()
    actor = rt.registry.actors.get(actor_id)
    if actor is None and rt.directory is not None and cls is not None:
        actor = rt.directory.proxy(actor_id, cls, name, namespace)
    if actor is None:
        raise ActorDiedError(
            f"actor {actor_id} is not alive in this process (a handle outlived its actor, or "
            f"travelled to a process that cannot reach it)"
        )
    return handle_for(actor)
