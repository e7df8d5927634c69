"""Actors and helpers shared by the suites that run on every backend (the ``backend`` fixture).

Only pickled copies reach a worker process (or a Ray worker), so every actor here keeps its
coordination inside itself: events and barriers are created in the actor, a test waits for a
state through a method that awaits it, and what must outlive an instance (constructor
attempts, hook calls) is written to files in ``tmp_path``. The classes are at module level so
that workers can import them by name (``tests/`` is on their path).
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

import actorio
from actorio.exceptions import ActorDiedError

WAIT = 20.0  # a cap on every wait: a hang fails the test, a slow machine does not
CANCELLED_MSG = r"cancelled with actorio\.cancel\(\)"

T = TypeVar("T")


# -- helpers that work the same in a worker process ---------------------------------------------


def note(path: str, line: str) -> None:
    """Append one line to a log file (what a hook or method did, seen from the driver)."""
    with open(path, "a") as f:
        f.write(line + "\n")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def tally(path: str) -> int:
    """Count one more attempt in a file; return the count (1 on the first attempt)."""
    p = Path(path)
    n = int(p.read_text() or 0) + 1 if p.exists() else 1
    p.write_text(str(n))
    return n


class Boom(Exception):
    """A user error with two arguments: it must survive the trip back from a worker."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


