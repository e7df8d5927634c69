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
from collections.abc import Callable
from typing import Protocol

from . import _wire
from ._messages import Dead, Message
from ._spawner import spawn_worker

__all__ = ["LinkOwner", "WorkerLink"]

log = logging.getLogger("actorio")


class LinkOwner(Protocol):
    """What a link reports to (from its reader thread)."""

    def describe(self) -> str: ...

    def worker_said(self, message: Message) -> None:
        """Any message but ``Dead``, in the order the worker sent them."""

    def worker_ended(self, dead: Dead | None, code: int) -> None:
        """The worker process is gone: its last ``Dead`` message, and its exit code."""


class WorkerLink:
    """One worker process, started with the ``create_frame``, and the socket to it."""

    __slots__ = ("owner", "proc", "send", "sock")

    def __init__(self, owner: LinkOwner, create_frame: bytes) -> None:
        driver_end, worker_end = _wire.socket_pair()
        #: held weakly: the reader thread must not keep a released actor alive (the actor
        #: keeps itself alive while it has calls pending, see _process_calls)
        self.owner: weakref.ref[LinkOwner] = weakref.ref(owner)
        self.proc: subprocess.Popen[bytes] = spawn_worker(worker_end)
        self.sock = driver_end
        #: Writes one frame (any thread, one at a time); OSError once the worker is gone.
        #: The socket's own method: this is on every call's path.
        self.send: Callable[[bytes], None] = driver_end.sendall
        self.send(create_frame)

    def listen(self, thread_name: str) -> None:
        """Start the reader thread (once the owner knows this link: it reports to it)."""
        threading.Thread(target=self._read, name=thread_name, daemon=True).start()

    def kill_after(self, seconds: float) -> None:
        """SIGKILL the worker if it is still running ``seconds`` from now."""
        timer = threading.Timer(seconds, self._kill_if_alive)
        timer.daemon = True
        timer.start()

    def _kill_if_alive(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def _read(self) -> None:
        dead: Dead | None = None
        frames = _wire.Frames()
        while (payloads := _wire.recv_frames(self.sock, frames)) is not None:
            for payload in payloads:
                owner = self.owner()
                try:
                    message = _wire.loads(payload)
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
                elif owner is not None:  # (released: nobody is waiting for anything)
                    owner.worker_said(message)
            owner = None  # not held while the next recv waits
        self.sock.close()
        code = self.proc.wait()
        owner = self.owner()
        if owner is not None:
            owner.worker_ended(dead, code)
