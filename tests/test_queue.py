"""actorio.util.queue.Queue on every backend: Ray's interface, sync and async, shared by
tasks and actors through pickled copies."""

from __future__ import annotations

import asyncio
import pickle
import queue
import threading
import time
from typing import Any

import pytest

import actorio
from actorio.exceptions import (
    ActorDiedError,
    ActorioError,
    BlockingCallOnLoopError,
    InvalidArgumentsError,
)
from actorio.util.queue import Empty, Full, Queue

WAIT = 30.0
SHORT = 0.2

pytestmark = pytest.mark.timeout(180)


def make(backend: str, maxsize: int = 0) -> Queue:
    return Queue(maxsize, actor_options={"backend": backend})


@actorio.remote
def produce(q: Queue, items: list[Any]) -> int:
    for item in items:
        q.put(item, timeout=WAIT)
    return len(items)


@actorio.remote
class Consumer:
    async def take(self, q: Queue, n: int) -> list[Any]:
        return [await q.get_async(timeout=WAIT) for _ in range(n)]

    async def feed(self, q: Queue, items: list[Any]) -> int:
        for item in items:
            await q.put_async(item, timeout=WAIT)
        return len(items)


@actorio.remote(max_concurrency=2)
class SyncConsumer:
    """Threaded: its methods may block, so they use the sync forms."""

    def take(self, q: Queue, n: int) -> list[Any]:
        return [q.get(timeout=WAIT) for _ in range(n)]


def test_fifo_and_sizes(backend: str) -> None:
    q = make(backend, maxsize=3)
    assert q.maxsize == 3
    assert (q.empty(), q.full(), q.qsize(), q.size(), len(q)) == (True, False, 0, 0, 0)
    for item in ("a", "b", "c"):
        q.put(item)
    assert (q.empty(), q.full(), q.qsize(), q.size(), len(q)) == (False, True, 3, 3, 3)
    assert [q.get(), q.get_nowait(), q.get(block=False)] == ["a", "b", "c"]
    unbounded = make(backend)
    unbounded.put_nowait_batch(range(100))
    assert (unbounded.full(), unbounded.qsize()) == (False, 100)
    assert unbounded.get_nowait_batch(100) == list(range(100))


def test_nowait_raises_empty_and_full_with_what_to_do(backend: str) -> None:
    q = make(backend, maxsize=1)
    with pytest.raises(Empty) as empty:
        q.get_nowait()
    assert str(empty.value) == (
        "the queue is empty and no item came now: put items in first, or wait longer "
        "(get(timeout=...))"
    )
    assert isinstance(empty.value, queue.Empty)
    assert isinstance(empty.value, ActorioError)
    q.put_nowait(1)
    with pytest.raises(Full) as full:
        q.put_nowait(2)
    assert str(full.value) == (
        "the queue is full (maxsize=1) and no room came now: get items out, wait longer "
        "(put(item, timeout=...)), or make the queue larger"
    )
    assert isinstance(full.value, queue.Full)
    with pytest.raises(Full):
        q.put(2, block=False)
    assert q.get(block=False) == 1


def test_blocking_timeouts_from_sync_code(backend: str) -> None:
    q = make(backend, maxsize=1)
    started = time.monotonic()
    with pytest.raises(Empty, match=f"no item came within {SHORT} s"):
        q.get(timeout=SHORT)
    assert time.monotonic() - started >= SHORT - 0.01  # timers may fire a tick early
    q.put(1)
    started = time.monotonic()
    with pytest.raises(Full, match=f"no room came within {SHORT} s"):
        q.put(2, timeout=SHORT)
    assert time.monotonic() - started >= SHORT - 0.01  # timers may fire a tick early
    assert q.get(timeout=0) == 1


def test_blocked_put_and_get_wake_each_other_across_threads(backend: str) -> None:
    q = make(backend, maxsize=1)
    got: list[Any] = []
    getter = threading.Thread(target=lambda: got.append(q.get(timeout=WAIT)))
    getter.start()
    q.put("first", timeout=WAIT)
    getter.join(WAIT)
    assert got == ["first"]

    q.put("second")
    putter = threading.Thread(target=q.put, args=("third",), kwargs={"timeout": WAIT})
    putter.start()  # blocks until "second" is taken
    assert q.get(timeout=WAIT) == "second"
    putter.join(WAIT)
    assert not putter.is_alive()
    assert q.get(timeout=WAIT) == "third"


def test_batches_are_all_or_nothing(backend: str) -> None:
    q = make(backend, maxsize=3)
    q.put(1)
    with pytest.raises(Full) as full:
        q.put_nowait_batch([2, 3, 4])
    assert str(full.value) == (
        "put_nowait_batch() of 3 item(s) does not fit: the queue (maxsize=3) has room for 2; "
        "nothing was put. Put fewer, or get items out first"
    )
    assert q.qsize() == 1
    q.put_nowait_batch([2, 3])
    with pytest.raises(Empty) as empty:
        q.get_nowait_batch(4)
    assert str(empty.value) == (
        "get_nowait_batch(4) needs 4 item(s) but the queue holds 3; nothing was taken. "
        "Ask for fewer (qsize() tells how many), or wait for more"
    )
    assert q.qsize() == 3
    assert q.get_nowait_batch(0) == []
    assert q.get_nowait_batch(3) == [1, 2, 3]