class Coded(Exception):
    """A user error that takes more than it passes on to ``Exception`` (so the default
    pickling cannot rebuild it), with an attribute the caller reads: ``err.code``."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@actorio.remote
async def _tick() -> None:
    """A turn of the runtime loop (run there, so everything scheduled on it before is done)."""


def collect() -> None:
    """Collect garbage once the actors are done with the calls that just returned. A sync
    caller may get a value from the worker thread that computed it a moment before the
    actor's loop lets the call go (``actorio._ref.settle_early``), and only then is an actor
    whose handles were dropped released (as on Ray, a release is not synchronous)."""
    actorio.get(_tick.remote(), timeout=WAIT)  # the calls' ends, queued before, have run
    for _ in range(3):  # and the worker threads have left the calls' frames
        gc.collect()
        time.sleep(0.01)
    gc.collect()


def resolved(ref: actorio.ObjectRef[T]) -> T:
    """A ref passed as an argument, typed as the value the callee receives: actorio resolves a
    top-level ref argument before the call, which the types of ``.remote()`` do not model."""
    return cast(T, ref)


# -- actors -------------------------------------------------------------------------------------


@actorio.remote
class Counter:
    def __init__(self, start: int = 0, *, step: int = 1) -> None:
        self.count = start
        self.step = step
        self.seen: list[object] = []

    def increment(self, by: int = 1) -> int:
        self.count += by * self.step
        return self.count

    def get(self) -> int:
        return self.count

    def params(self, a: int, b: int = 2, *rest: int, c: int = 3, **extra: int) -> dict[str, Any]:
        return {"a": a, "b": b, "rest": list(rest), "c": c, "extra": extra}

    def add(self, a: int, b: int = 0) -> int:
        return a + b

    def record(self, item: object) -> list[object]:
        self.seen.append(item)
        return list(self.seen)

    def fail(self, message: str) -> None:
        raise ValueError(message)

    def fail_custom(self, code: int, detail: str) -> None:
        raise Boom(code, detail)

    def fail_coded(self, message: str, code: int) -> None:
        raise Coded(message, code)

    def fail_tagged(self, message: str, code: int) -> None:
        err = ValueError(message)
        err.code = code  # type: ignore[attr-defined]  # an attribute set on the instance
        raise err

    def split(self, n: int) -> tuple[int, ...]:
        return tuple(range(n))

    @actorio.method(num_returns=2)
    def pair(self) -> tuple[int, int]:
        return self.count, -self.count

    def quit(self) -> None:
        actorio.exit_actor()

    def context(self) -> dict[str, Any]:
        ctx = actorio.get_runtime_context()
        return {
            "id": ctx.get_actor_id(),
            "name": ctx.get_actor_name(),
            "namespace": ctx.namespace,
            "me": ctx.current_actor,
        }

    def find(self, name: str) -> int:
        """Look a named actor up from inside this one and call it (blocking is fine: the
        caller makes this actor threaded for that)."""
        return int(actorio.get(actorio.get_actor(name).increment.remote(), timeout=WAIT))


@actorio.remote
class Keys:
    """An async actor of named gates: ``wait_open(k)`` returns once ``open(k)`` was called."""

    def __init__(self) -> None:
        self.events: dict[int, asyncio.Event] = {}

    async def wait_open(self, key: int) -> int:
        await self.events.setdefault(key, asyncio.Event()).wait()
        return key

    async def open(self, key: int) -> None:
        self.events.setdefault(key, asyncio.Event()).set()

    async def fail(self, message: str) -> None:
        await asyncio.sleep(0)
        raise KeyError(message)


@actorio.remote
class Relay:
    """Async: takes handles (in containers, too) and calls through them."""

    async def bump_all(self, counters: list[actorio.ActorHandle[Any]], times: int) -> list[int]:
        for c in counters:
            for _ in range(times):
                c.increment.remote()  # fire and forget: the caller's order is kept
        return [await c.get.remote() for c in counters]

    async def through(
        self, other: actorio.ActorHandle[Any], counter: actorio.ActorHandle[Any]
    ) -> list[int]:
        """A handle passed on again: driver -> this actor -> other -> counter."""
        return list(await other.bump_all.remote([counter], 1))

    async def hand_back(self, handle: actorio.ActorHandle[Any]) -> actorio.ActorHandle[Any]:
        return handle


@actorio.remote
def bump_and_read(counter: actorio.ActorHandle[Any], times: int) -> int:
    """A plain ``def`` task: it may block on actorio.get."""
    value = 0
    for _ in range(times):
        value = actorio.get(counter.increment.remote(), timeout=WAIT)
    return value


@actorio.remote(max_restarts=2)
class Flaky:
    """Its constructor fails the first ``failures`` times (attempts are counted in a file)."""

    def __init__(self, attempts: str, failures: int) -> None:
        self.gen = tally(attempts)
        if self.gen <= failures:
            raise ConnectionError(f"attempt {self.gen} failed")
        self.calls = 0

    def which(self) -> tuple[int, int]:
        self.calls += 1
        return self.gen, self.calls


class _Life:
    """Logs its life to a file: ``init N``, ``start N``, ``call N``, ``stop N``, where N
    counts the instances built (in ``<log>.tally``)."""

    def __init__(self, log: str) -> None:
        self.log = log
        self.gen = tally(log + ".tally")
        self.count = 0
        note(log, f"init {self.gen}")

    def increment(self) -> int:
        note(self.log, f"call {self.gen}")
        self.count += 1
        return self.count

    def get(self) -> int:
        return self.count

    def generation(self) -> int:
        return self.gen

    def quit(self) -> None:
        actorio.exit_actor()


@actorio.remote
class SyncLife(_Life):
    def __actorio_start__(self) -> None:
        note(self.log, f"start {self.gen}")

    def __actorio_stop__(self) -> None:
        note(self.log, f"stop {self.gen}")


@actorio.remote
class AsyncLife(_Life):
    async def __actorio_start__(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)  # yields only: calls must still wait for the end
        note(self.log, f"start {self.gen}")

    async def __actorio_stop__(self) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        note(self.log, f"stop {self.gen}")


# Picked by the tests at run time: mypy would join the two to _Life, which is no actor class.
LIVES: dict[str, Any] = {"sync": SyncLife, "async": AsyncLife}


# -- assertions shared by several files ---------------------------------------------------------


def ray_constructor_failure_is_final(refs: list[Any], tally: Path, says: str) -> None:
    """Ray ends an actor whose constructor raised, whatever its max_restarts: every call
    fails with the constructor's traceback in the message (docs/ray.md, what differs)."""
    for ref in refs:
        with pytest.raises(ActorDiedError, match="creation task") as info:
            actorio.get(ref, timeout=WAIT)
        assert says in str(info.value)
    assert tally.read_text() == "1"
