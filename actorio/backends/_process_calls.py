"""The calls a process actor has accepted and its worker has not answered: numbered, written
to the worker in the order they were made, sent again after a restart, settled on answer.

While it has calls pending, a process actor is held here (``_BUSY``), so that it lives until
they are answered even when every handle to it is gone (``A.remote().f.remote()``); once it
has none, only its handles keep it, and when they are dropped its worker is stopped
(:meth:`Calls.release`)."""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import Any

from .._mailbox import complete, fail, first_ref
from .._ref import set_result_if_pending
from .._seam import STOP_HOOK_TIMEOUT_S
from .._spec import MethodSpec
from .._stats import CallStats
from . import _wire
from ._messages import Call, Cancel, Stop
from ._process_frames import call_frame, shared_args
from ._process_link import WorkerLink

__all__ = ["AllDone", "Calls", "PendingCall"]

#: the owners (process actors) of the ``Calls`` that have calls pending
_BUSY: set[Any] = set()


class PendingCall:
    """A call accepted for the worker and not answered yet."""

    __slots__ = (
        "attempts",
        "cancelled",
        "frame",
        "method",
        "ref",
        "retries",
        "sent",
        "started",
        "what",
    )

    def __init__(self, ref: Any, method: MethodSpec, retries: int, what: str) -> None:
        self.started = perf_counter()
        self.ref = ref
        self.method = method
        self.what = what  # the call's name in errors (a task host's: the task's function)
        self.frame: bytes | _wire.Frame | None = None  # None while its ref arguments are not done
        #: re-sends allowed after its worker dies (max_task_retries; a task's max_retries)
        self.retries = retries
        self.attempts = 0  # re-sends so far
        self.sent = False
        self.cancelled = False  # by actorio.cancel(): if not sent yet, it never will be


class AllDone:
    """Calls ``then()`` once it has been called ``count`` times (from any threads)."""

    __slots__ = ("count", "lock", "then")

    def __init__(self, count: int, then: Callable[[], None]) -> None:
        self.count = count
        self.then = then
        self.lock = threading.Lock()

    def __call__(self, _: object) -> None:
        with self.lock:
            self.count -= 1
            last = self.count == 0
        if last:
            self.then()


