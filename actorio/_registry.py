"""Named actors, by (namespace, name), and every live actor by id.

One lock makes get-or-create atomic: the name is claimed in the same critical section that
creates the actor, so two racing ``get_if_exists=True`` creations get the same actor.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from .backends import ActorCore
from .exceptions import ActorNameTakenError

__all__ = ["Registry"]


class Registry:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._named: dict[tuple[str, str], ActorCore] = {}
        #: every live actor, weakly: anonymous actors die with their last handle
        self.actors: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
        #: the latest dead actors, kept so the state API can still show how they ended
        self.dead: deque[Any] = deque(maxlen=100)

    def add(self, actor: Any) -> None:
        self.actors[actor.actor_id] = actor

    def lookup(self, namespace: str, name: str) -> ActorCore | None:
        with self.lock:
            actor = self._named.get((namespace, name))
            if actor is not None and not actor.alive:
                del self._named[(namespace, name)]
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
            self._named[(namespace, name)] = actor
            return actor, True

    def release(self, actor: ActorCore) -> None:
        """Forget a dead actor's name, so the name can be used again."""
        self.dead.append(actor)
        with self.lock:
            key = (actor.namespace, actor.name or "")
            if self._named.get(key) is actor:
                del self._named[key]

    def names(self, namespace: str | None) -> list[tuple[str, str]]:
        """(namespace, name) of live named actors, in one namespace or all (``None``)."""
        with self.lock:
            return [
                key
                for key, actor in list(self._named.items())
                if actor.alive and (namespace is None or key[0] == namespace)
            ]

    def clear(self) -> list[Any]:
        """Forget everything; return the live actors so the caller can kill them."""
        with self.lock:
            live = [a for a in self.actors.values() if a.alive]
            self._named.clear()
            self.actors.clear()
            self.dead.clear()
            return live
