"""RemoteFunction: what ``@actorio.remote`` makes of a function (a Ray *task*)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, final, overload

from ._options import function_options
from ._runtime import get_runtime
from ._spec import FunctionSpec
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
    worker threads, so they never block a loop and may call ``actorio.get``.
    """

    __slots__ = ("__dict__", "_options", "_spec")

    def __init__(self, spec: FunctionSpec, options: dict[str, Any]) -> None:
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

    # num_returns other than 1 makes .remote() return a list of refs (or None): untyped.
    @overload
    def options(self, *, num_returns: Literal[1] = ..., **options: Any) -> RemoteFunction[R, P]: ...
    @overload
    def options(self, *, num_returns: int, **options: Any) -> Any: ...
    def options(self, **options: Any) -> Any:
        """A copy with other options: ``num_returns``, ``name``, ``backend``,
        ``retry_exceptions`` (True or exception classes) and ``max_retries`` (default 3)."""
        given = function_options(options)
        merged = {**self._options, **given}
        if "ray_options" in given and "ray_options" in self._options:  # add to, not replace
            merged["ray_options"] = {**self._options["ray_options"], **given["ray_options"]}
        return RemoteFunction(self._spec, merged)

    def remote(self, *args: P.args, **kwargs: P.kwargs) -> ObjectRef[R]:
        """Start the function and return its ``ObjectRef`` (a list for ``num_returns > 1``)."""
        spec = self._spec
        spec.check(args, kwargs)
        rt = get_runtime()
        backend = rt.backend(self._options.get("backend"))
        return backend.submit_task(  # type: ignore[no-any-return]
            spec, args, kwargs, self._options, rt.host_loop(), rt.task_pool()
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = self._spec.name
        raise DirectCallError(
            f"remote function {name} cannot be called directly; use {name}.remote(...) "
            f"(or {name}.__wrapped__(...) to call the plain function)"
        )

    def __repr__(self) -> str:
        return f"RemoteFunction({self._spec.name})"
