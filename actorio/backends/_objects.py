"""Refs, values and handles that cross between the driver and its worker processes.

The driver owns every value that more than one process can see. A ref the driver sends to a
worker travels as its id and is counted against that worker each time it is sent; the worker
makes one :class:`ForeignRef` per id, asks for the value at once (``Fetch``; the answer is a
``Settle`` when the ref is done), and says how many copies it received once it drops it
(``Release``), so the driver holds the ref while any worker does and no longer. A ref a worker
made itself (``actorio.put`` there, or a call it made) goes to the driver as a *promise*:
with its value when done, else followed by a ``Settle`` once it is; from then on the driver
owns it like any other.

A value that reaches workers through a ref is pickled once (:func:`shareable`): its large
buffers are written to shared memory the first time, and every later send maps the same
pages. A handle to an actor that lives inside a worker (a child it created) goes to the driver
as a proxy that reaches the actor through that worker; the worker holds the child while the
driver holds the proxy.
"""

from __future__ import annotations

import asyncio
import pickle
import threading
import weakref
from typing import Any

import cloudpickle

from .._portable import portable
from .._ref import TRAVEL, ObjectRef, new_ref
from ..exceptions import ActorDiedError, SerializationError
from . import _shm, _wire
from ._messages import Fetch, Release, Settle

__all__ = [
    "ForeignRef",
    "Stored",
    "WorkerSide",
    "fetch",
    "install",
    "peer_gone",
    "released",
    "sent_refs",
    "settled",
    "shareable",
]

_lock = threading.Lock()


# -- the driver's refs, as workers hold them ---------------------------------------------------


class _Entry:
    __slots__ = ("counts", "ref")

    def __init__(self, ref: ObjectRef[Any]) -> None:
        self.ref = ref
        self.counts: dict[Any, int] = {}  # peer -> copies sent and not released


#: the driver's refs that some worker holds, by id
_EXPORTED: dict[str, _Entry] = {}


def sent_refs(refs: list[ObjectRef[Any]], peer: Any) -> None:
    """A frame holding ``refs`` is being sent to ``peer``: count them against it."""
    with _lock:
        for ref in refs:
            entry = _EXPORTED.get(ref.hex())
            if entry is None:
                entry = _EXPORTED[ref.hex()] = _Entry(ref)
            entry.counts[peer] = entry.counts.get(peer, 0) + 1


def released(object_id: str, peer: Any, count: int) -> None:
    """``peer`` dropped ``count`` copies of a ref: the last one gone frees it."""
    with _lock:
        entry = _EXPORTED.get(object_id)
        if entry is None:
            return
        left = entry.counts.get(peer, 0) - count
        if left > 0:
            entry.counts[peer] = left
        else:
            entry.counts.pop(peer, None)
        if not entry.counts:
            del _EXPORTED[object_id]


def peer_gone(peer: Any) -> None:
    """A worker process ended: the refs it held are released, its segments unmapped."""
    with _lock:
        for object_id, entry in list(_EXPORTED.items()):
            entry.counts.pop(peer, None)
            if not entry.counts:
                del _EXPORTED[object_id]
    _shm.POOL.peer_gone(peer)


def exported_count() -> int:
    """How many of the driver's refs workers hold (for tests)."""
    with _lock:
        return len(_EXPORTED)


def fetch(object_id: str, reply: Any) -> None:
    """A worker asked for a ref's value: ``reply`` gets a ``Settle`` once the ref is done."""
    with _lock:
        entry = _EXPORTED.get(object_id)
    if entry is None:
        why = "its last holder released it before the worker asked"
        gone = ActorDiedError(f"the value of ref {object_id} is gone: {why}")
        reply(Settle(object_id, False, gone))
        return
    ref = entry.ref

    def done(cf: Any) -> None:
        exc = cf.exception()
        try:
            if exc is not None:
                reply(Settle(object_id, False, exc))
            else:
                reply(Settle(object_id, True, shareable(ref, cf.result())))
        except Exception as err:  # the value (or error) cannot cross: say so, not hang
            reply(Settle(object_id, False, _cannot_send(object_id, err)))

    ref.future().add_done_callback(done)


# -- values pickled once -----------------------------------------------------------------------


class _Blob:
    """A value pickled with its large buffers in shared memory, sent as it is each time."""

    __slots__ = ("parts", "payload")

    def __init__(self, payload: bytes, parts: list[Any]) -> None:
        self.payload = payload
        self.parts = parts


class Stored:
    """Stands for a ref's value in a message: pickles as the value's cached blob."""

    __slots__ = ("blob",)

    def __init__(self, blob: _Blob) -> None:
        self.blob = blob

    def __reduce__(self) -> tuple[Any, ...]:
        nested = _wire.OUT.nested
        if nested is None:
            raise SerializationError("a stored value pickles only into a worker's frame")
        start = len(nested)
        nested.extend(self.blob.parts)
        return (_load_stored, (self.blob.payload, start, len(self.blob.parts)))


