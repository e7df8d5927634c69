"""Named actors, by (namespace, name), and every live actor by id.

One lock makes get-or-create atomic: the name is claimed in the same critical section that
creates the actor, so two racing ``get_if_exists=True`` creations get the same actor.

What keeps an actor alive is its handles, as in Ray: every actor is held here weakly, so an
actor, named or not, is released once the last handle that counts is gone and no call is
pending (handles from ``get_actor`` do not count: :mod:`._weak_handle`). A detached actor
(``lifetime="detached"``) is held by its name until it is killed or the runtime shuts down.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable

from ._seam import ActorCore
from .exceptions import ActorNameTakenError

__all__ = ["Registry", "WeakActors"]


class WeakActors:
    """Actors by id, held weakly, for the state API and for finding an actor by id.

    Not a ``WeakValueDictionary``: that makes one keyed weakref (88 B) per actor, while a
    plain ``weakref.ref`` is shared with the one each actor's context holds already. Dead
    entries are swept when the dict has doubled since the last sweep (amortised O(1)).
    """

    __slots__ = ("_refs", "_sweep_at")

    def __init__(self) -> None:
        self._refs: dict[str, weakref.ref[ActorCore]] = {}
        self._sweep_at = 1024

    def __setitem__(self, actor_id: str, actor: ActorCore) -> None:
        refs = self._refs
        if len(refs) >= self._sweep_at:
            for key, ref in list(refs.items()):
                if ref() is None and refs.get(key) is ref:
                    del refs[key]
            self._sweep_at = max(1024, 2 * len(refs))
        refs[actor_id] = weakref.ref(actor)

    def get(self, actor_id: str) -> ActorCore | None:
        ref = self._refs.get(actor_id)
        return None if ref is None else ref()

    def pop(self, actor_id: str) -> ActorCore | None:
        ref = self._refs.pop(actor_id, None)
        return None if ref is None else ref()

    def values(self) -> list[ActorCore]:
        return [a for ref in list(self._refs.values()) if (a := ref()) is not None]

    def clear(self) -> None:
        self._refs.clear()


def _entry(actor: ActorCore) -> ActorCore | weakref.ref[ActorCore]:
    """How the registry holds a named actor: a detached one strongly, the others weakly."""
    return actor if actor.options.lifetime == "detached" else weakref.ref(actor)


def _follow(entry: ActorCore | weakref.ref[ActorCore] | None) -> ActorCore | None:
    return entry() if isinstance(entry, weakref.ref) else entry


class Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        #: named actors: detached ones strongly, the others weakly (their handles keep them)
        self._named: dict[tuple[str, str], ActorCore | weakref.ref[ActorCore]] = {}
        #: every live actor, weakly: an actor dies with its last handle (see above)
        self.actors = WeakActors()
        #: the latest dead actors, kept so the state API can still show how they ended
        self.dead: deque[ActorCore] = deque(maxlen=100)
        #: what each actor calls when it dies: one bound method shared by all (64 B each else)
        self.on_death: Callable[[ActorCore], None] = self.release

    def add(self, actor: ActorCore) -> None:
        self.actors[actor.actor_id] = actor

    def lookup(self, namespace: str, name: str) -> ActorCore | None:
        with self.lock:
            key = (namespace, name)
            entry = self._named.get(key)
            actor = _follow(entry)
            if entry is not None and (actor is None or not actor.alive):
                del self._named[key]  # released (all its handles dropped) or dead
                return None
            return actor

    def create_named(
        self, namespace: str, name: str, get_if_exists: bool, create: Callable[[], ActorCore]
    ) -> tuple[ActorCore, bool]:
        """The actor registered under the name (existing, or made by ``create``); True if new."""
        with self.lock:
            existing = self.lookup(namespace, name)
            if existing is not None:
                if get_if_exists:
                    return existing, False
                raise ActorNameTakenError(
                    f"an actor named {name!r} already exists in namespace {namespace!r} "
                    f"({existing.describe()}); pick another name, pass get_if_exists=True to "
                    f"reuse it, or actorio.kill() it first"
                )
            actor = create()
            self._named[(namespace, name)] = _entry(actor)
            return actor, True

    def release(self, actor: ActorCore) -> None:
        """Forget a dead actor's name, so the name can be used again."""
        self.dead.append(actor)
        with self.lock:
            key = (actor.namespace, actor.name or "")
            if _follow(self._named.get(key)) is actor:
                del self._named[key]

    def names(self, namespace: str | None) -> list[tuple[str, str]]:
        """(namespace, name) of live named actors, in one namespace or all (``None``)."""
        with self.lock:
            return [
                key
                for key, entry in list(self._named.items())
                if (actor := _follow(entry)) is not None
                and actor.alive
                and (namespace is None or key[0] == namespace)
            ]

    def clear(self) -> list[ActorCore]:
        """Forget everything; return the live actors so the caller can kill them."""
        with self.lock:
            live = [a for a in self.actors.values() if a.alive]
            self._named.clear()
            self.actors.clear()
            self.dead.clear()
            return live
