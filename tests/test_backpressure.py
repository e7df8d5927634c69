"""Backpressure: max_pending_calls, actorio.pending_calls and ``await method.submit()``.

The first test runs on every backend (limit, refusal message, submit, builtin calls, cancelled
calls); the others check details in-process (regular and threaded actors, many submitters)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from _actors import WAIT, Keys

import actorio
from actorio.exceptions import (
    ActorDiedError,
    InvalidArgumentsError,
    InvalidOptionsError,
    PendingCallsLimitExceeded,
    TaskCancelledError,
    TaskError,
)


@actorio.remote(max_concurrency=1, max_pending_calls=2)
class Bounded:
    """Async, one call at a time, room for two pending calls. ``park`` waits on a ``Keys``
    actor, so the test can release it while this actor's mailbox is full."""

    def __init__(self) -> None:
        self.ran: list[int] = []

    async def park(self, tag: int, keys: actorio.ActorHandle[Any]) -> int:
        await keys.wait_open.remote(tag)
        self.ran.append(tag)
        return tag

    async def quick(self, tag: int) -> int:
        self.ran.append(tag)
        return tag

    def history(self) -> list[int]:
        return list(self.ran)


@pytest.mark.ray_differs("Ray counts builtin calls (__ray_ready__) against max_pending_calls")
async def test_backpressure_and_pending_calls(backend: str) -> None:
    keys = Keys.options(backend=backend).remote()
    b = Bounded.options(backend=backend).remote()
    async with asyncio.timeout(WAIT):
        first = b.park.remote(0, keys)
        second = b.park.remote(1, keys)
        assert actorio.pending_calls(b) == 2  # one running (or about to), one queued
        with pytest.raises(PendingCallsLimitExceeded) as info:
            b.quick.remote(2)
        message = str(info.value)
        assert "already has 2 pending calls" in message
        assert "max_pending_calls=2" in message
        assert "await handle.quick.submit(...)" in message
        assert "Bounded" in message
        assert not isinstance(info.value, TaskError)
        assert actorio.pending_calls(b) == 2  # the refused call was not queued
        assert await b.__ray_ready__.remote() is True  # builtin calls are not limited

        waiter = asyncio.create_task(b.quick.submit(3))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiter.done()  # suspended: the mailbox is full
        await keys.open.remote(0)
        assert await first == 0
        third = await waiter  # room again
        assert isinstance(third, actorio.ObjectRef)
        assert actorio.pending_calls(b) == 2
        await keys.open.remote(1)
        assert await second == 1
        assert await third == 3
        assert await b.history.remote() == [0, 1, 3]
        assert actorio.pending_calls(b) == 0

        # Cancelled calls stop counting at once.
        running = b.park.remote(4, keys)
        queued = b.park.remote(5, keys)
        actorio.cancel(queued)
        assert actorio.pending_calls(b) == 1
        fits = b.quick.remote(6)
        await keys.open.remote(4)
        assert list(await asyncio.gather(running, fits)) == [4, 6]
        with pytest.raises(TaskCancelledError):
            await queued
        assert await b.history.remote() == [0, 1, 3, 4, 6]


async def spin(n: int = 10) -> None:
    """Give the loop a few turns, so that anything that could wrongly happen, happens."""
    for _ in range(n):
        await asyncio.sleep(0)


# -- max_pending_calls --------------------------------------------------------------------------


async def test_regular_actor_limit_counts_queued_calls() -> None:
    @actorio.remote(max_pending_calls=3)
    class Counter:
        def __init__(self) -> None:
            self.count = 0

        def increment(self) -> int:
            self.count += 1
            return self.count

    c = Counter.remote()
    refs = [c.increment.remote() for _ in range(3)]  # queued: the loop has not run yet
    assert actorio.pending_calls(c) == 3
    with pytest.raises(PendingCallsLimitExceeded, match=r"max_pending_calls=3"):
        c.increment.remote()
    assert await asyncio.gather(*refs) == [1, 2, 3]
    assert actorio.pending_calls(c) == 0
    assert await c.increment.remote() == 4


