"""Messages between the driver and a worker process: length-prefixed pickle frames, with the
large buffers of a message in shared memory beside it.

The messages themselves are defined in :mod:`._messages`.

The channel is an anonymous Unix socket pair made before the worker starts: it has no name in
the filesystem and no TCP port, so nothing else on the machine can connect to it.
"""

from __future__ import annotations

import array
import io
import os
import pickle
import socket
import struct
import threading
from collections import deque
from typing import Any, Protocol

import cloudpickle

from ..exceptions import SerializationError
from . import _shm
from ._messages import Message, pack, unpack

__all__ = [
    "Frame",
    "Frames",
    "Peer",
    "descriptor_pair",
    "dumps",
    "loads",
    "recv_frames",
    "send_frame",
    "socket_pair",
    "unpicklable",
]

_HEADER = struct.Struct("!I")
#: the first byte of a frame whose large buffers travel beside it (a pickle starts with 0x80)
_SHARED = b"S"
_SHARED_BYTE = _SHARED[0]
#: the most descriptors one frame may carry (Linux's SCM_MAX_FD)
_MAX_FDS = 253
_ANCILLARY = socket.CMSG_SPACE(_MAX_FDS * 4)


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """(driver end, worker end); the worker end is inheritable by the child process."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child.set_inheritable(True)
    return parent, child


def descriptor_pair() -> tuple[socket.socket, socket.socket]:
    """The second channel, for the descriptors of shared-memory segments only: one message
    per frame that has any, sent just before the frame. Apart from the frames' socket, whose
    small frames are read with plain ``recv`` as before (``recvmsg``, which descriptors would
    need, costs every read more)."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    child.set_inheritable(True)
    return parent, child


class Peer(Protocol):
    """The process at the other end of a socket, as pickling and unpickling need it."""

    #: the segments it sent here, mapped
    mappings: _shm.Mappings

    def tell(self, message: Message) -> None:
        """Send it a message (the notes thread's: a segment it maps was closed)."""


class Frame:
    """A frame that carries more than bytes: segments whose descriptors go with it, and the
    refs it exports (counted for the peer it is sent to, each time it is sent)."""

    __slots__ = ("data", "refs", "uses")

    def __init__(self, data: bytes, uses: list[_shm.Use], refs: list[Any]) -> None:
        self.data = data
        self.uses = uses
        self.refs = refs

    def __bool__(self) -> bool:
        return True


class _Out(threading.local):
    """What the message being pickled in this thread has gathered."""

    buffers: list[pickle.PickleBuffer] | None = None
    nested: list[tuple[Any, ...]] | None = None
    refs: list[Any] | None = None


OUT = _Out()


def _gather(buffer: pickle.PickleBuffer) -> bool:
    """The pickler's buffer callback: small buffers stay in the stream (True), large ones
    travel beside it (pickle calls it for contiguous buffers only: see ``_Cloud``)."""
    if buffer.raw().nbytes < _shm.MIN_BYTES:
        return True
    assert OUT.buffers is not None
    OUT.buffers.append(buffer)
    return False


class _Cloud(cloudpickle.CloudPickler):  # type: ignore[misc]
    """cloudpickle, and a buffer that is not contiguous (which pickle refuses) copied into a
    contiguous one that travels beside the stream (C pickle looks at persistent ids before
    its PickleBuffer check: reducer_override comes too late)."""

    def persistent_id(self, obj: Any) -> Any:
        if type(obj) is not pickle.PickleBuffer:
            return None
        try:
            obj.raw()
        except BufferError:
            nested = OUT.nested
            assert nested is not None
            nested.extend(parts_of([pickle.PickleBuffer(memoryview(obj).tobytes())]))
            return len(nested) - 1
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        return (IN.nested or [])[pid]


def _pickled(packed: Any, cloud: bool) -> bytes:
    OUT.buffers, OUT.nested, OUT.refs = [], [], []
    if cloud:
        out = io.BytesIO()
        _Cloud(out, protocol=5, buffer_callback=_gather).dump(packed)
        return out.getvalue()
    return pickle.dumps(packed, protocol=5, buffer_callback=_gather)


