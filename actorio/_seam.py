"""The contract between the core and its backends: what an actor core and a backend provide.

The core (handles, registry, runtime, API) holds actors only through :class:`ActorCore` and
loads backends only as :class:`Backend`, by name (``actorio.backends.get_backend``), so mypy
checks every backend against these members and the core never imports a backend module.
Abilities that only some backends have are members too, with a neutral answer where a
backend lacks them (``reduce_handle`` and ``open_stream`` return None, ``lookup`` finds
nothing), so the core asks instead of probing with ``hasattr``.

This module imports nothing from actorio at run time: every layer may import it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._options import ActorOptions, Mode
    from ._ref import ObjectRef
    from ._spec import ClassSpec, FunctionSpec, MethodSpec
    from ._stats import ActorState
    from .exceptions import ActorDiedError

__all__ = [
    "STOP_HOOK",
    "STOP_HOOK_TIMEOUT_S",
    "START_HOOK",
    "ActorCore",
    "ActorDirectory",
    "ActorExit",
    "Backend",
    "Hosted",
    "Reducer",
    "StreamSource",
    "Supervising",
]

#: The lifecycle hooks a user class may define (docs/lifecycle.md).
START_HOOK = "__actorio_start__"
STOP_HOOK = "__actorio_stop__"
#: Seconds an async ``__actorio_stop__`` hook may take before actorio stops waiting for it.
STOP_HOOK_TIMEOUT_S = 10.0


class ActorExit(BaseException):
    """Raised by ``actorio.exit_actor()`` inside a method; every backend ends the actor on
    it. A BaseException, so the user's ``except Exception`` lets it by."""


#: How a handle travels when its backend has a way of its own (Ray's handle): a function and
#: its arguments, as in ``__reduce__``; calling it in the receiving process gives the core.
Reducer = tuple[Callable[..., "ActorCore"], tuple[Any, ...]]


class StreamSource(Protocol):
    """Where the steps of one streaming call come from (``ObjectRefGenerator`` reads it)."""

    def opened(self) -> ObjectRef[Any] | None:
        """A ref to await before the first step (its value: ``"pull"`` or ``"push"``), or
        None when the stream is open already."""
        ...

    def next_ref(self) -> ObjectRef[Any]:
        """Start the next step; its ref completes with ``(True, item)`` or ``(False, None)``."""
        ...

    def close(self) -> None:
        """Stop the producer (its generator's ``finally`` runs)."""
        ...


class Supervising(Protocol):
    """What a core asks its supervisor (``actorio.Supervisor``) when it fails."""

    def child_failed(self, child: ActorCore, err: ActorDiedError) -> bool:
        """True: restart the child; False: let it die."""
        ...


