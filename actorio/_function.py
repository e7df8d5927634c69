"""RemoteFunction: what ``@actorio.remote`` makes of a function (a Ray *task*)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, final, overload

from ._dynamic import dynamic_ref
from ._options import function_options
from ._runtime import get_runtime
from ._spec import FunctionSpec, check_generator_returns
from .exceptions import DirectCallError

__all__ = ["RemoteFunction"]

R = TypeVar("R")
if TYPE_CHECKING:  # a default (PEP 696) keeps RemoteFunction[R] meaning "any arguments"
    from typing_extensions import ParamSpec

    from ._ref import ObjectRef

    P = ParamSpec("P", default=...)
else:
    from typing import ParamSpec

    P = ParamSpec("P")


@final
class RemoteFunction(Generic[R, P]):
    """A remote function: ``f.remote(*args)`` runs it and returns an ``ObjectRef`` at once.

    Generic over the result ``R`` (an ``async def``'s awaited result) and the parameters
    ``P``, so ``f.remote(...)`` is checked like ``f(...)`` and gives an ``ObjectRef[R]``.

    ``async def`` functions run as tasks on the caller's loop; plain ``def`` functions run on
    worker threads, so they never block a loop and may call ``actorio.get``. A generator
    function (sync or async) streams its items, as in Ray.
    """

    __slots__ = ("__dict__", "_options", "_spec")

    def __init__(self, spec: FunctionSpec, options: dict[str, Any]) -> None:
        check_generator_returns(options.get("num_returns"), spec.stream, spec.name)
        if spec.stream and "num_returns" not in options:  # a generator streams by default
            options = {**options, "num_returns": "streaming"}
        self._spec = spec
        self._options = options
        fn = spec.fn
        self.__dict__.update(
            __name__=getattr(fn, "__name__", spec.name),
            __qualname__=spec.name,
            __module__=getattr(fn, "__module__", None),
            __doc__=getattr(fn, "__doc__", None),
            __wrapped__=fn,
        )

    # num_returns other than 1 makes .remote() return a list of refs (or None), and a
    # generator's spellings a stream or a ref to a DynamicObjectRefGenerator: untyped.
    @overload
    def options(self, *, num_returns: Literal[1] = ..., **options: Any) -> RemoteFunction[R, P]: ...
    @overload
    def options(
        self, *, num_returns: int | Literal["streaming", "dynamic"], **options: Any
    ) -> Any: ...
    def options(self, **options: Any) -> Any:
        """A copy with other options: ``num_returns``, ``name``, ``backend``,
        ``retry_exceptions`` (True or exception classes) and ``max_retries`` (default 3)."""
        given = function_options(options)
        merged = {**self._options, **given}
        if "ray_options" in given and "ray_options" in self._options:  # add to, not replace
            merged["ray_options"] = {**self._options["ray_options"], **given["ray_options"]}
        return RemoteFunction(self._spec, merged)

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> ObjectRef[R]:
        """Start the function and return its ``ObjectRef`` (a list for ``num_returns > 1``;
        for a generator function, an ``ObjectRefGenerator`` of its items, or with
        ``num_returns="dynamic"`` a ref to a ``DynamicObjectRefGenerator``)."""
        spec = self._spec
        spec.check(args, kwargs)
        rt = get_runtime()
        options = self._options
        backend = rt.backend(options.get("backend"))
        ref = backend.submit_task(spec, args, kwargs, options, rt.host_loop(), rt.task_pool())
        if options.get("num_returns") == "dynamic":
            return dynamic_ref(ref)  # type: ignore[return-value]
        return ref  # type: ignore[no-any-return]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self._spec.name
        raise DirectCallError(
            f"remote function {name} cannot be called directly; use {name}.remote(...) "
            f"(or {name}.__wrapped__(...) to call the plain function)"
        )

    def __repr__(self) -> str:
        return f"RemoteFunction({self._spec.name})"
