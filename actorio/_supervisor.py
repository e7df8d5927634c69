"""Supervision for groups of actors, shaped like ``asyncio.TaskGroup``.

::

    async with actorio.supervisor(strategy="one_for_one", max_restarts=3, within_s=5) as sup:
        db = sup.start(Database, dsn)
        cache = sup.start(Cache.options(name="cache"))
        await serve(db, cache)
    # leaving the block stops every child (stop hooks run) and waits for them

A child that *fails* (its constructor or ``__actorio_start__`` raised, it was killed with
``no_restart=False``) is restarted by the supervisor instead of by its own ``max_restarts``:
``one_for_one`` restarts only that child, ``one_for_all`` every child, ``rest_for_one`` that
child and those started after it. A child that ends on purpose (``actorio.kill(h)``,
``exit_actor()``) stays dead. More than ``max_restarts`` restarts within ``within_s`` seconds
and the supervisor gives up: it stops every child, cancels the body of the ``async with``
block (as a TaskGroup does) and raises ``SupervisorError`` from it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from types import TracebackType
from typing import Any, Literal, TypeVar, final

from ._actor import ActorClass
from ._handle import ActorHandle, handle_for
from ._seam import ActorCore
from .exceptions import ActorDiedError, InvalidOptionsError, SupervisorError

__all__ = ["Supervisor", "supervisor"]

T = TypeVar("T")
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]


@final
class Supervisor:
    """Restarts failing children per its strategy; see ``supervisor()``."""

    def __init__(self, strategy: Strategy, max_restarts: int, within_s: float) -> None:
        if strategy not in ("one_for_one", "one_for_all", "rest_for_one"):
            raise InvalidOptionsError(
                f"strategy must be 'one_for_one', 'one_for_all' or 'rest_for_one', got {strategy!r}"
            )
        if max_restarts < 0 or within_s <= 0:
            raise InvalidOptionsError("max_restarts must be >= 0 and within_s > 0")
        self.strategy = strategy
        self.max_restarts = max_restarts
        self.within_s = within_s
        self._children: list[ActorCore] = []
        self._restarts: deque[float] = deque()
        self._closing = False
        self._gave_up: ActorDiedError | None = None
        self._host: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Supervisor:
        self._host = asyncio.current_task()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing = True
        await self._stop_children("its supervisor stopped")
        if self._gave_up is not None:
            if self._host is not None:
                self._host.uncancel()
            raise SupervisorError(
                f"the supervisor gave up: more than {self.max_restarts} restarts within "
                f"{self.within_s} s; the last failure: {self._gave_up.args[0]}",
                self._gave_up,
            )

    def start(self, actor_class: ActorClass[T], *args: Any, **kwargs: Any) -> ActorHandle[T]:
        """Create a supervised actor (``actor_class`` may carry ``.options(...)``)."""
        if self._closing:
            raise InvalidOptionsError("this supervisor has stopped; start children inside it")
        handle = actor_class.remote(*args, **kwargs)
        core = handle._actorio_actor
        if not core.supervisable:
            core.kill(ActorDiedError(f"The {core.describe()} is dead: it cannot be supervised."))
            raise InvalidOptionsError(
                f"a supervisor cannot restart the {core.describe()}: Ray restarts its actors "
                f"itself. Give it max_restarts (and max_task_retries) instead, or create it "
                f"with backend='local' or 'process' to supervise it"
            )
        core.supervisor = self
        self._children.append(core)
        return handle

    @property
    def children(self) -> list[ActorHandle[Any]]:
        """Handles of the children, in the order they were started."""
        return [handle_for(c) for c in self._children]

    def child_failed(self, child: ActorCore, err: ActorDiedError) -> bool:
        """Called by a failing child (on its loop): True to restart it, False to let it die."""
        if self._closing or self._gave_up is not None:
            return False
        now = time.monotonic()
        self._restarts.append(now)
        while self._restarts and now - self._restarts[0] > self.within_s:
            self._restarts.popleft()
        if len(self._restarts) > self.max_restarts:
            self._give_up(child, err)
            return False
        if self.strategy != "one_for_one":
            index = self._children.index(child)
            others = self._children if self.strategy == "one_for_all" else self._children[index:]
            for other in others:
                if other is not child and other.alive:
                    other.kill(err, restart=True, forced=True)
        return True

    def _give_up(self, child: ActorCore, err: ActorDiedError) -> None:
        self._gave_up = err
        for other in self._children:
            if other is not child:
                other.kill(
                    ActorDiedError(f"The {other.describe()} is dead: its supervisor gave up.")
                )
        host = self._host
        if host is not None and not host.done():
            host.get_loop().call_soon_threadsafe(host.cancel)

    async def _stop_children(self, why: str) -> None:
        endings = []
        for child in self._children:
            endings.append(child.monitor())
            child.kill(ActorDiedError(f"The {child.describe()} is dead: {why}."))
        if endings:
            await asyncio.gather(*endings)


def supervisor(
    strategy: Strategy = "one_for_one", *, max_restarts: int = 3, within_s: float = 5.0
) -> Supervisor:
    """A supervisor for a group of actors; use it with ``async with`` (see the module doc)."""
    return Supervisor(strategy, max_restarts, within_s)