class ActorCore(Protocol):
    """One actor as the core sees it, whichever backend hosts it."""

    actor_id: str
    name: str | None
    namespace: str
    spec: ClassSpec
    options: ActorOptions
    mode: Mode
    #: the loop the actor's refs and callbacks belong to (its host loop in-process)
    loop: asyncio.AbstractEventLoop
    #: set by a Supervisor, which then decides the restarts instead of ``max_restarts``
    supervisor: Supervising | None

    @property
    def alive(self) -> bool:
        """False once the actor is dead for good."""
        ...

    @property
    def supervisable(self) -> bool:
        """False where the backend restarts actors itself (Ray) and gives no death notice."""
        ...

    @property
    def outlives_runtime(self) -> bool:
        """True for an actor that keeps running after this process's runtime ends (a
        detached actor on a cluster): shutdown leaves it alone."""
        ...

    def describe(self) -> str:
        """A short description for error messages: class, id, name."""
        ...

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Run the constructor (asynchronously); calls queue behind it."""
        ...

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Callable[..., Any]:
        """``handle.method.remote``: a closure that checks the arguments and queues a call."""
        ...

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
        options: Any = None,
    ) -> Any:
        """Queue one call; its ref, a list of refs (``num_returns > 1``) or None (0)."""
        ...

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        """Kill the actor now (calls fail with ``err``), or restart it (``restart``: if
        ``max_restarts`` or its supervisor allows; ``forced``: a supervisor's order)."""
        ...

    def monitor(self) -> ObjectRef[ActorDiedError]:
        """A ref completing with the ``ActorDiedError`` once the actor is dead for good."""
        ...

    def room(self) -> ObjectRef[None]:
        """A ref completing once the mailbox may have room (``max_pending_calls``)."""
        ...

    def pending_calls(self) -> int:
        """Calls accepted and not finished."""
        ...

    def begin_stop(self) -> concurrent.futures.Future[None]:
        """Refuse new calls; the future completes once the accepted ones are done."""
        ...

    def snapshot(self) -> ActorState:
        """What the state API reports (any thread, no message to the actor)."""
        ...

    def reduce_handle(self) -> Reducer | None:
        """How a handle to this actor pickles, when not by id (the default: None)."""
        ...

    def open_stream(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        group: str | None,
        window: int,
    ) -> StreamSource | None:
        """A streaming call of the backend's own (Ray's); None: actorio's open/next/close
        calls through ``submit``."""
        ...


@dataclass(frozen=True, slots=True)
class Hosted:
    """The actor that a backend runs this very code in, outside actorio's own cores (a
    method of an actor that Ray hosts in this worker process)."""

    actor_id: str
    name: str | None
    #: whether this instance replaced one that died (Ray restarted it)
    reconstructed: bool
    #: its core, for ``get_runtime_context().current_actor``
    core: Callable[[], ActorCore]
    #: ends it, as ``exit_actor()`` inside it does
    exit: Callable[[], None]


class ActorDirectory(Protocol):
    """Where a process finds actors it does not host (in a worker process: the driver)."""

    def lookup(self, name: str, namespace: str) -> ActorCore | None:
        """The named actor, or None."""
        ...

    def proxy(self, actor_id: str, cls: type, name: str | None, namespace: str) -> ActorCore:
        """A core forwarding to the actor with this id (an unpickled handle)."""
        ...


class Backend(Protocol):
    """Where actors live and tasks run: ``local``, ``process`` or ``ray``."""

    name: str

    def create_actor(
        self,
        actor_id: str,
        spec: ClassSpec,
        options: ActorOptions,
        mode: Mode,
        limit: int,
        loop: asyncio.AbstractEventLoop,
        namespace: str,
        on_death: Callable[[ActorCore], None],
    ) -> ActorCore:
        """A new actor core (not started: the caller registers it, then calls ``start``)."""
        ...

    def submit_task(
        self,
        spec: FunctionSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
        host: asyncio.AbstractEventLoop,
        pool: concurrent.futures.Executor,
    ) -> Any:
        """Start a remote function; its ref (or refs, or None), as for ``submit``."""
        ...

    def tasks_finished(self) -> concurrent.futures.Future[None]:
        """A future done once every remote function accepted so far has finished (shutdown
        waits on it before it stops the actors, which those functions may still call)."""
        ...

    def lookup(self, name: str, namespace: str) -> ActorCore | None:
        """A named actor this backend hosts that this process has not registered (made by
        another process of a cluster); None if there is none, or nothing to ask."""
        ...

    def hosted(self) -> Hosted | None:
        """The actor this backend runs the calling code in, if it does (see :class:`Hosted`)."""
        ...

    def node_id(self) -> str | None:
        """The id of the machine as this backend's cluster names it; None: not on one."""
        ...

    def progress_bar(self, options: dict[str, Any]) -> Any | None:
        """A progress bar that the backend's cluster draws, for code it runs (Ray's
        ``tqdm_ray`` in a Ray worker); None: actorio draws it (``experimental.tqdm_ray``)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (at shutdown, after every actor died)."""
        ...
