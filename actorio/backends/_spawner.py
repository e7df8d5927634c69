"""Starts worker processes, always from one long-lived thread.

Workers ask Linux to kill them when their parent dies (``PR_SET_PDEATHSIG``), and Linux means
the parent *thread*: a worker started from a short-lived thread (a task's worker thread, the
reader thread of a worker it replaces) would be killed when that thread ends. One daemon
thread that lives as long as the driver starts them all.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import Any

__all__ = ["spawn_worker", "stop_spawner"]

_requests: queue.SimpleQueue[
    tuple[tuple[socket.socket, ...], Future[subprocess.Popen[bytes]]] | None
] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def spawn_worker(worker_ends: tuple[socket.socket, ...]) -> subprocess.Popen[bytes]:
    """Start ``python -m actorio.backends._worker`` holding ``worker_ends`` (the frames'
    socket, the descriptors' one); close our copies."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="actorio-spawner", daemon=True)
            _thread.start()
    done: Future[subprocess.Popen[bytes]] = Future()
    _requests.put((worker_ends, done))
    try:
        return done.result()
    finally:
        for end in worker_ends:
            end.close()


def stop_spawner() -> None:
    """End the spawner thread (at shutdown, once no worker is left: they die with it)."""
    global _thread
    with _lock:
        thread, _thread = _thread, None
    if thread is not None and thread.is_alive():
        _requests.put(None)
        thread.join()


def _serve() -> None:
    while True:
        request = _requests.get()
        if request is None:
            return
        worker_ends, done = request
        try:
            done.set_result(_popen(worker_ends))
        except BaseException as exc:
            done.set_exception(exc)


def _popen(worker_ends: tuple[socket.socket, ...]) -> subprocess.Popen[bytes]:
    fds = [end.fileno() for end in worker_ends]
    env: dict[str, Any] = dict(os.environ)
    # The worker must import what the driver could: its modules and the caller's sys.path.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["ACTORIO_BACKEND"] = "local"  # a worker hosts its actor itself, never in a grandchild
    return subprocess.Popen(
        [sys.executable, "-m", "actorio.backends._worker", str(os.getpid()), *map(str, fds)],
        pass_fds=fds,
        env=env,
        stdin=subprocess.DEVNULL,
    )