def test_limit_applies_to_calls_from_sync_code() -> None:
    started, release = threading.Event(), threading.Event()

    @actorio.remote(mode="threaded", max_concurrency=1, max_pending_calls=1)
    class Worker:
        def block(self) -> str:
            started.set()
            assert release.wait(WAIT)
            return "done"

    w = Worker.remote()
    ref = w.block.remote()
    assert started.wait(WAIT)
    assert actorio.pending_calls(w) == 1
    try:
        with pytest.raises(PendingCallsLimitExceeded, match=r"max_pending_calls=1"):
            w.block.remote()
    finally:
        release.set()
    assert actorio.get(ref, timeout=WAIT) == "done"


@pytest.mark.parametrize("bad", [-2, 1.5, "3", True])
def test_invalid_max_pending_calls_is_rejected(bad: Any) -> None:
    with pytest.raises(InvalidOptionsError, match=r"max_pending_calls must be an int >= -1"):
        Bounded.options(max_pending_calls=bad)


# -- submit -------------------------------------------------------------------------------------


async def test_submit_returns_at_once_when_there_is_room() -> None:
    b = Bounded.remote()
    ref = await b.quick.submit(7)
    assert await ref == 7


async def test_many_submitters_all_complete_within_the_limit() -> None:
    limit = 5

    @actorio.remote(max_concurrency=2, max_pending_calls=limit)
    class Meter:
        def __init__(self) -> None:
            self.peak = 0

        async def work(self, i: int) -> int:
            me = actorio.get_runtime_context().current_actor
            self.peak = max(self.peak, actorio.pending_calls(me))
            await asyncio.sleep(0)
            return i

        def seen(self) -> int:
            return self.peak

    m = Meter.remote()
    outside_peak = 0

    async def submitter(i: int) -> int:
        nonlocal outside_peak
        ref = await m.work.submit(i)
        outside_peak = max(outside_peak, actorio.pending_calls(m))
        result: int = await ref
        return result

    async with asyncio.timeout(WAIT):
        results = await asyncio.gather(*(submitter(i) for i in range(200)))
    assert results == list(range(200))
    assert outside_peak == limit  # the submitters did fill the mailbox...
    assert 1 <= await m.seen.remote() <= limit  # ...and it never held more than the limit
    assert actorio.pending_calls(m) == 0


def test_submitters_on_many_threads_and_loops() -> None:
    # The actor lives on the runtime loop; each thread submits from its own event loop, so
    # room notifications cross threads. A lost wake-up would hang a thread (bounded by WAIT).
    @actorio.remote(max_pending_calls=1)
    class Sink:
        def __init__(self) -> None:
            self.got: list[int] = []

        def put(self, i: int) -> int:
            self.got.append(i)
            return i

        def items(self) -> list[int]:
            return sorted(self.got)

    s = Sink.remote()
    per_thread, threads = 100, 4
    errors: list[BaseException] = []

    async def feed(base: int) -> None:
        async with asyncio.timeout(WAIT):
            refs = [await s.put.submit(base + i) for i in range(per_thread)]
            assert await asyncio.gather(*refs) == [base + i for i in range(per_thread)]

    def run(base: int) -> None:
        try:
            asyncio.run(feed(base))
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(t * 1000,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(WAIT + 5)
    assert not any(w.is_alive() for w in workers)
    assert errors == []
    expected = sorted(t * 1000 + i for t in range(threads) for i in range(per_thread))
    assert actorio.get(s.items.remote(), timeout=WAIT) == expected


async def test_submit_without_a_limit_behaves_like_remote() -> None:
    @actorio.remote
    class Free:
        def add(self, a: int, b: int = 0) -> int:
            return a + b

    f = Free.remote()
    refs = [await f.add.submit(i, b=1) for i in range(50)]  # never suspends
    assert actorio.pending_calls(f) == 50
    assert await asyncio.gather(*refs) == [i + 1 for i in range(50)]
    with pytest.raises(InvalidArgumentsError, match="cannot take these arguments"):
        await f.add.submit(1, 2, 3)  # type: ignore[call-arg]  # deliberately wrong


async def test_waiting_submitter_is_woken_by_the_actors_death() -> None:
    keys = Keys.remote()  # never opened: both calls stay pending
    b = Bounded.remote()
    refs = [b.park.remote(i, keys) for i in range(2)]
    waiter = asyncio.create_task(b.park.submit(2, keys))
    await spin()
    assert not waiter.done()
    actorio.kill(b)
    async with asyncio.timeout(WAIT):
        late = await waiter
    for ref in [*refs, late]:
        with pytest.raises(ActorDiedError, match=r"killed with actorio\.kill"):
            await ref
