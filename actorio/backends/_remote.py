"""Actors that live in another process, as seen from inside a worker process.

A handle that reaches a worker (passed to a method or a task, or found with ``get_actor``)
points at an actor the worker does not host. Its calls go to the driver over the worker's
channel; the driver forwards them to the actor wherever it lives (in the driver, or in
another worker) and sends the result back. The driver is the hub: workers never talk to each
other, so one registry (the driver's) names every actor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .._mailbox import make_refs
from .._options import ActorOptions
from .._ref import ObjectRef, new_ref
from .._seam import ActorCore
from .._spec import ClassSpec, MethodSpec
from .._stats import ActorState, make_state
from ..exceptions import ActorDiedError, InvalidOptionsError
from ._base import CoreBase, checked_remote
from ._messages import Forward, Kill, Message, Watch

__all__ = ["Channel", "RemoteActor", "call_options_dict"]

_running_loop = asyncio._get_running_loop


class Channel(Protocol):
    """What a worker offers its remote actors: messages to the driver, and numbers for the
    ones it answers."""

    loop: asyncio.AbstractEventLoop

    def new_id(self) -> int: ...

    def forward(self, message: Forward | Watch, ref: Any, what: str) -> None: ...

    def send(self, message: Message) -> None: ...


def call_options_dict(options: Any) -> dict[str, Any] | None:
    """The per-call options worth sending to another process (None when there are none)."""
    if options is None:
        return None
    values = {
        "timeout": options.timeout,
        "max_task_retries": options.max_task_retries,
        "retry_exceptions": options.retry_exceptions,
    }
    return {k: v for k, v in values.items() if v is not None} or None


class RemoteActor(CoreBase):
    """The ``ActorCore`` of a handle whose actor lives in another process. Only the driver
    knows how that actor is doing: what this side cannot know, it does not pretend to.

    In the driver, the same stands for a child actor that a worker created and sent a handle
    to: its channel is then that worker's process actor (``received`` counts the copies)."""

    #: in the driver, the copies of the child's handle received from its worker
    received: list[int] | None = None

    def __init__(
        self, channel: Channel, actor_id: str, cls: type, name: str | None, namespace: str
    ) -> None:
        spec = ClassSpec.of(cls)
        options = ActorOptions(name=name)
        mode, _ = options.resolve_mode(spec)
        self.init_core(
            actor_id, spec, options, mode, channel.loop, namespace, _ignore, threading.Lock()
        )
        self.channel = channel

    @property
    def alive(self) -> bool:
        return True  # only the driver knows; a call to a dead actor fails with ActorDiedError

    def where(self) -> str:
        return ", in another process"

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        raise AssertionError("a remote actor was started where it is hosted")

    def bind(
        self, method: MethodSpec, num_returns: int, group: str | None, options: Any = None
    ) -> Callable[..., Any]:
        return checked_remote(self, method, num_returns, group, options)

    def submit(
        self,
        method: MethodSpec,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        num_returns: int,
        group: str | None,
        options: Any = None,
    ) -> Any:
        ref = make_refs(_running_loop(), self.loop, num_returns)
        message = Forward(
            self.channel.new_id(),
            self.actor_id,
            method.name,
            args,
            kwargs,
            num_returns,
            group,
            call_options_dict(options or method.options),
        )
        self.channel.forward(message, ref, f"{self.spec.name}.{method.name}")
        return ref

    def kill(self, err: ActorDiedError, restart: bool = False, forced: bool = False) -> None:
        self.channel.send(Kill(self.actor_id, restart))

    def monitor(self) -> ObjectRef[ActorDiedError]:
        """Completes when the driver's monitor of the actor does (same value)."""
        ref: ObjectRef[ActorDiedError] = make_refs(_running_loop(), self.loop, 1)
        watch = Watch(self.channel.new_id(), self.actor_id)
        self.channel.forward(watch, ref, f"monitor of {self.describe()}")
        return ref

    def room(self) -> ObjectRef[None]:
        """At once: a full mailbox is the driver's to report (the call's ref fails)."""
        ref: ObjectRef[None] = new_ref(_running_loop(), self.loop)
        ref.set_result(None)
        return ref

    def pending_calls(self) -> int:
        raise InvalidOptionsError("pending_calls() is only known where the actor is hosted")

    def begin_stop(self) -> concurrent.futures.Future[None]:
        """Done at once: stopping the actor is up to the process that hosts it."""
        cf: concurrent.futures.Future[None] = concurrent.futures.Future()
        cf.set_result(None)
        return cf

    def snapshot(self) -> ActorState:
        return make_state(self, "remote", "ALIVE", 0, 0, 0, 0, self.stats)


def _ignore(actor: ActorCore) -> None:
    """A remote actor's death is told where it is hosted, not here."""
