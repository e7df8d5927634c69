"""Messages between the driver and a worker process: length-prefixed cloudpickle frames.

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

__all__ = ["dumps", "loads", "recv_frame", "send_frame", "socket_pair", "unpicklable"]

_HEADER = struct.Struct("!I")


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(driver end, worker end); the worker end is inheritable by the child process."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child.set_inheritable(True)
    return parent, child


def dumps(message: Any) -> bytes:
    """A frame for ``message``. The C pickler first: it is several times faster, and most
    messages (names, numbers, containers, importable classes) need nothing more; cloudpickle
    for what it cannot do (lambdas, local classes, anything defined in ``__main__``)."""
    try:
        payload = pickle.dumps(message, protocol=5)
    except Exception:
        payload = b"__main__"  # not picklable by reference: cloudpickle it below
    # The worker's __main__ is not the driver's: whatever lives there must travel by value.
    if b"__main__" in payload:
        payload = cloudpickle.dumps(message, protocol=5)
    return _HEADER.pack(len(payload)) + payload


def loads(payload: bytes) -> Any:
    return pickle.loads(payload)


def send_frame(sock: socket.socket, frame: bytes) -> None:
    sock.sendall(frame)


def recv_frame(sock: socket.socket) -> bytes | None:
    """One payload, or None when the other end is gone."""
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        try:
            chunk = sock.recv(min(size, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


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
