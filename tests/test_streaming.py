"""Generator methods stream their items: order, arrival as produced, backpressure, errors
mid-stream, cancellation and early ends stopping the producer; on every backend."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

import actorio
from actorio import ObjectRefGenerator
from actorio.exceptions import (
    ActorMethodNotFoundError,
    BlockingCallOnLoopError,
    InvalidOptionsError,
    TaskError,
)

WAIT = 20.0

pytestmark = pytest.mark.timeout(120)


@actorio.remote(max_concurrency=4)
class Producer:
    """Threaded: a stream runs while other calls (``made``) still answer."""

    def __init__(self) -> None:
        self.produced = 0
        self.finished = False
        self.lock = threading.Lock()

    def count(self, n: int, fail_at: int = -1) -> Any:
        try:
            for i in range(n):
                if i == fail_at:
                    raise ValueError(f"failed at item {i}")
                with self.lock:
                    self.produced += 1
                yield i
        finally:
            self.finished = True

    def made(self) -> tuple[int, bool]:
        return self.produced, self.finished


@actorio.remote(max_concurrency=8)
class Ticker:
    """Async: an async generator whose items wait on the consumer."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.closed = False
        self.sent = 0

    async def ticks(self, gated: bool) -> Any:
        try:
            i = 0
            while True:
                yield i
                self.sent += 1
                if gated and i == 0:
                    await self.gate.wait()  # the first item must arrive before this opens
                i += 1
                await asyncio.sleep(0.001)
        finally:
            self.closed = True

    async def open_gate(self) -> None:
        self.gate.set()

    async def status(self) -> tuple[int, bool]:
        return self.sent, self.closed

    async def plain(self) -> int:
        return 1


def wait_until(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_sync_generator_streams_in_order_with_for(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    stream = p.count.remote(50)
    assert isinstance(stream, ObjectRefGenerator)
    assert [actorio.get(ref, timeout=WAIT) for ref in stream] == list(range(50))
    assert list(stream) == []  # ended
    # Ray's spelling works too.
    again = p.count.options(num_returns="streaming").remote(3)
    assert [actorio.get(ref, timeout=WAIT) for ref in again] == [0, 1, 2]


async def test_async_for_and_items_arrive_as_produced(backend: str) -> None:
    t = Ticker.options(backend=backend).remote()
    stream = t.ticks.remote(True)
    async with asyncio.timeout(WAIT):
        first = await anext(stream)
        assert await first == 0  # here while the generator waits for the gate
        await t.open_gate.remote()
        got = [await ref for ref in [await anext(stream) for _ in range(5)]]
        assert got == [1, 2, 3, 4, 5]
        await stream.aclose()


def test_backpressure_keeps_the_producer_at_most_window_items_ahead(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    stream = p.count.options(_generator_backpressure_num_objects=3).remote(1000)
    assert [actorio.get(next(stream), timeout=WAIT) for _ in range(4)] == [0, 1, 2, 3]
    # Three items wait for the consumer, and the producer may hold a fourth it cannot hand
    # over yet (Ray's own count may stop earlier).
    low, high = (4 + 3 if backend != "ray" else 4), 4 + 3 + 1
    wait_until(lambda: actorio.get(p.made.remote(), timeout=WAIT)[0] >= low, "no run-ahead")
    time.sleep(0.2)  # it may only have stopped because it was not scheduled: give it time
    produced, finished = actorio.get(p.made.remote(), timeout=WAIT)
    assert low <= produced <= high
    assert not finished
    assert [actorio.get(next(stream), timeout=WAIT) for _ in range(2)] == [4, 5]
    stream.close()


def test_error_mid_stream_reaches_the_consumer_at_that_item(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    refs = iter(p.count.remote(10, fail_at=3))
    assert [actorio.get(next(refs), timeout=WAIT) for _ in range(3)] == [0, 1, 2]
    failed = next(refs)
    with pytest.raises(ValueError, match="failed at item 3") as info:
        actorio.get(failed, timeout=WAIT)
    assert isinstance(info.value, TaskError)
    assert "Producer.count" in str(info.value)
    with pytest.raises(StopIteration):
        next(refs)
    assert actorio.get(p.made.remote(), timeout=WAIT) == (3, True)  # alive; generator done


async def test_async_errors_mid_stream(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    got: list[int] = []

    async def collect() -> None:
        async for ref in p.count.remote(5, fail_at=2):
            got.append(await ref)

    async with asyncio.timeout(WAIT):
        with pytest.raises(ValueError, match="failed at item 2"):
            await collect()
    assert got == [0, 1]


async def test_cancelling_the_consumer_stops_the_producer(backend: str) -> None:
    t = Ticker.options(backend=backend).remote()
    first = asyncio.Event()

    async def consume() -> None:
        async for ref in t.ticks.remote(False):
            await ref
            first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(WAIT):
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while not (await t.status.remote())[1]:  # the generator's finally ran
            await asyncio.sleep(0.01)
        sent = (await t.status.remote())[0]
        await asyncio.sleep(0.1)
        assert (await t.status.remote())[0] == sent  # and it produces no more
        assert await t.plain.remote() == 1  # the actor lives on


async def test_closing_an_async_stream_early_closes_the_generator(backend: str) -> None:
    t = Ticker.options(backend=backend).remote()
    async with asyncio.timeout(WAIT):
        stream = t.ticks.remote(False)
        async for ref in stream:
            if await ref == 3:
                break
        await stream.aclose()
        while not (await t.status.remote())[1]:
            await asyncio.sleep(0.01)


def test_closing_a_sync_stream_early_closes_the_generator(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    stream = p.count.remote(10_000)
    assert actorio.get(next(stream), timeout=WAIT) == 0
    stream.close()
    wait_until(lambda: actorio.get(p.made.remote(), timeout=WAIT)[1], "never closed")
    assert actorio.get(p.made.remote(), timeout=WAIT)[0] < 100  # stopped, not drained


async def test_sync_iteration_on_a_loop_thread_is_refused(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    stream = p.count.remote(3)
    with pytest.raises(BlockingCallOnLoopError):
        next(stream)
    async with asyncio.timeout(WAIT):
        assert [await ref async for ref in stream] == [0, 1, 2]  # nothing was lost


def test_options_and_errors(backend: str) -> None:
    p = Producer.options(backend=backend).remote()
    # A static num_returns on a generator is Ray's older form, not a stream (test_generators).
    assert actorio.get(p.count.options(num_returns=2).remote(2), timeout=WAIT) == [0, 1]
    with pytest.raises(InvalidOptionsError, match="needs a generator") as refused:
        p.made.options(num_returns="streaming")
    assert "Producer.made is not one" in str(refused.value)
    with pytest.raises(InvalidOptionsError, match="_generator_backpressure_num_objects"):
        p.count.options(_generator_backpressure_num_objects=0)
    with pytest.raises(ActorMethodNotFoundError) as info:
        getattr(p, "count#next")
    assert "count#next" not in str(info.value).split("its methods are")[1]
    with pytest.raises(TypeError):
        p.count.remote("too", "many", "args")  # type: ignore[call-arg, arg-type]  # deliberately wrong
    unlimited = p.count.options(_generator_backpressure_num_objects=-1).remote(5)
    assert actorio.get(list(unlimited), timeout=WAIT) == [0, 1, 2, 3, 4]
