"""Streaming results, the caller's side: a generator method's items reach the caller one by one.

The caller holds an ``ObjectRefGenerator`` (Ray's name): iterate it with ``async for``
(or ``for`` in sync code) and each step gives a ref that is already done with the next item.

On actorio's own backends (in-process and worker processes) a ``PullSource`` opens the
stream with a hidden call, then keeps up to ``window`` *next* calls in flight, each of which
advances the generator by one item (the actor's side: ``actorio._stream_actor``). The
producer is therefore never more than ``window`` items ahead of the consumer (the
backpressure of Ray's ``_generator_backpressure_num_objects``), items arrive as they are
produced, and the calls go through the actor's mailbox like any other, so the concurrency
mode applies. A backend with a streaming call of its own (Ray) gives its own
``actorio._seam.StreamSource`` through ``ActorCore.open_stream``. Errors raised by the
generator reach the consumer at that item; ending the iteration early, cancelling the
consumer or dropping the stream closes the generator (its ``finally`` blocks run).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, Literal, ParamSpec, Protocol, TypeVar, final, overload

from ._get import get_value
from ._ref import ObjectRef, new_ref
from ._runtime import get_runtime
from ._seam import ActorCore, StreamSource
from ._spec import MethodSpec
from .exceptions import BlockingCallOnLoopError

__all__ = [
    "DEFAULT_WINDOW",
    "ObjectRefGenerator",
    "PullSource",
    "StreamingMethod",
    "stream_remote",
]

T = TypeVar("T")
P = ParamSpec("P")

#: next calls kept in flight (items the producer may run ahead) unless the call says otherwise
DEFAULT_WINDOW = 16


class PullSource:
    """Open/next/close calls through an actor core's ``submit`` (in-process, process)."""

    def __init__(
        self,
        core: ActorCore,
        specs: dict[str, MethodSpec],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        group: str | None,
        window: int,
    ) -> None:
        self.core, self.specs, self.group = core, specs, group
        self.sid = uuid.uuid4().hex
        self._opened: ObjectRef[Any] | None = core.submit(
            specs["open"], (self.sid, window, *args), kwargs, 1, group, None
        )

    def opened(self) -> ObjectRef[Any] | None:
        return self._opened

    def next_ref(self) -> ObjectRef[Any]:
        ref: ObjectRef[Any] = self.core.submit(
            self.specs["next"], (self.sid,), {}, 1, self.group, None
        )
        return ref

    def close(self) -> None:
        try:
            ref = self.core.submit(self.specs["close"], (self.sid,), {}, 1, self.group, None)
        except Exception:  # the actor is gone (and its generator with it)
            return
        ref.add_done_callback(_quiet)


def _quiet(ref: asyncio.Future[Any]) -> None:
    if not ref.cancelled():
        ref.exception()  # retrieved: nobody waits for a close


