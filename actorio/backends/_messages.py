"""The process backend's wire protocol: every message between the driver and a worker.

Driver -> worker:
    Create      the first frame: the actor to build, with its options and arguments
    Call        a method call (its ref arguments already replaced by their values)
    Cancel      ``actorio.cancel()`` of a call already sent
    Stop        run the stop hook and exit (``kill``; ``restart``: the driver starts a new one)
Worker -> driver:
    Result      a call's outcome (none for ``num_returns=0``)
    Dead        the hosted actor is dead, and why; the worker exits next
Worker -> driver requests, from the handles a worker holds to actors hosted elsewhere,
with the driver's replies:
    Forward  -> Forwarded   a call to such an actor -> its outcome
    Watch    -> Forwarded   a monitor of such an actor -> its ActorDiedError, once dead
    Lookup   -> Reply       ``get_actor()`` by name -> (actor_id, class, name, namespace) or None
    Kill                    ``actorio.kill()`` of such an actor (no reply)
Both ways, for what crosses between them (:mod:`._objects`, :mod:`._shm`):
    Fetch    -> Settle      a worker asks for the value of a ref the driver owns
    Settle                  a ref is done (the driver's, fetched; or one a worker promised)
    Release                 copies of a ref the worker received are dropped
    Unmapped                copies of a shared-memory segment received are no longer used
    Closed                  the sender closed a segment: the receiver unmaps it
    ReleaseActor            copies of a handle to a worker's child actor are dropped

On the wire a message is a plain tuple, its kind's number first (:func:`pack`,
:func:`unpack`): a tuple of builtins pickles several times faster than an instance of a
class, which the pickler names and the unpickler looks up, and a call and its result cross
on every round trip.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "Call",
    "Cancel",
    "Closed",
    "Create",
    "Dead",
    "Forward",
    "Forwarded",
    "Fetch",
    "Kill",
    "Lookup",
    "Message",
    "Release",
    "ReleaseActor",
    "Reply",
    "Request",
    "Result",
    "Settle",
    "Stop",
    "Unmapped",
    "Watch",
    "pack",
    "unpack",
]


class Create(NamedTuple):
    """Driver -> worker, once, first: build the actor (``options`` go to ``actorio.remote``)."""

    cls: type
    options: dict[str, Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    actor_id: str
    name: str | None
    actor_namespace: str
    runtime_namespace: str
    #: restarts before this worker (``was_current_actor_reconstructed()`` inside it)
    restarts: int
    #: the shared-memory threshold and the free segments' retention (``_shm.configure``)
    shared: tuple[int, float]


class Call(NamedTuple):
    """Driver -> worker, per call: run ``method``; a Result answers it unless num_returns=0."""

    call_id: int
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    num_returns: int
    group: str | None
    options: dict[str, Any] | None  # from call_options_dict


class Cancel(NamedTuple):
    """Driver -> worker, on ``actorio.cancel()`` of a sent call: cancel or drop it."""

    call_id: int


class Stop(NamedTuple):
    """Driver -> worker, on ``kill``: run the stop hook and end; ``restart``: not for good."""

    restart: bool


class Result(NamedTuple):
    """Worker -> driver, when a call ends: its value (``ok``) or its error."""

    call_id: int
    ok: bool
    value: Any


class Dead(NamedTuple):
    """Worker -> driver, when the hosted actor is dead (the worker exits next).

    ``why`` is the reason's text without the hosted actor's name, for the driver to restate
    under its own; ``intentional``: the actor is dead for good (killed, exited, could not be
    created), not failed; ``constructor_failed``: its constructor or start hook raised, so it
    ran none of the calls sent to it.
    """

    why: str
    cause: BaseException | None
    intentional: bool
    constructor_failed: bool


class Forward(NamedTuple):
    """Worker -> driver: a call to an actor hosted elsewhere; a Forwarded answers it."""

    forward_id: int
    actor_id: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    num_returns: int
    group: str | None
    options: dict[str, Any] | None


class Watch(NamedTuple):
    """Worker -> driver: monitor an actor hosted elsewhere; a Forwarded answers once it is dead."""

    forward_id: int
    actor_id: str


class Forwarded(NamedTuple):
    """Driver -> worker, answering a Forward or a Watch: the value (``ok``) or the error."""

    forward_id: int
    ok: bool
    value: Any


class Lookup(NamedTuple):
    """Worker -> driver, for ``get_actor()``: the worker blocks until the Reply."""

    request_id: int
    name: str
    namespace: str


class Reply(NamedTuple):
    """Driver -> worker, answering a Lookup: (actor_id, class, name, namespace) or None."""

    request_id: int
    value: Any


class Kill(NamedTuple):
    """Worker -> driver: ``actorio.kill()`` of an actor hosted elsewhere (no reply)."""

    actor_id: str
    restart: bool


class Fetch(NamedTuple):
    """Worker -> driver: send the value of this ref (a Settle, once it is done)."""

    object_id: str


class Settle(NamedTuple):
    """Either way: a ref is done, with its value (``ok``) or its error."""

    object_id: str
    ok: bool
    value: Any


class Release(NamedTuple):
    """Worker -> driver: ``count`` copies of a ref received here are dropped."""

    object_id: str
    copies: int


class Unmapped(NamedTuple):
    """Either way: ``count`` copies of a segment the other side sent are no longer mapped."""

    segment_id: int
    copies: int


class Closed(NamedTuple):
    """Either way: the sender closed a segment; a mapping kept of it can go."""

    segment_id: int


class ReleaseActor(NamedTuple):
    """Driver -> worker: ``count`` copies of a handle to one of its child actors are dropped."""

    actor_id: str
    copies: int


Message = (
    Create
    | Call
    | Cancel
    | Stop
    | Result
    | Dead
    | Forward
    | Watch
    | Forwarded
    | Lookup
    | Reply
    | Kill
    | Fetch
    | Settle
    | Release
    | Unmapped
    | ReleaseActor
    | Closed
)
#: What a worker asks of the driver for its handles to actors hosted elsewhere.
Request = Forward | Watch | Lookup | Kill

# A kind's number is its index here; both ends import this module from the same install.
_KINDS: tuple[type[Message], ...] = (
    Call,
    Result,
    Cancel,
    Create,
    Stop,
    Dead,
    Forward,
    Watch,
    Forwarded,
    Lookup,
    Reply,
    Kill,
    Fetch,
    Settle,
    Release,
    Unmapped,
    ReleaseActor,
    Closed,
)
_NUMBERS: dict[type[Message], int] = {kind: number for number, kind in enumerate(_KINDS)}


def pack(message: Message) -> tuple[Any, ...]:
    """``message`` as a plain tuple, its kind's number first, for pickling."""
    return (_NUMBERS[type(message)], *message)


def unpack(raw: tuple[Any, ...]) -> Message:
    """The message that :func:`pack` made ``raw`` from."""
    # tuple.__new__, not _make: the same tuple, without _make's frame and length check.
    message: Message = tuple.__new__(_KINDS[raw[0]], raw[1:])
    return message
