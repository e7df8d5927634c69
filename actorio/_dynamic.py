"""Generator calls whose refs are known up front, the caller's side: a static
``num_returns=n`` (n refs) and Ray's older ``num_returns="dynamic"`` (one ref, whose value is a
``DynamicObjectRefGenerator`` of the items' refs).

Either way the generator runs to its end where the call runs, and its items come back
together (``actorio._yield``); a generator method does that through its hidden *collect*
method (``actorio._stream_actor``), so the actor's mode and mailbox apply as to any call.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar, final

from ._ref import ObjectRef, abort, new_ref, set_exception
from ._seam import ActorCore
from ._spec import MethodSpec
from ._yield import Yielded
from .exceptions import TaskCancelledError

__all__ = ["DynamicObjectRefGenerator", "collected_remote", "dynamic_ref"]

T = TypeVar("T")
_running_loop = asyncio._get_running_loop


@final
class DynamicObjectRefGenerator(Generic[T]):
    """The value of a ``num_returns="dynamic"`` call (Ray's older generator API): the refs
    of the items its generator yielded, in order, each already done. If the generator
    raised, the last ref raises that error.

    Iterating takes the refs out, as Ray's does: a second pass gives nothing, and ``len()``
    is how many refs are left:

        gen = actorio.get(split.remote(data))
        n = len(gen)
        chunks = [actorio.get(ref) for ref in gen]
    """

    __slots__ = ("_refs",)

    def __init__(self, refs: Iterable[ObjectRef[T]]) -> None:
        self._refs: deque[ObjectRef[T]] = deque(refs)

    def __iter__(self) -> Iterator[ObjectRef[T]]:
        while self._refs:
            yield self._refs.popleft()

    def __len__(self) -> int:
        return len(self._refs)

    def __repr__(self) -> str:
        return f"DynamicObjectRefGenerator({len(self._refs)} refs)"


class _Upstream:
    """Cancelling a dynamic call's ref cancels the collecting call behind it."""

    __slots__ = ("inner",)

    def __init__(self, inner: ObjectRef[Any]) -> None:
        self.inner = inner

    def cancel(self) -> bool:
        abort(self.inner, TaskCancelledError("the call was cancelled with actorio.cancel()"))
        return True


def dynamic_ref(inner: ObjectRef[Any]) -> ObjectRef[DynamicObjectRefGenerator[Any]]:
    """The ref a ``"dynamic"`` call returns, made from the ref of its collecting call (whose
    value is a ``actorio._yield.Yielded``, or a ready generator from Ray)."""
    caller, loop = _running_loop(), inner.get_loop()
    outer: ObjectRef[DynamicObjectRefGenerator[Any]] = new_ref(caller, loop)
    outer._actorio_work = _Upstream(inner)

    def settle(done: asyncio.Future[Any]) -> None:
        if outer.done():
            return
        if done.cancelled():
            outer.cancel()
            return
        exc = done.exception()
        if exc is not None:
            set_exception(outer, exc)
            return
        value = done.result()
        if not isinstance(value, DynamicObjectRefGenerator):
            value = _generator_of(value, caller, loop)
        outer.set_result(value)

    if loop is caller:
        inner.add_done_callback(settle)
    else:
        try:
            loop.call_soon_threadsafe(inner.add_done_callback, settle)
        except RuntimeError:  # the loop is closed: the call can never finish
            set_exception(outer, TaskCancelledError(f"{inner!r} belongs to a closed event loop"))
    return outer


def _generator_of(
    done: Yielded, caller: asyncio.AbstractEventLoop | None, loop: asyncio.AbstractEventLoop
) -> DynamicObjectRefGenerator[Any]:
    refs: list[ObjectRef[Any]] = []
    for item in done.items:
        ref = new_ref(caller, loop)
        ref.set_result(item)
        refs.append(ref)
    if done.error is not None:
        ref = new_ref(caller, loop)
        set_exception(ref, done.error)
        refs.append(ref)
    return DynamicObjectRefGenerator(refs)


def collected_remote(
    core: ActorCore,
    spec: MethodSpec,
    num_returns: int | str,
    group: str | None,
    options: Any,
) -> Callable[..., Any]:
    """``remote`` for a generator method called with a static ``num_returns`` or with
    ``"dynamic"``: one call of its hidden collect method, with n refs (or one)."""
    collect = core.spec.methods[f"{spec.name}#collect"]
    dynamic = num_returns == "dynamic"
    declared = None if dynamic else num_returns
    opts = options if options is not None else spec.options
    bound = core.bind(collect, 1 if dynamic else int(num_returns), group, opts)

    def remote(*args: Any, **kwargs: Any) -> Any:
        spec.check(args, kwargs)
        ref = bound(declared, *args, **kwargs)
        return dynamic_ref(ref) if dynamic else ref

    return remote