@final
class ObjectRefGenerator(Generic[T]):
    """The refs of a streaming call's items, in order; ``async for`` or ``for`` over it.

    Each step gives a ref that is already done (``await ref`` / ``actorio.get(ref)``); an
    error the generator raised comes as a ref that raises it, and then the stream ends.
    ``close()`` (or ``aclose()``) stops the producer early; so does dropping the stream.
    """

    __slots__ = ("__weakref__", "_ahead", "_done", "_flight", "_opened", "_source", "_what")

    def __init__(self, source: StreamSource, ahead: int, what: str) -> None:
        self._source = source
        self._ahead = ahead  # steps requested beyond the one being read
        self._what = what
        self._flight: deque[ObjectRef[Any]] = deque()
        self._opened = source.opened() is None
        self._done = False

    def _adopt(self, mode: Any) -> None:
        """The stream is open; a pushed one runs ahead in the actor instead, so it is read
        one step at a time."""
        self._opened = True
        if mode == "push":
            self._ahead = 0

    def _take(self) -> ObjectRef[Any]:
        """The next step's ref, with ``ahead`` more steps requested behind it."""
        if not self._flight:
            self._flight.append(self._source.next_ref())
        ref = self._flight.popleft()
        while len(self._flight) < self._ahead:
            self._flight.append(self._source.next_ref())
        return ref

    def _outcome(self, step: Any, error: BaseException | None) -> ObjectRef[T]:
        """The step's item as a done ref; ends the stream at its end or on an error."""
        loop = asyncio._get_running_loop()
        ref: ObjectRef[T] = new_ref(loop, loop or _host())
        if error is not None:
            self.close()
            ref.set_exception(error)
            return ref
        ok, value = step
        if not ok:
            self.close()
            raise StopIteration
        ref.set_result(value)
        return ref

    # -- async ------------------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[ObjectRef[T]]:
        return self

    async def __anext__(self) -> ObjectRef[T]:
        if self._done:
            raise StopAsyncIteration
        try:
            if not self._opened:
                opened = self._source.opened()
                assert opened is not None
                self._adopt(await opened)
            ref = self._take()
            step, error = await ref, None
        except asyncio.CancelledError:
            self.close()  # the consumer gave up: so does the producer
            raise
        except Exception as exc:
            step, error = None, exc
        try:
            return self._outcome(step, error)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """``close()``, for ``async`` code and ``contextlib.aclosing``."""
        self.close()

    # -- sync -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[ObjectRef[T]]:
        return self

    def __next__(self) -> ObjectRef[T]:
        if self._done:
            raise StopIteration
        try:
            opened = self._source.opened()
            if not self._opened and opened is not None:
                self._adopt(get_value(opened))
            ref = self._take()
            try:
                step, error = get_value(ref), None
            except BlockingCallOnLoopError:  # used on a loop's thread: nothing is lost
                self._flight.appendleft(ref)
                raise
        except BlockingCallOnLoopError:
            raise
        except Exception as exc:
            self._flight.clear()
            step, error = None, exc
        return self._outcome(step, error)

    # -- ending -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the stream: the generator is closed in the actor (its ``finally`` runs)."""
        if self._done:
            return
        self._done = True
        self._flight.clear()
        self._source.close()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            try:
                self.close()
            except Exception:  # interpreter shutdown
                pass

    def __repr__(self) -> str:
        state = "done" if self._done else f"{len(self._flight)} in flight"
        return f"ObjectRefGenerator({self._what}, {state})"


def _host() -> asyncio.AbstractEventLoop:
    return get_runtime().host_loop()


def stream_remote(
    core: ActorCore, spec: MethodSpec, num_returns: Any, group: str | None, options: Any
) -> Callable[..., ObjectRefGenerator[Any]]:
    """``remote`` for a generator method called with ``num_returns="streaming"`` (its
    default): each call returns an ``ObjectRefGenerator``, fed by the backend's own
    streaming call (``open_stream``) or else by a PullSource."""
    what = f"{core.spec.name}.{spec.name}"
    asked = options._generator_backpressure_num_objects if options is not None else None
    window = asked or DEFAULT_WINDOW
    hidden = {part: core.spec.methods[f"{spec.name}#{part}"] for part in ("open", "next", "close")}

    def remote(*args: Any, **kwargs: Any) -> ObjectRefGenerator[Any]:
        spec.check(args, kwargs)
        own = core.open_stream(spec, args, kwargs, group, window)
        if own is not None:
            return ObjectRefGenerator(own, 0, what)
        source = PullSource(core, hidden, args, kwargs, group, window)
        return ObjectRefGenerator(source, window, what)

    return remote


class StreamingMethod(Protocol[P, T]):
    """What a type checker sees for a generator method on a handle (``actorio.mypy_plugin``
    gives it): ``remote`` returns an ``ObjectRefGenerator`` of the yielded type. At run
    time the attribute is an ``ActorMethod`` like any other."""

    remote: Callable[P, ObjectRefGenerator[T]]

    @overload
    def options(
        self, *, num_returns: Literal["streaming"] = ..., **options: Any
    ) -> StreamingMethod[P, T]: ...
    @overload
    def options(self, *, num_returns: int | Literal["dynamic"], **options: Any) -> Any: ...
    def options(self, **options: Any) -> Any:
        """A copy with per-call options (``_generator_backpressure_num_objects``, ...); a
        static ``num_returns`` or ``"dynamic"`` gives refs known up front instead (untyped)."""
        ...
