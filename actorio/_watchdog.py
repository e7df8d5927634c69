"""A watchdog that notices when a method blocks the event loop hosting actors.

A regular actor's methods (and an async actor's sync methods and coroutine steps) run on the
host loop's thread, so one that blocks freezes every actor and task on that loop. Rather than
timing every call (which would tax the hot path), one daemon thread sends each watched loop a
heartbeat callback; when a heartbeat waits longer than the threshold, it looks at the loop
thread's stack, finds the actor method running there and logs one warning per blockage.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from types import CodeType, FrameType

__all__ = ["Watchdog", "register_method"]

log = logging.getLogger("actorio")

#: code object of every actor method -> "Class.method", to name what blocks a loop
_METHODS: dict[CodeType, str] = {}


def register_method(code: CodeType, qualname: str) -> None:
    _METHODS[code] = qualname


class _Watch:
    __slots__ = ("loop", "sent_at", "thread_id", "warned")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sent_at: float | None = None
        self.thread_id: int | None = None
        self.warned = False

    def beat(self) -> None:
        self.thread_id = threading.get_ident()
        self.sent_at = None
        self.warned = False


class Watchdog:
    """One thread watching every loop that hosts actors; ``threshold`` seconds per warning."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._watches: dict[asyncio.AbstractEventLoop, _Watch] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, loop: asyncio.AbstractEventLoop, thread_id: int | None) -> None:
        """Watch ``loop``; its thread is learnt from the first heartbeat if not given."""
        if self.threshold <= 0 or loop in self._watches:
            return
        with self._lock:
            w = self._watches.setdefault(loop, _Watch(loop))
            w.thread_id = w.thread_id or thread_id
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="actorio-watchdog", daemon=True
                )
                self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        period = max(0.005, self.threshold / 4)
        while not self._stop.wait(period):
            with self._lock:
                watches = list(self._watches.values())
            for w in watches:
                self._check(w)

    def _check(self, w: _Watch) -> None:
        if w.loop.is_closed():
            with self._lock:
                self._watches.pop(w.loop, None)
            return
        now = time.monotonic()
        if w.sent_at is None:
            w.sent_at = now
            try:
                w.loop.call_soon_threadsafe(w.beat)
            except RuntimeError:
                pass
            return
        blocked = now - w.sent_at
        if blocked > self.threshold and not w.warned and w.thread_id is not None:
            frame = sys._current_frames().get(w.thread_id)
            culprit = _culprit(frame)
            if culprit is None:
                return  # busy with many short callbacks, or not in an actor: not ours to judge
            w.warned = True
            log.warning(
                "%s has blocked the event loop for %.2f s (threshold %.2f s): every other actor "
                "and task on that loop waits. Make the method async and await instead of "
                "blocking, or give the actor a thread of its own (placement='thread', the default "
                "for actors created from plain sync code; or mode='threaded').",
                culprit,
                blocked,
                self.threshold,
            )


def _culprit(frame: FrameType | None) -> str | None:
    """The innermost actor method on the stack, as 'Class.method'."""
    while frame is not None:
        name = _METHODS.get(frame.f_code)
        if name is not None:
            return name
        frame = frame.f_back
    return None
