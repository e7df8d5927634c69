"""The state API (Ray's ``ray.util.state`` names): what every actor of this process is doing.

Snapshots are taken on the spot from counters the actors keep anyway, from any thread or
loop, without messages to the actors, so a busy or blocked actor is still reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .._handle import ActorHandle
from .._runtime import get_runtime
from .._stats import ActorState
from ..exceptions import InvalidArgumentsError

__all__ = ["ActorState", "get_actor", "list_actors"]

_FILTER_KEYS = ("actor_id", "class_name", "name", "namespace", "backend", "mode", "state")


def list_actors(
    address: str | None = None,
    filters: Iterable[tuple[str, str, Any]] | None = None,
    limit: int = 100,
    *,
    state: str | None = None,
    class_name: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
    detail: bool = False,
    **_ray_only: Any,
) -> list[ActorState]:
    """Actors known to this process (live ones, and the latest dead ones), oldest first.

    Filter with keywords (``state="ALIVE"``, ``class_name="Counter"``) or Ray's form,
    ``filters=[("state", "=", "ALIVE"), ("name", "!=", "x")]``; at most ``limit`` results.
    ``address`` and Ray's other options are accepted for compatibility and ignored: the state
    of this process is local. ``detail`` is accepted too: every field is always filled in.
    """
    del address, detail
    wanted = [(k, "=", v) for k, v in _keywords(state, class_name, name, namespace)]
    for f in filters or ():
        if len(f) != 3 or f[0] not in _FILTER_KEYS or f[1] not in ("=", "!="):
            raise InvalidArgumentsError(
                f"bad filter {f!r}: use (key, '=' or '!=', value) with key one of "
                f"{', '.join(_FILTER_KEYS)}"
            )
        wanted.append(f)
    result = []
    for snap in _snapshots():
        if all((str(getattr(snap, k)) == str(v)) == (op == "=") for k, op, v in wanted):
            result.append(snap)
            if len(result) >= limit:
                break
    return result


def get_actor(actor: Any, address: str | None = None, **_ray_only: Any) -> ActorState | None:
    """One actor's state, by handle or by id (the ``actor_id`` of a listed state); None if
    this process does not know it (anymore)."""
    del address
    actor_id = actor._actorio_id if isinstance(actor, ActorHandle) else actor
    if not isinstance(actor_id, str):
        raise InvalidArgumentsError(
            f"get_actor() takes an actor id (str) or an actor handle, not {type(actor).__name__}"
        )
    for snap in _snapshots():
        if snap.actor_id == actor_id:
            return snap
    return None


def _keywords(*values: str | None) -> list[tuple[str, str]]:
    keys = ("state", "class_name", "name", "namespace")
    return [(k, v) for k, v in zip(keys, values, strict=True) if v is not None]


def _snapshots() -> list[ActorState]:
    registry = get_runtime().registry
    cores = {a.actor_id: a for a in list(registry.dead)}
    cores.update((a.actor_id, a) for a in list(registry.actors.values()))
    return [core.snapshot() for _, core in sorted(cores.items())]