def test_bad_arguments() -> None:
    q = Queue()
    with pytest.raises(InvalidArgumentsError, match="'timeout' must be None or >= 0 seconds"):
        q.get(timeout=-1)
    with pytest.raises(InvalidArgumentsError, match="'timeout' must be None or >= 0 seconds"):
        q.put(1, timeout=-1)
    with pytest.raises(InvalidArgumentsError, match="num_items must be an int >= 0, got -1"):
        q.get_nowait_batch(-1)
    with pytest.raises(InvalidArgumentsError, match=r"num_items must be an int >= 0, got 1\.5"):
        q.get_nowait_batch(1.5)  # type: ignore[arg-type]


def test_a_task_produces_and_an_actor_consumes(backend: str) -> None:
    q = make(backend, maxsize=2)  # smaller than the batch: the producer must wait for room
    consumer = Consumer.options(backend=backend).remote()
    taken = consumer.take.remote(q, 6)
    made = produce.options(backend=backend).remote(q, [0, 1, 2, 3, 4, 5])
    assert actorio.get([made, taken], timeout=WAIT) == [6, [0, 1, 2, 3, 4, 5]]
    assert q.empty()


def test_an_actor_produces_and_a_threaded_actor_consumes(backend: str) -> None:
    q = make(backend, maxsize=1)
    taken = SyncConsumer.options(backend=backend).remote().take.remote(q, 4)
    fed = Consumer.options(backend=backend).remote().feed.remote(q, ["a", "b", "c", "d"])
    assert actorio.get([fed, taken], timeout=WAIT) == [4, ["a", "b", "c", "d"]]


async def test_async_methods(backend: str) -> None:
    q = make(backend, maxsize=2)
    async with asyncio.timeout(WAIT):
        assert await q.empty_async()
        await q.put_async(1)
        await q.put_async(2, block=False)
        assert (await q.qsize_async(), await q.full_async()) == (2, True)
        with pytest.raises(Full, match="no room came now"):
            await q.put_async(3, block=False)
        with pytest.raises(Full, match=f"no room came within {SHORT} s"):
            await q.put_async(3, timeout=SHORT)
        assert [await q.get_async(), await q.get_async(block=False)] == [1, 2]
        with pytest.raises(Empty, match="no item came now"):
            await q.get_async(block=False)
        with pytest.raises(Empty, match=f"no item came within {SHORT} s"):
            await q.get_async(timeout=SHORT)
        await q.put_nowait_batch_async(["x", "y"])
        with pytest.raises(Full, match="has room for 0"):
            await q.put_nowait_batch_async(["z"])
        with pytest.raises(Empty, match="needs 3 item"):
            await q.get_nowait_batch_async(3)
        assert await q.get_nowait_batch_async(2) == ["x", "y"]

        async def put_soon() -> None:
            await q.put_async("late")

        # The getter waits in the actor while this loop runs the putter.
        value, _ = await asyncio.gather(q.get_async(timeout=WAIT), put_soon())
        assert value == "late"


def test_sync_methods_refuse_to_block_a_running_loop() -> None:
    q = Queue()

    async def misuse() -> list[str]:
        messages = []
        for call in (q.get, q.get_nowait, lambda: q.put(1), q.qsize, q.empty, q.shutdown):
            with pytest.raises(BlockingCallOnLoopError) as info:
                call()
            messages.append(str(info.value))
        await q.put_async(1)
        assert await q.get_async() == 1
        return messages

    messages = actorio.run(misuse())
    assert messages[0].startswith("Queue.get() would block the event loop running in this")
    assert "In async code use 'await q.get_async()'" in messages[0]
    assert "'await q.put_async(item)'" in messages[2]
    assert "'await q.qsize_async()'" in messages[3]
    assert "'await q.shutdown_async()'" in messages[5]


def test_the_queue_pickles_and_copies_share_the_items(backend: str) -> None:
    q = make(backend)
    copy = pickle.loads(pickle.dumps(q))
    copy.put("via the copy")
    assert q.get(timeout=WAIT) == "via the copy"
    assert copy.maxsize == 0


def test_actor_options_pass_through(backend: str) -> None:
    q = Queue(actor_options={"backend": backend, "name": f"jobs-{backend}"})
    q.put(1)
    found = actorio.get_actor(f"jobs-{backend}")
    assert actorio.get(found.qsize.remote(), timeout=WAIT) == 1


@pytest.mark.parametrize("force", [False, True])
def test_shutdown(backend: str, force: bool) -> None:
    q = make(backend)
    q.put(1)
    q.shutdown(force=force, grace_period_s=WAIT)
    with pytest.raises(ActorDiedError, match="_QueueActor"):
        q.put(2)
    q.shutdown()  # again: nothing left to stop


def test_graceful_shutdown_does_not_wait_for_a_blocked_get(backend: str) -> None:
    q = make(backend)
    blocked = q.actor.get.remote(None)  # a get that would wait forever
    assert q.empty()  # the get is in the actor by now
    started = time.monotonic()
    q.shutdown(grace_period_s=WAIT)
    assert time.monotonic() - started < WAIT  # the waiting get did not hold it up
    with pytest.raises(ActorDiedError):
        actorio.get(blocked, timeout=WAIT)


async def test_shutdown_async(backend: str) -> None:
    q = make(backend)
    async with asyncio.timeout(WAIT):
        await q.put_async(1)
        await q.shutdown_async(grace_period_s=WAIT)
        with pytest.raises(ActorDiedError):
            await q.get_async()


def test_empty_and_full_are_the_exceptions_module_classes() -> None:
    from actorio import exceptions

    assert Empty is exceptions.Empty
    assert Full is exceptions.Full
    for cls in (Empty, Full):
        err = pickle.loads(pickle.dumps(cls("message")))
        assert type(err) is cls
        assert str(err) == "message"