class Calls:
    """The pending calls of one process actor, and the order they reach its worker in.

    A call goes straight to the socket when nothing waits ahead of it; otherwise it waits in
    ``queue`` until the calls ahead of it have gone, its ref arguments are done and a worker is
    up (``held`` is False while one starts). Writes happen under ``lock``, which the actor
    also holds to change its life (death, restarts), so no call slips past either.
    """

    def __init__(self, owner: Any, actor_name: str, stats: CallStats, lock: threading.Lock) -> None:
        self.owner: weakref.ref[Any] = weakref.ref(owner)
        self.actor_name = actor_name
        self.stats = stats
        self.lock = lock
        #: orders a new call with the reader settling the last one, so the owner is held
        #: while any is pending; never held while writing (the reader thread takes it, and a
        #: write that waits for room in the socket must not keep the reader from draining it)
        self.count_lock = threading.Lock()
        self.pending: dict[int, PendingCall] = {}
        self.queue: deque[PendingCall] = deque()  # accepted, not sent yet
        self.held = True  # calls wait in the queue until the (next) worker is up
        self.link: WorkerLink | None = None  # the current worker, once there is one
        self.ids = itertools.count(1)

    def add(self, call_id: int, entry: PendingCall) -> None:
        """Count a new call as pending (under ``lock``); its owner is held until none is."""
        with self.count_lock:
            if not self.pending:
                _BUSY.add(self.owner())
            self.pending[call_id] = entry

    def settled(self) -> None:
        """Some calls left ``pending``: if none is left, let the owner go."""
        with self.count_lock:
            if not self.pending:
                _BUSY.discard(self.owner())

    def release(self) -> None:
        """The owner was released (its handles dropped, no call pending): stop its worker,
        which runs the stop hook; one that does not exit in time is killed."""
        link = self.link
        if link is None:
            return
        # Without the lock: nobody else writes for a released actor, and the release may
        # happen under it (settled() dropping the last reference).
        self.write(_wire.dumps(Stop(False)))
        link.kill_after(STOP_HOOK_TIMEOUT_S + 1)

    def put(self, entry: PendingCall) -> None:
        """Send ``entry`` now, or queue it behind the calls ahead (under ``lock``)."""
        if self.queue or self.held or not entry.frame:
            self.queue.append(entry)
            self.flush()
        else:  # nothing ahead of it: straight to the worker
            entry.sent = True
            self.write(entry.frame)

    def flush(self) -> None:
        """Send what is ready at the head of the queue, in order (under ``lock``)."""
        queue = self.queue
        while queue and queue[0].frame is not None and not self.held:
            entry = queue.popleft()
            entry.sent = True
            if entry.frame and not entry.cancelled:
                self.write(entry.frame)

    def write(self, frame: bytes | _wire.Frame) -> None:
        """Send one frame (under ``lock``); a worker gone meanwhile is not an error here: its
        reader sees it gone and settles the calls."""
        link = self.link
        if link is None:  # not started: nothing was sent, calls are held
            return
        try:
            link.send(frame)
        except OSError:
            pass

    def send_when_done(self, waiting: list[Any], entry: PendingCall, call: Call, what: str) -> None:
        """Send ``call`` in its turn once the ``waiting`` refs among its arguments are done
        (``what``: the call's name, for the error if one of them failed)."""
        when_done = AllDone(len(waiting), lambda: self._resolved(entry, call, what))
        for ref in waiting:
            ref.future().add_done_callback(when_done)

    def _resolved(self, entry: PendingCall, call: Call, what: str) -> None:
        if entry.cancelled:
            return  # never sent: nothing to make
        try:
            args, kwargs = shared_args(call.args, call.kwargs, what)
            ready = call._replace(args=args, kwargs=kwargs)
            entry.frame = call_frame(ready, self.actor_name)
        except Exception as exc:  # an argument's call failed, or a value cannot be pickled
            self.pending.pop(call.call_id, None)
            fail(entry.ref, exc, None)
            entry.frame = b""  # nothing to send: let the calls behind it go
        with self.lock:
            self.flush()
            self.settled()

    def answered(self, call_id: int, ok: bool, value: Any) -> bool:
        """Settle a call with the worker's answer (reader thread); False if it was not pending."""
        entry = self.pending.pop(call_id, None)
        if entry is None:
            return False
        if not self.pending:
            self.settled()
        elapsed = perf_counter() - entry.started
        if ok:
            self.stats.ok(elapsed)
            _complete(entry.ref, value, self.qualname(entry.method))
        else:
            self.stats.error(elapsed, entry.method.name, value)
            fail(entry.ref, value, None)
        return True

    def cancel(self, call_id: int) -> bool:
        """The call stops being pending (its ref failed already); the worker is told to drop
        or cancel it if it has it. False if it was answered meanwhile."""
        with self.lock:
            entry = self.pending.pop(call_id, None)
            if entry is None:
                return False
            self.settled()
            entry.cancelled = True
            self.stats.error(perf_counter() - entry.started, entry.method.name, None)
            if entry.sent:
                self.write(_wire.dumps(Cancel(call_id)))
            elif entry.frame is None:
                # Still waiting for its ref arguments: it will never be sent, so the calls
                # behind it need not wait for them.
                entry.frame = b""
                self.flush()
        return True

    def resume(self, link: WorkerLink, unserved: bool) -> list[PendingCall]:
        """A new worker is up after a restart (under ``lock``): the calls the old one had go to
        it again per their ``max_task_retries``, or all of them if it ran none (``unserved``),
        then the queued ones. Returns the calls whose retries are used up, no longer pending."""
        resend, dropped = [], []
        for call_id, entry in sorted(self.pending.items()):
            if not entry.sent:
                continue  # still in the queue: it goes to the new worker in turn
            retries = entry.retries
            if unserved:  # like a failed local constructor: calls just wait
                resend.append(entry)
            elif retries == -1 or entry.attempts < retries:
                entry.attempts += 1
                resend.append(entry)
            else:
                dropped.append(call_id)
        for entry in resend:
            if entry.frame:
                link.send(entry.frame)
        failed = [self.pending.pop(i) for i in dropped]
        self.settled()
        self.held = False
        self.flush()  # calls held back while it restarted go to the new worker
        return failed

    def drop_all(self) -> list[PendingCall]:
        """The actor is dead (under ``lock``): every call leaves; returns those still pending."""
        failed = list(self.pending.values())
        self.pending.clear()
        self.settled()
        self.queue.clear()
        self.held = False
        return failed

    def qualname(self, method: MethodSpec) -> str:
        name = method.name
        if "#" in name:  # a hidden part of a generator method: named as the method
            name = name[: name.index("#")]
        return f"{self.actor_name}.{name}"


def _complete(ref: Any, value: Any, what: str) -> None:
    first = first_ref(ref)
    if first is None:
        return
    loop = first._loop
    try:
        if first is ref:  # one value: straight onto the caller's loop
            loop.call_soon_threadsafe(set_result_if_pending, ref, value)
        else:
            loop.call_soon_threadsafe(complete, ref, value, loop, what)
    except RuntimeError:
        pass
