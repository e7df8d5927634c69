"""Generator functions in-process: a remote function that yields streams its items (Ray's
``num_returns="streaming"``, the default for generators).

A :class:`TaskStream` is the :class:`~actorio._seam.StreamSource` of one such call. A plain
generator runs on a thread of its own (it may block, or call ``actorio.get``, like any
``def`` task, and its consumer may be slow without holding one of the shared task threads);
an async generator runs as a task on the host loop. Either runs at most ``window`` items
(``_generator_backpressure_num_objects``) ahead of its consumer. Each step the consumer asks
for is a ref, settled with the next item the moment it exists (or at once, when the producer
is ahead); an error the generator raises is that step's, as a ``TaskError``; closing the
stream, cancelling its consumer or dropping it stops the generator (its ``finally`` runs),
and so does ``actorio.shutdown()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import weakref
from collections import deque
from typing import Any

from .._options import BACKPRESSURE
from .._ref import ObjectRef, new_ref, set_exception, set_result_if_pending
from .._ref_args import await_refs, pending_refs, resolve_refs
from .._spec import FunctionSpec
from .._stream import DEFAULT_WINDOW, ObjectRefGenerator
from .._threads import POOL
from ..exceptions import TaskError

__all__ = ["TaskStream", "stop_task_streams", "stream_task"]

_running_loop = asyncio._get_running_loop
_END = (False, None)
_OPEN: weakref.WeakSet[TaskStream] = weakref.WeakSet()  # (a producer holds its own stream)


def stream_task(
    spec: FunctionSpec,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    host: asyncio.AbstractEventLoop,
    ctx: contextvars.Context,
) -> ObjectRefGenerator[Any]:
    """Start a generator task; the stream of its items."""
    source = TaskStream(spec, args, kwargs, options.get(BACKPRESSURE) or DEFAULT_WINDOW, host)
    _OPEN.add(source)
    if spec.is_async:
        if _running_loop() is host:
            source.start_task(ctx)
        else:
            host.call_soon_threadsafe(source.start_task, ctx)
    else:  # a thread of the pool for as long as the generator runs (it may block)
        POOL.run(ctx.run, source.run)
    return ObjectRefGenerator(source, 0, spec.name)


def stop_task_streams() -> None:
    """At shutdown: stop every generator task still running (their ``finally`` blocks run;
    their consumers see the end of the stream)."""
    for source in list(_OPEN):
        source.close()


class TaskStream:
    """The steps of one generator task: produced ones wait in ``ready``, refs asked for
    before their item exists wait in ``asked``; the producer pauses while ``ready`` holds
    ``window`` items."""

    def __init__(
        self,
        spec: FunctionSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        window: int,
        host: asyncio.AbstractEventLoop,
    ) -> None:
        self.spec, self.args, self.kwargs = spec, args, kwargs
        self.window, self.host = window, host
        self.room = threading.Condition()  # guards ready, asked, stopped
        self.ready: deque[Any] = deque()  # (True, item), _END or an exception
        self.asked: deque[ObjectRef[Any]] = deque()
        self.stopped = False
        self.task: asyncio.Task[None] | None = None
        self.waking: asyncio.Event | None = None  # set while an async producer waits for room

    # -- the consumer's side (StreamSource) -------------------------------------------------

    def opened(self) -> ObjectRef[Any] | None:
        return None  # the task started with the call

    def next_ref(self) -> ObjectRef[Any]:
        ref: ObjectRef[Any] = new_ref(_running_loop(), self.host)
        with self.room:
            if self.stopped:
                step: Any = _END
            elif self.ready:
                step = self.ready.popleft()
                self.room.notify()
            else:
                self.asked.append(ref)
                return ref
            waking, self.waking = self.waking, None
        if waking is not None:
            self.host.call_soon_threadsafe(waking.set)
        # A ref nobody holds yet: settled here, from any thread (its loop may be closed).
        (set_exception if isinstance(step, BaseException) else set_result_if_pending)(ref, step)
        return ref

    def close(self) -> None:
        with self.room:
            if self.stopped:
                return
            self.stopped = True
            self.ready.clear()
            asked, self.asked = self.asked, deque()
            self.room.notify_all()
        for ref in asked:  # nobody reads them now; end them rather than leave them pending
            _settle(ref, _END)
        if self.task is not None:
            try:
                self.host.call_soon_threadsafe(self.task.cancel)
            except RuntimeError:  # the host loop is closed: the task is gone with it
                pass

    # -- the producer's side ----------------------------------------------------------------

    def put(self, step: Any) -> bool:
        """Hand a step to the consumer (or keep it for later); False once stopped."""
        with self.room:
            if self.stopped:
                return False
            if not self.asked:
                self.ready.append(step)
                return True
            ref = self.asked.popleft()
        _settle(ref, step)
        return True

    def failed(self, exc: Exception) -> None:
        self.put(TaskError.from_exception(self.spec.name, exc))

    def run(self) -> None:
        """A plain generator, on this stream's own thread."""
        try:
            for r in pending_refs(self.args, self.kwargs):  # this thread may simply block
                concurrent.futures.wait([r.future()])
            args, kwargs = resolve_refs(self.args, self.kwargs)
        except Exception as exc:  # an argument's call failed: the first step says so
            self.put(exc)
            return
        try:
            gen = self.spec.fn(*args, **kwargs)
        except Exception as exc:
            self.failed(exc)
            return
        try:
            for item in gen:
                if not self.put((True, item)):
                    return
                with self.room:
                    while len(self.ready) >= self.window and not self.stopped:
                        self.room.wait()
            self.put(_END)
        except Exception as exc:
            self.failed(exc)
        finally:
            gen.close()  # stopped early: its finally blocks run here

    def start_task(self, ctx: contextvars.Context) -> None:
        if not self.stopped:
            self.task = self.host.create_task(self.run_async(), context=ctx)

    async def run_async(self) -> None:
        """An async generator, as a task on the host loop."""
        try:
            args, kwargs = await await_refs(self.args, self.kwargs)
        except Exception as exc:
            self.put(exc)
            return
        try:
            agen = self.spec.fn(*args, **kwargs)
        except Exception as exc:
            self.failed(exc)
            return
        try:
            async for item in agen:
                if not self.put((True, item)):
                    return
                while True:
                    with self.room:
                        if len(self.ready) < self.window or self.stopped:
                            break
                        waking = self.waking = asyncio.Event()
                    await waking.wait()
            self.put(_END)
        except Exception as exc:
            self.failed(exc)
        finally:
            await agen.aclose()  # cancelled by close(): its finally blocks run here


def _settle(ref: ObjectRef[Any], step: Any) -> None:
    """Complete a step's ref on its own loop, from any thread."""
    settle: Any = set_exception if isinstance(step, BaseException) else set_result_if_pending
    loop = ref.get_loop()
    if loop is _running_loop():
        settle(ref, step)
        return
    try:
        loop.call_soon_threadsafe(settle, ref, step)
    except RuntimeError:  # the consumer's loop is closed: nobody reads it
        pass
