"""Streaming results: a generator method's items reach the caller one by one.

The caller side is an :class:`ObjectRefGenerator` (Ray's name): iterate it with ``async for``
(or ``for`` in sync code) and each step gives a ref that is already done with the next item.

How it works on actorio's own backends (in-process and worker processes), pull-based: the
call first *opens* the stream (the actor creates the generator and files it under an id the
caller chose), then the caller keeps up to ``window`` *next* calls in flight, each of which
advances the generator by one item. The producer is therefore never more than ``window``
items ahead of the consumer (the backpressure of Ray's ``_generator_backpressure_num_objects``),
items arrive as they are produced, and the calls go through the actor's mailbox like any
other, so the concurrency mode applies: a sync generator runs where the actor's sync methods
run, an async one as a task on the actor's loop. A per-stream lock keeps two in-flight next
calls of a threaded or async actor from driving one generator at once. Errors raised by the
generator reach the consumer at that item; ending the iteration early, cancelling the
consumer or dropping the stream closes the generator (its ``finally`` blocks run).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, final

from ._ref import ObjectRef, new_ref
from .exceptions import BlockingCallOnLoopError, InvalidOptionsError

__all__ = [
    "DEFAULT_WINDOW",
    "ObjectRefGenerator",
    "StreamingMethod",
    "PullSource",
    "StreamSource",
    "stream_methods",
    "stream_remote",
]

T = TypeVar("T")
P = ParamSpec("P")

#: next calls kept in flight (items the producer may run ahead) unless the call says otherwise
DEFAULT_WINDOW = 16
_END = (False, None)

# -- the actor's side ---------------------------------------------------------------------------

_OPEN: dict[str, Any] = {}  # stream id -> its _Pull, _ThreadPump or _TaskPump; per process
_OK, _ENDED, _FAILED = 0, 1, 2


def stream_methods(fn: Callable[..., Any], is_async: bool) -> dict[str, Callable[..., Any]]:
    """The three hidden methods behind a generator method ``fn``: open, next, close.

    ``open`` decides how the generator runs. Where the actor's sync methods run one at a time
    on its loop (regular and async actors), a sync generator is *pulled*: each next call
    advances it by one item, and the caller keeps up to ``window`` next calls queued. Where
    they run on threads, a sync generator gets a thread of its own, and an async generator
    always gets a task on the actor's loop; either runs up to ``window`` items ahead into a
    bounded queue, which one next call at a time drains (so waiting never holds more than one
    of the actor's slots). ``open`` returns which: "pull" or "push".
    """

    def open_(instance: Any, sid: str, window: int, *args: Any, **kwargs: Any) -> str:
        gen = fn(instance, *args, **kwargs)
        if is_async:
            _OPEN[sid] = _TaskPump(sid, gen, window)
        elif asyncio._get_running_loop() is None:  # a threaded actor's thread
            _OPEN[sid] = _ThreadPump(sid, gen, window)
        else:
            _OPEN[sid] = _Pull(sid, gen)
        return "push" if is_async or isinstance(_OPEN[sid], _ThreadPump) else "pull"

    if is_async:

        async def next_async(instance: Any, sid: str) -> tuple[bool, Any]:
            pump = _OPEN.get(sid)
            return _END if pump is None else _unpack(await pump.queue.get())

        async def close_async(instance: Any, sid: str) -> None:
            pump = _OPEN.pop(sid, None)
            if pump is not None:
                pump.task.cancel()

        return {"open": open_, "next": next_async, "close": close_async}

    def next_sync(instance: Any, sid: str) -> tuple[bool, Any]:
        source = _OPEN.get(sid)
        return _END if source is None else source.step()

    def close_sync(instance: Any, sid: str) -> None:
        source = _OPEN.pop(sid, None)
        if source is not None:
            source.stop()

    return {"open": open_, "next": next_sync, "close": close_sync}


def _unpack(step: tuple[int, Any]) -> tuple[bool, Any]:
    kind, value = step
    if kind == _FAILED:
        raise value
    return _END if kind == _ENDED else (True, value)


class _Pull:
    """A sync generator advanced by each next call, on the actor's loop."""

    def __init__(self, sid: str, gen: Any) -> None:
        self.sid, self.gen = sid, gen

    def step(self) -> tuple[bool, Any]:
        try:
            return True, next(self.gen)
        except StopIteration:
            _OPEN.pop(self.sid, None)
            return _END
        except BaseException:
            _OPEN.pop(self.sid, None)
            raise

    def stop(self) -> None:
        self.gen.close()


class _ThreadPump:
    """A sync generator of a threaded actor, run ahead on a thread of its own."""

    def __init__(self, sid: str, gen: Any, window: int) -> None:
        self.sid, self.gen = sid, gen
        self.queue: queue.Queue[tuple[int, Any]] = queue.Queue(window)
        self.stopped = threading.Event()
        threading.Thread(target=self._run, name=f"actorio-stream-{sid[:8]}", daemon=True).start()

    def _run(self) -> None:
        try:
            for item in self.gen:
                if not self._offer((_OK, item)):
                    return
            self._offer((_ENDED, None))
        except BaseException as exc:
            self._offer((_FAILED, exc))
        finally:
            self.gen.close()

    def _offer(self, step: tuple[int, Any]) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(step, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def step(self) -> tuple[bool, Any]:
        got = _unpack(self.queue.get())
        if not got[0]:
            _OPEN.pop(self.sid, None)
        return got

    def stop(self) -> None:
        self.stopped.set()


class _TaskPump:
    """An async generator, run ahead as a task on the actor's loop."""

    def __init__(self, sid: str, gen: Any, window: int) -> None:
        self.sid, self.gen = sid, gen
        self.queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue(window)
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            async for item in self.gen:
                await self.queue.put((_OK, item))
            await self.queue.put((_ENDED, None))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self.queue.put((_FAILED, exc))
        finally:
            await self.gen.aclose()  # a cancelled pump closes its generator (finally blocks run)


# -- the caller's side --------------------------------------------------------------------------


class StreamSource:
    """Where a stream's steps come from; one per backend family."""

    def next_ref(self) -> ObjectRef[Any]:
        """Start the next step; its ref completes with ``(True, item)`` or ``(False, None)``."""
        raise NotImplementedError

    def opened(self) -> ObjectRef[Any] | None:
        """A ref to await before the first step, or None."""
        return None

    def close(self) -> None:
        raise NotImplementedError


class PullSource(StreamSource):
    """Open/next/close calls through an actorio core (in-process and process backends)."""

    def __init__(
        self,
        core: Any,
        specs: dict[str, Any],
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
        from ._api import get

        if self._done:
            raise StopIteration
        try:
            opened = self._source.opened()
            if not self._opened and opened is not None:
                self._adopt(get(opened))
            ref = self._take()
            try:
                step, error = get(ref), None
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
    from ._runtime import get_runtime

    return get_runtime().host_loop()


def stream_remote(
    core: Any, spec: Any, num_returns: Any, group: str | None, options: Any
) -> Callable[..., ObjectRefGenerator[Any]]:
    """``remote`` for a generator method: each call returns an :class:`ObjectRefGenerator`.
    A backend with a streaming call of its own (Ray) provides ``open_stream``."""
    what = f"{core.spec.name}.{spec.name}"
    if num_returns not in (1, "streaming"):
        raise InvalidOptionsError(
            f"{what} is a generator method, so its calls stream their items "
            f"(num_returns='streaming'); num_returns={num_returns!r} is not possible"
        )
    window = getattr(options, "_generator_backpressure_num_objects", None) or DEFAULT_WINDOW
    opener = getattr(core, "open_stream", None)
    hidden = {part: core.spec.methods[f"{spec.name}#{part}"] for part in ("open", "next", "close")}

    def remote(*args: Any, **kwargs: Any) -> ObjectRefGenerator[Any]:
        spec.check(args, kwargs)
        if opener is not None:
            return ObjectRefGenerator(opener(spec, args, kwargs, group, window), 0, what)
        source = PullSource(core, hidden, args, kwargs, group, window)
        return ObjectRefGenerator(source, window, what)

    return remote


class StreamingMethod(Protocol[P, T]):
    """What a type checker sees for a generator method on a handle (``actorio.mypy_plugin``
    gives it): ``remote`` returns an :class:`ObjectRefGenerator` of the yielded type. At run
    time the attribute is an ``ActorMethod`` like any other."""

    remote: Callable[P, ObjectRefGenerator[T]]

    def options(self, **options: Any) -> StreamingMethod[P, T]:
        """A copy with per-call options (``_generator_backpressure_num_objects``, ...)."""
        ...
