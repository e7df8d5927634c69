"""``pipe``: the floor of a process hop, a ``multiprocessing.Pipe`` round trip with both ends
blocking; what ``actorio-process`` (and any actor in another process) pays at least."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any, ClassVar

from .._users import Counter
from ._base import SyncSystem

__all__ = ["Pipe"]


def _echo(conn: Connection) -> None:
    """The child: apply each call to a Counter and send the result back, until None."""
    counter = Counter()
    while (x := conn.recv()) is not None:
        conn.send(counter.inc(x))


class Pipe(SyncSystem):
    name = "pipe"
    summary = "floor: a multiprocessing.Pipe round trip to a child process, both ends blocking"
    max_calls = 20_000
    not_applicable: ClassVar[Mapping[str, str]] = dict.fromkeys(
        (
            "pipelined",
            "n_n",
            "async_concurrency",
            "threaded_blocking",
            "cpu_parallel",
            "sync_bridge",
            "blocking_actors",
            "memory",
            "startup",
            "bulk_data",
        ),
        "a floor for one process hop, not an actor system",
    )

    def __init__(self, loop_factory: Any) -> None:
        super().__init__(loop_factory)
        self._children: list[tuple[Connection, Any]] = []

    def counter(self) -> Callable[[int], Any]:
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.get_context("spawn").Process(target=_echo, args=(child,))
        proc.start()
        child.close()
        self._children.append((parent, proc))

        def call(x: int) -> int:
            parent.send(x)
            result: int = parent.recv()
            return result

        return call

    def get(self, ref: Any) -> Any:
        return ref  # the round trip is the call itself

    def after(self) -> None:
        for conn, proc in self._children:
            conn.send(None)
            proc.join()
        self._children.clear()
