"""What a process actor settles for its worker beyond calls: the refs the worker promised
(made there, not done when sent), and the calls made through the driver's proxies of the
worker's child actors (the process actor is their channel: see :mod:`._remote`)."""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from .._mailbox import complete, fail
from ..exceptions import ActorDiedError
from . import _shm
from ._messages import Forward, Forwarded, Message, ReleaseActor, Watch

__all__ = ["ChildChannel"]


class ChildChannel:
    """Mixed into ``ProcessActor``: the channel of its worker's children, and its promises."""

    def init_channel(self) -> None:
        #: refs the worker made and sent before they were done, by id (see _objects)
        self.promises: dict[str, weakref.ref[Any]] = {}
        #: calls and watches of the worker's child actors, made through their driver proxies
        self.forwards: dict[int, tuple[Any, str]] = {}
        self.ids = itertools.count(1)

    def send_control(self, message: Message, link: Any = None) -> None:
        raise NotImplementedError

    def new_id(self) -> int:
        return next(self.ids)

    def forward(self, message: Forward | Watch, ref: Any, what: str) -> None:
        if ref is not None:
            self.forwards[message.forward_id] = (ref, what)
        self.send_control(message)

    def send(self, message: Message) -> None:
        self.send_control(message)

    def forwarded(self, message: Forwarded) -> None:
        """The worker answered a call (or watch) of one of its children (reader thread)."""
        forward_id, ok, value = message
        ref, what = self.forwards.pop(forward_id, (None, ""))
        if ok:
            complete(ref, value, None, what)  # type: ignore[arg-type]
        else:
            fail(ref, value, None)

    def release_actor(self, actor_id: str, received: list[int]) -> None:
        """The driver dropped its proxy of a child actor of the worker (maybe inside the
        garbage collector, with the send lock held: the note is sent from another thread)."""
        _shm.note(self.send_control, ReleaseActor(actor_id, received[0]))

    def fail_held(self, reason: ActorDiedError) -> None:
        """The worker is gone: what only it could settle fails with its death."""
        promised, self.promises = self.promises, {}
        forwarded, self.forwards = self.forwards, {}
        for held in promised.values():
            ref = held()
            if ref is not None:
                fail(ref, reason, None)
        for ref, _ in forwarded.values():
            fail(ref, reason, None)
