"""Shared memory for large buffers between the driver and its workers: anonymous ``memfd``
segments, passed as file descriptors over the worker's socket and mapped read-only by the
receiver.

Nothing here has a name in the filesystem: a segment lives while a descriptor or a mapping of
it is open in some process, and the kernel frees it when the last one closes, so a process that
is SIGKILLed leaks nothing.

The sender keeps each segment it made (``Pool``) and counts, per peer, how many times it sent
it; a receiver maps a segment once however often it arrives (``Mappings``) and, when its values
no longer use the mapping, says how many copies of it it received (``Unmapped``). A segment
that no frame, cached value or peer uses goes back to the pool, whose pages are already
faulted in: reusing it costs one ``memcpy``, where fresh shared pages cost several times that.
Free segments are closed after ``RETAIN_S`` idle seconds, and beyond ``RETAIN_BYTES``.
"""

from __future__ import annotations

import mmap
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..exceptions import SerializationError
from ._messages import Closed

__all__ = [
    "MIN_BYTES",
    "POOL",
    "Mappings",
    "Segment",
    "configure",
    "limit_bytes",
    "note",
    "start_notes",
    "stop_notes",
]

#: buffers at or above this size travel in shared memory (``ACTORIO_SHARED_MEMORY_MIN_BYTES``)
MIN_BYTES = int(os.environ.get("ACTORIO_SHARED_MEMORY_MIN_BYTES", 1 << 20))
#: free segments are kept this long for reuse, then closed (``ACTORIO_SHARED_MEMORY_RETAIN_S``)
RETAIN_S = float(os.environ.get("ACTORIO_SHARED_MEMORY_RETAIN_S", 2.0))
#: and at most this much of them
RETAIN_BYTES = 1 << 30
_PAGE = mmap.PAGESIZE
_ONE_MIB = 1 << 20


def configure(min_bytes: int | None = None, retain_s: float | None = None) -> None:
    """Set the threshold and the pool's retention (the driver sends them to its workers)."""
    global MIN_BYTES, RETAIN_S
    if min_bytes is not None:
        MIN_BYTES = min_bytes
    if retain_s is not None:
        RETAIN_S = retain_s


def limit_bytes() -> int:
    """How much shared memory a new segment may take now: the memory the kernel reports
    available (shared pages come out of RAM and swap, not out of /dev/shm's size)."""
    try:
        with open("/proc/meminfo", "rb") as info:
            for line in info:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * _PAGE


class Segment:
    """One memfd the sender wrote a buffer into; ``size`` is its capacity."""

    __slots__ = ("fd", "holders", "id", "idle_since", "length", "mm", "peers", "size", "uses")

    def __init__(self, segment_id: int, size: int) -> None:
        self.id = segment_id
        self.size = size
        self.length = 0
        self.fd = os.memfd_create(f"actorio-{segment_id}", os.MFD_CLOEXEC)
        try:
            # Allocate now: a write into shared pages the machine cannot give would be a
            # SIGBUS later, where this is an error the caller can read.
            os.posix_fallocate(self.fd, 0, size)
            self.mm = mmap.mmap(self.fd, size)
        except OSError:
            os.close(self.fd)
            raise
        self.uses = 0  # frames and cached values that refer to it
        self.holders: dict[Any, int] = {}  # peer -> copies sent and not yet unmapped there
        self.peers: weakref.WeakSet[Any] = weakref.WeakSet()  # every peer it was sent to
        self.idle_since = 0.0

    def close(self) -> None:
        """Free it here, and tell the peers that keep it mapped to let it go too."""
        self.mm.close()
        os.close(self.fd)
        for peer in list(self.peers):
            note(peer.tell, Closed(self.id))


class Use:
    """A frame's or a cached value's hold on a segment; dropping it may free the segment."""

    __slots__ = ("__weakref__", "segment")

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        POOL.changed(segment, uses=1)

    def __del__(self) -> None:
        # Possibly inside the garbage collector, with the pool's lock held: hand it on. With
        # no notes thread (after shutdown), settle it here if nobody holds the lock now.
        if _thread is None and POOL.lock.acquire(blocking=False):
            POOL.lock.release()
            POOL.changed(self.segment, uses=-1)
        else:
            _NOTES.put((POOL.changed, (self.segment,), {"uses": -1}))


