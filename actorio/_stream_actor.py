"""Streaming results, the actor's side: the hidden open/next/close methods behind a
generator method, and the three ways its generator runs; also its hidden *collect* method,
which runs it to the end for a call with its refs known up front (:mod:`actorio._yield`).

Pull-based: the call first *opens* the stream (the actor creates the generator and files it
under an id the caller chose), then each *next* call advances it by one item (``_Pull``) or
takes the next item that a pump ran ahead into a bounded queue (``_ThreadPump`` on a thread
of its own, ``_TaskPump`` as a task on the actor's loop); *close* stops it, so its
``finally`` blocks run. The calls go through the actor's mailbox like any other. The caller's
side is :mod:`actorio._stream`.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ._yield import acollect, collect

__all__ = ["SIDE_BY_SIDE", "stream_methods"]

_END = (False, None)
_OPEN: dict[str, Any] = {}  # stream id -> its _Pull, _ThreadPump or _TaskPump; per process
_OK, _ENDED, _FAILED = 0, 1, 2


def stream_methods(fn: Callable[..., Any], is_async: bool) -> dict[str, Callable[..., Any]]:
    """The hidden methods behind a generator method ``fn``: open, next, close and collect
    (``collect(n, *args)``: a call with ``num_returns=n``, None for ``"dynamic"``).

    ``open`` decides how the generator runs. Where the actor's sync methods run one at a time
    (regular actors, on their loop or thread; async actors' sync methods), a sync generator
    is *pulled*: each next call advances it by one item, and the caller keeps up to
    ``window`` next calls queued. Where they run side by side on threads (threaded actors),
    a sync generator gets a thread of its own, and an async generator
    always gets a task on the actor's loop; either runs up to ``window`` items ahead into a
    bounded queue, which one next call at a time drains (so waiting never holds more than one
    of the actor's slots). ``open`` returns which: "pull" or "push".
    """

    def open_(instance: Any, sid: str, window: int, *args: Any, **kwargs: Any) -> str:
        gen = fn(instance, *args, **kwargs)
        if is_async:
            _OPEN[sid] = _TaskPump(sid, gen, window)
        elif SIDE_BY_SIDE.get():
            _OPEN[sid] = _ThreadPump(sid, gen, window)
        else:  # one call at a time, on the loop or on the actor's thread
            _OPEN[sid] = _Pull(sid, gen)
        return "push" if is_async or isinstance(_OPEN[sid], _ThreadPump) else "pull"

    what = getattr(fn, "__qualname__", "generator")
    if is_async:

        async def collect_async(instance: Any, n: int | None, *args: Any, **kwargs: Any) -> Any:
            return await acollect(fn(instance, *args, **kwargs), n, what)

        async def next_async(instance: Any, sid: str) -> tuple[bool, Any]:
            pump = _OPEN.get(sid)
            return _END if pump is None else _unpack(await pump.queue.get())

        async def close_async(instance: Any, sid: str) -> None:
            pump = _OPEN.pop(sid, None)
            if pump is not None:
                pump.task.cancel()

        return {"open": open_, "next": next_async, "close": close_async, "collect": collect_async}

    def collect_sync(instance: Any, n: int | None, *args: Any, **kwargs: Any) -> Any:
        return collect(fn(instance, *args, **kwargs), n, what)

    def next_sync(instance: Any, sid: str) -> tuple[bool, Any]:
        source = _OPEN.get(sid)
        return _END if source is None else source.step()

    def close_sync(instance: Any, sid: str) -> None:
        source = _OPEN.pop(sid, None)
        if source is not None:
            source.stop()

    return {"open": open_, "next": next_sync, "close": close_sync, "collect": collect_sync}


#: True in the context of an actor whose sync methods run side by side on threads (a threaded
#: actor: its in-process backend sets it). A regular actor runs one call at a time even on a
#: thread of its own: its generator is pulled, so the actor's other calls wait while it
#: advances, and each item still goes out as soon as it is yielded.
SIDE_BY_SIDE: ContextVar[bool] = ContextVar("actorio_side_by_side", default=False)


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
