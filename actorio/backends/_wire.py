"""Messages between the driver and a worker process: length-prefixed cloudpickle frames.

The messages themselves are defined in :mod:`._messages`.

The channel is an anonymous Unix socket pair made before the worker starts: it has no name in
the filesystem and no TCP port, so nothing else on the machine can connect to it.
"""

from __future__ import annotations

import pickle
import socket
import struct
from typing import Any

import cloudpickle

from ..exceptions import SerializationError
from ._messages import Message, pack, unpack

__all__ = ["Frames", "dumps", "loads", "recv_frames", "socket_pair", "unpicklable"]

_HEADER = struct.Struct("!I")


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(driver end, worker end); the worker end is inheritable by the child process."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child.set_inheritable(True)
    return parent, child


def dumps(message: Message) -> bytes:
    """A frame for ``message``. The C pickler first: it is several times faster, and most
    messages (names, numbers, containers, importable classes) need nothing more; cloudpickle
    for what it cannot do (lambdas, local classes, anything defined in ``__main__``)."""
    packed = pack(message)
    try:
        payload = pickle.dumps(packed, protocol=5)
    except Exception:
        payload = b"__main__"  # not picklable by reference: cloudpickle it below
    # The worker's __main__ is not the driver's: whatever lives there must travel by value.
    if b"__main__" in payload:
        payload = cloudpickle.dumps(packed, protocol=5)
    return _HEADER.pack(len(payload)) + payload


def loads(payload: bytes) -> Message:
    return unpack(pickle.loads(payload))


class Frames:
    """Splits the bytes read from a socket into payloads: one ``recv`` per wake-up takes
    every frame that has arrived (a header-then-body read would cost two system calls)."""

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def pop(self) -> bytes | None:
        """The next whole payload, or None until more bytes arrive."""
        buffer = self.buffer
        if len(buffer) < 4:
            return None
        size = int.from_bytes(buffer[:4], "big")
        if len(buffer) < 4 + size:
            return None
        payload = bytes(buffer[4 : 4 + size])
        del buffer[: 4 + size]
        return payload


def recv_frames(sock: socket.socket, frames: Frames) -> list[bytes] | None:
    """Block until at least one whole payload has arrived; None when the other end is gone."""
    while True:
        try:
            data = sock.recv(1 << 16)
        except OSError:
            return None
        if not data:
            return None
        frames.feed(data)
        payloads = []
        while (payload := frames.pop()) is not None:
            payloads.append(payload)
        if payloads:
            return payloads


def unpicklable(what: str, values: dict[str, Any]) -> SerializationError | None:
    """A clear error naming the first value that cannot be pickled, or None if all can."""
    for label, value in values.items():
        try:
            cloudpickle.dumps(value, protocol=5)
        except Exception as exc:
            return SerializationError(
                f"{what}: {label} of type {type(value).__name__} cannot be pickled ({exc}); "
                f"process actors get copies of their arguments and results, so pass "
                f"picklable values (or keep this actor in-process with backend='local')"
            )
    return None