def _load_stored(payload: bytes, start: int, count: int) -> Any:
    nested = _wire.IN.nested or []
    return pickle.loads(payload, buffers=nested[start : start + count])


_BLOBS: weakref.WeakKeyDictionary[ObjectRef[Any], _Blob | None] = weakref.WeakKeyDictionary()
#: held while a value is pickled the first time: workers fetching one ref at once (each from
#: its own link's reader thread) must share one blob, not write a copy each
_blobs_lock = threading.RLock()
_UNSEEN: Any = object()


def shareable(ref: ObjectRef[Any], value: Any) -> Any:
    """What to send for ``ref``'s ``value``: a :class:`Stored` blob when it holds large
    buffers (pickled the first time only), else the value itself (small: pickled per send)."""
    try:
        with _blobs_lock:
            blob = _BLOBS.get(ref, _UNSEEN)
            if blob is _UNSEEN:
                blob = _BLOBS[ref] = _blob_of(value)
    except TypeError:  # not weakly referable: pickled per send
        return value
    return value if blob is None else Stored(blob)


def _blob_of(value: Any) -> _Blob | None:
    out = _wire.OUT
    if out.buffers is not None:
        return None  # (inside another message's pickling: no cache)
    try:
        try:
            payload = pickle.dumps(value, protocol=5, buffer_callback=_wire._gather)
        except Exception:
            out.buffers, out.nested, out.refs = [], [], []
            payload = cloudpickle.dumps(value, protocol=5, buffer_callback=_wire._gather)
        buffers, refs = out.buffers or [], out.refs or []
    except SerializationError:
        raise
    except Exception:
        return None  # the message's own pickling reports it, naming the argument
    finally:
        out.buffers = out.nested = out.refs = None
    if refs or not buffers:
        return None  # small, or holding refs (counted per send): pickled with each message
    return _Blob(payload, _wire.parts_of(buffers))


# -- the worker's side -------------------------------------------------------------------------


class ForeignRef(ObjectRef[Any]):
    """In a worker: a ref the driver owns. Settled when the driver sends its value."""

    __slots__ = ("object_id",)

    object_id: str


