"""What running code can learn about where it runs: Ray's ``get_runtime_context()``.

Inside an actor that actorio hosts, the actor comes from the context (``current_core``);
inside an actor that a backend hosts on its own (a Ray actor's method in a Ray worker), the
backend answers through ``Backend.hosted``.
"""

from __future__ import annotations

import socket
from typing import Any

from ._context import current_core
from ._handle import ActorHandle, handle_for
from ._runtime import get_runtime
from ._weak_handle import weak_handle
from .exceptions import NotInActorError

__all__ = ["NodeID", "RuntimeContext", "get_runtime_context"]


class NodeID(str):
    """A node id: the string ``get_node_id()`` returns, with Ray's ``.hex()`` of its
    ``node_id`` (the same string)."""

    __slots__ = ()

    def hex(self) -> str:
        """The id as a plain string (it is one already)."""
        return str(self)


class RuntimeContext:
    """What the running code can learn about where it runs (Ray's ``get_runtime_context()``)."""

    @property
    def namespace(self) -> str:
        """The namespace new named actors go to and ``get_actor`` looks in."""
        return get_runtime().namespace

    def get_actor_id(self) -> str | None:
        """The current actor's id, or None outside an actor."""
        actor = current_core()
        if actor is not None:
            return actor.actor_id
        hosted = get_runtime().hosted()
        return None if hosted is None else hosted.actor_id

    def get_node_id(self) -> str:
        """The id of the machine running this code: its cluster's node id where a backend
        runs on one (Ray's, on the Ray backend's workers and drivers), else a stable id of
        this host."""
        for backend in get_runtime().engaged_backends():
            node = backend.node_id()
            if node is not None:
                return node
        return f"local-{socket.gethostname()}"

    @property
    def node_id(self) -> NodeID:
        """Ray's older spelling of ``get_node_id()`` (``.node_id.hex()`` works too)."""
        return NodeID(self.get_node_id())

    def get_actor_name(self) -> str | None:
        """The current actor's name, or None (outside an actor, or an anonymous one)."""
        actor = current_core()
        if actor is not None:
            return actor.name
        hosted = get_runtime().hosted()
        return None if hosted is None else hosted.name

    @property
    def current_actor(self) -> ActorHandle[Any]:
        """A handle to the current actor (raises ``NotInActorError`` outside an actor); like
        a handle from ``get_actor``, it does not keep the actor alive (as in Ray)."""
        actor = current_core()
        if actor is not None:
            return weak_handle(actor)
        hosted = get_runtime().hosted()
        if hosted is None:
            raise NotInActorError("get_runtime_context().current_actor is only set in an actor")
        return handle_for(hosted.core())  # Ray's own handle, which Ray holds weakly

    def was_current_actor_reconstructed(self) -> bool:
        """True in an actor that was restarted at least once (``max_restarts``, a supervisor,
        ``kill(no_restart=False)``); False outside an actor."""
        actor = current_core()
        if actor is not None:
            return actor.snapshot().restarts > 0
        hosted = get_runtime().hosted()
        return hosted is not None and hosted.reconstructed


def get_runtime_context() -> RuntimeContext:
    """What the running code can learn about where it runs: actor id, handle, namespace."""
    return RuntimeContext()