class Pool:
    """This process's segments: in use, or free for reuse."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids = iter(range(1, 1 << 62))
        self.free: list[Segment] = []
        self.live: dict[int, Segment] = {}
        self.writes = 0  # buffers copied into segments, ever (for tests and benchmarks)

    def write(self, data: memoryview) -> Use:
        """A segment holding ``data`` (contiguous bytes), reused from the pool when one fits."""
        start_notes()
        n = data.nbytes
        segment = self._take(n)
        if segment is None:
            limit = limit_bytes()
            if n > limit:
                raise SerializationError(
                    f"a buffer of {n:,} bytes must travel in shared memory, but only {limit:,} "
                    f"bytes are available on this machine; send it in smaller parts, or keep "
                    f"the work in one process (backend='local')"
                )
            size = -(-n // _ONE_MIB) * _ONE_MIB  # whole MiBs: later buffers of about the size fit
            with self.lock:
                segment_id = next(self.ids)
            try:
                segment = Segment(segment_id, size)
            except OSError as exc:
                raise SerializationError(
                    f"cannot allocate {size:,} bytes of shared memory for a buffer of {n:,} "
                    f"bytes ({exc}); about {limit:,} bytes are available"
                ) from None
        segment.mm[:n] = data
        segment.length = n
        self.writes += 1
        use = Use(segment)
        with self.lock:
            self.live[segment.id] = segment
        return use

    def _take(self, n: int) -> Segment | None:
        with self.lock:
            fits = [s for s in self.free if n <= s.size <= 2 * n + _ONE_MIB]
            if not fits:
                return None
            best = min(fits, key=lambda s: s.size)
            self.free.remove(best)
            return best

    def sent(self, segment: Segment, peer: Any) -> None:
        with self.lock:
            segment.holders[peer] = segment.holders.get(peer, 0) + 1
            segment.peers.add(peer)

    def unmapped(self, segment_id: int, peer: Any, count: int) -> None:
        """``peer`` no longer maps ``count`` copies of a segment it was sent."""
        segment = self.live.get(segment_id)
        if segment is not None:
            self.changed(segment, peer=peer, count=count)

    def peer_gone(self, peer: Any) -> None:
        """A peer process ended: whatever it mapped is unmapped."""
        for segment in list(self.live.values()) + list(self.free):
            segment.peers.discard(peer)
            if peer in segment.holders:
                self.changed(segment, peer=peer, count=segment.holders[peer])

    def changed(self, segment: Segment, uses: int = 0, peer: Any = None, count: int = 0) -> None:
        with self.lock:
            segment.uses += uses
            if peer is not None:
                left = segment.holders.get(peer, 0) - count
                if left > 0:
                    segment.holders[peer] = left
                else:
                    segment.holders.pop(peer, None)
            if segment.uses or segment.holders or self.live.get(segment.id) is not segment:
                return
            del self.live[segment.id]
            segment.idle_since = time.monotonic()
            self.free.append(segment)
            closing = self._over_budget()
        for old in closing:
            old.close()
        _wake_notes()

    def _over_budget(self) -> list[Segment]:
        closing = []
        kept = sum(s.size for s in self.free)
        # With no notes thread (after shutdown) nothing would close a pooled segment later.
        keep = RETAIN_S > 0 and _thread is not None
        while self.free and (kept > RETAIN_BYTES or not keep):
            old = self.free.pop(0)
            kept -= old.size
            closing.append(old)
        return closing

    def trim(self) -> float | None:
        """Close free segments idle for ``RETAIN_S``; seconds until the next one is due."""
        now = time.monotonic()
        with self.lock:
            due = [s for s in self.free if now - s.idle_since >= RETAIN_S]
            self.free = [s for s in self.free if s not in due]
            next_due = min((s.idle_since + RETAIN_S - now for s in self.free), default=None)
        for segment in due:
            segment.close()
        return next_due

    def in_use(self) -> int:
        """Bytes of segments that some frame, value or peer still uses (for tests)."""
        with self.lock:
            return sum(s.size for s in self.live.values())

    def pooled(self) -> int:
        with self.lock:
            return sum(s.size for s in self.free)


POOL = Pool()


class _Mapped:
    __slots__ = ("mm", "received")

    def __init__(self, mm: mmap.mmap) -> None:
        self.mm = mm
        self.received = 0  # copies that arrived since the sender was last told they are unused


class Mappings:
    """The segments one peer sent to this process, each mapped once, read-only, and kept
    mapped until the sender closes it: a segment that comes again (the sender reuses its
    pages) costs no system call and no page fault here.

    Values made from a segment hold its ``mmap`` (numpy keeps the exporter of its buffer), so
    a mapping whose only reference is ours is used by no value: :meth:`check` then tells the
    sender how many copies it received, and the sender may write new data into it.
    """

    def __init__(self, release: Callable[[int, int], None]) -> None:
        #: tells the sender that ``count`` copies of a segment are no longer used here
        self.release = release
        self.lock = threading.Lock()
        self.maps: dict[int, _Mapped] = {}
        _WATCHED.add(self)

    def map(self, segment_id: int, fd: int, length: int, size: int) -> memoryview:
        """A read-only view of ``length`` bytes of the segment behind ``fd`` (closed here)."""
        view = None
        with self.lock:
            known = self.maps.get(segment_id)
            if known is not None:
                # The view first, the count after, under the lock: check() never counts an
                # arrival whose view does not hold the mapping yet.
                view = memoryview(known.mm)[:length]
                known.received += 1
        if view is not None:
            os.close(fd)
            _wake_notes()  # to look for the moment no value uses it any more
            return view
        start_notes()
        try:
            # Populated at once: a receiver reads what it was sent, and one call that maps
            # every page is cheaper than a fault per page.
            mm = mmap.mmap(
                fd,
                size,
                flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0),
                prot=mmap.PROT_READ,
            )
        finally:
            os.close(fd)
        mapped = _Mapped(mm)
        with self.lock:
            view = memoryview(mm)[:length]
            mapped.received = 1
            self.maps[segment_id] = mapped
        _wake_notes()
        return view

    def pending(self) -> bool:
        with self.lock:
            return any(m.received for m in self.maps.values())

    def check(self) -> None:
        """Tell the sender about the segments no value here uses any more."""
        unused = []
        with self.lock:
            for segment_id, mapped in self.maps.items():
                # Two references: our _Mapped's, and getrefcount's own argument.
                if mapped.received and sys.getrefcount(mapped.mm) <= 2:
                    unused.append((segment_id, mapped.received))
                    mapped.received = 0
        for segment_id, count in unused:
            self.release(segment_id, count)

    def closed(self, segment_id: int) -> None:
        """The sender closed the segment: unmap it (once no value uses it)."""
        with self.lock:
            self.maps.pop(segment_id, None)

    def drop_all(self) -> None:
        """The sender is gone: keep nothing mapped for it (values keep what they use)."""
        with self.lock:
            self.maps.clear()


#: every live Mappings, checked by the notes thread while some of them have arrivals
_WATCHED: weakref.WeakSet[Mappings] = weakref.WeakSet()
#: how soon after an arrival the notes thread looks for mappings values stopped using (then
#: twice as long each time, up to a second, until the next arrival)
CHECK_S = 0.05
_pace = [CHECK_S]


# -- the notes thread: what must not run inside the garbage collector -------------------------

_NOTES: queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = (
    queue.SimpleQueue()
)
_started = threading.Lock()
_thread: threading.Thread | None = None


def note(fn: Callable[..., Any], *args: Any) -> None:
    """Call ``fn(*args)`` soon on the notes thread (safe inside the garbage collector: it
    starts no thread; the process backend and each worker start it up front)."""
    _NOTES.put((fn, args, {}))


def _wake_notes() -> None:
    _NOTES.put((_nothing, (), {}))


def _nothing() -> None:
    pass


def _serve_notes() -> None:
    timeout: float | None = None
    while True:
        try:
            fn, args, kwargs = _NOTES.get(timeout=timeout)
        except queue.Empty:
            arrived = False  # woken by the pace's timer
        else:
            if fn is _stop:
                return
            arrived = fn is _nothing
            try:
                fn(*args, **kwargs)
            except Exception:  # a peer gone meanwhile: nothing to tell it
                pass
            # Not kept until the next note: what a note holds (an actor's core, through a
            # bound method) must be free to go once the note is served.
            del fn, args, kwargs
        watched = [m for m in list(_WATCHED) if m.pending()]
        for mappings in watched:
            mappings.check()
        timeout = POOL.trim()
        if watched:
            # Soon after arrivals, then less and less often while values are kept.
            _pace[0] = CHECK_S if arrived else min(_pace[0] * 2, 1.0)
            timeout = _pace[0] if timeout is None else min(timeout, _pace[0])


def _stop() -> None:
    """Ends the notes thread (a marker: never called)."""


def stop_notes() -> None:
    """At shutdown: end the notes thread and close the free segments. Notes made later wait
    for the next start (a value dropped after shutdown has nobody left to tell)."""
    global _thread
    with _started:
        thread, _thread = _thread, None
    if thread is not None:
        _NOTES.put((_stop, (), {}))
        thread.join(timeout=5)
    with POOL.lock:
        free, POOL.free = POOL.free, []
    for segment in free:
        segment.close()


def start_notes() -> None:
    """Start the thread that sends unmapping notes and closes idle segments (once)."""
    global _thread
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve_notes, name="actorio-shm", daemon=True)
            _thread.start()
