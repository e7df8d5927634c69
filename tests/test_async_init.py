"""``async def __init__`` as Ray allows it: awaited on the actor's loop before any call runs,
on every backend; a raising one fails construction as a sync constructor does (restarts per
``max_restarts``); it makes the class an async actor.

The classes are at module level (workers import them by name); what must outlive an instance
(constructor attempts) is counted in files in ``tmp_path``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from _actors import WAIT, ray_constructor_failure_is_final, tally

import actorio
from actorio.exceptions import ActorDiedError, InvalidOptionsError, TaskError


@actorio.remote
class Booted:
    async def __init__(self, value: int) -> None:  # type: ignore[misc]  # Ray allows it
        self.loop = asyncio.get_running_loop()
        await asyncio.sleep(0.05)  # the calls already queued must wait for this
        self.value = value

    async def get(self) -> int:
        return self.value

    def sync_get(self) -> int:
        return self.value

    async def same_loop(self) -> bool:
        return asyncio.get_running_loop() is self.loop


@actorio.remote
class OnlySync:
    """An async constructor and nothing else async: still an async actor (Ray's rule)."""

    async def __init__(self) -> None:  # type: ignore[misc]
        await asyncio.sleep(0)
        self.ready = True

    def ready_now(self) -> bool:
        return self.ready


@actorio.remote(max_restarts=2)
class AsyncFlaky:
    """Its async constructor fails the first ``failures`` times (counted in a file)."""

    async def __init__(self, attempts: str, failures: int) -> None:  # type: ignore[misc]
        await asyncio.sleep(0)
        self.gen = tally(attempts)
        if self.gen <= failures:
            raise ConnectionError(f"attempt {self.gen} failed")

    async def which(self) -> int:
        return self.gen


@actorio.remote
class Hooked:
    """The start hook runs after the async constructor, on the same instance."""

    async def __init__(self) -> None:  # type: ignore[misc]
        await asyncio.sleep(0)
        self.steps = ["init"]

    async def __actorio_start__(self) -> None:
        self.steps.append("start")

    async def steps_so_far(self) -> list[str]:
        return self.steps


def test_calls_made_at_once_wait_for_the_async_constructor(backend: str) -> None:
    b = Booted.options(backend=backend).remote(7)
    refs: list[actorio.ObjectRef[Any]] = [b.get.remote(), b.sync_get.remote(), b.same_loop.remote()]
    assert actorio.get(refs, timeout=WAIT) == [7, 7, True]


async def test_async_constructor_from_async_code(backend: str) -> None:
    async with asyncio.timeout(WAIT):
        b = Booted.options(backend=backend).remote(3)
        assert await b.__ray_ready__.remote() is True
        assert await b.get.remote() == 3
        o = OnlySync.options(backend=backend).remote()
        assert await o.ready_now.remote() is True


def test_a_raising_async_constructor_restarts_then_serves(backend: str, tmp_path: Path) -> None:
    h = AsyncFlaky.options(backend=backend).remote(str(tmp_path / "attempts"), 2)
    refs = [h.which.remote() for _ in range(2)]
    if backend == "ray":
        ray_constructor_failure_is_final(refs, tmp_path / "attempts", "attempt 1 failed")
        return
    assert actorio.get(refs, timeout=WAIT) == [3, 3]
    assert (tmp_path / "attempts").read_text() == "3"


def test_an_async_constructor_failing_for_good_fails_every_call(
    backend: str, tmp_path: Path
) -> None:
    h = AsyncFlaky.options(backend=backend, max_restarts=0).remote(str(tmp_path / "n"), 99)
    ref = h.which.remote()
    if backend == "ray":
        ray_constructor_failure_is_final([ref], tmp_path / "n", "attempt 1 failed")
        return
    with pytest.raises(ActorDiedError, match="is dead: its constructor raised") as info:
        actorio.get(ref, timeout=WAIT)
    cause = info.value.cause
    assert isinstance(cause, ConnectionError)
    assert isinstance(cause, TaskError)
    assert "AsyncFlaky.__init__" in str(cause)
    assert "attempt 1 failed" in cause.traceback_str
    reason = actorio.get(actorio.monitor(h), timeout=WAIT)
    assert isinstance(reason, ActorDiedError)
    assert (tmp_path / "n").read_text() == "1"


def test_the_start_hook_runs_after_the_async_constructor(backend: str) -> None:
    h = Hooked.options(backend=backend).remote()
    assert actorio.get(h.steps_so_far.remote(), timeout=WAIT) == ["init", "start"]


def test_an_async_constructor_makes_an_async_actor() -> None:
    with pytest.raises(InvalidOptionsError, match=r"async def methods \['__init__'\]"):
        OnlySync.options(mode="threaded").remote()
    assert actorio.get(OnlySync.remote().ready_now.remote(), timeout=WAIT) is True