class WorkerSide:
    """The worker's table of foreign refs and of what it exported to the driver."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self.refs: dict[str, tuple[weakref.ref[ForeignRef], list[int]]] = {}
        self.promised: set[str] = set()
        #: handles to actors hosted here that the driver holds: id -> [handle, copies sent]
        self.exported: dict[str, list[Any]] = {}

    def arrive(self, object_id: str) -> ForeignRef:
        known = self.refs.get(object_id)
        ref = known[0]() if known is not None else None
        if ref is not None and known is not None:
            known[1][0] += 1
            return ref
        ref = ForeignRef(loop=self.worker.loop)
        ref.object_id = object_id
        received = [1]

        def dropped(_: Any) -> None:
            if self.refs.get(object_id, (None,))[0] is handle:
                del self.refs[object_id]
            _shm.note(self.worker.send, Release(object_id, received[0]))

        handle = weakref.ref(ref, dropped)
        self.refs[object_id] = (handle, received)
        self.worker.send(Fetch(object_id))
        return ref

    def settle(self, object_id: str, ok: bool, value: Any) -> None:
        known = self.refs.get(object_id)
        ref = known[0]() if known is not None else None
        if ref is None or ref.done():
            return
        if ok:
            ref.set_result(value)
        else:
            ref.set_exception(value)

    def export_ref(self, ref: ObjectRef[Any]) -> tuple[Any, ...]:
        if isinstance(ref, ForeignRef):
            return (_driver_ref, (ref.object_id,))
        object_id = ref.hex()
        if ref.done():
            if ref.cancelled():
                return (_promise, (object_id, False, ActorDiedError(f"{ref!r} was cancelled")))
            exc = ref.exception()
            return (_promise, (object_id, exc is None, ref.result() if exc is None else exc))
        if object_id not in self.promised:
            self.promised.add(object_id)
            ref.future().add_done_callback(lambda cf: self._keep(object_id, cf))
        return (_promise, (object_id, None, None))

    def _keep(self, object_id: str, cf: Any) -> None:
        self.promised.discard(object_id)
        exc = cf.exception()
        try:
            self.worker.send(Settle(object_id, exc is None, cf.result() if exc is None else exc))
        except Exception as err:  # the value (or error) cannot cross: say so, not hang
            self.worker.send(Settle(object_id, False, _cannot_send(object_id, err)))

    def export_handle(self, actor: Any) -> tuple[Any, ...] | None:
        """A handle to a child actor hosted here, sent to the driver: the driver's proxy
        reaches it through this worker, which holds it meanwhile."""
        from ._remote import RemoteActor

        if isinstance(actor, RemoteActor) or actor is self.worker.hosted_core():
            return None  # the driver knows it already
        from .._handle import handle_for

        held = self.exported.setdefault(actor.actor_id, [handle_for(actor), 0])
        held[1] += 1
        where = (actor.actor_id, portable(actor.spec.cls), actor.name, actor.namespace)
        return (_child_actor, where)

    def unexport(self, actor_id: str, count: int) -> None:
        held = self.exported.get(actor_id)
        if held is not None:
            held[1] -= count
            if held[1] <= 0:
                del self.exported[actor_id]


#: set in a worker process (its driver is its one peer); None in the driver
SIDE: WorkerSide | None = None


# -- unpickling tokens -------------------------------------------------------------------------


def _driver_ref(object_id: str) -> ObjectRef[Any]:
    if SIDE is not None:
        return SIDE.arrive(object_id)
    with _lock:
        entry = _EXPORTED.get(object_id)
    if entry is not None:
        return entry.ref
    ref: ObjectRef[Any] = new_ref(None, _host_loop())
    ref.set_exception(ActorDiedError(f"the value of ref {object_id} is gone"))
    return ref


def _promise(object_id: str, ok: bool | None, value: Any) -> ObjectRef[Any]:
    """In the driver: a ref a worker made, done (``ok`` True/False) or settled later."""
    owner = _sender()
    if ok is None and owner is not None:
        held = owner.promises.get(object_id)
        known: ObjectRef[Any] | None = held() if held is not None else None
        if known is not None:
            return known  # sent again while pending: the one ref its Settle will settle
    ref: ObjectRef[Any] = new_ref(None, owner.loop if owner is not None else _host_loop())
    if ok is None:
        if owner is not None:
            owner.promises[object_id] = weakref.ref(ref)
    elif ok:
        ref.set_result(value)
    else:
        ref.set_exception(value)
    return ref


def settled(promises: dict[str, weakref.ref[ObjectRef[Any]]], message: Settle) -> None:
    """A worker's promised ref is done (driver, reader thread)."""
    from .._mailbox import complete, fail

    object_id, ok, value = message
    held = promises.pop(object_id, None)
    ref = held() if held is not None else None
    if ref is None:
        return  # dropped meanwhile
    if ok:
        complete(ref, value, None, "ref")  # type: ignore[arg-type]
    else:
        fail(ref, value, None)


def _child_actor(actor_id: str, cls: type, name: str | None, namespace: str) -> Any:
    """In the driver: the proxy of an actor hosted in the worker this frame came from."""
    from .._runtime import get_runtime
    from ._remote import RemoteActor

    rt = get_runtime()
    origin = _sender()
    known = rt.registry.actors.get(actor_id)
    if isinstance(known, RemoteActor) and known.received is not None:
        known.received[0] += 1
        return known
    proxy = RemoteActor(origin, actor_id, cls, name, namespace)
    proxy.received = received = [1]
    rt.registry.add(proxy)
    # Dropped by the driver: the worker may let its child go (once the copies it sent are).
    weakref.finalize(proxy, origin.release_actor, actor_id, received)
    return proxy


def _cannot_send(object_id: str, err: Exception) -> SerializationError:
    if isinstance(err, SerializationError):
        return err
    return SerializationError(
        f"the value of ref {object_id} cannot be sent to another process ({err}); put "
        f"picklable values in refs that travel to process actors and tasks"
    )


def _sender() -> Any:
    """In the driver: the process actor whose worker sent the frame being read."""
    link = _wire.IN.origin
    return None if link is None else link.owner()


def _host_loop() -> asyncio.AbstractEventLoop:
    from .._runtime import get_runtime

    return get_runtime().host_loop()


def _export_ref(ref: ObjectRef[Any]) -> tuple[Any, ...]:
    if _wire.OUT.refs is None:
        raise SerializationError(
            f"{ref!r} cannot be pickled here: refs travel only in the arguments and results "
            f"of process actors and tasks; pass its value (actorio.get(ref)) instead"
        )
    if SIDE is not None:
        return SIDE.export_ref(ref)
    _wire.OUT.refs.append(ref)
    return (_driver_ref, (ref.hex(),))


def install(side: WorkerSide | None = None) -> None:
    """Let refs (and, in a worker, handles to its children) travel over the wire."""
    global SIDE
    SIDE = side
    TRAVEL.export_ref = _export_ref
    if side is not None:
        TRAVEL.export_handle = side.export_handle