def dumps(message: Message) -> bytes | Frame:
    """A frame for ``message``. The C pickler first: it is several times faster, and most
    messages (names, numbers, containers, importable classes) need nothing more; cloudpickle
    for what it cannot do (lambdas, local classes, anything defined in ``__main__``)."""
    packed = pack(message)
    # The common case first, with nothing to gather: a message of plain values. A large
    # buffer, a ref, a stored value or anything pickle refuses sends it the long way.
    try:
        payload = pickle.dumps(packed, protocol=5, buffer_callback=_small_only)
    except Exception:
        pass
    else:
        if b"__main__" not in payload:
            return _HEADER.pack(len(payload)) + payload
    try:
        try:
            payload = _pickled(packed, False)
        except SerializationError:
            raise
        except Exception:
            payload = b"__main__"  # not picklable by reference: cloudpickle it below
        # The worker's __main__ is not the driver's: whatever lives there must travel by value.
        # (cloudpickle also copies a buffer that is not contiguous, which pickle refuses.)
        if b"__main__" in payload:
            payload = _pickled(packed, True)
        buffers, nested, refs = OUT.buffers or [], OUT.nested or [], OUT.refs or []
    finally:
        OUT.buffers = OUT.nested = OUT.refs = None
    if not buffers and not nested and not refs:
        return _HEADER.pack(len(payload)) + payload
    return _framed(payload, buffers, nested, refs)


class _Large(Exception):
    """A buffer too large for the stream: the message goes the long way."""


def _small_only(buffer: pickle.PickleBuffer) -> bool:
    if buffer.raw().nbytes >= _shm.MIN_BYTES:
        raise _Large
    return True


def _framed(
    payload: bytes,
    buffers: list[pickle.PickleBuffer],
    nested: list[tuple[Any, ...]],
    refs: list[Any],
) -> Frame:
    """A frame whose large buffers go into segments (their descriptors travel with it)."""
    uses: list[_shm.Use] = []
    inline: list[bytes] = []
    at = 0

    def describe(part: Any) -> tuple[Any, ...]:
        nonlocal at
        if isinstance(part, _shm.Use):
            uses.append(part)
            return ("s", part.segment.id, part.segment.length, part.segment.size)
        inline.append(part)
        at += len(part)
        return ("i", at - len(part), len(part))

    if len(buffers) + sum(isinstance(p, _shm.Use) for p in nested) > _MAX_FDS:
        raise SerializationError(
            f"a message holds more than {_MAX_FDS} buffers of {_shm.MIN_BYTES:,} bytes or more "
            f"(the most one message can pass); gather them into fewer arrays"
        )
    outer = [describe(part) for part in parts_of(buffers)]
    inner = [describe(part) for part in nested]
    meta = pickle.dumps((len(payload), outer, inner, len(uses)), protocol=5)
    body = b"".join([_SHARED, _HEADER.pack(len(meta)), meta, payload, *inline])
    return Frame(_HEADER.pack(len(body)) + body, uses, refs)


def parts_of(buffers: list[pickle.PickleBuffer]) -> list[Any]:
    """Each (contiguous) buffer as a segment, or as bytes when small (a copy of one that was
    not contiguous)."""
    parts: list[Any] = []
    for buffer in buffers:
        raw = buffer.raw()
        parts.append(_shm.POOL.write(raw) if raw.nbytes >= _shm.MIN_BYTES else bytes(raw))
    return parts


def count_segments(frame: Frame, peer: Any) -> None:
    """Count the frame's segments as sent to ``peer`` (before it is sent)."""
    for use in frame.uses:
        _shm.POOL.sent(use.segment, peer)


