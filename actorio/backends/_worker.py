"""The worker process behind a process actor:
``python -m actorio.backends._worker PARENT_PID FD DESCRIPTORS_FD``.

A worker is an ordinary actorio program that hosts one in-process actor on its own event loop
(uvloop when installed), so the three concurrency modes, concurrency groups, hooks, cancel and
timeouts behave exactly as in-process. It talks to the driver over the inherited socket FD and
never outlives it: Linux kills it when the driver dies (PR_SET_PDEATHSIG), and it exits when
the socket reaches end-of-file, whichever comes first. The socket is read with ``add_reader``
(no stream objects in between) and replies are sent directly. The messages both ways are
listed in :mod:`._messages`.
"""

from __future__ import annotations

import asyncio
import ctypes
import itertools
import os
import select
import signal
import socket
import sys
import threading
from typing import Any

from .._actor import number_ids_from
from .._mailbox import complete, fail
from .._options import CallOptions
from .._ref import ObjectRef
from .._seam import START_HOOK
from ..exceptions import ActorDiedError, SerializationError, TaskError
from . import _objects, _shm, _wire
from ._messages import (
    Call,
    Cancel,
    Closed,
    Create,
    Dead,
    Forward,
    Forwarded,
    Kill,
    Lookup,
    Message,
    ReleaseActor,
    Reply,
    Result,
    Settle,
    Stop,
    Unmapped,
    Watch,
)
from ._process_hub import serve
from ._remote import RemoteActor

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
    """Serves one actor for the driver at the other end of ``sock``; also the channel its
    handles to actors elsewhere use (see :mod:`._remote`)."""

    def __init__(
        self, sock: socket.socket, descriptors: socket.socket, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.sock = sock
        self.descriptors = descriptors
        self.loop = loop
        self.frames = _wire.Frames(descriptors)
        self.stash: list[Message] = []  # frames read while waiting for a reply, in order
        self.handle: Any = None
        self.calls: dict[int, Any] = {}
        self.forwards: dict[int, tuple[Any, str]] = {}
        self.replies: dict[int, Any] = {}
        self.waiters: dict[int, threading.Event] = {}
        self.ids = itertools.count(1)
        self.send_lock = threading.Lock()
        self.done = asyncio.Event()
        self.loop_thread = 0
        #: the driver stopped the actor to restart it: its death is a failure, not an end
        self.restarting = False
        #: the driver's segments, mapped here
        self.mappings = _shm.Mappings(lambda segment_id, n: self.send(Unmapped(segment_id, n)))
        self.side = _objects.WorkerSide(self)

    # -- the channel ----------------------------------------------------------------------------

    def send(self, message: Message) -> None:
        try:
            frame = _wire.dumps(message)
        except SerializationError as exc:  # too large for shared memory: say so
            if not isinstance(message, Result):
                raise
            frame = _wire.dumps(Result(message.call_id, False, exc))
        except Exception:
            if not isinstance(message, Result):
                raise
            call_id, _, value = message
            err = _wire.unpicklable(f"the result of call {call_id}", {"value": value})
            frame = _wire.dumps(Result(call_id, False, err or _plain(value)))
        try:
            # A blocking send, from any thread: frames are small and the driver reads them at
            # once; it saves the loop a transport and a wake-up per reply.
            with self.send_lock:
                _wire.send_frame(self.sock, self.descriptors, frame, self)
        except OSError:
            self.loop.call_soon_threadsafe(self.done.set)  # the driver is gone: so are we

    def tell(self, message: Message) -> None:
        """A note about shared memory for the driver (its one peer)."""
        self.send(message)

    def new_id(self) -> int:
        """A number for a Forward, Watch or Lookup, which its answer carries back."""
        return next(self.ids)

    def forward(self, message: Forward | Watch, ref: Any, what: str) -> None:
        """A call to (or a watch of) an actor elsewhere: the driver acts on it and sends back
        the outcome (a Forwarded)."""
        if ref is not None:
            self.forwards[message.forward_id] = (ref, what)
        self.send(message)

    def request(self, message: Lookup) -> Any:
        """Ask the driver and wait for its Reply (it answers at once, from its reader)."""
        request_id = message.request_id
        if threading.get_ident() != self.loop_thread:
            event = self.waiters[request_id] = threading.Event()
            self.send(message)
            event.wait()
        else:  # on the loop: read the socket here, keeping other frames for later, in order
            self.send(message)
            while request_id not in self.replies:
                select.select([self.sock], [], [])
                if not _wire.receive(self.sock, self.frames):
                    raise ActorDiedError("the driver process is gone")
                while (frame := self._next_frame()) is not None:
                    if isinstance(frame, Reply):
                        self._reply(frame)
                    else:
                        self.stash.append(frame)
            if self.stash:
                self.loop.call_soon(self.pump)
        return self.replies.pop(request_id)

    def _reply(self, message: Reply) -> None:
        request_id, value = message
        self.replies[request_id] = value
        event = self.waiters.pop(request_id, None)
        if event is not None:
            event.set()

    # -- reading --------------------------------------------------------------------------------

    def readable(self) -> None:
        """The socket has data: one recv (it cannot block now), then every whole frame."""
        if not _wire.receive(self.sock, self.frames):
            self.done.set()  # the driver is gone: so are we
            return
        self.pump()

    def pump(self) -> None:
        while True:
            try:
                message = self.stash.pop(0) if self.stash else self._next_frame()
            except Exception:
                # A frame we cannot read (its descriptors lost, say) would leave its call
                # unanswered: end instead, so the driver fails (or retries) what we held.
                self.done.set()
                return
            if message is None:
                return
            self.dispatch(message)

    def _next_frame(self) -> Message | None:
        payload = self.frames.pop()
        return None if payload is None else _wire.loads(payload, self)

    def dispatch(self, message: Message) -> None:
        import actorio

        match message:
            case Call():
                self.call(message)
            case Forwarded(forward_id, ok, value):
                ref, what = self.forwards.pop(forward_id, (None, ""))
                if ref is not None:
                    (complete if ok else fail)(ref, value, self.loop, *([what] if ok else []))
            case Reply():
                self._reply(message)
            case Cancel(call_id):
                ref = self.calls.get(call_id)
                if ref is not None:
                    actorio.cancel(ref)
            case Settle(object_id, ok, value):
                self.side.settle(object_id, ok, value)
            case Unmapped(segment_id, count):
                _shm.POOL.unmapped(segment_id, self, count)
            case Closed(segment_id):
                self.mappings.closed(segment_id)
            case ReleaseActor(actor_id, count):
                self.side.unexport(actor_id, count)
            case Forward() | Watch() | Kill():
                serve(message, self.send)  # a call from the driver to a child actor of ours
            case Create():
                self.create(message)
            case Stop(restart):
                # The stop hook runs here; a restart is then the driver's job (a new worker).
                self.restarting = restart
                if self.handle is not None:
                    actorio.kill(self.handle)

    def call(self, message: Call) -> None:
        call_id, name, args, kwargs, num_returns, group, options = message
        if self.handle is None:
            return  # the actor could not be created: the driver fails the call on Dead
        core = self.handle._actorio_actor
        # A call without a result (num_returns=0) is answered too, with None: the driver
        # counts it as pending until then (graceful stop waits for it).
        ref = _ReplyRef(self, call_id, quiet=num_returns == 0)
        try:
            method = core.spec.methods[name]
            opts = CallOptions(**options) if options else None
            # Straight into the hosted actor's mailbox (the driver checked the arguments):
            # the ref sends the outcome the moment it is set.
            core.enqueue(method, args, kwargs, ref, group, opts, (), self.loop)
        except Exception as exc:
            self.send(Result(call_id, False, exc))
            return
        if not ref.done():
            self.calls[call_id] = ref

    def create(self, message: Create) -> None:
        import actorio
        from actorio._runtime import get_runtime

        (
            cls,
            options,
            args,
            kwargs,
            actor_id,
            name,
            actor_namespace,
            runtime_namespace,
            restarts,
            shared,
        ) = message
        _shm.configure(*shared)
        rt = get_runtime()
        # The driver's namespace, as for in-process actors: get_actor() without a namespace
        # and actors created in here use it, whatever namespace this actor's name is in.
        rt.namespace = runtime_namespace
        try:
            # The options go with the decoration: the mode check there needs the groups.
            self.handle = actorio.remote(**options)(cls).remote(*args, **kwargs)
        except Exception as exc:  # bad options or arguments: no point in restarting
            self.send(Dead(f"it could not be created: {exc}", exc, True, False))
            self.done.set()
            return
        # The hosted actor answers to the driver's id, so handles to it that travel (to the
        # driver, to other workers, back here) all mean the same actor.
        core = self.handle._actorio_actor
        rt.registry.actors.pop(core.actor_id)
        core.actor_id = actor_id
        # Its name, for get_runtime_context() and messages; only the driver's registry maps
        # names to actors, so it is not registered here.
        core.name = name
        core.namespace = actor_namespace
        core.restart_count = restarts  # (its constructor has not run yet: it runs on the loop)
        rt.registry.add(core)
        actorio.monitor(self.handle).add_done_callback(self.actor_ended)

    def finished(self, call_id: int, ok: bool, value: Any) -> None:
        self.calls.pop(call_id, None)
        if self.mappings.maps:
            self.mappings.check()  # (a call's arguments may be gone already)
        self.send(Result(call_id, ok, value))
        if self.mappings.maps:
            # Once the call has let go of its arguments, the driver may reuse their pages.
            self.loop.call_soon_threadsafe(self.mappings.check)

    def actor_ended(self, monitor: asyncio.Future[Any]) -> None:
        reason: ActorDiedError = monitor.result()
        core = self.handle._actorio_actor
        failed = _constructor_failed(reason, core.spec.name)
        intentional = not self.restarting and not failed
        why = reason.why or str(reason.args[0])
        try:
            self.send(Dead(why, reason.cause, intentional, failed))
        except Exception:  # its cause cannot be pickled: the driver's reason goes without
            self.send(Dead(why, None, intentional, failed))
        self.done.set()

    # -- what the runtime asks about actors it does not host ------------------------------------

    def proxy(self, actor_id: str, cls: type, name: str | None, namespace: str) -> Any:
        return RemoteActor(self, actor_id, cls, name, namespace)

    def hosted_core(self) -> Any:
        """The core of the actor this worker hosts for the driver (None until created)."""
        return None if self.handle is None else self.handle._actorio_actor

    def lookup(self, name: str, namespace: str) -> Any:
        found = self.request(Lookup(self.new_id(), name, namespace))
        return None if found is None else self.proxy(*found)


class _ReplyRef(ObjectRef[Any]):
    """The ref of a call from the driver: setting its outcome sends it back right away, with
    no done-callback and loop iteration in between. A cancelled call sends nothing (the
    driver settled it when it asked for the cancel)."""

    __slots__ = ("call_id", "quiet", "worker")

    def __init__(self, worker: Worker, call_id: int, quiet: bool) -> None:
        super().__init__(loop=worker.loop)
        self.worker = worker
        self.call_id = call_id
        self.quiet = quiet  # num_returns=0: say that it finished, not what it returned

    def set_result(self, result: Any, /) -> None:
        super().set_result(result)
        self.worker.finished(self.call_id, True, None if self.quiet else result)

    def set_exception(self, exception: type | BaseException, /) -> None:
        super().set_exception(exception)
        self.worker.finished(self.call_id, False, exception)


def _constructor_failed(reason: ActorDiedError, cls_name: str) -> bool:
    """Whether the actor died while being built: its constructor or start hook raised (the
    local backend's reason then has the hook's TaskError as its cause)."""
    cause = reason.cause
    hooks = (f"{cls_name}.__init__", f"{cls_name}.{START_HOOK}")
    return isinstance(cause, TaskError) and cause.function_name in hooks


def _plain(exc: BaseException) -> Exception:
    """A picklable stand-in for an error whose own pickling failed."""
    return RuntimeError(f"{type(exc).__name__}: {exc}")


async def _main(fd: int, descriptors_fd: int) -> None:
    from actorio._runtime import get_runtime

    sock = socket.socket(fileno=fd)
    descriptors = socket.socket(fileno=descriptors_fd)
    loop = asyncio.get_running_loop()
    worker = Worker(sock, descriptors, loop)
    worker.loop_thread = threading.get_ident()
    get_runtime().directory = worker
    _objects.install(worker.side)
    _shm.start_notes()
    number_ids_from((os.getpid() << 40) + 1)  # the driver's own ids stay far below
    loop.add_reader(fd, worker.readable)
    # Blocking, whatever the loop did to the descriptor: sends may come from any thread and
    # must not fail half-way with EAGAIN when the socket buffer is full.
    sock.setblocking(True)
    await worker.done.wait()
    loop.remove_reader(fd)
    sock.close()
    descriptors.close()


def main() -> None:
    parent, fd, descriptors_fd = map(int, sys.argv[1:4])
    _die_with_parent(parent)
    import actorio

    # One actor here, hosted here: it may block its own loop, and it never spawns a worker.
    actorio.init(backend="local", shutdown_timeout_s=0, blocking_warning_s=0)
    actorio.run(_main(fd, descriptors_fd))
    actorio.shutdown(timeout=0)
    os._exit(0)


if __name__ == "__main__":
    main()
