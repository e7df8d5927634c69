"""The driver's link to one worker process: its socket, and the thread that reads it.

The reader hands each message to its owner as it arrives and, at end-of-file (the worker
killed, crashed or exited), says once how the worker ended: with the ``Dead`` message it
sent, if any, and its exit code.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import weakref
from typing import Protocol

from . import _objects, _shm, _wire
from ._messages import Closed, Dead, Fetch, Message, Release, Unmapped
from ._spawner import spawn_worker

__all__ = ["LinkOwner", "WorkerLink"]

log = logging.getLogger("actorio")


class LinkOwner(Protocol):
    """What a link reports to (from its reader thread)."""

    def describe(self) -> str: ...

    def send_control(self, message: Message, link: WorkerLink | None = None) -> None:
        """Write a message to the worker (to the one behind ``link`` only, if given)."""

    def worker_said(self, message: Message) -> None:
        """Any message but ``Dead``, in the order the worker sent them."""

    def worker_ended(self, dead: Dead | None, code: int) -> None:
        """The worker process is gone: its last ``Dead`` message, and its exit code."""


class WorkerLink:
    """One worker process, started with the ``create_frame``, and the socket to it; also the
    peer that the refs and segments sent to that process are counted against."""

    __slots__ = (
        "__weakref__",
        "counting",
        "descriptors",
        "ended",
        "mappings",
        "owner",
        "proc",
        "sock",
    )

    def __init__(self, owner: LinkOwner, create_frame: bytes | _wire.Frame) -> None:
        driver_end, worker_end = _wire.socket_pair()
        self.descriptors, worker_descriptors = _wire.descriptor_pair()
        #: held weakly: the reader thread must not keep a released actor alive (the actor
        #: keeps itself alive while it has calls pending, see _process_calls)
        self.owner: weakref.ref[LinkOwner] = weakref.ref(owner)
        try:
            self.proc: subprocess.Popen[bytes] = spawn_worker((worker_end, worker_descriptors))
        except BaseException:
            driver_end.close()
            self.descriptors.close()
            raise
        self.sock = driver_end
        #: set once the worker is gone (under ``counting``): nothing sent is counted after it
        self.ended = False
        self.counting = threading.Lock()
        #: the segments this worker sent, mapped here
        self.mappings = _shm.Mappings(self._unmapped)
        self.send(create_frame)

    def send(self, frame: bytes | _wire.Frame) -> None:
        """Write one frame (any thread, one at a time); OSError once the worker is gone."""
        if isinstance(frame, bytes):
            self.sock.sendall(frame)  # (every call's path)
        else:
            with self.counting:  # so that what is counted here, peer_gone() uncounts
                if self.ended:
                    raise OSError("the worker is gone")
                if frame.refs:
                    _objects.sent_refs(frame.refs, self)
                _wire.count_segments(frame, self)
            _wire.send_frame(self.sock, self.descriptors, frame, None)

    def _unmapped(self, segment_id: int, count: int) -> None:
        self.tell(Unmapped(segment_id, count))

    def tell(self, message: Message) -> None:
        """Send the worker a note about shared memory (if it is still this owner's worker)."""
        owner = self.owner()
        if owner is not None and self.proc.poll() is None:
            owner.send_control(message, self)

    def listen(self, thread_name: str) -> None:
        """Start the reader thread (once the owner knows this link: it reports to it)."""
        threading.Thread(target=self._read, name=thread_name, daemon=True).start()

    def kill_after(self, seconds: float) -> None:
        """SIGKILL the worker if it is still running ``seconds`` from now."""
        timer = threading.Timer(seconds, self._kill_if_alive)
        timer.daemon = True
        timer.name = "actorio-kill-timer"  # the runtime's own: a test's leak check skips it
        timer.start()

    def _data(self, message: Fetch | Release | Unmapped | Closed, owner: LinkOwner | None) -> None:
        """What crosses for refs and shared memory, counted against this worker."""
        match message:
            case Fetch(object_id):
                if owner is not None:
                    held = weakref.ref(owner)  # (a released actor must not wait for a ref)
                    _objects.fetch(object_id, lambda m: self._answer(held, m))
            case Release(object_id, count):
                _objects.released(object_id, self, count)
            case Unmapped(segment_id, count):
                _shm.POOL.unmapped(segment_id, self, count)
            case Closed(segment_id):
                self.mappings.closed(segment_id)

    def _answer(self, held: weakref.ref[LinkOwner], message: Message) -> None:
        owner = held()
        if owner is not None:
            owner.send_control(message, self)

    def _kill_if_alive(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def _read(self) -> None:
        dead: Dead | None = None
        frames = _wire.Frames(self.descriptors)
        while (payloads := _wire.recv_frames(self.sock, frames)) is not None:
            for payload in payloads:
                owner = self.owner()
                try:
                    message = _wire.loads(payload, self)
                except Exception:
                    # A reply we cannot read would leave its caller waiting forever: end the
                    # worker instead, so every call it holds fails (or is retried) like after
                    # a crash.
                    what = owner.describe() if owner is not None else "a released actor"
                    log.exception("cannot read a reply from %s; stopping it", what)
                    self.proc.kill()
                    continue
                if isinstance(message, Dead):
                    dead = message
                elif isinstance(message, Fetch | Release | Unmapped | Closed):
                    self._data(message, owner)
                elif owner is not None:  # (released: nobody is waiting for anything)
                    owner.worker_said(message)
                # Not held while the next recv waits: the value of a large result would keep
                # the worker's segment mapped here until the worker said something else.
                del message
            owner = None  # nor the owner
        with self.counting:
            self.ended = True
        self.sock.close()
        self.descriptors.close()
        code = self.proc.wait()
        _objects.peer_gone(self)  # what it held is released, what it mapped unmapped
        self.mappings.drop_all()  # and what it sent is kept only by the values made of it
        owner = self.owner()
        if owner is not None:
            owner.worker_ended(dead, code)
