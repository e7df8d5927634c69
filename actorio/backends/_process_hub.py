"""The driver acting for a worker process on the driver's registry: the calls, watches,
look-ups and kills that the worker's handles to actors hosted elsewhere ask for.

The driver is the hub: workers never talk to each other, so one registry names every actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._options import CallOptions
from .._portable import portable
from ..exceptions import ActorDiedError
from ._messages import Forward, Forwarded, Kill, Lookup, Message, Reply, Request, Watch

__all__ = ["serve"]


def serve(request: Request, reply: Callable[[Message], None]) -> None:
    """Act on one request of a worker, answering it through ``reply``. Called on the worker's
    reader thread, in order, so its calls reach their actors in the order it made them."""
    from .._runtime import get_runtime

    rt = get_runtime()
    match request:
        case Forward(forward_id, actor_id, name, args, kwargs, num_returns, group, options):
            target: Any = rt.registry.actors.get(actor_id)
            try:
                if target is None:
                    raise ActorDiedError(f"actor {actor_id} is not alive")
                method = target.spec.methods[name]
                opts = CallOptions(**options) if options else None
                # One value back (a tuple when num_returns > 1: the worker's refs split it).
                ref = target.submit(method, args, kwargs, min(num_returns, 1), group, opts)
            except Exception as exc:
                reply(Forwarded(forward_id, False, exc))
                return
            if ref is not None:
                ref.future().add_done_callback(lambda cf: _forwarded(reply, forward_id, cf))
        case Watch(forward_id, actor_id):
            target = rt.registry.actors.get(actor_id)
            if target is None:  # already gone: say so at once
                why = "it is not alive (it died, or never existed here)"
                reply(
                    Forwarded(forward_id, True, ActorDiedError(f"actor {actor_id} is dead: {why}."))
                )
            else:
                target.monitor().future().add_done_callback(
                    lambda cf: _forwarded(reply, forward_id, cf)
                )
        case Lookup(request_id, name, namespace):
            actor = rt.registry.lookup(namespace, name)
            found = None
            if actor is not None:
                found = (actor.actor_id, portable(actor.spec.cls), actor.name, actor.namespace)
            reply(Reply(request_id, found))
        case Kill(actor_id, restart):
            target = rt.registry.actors.get(actor_id)
            if target is not None:
                why = "killed from a worker process"
                target.kill(ActorDiedError(f"The {target.describe()} is dead: {why}."), restart)


def _forwarded(reply: Callable[[Message], None], forward_id: int, cf: Any) -> None:
    exc = cf.exception()
    if exc is not None:
        reply(Forwarded(forward_id, False, exc))
    else:
        reply(Forwarded(forward_id, True, cf.result()))
