"""The worker process behind a process actor: ``python -m actorio.backends._worker FD``.

A worker is an ordinary actorio program that hosts one in-process actor on its own event loop
(uvloop when installed), so the three concurrency modes, concurrency groups, hooks, cancel and
timeouts behave exactly as in-process. It talks to the driver over the inherited socket FD and
never outlives it: Linux kills it when the driver dies (PR_SET_PDEATHSIG), and it exits when
the socket reaches end-of-file, whichever comes first. The socket is read with ``add_reader``
(no stream objects in between) and replies are sent directly.

Driver -> worker: ("create", cls, options, args, kwargs), ("call", id, method, args, kwargs,
num_returns, group, call_options), ("cancel", id), ("stop", reason).
Worker -> driver: ("result", id, ok, value_or_error), ("dead", reason, intentional).
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib
import os
import signal
import socket
import sys
from typing import Any

from ..exceptions import ActorDiedError
from . import _wire

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL us when the driver dies; exit now if it is already gone."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the socket EOF still ends us
        pass
    if os.getppid() != parent:
        os._exit(0)


class Worker:
    """Serves one actor for the driver at the other end of ``sock``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.handle: Any = None
        self.calls: dict[int, Any] = {}
        self.done = asyncio.Event()

    def send(self, message: Any) -> None:
        try:
            frame = _wire.dumps(message)
        except Exception:
            if message[0] != "result":
                raise
            err = _wire.unpicklable(f"the result of call {message[1]}", {"value": message[3]})
            frame = _wire.dumps(("result", message[1], False, err or _plain(message[3])))
        try:
            # A blocking send from the loop thread: frames are small and the driver reads
            # them at once; it saves the loop a transport and a wake-up per reply.
            self.sock.sendall(frame)
        except OSError:
            self.done.set()  # the driver is gone: so are we

    def readable(self) -> None:
        """The socket has data: one recv (it cannot block now), then every whole frame."""
        try:
            data = self.sock.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self.done.set()  # the driver is gone: so are we
            return
        buffer = self.buffer
        buffer += data
        while len(buffer) >= 4:
            size = int.from_bytes(buffer[:4], "big")
            if len(buffer) < 4 + size:
                return
            message = _wire.loads(bytes(buffer[4 : 4 + size]))
            del buffer[: 4 + size]
            self.dispatch(message)

    def dispatch(self, message: tuple[Any, ...]) -> None:
        import actorio

        kind = message[0]
        if kind == "call":
            _, call_id, name, args, kwargs, num_returns, group, options = message
            method = getattr(self.handle, name)
            if num_returns != 1 or group is not None or options:
                method = method.options(
                    num_returns=1 if num_returns != 0 else 0,
                    concurrency_group=group,
                    **(options or {}),
                )
            try:
                ref = method.remote(*args, **kwargs)
            except Exception as exc:
                self.send(("result", call_id, False, exc))
                return
            if ref is None:  # num_returns=0: nobody waits for a value
                return
            self.calls[call_id] = ref
            ref.add_done_callback(lambda f, i=call_id: self.finished(i, f))
        elif kind == "cancel":
            ref = self.calls.get(message[1])
            if ref is not None:
                actorio.cancel(ref)
        elif kind == "create":
            _, cls, options, args, kwargs = message
            try:
                if isinstance(cls, tuple):  # (module, qualname): import it like the driver did
                    cls = _import_class(*cls)
                self.handle = actorio.remote(cls).options(**options).remote(*args, **kwargs)
            except Exception as exc:  # bad options or arguments: no point in restarting
                self.send(("dead", ActorDiedError(f"it could not be created: {exc}", exc), True))
                self.done.set()
                return
            actorio.monitor(self.handle).add_done_callback(self.actor_ended)
        elif kind == "stop":
            actorio.kill(self.handle)

    def finished(self, call_id: int, ref: asyncio.Future[Any]) -> None:
        self.calls.pop(call_id, None)
        if ref.cancelled():
            return
        exc = ref.exception()
        if exc is not None:
            self.send(("result", call_id, False, exc))
        else:
            self.send(("result", call_id, True, ref.result()))

    def actor_ended(self, monitor: asyncio.Future[Any]) -> None:
        reason = monitor.result()
        intentional = "constructor raised" not in str(reason) and "_start__ raised" not in str(
            reason
        )
        try:
            self.send(("dead", reason, intentional))
        except Exception:
            self.send(("dead", _plain(reason), intentional))
        self.done.set()


def _import_class(module: str, qualname: str) -> type:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return getattr(found, "__wrapped__", found)  # type: ignore[no-any-return]


def _plain(exc: BaseException) -> Exception:
    """A picklable stand-in for an error whose own pickling failed."""
    return RuntimeError(f"{type(exc).__name__}: {exc}")


async def _main(fd: int) -> None:
    sock = socket.socket(fileno=fd)
    worker = Worker(sock)
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, worker.readable)
    await worker.done.wait()
    loop.remove_reader(fd)
    sock.close()


def main() -> None:
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    _die_with_parent(parent)
    import actorio

    actorio.init(shutdown_timeout_s=0, blocking_warning_s=0)  # one actor: it may block
    actorio.run(_main(fd))
    actorio.shutdown(timeout=0)
    os._exit(0)


if __name__ == "__main__":
    main()
