"""ActorClass: what ``@actorio.remote`` makes of a class.

``Cls.remote(*args)`` validates the constructor arguments in the caller, claims the name (if
any) atomically, and hands the actor to its backend; the constructor then runs on the host
loop as the actor's first message, so ``.remote()`` never waits for it.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

from ._handle import ActorHandle, handle_for
from ._options import ActorOptions, actor_options
from ._runtime import get_runtime
from ._seam import ActorCore
from ._spec import ClassSpec
from ._weak_handle import weak_handle
from .exceptions import DirectCallError

__all__ = ["ActorClass", "number_ids_from"]

T = TypeVar("T")
if TYPE_CHECKING:  # a default (PEP 696) keeps ActorClass[T] meaning "any constructor arguments"
    from typing_extensions import ParamSpec

    P = ParamSpec("P", default=...)
else:
    from typing import ParamSpec

    P = ParamSpec("P")
_ids = itertools.count(1)


def number_ids_from(start: int) -> None:
    """Make new actor ids from ``start`` on (a worker process: ids unique across processes,
    so a handle to one of its children means that child in the driver too)."""
    global _ids
    _ids = itertools.count(start)


@final
class ActorClass(Generic[T, P]):
    """An actor class: create actors with ``.remote(...)``, configure with ``.options(...)``.

    Generic over the class ``T`` and its constructor's parameters ``P``, so ``.remote(...)``
    is checked like ``T(...)`` and returns an ``ActorHandle[T]``.
    """

    __slots__ = ("__dict__", "_options", "_placed", "_spec")

    def __init__(self, spec: ClassSpec, options: ActorOptions) -> None:
        # Fail at decoration time, not at first use, when the options cannot work.
        options.resolve_mode(spec)
        self._spec = spec
        self._options = options
        #: the options with placement and eager filled in, made once per pair: every actor of
        #: the class shares them (a copy per actor would be most of an idle actor's size)
        self._placed: dict[tuple[str, bool], ActorOptions] = {}
        cls = spec.cls
        self.__dict__.update(
            __name__=cls.__name__,
            __qualname__=cls.__qualname__,
            __module__=cls.__module__,
            __doc__=cls.__doc__,
            __wrapped__=cls,
        )

    def options(self, **options: Any) -> ActorClass[T, P]:
        """A copy with other options, e.g. ``Counter.options(name="c", max_concurrency=4)``."""
        return ActorClass(self._spec, actor_options(self._options, options))

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> ActorHandle[T]:
        """Create the actor and return its handle at once; the constructor runs on its loop."""
        spec, opts = self._spec, self._options
        spec.init_check(args, kwargs)
        rt = get_runtime()
        mode, limit = opts.resolve_mode(spec)
        if mode == "regular":  # shipped with the options: a worker process places it the same
            placement = rt.placement_for(opts.placement)
            eager = rt.eager if opts.eager is None else opts.eager
            if placement != opts.placement or eager != opts.eager:
                placed = self._placed.get((placement, eager))
                if placed is None:
                    placed = replace(opts, placement=placement, eager=eager)
                    self._placed[(placement, eager)] = placed
                opts = placed
        backend = rt.backend(opts.backend)
        namespace = opts.namespace or rt.namespace
        fresh: list[ActorCore] = []

        loop = rt.host_loop()
        rt.watch(loop)

        def create() -> ActorCore:
            actor = backend.create_actor(
                f"{next(_ids):016x}",
                spec,
                opts,
                mode,
                limit,
                loop,
                namespace,
                rt.registry.on_death,
            )
            rt.registry.add(actor)
            fresh.append(actor)
            return actor

        if opts.name:
            actor, _ = rt.registry.create_named(namespace, opts.name, opts.get_if_exists, create)
        else:
            actor = create()
        if not fresh:  # get_if_exists found it: a handle as get_actor() gives, as in Ray
            return weak_handle(actor)
        actor.start(args, kwargs)
        return handle_for(actor)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self._spec.name
        raise DirectCallError(
            f"actor class {name} cannot be instantiated directly; use {name}.remote(...) to "
            f"create an actor (or {name}.__wrapped__(...) for a plain local object)"
        )

    def __repr__(self) -> str:
        return f"ActorClass({self._spec.cls.__module__}.{self._spec.cls.__qualname__})"