def send_frame(
    sock: socket.socket, descriptors: socket.socket, frame: bytes | Frame, peer: Any
) -> None:
    """Write one frame; a shared one after its descriptors (on their own channel), its
    segments counted as sent to ``peer`` unless None (the caller counted them; the refs it
    exports are the caller's to count: :mod:`._objects`). Callers write one frame at a
    time, so both channels keep one order."""
    if isinstance(frame, bytes):
        sock.sendall(frame)
        return
    if peer is not None:
        count_segments(frame, peer)
    fds = [use.segment.fd for use in frame.uses]
    if fds:
        descriptors.sendmsg([b"F"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    sock.sendall(frame.data)


class _In(threading.local):
    """The frame being unpickled in this thread: where it came from, its nested buffers."""

    origin: Any = None
    nested: list[memoryview] | None = None


IN = _In()


def loads(item: bytes | tuple[bytes, list[int]], peer: Peer) -> Message:
    """The message in a payload that :class:`Frames` popped, from ``peer``."""
    # Each reading thread reads one peer: the origin (for the refs and handles the frame may
    # hold) is set once, not per frame.
    if IN.origin is not peer:
        IN.origin = peer
    if isinstance(item, bytes):
        return unpack(pickle.loads(item))
    return _shared_loads(item[0], item[1], peer)


def _shared_loads(body: bytes, fds: list[int], peer: Peer) -> Message:
    (meta_len,) = _HEADER.unpack_from(body, 1)
    start = 1 + _HEADER.size
    size, outer, inner, _ = pickle.loads(body[start : start + meta_len])
    payload_at = start + meta_len
    view = memoryview(body)
    inline_at = payload_at + size
    descriptors = deque(fds)

    def part(desc: tuple[Any, ...]) -> memoryview:
        if desc[0] == "i":
            return view[inline_at + desc[1] : inline_at + desc[1] + desc[2]]
        return peer.mappings.map(desc[1], descriptors.popleft(), desc[2], desc[3])

    try:
        outer_views = [part(d) for d in outer]
        IN.nested = [part(d) for d in inner]
    except BaseException:
        for fd in descriptors:  # (those not mapped yet)
            os.close(fd)
        raise
    try:
        stream = io.BytesIO(view[payload_at:inline_at])
        return unpack(_Unpickler(stream, buffers=outer_views).load())
    finally:
        IN.nested = None


class Frames:
    """Splits the bytes read from a socket into payloads: one ``recv`` per wake-up takes
    every frame that has arrived (a header-then-body read would cost two system calls). A
    shared frame takes its descriptors from the ``descriptors`` channel, where they were sent
    just before it."""

    __slots__ = ("buffer", "descriptors")

    def __init__(self, descriptors: socket.socket) -> None:
        self.buffer = bytearray()
        self.descriptors = descriptors

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def pop(self) -> bytes | tuple[bytes, list[int]] | None:
        """The next whole payload (with its descriptors, if it has any), or None until more
        bytes arrive."""
        buffer = self.buffer
        if len(buffer) < 4:
            return None
        size = int.from_bytes(buffer[:4], "big")
        if len(buffer) < 4 + size:
            return None
        payload = bytes(buffer[4 : 4 + size])
        del buffer[: 4 + size]
        if payload[0] != _SHARED_BYTE:
            return payload
        (meta_len,) = _HEADER.unpack_from(payload, 1)
        count = pickle.loads(payload[5 : 5 + meta_len])[3]
        return payload, self._take(count) if count else []

    def _take(self, count: int) -> list[int]:
        """The descriptors of one frame (already sent: this does not wait)."""
        _, ancillary, _, _ = self.descriptors.recvmsg(1, _ANCILLARY)
        fds = array.array("i")
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(raw[: len(raw) - len(raw) % fds.itemsize])
        # Fewer than announced (the kernel drops descriptors beyond a process's limit): the
        # frame then fails to load, and its reader treats it as any unreadable frame.
        return list(fds)


def receive(sock: socket.socket, frames: Frames) -> bool:
    """One ``recv`` into ``frames``; False when the other end is gone."""
    try:
        data = sock.recv(1 << 16)
    except OSError:
        return False
    if not data:
        return False
    frames.feed(data)
    return True


def recv_frames(
    sock: socket.socket, frames: Frames
) -> list[bytes | tuple[bytes, list[int]]] | None:
    """Block until at least one whole payload has arrived; None when the other end is gone."""
    while True:
        if not receive(sock, frames):
            return None
        payloads = []
        while (payload := frames.pop()) is not None:
            payloads.append(payload)
        if payloads:
            return payloads


def unpicklable(what: str, values: dict[str, Any]) -> SerializationError | None:
    """A clear error naming the first value that cannot be pickled, or None if all can."""
    for label, value in values.items():
        try:
            cloudpickle.dumps(value, protocol=5, buffer_callback=lambda _: False)
        except Exception as exc:
            return SerializationError(
                f"{what}: {label} of type {type(value).__name__} cannot be pickled ({exc}); "
                f"process actors get copies of their arguments and results, so pass "
                f"picklable values (or keep this actor in-process with backend='local')"
            )
    return None
